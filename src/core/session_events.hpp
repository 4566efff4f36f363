// What a core::ClientSession tells its caller: its state, why it ends or joins again, and the
// events for the person at the keyboard (chat) or the load generator (bench).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/time.hpp"
#include "protocol/room_key.hpp"

namespace udpchat::core {

enum class SessionState : std::uint8_t {
  joining,    // asking for a cookie; not a member yet
  joined,     // a member of a udpchat server
  legacy,     // no cookie ever came: an original-protocol server, which made us a member
  rejoining,  // was a member; the server forgot us or stopped answering
  ended,      // `end` from the server (unless rejoin_after_end), a taken nick, or leave()
};

enum class EndReason : std::uint8_t {
  none,
  left,
  server_closed,
  nick_taken,
  key_changed,
  room_private,  // the room admits only holders of its key, and ours is not its key (or none)
  room_open,     // we hold a key, but the room is open on that relay
  room_rekeyed,  // the room moved to a new key, and ours is the one before
};

// Why a relay would not let us into a room: one table, from which every word is made.
enum class Refusal : std::uint8_t { nick_taken, no_rooms, private_room, open_room, old_key };
struct RefusalInfo {
  Refusal why;
  std::string_view code;  // --json's reason
  std::string_view says;
};
inline constexpr RefusalInfo kRefusals[] = {
    {Refusal::nick_taken, "nick_taken", "the nick is taken there"},
    {Refusal::no_rooms, "no_rooms", "the server has no rooms"},
    {Refusal::private_room, "private",
     "the room is private there: it admits only the holders of its key"},
    {Refusal::open_room, "open_room",
     "the room is open there: others share it without a key, so a key's holder stays out"},
    {Refusal::old_key, "old_key", "the room has a new key, and this is the one before it"},
};
constexpr const RefusalInfo& info(Refusal why) noexcept {
  return kRefusals[static_cast<std::size_t>(why)];
}
// The room's refusal that ended a session, if one did.
constexpr std::optional<Refusal> refusal_of(EndReason why) noexcept {
  if (why == EndReason::room_private) return Refusal::private_room;
  if (why == EndReason::room_open) return Refusal::open_room;
  if (why == EndReason::room_rekeyed) return Refusal::old_key;
  return std::nullopt;
}

// Why the session is (re)joining, for the person at the keyboard.
enum class JoinTrouble : std::uint8_t {
  none,  // the first attempt
  server_full,
  not_member,     // the server says it does not know us (it restarted, or expired us)
  silent,         // nothing heard from the server for a while
  no_cookie,      // the server speaks udpchat after all (a cookie or a notice came in legacy mode)
  server_closed,  // `end` came (rejoin_after_end): joining again with backoff up to 30 s
};

// Why lines were not sent: each line's fate, said once.
enum class Unsent : std::uint8_t {
  room_refused,  // typed after a /join the server refused
  stale_room,    // to be resent after a rejoin, but meant for a room since left
  // It reads as a protocol command (`quit`, `reg`, `^hb^`, `ping x`): only a numbered line
  // (+r1) can carry that text, and the server does not number lines.
  needs_numbering,
  // Not taken by the relay within SessionConfig::give_up_after: it was overloaded (it shed the
  // line, or the window let it go no sooner), or the line was lost past that time.
  overloaded,
};

namespace event {
struct Joining {
  JoinTrouble why = JoinTrouble::none;
  Duration retry_in{};  // when the next attempt goes (server_full)
};
struct Joined {
  std::string address;  // ip:port as the server sees us; empty in legacy mode
  std::string nick;     // as held: another than SessionConfig::nick when that one was taken
  std::string room;     // as the server confirmed it ("lobby" when none was named)
  bool legacy = false;
  bool again = false;  // a rejoin
};
struct Message {
  std::string ip;
  std::uint16_t port = 0;
  std::string nick;
  std::string text;
  bool own = false;
  bool history = false;  // fetched on joining (--history), not new
  // When the relay received it (Unix ms), for a line sent again from its window (history,
  // repair, +r2); 0: it came as it was said.
  std::int64_t said_ms = 0;
};
struct LinesMissed {  // room lines that will never come: the view says so, never a silent hole
  std::uint64_t count = 0;
  // Not lost on the way: received while the output was blocked, from a server that does not
  // number lines, so they could not be fetched again once it unblocked.
  bool unshown = false;
};
// Lines of a private room that this member cannot read: never shown, always said.
struct LinesUnreadable {
  std::uint64_t count = 0;
  protocol::room_key::Opened why = protocol::room_key::Opened::forged;
};
struct RoomChanged {
  std::string room;
};
struct RoomRefused {  // a /join that cannot happen
  std::string room;
  Refusal why = Refusal::nick_taken;
};
struct LinesUnsent {
  std::size_t count = 0;
  Unsent why = Unsent::room_refused;
  std::vector<std::string> texts;  // the lines, so that the person knows which
};
struct Malformed {};  // the first datagram from the server that broke the field rules
struct Ended {
  EndReason why = EndReason::none;
};
}  // namespace event

using SessionEvent = std::variant<event::Joining, event::Joined, event::Message, event::RoomChanged,
                                  event::RoomRefused, event::LinesUnsent, event::LinesMissed,
                                  event::LinesUnreadable, event::Malformed, event::Ended>;

}  // namespace udpchat::core
