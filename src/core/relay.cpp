// What each datagram asks of the relay. Who is a member, of which room and for how long is in
// relay_members.cpp; what becomes of a line (fan-out, numbering, repair) in relay_lines.cpp.
#include "core/relay.hpp"

#include <algorithm>
#include <iterator>
#include <variant>

#include "core/overloaded.hpp"
#include "protocol/message.hpp"
#include "protocol/room_key.hpp"
#include "protocol/sealed.hpp"
#include "protocol/text.hpp"

namespace udpchat::core {

namespace proto = udpchat::protocol;

namespace {

DropReason drop_reason(proto::Malformation malformation) noexcept {
  switch (malformation) {
    case proto::Malformation::empty:
      return DropReason::empty;
    case proto::Malformation::too_long:
      return DropReason::too_long;
    case proto::Malformation::invalid_utf8:
      return DropReason::invalid_utf8;
    case proto::Malformation::control_character:
      return DropReason::control_character;
    case proto::Malformation::format_character:
      return DropReason::format_character;
  }
  return DropReason::empty;
}

Outcome with_change(Outcome out, MemberChange change) {
  out.change = change;
  return out;
}

}  // namespace

std::string_view Member::room_name() const noexcept {
  return room == nullptr ? std::string_view{} : std::string_view(room->name);
}

std::string_view Member::room_topic() const noexcept {
  return room == nullptr ? std::string_view{} : std::string_view(room->topic);
}

std::uint64_t RelayStats::dropped() const noexcept {
  std::uint64_t total = 0;
  for (auto count : drops) total += count;
  return total;
}

RelayStats& RelayStats::operator+=(const RelayStats& other) noexcept {
  for (const auto& counter : kRelayCounters) this->*counter.field += other.*counter.field;
  for (std::size_t i = 0; i < drops.size(); ++i) drops[i] += other.drops[i];
  return *this;
}

Relay::Relay(RelayConfig config, TimePoint now)
    : config_(std::move(config)),
      share_(config_.share ? config_.share : std::make_shared<NodeShare>(config_, now)),
      cookies_(share_->cookie_epoch(), share_->cookie_secret()),
      identity_text_(config_.identity ? proto::sealed::format_key(config_.identity->public_key)
                                      : std::string{}) {
  members_.reserve(std::min<std::size_t>(config_.max_clients, 1024));
  index_.reserve(std::min<std::size_t>(config_.max_clients, 1024));
}

const Member* Relay::find(const Peer& peer) const noexcept {
  const auto it = index_.find(peer);
  return it == index_.end() ? nullptr : &members_[it->second];
}

Member* Relay::find_mutable(const Peer& peer) noexcept {
  const auto it = index_.find(peer);
  return it == index_.end() ? nullptr : &members_[it->second];
}

void Relay::release_nick(std::string_view room, const Member& member) {
  if (!member.nick.empty()) share_->release_nick(room, member.nick, member.peer);
}

Outcome Relay::drop(DropReason reason) {
  ++stats_.drops[static_cast<std::size_t>(reason)];
  Outcome out;
  out.dropped = reason;
  return out;
}

Outcome Relay::answer(std::string_view datagram, Outcome out) {
  answers_.assign(1, datagram);
  out.sends = ToSender{answers_};
  return out;
}

// The reflection rule: an address that has not proved it receives what is sent to it gets at
// most one answer per datagram, never longer than that datagram.
Outcome Relay::reply_to_stranger(std::string_view datagram) {
  if (buffer_.size() > datagram.size()) return drop(DropReason::reply_too_big);
  return answer(buffer_);
}

// A heartbeat or chat line from an address that is not a member: validated mode says so, so
// that a client the relay forgot (restart, expiry) rejoins at once instead of talking into the
// void. The answer obeys the reflection rule and spends the source's cookie budget.
Outcome Relay::tell_not_member(const Peer& from, std::string_view datagram, TimePoint now) {
  Outcome out = drop(DropReason::not_member);
  if (datagram.size() < proto::kNotMember.size()) return out;
  // A sealed member never speaks text: after it left, text from its address is a forgery, and
  // its owner asked for no answer.
  if (sealed_gone_.contains(from)) return out;
  if (!share_->allow_cookie(from, now)) return out;
  return answer(proto::kNotMember, out);
}

std::int64_t Relay::unix_ms(TimePoint at) const noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch() +
                                                               config_.wall_offset)
      .count();
}

std::vector<std::string> Relay::room_names() const {
  std::vector<std::string> names;
  names.reserve(room_count());
  for (const auto& [name, room] : rooms_) names.push_back(name);
  return names;
}

