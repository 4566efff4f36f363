#include "core/duration.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <utility>

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

std::optional<Duration> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() &&
         ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) {
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, value);
  if (ec != std::errc{} || end != text.data() + digits || !std::isfinite(value)) return std::nullopt;
  const std::string_view unit = text.substr(digits);
  for (const auto& [name, ns] : kUnits) {
    if (unit == name || (unit.empty() && name == "s")) {
      const double total = value * static_cast<double>(ns);
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

}  // namespace udpchat::core
