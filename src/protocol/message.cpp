#include "protocol/message.hpp"

#include <array>
#include <charconv>

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

bool parse_port(std::string_view s, std::uint16_t& port) noexcept {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return ec == std::errc{} && end == s.data() + s.size();
}

// A line split at single spaces into at most five non-empty fields; count is 0 when the line
// has more fields or an empty one (a doubled, leading or trailing space): such a line is chat.
struct Fields {
  std::array<std::string_view, 5> at;
  std::size_t count = 0;
};

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

}  // namespace

std::string_view to_string(Malformation reason) noexcept {
  switch (reason) {
    case Malformation::empty: return "empty";
    case Malformation::too_long: return "too_long";
    case Malformation::invalid_utf8: return "invalid_utf8";
    case Malformation::control_character: return "control_character";
  }
  return "unknown";
}

bool is_ping_token(std::string_view token) noexcept {
  return all_of_token(token, kMaxPingTokenBytes, false);
}
bool is_cookie(std::string_view token) noexcept {
  return all_of_token(token, kMaxCookieBytes, false);
}
bool is_nick(std::string_view nick) noexcept { return all_of_token(nick, kMaxNickBytes, true); }
bool is_room(std::string_view room) noexcept { return all_of_token(room, kMaxRoomBytes, false); }

ClientMessage decode_client(std::string_view datagram) noexcept {
  const std::string_view line = strip(datagram);
  if (line.empty()) return Malformed{Malformation::empty};
  if (line.size() > kMaxLineBytes) return Malformed{Malformation::too_long};

  if (line == kRegister) {
    if (datagram.size() >= kCookieRequestBytes) return CookieRequest{};
    return Register{};
  }
  if (line == kHeartbeat) return Heartbeat{};
  if (line == kQuit) return Quit{};

  // Commands with arguments; a line of another shape is chat, as the original server saw it.
  const Fields f = split_fields(line);
  if (f.at[0] == kRegister && f.count >= 2 && f.count <= 4 && is_cookie(f.at[1]) &&
      (f.count < 3 || is_nick(f.at[2])) && (f.count < 4 || is_room(f.at[3]))) {
    return Join{f.at[1], f.at[2], f.at[3], line};
  }
  if (f.at[0] == "ping" && f.count == 2 && is_ping_token(f.at[1])) return Ping{f.at[1]};

  switch (check_text(line)) {
    case TextCheck::ok: return Chat{line};
    case TextCheck::invalid_utf8: return Malformed{Malformation::invalid_utf8};
    case TextCheck::control_character: return Malformed{Malformation::control_character};
  }
  return Malformed{Malformation::invalid_utf8};
}

ServerMessage decode_server(std::string_view datagram) noexcept {
  const std::string_view line = strip(datagram);
  if (line == kEnd) return End{};

  constexpr std::string_view kAckPrefix = "ack: ";
  if (line.starts_with(kAckPrefix)) {
    const auto newline = line.find('\n');
    if (newline == std::string_view::npos) return Unknown{};
    const Fields f = split_fields(line.substr(kAckPrefix.size(), newline - kAckPrefix.size()));
    Ack ack;
    if (f.count < 2 || f.count > 3 || !parse_port(f.at[1], ack.port)) return Unknown{};
    ack.ip = f.at[0];
    ack.nick = f.at[2];
    ack.text = line.substr(newline + 1);
    return ack;
  }

  const Fields f = split_fields(line);
  if (f.at[0] == "cookie" && f.count == 2 && is_cookie(f.at[1])) return Cookie{f.at[1]};
  if (f.at[0] == "pong" && f.count == 2 && is_ping_token(f.at[1])) return Pong{f.at[1]};
  if (f.at[0] == "welcome" && f.count >= 3 && f.count <= 5) {
    Welcome welcome;
    if (!parse_port(f.at[2], welcome.port)) return Unknown{};
    if (f.count == 5 && !is_room(f.at[4])) return Unknown{};
    welcome.ip = f.at[1];
    welcome.nick = f.at[3];
    welcome.room = f.at[4];
    return welcome;
  }
  return Unknown{};
}

void encode_ack(std::string& out, std::string_view ip, std::uint16_t port, std::string_view nick,
                std::string_view text) {
  out.assign("ack: ");
  out.append(ip);
  out.push_back(' ');
  append_port(out, port);
  if (!nick.empty()) {
    out.push_back(' ');
    out.append(nick);
  }
  out.push_back('\n');
  out.append(text);
  out.push_back('\n');
}

void encode_welcome(std::string& out, std::string_view ip, std::uint16_t port,
                    std::string_view nick, std::string_view room) {
  out.assign("welcome ");
  out.append(ip);
  out.push_back(' ');
  append_port(out, port);
  if (!nick.empty()) {
    out.push_back(' ');
    out.append(nick);
  }
  if (!room.empty()) {
    out.push_back(' ');
    out.append(room);
  }
}

void encode_cookie(std::string& out, std::string_view token) {
  out.assign("cookie ");
  out.append(token);
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

std::string encode_join(std::string_view cookie, std::string_view nick, std::string_view room) {
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
  return out;
}

std::string encode_ping(std::string_view token) {
  std::string out("ping ");
  out.append(token);
  return out;
}

}  // namespace udpchat::protocol