std::vector<RoomChange> Relay::take_room_changes() {
  std::vector<RoomChange> changes;
  changes.swap(room_changes_);
  return changes;
}

Outcome Relay::on_datagram(const Peer& from, std::string_view datagram, TimePoint now,
                           Duration queued) {
  ++stats_.datagrams;
  Member* member = find_mutable(from);
  if (proto::sealed::is_sealed_dialect(datagram)) {
    return on_sealed(member, from, datagram, now, queued);
  }
  // A sealed member speaks nothing else: text from its address is a forgery (or a stray) and
  // touches nothing, not even its budget.
  if (member != nullptr && member->sealed) return drop(DropReason::unsealed);
  return on_text(member, from, datagram, now, queued);
}

Outcome Relay::on_text(Member* member, const Peer& from, std::string_view datagram, TimePoint now,
                       Duration queued) {
  // The cheapest refusal first: a source over its budget costs no decoding. A member spends
  // its own budget; strangers share their source's (IPv4 address or IPv6 /64).
  if (share_->limits_on()) {
    const bool allowed = member != nullptr ? member->budget.take(config_.datagram_limit, now)
                                           : share_->allow_datagram(from, now);
    if (!allowed) return drop(DropReason::rate_limited);
  }
  const proto::ClientMessage message = proto::decode_client(datagram);
  // A datagram that decodes keeps a member alive; a malformed or empty one proves nothing (a
  // forger's byte is one), so it renews neither the member nor its credit.
  if (member != nullptr && !std::holds_alternative<proto::Malformed>(message)) {
    refresh(static_cast<std::size_t>(member - members_.data()), now);
  }
  // The room moved to a new key since this member entered: its lines go nowhere (a quit still
  // leaves), and it is told when the answer is no longer than what it answers (a ping or a
  // padded line, not a bare heartbeat).
  if (member != nullptr && member->room_epoch != history().epoch(member->room->window) &&
      !std::holds_alternative<proto::Quit>(message)) {
    if (datagram.size() < proto::kRoomRekeyed.size()) return drop(DropReason::old_key);
    return answer(proto::kRoomRekeyed, drop(DropReason::old_key));
  }

  // Legacy mode: any datagram from a stranger is a join, as with the original server.
  auto admit = [&](Outcome out) -> Outcome {
    if (member != nullptr) return out;
    if (!config_.legacy) return tell_not_member(from, datagram, now);
    JoinResult result{};
    member = join(from, {}, {}, now, false, {}, {}, result);
    if (result == JoinResult::full) return drop(DropReason::server_full);
    // The original protocol cannot prove a room key: a private lobby refuses it, said when the
    // refusal is no longer than what it answers.
    if (member == nullptr) {
      return datagram.size() >= proto::kRoomPrivate.size()
                 ? answer(proto::kRoomPrivate, drop(DropReason::room_private))
                 : drop(DropReason::room_private);
    }
    return with_change(out, Joined{member});
  };
  auto relay_line = [&](std::string_view text) -> Outcome {
    Outcome out = admit({});
    if (member == nullptr) return out;
    // Only a +r1 member's line may be longer by its number.
    if (text.size() > proto::kMaxLineBytes)
      return with_change(drop(DropReason::too_long), out.change);
    // Late is worse than dropped for a chat line; it still proved the member alive.
    if (config_.max_queue_delay > Duration::zero() && queued > config_.max_queue_delay) {
      return with_change(drop(DropReason::stale), out.change);
    }
    member->unheard_bytes = 0;  // a line relayed is proof of life: the credit renews
    return with_change(broadcast(*member, text, 0, now, now - queued), out.change);
  };

  return std::visit(
      Overloaded{
          [&](const proto::Malformed& m) { return drop(drop_reason(m.reason)); },
          [&](const proto::Register&) -> Outcome {
            if (member == nullptr && !config_.legacy) return drop(DropReason::unpadded_reg);
            return admit({});
          },
          [&](const proto::CookieRequest& request) -> Outcome {
            // A member (moving rooms, refreshing) has spent its own budget already.
            if (member == nullptr && !share_->allow_cookie(from, now)) {
              return drop(DropReason::cookie_rate_limited);
            }
            // Repair is offered only to a client that said it speaks it (and while rooms keep
            // lines to repair from), in the version it speaks.
            proto::encode_cookie(buffer_, cookies_.issue(from, now),
                                 config_.history_lines > 0 ? request.repair : std::uint8_t{0},
                                 request.sealed > 0 ? identity_text_ : std::string_view{},
                                 request.sealed >= 2 && config_.aes_gcm ? 2 : 1);
            return reply_to_stranger(datagram);
          },
          [&](const proto::Join& j) -> Outcome {
            if (!cookies_.verify(j.cookie, from, now)) {
              // An original server relays such a line as chat; in legacy mode so do we.
              return config_.legacy ? relay_line(j.line) : drop(DropReason::bad_cookie);
            }
            return accept_join(from, j, member, now);
          },
          [&](const proto::Heartbeat&) -> Outcome {
            if (member != nullptr) {
              member->unheard_bytes = 0;  // proof of life: credit renews
              forget_stale_held(*member, now);
            }
            if (member == nullptr || !member->repair) return admit({});
            // A +r1 member learns the room's latest line: a lost last line shows as a gap.
            proto::encode_head(buffer_, history().head(member->room->window));
            return answer(buffer_);
          },
          [&](const proto::Nack& nack) -> Outcome {
            if (member == nullptr) return admit({});
            if (!member->repair) return relay_line(proto::strip(datagram));  // chat, as it was
            return repair(*member, nack.from, nack.to, now);
          },
          [&](const proto::Quit&) -> Outcome {
            // Nothing to tell a stranger that is leaving anyway.
            if (member == nullptr) return drop(DropReason::not_member);
            departed_ = take(static_cast<std::size_t>(member - members_.data()), now);
            ++stats_.leaves;
            return with_change({}, Left{&departed_});
          },
          [&](const proto::Ping& p) -> Outcome {
            proto::encode_pong(buffer_, p.token);
            return reply_to_stranger(datagram);
          },
          [&](const proto::Chat& c) -> Outcome {
            if (member == nullptr || !member->repair) return relay_line(c.text);
            if (!c.numbered) return drop(DropReason::unnumbered);
            return numbered_line(*member, c.numbered->seq, c.numbered->text, queued, now);
          },
      },
      message);
}

