// Every datagram of the wire protocol decoded, original and +r1 forms; the encoders are in
// message_encode.cpp and the field rules in field_rules.cpp. Round-trip tests and the decode
// fuzzer keep readers and writers byte-compatible.
#include "protocol/message.hpp"

#include <array>
#include <charconv>
#include <limits>

#include "protocol/room_key.hpp"
#include "protocol/text.hpp"

namespace udpchat::protocol {

namespace {

// 1 to 65535 in plain decimal: port 0 is nobody's address.
bool parse_port(std::string_view s, std::uint16_t& port) noexcept {
  if (s.empty() || s.front() == '0') return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return ec == std::errc{} && end == s.data() + s.size();
}

// A line split at single spaces into at most eight non-empty fields; count is 0 when the line
// has more fields or an empty one (a doubled, leading or trailing space): such a line is chat.
struct Fields {
  std::array<std::string_view, 8> at;
  std::size_t count = 0;
};

// A decimal number in its one spelling (no leading zero, no sign).
bool parse_u64(std::string_view s, std::uint64_t& value) noexcept {
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s.front() == '0')) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc{} && end == s.data() + s.size();
}

// The repair version a tag names: 1 for +r1, 2 for +r2, 0 for anything else.
std::uint8_t repair_version(std::string_view tag) noexcept {
  if (tag == kRepairTag) return 1;
  if (tag == kTimedRepairTag) return 2;
  return 0;
}

struct RepairTag {
  std::uint8_t version = 0;
  std::uint64_t number = 0;
};

// A trailing ` +r1 <number>` (or +r2) on a reg or welcome: takes it off `f`.
std::optional<RepairTag> take_repair_tag(Fields& f, std::size_t min_count) noexcept {
  RepairTag tag;
  if (f.count < min_count + 2) return std::nullopt;
  tag.version = repair_version(f.at[f.count - 2]);
  if (tag.version == 0 || !parse_u64(f.at[f.count - 1], tag.number)) return std::nullopt;
  f.count -= 2;
  return tag;
}

Fields split_fields(std::string_view s) noexcept {
  Fields f;
  while (true) {
    const auto space = s.find(' ');
    const auto field = s.substr(0, space);
    if (field.empty() || f.count == f.at.size()) return Fields{};
    f.at[f.count++] = field;
    if (space == std::string_view::npos) return f;
    s.remove_prefix(space + 1);
  }
}

}  // namespace

ClientMessage decode_client(std::string_view datagram) noexcept {
  const std::string_view line = strip(datagram);
  if (line.empty()) return Malformed{Malformation::empty};
  const auto numbered = parse_numbered(line);
  const std::size_t limit = numbered ? numbered->text.size() : line.size();
  if (limit > kMaxLineBytes || line.size() > kMaxLineBytes + kMaxNumberPrefixBytes) {
    return Malformed{Malformation::too_long};
  }

  if (line == kRegister) {
    if (datagram.size() >= kSealedAesCookieRequestBytes) return CookieRequest{2, 2};
    if (datagram.size() >= kSealedCookieRequestBytes) return CookieRequest{2, 1};
    if (datagram.size() >= kTimedCookieRequestBytes) return CookieRequest{2, 0};
    if (datagram.size() >= kExtendedCookieRequestBytes) return CookieRequest{1, 0};
    if (datagram.size() >= kCookieRequestBytes) return CookieRequest{0, 0};
    return Register{};
  }
  if (line == kHeartbeat) return Heartbeat{};
  if (line == kQuit) return Quit{};

  // Commands with arguments; a line of another shape is chat, as the original server saw it.
  Fields f = split_fields(line);
  if (f.at[0] == kRegister) {
    // A proof (and a key change after it) of another shape: no join, so chat, as before.
    std::string_view handover;
    if (f.count >= 4 && f.at[f.count - 1].starts_with(room_key::kHandoverPrefix)) {
      handover = f.at[f.count - 1];
      f.count = room_key::parse_handover(handover) &&
                        f.at[f.count - 2].starts_with(room_key::kProofPrefix)
                    ? f.count - 1
                    : 0;
    }
    std::string_view proof;
    if (f.count >= 3 && f.at[f.count - 1].starts_with(room_key::kProofPrefix)) {
      proof = f.at[f.count - 1];
      f.count = room_key::parse_join_proof(proof) ? f.count - 1 : 0;
    }
    const auto next = take_repair_tag(f, 2);
    if (f.count >= 2 && f.count <= 4 && is_cookie(f.at[1]) && (f.count < 3 || is_nick(f.at[2])) &&
        (f.count < 4 || is_room(f.at[3])) && (!next || next->number >= 1)) {
      return Join{f.at[1],
                  f.count >= 3 ? f.at[2] : std::string_view{},
                  f.count >= 4 ? f.at[3] : std::string_view{},
                  line,
                  next ? next->version : std::uint8_t{0},
                  next ? next->number : 0,
                  proof,
                  handover};
    }
  }
  if (f.at[0] == "ping" && f.count == 2 && is_ping_token(f.at[1])) return Ping{f.at[1]};
  if (f.at[0] == "nack" && f.count == 3) {
    Nack nack;
    if (parse_u64(f.at[1], nack.from) && parse_u64(f.at[2], nack.to) && nack.from >= 1 &&
        nack.from <= nack.to && nack.to - nack.from < kMaxNackLines) {
      return nack;
    }
  }

  switch (check_text(line)) {
    case TextCheck::ok:
      return Chat{line, numbered};
    case TextCheck::invalid_utf8:
      return Malformed{Malformation::invalid_utf8};
    case TextCheck::control_character:
      return Malformed{Malformation::control_character};
    case TextCheck::format_character:
      return Malformed{Malformation::format_character};
  }
  return Malformed{Malformation::invalid_utf8};
}

