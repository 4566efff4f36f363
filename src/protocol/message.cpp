// Every datagram of the wire protocol, decoded and encoded, original and +r1 forms: one file,
// so that each message's reader and writer sit side by side and stay byte-compatible.
#include "protocol/message.hpp"

#include <array>
#include <charconv>
#include <limits>

#include "protocol/text.hpp"

namespace udpchat::protocol {

namespace {

bool is_token_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool all_of_token(std::string_view s, std::size_t max, bool allow_dot) noexcept {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!is_token_char(c) && !(allow_dot && c == '.')) return false;
  }
  return true;
}

// 1 to 65535 in plain decimal: port 0 is nobody's address.
bool parse_port(std::string_view s, std::uint16_t& port) noexcept {
  if (s.empty() || s.front() == '0') return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return ec == std::errc{} && end == s.data() + s.size();
}

bool is_ipv4(std::string_view s) noexcept {
  int parts = 0;
  while (true) {
    const auto dot = s.find('.');
    const auto part = s.substr(0, dot);
    if (part.empty() || part.size() > 3 || (part.size() > 1 && part.front() == '0')) return false;
    int value = 0;
    for (const char c : part) {
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    if (value > 255 || ++parts > 4) return false;
    if (dot == std::string_view::npos) return parts == 4;
    s.remove_prefix(dot + 1);
  }
}

bool is_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Colon-separated groups of 1-4 hex digits, added to `groups`; the last may be a dotted quad
// (two groups) where `v4_tail` allows.
bool count_groups(std::string_view part, bool v4_tail, int& groups) noexcept {
  if (part.empty()) return true;
  while (true) {
    const auto colon = part.find(':');
    const auto group = part.substr(0, colon);
    if (colon == std::string_view::npos && v4_tail && group.find('.') != std::string_view::npos) {
      groups += 2;
      return is_ipv4(group);
    }
    if (group.empty() || group.size() > 4) return false;
    for (const char c : group) {
      if (!is_hex(c)) return false;
    }
    ++groups;
    if (colon == std::string_view::npos) return true;
    part.remove_prefix(colon + 1);
  }
}

bool is_ipv6(std::string_view s) noexcept {
  if (s.size() < 2 || s.size() > 45) return false;
  int groups = 0;
  const auto gap = s.find("::");
  if (gap == std::string_view::npos) return count_groups(s, true, groups) && groups == 8;
  if (s.find("::", gap + 1) != std::string_view::npos) return false;
  return count_groups(s.substr(0, gap), false, groups) &&
         count_groups(s.substr(gap + 2), true, groups) && groups <= 7;
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

std::string_view repair_tag(std::uint8_t version) noexcept {
  return version >= 2 ? kTimedRepairTag : kRepairTag;
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

void append_number(std::string& out, std::uint64_t value) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
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

void append_port(std::string& out, std::uint16_t port) {
  char digits[8];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, port);
  out.append(digits, end);
}

// Who a line is from or a welcome is for, as both write it: `<ip> <port>[ <nick>]`.
void append_member(std::string& out, std::string_view ip, std::uint16_t port,
                   std::string_view nick) {
  out.append(ip);
  out.push_back(' ');
  append_port(out, port);
  if (!nick.empty()) {
    out.push_back(' ');
    out.append(nick);
  }
}

// What follows an ack's head in both forms: `<ip> <port>[ <nick>]\n<text>\n`.
void append_ack_body(std::string& out, std::string_view ip, std::uint16_t port,
                     std::string_view nick, std::string_view text) {
  append_member(out, ip, port, nick);
  out.push_back('\n');
  out.append(text);
  out.push_back('\n');
}

}  // namespace

std::string_view to_string(Malformation reason) noexcept {
  switch (reason) {
    case Malformation::empty:
      return "empty";
    case Malformation::too_long:
      return "too_long";
    case Malformation::invalid_utf8:
      return "invalid_utf8";
    case Malformation::control_character:
      return "control_character";
    case Malformation::format_character:
      return "format_character";
  }
  return "unknown";
}

bool is_ping_token(std::string_view token) noexcept {
  return all_of_token(token, kMaxPingTokenBytes, false);
}
bool is_cookie(std::string_view token) noexcept {
  return all_of_token(token, kMaxCookieBytes, false);
}
bool is_nick(std::string_view nick) noexcept {
  return all_of_token(nick, kMaxNickBytes, true);
}
bool is_room(std::string_view room) noexcept {
  return all_of_token(room, kMaxRoomBytes, false);
}
bool is_ip_address(std::string_view text) noexcept {
  return text.find(':') == std::string_view::npos ? is_ipv4(text) : is_ipv6(text);
}

ClientMessage decode_client(std::string_view datagram) noexcept {
  const std::string_view line = strip(datagram);
  if (line.empty()) return Malformed{Malformation::empty};
  const auto numbered = parse_numbered(line);
  const std::size_t limit = numbered ? numbered->text.size() : line.size();
  if (limit > kMaxLineBytes || line.size() > kMaxLineBytes + kMaxNumberPrefixBytes) {
    return Malformed{Malformation::too_long};
  }

  if (line == kRegister) {
    if (datagram.size() >= kTimedCookieRequestBytes) return CookieRequest{2};
    if (datagram.size() >= kExtendedCookieRequestBytes) return CookieRequest{1};
    if (datagram.size() >= kCookieRequestBytes) return CookieRequest{0};
    return Register{};
  }
  if (line == kHeartbeat) return Heartbeat{};
  if (line == kQuit) return Quit{};

  // Commands with arguments; a line of another shape is chat, as the original server saw it.
  Fields f = split_fields(line);
  if (f.at[0] == kRegister) {
    const auto next = take_repair_tag(f, 2);
    if (f.count >= 2 && f.count <= 4 && is_cookie(f.at[1]) && (f.count < 3 || is_nick(f.at[2])) &&
        (f.count < 4 || is_room(f.at[3])) && (!next || next->number >= 1)) {
      return Join{f.at[1],
                  f.count >= 3 ? f.at[2] : std::string_view{},
                  f.count >= 4 ? f.at[3] : std::string_view{},
                  line,
                  next ? next->version : std::uint8_t{0},
                  next ? next->number : 0};
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
        ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) || !line.substr(space + 1).starts_with("ack ")) {
      return Invalid{};
    }
    said_ms = static_cast<std::int64_t>(ms);
    line.remove_prefix(space + 1);
  }
  if (line == kEnd) return End{};
  if (line == kNotMember) return NotMember{};
  if (line == kServerFull) return ServerFull{};
  if (line == kNickTaken) return NickTaken{};

  constexpr std::string_view kAckPrefix = "ack: ";
  if (line.starts_with("ack ")) {
    // Numbered: ack <room-seq> <sender-seq> <ip> <port>[ <nick>]\n<text>
    const auto newline = line.find('\n');
    if (newline == std::string_view::npos) return Invalid{};
    const Fields f = split_fields(line.substr(0, newline));
    Ack ack;
    if (f.count < 5 || f.count > 6 || !parse_u64(f.at[1], ack.room_seq) || ack.room_seq == 0 ||
        !parse_u64(f.at[2], ack.sender_seq) || !is_ip_address(f.at[3]) ||
        !parse_port(f.at[4], ack.port) || (f.count == 6 && !is_nick(f.at[5]))) {
      return Invalid{};
    }
    ack.ip = f.at[3];
    ack.nick = f.count == 6 ? f.at[5] : std::string_view{};
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
  if (f.at[0] == "cookie" && is_cookie(f.at[1]) &&
      (f.count == 2 || (f.count == 3 && repair_version(f.at[2]) != 0))) {
    return Cookie{f.at[1], f.count == 3 ? repair_version(f.at[2]) : std::uint8_t{0}};
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

void encode_ack(std::string& out, std::string_view ip, std::uint16_t port, std::string_view nick,
                std::string_view text) {
  out.assign("ack: ");
  append_ack_body(out, ip, port, nick, text);
}

void encode_welcome(std::string& out, std::string_view ip, std::uint16_t port,
                    std::string_view nick, std::string_view room) {
  out.assign("welcome ");
  append_member(out, ip, port, nick);
  if (!room.empty()) {
    out.push_back(' ');
    out.append(room);
  }
}

void encode_repair_welcome(std::string& out, std::string_view ip, std::uint16_t port,
                           std::string_view nick, std::string_view room, std::uint64_t head,
                           std::uint32_t stream, std::uint8_t version) {
  encode_welcome(out, ip, port, nick, room);
  out.push_back(' ');
  out.append(repair_tag(version));
  out.push_back(' ');
  append_number(out, head);
  out.push_back(' ');
  append_number(out, stream);
}

void encode_cookie(std::string& out, std::string_view token, std::uint8_t repair) {
  out.assign("cookie ");
  out.append(token);
  if (repair > 0) {
    out.push_back(' ');
    out.append(repair_tag(repair));
  }
}

void encode_numbered_ack(std::string& out, std::uint64_t room_seq, std::uint64_t sender_seq,
                         std::string_view ip, std::uint16_t port, std::string_view nick,
                         std::string_view text) {
  out.assign("ack ");
  append_number(out, room_seq);
  out.push_back(' ');
  append_number(out, sender_seq);
  out.push_back(' ');
  append_ack_body(out, ip, port, nick, text);
}

namespace {
void encode_pair(std::string& out, std::string_view word, std::uint64_t a, std::uint64_t b) {
  out.assign(word);
  out.push_back(' ');
  append_number(out, a);
  out.push_back(' ');
  append_number(out, b);
}
}  // namespace

void encode_got(std::string& out, std::uint64_t seq, std::uint64_t room_seq) {
  encode_pair(out, "got", seq, room_seq);
}
void encode_want(std::string& out, std::uint64_t seq) {
  out.assign("want ");
  append_number(out, seq);
}
void encode_head(std::string& out, std::uint64_t room_seq) {
  out.assign("head ");
  append_number(out, room_seq);
}
void encode_missed(std::string& out, std::uint64_t from, std::uint64_t to) {
  encode_pair(out, "missed", from, to);
}
void encode_gap(std::string& out, std::uint64_t room_seq, std::uint64_t count) {
  encode_pair(out, "gap", room_seq, count);
}
void encode_timed(std::string& out, std::int64_t said_ms, std::string_view numbered_ack) {
  out.assign("at ");
  append_number(out, static_cast<std::uint64_t>(said_ms));
  out.push_back(' ');
  out.append(numbered_ack);
}

void encode_pong(std::string& out, std::string_view token) {
  out.assign("pong ");
  out.append(token);
}

std::string encode_cookie_request() {
  std::string out(kRegister);
  out.resize(kCookieRequestBytes, ' ');
  return out;
}

std::string encode_extended_cookie_request(std::uint8_t version) {
  std::string out(kRegister);
  out.resize(version >= 2 ? kTimedCookieRequestBytes : kExtendedCookieRequestBytes, ' ');
  return out;
}

std::string encode_numbered(std::uint64_t seq, std::string_view text) {
  std::string out("#");
  append_number(out, seq);
  if (!text.empty()) {
    out.push_back(' ');
    out.append(text);
  }
  return out;
}

std::string encode_nack(std::uint64_t from, std::uint64_t to) {
  std::string out;
  encode_pair(out, "nack", from, to);
  return out;
}

std::string encode_join(std::string_view cookie, std::string_view nick, std::string_view room,
                        std::optional<std::uint64_t> next_seq, std::uint8_t version) {
  std::string out(kRegister);
  out.push_back(' ');
  out.append(cookie);
  if (!nick.empty()) {
    out.push_back(' ');
    out.append(nick);
  }
  if (!room.empty()) {
    out.push_back(' ');
    out.append(room);
  }
  if (next_seq) {
    out.push_back(' ');
    out.append(repair_tag(version));
    out.push_back(' ');
    append_number(out, *next_seq);
  }
  return out;
}

std::string encode_ping(std::string_view token) {
  std::string out("ping ");
  out.append(token);
  return out;
}

std::string encode_chat(std::string_view text) {
  std::string out(text);
  if (out.size() < kNotMember.size()) out.resize(kNotMember.size(), ' ');
  return out;
}

}  // namespace udpchat::protocol
