// The relay's line side: a line's fan-out to its room in the forms its members need, the
// room's numbering and window, a numbered member's lines in order, and repair from the window.
#include <algorithm>

#include "core/relay.hpp"
#include "protocol/message.hpp"

namespace udpchat::core {

namespace proto = udpchat::protocol;

Outcome Relay::broadcast(const Member& sender, std::string_view text, std::uint64_t sender_seq,
                         TimePoint now, TimePoint received) {
  const proto::Ack line{.ip = sender.ip,
                        .port = sender.peer.port,
                        .nick = sender.nick,
                        .text = text,
                        .sender_seq = sender_seq};
  Outcome out = fan_out(*sender.room, line, now, received);
  if (out.event == Event::dropped) return out;
  ++stats_.lines;
  out.sender = &sender;
  out.text = text;
  return out;
}

// A line to every member of `room`: the original ack to plain members (within their credit,
// for those admitted without a cookie), the numbered ack to +r1 members, all within the egress
// budget. The numbered form is kept in the room's window for repair and history.
Outcome Relay::fan_out(Room& room, const proto::Ack& line, TimePoint now, TimePoint received) {
  const bool numbering = config_.history_lines > 0;
  const bool mixed = room.repair > 0 && room.repair < room.members.size();
  const bool credited = room.unvalidated > 0 && config_.legacy_credit > 0;
  std::span<const std::uint32_t> plain = room.members;
  std::span<const std::uint32_t> numbered;
  if (room.repair == room.members.size()) std::swap(plain, numbered);
  if (mixed || credited) {
    recipients_.clear();
    numbered_recipients_.clear();
    for (const std::uint32_t index : room.members) {
      const Member& member = members_[index];
      if (member.repair) {
        numbered_recipients_.push_back(index);
      } else if (!member.validated && config_.legacy_credit > 0 &&
                 member.unheard_bytes + line.text.size() + 64 > config_.legacy_credit) {
        ++stats_.credit_skipped;
      } else {
        recipients_.push_back(index);
      }
    }
    plain = recipients_;
    numbered = numbered_recipients_;
  }
  if (!plain.empty()) proto::encode_ack(buffer_, line.ip, line.port, line.nick, line.text);
  // The number is taken only for a line that goes out.
  const std::uint64_t seq = room.next_seq;
  if (numbering) {
    proto::encode_numbered_ack(numbered_, seq, line.sender_seq, line.ip, line.port, line.nick,
                               line.text);
  }
  const std::size_t bytes = buffer_.size() * plain.size() + numbered_.size() * numbered.size();
  if (!allow_egress(static_cast<double>(bytes), now)) return drop(DropReason::egress_limited);
  if (credited) {
    for (const std::uint32_t index : plain) {
      if (!members_[index].validated) members_[index].unheard_bytes += buffer_.size();
    }
  }
  if (numbering) {
    ++room.next_seq;
    remember(room, seq, unix_ms(received));
  }
  stats_.deliveries += plain.size() + numbered.size();
  Outcome out;
  out.audience = Audience::room;
  out.payload = buffer_;
  out.recipients = plain;
  if (!numbered.empty()) {
    out.numbered_payload = numbered_;
    out.numbered_recipients = numbered;
  }
  return out;
}

// The room's window keeps its last lines within the per-room and total bounds. Over the total,
// rooms kept without members give theirs up first (longest kept first); then the room that adds
// a line gives up its oldest.
void Relay::remember(Room& room, std::uint64_t seq, std::int64_t said_ms) {
  const std::size_t cost = numbered_.size() + kHistoryEntryOverhead;
  room.history.push_back({seq, numbered_, said_ms});
  room.history_bytes += cost;
  history_bytes_ += cost;
  while (history_bytes_ > config_.history_total_bytes && evict_kept_room()) {
  }
  while (!room.history.empty() && (room.history.size() > config_.history_lines ||
                                   room.history_bytes > config_.history_room_bytes ||
                                   history_bytes_ > config_.history_total_bytes)) {
    const std::size_t freed = room.history.front().payload.size() + kHistoryEntryOverhead;
    room.history.pop_front();
    room.history_bytes -= freed;
    history_bytes_ -= freed;
  }
}

// A +r1 member's numbered line: relayed once, in the member's order. A number already relayed
// is answered `got` (its echo was lost, not the line); one ahead of the next expected is
// answered `want` (the ones before it were lost), and the member sends again from there.
Outcome Relay::numbered_line(Member& member, std::uint64_t seq, std::string_view text,
                             Duration queued, TimePoint now) {
  if (seq < member.next_seq) {
    std::uint64_t room_seq = 0;
    for (const auto& [sent, in_room] : member.recent) {
      if (sent == seq) room_seq = in_room;
    }
    Outcome out = drop(DropReason::resent);
    proto::encode_got(buffer_, seq, room_seq);
    out.audience = Audience::sender;
    out.payload = buffer_;
    return out;
  }
  if (seq > member.next_seq) {
    Outcome out = drop(DropReason::out_of_sequence);
    proto::encode_want(buffer_, member.next_seq);
    out.audience = Audience::sender;
    out.payload = buffer_;
    return out;
  }
  if (text.empty()) {  // withdrawn by the client: the next one may follow
    ++member.next_seq;
    return {};
  }
  // A stale line is not taken: the member sends it again, later.
  if (config_.max_queue_delay > Duration::zero() && queued > config_.max_queue_delay) {
    return drop(DropReason::stale);
  }
  Outcome out = broadcast(member, text, seq, now, now - queued);
  if (out.event == Event::dropped) return out;
  member.recent[member.recent_at] = {seq, member.room->next_seq - 1};
  member.recent_at = static_cast<std::uint8_t>((member.recent_at + 1) % member.recent.size());
  ++member.next_seq;
  return out;
}

// Lines from..to of the member's room, as it should have had them, to it alone: each costs a
// token of its own budget, so repair cannot be turned into a flood. What left the window is
// said with `missed`.
Outcome Relay::repair(Member& member, std::uint64_t from, std::uint64_t to, TimePoint now) {
  Room& room = *member.room;
  replies_.clear();
  const std::uint64_t oldest = room.history.empty() ? room.next_seq : room.history.front().seq;
  to = std::min(to, room.next_seq - 1);
  if (from < oldest && from <= to) {
    const std::uint64_t gone_to = std::min(to, oldest - 1);
    if (member.budget.take(config_.datagram_limit, now)) {
      proto::encode_missed(buffer_, from, gone_to);
      replies_.push_back(buffer_);
      stats_.missed += gone_to - from + 1;
    }
    from = gone_to + 1;
  }
  // Each reply is in the window until the next call; +r2 members get theirs with the time
  // the line was received in front.
  if (member.timed && from <= to) {
    timed_replies_.resize(std::max<std::size_t>(timed_replies_.size(), to - from + 1));
  }
  for (std::uint64_t seq = from; seq <= to; ++seq) {
    if (!member.budget.take(config_.datagram_limit, now)) break;
    const Room::Line& line = room.history[static_cast<std::size_t>(seq - oldest)];
    if (member.timed && line.said_ms > 0) {
      std::string& timed = timed_replies_[static_cast<std::size_t>(seq - from)];
      proto::encode_timed(timed, line.said_ms, line.payload);
      replies_.push_back(timed);
    } else {
      replies_.push_back(line.payload);
    }
    ++stats_.repaired;
  }
  Outcome out;
  out.audience = replies_.empty() ? Audience::nobody : Audience::sender;
  out.replies = replies_;
  return out;
}

// The numbered form is a member's choice at each join; the room counts who made it.
void Relay::set_repair(Member& member, bool repair) {
  if (member.repair == repair) return;
  if (member.room != nullptr) {
    if (repair) {
      ++member.room->repair;
    } else {
      --member.room->repair;
    }
  }
  member.repair = repair;
}

Outcome Relay::on_remote_line(std::string_view room, std::string_view ip, std::uint16_t port,
                              std::string_view nick, std::string_view text, TimePoint now) {
  const auto it = rooms_.find(std::string(room));
  if (it == rooms_.end() || it->second.idle) {
    // The subscription was just dropped, or the envelope crossed it on the way.
    ++stats_.remote_unrouted;
    return {};
  }
  Outcome out =
      fan_out(it->second, {.ip = ip, .port = port, .nick = nick, .text = text}, now, now);
  if (out.event != Event::dropped) ++stats_.remote_lines;
  return out;
}

Outcome Relay::on_remote_gap(std::string_view room, std::uint64_t count, TimePoint now) {
  (void)now;
  const auto it = rooms_.find(std::string(room));
  stats_.remote_missed += count;
  if (it == rooms_.end() || it->second.idle || config_.history_lines == 0) return {};
  Room& target = it->second;
  const std::uint64_t seq = target.next_seq++;
  proto::encode_gap(numbered_, seq, count);
  remember(target, seq, 0);
  numbered_recipients_.clear();
  for (const std::uint32_t index : target.members) {
    if (members_[index].repair) numbered_recipients_.push_back(index);
  }
  Outcome out;
  if (numbered_recipients_.empty()) return out;
  out.audience = Audience::room;
  out.numbered_payload = numbered_;
  out.numbered_recipients = numbered_recipients_;
  return out;
}

}  // namespace udpchat::core
