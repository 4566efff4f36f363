#include "core/client_session.hpp"

#include <algorithm>
#include <array>

#include "core/backoff.hpp"
#include "protocol/text.hpp"

namespace udpchat::core {

namespace proto = udpchat::protocol;

namespace {

using namespace std::chrono_literals;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// Three cookie requests over about 1.4 s decide that a server that never sent a cookie speaks
// the original protocol (whose `reg` handling made us a member at the first one).
constexpr std::array<Duration, 3> kFirstAttempts = {200ms, 400ms, 800ms};
// Once the server is known to speak udpchat, joining never gives up: it backs off instead.
constexpr Backoff kRejoinBackoff{200ms, 2s};
constexpr Backoff kFullBackoff{500ms, 5s};
// A ping every this many heartbeats; this many pings' worth of silence means the server is gone.
constexpr std::uint64_t kPingEvery = 2;
constexpr int kSilentHeartbeats = 6;  // three pings

}  // namespace

ClientSession::ClientSession(SessionConfig config, TimePoint now)
    : config_(std::move(config)),
      last_heard_(now),
      joined_room_(config_.room),
      budget_(config_.send_budget),
      tokens_(config_.send_budget.burst),
      tokens_at_(now) {
  room_ = config_.room.empty() ? std::string(proto::kDefaultRoom) : config_.room;
  if (config_.hint == ServerHint::legacy) {
    // An original server makes us a member on a `reg`; the padded one strips to it.
    datagrams_.push_back(proto::encode_cookie_request());
    become_legacy(now);
    return;
  }
  cookie_seen_ = config_.hint == ServerHint::udpchat;
  start_joining(JoinTrouble::none, now);
}

void ClientSession::start_joining(JoinTrouble why, TimePoint now) {
  state_ = ever_joined_ ? SessionState::rejoining : SessionState::joining;
  attempts_ = 0;
  full_ = false;
  moving_ = false;
  events_.push_back(event::Joining{why, {}});
  request_cookie(now);
}

void ClientSession::request_cookie(TimePoint now) {
  datagrams_.push_back(proto::encode_cookie_request());
  ++attempts_;
  Duration delay{};
  if (!cookie_seen_ && static_cast<std::size_t>(attempts_) <= kFirstAttempts.size()) {
    delay = kFirstAttempts[static_cast<std::size_t>(attempts_ - 1)];
  } else {
    delay = reconnect_delay(full_ ? kFullBackoff : kRejoinBackoff, attempts_, 0.0);
  }
  next_attempt_ = now + delay;
}

void ClientSession::on_datagram(std::string_view datagram, TimePoint now) {
  on_message(proto::decode_server(datagram), now);
}

void ClientSession::on_message(const proto::ServerMessage& message, TimePoint now) {
  if (state_ == SessionState::ended) return;
  last_heard_ = now;
  std::visit(Overloaded{
                 [&](const proto::Cookie& cookie) { on_cookie(cookie.token); },
                 [&](const proto::Welcome& welcome) { on_welcome(welcome, now); },
                 [&](const proto::Ack& ack) { on_ack(ack); },
                 [&](const proto::Pong&) {},
                 [&](const proto::End&) { end(EndReason::server_closed); },
                 [&](const proto::NotMember&) {
                   if (state_ == SessionState::legacy) {
                     cookie_seen_ = true;
                     start_joining(JoinTrouble::no_cookie, now);
                   } else if (state_ == SessionState::joined) {
                     lost_membership(JoinTrouble::not_member, now);
                   }
                 },
                 [&](const proto::ServerFull&) { on_refusal(true, now); },
                 [&](const proto::NickTaken&) { on_refusal(false, now); },
                 [&](const proto::Unknown&) {
                   if (malformed_++ == 0) events_.push_back(event::Malformed{});
                 },
                 [&](const proto::Invalid&) {
                   if (malformed_++ == 0) events_.push_back(event::Malformed{});
                 },
             },
             message);
}

void ClientSession::on_cookie(std::string_view token) {
  cookie_seen_ = true;
  if (state_ == SessionState::legacy) {
    // A paused or overloaded udpchat server answering at last: join it properly.
    state_ = SessionState::rejoining;
    attempts_ = 0;
    events_.push_back(event::Joining{JoinTrouble::no_cookie, {}});
  }
  if (state_ == SessionState::joining || state_ == SessionState::rejoining) {
    datagrams_.push_back(proto::encode_join(token, config_.nick, joined_room_));
  } else if (state_ == SessionState::joined && moving_) {
    datagrams_.push_back(proto::encode_join(token, config_.nick, moves_.front().room));
  }
}

void ClientSession::on_welcome(const proto::Welcome& welcome, TimePoint now) {
  own_.emplace(std::string(welcome.ip), welcome.port);
  const std::string_view confirmed = welcome.room.empty() ? proto::kDefaultRoom : welcome.room;
  if (state_ == SessionState::joining || state_ == SessionState::rejoining) {
    const bool again = ever_joined_;
    state_ = SessionState::joined;
    ever_joined_ = true;
    full_ = false;
    room_.assign(confirmed);
    // Every line still waiting goes (again): the server handles one address's datagrams in
    // order, so had it relayed a line, its echo would have come before this welcome.
    sent_ = 0;
    while (!lines_.empty() && lines_.front().epoch < epoch_) {
      lines_.pop_front();
      ++unsent_;
      events_.push_back(event::LinesUnsent{1, Unsent::stale_room});
    }
    heartbeats_ = 0;
    next_heartbeat_ = now + config_.hb_interval;
    events_.push_back(event::Joined{own_address(), room_, false, again});
    flush(now);
  } else if (state_ == SessionState::joined && moving_ && confirmed == moves_.front().room) {
    moving_ = false;
    epoch_ = moves_.front().epoch;
    joined_room_ = moves_.front().room;
    room_ = moves_.front().room;
    moves_.pop_front();
    events_.push_back(event::RoomChanged{room_});
    flush(now);
  }
}

std::string ClientSession::own_address() const {
  if (!own_) return {};
  const bool v6 = own_->first.find(':') != std::string::npos;
  return (v6 ? "[" + own_->first + "]" : own_->first) + ":" + std::to_string(own_->second);
}

void ClientSession::on_ack(const proto::Ack& ack) {
  bool own = own_ && own_->first == ack.ip && own_->second == ack.port;
  const auto sent_end = lines_.begin() + static_cast<std::ptrdiff_t>(sent_);
  const auto line = std::find_if(lines_.begin(), sent_end,
                                 [&](const Line& l) { return l.text == ack.text; });
  // Without a welcome (an original server) our address is learnt from the echo of a line.
  if (!own_ && line != sent_end && state_ == SessionState::legacy) {
    own_.emplace(std::string(ack.ip), ack.port);
    own = true;
  }
  if (own && line != sent_end) {
    lines_.erase(line);
    --sent_;
    ++echoed_;
  }
  events_.push_back(event::Message{std::string(ack.ip), ack.port, std::string(ack.nick),
                                   std::string(ack.text), own});
}

void ClientSession::on_refusal(bool full, TimePoint now) {
  if (full) {
    if (state_ != SessionState::joining && state_ != SessionState::rejoining) return;
    const Duration retry_in = reconnect_delay(kFullBackoff, attempts_, 0.0);
    next_attempt_ = now + retry_in;
    if (!full_) events_.push_back(event::Joining{JoinTrouble::server_full, retry_in});
    full_ = true;
    return;
  }
  if (state_ == SessionState::joined && moving_) {
    // The old room keeps us; what was typed for the new one is not sent anywhere.
    events_.push_back(event::RoomRefused{moves_.front().room, true});
    drop_lines_of(moves_.front().epoch, Unsent::room_refused);
    moves_.pop_front();
    moving_ = false;
    flush(now);
  } else if (state_ == SessionState::joining || state_ == SessionState::rejoining) {
    end(EndReason::nick_taken);
  }
}

void ClientSession::lost_membership(JoinTrouble why, TimePoint now) {
  start_joining(why, now);
}

void ClientSession::become_legacy(TimePoint now) {
  state_ = SessionState::legacy;
  ever_joined_ = true;
  room_.assign(proto::kDefaultRoom);
  // An original server has no rooms: moves typed meanwhile cannot happen.
  while (!moves_.empty()) {
    events_.push_back(event::RoomRefused{moves_.front().room, false});
    drop_lines_of(moves_.front().epoch, Unsent::room_refused);
    moves_.pop_front();
  }
  heartbeats_ = 0;
  next_heartbeat_ = now + config_.hb_interval;
  events_.push_back(event::Joined{{}, room_, true, false});
  flush(now);
}

void ClientSession::drop_lines_of(std::uint32_t epoch, Unsent why) {
  std::size_t dropped = 0;
  for (auto it = lines_.begin() + static_cast<std::ptrdiff_t>(sent_); it != lines_.end();) {
    if (it->epoch == epoch) {
      it = lines_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  if (dropped == 0) return;
  unsent_ += dropped;
  events_.push_back(event::LinesUnsent{dropped, why});
}

void ClientSession::on_timer(TimePoint now) {
  if (state_ == SessionState::ended) return;
  const bool handshaking = state_ == SessionState::joining || state_ == SessionState::rejoining ||
                           (state_ == SessionState::joined && moving_);
  if (handshaking && now >= next_attempt_) {
    if (state_ == SessionState::joining && !cookie_seen_ &&
        static_cast<std::size_t>(attempts_) >= kFirstAttempts.size()) {
      become_legacy(now);
    } else {
      request_cookie(now);
    }
  }
  if (is_member() && now >= next_heartbeat_) {
    datagrams_.emplace_back(proto::kHeartbeat);
    // An original server would relay a ping as chat.
    if (state_ == SessionState::joined && ++heartbeats_ % kPingEvery == 0) {
      datagrams_.push_back(proto::encode_ping(config_.ping_token));
    }
    next_heartbeat_ = now + config_.hb_interval;
  }
  if (state_ == SessionState::joined && now - last_heard_ > silence_limit()) {
    lost_membership(JoinTrouble::silent, now);
  }
  if (now >= next_send_) flush(now);
}

TimePoint ClientSession::deadline() const noexcept {
  if (state_ == SessionState::ended) return TimePoint::max();
  TimePoint at = next_send_;
  if (state_ != SessionState::joined && state_ != SessionState::legacy) {
    at = std::min(at, next_attempt_);
  } else {
    at = std::min(at, next_heartbeat_);
    if (moving_) at = std::min(at, next_attempt_);
    if (state_ == SessionState::joined) {
      at = std::min(at, last_heard_ + silence_limit() + std::chrono::nanoseconds(1));
    }
  }
  return at;
}

Duration ClientSession::silence_limit() const noexcept {
  return config_.hb_interval * kSilentHeartbeats;
}

LineVerdict ClientSession::send_line(std::string_view text, TimePoint now) {
  const auto pieces = proto::split_text(text, proto::kMaxLineBytes);
  if (pieces.empty()) return LineVerdict::empty;
  // All or nothing: half a refused line is not what was meant either.
  for (const auto piece : pieces) {
    const auto decoded = proto::decode_client(piece);
    if (const auto* bad = std::get_if<proto::Malformed>(&decoded)) {
      switch (bad->reason) {
        case proto::Malformation::invalid_utf8: return LineVerdict::invalid_utf8;
        case proto::Malformation::format_character: return LineVerdict::format_character;
        case proto::Malformation::control_character:
        case proto::Malformation::empty:
        case proto::Malformation::too_long: return LineVerdict::control_character;
      }
    }
    if (!std::holds_alternative<proto::Chat>(decoded)) return LineVerdict::protocol_command;
  }
  for (const auto piece : pieces) queue(piece, now);
  return LineVerdict::accepted;
}

void ClientSession::queue(std::string_view text, TimePoint now) {
  if (state_ == SessionState::ended) return;
  lines_.push_back(Line{std::string(text), latest_epoch_});
  if (lines_.size() > config_.max_waiting) {
    lines_.pop_front();
    if (sent_ > 0) --sent_;
    ++unsent_;
    events_.push_back(event::LinesUnsent{1, Unsent::overflow});
  }
  flush(now);
}

void ClientSession::move_to(std::string_view room, TimePoint now) {
  if (state_ == SessionState::ended) return;
  if (state_ == SessionState::legacy) {
    events_.push_back(event::RoomRefused{std::string(room), false});
    return;
  }
  moves_.push_back(Move{++latest_epoch_, std::string(room)});
  flush(now);
}

void ClientSession::flush(TimePoint now) {
  next_send_ = TimePoint::max();
  if (!is_member()) return;
  if (budget_.rate > 0) {
    const double elapsed = std::chrono::duration<double>(now - tokens_at_).count();
    tokens_ = std::min(budget_.burst, tokens_ + budget_.rate * std::max(0.0, elapsed));
    tokens_at_ = now;
  }
  while (sent_ < lines_.size() && lines_[sent_].epoch == epoch_) {
    if (budget_.rate > 0) {
      if (tokens_ < 1.0) {
        next_send_ = now + std::chrono::duration_cast<Duration>(
                               std::chrono::duration<double>((1.0 - tokens_) / budget_.rate));
        return;
      }
      tokens_ -= 1.0;
    }
    const std::string& text = lines_[sent_].text;
    datagrams_.push_back(state_ == SessionState::legacy ? text : proto::encode_chat(text));
    ++sent_;
  }
  // Every line for this room is out: the next /join may go. Lines typed after it wait for
  // its welcome, so that none reaches the room being left.
  if (state_ == SessionState::joined && !moving_ && !moves_.empty()) {
    moving_ = true;
    attempts_ = 0;
    request_cookie(now);
  }
}

void ClientSession::leave() {
  if (state_ == SessionState::ended) return;
  datagrams_.emplace_back(proto::kQuit);
  end(EndReason::left);
}

void ClientSession::end(EndReason why) {
  state_ = SessionState::ended;
  end_ = why;
  events_.push_back(event::Ended{why});
}

std::vector<std::string> ClientSession::take_datagrams() {
  std::vector<std::string> out;
  out.swap(datagrams_);
  return out;
}

std::vector<SessionEvent> ClientSession::take_events() {
  std::vector<SessionEvent> out;
  out.swap(events_);
  return out;
}

}  // namespace udpchat::core
