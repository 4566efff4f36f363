// The session's membership side: joining and rejoining, the server's answers, heartbeats,
// liveness and timers. Lines are in client_session_lines.cpp, the sealed dialect in _sealed.
#include "core/client_session.hpp"

#include <algorithm>
#include <array>

#include "core/backoff.hpp"
#include "core/overloaded.hpp"
#include "protocol/text.hpp"

namespace udpchat::core {

namespace proto = udpchat::protocol;

namespace {

using namespace std::chrono_literals;

// Three cookie requests over about 1.4 s decide that a server that never sent a cookie speaks
// the original protocol (whose `reg` handling made us a member at the first one).
constexpr std::array<Duration, 3> kFirstAttempts = {200ms, 400ms, 800ms};
// Once the server is known to speak udpchat, joining never gives up: it backs off instead.
constexpr Backoff kRejoinBackoff{200ms, 2s};
constexpr Backoff kFullBackoff{500ms, 5s};
// After `end` the server is restarting or gone for a while: IRC clients reconnect like this.
constexpr Backoff kClosedBackoff{500ms, 30s};
// A taken nick: nick2 ... nick64, then the session gives up.
constexpr int kMaxNickTries = 63;
// A ping every this many heartbeats; this many pings' worth of silence means the server is gone.
constexpr std::uint64_t kPingEvery = 2;
constexpr int kSilentHeartbeats = 6;  // three pings

}  // namespace

ClientSession::ClientSession(SessionConfig config, TimePoint now)
    : config_(std::move(config)),
      nick_(config_.nick),
      last_heard_(now),
      joined_room_(config_.room),
      budget_(config_.send_budget),
      tokens_(config_.send_budget.burst),
      tokens_at_(now) {
  room_ = config_.room.empty() ? std::string(proto::kDefaultRoom) : config_.room;
  if (config_.room_key) room_keys_ = config_.room_key->for_room(config_.room);
  if (config_.room_key && config_.previous_room_key) {
    previous_keys_ = config_.previous_room_key->for_room(config_.room);
  }
  if (config_.hint == ServerKind::legacy) {
    // An original server makes us a member on a `reg`; the padded one strips to it.
    emit(proto::encode_cookie_request());
    become_legacy(now);
    return;
  }
  cookie_seen_ = config_.hint == ServerKind::udpchat;
  start_joining(JoinTrouble::none, now);
}

void ClientSession::start_joining(JoinTrouble why, TimePoint now, Duration first_in) {
  state_ = ever_joined_ ? SessionState::rejoining : SessionState::joining;
  // A new membership, a new session. The old one still asks for cookies: a relay that kept it
  // takes nothing in the clear from this address.
  if (sealed_) stale_ = std::move(sealed_);
  handshake_.reset();
  verify_by_ = TimePoint::max();
  attempts_ = 0;
  full_ = false;
  moving_ = false;
  events_.push_back(event::Joining{why, first_in});
  if (first_in > Duration::zero()) {
    next_attempt_ = now + first_in;
  } else {
    request_cookie(now);
  }
}

void ClientSession::request_cookie(TimePoint now) {
  if (handshake_ && now - cookie_at_ < kCookieFresh) {
    // A hello or its welcome was lost (the relay may hold our session): a new hello goes.
    send_hello(cookie_, joined_room_);
  } else {
    // The longer request says we speak +r1 (and the sealed dialect); to others it is the same.
    emit(config_.seal     ? proto::encode_sealed_cookie_request(sealed_suite_asked())
         : config_.repair ? proto::encode_extended_cookie_request()
                          : proto::encode_cookie_request());
  }
  ask_stale_session();
  ++attempts_;
  Duration delay{};
  if (!cookie_seen_ && static_cast<std::size_t>(attempts_) <= kFirstAttempts.size()) {
    delay = kFirstAttempts[static_cast<std::size_t>(attempts_ - 1)];
  } else {
    delay = reconnect_delay(full_     ? kFullBackoff
                            : closed_ ? kClosedBackoff
                                      : kRejoinBackoff,
                            attempts_, 0.0);
  }
  next_attempt_ = now + delay;
}

void ClientSession::on_message(const proto::ServerMessage& message, TimePoint now) {
  if (state_ == SessionState::ended) return;
  last_heard_ = now;
  std::visit(Overloaded{
                 [&](const proto::Cookie& cookie) {
                   cookie_at_ = now;
                   on_cookie(cookie);
                 },
                 [&](const proto::Welcome& welcome) { on_welcome(welcome, now); },
                 [&](const proto::Ack& ack) { on_ack(ack, now); },
                 [&](const proto::Got& got) {
                   acknowledged(got.seq, now, false);
                   if (got.room_seq > 0) stream_.on_head(got.room_seq, now);
                 },
                 [&](const proto::Want& want) { on_want(want.seq, now); },
                 [&](const proto::Head& head) { stream_.on_head(head.room_seq, now); },
                 [&](const proto::Missed& missed) {
                   stream_.on_missed(missed.from, missed.to, now, ready_);
                   show(ready_);
                 },
                 [&](const proto::Gap& gap) {
                   RoomLine lost;
                   lost.seq = gap.room_seq;
                   lost.missed = gap.count;
                   stream_.on_line(std::move(lost), now, ready_);
                   show(ready_);
                 },
                 [&](const proto::Pong&) {},
                 [&](const proto::End&) { on_end(now); },
                 [&](const proto::NotMember&) {
                   if (state_ == SessionState::legacy) {
                     cookie_seen_ = true;
                     start_joining(JoinTrouble::no_cookie, now);
                   } else if (state_ == SessionState::joined) {
                     lost_membership(JoinTrouble::not_member, now);
                   }
                 },
                 [&](const proto::ServerFull&) { on_full(now); },
                 [&](const proto::NickTaken&) { on_refusal(Refusal::nick_taken, now); },
                 [&](const proto::RoomPrivate&) { on_refusal(Refusal::private_room, now); },
                 [&](const proto::RoomOpen&) { on_refusal(Refusal::open_room, now); },
                 [&](const proto::RoomRekeyed&) {
                   // Our membership is on a key the room has moved on from: leave it for good.
                   if (state_ == SessionState::joined && !moving_) {
                     emit(std::string(proto::kQuit));
                     end(EndReason::room_rekeyed);
                   } else {
                     on_refusal(Refusal::old_key, now);
                   }
                 },
                 [&](const proto::Unknown&) {
                   if (malformed_++ == 0) events_.push_back(event::Malformed{});
                 },
                 [&](const proto::Invalid&) {
                   if (malformed_++ == 0) events_.push_back(event::Malformed{});
                 },
             },
             message);
}

void ClientSession::on_welcome(const proto::Welcome& welcome, TimePoint now) {
  own_.emplace(std::string(welcome.ip), welcome.port);
  const std::string_view confirmed = welcome.room.empty() ? proto::kDefaultRoom : welcome.room;
  if (state_ == SessionState::joining || state_ == SessionState::rejoining) {
    const bool again = ever_joined_;
    state_ = SessionState::joined;
    ever_joined_ = true;
    full_ = false;
    closed_ = false;
    nick_tries_ = 0;
    room_.assign(confirmed);
    // Every line still waiting goes (again): the server handles one address's datagrams in
    // order, so had it relayed a line, its echo would have come before this welcome.
    sent_ = 0;
    for (Line& line : lines_) line.tries = 0;
    drop_waiting([&](const Line& line) { return line.epoch < epoch_; }, Unsent::stale_room);
    heartbeats_ = 0;
    next_heartbeat_ = now + config_.hb_interval;
    events_.push_back(event::Joined{own_address(), nick_, room_, false, again});
    // The room's numbering: a rejoin that finds the same numbering asks for what came
    // meanwhile; a new one (the relay restarted, or the room was opened anew) began while we
    // were not a member, so all of it is ours to fetch. A first join fetches --history.
    repair_ = welcome.repair > 0;
    const std::uint64_t head = welcome.head;
    if (repair_ && !again) {
      stream_.reset(head + 1 - std::min(config_.history, head), head,
                    config_.history > 0 ? head : 0, now);
    } else if (repair_ && welcome.stream != stream_id_) {
      stream_.reset(1, head, 0, now);
    }
    stream_id_ = welcome.stream;
    if (repair_) stream_.on_head(head, now);
    if (!repair_) drop_unsendable();
    flush(now);
  } else if (state_ == SessionState::joined && moving_ && confirmed == moves_.front().room) {
    moving_ = false;
    epoch_ = moves_.front().epoch;
    joined_room_ = moves_.front().room;
    room_ = moves_.front().room;
    const std::uint64_t history = moves_.front().history;
    moves_.pop_front();
    events_.push_back(event::RoomChanged{room_});
    repair_ = welcome.repair > 0;
    if (repair_) stream_.reset(welcome.head + 1, welcome.head, 0, now);
    show_history(history, now);
    stream_id_ = welcome.stream;
    if (!repair_) drop_unsendable();
    flush(now);
  }
}

std::string ClientSession::own_address() const {
  if (!own_) return {};
  const bool v6 = own_->first.find(':') != std::string::npos;
  return (v6 ? "[" + own_->first + "]" : own_->first) + ":" + std::to_string(own_->second);
}

void ClientSession::on_full(TimePoint now) {
  if (state_ != SessionState::joining && state_ != SessionState::rejoining) return;
  const Duration retry_in = reconnect_delay(kFullBackoff, attempts_, 0.0);
  next_attempt_ = now + retry_in;
  if (!full_) events_.push_back(event::Joining{JoinTrouble::server_full, retry_in});
  full_ = true;
}

void ClientSession::on_refusal(Refusal why, TimePoint now) {
  if (state_ == SessionState::joined && moving_) {
    // The old room keeps us; what was typed for the new one is not sent anywhere. (A move
    // keeps the nick: another one in the new room would not be who the room expects.)
    events_.push_back(event::RoomRefused{moves_.front().room, why});
    drop_lines_of(moves_.front().epoch, Unsent::room_refused);
    moves_.pop_front();
    moving_ = false;
    flush(now);
  } else if (state_ == SessionState::joining || state_ == SessionState::rejoining) {
    // Another nick cannot open a private room, nor trying again with the same key.
    if (why != Refusal::nick_taken) {
      end(why == Refusal::private_room ? EndReason::room_private
          : why == Refusal::open_room  ? EndReason::room_open
                                       : EndReason::room_rekeyed);
      return;
    }
    if (!take_next_nick()) {
      end(EndReason::nick_taken);
      return;
    }
    // The cookie is still good for this address: ask for the next nick at once.
    if (!cookie_.empty()) send_join(cookie_, joined_room_);
  }
}

// nick2, nick3, ...: cut so that the number fits the 32 bytes a nick may have.
bool ClientSession::take_next_nick() {
  const bool alternate = config_.nick_policy == NickPolicy::alternate ||
                         (config_.nick_policy == NickPolicy::alternate_on_rejoin && ever_joined_);
  if (!alternate || config_.nick.empty() || nick_tries_ >= kMaxNickTries) return false;
  ++nick_tries_;
  const std::string suffix = std::to_string(nick_tries_ + 1);
  nick_ = config_.nick.substr(0, proto::kMaxNickBytes - suffix.size()) + suffix;
  return true;
}

// The server is shutting down. Chat keeps every line and joins again once it is back; a
// session that cannot rejoin (bench, or an original server, which has no way back in) ends.
void ClientSession::on_end(TimePoint now) {
  if (!config_.rejoin_after_end || state_ == SessionState::legacy ||
      (state_ == SessionState::joining && !ever_joined_)) {
    end(EndReason::server_closed);
    return;
  }
  closed_ = true;
  start_joining(JoinTrouble::server_closed, now, kClosedBackoff.first);
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
    events_.push_back(event::RoomRefused{moves_.front().room, Refusal::no_rooms});
    drop_lines_of(moves_.front().epoch, Unsent::room_refused);
    moves_.pop_front();
  }
  heartbeats_ = 0;
  next_heartbeat_ = now + config_.hb_interval;
  events_.push_back(event::Joined{{}, nick_, room_, true, false});
  drop_unsendable();
  flush(now);
}

