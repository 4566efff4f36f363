// The udpchat wire format, shared by serve, chat, probe and bench. Pure: no sockets, no clocks.
// docs/protocol.md is the byte-level reference; keep the two in step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace udpchat::protocol {

inline constexpr std::size_t kMaxLineBytes = 1024;
// A `reg` padded to this size asks for a cookie; the answer is never longer than the request.
inline constexpr std::size_t kCookieRequestBytes = 64;
// Padded to this size, it also says that the client speaks the extensions below (numbered lines
// and repair, docs/protocol.md): only such a client is offered them, so older clients never see
// a field they do not know.
inline constexpr std::size_t kExtendedCookieRequestBytes = 96;
// Padded to this size: version 2 of them (+r2), where lines sent again from the room's window
// (repair, history) carry the time the relay first received them.
inline constexpr std::size_t kTimedCookieRequestBytes = 128;
// Padded to this size: the client also speaks the sealed dialect (protocol/sealed.hpp) in suite 1
// (ChaChaPoly), and a relay with a key offers it (`+s1=<key>` in the cookie).
inline constexpr std::size_t kSealedCookieRequestBytes = 160;
// Padded to this size: suite 2 (AESGCM) as well; a relay that can offers it (`+s2=<key>`).
inline constexpr std::size_t kSealedAesCookieRequestBytes = 192;
// The cookie's sealed tag is this, the suite's digit, '=' and the relay's key.
inline constexpr std::string_view kSealedTagPrefix = "+s";
// The extension tags in cookie, reg and welcome: numbered lines with repair, versions 1 and 2.
inline constexpr std::string_view kRepairTag = "+r1";
inline constexpr std::string_view kTimedRepairTag = "+r2";
// The newest version this code speaks.
inline constexpr std::uint8_t kRepairVersion = 2;
// The relay holds a member's lines up to this many numbers ahead of a gap in its numbering (a
// line lost, or shed), relaying them in order once the gap is filled; a client keeps the numbers
// it has in flight within this span.
inline constexpr std::uint64_t kReorderLines = 32;
// A NACK asks for at most this many room lines; a client splits a longer gap.
inline constexpr std::uint64_t kMaxNackLines = 64;
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
// A private room's refusals: the join showed no proof of its key, or another key's; or it showed
// a proof for a room that others share here without one. Neither names a member.
inline constexpr std::string_view kRoomPrivate = "private";
inline constexpr std::string_view kRoomOpen = "open room";
// The room moved to a new key, and this member (or join) is on the one before.
inline constexpr std::string_view kRoomRekeyed = "new key";
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
struct Register {};     // bare `reg`: the original join
struct CookieRequest {  // `reg` padded with spaces to at least kCookieRequestBytes
  // The repair version the padding says the client speaks: 0, 1 (kExtendedCookieRequestBytes)
  // or 2 (kTimedCookieRequestBytes).
  std::uint8_t repair = 0;
  // The highest sealed suite the padding says the client speaks: 0 (none), 1
  // (kSealedCookieRequestBytes) or 2 (kSealedAesCookieRequestBytes).
  std::uint8_t sealed = 0;
};
struct Join {  // `reg <cookie>`, `reg <cookie> <nick>` or `reg <cookie> <nick> <room>`
  std::string_view cookie;
  std::string_view nick;  // empty when absent
  std::string_view room;  // empty when absent: kDefaultRoom
  std::string_view line;  // the whole line: an original server would relay it as chat
  // ` +r1 <next>` (or +r2) after the other fields: numbered lines, the next one being
  // `next_seq`. The repair version asked for; 0 without the tag.
  std::uint8_t repair = 0;
  std::uint64_t next_seq = 0;
  // A private room's join ends with ` +p1=<verifier>.<signature>` (protocol/room_key.hpp),
  // and a key change with ` +h1=<previous verifier>.<signature>` after it; checked for their
  // shape only. Empty without.
  std::string_view proof;
  std::string_view handover;
};
struct Nack {  // `nack <from> <to>`: room lines from..to, please (repair members)
  std::uint64_t from = 0;
  std::uint64_t to = 0;
};
struct Heartbeat {};
struct Quit {};
struct Ping {
  std::string_view token;
};
// A chat line from a member that negotiated +r1: `#<seq> <text>`, or `#<seq>` alone, which
// withdraws that number (the client gave the line up) so that the next one can follow.
struct Numbered {
  std::uint64_t seq = 0;
  std::string_view text;  // empty: withdrawn
};
// Longest `#<seq> ` in front of a numbered line's text.
inline constexpr std::size_t kMaxNumberPrefixBytes = 21;

