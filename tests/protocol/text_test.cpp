#include "protocol/text.hpp"

#include "support/catch.hpp"

using udpchat::protocol::check_text;
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
