#include "core/units.hpp"

#include <clocale>

#include "support/catch.hpp"

using namespace std::chrono_literals;
using udpchat::core::format_byte_rate;
using udpchat::core::format_bytes;
using udpchat::core::format_duration;
using udpchat::core::format_rate;
using udpchat::core::parse_byte_rate;
using udpchat::core::parse_bytes;
using udpchat::core::parse_duration;
using udpchat::core::parse_rate;

TEST_CASE("durations parse with every unit", "[core][units]") {
  CHECK(parse_duration("500ms") == 500ms);
  CHECK(parse_duration("10s") == 10s);
  CHECK(parse_duration("10") == 10s);
  CHECK(parse_duration("2m") == 2min);
  CHECK(parse_duration("1h") == 1h);
  CHECK(parse_duration("250us") == 250us);
  CHECK(parse_duration("1.5s") == 1500ms);
  CHECK(parse_duration(".5s") == 500ms);
  CHECK(parse_duration("0.0000015s") == 1500ns);
}

TEST_CASE("malformed durations are refused", "[core][units]") {
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("s"));
  CHECK_FALSE(parse_duration("-1s"));
  CHECK_FALSE(parse_duration("+1s"));
  CHECK_FALSE(parse_duration(" 1s"));
  CHECK_FALSE(parse_duration("10x"));
  CHECK_FALSE(parse_duration("1e400s"));
  CHECK_FALSE(parse_duration("1e3s"));
  CHECK_FALSE(parse_duration("99999999999h"));
  CHECK_FALSE(parse_duration("1.2.3s"));
  CHECK_FALSE(parse_duration("1,5s"));
  CHECK_FALSE(parse_duration("infs"));
}

TEST_CASE("durations format in the largest exact unit", "[core][units]") {
  CHECK(format_duration(10s) == "10s");
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(format_duration(2min) == "2m");
  CHECK(format_duration(0s) == "0s");
  CHECK(format_duration(1500ns) == "1500ns");
}

TEST_CASE("rates read per second, bare or off", "[core][units]") {
  CHECK(parse_rate("200/s") == 200.0);
  CHECK(parse_rate("200") == 200.0);
  CHECK(parse_rate("0.5/s") == 0.5);
  CHECK(parse_rate("1e3") == 1000.0);
  CHECK(parse_rate("1e9/s") == 1e9);
  CHECK(parse_rate("off") == 0.0);
}

TEST_CASE("rates that are not positive numbers up to 1e9 are refused", "[core][units]") {
  CHECK_FALSE(parse_rate(""));
  CHECK_FALSE(parse_rate("/s"));
  CHECK_FALSE(parse_rate("0"));
  CHECK_FALSE(parse_rate("-5/s"));
  CHECK_FALSE(parse_rate("+5/s"));
  CHECK_FALSE(parse_rate("1.1e9"));
  CHECK_FALSE(parse_rate("inf"));
  CHECK_FALSE(parse_rate("nan"));
  CHECK_FALSE(parse_rate("1e400"));
  CHECK_FALSE(parse_rate("1e-400"));
  CHECK_FALSE(parse_rate("200/m"));
  CHECK_FALSE(parse_rate("200 /s"));
  CHECK_FALSE(parse_rate("abc"));
  CHECK_FALSE(parse_rate("off/s"));
}

TEST_CASE("byte rates take K, M and G as powers of 1000, with or without /s", "[core][units]") {
  CHECK(parse_byte_rate("500K") == 500e3);
  CHECK(parse_byte_rate("10M/s") == 10e6);
  CHECK(parse_byte_rate("1G") == 1e9);
  CHECK(parse_byte_rate("1.5K") == 1500.0);
  CHECK(parse_byte_rate("1000") == 1000.0);
  CHECK(parse_byte_rate("1000000M") == 1e12);
  CHECK(parse_byte_rate("off") == 0.0);
}

