#include "protocol/text.hpp"

#include <utf8proc.h>

#include <algorithm>
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

bool is_continuation(unsigned char c) noexcept {
  return (c & 0xC0) == 0x80;
}

// Both from utf8proc's tables of the Unicode Character Database, never from a hand list.
const utf8proc_property_t& property_of(std::uint32_t cp) noexcept {
  return *utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
}

// Refused in chat text: they reorder or break what a reader sees. The bidi embeddings,
// overrides and isolates (by bidi class), and the line and paragraph separators (Zl, Zp).
bool is_format(std::uint32_t cp) noexcept {
  const utf8proc_property_t& property = property_of(cp);
  switch (property.bidi_class) {
    case UTF8PROC_BIDI_CLASS_LRE:
    case UTF8PROC_BIDI_CLASS_RLE:
    case UTF8PROC_BIDI_CLASS_LRO:
    case UTF8PROC_BIDI_CLASS_RLO:
    case UTF8PROC_BIDI_CLASS_PDF:
    case UTF8PROC_BIDI_CLASS_LRI:
    case UTF8PROC_BIDI_CLASS_RLI:
    case UTF8PROC_BIDI_CLASS_FSI:
    case UTF8PROC_BIDI_CLASS_PDI:
      return true;
    default:
      return property.category == UTF8PROC_CATEGORY_ZL || property.category == UTF8PROC_CATEGORY_ZP;
  }
}

// Shown escaped: the above, and every character Unicode makes a format character (Cf) or
// default-ignorable: they take no room on screen and can hide text (tag characters, zero-width
// spaces and joiners, bidi marks, soft hyphen, fillers, variation selectors, BOM).
bool is_invisible(std::uint32_t cp) noexcept {
  const utf8proc_property_t& property = property_of(cp);
  return property.ignorable || property.category == UTF8PROC_CATEGORY_CF || is_format(cp);
}

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
    if (is_format(cp)) return TextCheck::format_character;
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
    } else if (is_invisible(cp)) {
      out += "<U+";
      // Four hex digits, or as many as the code point needs (U+E0041).
      int shift = 12;
      while (shift < 20 && (cp >> (shift + 4)) != 0) shift += 4;
      for (; shift >= 0; shift -= 4) out.push_back(kHex[(cp >> shift) & 0xF]);
      out.push_back('>');
    } else {
      out.append(reinterpret_cast<const char*>(p), length);
    }
    p += length;
  }
  return out;
}

std::vector<std::string_view> split_text(std::string_view text, std::size_t max_bytes) {
  std::vector<std::string_view> pieces;
  text = strip(text);
  while (!text.empty()) {
    std::size_t cut = std::min(text.size(), max_bytes);
    if (cut < text.size()) {
      // Wrap at the last space or tab when it is in the piece's second half: the pieces read
      // as wrapped lines, and the whitespace at the break (stripped on the wire) is the break.
      const auto space = text.substr(0, cut + 1).find_last_of(" \t");
      if (space != std::string_view::npos && space >= cut / 2) {
        cut = space;
      } else {
        // Else back up to the start of the sequence the cut would split (at most 3 bytes).
        std::size_t back = cut;
        while (back > 0 && cut - back < 3 &&
               is_continuation(static_cast<unsigned char>(text[back])))
          --back;
        if (back > 0 && !is_continuation(static_cast<unsigned char>(text[back]))) cut = back;
      }
    }
    const std::string_view piece = strip(text.substr(0, cut));
    if (!piece.empty()) pieces.push_back(piece);
    text = strip(text.substr(cut));
  }
  return pieces;
}

}  // namespace udpchat::protocol
