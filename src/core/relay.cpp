// The relay's membership side: who is a member, of which room, for how long, and what each
// datagram asks for. What becomes of a line (fan-out, numbering, windows, repair) is in
// relay_lines.cpp.
#include "core/relay.hpp"

#include <sodium.h>

#include <algorithm>
#include <iterator>
#include <variant>

#include "core/overloaded.hpp"
#include "protocol/message.hpp"
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

Outcome send_to(Audience audience, std::string_view payload) {
  Outcome out;
  out.audience = audience;
  out.payload = payload;
  return out;
}

Outcome with_event(Outcome out, Event event, const Member* member) {
  out.event = event;
  out.member = member;
  return out;
}

}  // namespace

std::string_view to_string(DropReason reason) noexcept {
  switch (reason) {
    case DropReason::empty:
      return "empty";
    case DropReason::too_long:
      return "too_long";
    case DropReason::invalid_utf8:
      return "invalid_utf8";
    case DropReason::control_character:
      return "control_character";
    case DropReason::format_character:
      return "format_character";
    case DropReason::not_member:
      return "not_member";
    case DropReason::unpadded_reg:
      return "unpadded_reg";
    case DropReason::bad_cookie:
      return "bad_cookie";
    case DropReason::server_full:
      return "server_full";
    case DropReason::nick_taken:
      return "nick_taken";
    case DropReason::reply_too_big:
      return "reply_too_big";
    case DropReason::rate_limited:
      return "rate_limited";
    case DropReason::cookie_rate_limited:
      return "cookie_rate_limited";
    case DropReason::egress_limited:
      return "egress_limited";
    case DropReason::stale:
      return "stale";
    case DropReason::unnumbered:
      return "unnumbered";
    case DropReason::out_of_sequence:
      return "out_of_sequence";
    case DropReason::resent:
      return "resent";
  }
  return "unknown";
}

std::string_view Member::room_name() const noexcept {
  return room == nullptr ? std::string_view{} : std::string_view(room->name);
}

std::uint64_t RelayStats::dropped() const noexcept {
  std::uint64_t total = 0;
  for (auto count : drops) total += count;
  return total;
}

RelayStats& RelayStats::operator+=(const RelayStats& other) noexcept {
  static constexpr std::uint64_t RelayStats::*kCounters[] = {
      &RelayStats::datagrams,      &RelayStats::joins,    &RelayStats::leaves,
      &RelayStats::expiries,       &RelayStats::lines,    &RelayStats::deliveries,
      &RelayStats::credit_skipped, &RelayStats::repaired, &RelayStats::missed};
  // A counter added to RelayStats must be added above too.
  static_assert(sizeof(RelayStats) ==
                sizeof(std::uint64_t) * (std::size(kCounters) + kDropReasonCount));
  for (const auto counter : kCounters) this->*counter += other.*counter;
  for (std::size_t i = 0; i < drops.size(); ++i) drops[i] += other.drops[i];
  return *this;
}

Relay::Relay(RelayConfig config, TimePoint now)
    : config_(std::move(config)),
      share_(config_.share ? config_.share : std::make_shared<NodeShare>(config_, now)),
      cookies_(share_->cookie_epoch(), share_->cookie_secret()) {
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
  out.event = Event::dropped;
  out.drop = reason;
  return out;
}

// The reflection rule: an address that has not proved it receives what is sent to it gets at
// most one answer per datagram, never longer than that datagram.
Outcome Relay::reply_to_stranger(std::string_view datagram) {
  if (buffer_.size() > datagram.size()) return drop(DropReason::reply_too_big);
  return send_to(Audience::sender, buffer_);
}

// A heartbeat or chat line from an address that is not a member: validated mode says so, so
// that a client the relay forgot (restart, expiry) rejoins at once instead of talking into the
// void. The answer obeys the reflection rule and spends the source's cookie budget.
Outcome Relay::tell_not_member(const Peer& from, std::string_view datagram, TimePoint now) {
  Outcome out = drop(DropReason::not_member);
  if (datagram.size() < proto::kNotMember.size()) return out;
  if (!share_->allow_cookie(from, now)) return out;
  out.audience = Audience::sender;
  out.payload = proto::kNotMember;
  return out;
}

