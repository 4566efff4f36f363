#include "protocol/text.hpp"

#include "support/catch.hpp"

using udpchat::protocol::check_text;
using udpchat::protocol::printable;
using udpchat::protocol::split_text;
using udpchat::protocol::strip;
using udpchat::protocol::TextCheck;

TEST_CASE("strip removes ASCII whitespace at both ends only", "[protocol]") {
  CHECK(strip("  hello world \r\n") == "hello world");
  CHECK(strip("\t\v\f x \n") == "x");
  CHECK(strip("   ").empty());
  CHECK(strip("") == "");
  CHECK(strip("a  b") == "a  b");
}

TEST_CASE("check_text accepts well-formed UTF-8 and tab", "[protocol]") {
  CHECK(check_text("plain ascii") == TextCheck::ok);
  CHECK(check_text("tab\there") == TextCheck::ok);
  CHECK(check_text("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == TextCheck::ok);
  CHECK(check_text("\xEF\xBF\xBF") == TextCheck::ok);      // U+FFFF
  CHECK(check_text("\xF4\x8F\xBF\xBF") == TextCheck::ok);  // U+10FFFF
}

TEST_CASE("check_text rejects malformed UTF-8", "[protocol]") {
  CHECK(check_text("\xC3") == TextCheck::invalid_utf8);              // truncated
  CHECK(check_text("\xC0\xAF") == TextCheck::invalid_utf8);          // overlong '/'
  CHECK(check_text("\xE0\x80\xAF") == TextCheck::invalid_utf8);      // overlong
  CHECK(check_text("\xED\xA0\x80") == TextCheck::invalid_utf8);      // surrogate
  CHECK(check_text("\xF4\x90\x80\x80") == TextCheck::invalid_utf8);  // past U+10FFFF
  CHECK(check_text("\x80") == TextCheck::invalid_utf8);              // lone continuation
  CHECK(check_text("\xFF") == TextCheck::invalid_utf8);
  CHECK(check_text("ok \xE2\x82") == TextCheck::invalid_utf8);
}

TEST_CASE("check_text rejects control characters but tab", "[protocol]") {
  CHECK(check_text("a\nb") == TextCheck::control_character);
  CHECK(check_text("a\rb") == TextCheck::control_character);
  CHECK(check_text(std::string_view("a\0b", 3)) == TextCheck::control_character);
  CHECK(check_text("\x1B[2J") == TextCheck::control_character);
  CHECK(check_text("del\x7F") == TextCheck::control_character);
  CHECK(check_text("c1 \xC2\x85") == TextCheck::control_character);  // U+0085 NEL
}

TEST_CASE("check_text rejects bidi overrides, isolates and line separators", "[protocol]") {
  CHECK(check_text("\xE2\x80\xAE") == TextCheck::format_character);  // U+202E
  CHECK(check_text("\xE2\x80\xAA") == TextCheck::format_character);  // U+202A
  CHECK(check_text("\xE2\x81\xA9") == TextCheck::format_character);  // U+2069
  CHECK(check_text("a\xE2\x80\xA8"
                   "b") == TextCheck::format_character);  // U+2028
  CHECK(check_text("a\xE2\x80\xA9"
                   "b") == TextCheck::format_character);  // U+2029
  CHECK(check_text("\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C") ==
        TextCheck::ok);
  CHECK(check_text("zwj \xE2\x80\x8D ok") == TextCheck::ok);
}

TEST_CASE("printable shows controls and invisible characters as visible escapes", "[protocol]") {
  CHECK(printable("clear \x1B[2J") == "clear \\x1B[2J");
  CHECK(printable("\xE2\x80\xAE"
                  "evil") == "<U+202E>evil");
  CHECK(printable("zero\xE2\x80\x8Bwidth") == "zero<U+200B>width");
  CHECK(printable("bom \xEF\xBB\xBF") == "bom <U+FEFF>");
  CHECK(printable("bad \xFF") == "bad \xEF\xBF\xBD");
  CHECK(printable("\xE4\xBD\xA0\xE5\xA5\xBD caf\xC3\xA9 \xE2\x9C\x93") ==
        "\xE4\xBD\xA0\xE5\xA5\xBD caf\xC3\xA9 \xE2\x9C\x93");
}

TEST_CASE("printable escapes what Unicode calls format or default-ignorable, from its tables",
          "[protocol]") {
  // Tag characters (they hide text), soft hyphen, grapheme joiner, Hangul filler, a Mongolian
  // variation selector, shorthand format controls, a musical formatting character.
  CHECK(printable("a\xF3\xA0\x81\x81\xF3\xA0\x81\x82\xF3\xA0\x81\x83z") ==
        "a<U+E0041><U+E0042><U+E0043>z");
  CHECK(printable("\xC2\xAD \xCD\x8F \xE3\x85\xA4 \xE1\xA0\x8B") ==
        "<U+00AD> <U+034F> <U+3164> <U+180B>");
  CHECK(printable("\xF0\x9B\xB2\xA0\xF0\x9D\x85\xB3") == "<U+1BCA0><U+1D173>");
  // Visible text, combining marks and wide characters stay as they are.
  CHECK(printable("e\xCC\x81 \xE4\xBD\xA0") == "e\xCC\x81 \xE4\xBD\xA0");
  // What the relay refuses is what reorders a line: the two lists agree.
  CHECK(udpchat::protocol::check_text("\xE2\x81\xA7x") ==
        udpchat::protocol::TextCheck::format_character);  // U+2067, an isolate
  CHECK(udpchat::protocol::check_text("tag\xF3\xA0\x81\x81") == udpchat::protocol::TextCheck::ok);
}

TEST_CASE("split_text cuts at character boundaries and strips each piece", "[protocol]") {
  CHECK(split_text("short", 1024) == std::vector<std::string_view>{"short"});
  CHECK(split_text("   ", 1024).empty());
  CHECK(split_text("abc def", 4) == std::vector<std::string_view>{"abc", "def"});
  // "\xC3\xA9" is two bytes: never cut in half.
  CHECK(split_text("a\xC3\xA9\xC3\xA9", 2) ==
        std::vector<std::string_view>{"a", "\xC3\xA9", "\xC3\xA9"});
  CHECK(split_text("\xF0\x9F\x98\x80\xF0\x9F\x98\x80", 5) ==
        std::vector<std::string_view>{"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"});
}

TEST_CASE("split_text wraps at the last space of a piece, not inside a word", "[protocol]") {
  CHECK(split_text("one two three", 9) == std::vector<std::string_view>{"one two", "three"});
  // The space just past the limit is a break too.
  CHECK(split_text("abcd efgh", 4) == std::vector<std::string_view>{"abcd", "efgh"});
  // A space early in the piece would make it short: cut between characters instead.
  CHECK(split_text("a bcdefghij", 8) == std::vector<std::string_view>{"a bcdefg", "hij"});
  std::string words;
  for (int i = 0; i < 300; ++i) words += "word ";
  for (const auto piece : split_text(words, 1024)) {
    CHECK(piece.size() <= 1024);
    CHECK(piece.starts_with("word"));
    CHECK(piece.ends_with("word"));
  }
}