struct Chat {
  std::string_view text;
  // The line read as numbered (only a +r1 member's are); its text alone is held to the
  // 1024-byte limit, so `text` may be longer by the prefix.
  std::optional<Numbered> numbered;
};
struct Malformed {
  Malformation reason;
};
using ClientMessage =
    std::variant<Register, CookieRequest, Join, Heartbeat, Quit, Ping, Chat, Nack, Malformed>;

ClientMessage decode_client(std::string_view datagram) noexcept;
std::optional<Numbered> parse_numbered(std::string_view chat) noexcept;

// Server to client.
struct Cookie {
  std::string_view token;
  std::uint8_t repair = 0;  // the repair version the server offers (only to an extended request)
  // The sealed dialect is offered (only to a request that asked), under this relay key (43
  // characters, protocol/sealed.hpp's format_key): what a client pins on first use.
  std::string_view sealed_key;
  std::uint8_t sealed_suite = 0;  // 1 or 2 when offered (protocol/sealed.hpp's suites)
};
struct Welcome {
  std::string_view ip;
  std::uint16_t port = 0;
  std::string_view nick;
  std::string_view room;    // present when the join named a room
  std::uint8_t repair = 0;  // the repair version granted (+r1, +r2); 0: none
  std::uint64_t head = 0;   // with repair: the room's latest line number
  // With repair: which numbering the head belongs to. A room's numbering starts again when the
  // room is opened anew (a relay restart, the room emptied meanwhile): a new id says so.
  std::uint32_t stream = 0;
};
struct Ack {
  std::string_view ip;
  std::uint16_t port = 0;
  std::string_view nick;
  std::string_view text;
  // A numbered ack (`ack <room-seq> <sender-seq> ...`, to +r1 members): the room's line number
  // and the sender's own number for the line (0 when it had none). Zero for an original ack.
  std::uint64_t room_seq = 0;
  std::uint64_t sender_seq = 0;
  // +r2: a line sent again from the room's window (`at <ms> ack ...`) says when the relay first
  // received it, in milliseconds since the Unix epoch. 0: not said (a live line).
  std::int64_t said_ms = 0;
  // The sealed form (`ack <room-seq> <sender-seq> @|@me[ <nick>]`), which names no address: the
  // recipient's own line (`@me`). ip is empty and port 0 in that form.
  bool own = false;
};
struct Got {  // `got <seq> <room-seq>`: your line seq was relayed already, as room line room-seq
  std::uint64_t seq = 0;
  std::uint64_t room_seq = 0;
};
struct Want {  // `want <seq>`: the next line expected from you is seq
  std::uint64_t seq = 0;
};
struct Head {  // `head <room-seq>`: the room's latest line (answers a +r1 member's heartbeat)
  std::uint64_t room_seq = 0;
};
struct Missed {  // `missed <from> <to>`: room lines from..to are gone from the window
  std::uint64_t from = 0;
  std::uint64_t to = 0;
};
struct Gap {  // `gap <room-seq> <count>`: room line room-seq stands for count lines lost on
  std::uint64_t room_seq = 0;  // the way from another node
  std::uint64_t count = 0;
};
struct Pong {
  std::string_view token;
};
struct End {};
struct NotMember {};    // the datagram came from an address that is not a member (validated mode)
struct ServerFull {};   // the join was refused by --max-clients
struct NickTaken {};    // a live member of that room holds the nick
struct RoomPrivate {};  // the room admits only holders of its key, and this join proved none
struct RoomOpen {};     // the join proved a key, but the room is open here
struct RoomRekeyed {};  // the room has a new key; ours is the one before
struct Unknown {};      // no known shape
struct Invalid {};      // a known shape with a field that breaks the field rules
using ServerMessage =
    std::variant<Cookie, Welcome, Ack, Pong, End, NotMember, ServerFull, NickTaken, RoomPrivate,
                 RoomOpen, RoomRekeyed, Got, Want, Head, Missed, Gap, Unknown, Invalid>;