Member* Relay::join(const Peer& peer, std::string_view nick, std::string_view room, TimePoint now,
                    bool validated, JoinResult& result) {
  if (room.empty()) room = proto::kDefaultRoom;
  Member* member = find_mutable(peer);
  // A member may keep its own nick (a rejoin, a refreshed membership); nobody takes another's.
  // A nick is unique in its room on the node, whichever shard its holder is on.
  if (!nick.empty() && !share_->claim_nick(room, nick, peer)) {
    result = JoinResult::nick_taken;
    return nullptr;
  }
  if (member != nullptr) {
    const auto index = static_cast<std::size_t>(member - members_.data());
    if (validated && !member->validated) {
      // A legacy member that completed the handshake: its address is proven now.
      --member->room->unvalidated;
      member->validated = true;
    }
    result = member->room_name() == room ? JoinResult::refreshed : JoinResult::moved;
    if (result == JoinResult::refreshed && member->nick != nick) release_nick(room, *member);
    if (result == JoinResult::moved) leave_room(index, now);
    members_[index].nick.assign(nick);
    if (result == JoinResult::moved) enter_room(index, room, now);
    refresh(index, now);
    return &members_[index];
  }
  if (!share_->admit(config_.max_clients)) {
    if (!nick.empty()) share_->release_nick(room, nick, peer);
    result = JoinResult::full;
    return nullptr;
  }
  result = JoinResult::joined;
  index_.emplace(peer, members_.size());
  Member& added = members_.emplace_back();
  added.peer = peer;
  added.ip = config_.format_ip(peer);
  added.nick.assign(nick);
  added.last_seen = now;
  added.validated = validated;
  links_.push_back({kNone, kNone});
  link_newest(members_.size() - 1);
  enter_room(members_.size() - 1, room, now);
  ++stats_.joins;
  return &members_.back();
}

void Relay::enter_room(std::size_t index, std::string_view name, TimePoint now) {
  const auto [it, created] = rooms_.try_emplace(std::string(name));
  Room& room = it->second;
  if (created) {
    room.name = it->first;
    room.window = history().open(room.name, now);
    if (config_.report_room_changes) room_changes_.push_back({room.name, true});
  }
  Member& member = members_[index];
  member.room = &room;
  member.room_slot = static_cast<std::uint32_t>(room.members.size());
  room.members.push_back(static_cast<std::uint32_t>(index));
  if (!member.validated) ++room.unvalidated;
  if (member.repair) ++room.repair;
}