void ClientSession::on_timer(TimePoint now) {
  if (state_ == SessionState::ended) return;
  const bool handshaking = state_ == SessionState::joining || state_ == SessionState::rejoining ||
                           (state_ == SessionState::joined && moving_);
  if (handshaking && now >= next_attempt_) {
    // A relay whose key is known never turns out to be an original server: no line goes in the
    // clear because its cookies were slow or kept from us.
    if (state_ == SessionState::joining && !cookie_seen_ && config_.server_key.empty() &&
        static_cast<std::size_t>(attempts_) >= kFirstAttempts.size()) {
      become_legacy(now);
    } else {
      request_cookie(now);
    }
  }
  if (is_member() && now >= next_heartbeat_) {
    emit(std::string(proto::kHeartbeat));
    // An original server would relay a ping as chat.
    if (state_ == SessionState::joined && ++heartbeats_ % kPingEvery == 0) {
      emit(proto::encode_ping(config_.ping_token));
    }
    next_heartbeat_ = now + config_.hb_interval;
  }
  if (state_ == SessionState::joined && now - last_heard_ > silence_limit()) {
    lost_membership(JoinTrouble::silent, now);
  }
  if (now >= verify_by_) {
    verify_by_ = TimePoint::max();
    if (state_ == SessionState::joined) lost_membership(JoinTrouble::not_member, now);
  }
  rekey_due(now);
  // Lines sent before come first: the relay takes a member's lines in order.
  resend_due(now);
  if (now >= next_send_) {
    flush(now);
  } else {
    give_up_overdue(now);
  }
  if (repair_ && state_ == SessionState::joined && now >= tail_probe_at_) {
    emit(std::string(proto::kHeartbeat));
    tail_probe_at_ = TimePoint::max();
  }
  if (repair_ && is_member()) {
    for (const auto& nack : stream_.nack_due(now, repair_timeout(), ready_)) {
      emit(proto::encode_nack(nack.from, nack.to));
    }
    show(ready_);
  }
}

Duration ClientSession::silence_limit() const noexcept {
  return config_.hb_interval * kSilentHeartbeats;
}

void ClientSession::check_alive() {
  if (state_ != SessionState::joined) return;
  emit(std::string(proto::kHeartbeat));
  if (cookie_seen_) emit(proto::encode_ping(config_.ping_token));
}

void ClientSession::leave() {
  if (state_ == SessionState::ended) return;
  emit(std::string(proto::kQuit));
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
