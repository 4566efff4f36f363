#include "core/duration.hpp"

#include "support/catch.hpp"

using namespace std::chrono_literals;
using udpchat::core::format_duration;
using udpchat::core::parse_duration;

TEST_CASE("durations parse with every unit", "[core]") {
  CHECK(parse_duration("500ms") == 500ms);
  CHECK(parse_duration("10s") == 10s);
  CHECK(parse_duration("10") == 10s);
  CHECK(parse_duration("2m") == 2min);
  CHECK(parse_duration("1h") == 1h);
  CHECK(parse_duration("250us") == 250us);
  CHECK(parse_duration("1.5s") == 1500ms);
}

TEST_CASE("malformed durations are refused", "[core]") {
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("s"));
  CHECK_FALSE(parse_duration("-1s"));
  CHECK_FALSE(parse_duration("10x"));
  CHECK_FALSE(parse_duration("1e400s"));
  CHECK_FALSE(parse_duration("99999999999h"));
  CHECK_FALSE(parse_duration("1.2.3s"));
}

TEST_CASE("durations format in the largest exact unit", "[core]") {
  CHECK(format_duration(10s) == "10s");
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(format_duration(2min) == "2m");
  CHECK(format_duration(0s) == "0s");
}