// Swap-remove within the room, as take() does within members_.
void Relay::leave_room(std::size_t index, TimePoint now) {
  Member& member = members_[index];
  Room& room = *member.room;
  const std::uint32_t moved = room.members.back();
  room.members[member.room_slot] = moved;
  members_[moved].room_slot = member.room_slot;
  room.members.pop_back();
  release_nick(room.name, member);
  if (!member.validated) --room.unvalidated;
  if (member.repair) --room.repair;
  member.room = nullptr;
  if (!room.members.empty()) return;
  if (config_.report_room_changes) room_changes_.push_back({room.name, false});
  history().close(room.window, now);
  rooms_.erase(rooms_.find(room.name));
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

void Relay::link_newest(std::size_t index) {
  const auto i = static_cast<std::uint32_t>(index);
  links_[index] = {newest_, kNone};
  if (newest_ != kNone) links_[newest_].newer = i;
  newest_ = i;
  if (oldest_ == kNone) oldest_ = i;
}

void Relay::unlink(std::size_t index) {
  const Links links = links_[index];
  if (links.older != kNone)
    links_[links.older].newer = links.newer;
  else
    oldest_ = links.newer;
  if (links.newer != kNone)
    links_[links.newer].older = links.older;
  else
    newest_ = links.older;
}

void Relay::refresh(std::size_t index, TimePoint now) {
  members_[index].last_seen = now;
  members_[index].unheard_bytes = 0;
  if (newest_ != index) {
    unlink(index);
    link_newest(index);
  }
}

// Swap-remove keeps the array dense; only the moved member's index entry and neighbours'
// links change.
Member Relay::take(std::size_t index, TimePoint now) {
  unlink(index);
  leave_room(index, now);
  Member taken = std::move(members_[index]);
  index_.erase(taken.peer);
  share_->release();
  const std::size_t last = members_.size() - 1;
  if (index != last) {
    members_[index] = std::move(members_[last]);
    index_[members_[index].peer] = index;
    members_[index].room->members[members_[index].room_slot] = static_cast<std::uint32_t>(index);
    const Links moved = links_[last];
    links_[index] = moved;
    const auto i = static_cast<std::uint32_t>(index);
    if (moved.older != kNone)
      links_[moved.older].newer = i;
    else
      oldest_ = i;
    if (moved.newer != kNone)
      links_[moved.newer].older = i;
    else
      newest_ = i;
  }
  members_.pop_back();
  links_.pop_back();
  return taken;
}

Outcome Relay::on_datagram(const Peer& from, std::string_view datagram, TimePoint now,
                           Duration queued) {
  ++stats_.datagrams;
  Member* member = find_mutable(from);
  // The cheapest refusal first: a source over its budget costs no decoding. A member spends
  // its own budget; strangers share their source's (IPv4 address or IPv6 /64).
  if (share_->limits_on()) {
    const bool allowed = member != nullptr ? member->budget.take(config_.datagram_limit, now)
                                           : share_->allow_datagram(from, now);
    if (!allowed) return drop(DropReason::rate_limited);
  }
  const proto::ClientMessage message = proto::decode_client(datagram);
  // Any datagram from a member refreshes it.
  if (member != nullptr) refresh(static_cast<std::size_t>(member - members_.data()), now);

  // Legacy mode: any datagram from a stranger is a join, as with the original server.
  auto admit = [&](Outcome out) -> Outcome {
    if (member != nullptr) return out;
    if (!config_.legacy) return tell_not_member(from, datagram, now);
    JoinResult result{};
    member = join(from, {}, {}, now, false, result);
    if (result == JoinResult::full) return drop(DropReason::server_full);
    return with_event(out, Event::joined, member);
  };
  auto relay_line = [&](std::string_view text) -> Outcome {
    Outcome out = admit({});
    if (member == nullptr) return out;
    // Only a +r1 member's line may be longer by its number.
    if (text.size() > proto::kMaxLineBytes)
      return with_event(drop(DropReason::too_long), out.event, out.member);
    // Late is worse than dropped for a chat line; it still proved the member alive.
    if (config_.max_queue_delay > Duration::zero() && queued > config_.max_queue_delay) {
      return with_event(drop(DropReason::stale), out.event, out.member);
    }
    return with_event(broadcast(*member, text, 0, now, now - queued), out.event, out.member);
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
                                 config_.history_lines > 0 ? request.repair : std::uint8_t{0});
            return reply_to_stranger(datagram);
          },
          [&](const proto::Join& j) -> Outcome {
            if (!cookies_.verify(j.cookie, from, now)) {
              // An original server relays such a line as chat; in legacy mode so do we.
              return config_.legacy ? relay_line(j.line) : drop(DropReason::bad_cookie);
            }
            // The cookie proved the address, so refusals are said, not just counted.
            JoinResult result{};
            Member* joined = join(from, j.nick, j.room, now, true, result);
            if (result == JoinResult::full || result == JoinResult::nick_taken) {
              Outcome out = drop(result == JoinResult::full ? DropReason::server_full
                                                            : DropReason::nick_taken);
              out.audience = Audience::sender;
              out.payload = result == JoinResult::full ? proto::kServerFull : proto::kNickTaken;
              return out;
            }
            member = joined;
            const std::uint8_t version =
                config_.history_lines > 0 ? std::min(j.repair, proto::kRepairVersion) : 0;
            const bool repair = version > 0;
            // A fresh membership starts where the client says; a member joining again keeps
            // what it has relayed, so that nothing is relayed twice.
            const bool had = member->repair && result != JoinResult::joined;
            set_repair(*member, repair);
            member->timed = version >= 2;
            if (repair)
              member->next_seq = had ? std::max(member->next_seq, j.next_seq) : j.next_seq;
            if (repair) {
              const History::Room* window = member->room->window;
              proto::encode_repair_welcome(buffer_, member->ip, from.port, member->nick, j.room,
                                           history().head(window), history().stream(window),
                                           version);
            } else {
              proto::encode_welcome(buffer_, member->ip, from.port, member->nick, j.room);
            }
            const Event event = result == JoinResult::joined  ? Event::joined
                                : result == JoinResult::moved ? Event::moved
                                                              : Event::none;
            return with_event(send_to(Audience::sender, buffer_), event, member);
          },
          [&](const proto::Heartbeat&) -> Outcome {
            if (member == nullptr || !member->repair) return admit({});
            // A +r1 member learns the room's latest line: a lost last line shows as a gap.
            proto::encode_head(buffer_, history().head(member->room->window));
            return send_to(Audience::sender, buffer_);
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
            return with_event({}, Event::left, &departed_);
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

std::span<const Member> Relay::expire(TimePoint now) {
  expired_.clear();
  while (oldest_ != kNone && now - members_[oldest_].last_seen > config_.hb_timeout) {
    expired_.push_back(take(oldest_, now));
    ++stats_.expiries;
  }
  history().expire(now);
  return expired_;
}

}  // namespace udpchat::core
