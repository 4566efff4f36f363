// The relay's membership: joining (seats and nicks from the node's share), rooms entered and
// left (each room's numbering and window open in the node's history while any shard has
// members there), members in the order they were last heard from, and expiry.
#include <algorithm>

#include "core/relay.hpp"
#include "protocol/message.hpp"

namespace udpchat::core {

namespace proto = udpchat::protocol;

Member* Relay::join(const Peer& peer, std::string_view nick, std::string_view room, TimePoint now,
                    bool validated, std::string_view verifier, std::string_view handover_from,
                    JoinResult& result) {
  if (room.empty()) room = proto::kDefaultRoom;
  Member* member = find_mutable(peer);
  // The room's gate first: a refused join learns nothing more, not even whether a nick is held.
  // A member refreshing its membership passed it already.
  History::Room* window = nullptr;
  if (member == nullptr || member->room_name() != room) {
    Admission admission{};
    window = history().enter(room, verifier, handover_from, admission);
    if (window == nullptr) {
      result = admission == Admission::open_room ? JoinResult::room_open
               : admission == Admission::old_key ? JoinResult::old_key
                                                 : JoinResult::room_private;
      return nullptr;
    }
  }
  auto refuse = [&](JoinResult why) -> Member* {
    if (window != nullptr) history().leave(window, now);
    result = why;
    return nullptr;
  };
  // A member may keep its own nick (a rejoin, a refreshed membership); nobody takes another's.
  // A nick is unique in its room on the node, whichever shard its holder is on.
  if (!nick.empty() && !share_->claim_nick(room, nick, peer)) return refuse(JoinResult::nick_taken);
  if (member != nullptr) {
    const auto index = static_cast<std::size_t>(member - members_.data());
    if (validated && !member->validated) {
      // A legacy member that completed the handshake: its address is proven now.
      --member->room->unvalidated;
      member->validated = true;
    }
    result = window == nullptr ? JoinResult::refreshed : JoinResult::moved;
    if (result == JoinResult::refreshed && member->nick != nick) release_nick(room, *member);
    if (result == JoinResult::moved) leave_room(index, now);
    members_[index].nick.assign(nick);
    if (result == JoinResult::moved) enter_room(index, room, window);
    refresh(index, now);
    return &members_[index];
  }
  if (!share_->admit(config_.max_clients)) {
    if (!nick.empty()) share_->release_nick(room, nick, peer);
    return refuse(JoinResult::full);
  }
  result = JoinResult::joined;
  sealed_gone_.erase(peer);
  index_.emplace(peer, members_.size());
  Member& added = members_.emplace_back();
  added.peer = peer;
  added.ip = config_.format_ip(peer);
  added.nick.assign(nick);
  added.last_seen = now;
  added.validated = validated;
  links_.push_back({kNone, kNone});
  link_newest(members_.size() - 1);
  enter_room(members_.size() - 1, room, window);
  ++stats_.joins;
  return &members_.back();
}

// `window`: the node's room, which the member entered (History::enter).
void Relay::enter_room(std::size_t index, std::string_view name, History::Room* window) {
  const auto [it, created] = rooms_.try_emplace(std::string(name));
  Room& room = it->second;
  if (created) {
    room.name = it->first;
    room.window = window;
  } else if (room.epoch != history().epoch(window) && config_.report_room_changes) {
    // The room has a new key: the node leaves its old topic for the new one's.
    room_changes_.push_back({room.topic, false});
  }
  if (created || room.epoch != history().epoch(window)) {
    room.epoch = history().epoch(window);
    room.topic = history().topic(window);
    if (config_.report_room_changes) room_changes_.push_back({room.topic, true});
  }
  Member& member = members_[index];
  member.room = &room;
  member.room_epoch = room.epoch;
  member.room_slot = static_cast<std::uint32_t>(room.members.size());
  room.members.push_back(static_cast<std::uint32_t>(index));
  if (!member.validated) ++room.unvalidated;
  if (member.repair) ++room.repair;
  if (member.sealed) ++room.sealed;
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
  if (member.sealed) --room.sealed;
  member.room = nullptr;
  history().leave(room.window, now);
  if (!room.members.empty()) return;
  if (config_.report_room_changes) room_changes_.push_back({room.topic, false});
  rooms_.erase(rooms_.find(room.name));
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
  if (newest_ != index) {
    unlink(index);
    link_newest(index);
  }
}

// Swap-remove keeps the array dense; only the moved member's index entry and neighbours'
// links change.
Member Relay::take(std::size_t index, TimePoint now) {
  forget_held(members_[index]);
  releasing_ = kNoMember;
  unlink(index);
  leave_room(index, now);
  Member taken = std::move(members_[index]);
  index_.erase(taken.peer);
  if (taken.sealed) {
    forget_sessions(taken);
    // Bounded like the members: a flood of short sealed memberships cannot grow it past that.
    if (sealed_gone_.size() < config_.max_clients) sealed_gone_.insert_or_assign(taken.peer, now);
  }
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

std::span<const Member> Relay::expire(TimePoint now) {
  expired_.clear();
  while (oldest_ != kNone && now - members_[oldest_].last_seen > config_.hb_timeout) {
    expired_.push_back(take(oldest_, now));
    ++stats_.expiries;
  }
  std::erase_if(sealed_gone_, [&](const auto& gone) {
    return now - gone.second > kSealedGoneFor * config_.hb_timeout;
  });
  history().expire(now);
  return expired_;
}

}  // namespace udpchat::core
