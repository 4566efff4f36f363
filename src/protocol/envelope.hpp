// What one serve node publishes to the others through the backplane for each chat line: enough
// for every node to build the same `ack` bytes for its own members. Pure, like the rest of
// protocol/. The room travels in the subject (udpchat.room.<room>), not in the envelope.
//
//   udpchat2 <node-id> <seq> <ip> <port>[ <nick>]\n<text>
// <seq> numbers the node's lines for the room (1, 2, 3, ...; again from 1 when the node starts),
// so that a node receiving them sees a gap when lines were lost on the way (the engine away
// longer than the sender's buffer, a full inbound queue) and can say how many. The earlier
// form, `udpchat1 <node-id> <ip> <port>[ <nick>]\n<text>`, is still read, without that check.
// A private room's envelope also carries the sender's own number for the line, which its
// members' seal binds (protocol/room_key.hpp):
//   udpchat3 <node-id> <seq> <sender-seq> <ip> <port>[ <nick>]\n<text>
// Only private rooms' topics carry it, which nodes older than it never subscribe.
//
// A room's topic names it on the engine: `<room>` for an open room, `<room>.<verifier>` for a
// private one (protocol/room_key.hpp), so that nodes share a private room only where it is
// private to the same key: a node where the name is open, or another key's, never hears it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace udpchat::protocol {

inline constexpr std::string_view kEnvelopeVersion = "udpchat2";
inline constexpr std::string_view kUnnumberedEnvelopeVersion = "udpchat1";
inline constexpr std::string_view kSenderNumberedEnvelopeVersion = "udpchat3";
inline constexpr std::string_view kRoomSubjectPrefix = "udpchat.room.";

struct Envelope {
  std::string_view node;  // the publishing node: a node ignores its own envelopes
  std::string_view ip;    // as the publishing node wrote it in its `ack`
  std::uint16_t port = 0;
  std::string_view nick;  // empty when the sender has none
  std::string_view text;
  std::uint64_t seq = 0;  // 0: an unnumbered (udpchat1) envelope
  // The sender's number for the line (udpchat3, with seq); 0: none.
  std::uint64_t sender_seq = 0;
};

bool is_node_id(std::string_view id) noexcept;  // 1..32 of [A-Za-z0-9_-]

void encode_envelope(std::string& out, const Envelope& envelope);
// Every field is checked as strictly as a datagram from a client: the engine is another
// network input. Views point into `data`.
std::optional<Envelope> decode_envelope(std::string_view data) noexcept;

// `verifier` empty: an open room.
std::string room_topic(std::string_view room, std::string_view verifier);
struct RoomTopic {
  std::string_view room;
  std::string_view verifier;  // empty: open
};
std::optional<RoomTopic> parse_room_topic(std::string_view topic) noexcept;

std::string room_subject(std::string_view topic);
// The topic of a subject built by room_subject, or empty when it is not one.
std::string_view subject_room(std::string_view subject) noexcept;

}  // namespace udpchat::protocol
