// The session's sending window (+r1): acknowledgements and the round trip they time, the
// congestion window (AIMD: it grows with acknowledgements and halves at a loss or a shed, as RFC
// 8085 asks of UDP applications and RFC 9002 recovers), resending within it, and giving up
// lines the relay did not take in time, said. Also when the session next needs its timer.
#include <algorithm>

#include "core/client_session.hpp"
#include "protocol/message.hpp"

namespace udpchat::core {

namespace proto = udpchat::protocol;
using namespace std::chrono_literals;

// Line `seq` reached the relay: forget it. An echo of a line sent once times the round trip.
void ClientSession::acknowledged(std::uint64_t seq, TimePoint now, bool by_echo) {
  const auto sent_end = lines_.begin() + static_cast<std::ptrdiff_t>(sent_);
  const auto line =
      std::find_if(lines_.begin(), sent_end, [&](const Line& l) { return l.seq == seq; });
  if (line == sent_end) return;
  bool queueing = false;
  if (by_echo && line->tries == 1) {
    // RFC 6298; Karn: a resent line says nothing about the round trip.
    const Duration sample = now - line->sent_at;
    min_rtt_ = std::min(min_rtt_, sample);
    // A round trip this much over the least seen waited in a queue (the relay's, mostly): back
    // off before the relay has to shed, so that lines keep moving with little delay.
    queueing = sample > min_rtt_ + kQueueTarget + min_rtt_ / 4;
    if (!srtt_) {
      srtt_ = sample;
      rttvar_ = sample / 2;
    } else {
      const Duration delta = *srtt_ > sample ? *srtt_ - sample : sample - *srtt_;
      rttvar_ = (rttvar_ * 3 + delta) / 4;
      srtt_ = (*srtt_ * 7 + sample) / 8;
    }
  }
  lines_.erase(line);
  --sent_;
  ++echoed_;
  if (queueing) {
    congestion(now, false);
  } else {
    // Slow start to the threshold, then one line per window's worth of acknowledgements.
    cwnd_ += cwnd_ < ssthresh_ ? 1.0 : 1.0 / cwnd_;
    cwnd_ = std::min(cwnd_, static_cast<double>(config_.max_in_flight));
  }
  flush(now);  // room in the window for the next line
}

// How long a NACK waits for its answer before it is sent again: a round trip and its spread,
// no more (a gap holds back every line after it), but never under 20 ms.
Duration ClientSession::repair_timeout() const noexcept {
  if (!srtt_) return 100ms;
  return std::clamp<Duration>(*srtt_ * 2 + rttvar_ * 4, 20ms, kMaxRto);
}

Duration ClientSession::rto() const noexcept {
  if (!srtt_) return kInitialRto;
  return std::clamp<Duration>(*srtt_ + std::max<Duration>(rttvar_ * 4, 1ms), kMinRto, kMaxRto);
}

// The relay asks for `seq`: it was lost on the way, or the relay shed it. That line alone goes
// again (the relay holds the ones after it), or is withdrawn when we gave it up, so that the
// relay can go on. Answered once per round trip however many lines drew the same `want`.
void ClientSession::on_want(std::uint64_t seq, TimePoint now) {
  if (!repair_ || !is_member()) return;
  if (seq == last_want_ && now - last_want_at_ < rto() / 2) return;
  last_want_ = seq;
  last_want_at_ = now;
  congestion(now, false);
  const auto line =
      std::find_if(lines_.begin(), lines_.end(), [&](const Line& l) { return l.seq == seq; });
  if (line != lines_.end()) {
    // In flight: sent again; waiting to go again (after a rejoin): it goes in its turn.
    const auto index = static_cast<std::size_t>(line - lines_.begin());
    if (index < sent_) resend(index, now);
    return;
  }
  if (seq >= next_seq_) return;
  // A number we gave up (its withdrawal was lost): it and every other given up after it, up to
  // the next of our lines, are withdrawn, so that the relay goes on at once.
  std::uint64_t until = std::min(next_seq_, seq + proto::kMaxNackLines);
  for (const Line& other : lines_) {
    if (other.seq > seq) until = std::min(until, other.seq);
  }
  for (std::uint64_t gone = seq; gone < until; ++gone) emit(proto::encode_numbered(gone, {}));
}

void ClientSession::congestion(TimePoint now, bool timeout) {
  if (now < recovery_until_) return;
  ssthresh_ = std::max(cwnd_ / 2, kLeastWindow);
  cwnd_ = timeout ? kLeastWindow : ssthresh_;
  recovery_until_ = now + (srtt_ ? *srtt_ : kInitialRto);
}

std::size_t ClientSession::window() const noexcept {
  return std::min(config_.max_in_flight, static_cast<std::size_t>(cwnd_));
}

bool ClientSession::overdue(const Line& line, TimePoint now) const noexcept {
  return config_.give_up_after > Duration::zero() && now - line.offered > config_.give_up_after;
}

bool ClientSession::resend(std::size_t index, TimePoint now) {
  Line& line = lines_[index];
  if (overdue(line, now)) {
    emit(proto::encode_numbered(line.seq, {}));  // withdrawn: the relay goes on without it
    event::LinesUnsent gone{1, Unsent::overloaded, {std::move(line.text)}};
    lines_.erase(lines_.begin() + static_cast<std::ptrdiff_t>(index));
    --sent_;
    ++unsent_;
    ++given_up_;
    events_.push_back(std::move(gone));
    return true;
  }
  if (!spend_token(now)) return false;
  send_line_datagram(line, now);
  ++resent_;
  return true;
}

void ClientSession::give_up_overdue(TimePoint now) {
  if (config_.give_up_after <= Duration::zero() || sent_ >= lines_.size() ||
      !overdue(lines_[sent_], now)) {
    return;
  }
  event::LinesUnsent gone{0, Unsent::overloaded, {}};
  for (auto it = lines_.begin() + static_cast<std::ptrdiff_t>(sent_);
       it != lines_.end() && overdue(*it, now);) {
    // A line sent before (a rejoin made it unsent again) has a number the relay waits for.
    if (it->seq != 0 && repair_ && is_member()) emit(proto::encode_numbered(it->seq, {}));
    gone.texts.push_back(std::move(it->text));
    it = lines_.erase(it);
  }
  gone.count = gone.texts.size();
  unsent_ += gone.count;
  given_up_ += gone.count;
  events_.push_back(std::move(gone));
}

bool ClientSession::spend_token(TimePoint now) {
  if (budget_.rate <= 0) return true;
  const double elapsed = std::chrono::duration<double>(now - tokens_at_).count();
  tokens_ = budget_.refill(tokens_, elapsed);
  tokens_at_ = now;
  if (tokens_ < 1.0) {
    token_at_ = now + std::chrono::duration_cast<Duration>(
                          std::chrono::duration<double>((1.0 - tokens_) / budget_.rate));
    return false;
  }
  tokens_ -= 1.0;
  return true;
}

// Lines whose echo is overdue go again, each on its own backed-off timeout, for as long as the
// session is a member: a line is never given up while the server may still take it. (A server
// that stops answering is noticed by liveness, and the lines wait for the rejoin.)
Duration ClientSession::resend_wait(const Line& line) const noexcept {
  return std::min(kMaxRto, rto() * (1 << std::min(line.tries - 1, 5)));
}

void ClientSession::resend_due(TimePoint now) {
  if (!repair_ || state_ != SessionState::joined) return;
  // A line in flight may still be taken (the relay holds it, or it waits in the relay's queue):
  // it is given up only when it would be sent again past give_up_after (resend()).
  const bool timed_out =
      std::any_of(lines_.begin(), lines_.begin() + static_cast<std::ptrdiff_t>(sent_),
                  [&](const Line& line) { return now - line.sent_at >= resend_wait(line); });
  if (!timed_out) return;
  // Never a whole window at once: the timeout shrinks the window first, and at most a window's
  // worth goes per turn; the rest on later turns, as acknowledgements open it.
  congestion(now, true);
  std::size_t allowance = std::max<std::size_t>(1, window());
  for (std::size_t i = 0; i < sent_ && allowance > 0;) {
    if (now - lines_[i].sent_at < resend_wait(lines_[i])) {
      ++i;
      continue;
    }
    const std::size_t before = sent_;
    if (!resend(i, now)) return;  // the rest when the budget has a token again
    --allowance;
    if (sent_ == before) ++i;  // sent again, not given up
  }
}

TimePoint ClientSession::deadline() const noexcept {
  if (state_ == SessionState::ended) return TimePoint::max();
  TimePoint at = next_send_;
  if (state_ != SessionState::joined && state_ != SessionState::legacy) {
    at = std::min(at, next_attempt_);
  } else {
    at = std::min(at, next_heartbeat_);
    if (moving_) at = std::min(at, next_attempt_);
    if (sealed_) at = std::min(at, rekey_.due);
    if (state_ == SessionState::joined) {
      at = std::min({at, last_heard_ + silence_limit() + std::chrono::nanoseconds(1), verify_by_});
    }
    if (repair_) {
      at = std::min({at, stream_.deadline(), tail_probe_at_});
      // A resend waits for its timeout, and for a token of the send budget.
      for (std::size_t i = 0; i < sent_; ++i) {
        const Line& line = lines_[i];
        at = std::min(at, std::max(token_at_, line.sent_at + resend_wait(line)));
      }
    }
  }
  // Giving up a waiting line, at any time (one in flight goes at its resend, above).
  if (config_.give_up_after > Duration::zero() && sent_ < lines_.size()) {
    at = std::min(at, lines_[sent_].offered + config_.give_up_after + std::chrono::nanoseconds(1));
  }
  return at;
}

}  // namespace udpchat::core
