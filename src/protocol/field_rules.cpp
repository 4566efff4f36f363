// The field rules: what a token, nick, room, cookie and address may be, as decoders check
// them and as commands check user input before anything is sent.
#include <string_view>

#include "protocol/message.hpp"

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
bool is_key(std::string_view key) noexcept {
  return key.size() == 43 && all_of_token(key, 43, false);
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

}  // namespace udpchat::protocol