// The cookie proved the address, so refusals are said, not just counted.
Outcome Relay::accept_join(const Peer& from, const proto::Join& j, Member*& member, TimePoint now) {
  namespace room_key = proto::room_key;
  std::string_view verifier;
  std::string_view handover_from;
  if (!j.proof.empty()) {
    const auto proof = room_key::parse_join_proof(j.proof);
    const auto handover = room_key::parse_handover(j.handover);
    const std::string_view room = j.room.empty() ? proto::kDefaultRoom : j.room;
    if (!proof || !room_key::check_join_proof(*proof, room, j.cookie, j.nick) ||
        (!j.handover.empty() &&
         (!handover || !room_key::check_handover(*handover, room, j.cookie, proof->verifier)))) {
      return answer(proto::kRoomPrivate, drop(DropReason::bad_proof));
    }
    verifier = proof->verifier;
    if (handover) handover_from = handover->verifier;
  }
  JoinResult result{};
  Member* joined = join(from, j.nick, j.room, now, true, verifier, handover_from, result);
  switch (result) {
    case JoinResult::full:
      return answer(proto::kServerFull, drop(DropReason::server_full));
    case JoinResult::nick_taken:
      return answer(proto::kNickTaken, drop(DropReason::nick_taken));
    case JoinResult::room_private:
      return answer(proto::kRoomPrivate, drop(DropReason::room_private));
    case JoinResult::room_open:
      return answer(proto::kRoomOpen, drop(DropReason::room_open));
    case JoinResult::old_key:
      return answer(proto::kRoomRekeyed, drop(DropReason::old_key));
    case JoinResult::joined:
    case JoinResult::moved:
    case JoinResult::refreshed:
      break;
  }
  member = joined;
  // Lines held behind a gap go with a new membership or a move (the member sends again what it
  // has not seen taken); a repeated join of the same membership keeps them.
  if (result != JoinResult::refreshed) forget_held(*member);
  const std::uint8_t version =
      config_.history_lines > 0 ? std::min(j.repair, proto::kRepairVersion) : 0;
  const bool repair = version > 0;
  // A fresh membership starts where the client says; a member joining again keeps
  // what it has relayed, so that nothing is relayed twice.
  const bool had = member->repair && result != JoinResult::joined;
  set_repair(*member, repair);
  member->timed = version >= 2;
  if (repair) member->next_seq = had ? std::max(member->next_seq, j.next_seq) : j.next_seq;
  if (repair) {
    const History::Room* window = member->room->window;
    proto::encode_repair_welcome(buffer_, member->ip, from.port, member->nick, j.room,
                                 history().head(window), history().stream(window), version);
  } else {
    proto::encode_welcome(buffer_, member->ip, from.port, member->nick, j.room);
  }
  Outcome out = answer(buffer_);
  if (result == JoinResult::joined) out.change = Joined{member};
  if (result == JoinResult::moved) out.change = Moved{member};
  return out;
}

}  // namespace udpchat::core