TEST_CASE("byte rates with another suffix or a number above 1e6 are refused", "[core][units]") {
  CHECK_FALSE(parse_byte_rate(""));
  CHECK_FALSE(parse_byte_rate("K"));
  CHECK_FALSE(parse_byte_rate("0K"));
  CHECK_FALSE(parse_byte_rate("10k"));
  CHECK_FALSE(parse_byte_rate("10KB"));
  CHECK_FALSE(parse_byte_rate("10Ki"));
  CHECK_FALSE(parse_byte_rate("1000001K"));
  CHECK_FALSE(parse_byte_rate("-1M"));
  CHECK_FALSE(parse_byte_rate("inf"));
}

TEST_CASE("sizes read like byte rates, from 1 byte to 1G, never off or per second",
          "[core][units]") {
  CHECK(parse_bytes("1M") == 1e6);
  CHECK(parse_bytes("256K") == 256e3);
  CHECK(parse_bytes("1") == 1.0);
  CHECK(parse_bytes("1G") == 1e9);
  CHECK_FALSE(parse_bytes("off"));
  CHECK_FALSE(parse_bytes("1M/s"));
  CHECK_FALSE(parse_bytes("0.5"));
  CHECK_FALSE(parse_bytes("1.1G"));
  CHECK_FALSE(parse_bytes("2000M"));
  CHECK_FALSE(parse_bytes(""));
}

TEST_CASE("rates and sizes format as they are read back", "[core][units]") {
  CHECK(format_rate(200) == "200/s");
  CHECK(format_rate(0.5) == "0.5/s");
  CHECK(format_rate(0) == "off");
  CHECK(format_bytes(64e6) == "64M");
  CHECK(format_bytes(256e3) == "256K");
  CHECK(format_bytes(1e9) == "1G");
  CHECK(format_bytes(1500) == "1500");
  CHECK(format_bytes(65536) == "65536");
  CHECK(format_byte_rate(10e6) == "10M/s");
  CHECK(format_byte_rate(0) == "off");
  for (const double rate : {1.0, 0.25, 200.0, 1e9}) CHECK(parse_rate(format_rate(rate)) == rate);
  for (const double bytes : {1.0, 999.0, 1000.0, 65536.0, 256e3, 64e6, 1e9}) {
    CHECK(parse_bytes(format_bytes(bytes)) == bytes);
  }
}

TEST_CASE("numbers read the same under a locale with a decimal comma", "[core][units]") {
  // Only where such a locale is installed; the parse must not depend on it either way.
  const std::string previous = std::setlocale(LC_NUMERIC, nullptr);
  const bool comma =
      std::setlocale(LC_NUMERIC, "de_DE.UTF-8") || std::setlocale(LC_NUMERIC, "fr_FR.UTF-8");
  CHECK(parse_duration("1.5s") == 1500ms);
  CHECK(parse_rate("0.5/s") == 0.5);
  CHECK(parse_byte_rate("1.5K") == 1500.0);
  CHECK_FALSE(parse_duration("1,5s"));
  std::setlocale(LC_NUMERIC, previous.c_str());
  if (!comma) WARN("no de_DE or fr_FR locale installed: checked under " << previous << " only");
}

TEST_CASE("report figures read as people write them", "[core][units]") {
  CHECK(udpchat::core::humane(171828) == "171.8 k");
  CHECK(udpchat::core::humane(17'200'000) == "17.2 M");
  CHECK(udpchat::core::humane(950.4) == "950");
  CHECK(udpchat::core::humane(0) == "0");
  CHECK(udpchat::core::humane(171828, "B/s") == "171.8 kB/s");
  CHECK(udpchat::core::humane(950, "B/s") == "950 B/s");
  CHECK(udpchat::core::humane_ns(262'143) == "262 us");
  CHECK(udpchat::core::humane_ns(1'458'175) == "1.46 ms");
  CHECK(udpchat::core::humane_ns(39'998) == "40.0 us");
  CHECK(udpchat::core::humane_ns(3'070'000'000) == "3.07 s");
  CHECK(udpchat::core::humane_ns(512) == "512 ns");
}
