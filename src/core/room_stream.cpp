#include "core/room_stream.hpp"

#include <algorithm>

#include "protocol/message.hpp"

namespace udpchat::core {

namespace {
constexpr Duration kMaxBackoff = std::chrono::seconds(2);
}  // namespace

void RoomStream::reset(std::uint64_t next, std::uint64_t head, std::uint64_t history_until,
                       TimePoint now) {
  held_.clear();
  head_ = head;
  history_until_ = history_until;
  next_ = std::clamp<std::uint64_t>(next, 1, head + 1);
  tries_ = 0;
  gap_at_ = 0;
  nack_at_ = TimePoint::max();
  look_for_gap(now);
}

void RoomStream::on_line(RoomLine line, TimePoint now, std::vector<RoomLine>& ready) {
  if (!active() || line.seq < next_) return;  // shown already
  head_ = std::max(head_, line.seq);
  line.history = line.seq <= history_until_;
  if (holding_) {
    // Beyond the bound the line is left to the relay's window: it is known to exist (head_).
    if (held_.size() < kMaxHeld) held_.try_emplace(line.seq, std::move(line));
    return;
  }
  if (line.seq == next_) {
    ready.push_back(std::move(line));
    ++next_;
    release(ready);
  } else {
    held_.try_emplace(line.seq, std::move(line));
    // Too much waits behind one gap: give it up rather than hold without bound.
    if (held_.size() > kMaxHeld) give_up(held_.begin()->first - 1, ready);
  }
  look_for_gap(now);
}

void RoomStream::on_head(std::uint64_t head, TimePoint now) {
  if (!active() || head <= head_) return;
  head_ = head;
  look_for_gap(now);
}

void RoomStream::on_missed(std::uint64_t from, std::uint64_t to, TimePoint now,
                           std::vector<RoomLine>& ready) {
  // While held, lines of that range may wait here: the gap is asked about again once released.
  if (!active() || holding_ || to < next_ || from > next_) return;
  give_up(to, ready);
  look_for_gap(now);
}

std::vector<NackRange> RoomStream::nack_due(TimePoint now, Duration rto,
                                            std::vector<RoomLine>& ready) {
  std::vector<NackRange> ranges;
  if (!active() || holding_ || now < nack_at_ || next_ > head_) return ranges;
  const std::uint64_t gap_end = held_.empty() ? head_ : held_.begin()->first - 1;
  if (tries_ >= kMaxTries) {
    give_up(gap_end, ready);
    look_for_gap(now);
    return ranges;
  }
  ++tries_;
  const Duration backoff = std::min(kMaxBackoff, rto * (1 << std::min(tries_ - 1, 8)));
  nack_at_ = now + backoff;
  // Every gap between the lines held, and after the last of them up to the head.
  std::uint64_t from = next_;
  auto add = [&](std::uint64_t to) {
    while (from <= to && ranges.size() < kMaxRangesPerRound) {
      const std::uint64_t end = std::min(to, from + protocol::kMaxNackLines - 1);
      ranges.push_back({from, end});
      from = end + 1;
    }
  };
  for (const auto& [seq, line] : held_) {
    if (seq > from) add(seq - 1);
    from = seq + 1;
    if (ranges.size() == kMaxRangesPerRound) return ranges;
  }
  add(head_);
  return ranges;
}

void RoomStream::hold(bool on, TimePoint now, std::vector<RoomLine>& ready) {
  if (on == holding_) return;
  holding_ = on;
  if (on) return;
  release(ready);
  // What was left to the window is a gap like any other, asked for at once.
  gap_at_ = 0;
  look_for_gap(now);
}

void RoomStream::release(std::vector<RoomLine>& ready) {
  while (!held_.empty() && held_.begin()->first == next_) {
    ready.push_back(std::move(held_.begin()->second));
    held_.erase(held_.begin());
    ++next_;
  }
}

// Lines up to `to` will not come: say how many, and go on from there.
void RoomStream::give_up(std::uint64_t to, std::vector<RoomLine>& ready) {
  if (to < next_) return;
  RoomLine lost;
  lost.seq = next_;
  lost.missed = to - next_ + 1;
  missed_ += lost.missed;
  ready.push_back(std::move(lost));
  next_ = to + 1;
  while (!held_.empty() && held_.begin()->first < next_) held_.erase(held_.begin());
  release(ready);
  tries_ = 0;
}

// A gap starts the reorder wait, unless one is already being asked for.
void RoomStream::look_for_gap(TimePoint now) {
  if (next_ > head_) {
    nack_at_ = TimePoint::max();
    gap_at_ = 0;
    tries_ = 0;
    return;
  }
  if (gap_at_ != next_) {
    gap_at_ = next_;
    tries_ = 0;
    nack_at_ = now + kReorderWait;
  }
}

}  // namespace udpchat::core