std::optional<Numbered> parse_numbered(std::string_view chat) noexcept {
  if (!chat.starts_with('#')) return std::nullopt;
  const auto space = chat.find(' ');
  Numbered numbered;
  if (!parse_u64(
          chat.substr(1, space == std::string_view::npos ? std::string_view::npos : space - 1),
          numbered.seq) ||
      numbered.seq == 0) {
    return std::nullopt;
  }
  if (space != std::string_view::npos) {
    numbered.text = chat.substr(space + 1);
    // One spelling: the text starts right after one space and is not empty.
    if (numbered.text.empty() || numbered.text.front() == ' ') return std::nullopt;
  }
  return numbered;
}

ServerMessage decode_server(std::string_view datagram) noexcept {
  std::string_view line = strip(datagram);
  // +r2: `at <said-ms> ` in front of a numbered ack sent again from the room's window.
  std::int64_t said_ms = 0;
  if (line.starts_with("at ")) {
    const auto space = line.find(' ', 3);
    std::uint64_t ms = 0;
    if (space == std::string_view::npos || !parse_u64(line.substr(3, space - 3), ms) || ms == 0 ||
        ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
        !line.substr(space + 1).starts_with("ack ")) {
      return Invalid{};
    }
    said_ms = static_cast<std::int64_t>(ms);
    line.remove_prefix(space + 1);
  }
  if (line == kEnd) return End{};
  if (line == kNotMember) return NotMember{};
  if (line == kServerFull) return ServerFull{};
  if (line == kNickTaken) return NickTaken{};
  if (line == kRoomPrivate) return RoomPrivate{};
  if (line == kRoomOpen) return RoomOpen{};
  if (line == kRoomRekeyed) return RoomRekeyed{};

  constexpr std::string_view kAckPrefix = "ack: ";
  if (line.starts_with("ack ")) {
    // Numbered: ack <room-seq> <sender-seq> <ip> <port>[ <nick>]\n<text>
    const auto newline = line.find('\n');
    if (newline == std::string_view::npos) return Invalid{};
    const Fields f = split_fields(line.substr(0, newline));
    Ack ack;
    if (f.count >= 4 && (f.at[3] == "@" || f.at[3] == "@me")) {
      // Sealed: ack <room-seq> <sender-seq> @|@me[ <nick>]\n<text> (room-seq 0: unnumbered)
      if (f.count > 5 || !parse_u64(f.at[1], ack.room_seq) || !parse_u64(f.at[2], ack.sender_seq) ||
          (f.count == 5 && !is_nick(f.at[4]))) {
        return Invalid{};
      }
      ack.own = f.at[3] == "@me";
      ack.nick = f.count == 5 ? f.at[4] : std::string_view{};
    } else {
      if (f.count < 5 || f.count > 6 || !parse_u64(f.at[1], ack.room_seq) || ack.room_seq == 0 ||
          !parse_u64(f.at[2], ack.sender_seq) || !is_ip_address(f.at[3]) ||
          !parse_port(f.at[4], ack.port) || (f.count == 6 && !is_nick(f.at[5]))) {
        return Invalid{};
      }
      ack.ip = f.at[3];
      ack.nick = f.count == 6 ? f.at[5] : std::string_view{};
    }
    ack.said_ms = said_ms;
    ack.text = line.substr(newline + 1);
    if (ack.text.empty() || ack.text.size() > kMaxLineBytes ||
        check_text(ack.text) != TextCheck::ok) {
      return Invalid{};
    }
    return ack;
  }
  if (line.starts_with(kAckPrefix)) {
    const auto newline = line.find('\n');
    if (newline == std::string_view::npos) return Invalid{};
    const Fields f = split_fields(line.substr(kAckPrefix.size(), newline - kAckPrefix.size()));
    Ack ack;
    if (f.count < 2 || f.count > 3 || !is_ip_address(f.at[0]) || !parse_port(f.at[1], ack.port) ||
        (f.count == 3 && !is_nick(f.at[2]))) {
      return Invalid{};
    }
    ack.ip = f.at[0];
    ack.nick = f.at[2];
    ack.text = line.substr(newline + 1);
    if (ack.text.empty() || ack.text.size() > kMaxLineBytes ||
        check_text(ack.text) != TextCheck::ok) {
      return Invalid{};
    }
    return ack;
  }

  Fields f = split_fields(line);
  if (f.at[0] == "cookie" && is_cookie(f.at[1]) && f.count >= 2 && f.count <= 4) {
    // `cookie <token> [+rN] [+sN=<key>]`, each tag at most once, in that order.
    const std::string_view last = f.at[f.count - 1];
    const std::size_t tag_bytes = kSealedTagPrefix.size() + 2;
    const bool sealed = f.count > 2 && last.starts_with(kSealedTagPrefix) &&
                        last.size() > tag_bytes && last[tag_bytes - 1] == '=';
    const char suite = sealed ? last[kSealedTagPrefix.size()] : '0';
    const std::string_view key = sealed ? last.substr(tag_bytes) : std::string_view{};
    const std::size_t tags = f.count - 2 - (sealed ? 1 : 0);
    const std::uint8_t repair = tags == 1 ? repair_version(f.at[2]) : std::uint8_t{0};
    if ((tags == 0 || (tags == 1 && repair != 0)) &&
        (!sealed || ((suite == '1' || suite == '2') && is_key(key)))) {
      return Cookie{f.at[1], repair, key, static_cast<std::uint8_t>(sealed ? suite - '0' : 0)};
    }
  }
  if (f.at[0] == "pong" && f.count == 2 && is_ping_token(f.at[1])) return Pong{f.at[1]};
  if (f.at[0] == "welcome") {
    Welcome welcome;
    std::uint64_t stream = 0;
    std::optional<RepairTag> head;
    if (f.count >= 6 && repair_version(f.at[f.count - 3]) != 0 &&
        parse_u64(f.at[f.count - 1], stream) && stream <= 0xFFFFFFFFu) {
      --f.count;
      head = take_repair_tag(f, 3);
      if (!head) return Invalid{};
      welcome.stream = static_cast<std::uint32_t>(stream);
    }
    if (f.count < 3 || f.count > 5) return Unknown{};
    if (!is_ip_address(f.at[1]) || !parse_port(f.at[2], welcome.port) ||
        (f.count >= 4 && !is_nick(f.at[3])) || (f.count == 5 && !is_room(f.at[4]))) {
      return Invalid{};
    }
    welcome.ip = f.at[1];
    welcome.nick = f.count >= 4 ? f.at[3] : std::string_view{};
    welcome.room = f.count >= 5 ? f.at[4] : std::string_view{};
    welcome.repair = head ? head->version : std::uint8_t{0};
    welcome.head = head ? head->number : 0;
    return welcome;
  }
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  if (f.at[0] == "got" && f.count == 3 && parse_u64(f.at[1], a) && parse_u64(f.at[2], b) &&
      a >= 1) {
    return Got{a, b};
  }
  if (f.at[0] == "want" && f.count == 2 && parse_u64(f.at[1], a) && a >= 1) return Want{a};
  if (f.at[0] == "head" && f.count == 2 && parse_u64(f.at[1], a)) return Head{a};
  if (f.at[0] == "missed" && f.count == 3 && parse_u64(f.at[1], a) && parse_u64(f.at[2], b) &&
      a >= 1 && a <= b) {
    return Missed{a, b};
  }
  if (f.at[0] == "gap" && f.count == 3 && parse_u64(f.at[1], a) && parse_u64(f.at[2], b) &&
      a >= 1 && b >= 1) {
    return Gap{a, b};
  }
  return Unknown{};
}

}  // namespace udpchat::protocol
