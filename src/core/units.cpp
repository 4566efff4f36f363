#include "core/units.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

// std::from_chars for double is missing from libc++ before 20 and from Apple's libc++;
// fast_float has the same contract (correctly rounded, no locale, no leading '+' or space).
#include <fast_float/fast_float.h>
#include <fmt/format.h>

namespace udpchat::core {

namespace {

using std::chrono::nanoseconds;

constexpr std::array<std::pair<std::string_view, std::int64_t>, 5> kUnits = {{
    {"h", 3'600'000'000'000},
    {"m", 60'000'000'000},
    {"s", 1'000'000'000},
    {"ms", 1'000'000},
    {"us", 1'000},
}};

}  // namespace

std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  const char* last = text.data() + text.size();
  const auto [end, ec] = fast_float::from_chars(text.data(), last, value);
  if (text.empty() || ec != std::errc{} || end != last) return std::nullopt;
  return value;
}

std::optional<Duration> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() &&
         ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) {
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  const auto value = parse_number(text.substr(0, digits));
  if (!value || !std::isfinite(*value)) return std::nullopt;
  const std::string_view unit = text.substr(digits);
  for (const auto& [name, ns] : kUnits) {
    if (unit == name || (unit.empty() && name == "s")) {
      const double total = *value * static_cast<double>(ns);
      if (total > 1e18) return std::nullopt;  // beyond what a steady_clock offset can hold
      return std::chrono::duration_cast<Duration>(nanoseconds(std::llround(total)));
    }
  }
  return std::nullopt;
}

std::string format_duration(Duration duration) {
  const auto ns = std::chrono::duration_cast<nanoseconds>(duration).count();
  if (ns == 0) return "0s";
  for (const auto& [name, unit_ns] : kUnits) {
    if (ns != 0 && ns % unit_ns == 0) return fmt::format("{}{}", ns / unit_ns, name);
  }
  return fmt::format("{}ns", ns);
}

std::optional<double> parse_rate(std::string_view text) {
  if (text == "off") return 0.0;
  if (text.ends_with("/s")) text.remove_suffix(2);
  const auto value = parse_number(text);
  if (!value || !(*value > 0) || *value > 1e9) return std::nullopt;
  return value;
}

std::string format_rate(double per_second) {
  if (per_second == 0) return "off";
  return fmt::format("{}/s", per_second);
}

std::optional<double> parse_byte_rate(std::string_view text) {
  if (text == "off") return 0.0;
  if (text.ends_with("/s")) text.remove_suffix(2);
  double scale = 1;
  if (!text.empty() && (text.back() == 'K' || text.back() == 'M' || text.back() == 'G')) {
    scale = text.back() == 'K' ? 1e3 : text.back() == 'M' ? 1e6 : 1e9;
    text.remove_suffix(1);
  }
  const auto value = parse_number(text);
  if (!value || !(*value > 0) || *value > 1e6) return std::nullopt;
  return *value * scale;
}

std::optional<double> parse_bytes(std::string_view text) {
  if (text == "off" || text.ends_with("/s")) return std::nullopt;
  const auto bytes = parse_byte_rate(text);
  if (!bytes || *bytes < 1 || *bytes > 1e9) return std::nullopt;
  return bytes;
}

std::string format_bytes(double bytes) {
  for (const auto& [suffix, scale] : {std::pair{'G', 1e9}, {'M', 1e6}, {'K', 1e3}}) {
    if (bytes >= scale && std::fmod(bytes, scale) == 0)
      return fmt::format("{}{}", bytes / scale, suffix);
  }
  return fmt::format("{}", bytes);
}

std::string format_byte_rate(double per_second) {
  if (per_second == 0) return "off";
  return format_bytes(per_second) + "/s";
}

std::string humane(double value, std::string_view unit) {
  for (const auto& [prefix, scale] : {std::pair{"G", 1e9}, {"M", 1e6}, {"k", 1e3}}) {
    if (std::fabs(value) >= scale) return fmt::format("{:.1f} {}{}", value / scale, prefix, unit);
  }
  return unit.empty() ? fmt::format("{:.0f}", value) : fmt::format("{:.0f} {}", value, unit);
}

std::string humane_ns(double ns) {
  for (const auto& [unit, scale] : {std::pair{"s", 1e9}, {"ms", 1e6}, {"us", 1e3}}) {
    if (ns >= scale) {
      const double value = ns / scale;
      return fmt::format("{:.{}f} {}", value, value >= 100 ? 0 : value >= 10 ? 1 : 2, unit);
    }
  }
  return fmt::format("{:.0f} ns", ns);
}

}  // namespace udpchat::core
