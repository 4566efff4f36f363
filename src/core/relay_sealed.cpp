// The relay's side of the sealed dialect (protocol/sealed.hpp): a hello becomes a join and a
// session, a sealed datagram is opened before it touches anything, and whatever goes to a
// sealed member is sealed for it. Inside a session the text protocol runs as ever (relay.cpp).
#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <utility>
#include <variant>

#include "core/relay.hpp"
#include "protocol/message.hpp"
#include "protocol/sealed.hpp"

namespace udpchat::core {

namespace proto = udpchat::protocol;
namespace noise = udpchat::protocol::noise;
namespace sealed = udpchat::protocol::sealed;

Outcome Relay::on_sealed(Member* member, const Peer& from, std::string_view datagram, TimePoint now,
                         Duration queued) {
  const sealed::Frame frame = sealed::decode(datagram);
  if (const auto* hello = std::get_if<sealed::Hello>(&frame)) {
    return on_hello(member, from, *hello, datagram.size(), now, false);
  }
  const auto* frame_in = std::get_if<sealed::Sealed>(&frame);
  if (frame_in == nullptr) return drop(DropReason::bad_frame);
  // Opened before anything else: what does not open refreshes nothing, spends no budget and
  // draws no answer.
  const auto session = sessions_.find(frame_in->receiver);
  if (session == sessions_.end() || session->second != from || member == nullptr ||
      !member->sealed) {
    // An address with no membership here (the relay restarted, or expired it) is told so, as a
    // text client is, within the reflection rule; it checks with a sealed question before it
    // believes it. A member's own address is told nothing: that would be a forgery's echo.
    Outcome out = drop(DropReason::unknown_session);
    if (member != nullptr || datagram.size() < proto::kNotMember.size() ||
        !share_->allow_cookie(from, now)) {
      return out;
    }
    return answer(proto::kNotMember, out);
  }
  // Its session, or while it takes new keys the next (which then takes over) or the one before.
  SealedSession* keys = member->sealed.get();
  for (auto* other : {member->sealed_next.get(), member->sealed_before.get()}) {
    if (other != nullptr && other->local() == frame_in->receiver) keys = other;
  }
  if (!keys->open(*frame_in, opened_)) return drop(DropReason::unopened);
  const bool takes_over = keys == member->sealed_next.get();
  if (member->sealed_before &&
      (takes_over || (keys == member->sealed.get() && now - member->rekeyed_at > kBeforeFor))) {
    sessions_.erase(member->sealed_before->local());
    member->sealed_before.reset();
  }
  if (takes_over) {
    member->sealed_before = std::exchange(member->sealed, std::move(member->sealed_next));
    member->rekeyed_at = now;
  }
  if (sealed::is_sealed_dialect(opened_)) {
    // A member's hello (new keys, or a join again) comes inside its session: one from its
    // address in the clear could be anyone's on the path, with a cookie seen there.
    const std::string inner = opened_;
    const sealed::Frame inner_frame = sealed::decode(inner);
    const auto* hello = std::get_if<sealed::Hello>(&inner_frame);
    if (hello == nullptr) return drop(DropReason::bad_frame);
    return on_hello(member, from, *hello, datagram.size(), now, true);
  }
  return seal_answers(on_text(member, from, opened_, now, queued), from);
}

Outcome Relay::on_hello(Member* member, const Peer& from, const sealed::Hello& hello,
                        std::size_t datagram_bytes, TimePoint now, bool in_session) {
  if (config_.identity == nullptr) return drop(DropReason::sealed_off);
  if (hello.cipher == noise::Cipher::aes_gcm && !config_.aes_gcm) {
    return drop(DropReason::cipher_off);
  }
  // Once a datagram opened under it, a member's session is the only way it says hello: one in
  // the clear from its address could be anyone's on the path. Before that, its welcome may
  // have been lost, and a hello in the clear is its client trying again.
  if (!in_session && member != nullptr && member->sealed && member->sealed->confirmed()) {
    return drop(DropReason::hello_outside_session);
  }
  // The welcome is never longer than the hello: the reflection rule before a session.
  if (datagram_bytes < sealed::kHelloBytes) return drop(DropReason::unpadded_hello);
  // The address proves itself before any key work, which the source's cookie budget pays.
  if (!cookies_.verify(hello.cookie, from, now)) return drop(DropReason::bad_cookie);
  if (!share_->allow_cookie(from, now)) return drop(DropReason::cookie_rate_limited);
  SeenHellos::Ephemeral ephemeral{};
  std::copy_n(noise::as_bytes(hello.noise).begin(), ephemeral.size(), ephemeral.begin());
  if (seen_hellos_.seen(ephemeral, now)) return drop(DropReason::replayed_hello);
  noise::Responder responder(hello.cipher, *config_.identity, sealed::prologue(hello.header));
  if (!responder.read_first(noise::as_bytes(hello.noise), hello_payload_)) {
    return drop(DropReason::unopened);
  }
  // Only a hello that opened is remembered: a corrupted copy raced ahead cannot bar the real one.
  seen_hellos_.remember(ephemeral, now);
  // Inside: the join, as a text client writes it (the same cookie), padded with spaces; a
  // heartbeat (new keys for a member's session); or a ping (probe), answered to prove the key
  // and otherwise forgotten.
  const proto::ClientMessage message = proto::decode_client(noise::as_text(hello_payload_));
  if (const auto* ping = std::get_if<proto::Ping>(&message)) {
    proto::encode_pong(buffer_, ping->token);
    responder.write_second(noise::KeyPair::generate(), noise::as_bytes(buffer_), welcome_noise_);
    return welcome(hello, 0, datagram_bytes, Outcome{});
  }
  if (std::holds_alternative<proto::Heartbeat>(message)) {
    if (!in_session) return drop(DropReason::bad_frame);
    // Answers go under the old keys until a datagram opens under the new ones.
    Outcome out = install_session(*member, from, hello, responder, proto::kHeartbeat,
                                  datagram_bytes, Outcome{}, true);
    if (!out.dropped) ++stats_.rekeys;
    return out;
  }
  const auto* join = std::get_if<proto::Join>(&message);
  if (join == nullptr || join->cookie != hello.cookie) return drop(DropReason::bad_frame);
  Outcome out = accept_join(from, *join, member, now);
  const auto* said = std::get_if<ToSender>(&out.sends);
  if (said == nullptr || said->datagrams.empty()) return out;
  const std::string answered(said->datagrams.front());
  if (out.dropped || member == nullptr) {
    // Refused (full, nick taken): the answer, sealed in the handshake, and no session.
    responder.write_second(noise::KeyPair::generate(), noise::as_bytes(answered), welcome_noise_);
    return welcome(hello, 0, datagram_bytes, std::move(out));
  }
  // Joined, moved or refreshed: from now on the member speaks sealed, under these keys only.
  if (member->sealed) {
    forget_sessions(*member);
  } else {
    ++member->room->sealed;
  }
  if (member->alias_ip.empty()) {
    const std::uint32_t a = randombytes_random();
    const std::uint32_t b = randombytes_random();
    member->alias_ip = fmt::format("fd75:6463:{:x}:{:x}::{:x}", a >> 16, a & 0xFFFF, b >> 16);
    member->alias_port = static_cast<std::uint16_t>(1 + (b & 0xFFFF) % 65535);
  }
  return install_session(*member, from, hello, responder, answered, datagram_bytes, std::move(out),
                         false);
}

// The handshake's second message saying `answer`, in a welcome naming a new session of
// `member`'s: its session from now on, or (`next`) once a datagram opens under it.
Outcome Relay::install_session(Member& member, const Peer& from, const sealed::Hello& hello,
                               noise::Responder& responder, std::string_view answer,
                               std::size_t datagram_bytes, Outcome out, bool next) {
  noise::Session keys =
      responder.write_second(noise::KeyPair::generate(), noise::as_bytes(answer), welcome_noise_);
  const std::uint32_t index = new_session_index();
  out = welcome(hello, index, datagram_bytes, std::move(out));
  if (out.dropped == DropReason::reply_too_big) return out;
  auto& slot = next ? member.sealed_next : member.sealed;
  if (slot) sessions_.erase(slot->local());
  slot = std::make_unique<SealedSession>(index, hello.sender, std::move(keys));
  sessions_.insert_or_assign(index, from);
  return out;
}

void Relay::forget_sessions(Member& member) {
  for (auto* session :
       {member.sealed.get(), member.sealed_next.get(), member.sealed_before.get()}) {
    if (session != nullptr) sessions_.erase(session->local());
  }
  member.sealed.reset();
  member.sealed_next.reset();
  member.sealed_before.reset();
}

// The welcome, Noise's second message already in welcome_noise_; index 0: no session.
Outcome Relay::welcome(const sealed::Hello& hello, std::uint32_t index, std::size_t datagram_bytes,
                       Outcome out) {
  sealed::encode_welcome_header(welcome_, hello.cipher, hello.sender, index);
  welcome_.append(noise::as_text(welcome_noise_));
  if (welcome_.size() > datagram_bytes) return drop(DropReason::reply_too_big);
  answers_.assign(1, welcome_);
  out.sends = ToSender{answers_};
  return out;
}

Outcome Relay::seal_answers(Outcome out, const Peer& to) {
  auto* answer = std::get_if<ToSender>(&out.sends);
  if (answer == nullptr) return out;
  Member* member = find_mutable(to);
  // Never text to a sealed peer: one that left meanwhile gets nothing.
  if (member == nullptr || !member->sealed) {
    out.sends = {};
    return out;
  }
  // Sized before any view into them is taken.
  if (sealed_buffers_.size() < answer->datagrams.size()) {
    sealed_buffers_.resize(answer->datagrams.size());
  }
  sealed_answers_.clear();
  for (std::size_t i = 0; i < answer->datagrams.size(); ++i) {
    member->sealed->seal(answer->datagrams[i], sealed_buffers_[i]);
    sealed_answers_.push_back(sealed_buffers_[i]);
  }
  answer->datagrams = sealed_answers_;
  return out;
}

std::span<const SealedDelivery> Relay::seal_for(std::span<const std::uint32_t> recipients,
                                                std::string_view text) {
  if (sealed_buffers_.size() < recipients.size()) sealed_buffers_.resize(recipients.size());
  sealed_out_.clear();
  for (std::size_t i = 0; i < recipients.size(); ++i) {
    members_[recipients[i]].sealed->seal(text, sealed_buffers_[i]);
    sealed_out_.push_back({recipients[i], sealed_buffers_[i]});
  }
  return sealed_out_;
}

std::span<const SealedDelivery> Relay::seal_line(std::span<const std::uint32_t> recipients,
                                                 const proto::Ack& line, std::uint64_t seq,
                                                 const Member* sender) {
  // Each form is written once, then sealed per member (each has its own key).
  std::array<bool, 4> written{};
  if (sealed_buffers_.size() < recipients.size()) sealed_buffers_.resize(recipients.size());
  sealed_out_.clear();
  for (std::size_t i = 0; i < recipients.size(); ++i) {
    Member& member = members_[recipients[i]];
    const bool numbered = member.repair && seq != 0;
    const bool own = &member == sender;
    const std::size_t form = (numbered ? 2 : 0) + (own ? 1 : 0);
    if (!written[form]) {
      proto::encode_sealed_ack(sealed_forms_[form], numbered ? seq : 0, line.sender_seq, own,
                               line.nick, line.text);
      written[form] = true;
    }
    member.sealed->seal(sealed_forms_[form], sealed_buffers_[i]);
    sealed_out_.push_back({recipients[i], sealed_buffers_[i]});
  }
  return sealed_out_;
}

std::string_view Relay::without_address(std::string_view stored, const Member& to) {
  const proto::ServerMessage message = proto::decode_server(stored);
  const auto* ack = std::get_if<proto::Ack>(&message);
  if (ack == nullptr) return stored;  // a gap or missed line names nobody
  const bool own = ack->ip == to.shown_ip() && ack->port == to.shown_port();
  proto::encode_sealed_ack(unaddressed_, ack->room_seq, ack->sender_seq, own, ack->nick, ack->text);
  return unaddressed_;
}

Sends Relay::to_everyone(std::string_view text) {
  recipients_.clear();
  sealed_recipients_.clear();
  for (std::uint32_t i = 0; i < members_.size(); ++i) {
    (members_[i].sealed ? sealed_recipients_ : recipients_).push_back(i);
  }
  ToRoom all{.plain = {text, recipients_}, .numbered = {}, .sealed = {}, .said = {}};
  if (!sealed_recipients_.empty()) all.sealed = seal_for(sealed_recipients_, text);
  return all;
}

// Random, so that a session's index says nothing of how many came before it.
std::uint32_t Relay::new_session_index() {
  std::uint32_t index = 0;
  do {
    index = randombytes_random();
  } while (index == 0 || sessions_.contains(index));  // 0: no session (a probe's welcome)
  return index;
}

}  // namespace udpchat::core
