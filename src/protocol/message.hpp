// The udpchat wire format, shared by serve, chat, probe and bench. Pure: no sockets, no clocks.
// docs/protocol.md is the byte-level reference; keep the two in step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace udpchat::protocol {

inline constexpr std::size_t kMaxLineBytes = 1024;
// A `reg` padded to this size asks for a cookie; the answer is never longer than the request.
inline constexpr std::size_t kCookieRequestBytes = 64;
inline constexpr std::size_t kMaxPingTokenBytes = 32;
inline constexpr std::size_t kMaxCookieBytes = 64;
inline constexpr std::size_t kMaxNickBytes = 32;
inline constexpr std::size_t kMaxRoomBytes = 32;
// Receive buffers must hold the largest UDP payload so that nothing is silently truncated.
inline constexpr std::size_t kMaxDatagramBytes = 65536;

inline constexpr std::string_view kRegister = "reg";
inline constexpr std::string_view kHeartbeat = "^hb^";
inline constexpr std::string_view kQuit = "quit";
inline constexpr std::string_view kEnd = "end";
// Server answers that tell a client why it is not (or no longer) a member. Each is no longer
// than the datagram it answers: kNotMember fits a heartbeat, the shortest thing a udpchat client
// sends while it believes it is a member (it pads shorter chat lines).
inline constexpr std::string_view kNotMember = "reg?";
inline constexpr std::string_view kServerFull = "full";
inline constexpr std::string_view kNickTaken = "nick taken";
// Members that name no room (and every original-protocol client) are in this one.
inline constexpr std::string_view kDefaultRoom = "lobby";

// Why a client datagram cannot be acted on. Every one of them is counted by the relay.
enum class Malformation : std::uint8_t {
  empty,
  too_long,
  invalid_utf8,
  control_character,
  format_character,  // a bidi override or isolate, or a line or paragraph separator
};

std::string_view to_string(Malformation reason) noexcept;

// Client to server. Views point into the decoded datagram.
struct Register {};        // bare `reg`: the original join
struct CookieRequest {};   // `reg` padded with spaces to at least kCookieRequestBytes
struct Join {              // `reg <cookie>`, `reg <cookie> <nick>` or `reg <cookie> <nick> <room>`
  std::string_view cookie;
  std::string_view nick;   // empty when absent
  std::string_view room;   // empty when absent: kDefaultRoom
  std::string_view line;   // the whole line: an original server would relay it as chat
};
struct Heartbeat {};
struct Quit {};
struct Ping {
  std::string_view token;
};
struct Chat {
  std::string_view text;
};
struct Malformed {
  Malformation reason;
};
using ClientMessage =
    std::variant<Register, CookieRequest, Join, Heartbeat, Quit, Ping, Chat, Malformed>;

ClientMessage decode_client(std::string_view datagram) noexcept;

// Server to client.
struct Cookie {
  std::string_view token;
};
struct Welcome {
  std::string_view ip;
  std::uint16_t port = 0;
  std::string_view nick;
  std::string_view room;  // present when the join named a room
};
struct Ack {
  std::string_view ip;
  std::uint16_t port = 0;
  std::string_view nick;
  std::string_view text;
};
struct Pong {
  std::string_view token;
};
struct End {};
struct NotMember {};  // the datagram came from an address that is not a member (validated mode)
struct ServerFull {};  // the join was refused by --max-clients
struct NickTaken {};  // a live member of that room holds the nick
struct Unknown {};    // no known shape
struct Invalid {};    // a known shape with a field that breaks the field rules
using ServerMessage =
    std::variant<Cookie, Welcome, Ack, Pong, End, NotMember, ServerFull, NickTaken, Unknown, Invalid>;

// Every field is checked against the field rules (an IP address in text form, a port from 1 to
// 65535, nick and room rules, chat text rules): a server, or someone forging its address, must
// not be able to put anything else in front of a reader.
ServerMessage decode_server(std::string_view datagram) noexcept;

// Field rules, also used to check user input before anything is sent.
bool is_ping_token(std::string_view token) noexcept;  // 1..32 of [A-Za-z0-9_-]
bool is_cookie(std::string_view token) noexcept;      // 1..64 of [A-Za-z0-9_-]
bool is_nick(std::string_view nick) noexcept;         // 1..32 of [A-Za-z0-9_.-]
bool is_room(std::string_view room) noexcept;         // 1..32 of [A-Za-z0-9_-]
// A dotted-quad IPv4 address (no leading zeros) or an IPv6 address in RFC 4291 text form
// (without brackets, zone or prefix length): how `ack` and `welcome` write addresses.
bool is_ip_address(std::string_view text) noexcept;

// Encoders. Those on the relay's hot path overwrite a caller-owned buffer so that a broadcast
// encodes once and allocates nothing once the buffer has grown.
void encode_ack(std::string& out, std::string_view ip, std::uint16_t port, std::string_view nick,
                std::string_view text);
// `room` is written only when not empty (the join named one), so that clients that predate
// rooms still read the welcome they expect.
void encode_welcome(std::string& out, std::string_view ip, std::uint16_t port,
                    std::string_view nick, std::string_view room = {});
void encode_cookie(std::string& out, std::string_view token);
void encode_pong(std::string& out, std::string_view token);

std::string encode_cookie_request();
// A room needs a nick: the fields are positional.
std::string encode_join(std::string_view cookie, std::string_view nick, std::string_view room = {});
std::string encode_ping(std::string_view token);
// A chat line as a udpchat client sends it to a udpchat server: padded with trailing spaces
// (which the server strips) to at least the size of kNotMember, so that a server that no longer
// knows the client can say so in an answer no longer than the line.
std::string encode_chat(std::string_view text);

}  // namespace udpchat::protocol