// Every field is checked against the field rules (an IP address in text form, a port from 1 to
// 65535, nick and room rules, chat text rules): a server, or someone forging its address, must
// not be able to put anything else in front of a reader.
ServerMessage decode_server(std::string_view datagram) noexcept;

// Field rules, also used to check user input before anything is sent.
bool is_ping_token(std::string_view token) noexcept;  // 1..32 of [A-Za-z0-9_-]
bool is_cookie(std::string_view token) noexcept;      // 1..64 of [A-Za-z0-9_-]
bool is_nick(std::string_view nick) noexcept;         // 1..32 of [A-Za-z0-9_.-]
bool is_room(std::string_view room) noexcept;         // 1..32 of [A-Za-z0-9_-]
bool is_key(std::string_view key) noexcept;           // 43 of [A-Za-z0-9_-]: a relay's key
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
// The welcome of a +r1 or +r2 join: the same fields, then ` +r<version> <head> <stream>`.
void encode_repair_welcome(std::string& out, std::string_view ip, std::uint16_t port,
                           std::string_view nick, std::string_view room, std::uint64_t head,
                           std::uint32_t stream, std::uint8_t version = kRepairVersion);
// `repair`: the version offered, 0 for none.
// `sealed_key`: the relay's key when the sealed dialect is offered, empty otherwise.
void encode_cookie(std::string& out, std::string_view token, std::uint8_t repair = 0,
                   std::string_view sealed_key = {}, std::uint8_t sealed_suite = 1);
void encode_pong(std::string& out, std::string_view token);
// An ack for a sealed member: no address, `@me` for its own line, room_seq 0 when unnumbered.
void encode_sealed_ack(std::string& out, std::uint64_t room_seq, std::uint64_t sender_seq, bool own,
                       std::string_view nick, std::string_view text);
void encode_numbered_ack(std::string& out, std::uint64_t room_seq, std::uint64_t sender_seq,
                         std::string_view ip, std::uint16_t port, std::string_view nick,
                         std::string_view text);
void encode_got(std::string& out, std::uint64_t seq, std::uint64_t room_seq);
void encode_want(std::string& out, std::uint64_t seq);
void encode_head(std::string& out, std::uint64_t room_seq);
void encode_missed(std::string& out, std::uint64_t from, std::uint64_t to);
void encode_gap(std::string& out, std::uint64_t room_seq, std::uint64_t count);
// A numbered ack from the window, to a +r2 member: `at <said-ms> ` in front of it.
void encode_timed(std::string& out, std::int64_t said_ms, std::string_view numbered_ack);

std::string encode_cookie_request();
// Padded to say that the client speaks repair `version` (1 or 2).
std::string encode_extended_cookie_request(std::uint8_t version = kRepairVersion);
// Padded to ask for the sealed dialect in suites up to `suite` (1 or 2), and repair version 2.
std::string encode_sealed_cookie_request(std::uint8_t suite = 1);
// A room needs a nick: the fields are positional. A `next_seq` asks for repair `version`:
// numbered lines, the next one `next_seq`. A private room's join ends with its `proof`.
std::string encode_join(std::string_view cookie, std::string_view nick, std::string_view room = {},
                        std::optional<std::uint64_t> next_seq = std::nullopt,
                        std::uint8_t version = kRepairVersion, std::string_view proof = {});
std::string encode_numbered(std::uint64_t seq, std::string_view text);
std::string encode_nack(std::uint64_t from, std::uint64_t to);
std::string encode_ping(std::string_view token);
// A chat line as a udpchat client sends it to a udpchat server: padded with trailing spaces
// (which the server strips) to at least the size of kNotMember, so that a server that no longer
// knows the client can say so in an answer no longer than the line.
std::string encode_chat(std::string_view text);

}  // namespace udpchat::protocol
