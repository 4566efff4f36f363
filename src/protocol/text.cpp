#include "protocol/text.hpp"

#include <cstdint>

namespace udpchat::protocol {

namespace {

bool is_ascii_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool is_control(std::uint32_t cp) noexcept {
  return (cp < 0x20 && cp != '\t') || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

bool is_continuation(unsigned char c) noexcept { return (c & 0xC0) == 0x80; }

}  // namespace

std::string_view strip(std::string_view datagram) noexcept {
  std::size_t begin = 0;
  std::size_t end = datagram.size();
  while (begin < end && is_ascii_space(datagram[begin])) ++begin;
  while (end > begin && is_ascii_space(datagram[end - 1])) --end;
  return datagram.substr(begin, end - begin);
}

TextCheck check_text(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  while (p < end) {
    const unsigned char lead = *p;
    std::uint32_t cp = 0;
    std::size_t length = 0;
    std::uint32_t min = 0;
    if (lead < 0x80) {
      cp = lead;
      length = 1;
    } else if ((lead & 0xE0) == 0xC0) {
      cp = lead & 0x1Fu;
      length = 2;
      min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      cp = lead & 0x0Fu;
      length = 3;
      min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      cp = lead & 0x07u;
      length = 4;
      min = 0x10000;
    } else {
      return TextCheck::invalid_utf8;
    }
    if (static_cast<std::size_t>(end - p) < length) return TextCheck::invalid_utf8;
    for (std::size_t i = 1; i < length; ++i) {
      if (!is_continuation(p[i])) return TextCheck::invalid_utf8;
      cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return TextCheck::invalid_utf8;
    }
    if (is_control(cp)) return TextCheck::control_character;
    p += length;
  }
  return TextCheck::ok;
}

}  // namespace udpchat::protocol
