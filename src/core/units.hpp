// Values as people write them on a command line: durations (500ms, 10s, 1.5s), rates (200/s),
// byte rates (10M/s) and sizes (256K). Pure and locale-independent: the same text means the
// same value on every platform and under every locale.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/time.hpp"

namespace udpchat::core {

// The whole of `text` as a decimal number ("12", "0.5", "1e3"), or nothing.
std::optional<double> parse_number(std::string_view text);

// Units us, ms, s, m, h; a bare number is seconds. Negative values are refused.
std::optional<Duration> parse_duration(std::string_view text);

// The shortest exact form among the same units: 1500ms -> "1500ms", 2000ms -> "2s".
std::string format_duration(Duration duration);

// Events per second: "200/s", "200" or "off" (0). Above 0 and at most 1e9.
std::optional<double> parse_rate(std::string_view text);

// As parse_rate reads it: 200 -> "200/s", 0 -> "off".
std::string format_rate(double per_second);

// Bytes per second with an optional K, M or G (powers of 1000) and an optional "/s", or "off"
// (0): "500K", "10M/s". The number before the suffix is above 0 and at most 1e6.
std::optional<double> parse_byte_rate(std::string_view text);

// A size in bytes, written like a byte rate without "/s" or "off": "1M", "256K". From 1 byte
// to 1G (nats.c takes its buffer size as an int).
std::optional<double> parse_bytes(std::string_view text);

// In the largest unit that holds the count exactly: 64000000 -> "64M", 1500 -> "1500".
std::string format_bytes(double bytes);
// As parse_byte_rate reads it: 10e6 -> "10M/s", 0 -> "off".
std::string format_byte_rate(double per_second);

// For people reading a report (exact figures are for --json): 171828 -> "171.8 k",
// 17200000 -> "17.2 M", 950.4 -> "950": SI prefixes, one decimal from k up; with a unit,
// 171828 "B/s" -> "171.8 kB/s", 950 "B/s" -> "950 B/s".
std::string humane(double value, std::string_view unit = {});
// A time in nanoseconds, to three significant digits: "262 us", "1.46 ms", "3.07 s".
std::string humane_ns(double ns);

}  // namespace udpchat::core
