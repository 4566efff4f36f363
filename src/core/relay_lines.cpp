// The relay's line side: a line's fan-out to its room in the forms its members need, the
// room's numbering and window, a numbered member's lines in order, and repair from the window.
#include <algorithm>

#include "core/relay.hpp"
#include "protocol/message.hpp"
#include "protocol/sealed.hpp"

namespace udpchat::core {

namespace proto = udpchat::protocol;

Outcome Relay::broadcast(const Member& sender, std::string_view text, std::uint64_t sender_seq,
                         TimePoint now, TimePoint received) {
  const proto::Ack line{.ip = sender.shown_ip(),
                        .port = sender.shown_port(),
                        .nick = sender.nick,
                        .text = text,
                        .sender_seq = sender_seq};
  Outcome out = fan_out(*sender.room, line, now, unix_ms(received), std::nullopt, &sender);
  if (out.dropped) return out;
  ++stats_.lines;
  SaidLine& said = *std::get<ToRoom>(out.sends).said;
  said.sender = &sender;
  said.text = text;
  said.sender_seq = sender_seq;
  return out;
}

// A line to every member of `room` here: the original ack to plain members (within their
// credit, for those admitted without a cookie), the numbered ack to +r1 members, all within
// the egress budget. A line said here is numbered and kept in the node's window for repair and
// history (whether or not a member here numbers); one from elsewhere came numbered.
Outcome Relay::fan_out(Room& room, const proto::Ack& line, TimePoint now, std::int64_t said_ms,
                       std::optional<std::uint64_t> numbered_as, const Member* sender) {
  const bool number_here = !numbered_as && history().numbering();
  std::uint64_t seq = numbered_as.value_or(0);
  const bool mixed = room.repair > 0 && room.repair < room.members.size();
  const bool credited = room.unvalidated > 0 && config_.legacy_credit > 0;
  std::span<const std::uint32_t> plain = room.members;
  std::span<const std::uint32_t> numbered;
  std::span<const std::uint32_t> sealed;
  bool sealed_numbered = false;  // a sealed +r1 member wants the numbered form
  bool sealed_plain = false;
  if (room.repair == room.members.size()) std::swap(plain, numbered);
  if (mixed || credited || room.sealed > 0) {
    recipients_.clear();
    numbered_recipients_.clear();
    sealed_recipients_.clear();
    for (const std::uint32_t index : room.members) {
      const Member& member = members_[index];
      if (member.sealed) {
        sealed_recipients_.push_back(index);
        (member.repair ? sealed_numbered : sealed_plain) = true;
      } else if (member.repair) {
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
    sealed = sealed_recipients_;
  }
  const bool numbered_form = (!numbered.empty() || sealed_numbered) && (number_here || seq != 0);
  // A sealed +r1 member in a room without numbering gets the plain form.
  if (!plain.empty() || sealed_plain || (sealed_numbered && !numbered_form)) {
    proto::encode_ack(buffer_, line.ip, line.port, line.nick, line.text);
  }
  auto encode_numbered = [&](std::uint64_t number) {
    proto::encode_numbered_ack(numbered_, number, line.sender_seq, line.ip, line.port, line.nick,
                               line.text);
  };
  if (share_->egress_on()) {
    // The number is taken only for a line that goes out: the budget is asked with the next.
    if (numbered_form) encode_numbered(number_here ? history().head(room.window) + 1 : seq);
    const std::size_t form_bytes = std::max(buffer_.size(), numbered_form ? numbered_.size() : 0);
    const std::size_t bytes = buffer_.size() * plain.size() +
                              (numbered_form ? numbered_.size() * numbered.size() : 0) +
                              (form_bytes + proto::sealed::kOverheadBytes) * sealed.size();
    if (!share_->allow_egress(static_cast<double>(bytes), now)) {
      return drop(DropReason::egress_limited);
    }
  }
  if (credited) {
    for (const std::uint32_t index : plain) {
      if (!members_[index].validated) members_[index].unheard_bytes += buffer_.size();
    }
  }
  if (number_here) {
    seq = history().append(room.window, line, said_ms, numbered_);
  } else if (numbered_form) {
    encode_numbered(seq);
  }
  stats_.deliveries += plain.size() + (numbered_form ? numbered.size() : 0) + sealed.size();
  ToRoom to_room{.plain = {buffer_, plain}, .numbered = {}, .sealed = {}, .said = SaidLine{}};
  if (numbered_form) to_room.numbered = {numbered_, numbered};
  if (!sealed.empty()) to_room.sealed = seal_line(sealed, line, numbered_form ? seq : 0, sender);
  to_room.said->room_seq = seq;
  to_room.said->said_ms = said_ms;
  return {.sends = to_room, .change = {}, .dropped = {}};
}

// A +r1 member's numbered line: relayed once, in the member's order. A number already relayed
// is answered `got` (its echo was lost, not the line). One ahead of a gap (a line lost, or shed)
// is held until the gap is filled, and the gap is told with `want`; a line shed as stale is told
// at once with `want` for it, so that the member sends it again without waiting for a timeout.
Outcome Relay::numbered_line(Member& member, std::uint64_t seq, std::string_view text,
                             Duration queued, TimePoint now) {
  if (seq < member.next_seq) {
    std::uint64_t room_seq = 0;
    for (const auto& [sent, in_room] : member.recent) {
      if (sent == seq) room_seq = in_room;
    }
    proto::encode_got(buffer_, seq, room_seq);
    return answer(buffer_, drop(DropReason::resent));
  }
  // Held already: its echo comes when its gap is filled; unless the member gives it up now.
  const auto held = std::find_if(member.held.begin(), member.held.end(),
                                 [seq](const HeldLine& line) { return line.seq == seq; });
  if (held != member.held.end()) {
    if (text.empty()) {
      held_bytes_ -= held->text.size();
      held->text.clear();
      return {};
    }
    // Sent again: the member has not heard of the gap (our `want` was lost): said again.
    if (gap_asked_lately(member, now)) return drop(DropReason::resent);
    want(member, member.next_seq, now);
    return answer(buffer_, drop(DropReason::resent));
  }
  if (!text.empty() && config_.max_queue_delay > Duration::zero() &&
      queued > config_.max_queue_delay) {
    want(member, seq, now);
    return answer(buffer_, drop(DropReason::stale));
  }
  if (seq > member.next_seq) return hold(member, seq, text, now - queued, now);
  if (text.empty()) {  // withdrawn by the client: the next one may follow
    ++member.next_seq;
    if (!member.held.empty()) releasing_ = static_cast<std::size_t>(&member - members_.data());
    return {};
  }
  return take_line(member, seq, text, now - queued, now);
}

// Relays the member's next line and moves its numbering on; one the fan-out budget refuses is
// asked for again (`want`).
Outcome Relay::take_line(Member& member, std::uint64_t seq, std::string_view text,
                         TimePoint received, TimePoint now) {
  Outcome out = broadcast(member, text, seq, now, received);
  if (out.dropped) {
    proto::encode_want(buffer_, seq);
    return answer(buffer_, out);
  }
  member.recent[member.recent_at] = {seq, std::get<ToRoom>(out.sends).said->room_seq};
  member.recent_at = static_cast<std::uint8_t>((member.recent_at + 1) % member.recent.size());
  ++member.next_seq;
  if (!member.held.empty()) releasing_ = static_cast<std::size_t>(&member - members_.data());
  return out;
}

// A line beyond a gap waits for it, within kReorderLines and the shard's held bytes; the gap
// is asked for at the first line held behind it, then at most once per kWantInterval.
Outcome Relay::hold(Member& member, std::uint64_t seq, std::string_view text, TimePoint received,
                    TimePoint now) {
  const std::size_t cost = text.size() + kHeldOverhead;
  forget_stale_held(member, now);
  if (seq - member.next_seq >= proto::kReorderLines || held_bytes_ + cost > config_.held_bytes) {
    proto::encode_want(buffer_, member.next_seq);
    return answer(buffer_, drop(DropReason::out_of_sequence));
  }
  member.held.push_back({seq, std::string(text), received});
  held_bytes_ += cost;
  ++stats_.held;
  if (gap_asked_lately(member, now)) return {};
  want(member, member.next_seq, now);
  return answer(buffer_);
}

// `want <seq>` in buffer_, remembered so that the gap is not asked for again at once.
void Relay::want(Member& member, std::uint64_t seq, TimePoint now) {
  member.wanted = seq;
  member.wanted_at = now;
  proto::encode_want(buffer_, seq);
}

bool Relay::gap_asked_lately(const Member& member, TimePoint now) const noexcept {
  return member.wanted == member.next_seq && now - member.wanted_at < kWantInterval;
}

// A gap never filled does not pin lines: after kHeldFor they go, and the member sends them
// again (it has no echo of them).
void Relay::forget_stale_held(Member& member, TimePoint now) noexcept {
  if (!member.held.empty() && now - member.held.front().received > kHeldFor) forget_held(member);
}

std::optional<Outcome> Relay::next_released(TimePoint now) {
  while (releasing_ < members_.size()) {
    Member& member = members_[releasing_];
    const auto next =
        std::find_if(member.held.begin(), member.held.end(),
                     [&](const HeldLine& line) { return line.seq == member.next_seq; });
    if (next == member.held.end()) break;
    // Kept in the relay: the outcome's views (the line handed to other shards and the engine)
    // point into it until the next call.
    released_ = std::move(*next);
    member.held.erase(next);
    held_bytes_ -= released_.text.size() + kHeldOverhead;
    if (released_.text.empty()) {
      ++member.next_seq;
      continue;
    }
    const std::size_t index = releasing_;
    releasing_ = kNoMember;  // take_line sets it again while more wait
    Outcome out = take_line(member, released_.seq, released_.text, released_.received, now);
    if (std::holds_alternative<ToSender>(out.sends) && members_[index].sealed) {
      return seal_answers(std::move(out), members_[index].peer);
    }
    return out;
  }
  releasing_ = kNoMember;
  return std::nullopt;
}

void Relay::forget_held(Member& member) noexcept {
  for (const auto& line : member.held) held_bytes_ -= line.text.size() + kHeldOverhead;
  member.held.clear();
}

// Lines from..to of the member's room, as it should have had them, to it alone: each costs a
// token of its own budget, so repair cannot be turned into a flood. What left the window is
// said with `missed`. The lines are copied out of the node's window, which other shards add to.
Outcome Relay::repair(Member& member, std::uint64_t from, std::uint64_t to, TimePoint now) {
  answers_.clear();
  history().read(member.room->window, [&](const RoomWindow& window) {
    const std::uint64_t oldest = window.oldest();
    to = std::min(to, window.head());
    if (from < oldest && from <= to) {
      const std::uint64_t gone_to = std::min(to, oldest - 1);
      if (member.budget.take(config_.datagram_limit, now)) {
        proto::encode_missed(buffer_, from, gone_to);
        answers_.push_back(buffer_);
        stats_.missed += gone_to - from + 1;
      }
      from = gone_to + 1;
    }
    if (from > to) return;
    // Sized before any view into it is taken: each reply stays valid until the next call.
    repair_copies_.resize(std::max<std::size_t>(repair_copies_.size(), to - from + 1));
    for (std::uint64_t seq = from; seq <= to; ++seq) {
      if (!member.budget.take(config_.datagram_limit, now)) break;
      const RoomWindow::Line& line = window.at(seq);
      std::string& copy = repair_copies_[static_cast<std::size_t>(seq - from)];
      // +r2 members get the time the line was received in front; sealed ones no address.
      const std::string_view payload =
          member.sealed ? without_address(line.payload, member) : std::string_view(line.payload);
      if (member.timed && line.said_ms > 0) {
        proto::encode_timed(copy, line.said_ms, payload);
      } else {
        copy.assign(payload);
      }
      answers_.push_back(copy);
      ++stats_.repaired;
    }
  });
  if (answers_.empty()) return {};
  return {.sends = ToSender{answers_}, .change = {}, .dropped = {}};
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

Outcome Relay::on_node_line(const NodeLine& line, TimePoint now) {
  const auto it = rooms_.find(line.room);
  // No member here: the line is for the node's other shards.
  if (it == rooms_.end()) return {};
  Room& room = it->second;
  if (line.missed == 0) {
    Outcome out = fan_out(room,
                          {.ip = line.ip,
                           .port = line.port,
                           .nick = line.nick,
                           .text = line.text,
                           .sender_seq = line.sender_seq},
                          now, line.said_ms, line.seq, nullptr);
    if (auto* to_room = std::get_if<ToRoom>(&out.sends)) {
      to_room->said.reset();  // said elsewhere: never handed on again
    }
    return out;
  }
  if (line.seq == 0 || room.repair == 0) return {};  // a plain member cannot be told
  proto::encode_gap(numbered_, line.seq, line.missed);
  numbered_recipients_.clear();
  sealed_recipients_.clear();
  for (const std::uint32_t index : room.members) {
    const Member& member = members_[index];
    if (member.repair) (member.sealed ? sealed_recipients_ : numbered_recipients_).push_back(index);
  }
  ToRoom to_room{
      .plain = {}, .numbered = {numbered_, numbered_recipients_}, .sealed = {}, .said = {}};
  if (!sealed_recipients_.empty()) to_room.sealed = seal_for(sealed_recipients_, numbered_);
  return {.sends = to_room, .change = {}, .dropped = {}};
}

}  // namespace udpchat::core
