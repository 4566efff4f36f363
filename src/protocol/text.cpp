#include "protocol/text.hpp"

#include <cstddef>
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

namespace {

// Decodes one UTF-8 sequence at p; false if it is malformed (overlong, surrogate, past U+10FFFF,
// truncated or a stray byte).
bool decode_one(const unsigned char* p, const unsigned char* end, std::uint32_t& cp,
                std::size_t& length) noexcept {
  const unsigned char lead = *p;
  std::uint32_t min = 0;
  if (lead < 0x80) {
    cp = lead;
    length = 1;
    return true;
  }
  if ((lead & 0xE0) == 0xC0) {
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
    return false;
  }
  if (static_cast<std::size_t>(end - p) < length) return false;
  for (std::size_t i = 1; i < length; ++i) {
    if (!is_continuation(p[i])) return false;
    cp = (cp << 6) | (p[i] & 0x3Fu);
  }
  return cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

}  // namespace

TextCheck check_text(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  while (p < end) {
    std::uint32_t cp = 0;
    std::size_t length = 0;
    if (!decode_one(p, end, cp, length)) return TextCheck::invalid_utf8;
    if (is_control(cp)) return TextCheck::control_character;
    p += length;
  }
  return TextCheck::ok;
}

std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  while (p < end) {
    std::uint32_t cp = 0;
    std::size_t length = 0;
    if (!decode_one(p, end, cp, length)) {
      out += "\xEF\xBF\xBD";
      ++p;
      continue;
    }
    if (is_control(cp)) {
      out += "\\x";
      out.push_back(kHex[(cp >> 4) & 0xF]);
      out.push_back(kHex[cp & 0xF]);
    } else {
      out.append(reinterpret_cast<const char*>(p), length);
    }
    p += length;
  }
  return out;
}

}  // namespace udpchat::protocol
