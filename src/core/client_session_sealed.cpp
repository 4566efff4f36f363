// The client's side of the sealed dialect (protocol/sealed.hpp): the relay's key checked
// against the pin, the join sent as a hello, the welcome opened into a session, and from then on
// every datagram sealed both ways; and the cookie and join that lead there (a private room's with
// its proof). Inside, the text protocol runs as ever (client_session.cpp).
#include <sodium.h>

#include <algorithm>
#include <utility>

#include "core/client_session.hpp"
#include "protocol/message.hpp"
#include "protocol/sealed.hpp"
#include "protocol/text.hpp"

namespace udpchat::core {

namespace proto = udpchat::protocol;
namespace noise = udpchat::protocol::noise;
namespace sealed = udpchat::protocol::sealed;

void ClientSession::on_datagram(std::string_view datagram, TimePoint now) {
  if (proto::sealed::is_sealed_dialect(datagram)) {
    on_frame(datagram, now);
    return;
  }
  // In a session the relay says everything sealed, and once it offered one (or its key is
  // known) only its cookies come in the clear: other text from its address is not its word.
  if (expects_sealed()) {
    const proto::ServerMessage message = proto::decode_server(datagram);
    if (!sealed_ && std::holds_alternative<proto::Cookie>(message)) {
      on_message(message, now);
    } else {
      on_clear_while_sealed(datagram, now);
    }
    return;
  }
  on_message(proto::decode_server(datagram), now);
}

// A relay that still holds the last session drops a cookie request in the clear from this
// address: the same request goes sealed in that session too.
void ClientSession::ask_stale_session() {
  if (!stale_ || sealed_) return;
  std::string frame;
  stale_->seal(proto::encode_sealed_cookie_request(sealed_suite_asked()), frame);
  datagrams_.push_back(std::move(frame));
}

std::uint8_t ClientSession::sealed_suite_asked() const noexcept {
  return config_.aes_gcm ? sealed::kSuiteAesGcm : sealed::kSuiteChaChaPoly;
}

bool ClientSession::expects_sealed() const noexcept {
  return sealed_ || handshake_ || (config_.seal && !config_.server_key.empty());
}

void ClientSession::emit(std::string datagram) {
  if (!sealed_) {
    datagrams_.push_back(std::move(datagram));
    return;
  }
  std::string frame;
  sealed_->seal(datagram, frame);
  datagrams_.push_back(std::move(frame));
}

// False when the cookie goes no further: the relay offers another key than the one expected,
// or no key where one is expected (a relay that stopped sealing is not trusted with the lines,
// and the session ends when it says so again), or it was asked for new keys (rekey_due).
bool ClientSession::accept_offer(const proto::Cookie& cookie) {
  if (!config_.seal) return true;
  if (!config_.server_key.empty() && cookie.sealed_key != config_.server_key) {
    // Anyone can send a cookie from the relay's address: a relay that really changed its key
    // offers the other one every time.
    if (++key_mismatches_ >= kKeyMismatches) {
      offered_key_.assign(cookie.sealed_key);
      end(EndReason::key_changed);
    }
    return false;
  }
  key_mismatches_ = 0;
  offered_key_.assign(cookie.sealed_key);
  offered_suite_ = cookie.sealed_suite;
  if (!sealed_ || !rekey_.asked || rekey_.handshake || moving_) return true;
  rekey_.index = randombytes_random();
  if (auto hello = make_hello(rekey_.index, cookie.token, std::string(proto::kHeartbeat))) {
    rekey_.handshake.emplace(std::move(hello->handshake));
    emit(std::move(hello->datagram));  // inside the session: only its holder can say it
  }
  return false;
}

// A hello to the offered key in the best suite both speak (a relay answers in the hello's).
std::optional<sealed::HelloOut> ClientSession::make_hello(std::uint32_t index,
                                                          std::string_view token,
                                                          std::string payload) const {
  noise::PublicKey key{};
  if (!sealed::parse_key(offered_key_, key)) return std::nullopt;
  return sealed::encode_hello(sealed::hello_cipher(offered_suite_, sealed_suite_asked()), key,
                              index, token, std::move(payload));
}

// reg <cookie>[ <nick>[ <room>]], with ` +r1 <next>` when the server offered repair: the first
// of our lines it has not acknowledged comes next (a rejoined relay resumes from there).
void ClientSession::on_cookie(const proto::Cookie& cookie) {
  const std::string_view token = cookie.token;
  cookie_.assign(token);
  cookie_seen_ = true;
  offered_repair_ = cookie.repair;
  if (!accept_offer(cookie)) return;
  if (state_ == SessionState::legacy) {
    // A paused or overloaded udpchat server answering at last: join it properly.
    state_ = SessionState::rejoining;
    attempts_ = 0;
    events_.push_back(event::Joining{JoinTrouble::no_cookie, {}});
  }
  if (state_ == SessionState::joining || state_ == SessionState::rejoining) {
    send_join(token, joined_room_);
  } else if (state_ == SessionState::joined && moving_) {
    send_join(token, moves_.front().room);
  }
}

std::string ClientSession::join_datagram(std::string_view token, std::string_view room) const {
  // A private room's join proves that we hold its key (the relay admits only holders).
  std::string proof = room_keys_ && room == config_.room
                          ? proto::room_key::join_proof(*room_keys_, room, token, nick_)
                          : std::string{};
  // With the key before: the room moves to ours, if it is still on that one.
  if (!proof.empty() && previous_keys_) {
    proof += ' ';
    proof += proto::room_key::handover(*previous_keys_, room, token, room_keys_->verifier);
  }
  if (offered_repair_ == 0 || !config_.repair) {
    return proto::encode_join(token, nick_, room, std::nullopt, proto::kRepairVersion, proof);
  }
  std::uint64_t next = next_seq_;
  for (const Line& line : lines_) {
    if (line.seq != 0) next = std::min(next, line.seq);
  }
  return proto::encode_join(token, nick_, room, next,
                            std::min(offered_repair_, proto::kRepairVersion), proof);
}

void ClientSession::send_join(std::string_view token, std::string_view room) {
  if (sealed_) {
    emit(join_datagram(token, room));  // a move, inside the session
  } else if (config_.seal && !offered_key_.empty()) {
    send_hello(token, room);
  } else {
    datagrams_.push_back(join_datagram(token, room));
  }
}

// The join, sealed to the relay's key in Noise's first message, padded so that the welcome,
// never longer, obeys the reflection rule. A relay that kept our last session takes a hello
// only inside it (one in the clear from a member's address could be anyone's on the path);
// one that did not takes it in the clear.
void ClientSession::send_hello(std::string_view token, std::string_view room) {
  hello_index_ = randombytes_random();
  auto hello = make_hello(hello_index_, token, join_datagram(token, room));
  if (!hello) return;
  handshake_.emplace(std::move(hello->handshake));
  if (stale_) {
    std::string frame;
    stale_->seal(hello->datagram, frame);
    datagrams_.push_back(std::move(frame));
  }
  datagrams_.push_back(std::move(hello->datagram));
}

void ClientSession::on_frame(std::string_view datagram, TimePoint now) {
  const sealed::Frame frame = sealed::decode(datagram);
  if (const auto* welcome = std::get_if<sealed::Welcome>(&frame)) {
    noise::Bytes said;
    std::optional<noise::Session> keys;
    if (handshake_ && welcome->receiver == hello_index_) {
      keys = handshake_->read_second(noise::as_bytes(welcome->noise), said);
    } else if (sealed_ && rekey_.handshake && welcome->receiver == rekey_.index) {
      keys = rekey_.handshake->read_second(noise::as_bytes(welcome->noise), said);
      if (keys) {
        // New keys from now on; the relay switches once one of ours opens under them.
        rekey_.previous = std::exchange(
            sealed_, std::make_unique<SealedSession>(rekey_.index, welcome->sender, *keys));
        rekey_.handshake.reset();
        rekey_.asked = false;
        rekey_.tries = 0;
        rekey_.due = now + config_.rekey_after;
        emit(std::string(proto::kHeartbeat));
        return;
      }
    }
    if (!keys) {
      ++forged_;
      return;
    }
    handshake_.reset();
    opened_.assign(noise::as_text(said));
    const proto::ServerMessage message = proto::decode_server(opened_);
    // Only a welcome makes a session: a refusal (full, nick taken) leaves none at the relay.
    if (std::holds_alternative<proto::Welcome>(message)) {
      sealed_ = std::make_unique<SealedSession>(hello_index_, welcome->sender, std::move(*keys));
      stale_.reset();
      rekey_ = Rekey{};
      rekey_.due = now + config_.rekey_after;
      // At once, so that the relay knows the welcome arrived (until then it takes a hello again).
      emit(std::string(proto::kHeartbeat));
      // Trust on first use, within the process too: a rejoin expects the key that proved itself.
      if (config_.server_key.empty()) config_.server_key = offered_key_;
    }
    on_message(message, now);
    return;
  }
  const auto* sealed_frame = std::get_if<sealed::Sealed>(&frame);
  if (sealed_frame != nullptr && !sealed_ && stale_ && stale_->open(*sealed_frame, opened_)) {
    // The last session, while joining again: only its answer to our cookie request counts.
    const proto::ServerMessage message = proto::decode_server(opened_);
    if (std::holds_alternative<proto::Cookie>(message)) on_message(message, now);
    return;
  }
  // What the relay sent under the keys before, until it saw ours under the new ones.
  const bool opened = sealed_frame != nullptr && sealed_ &&
                      (sealed_->open(*sealed_frame, opened_) ||
                       (rekey_.previous && rekey_.previous->open(*sealed_frame, opened_)));
  if (!opened) {
    ++forged_;
    return;
  }
  verify_by_ = TimePoint::max();  // the session is alive
  on_message(proto::decode_server(opened_), now);
}

// New keys for a long session: a cookie asked for inside it, then (on_cookie) a hello whose
// payload is a heartbeat. Lost on the way, both are tried again.
void ClientSession::rekey_due(TimePoint now) {
  if (!sealed_ || state_ != SessionState::joined || now < rekey_.due) return;
  rekey_.asked = true;
  rekey_.handshake.reset();
  // A relay that never answers (one too old to rekey) is asked again only after rekey_after.
  rekey_.due = now + (++rekey_.tries % 3 != 0 ? Rekey::kRetry : config_.rekey_after);
  emit(proto::encode_sealed_cookie_request(sealed_suite_asked()));
}

void ClientSession::on_clear_while_sealed(std::string_view datagram, TimePoint now) {
  ++forged_;
  if (!sealed_ || proto::strip(datagram) != proto::kNotMember || verify_by_ != TimePoint::max()) {
    return;
  }
  // A pong (or head) comes back sealed from a relay that still knows us. Meanwhile the question
  // is the liveness check: a forger cannot keep a dead relay looking alive with it.
  last_heard_ = now;
  verify_by_ = now + std::min(kVerifyWait, config_.hb_interval);
  emit(std::string(proto::kHeartbeat));
  emit(proto::encode_ping(config_.ping_token));
}

}  // namespace udpchat::core
