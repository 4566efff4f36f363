// Durations as people write them on a command line: 500ms, 10s, 2m, 1.5s.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/time.hpp"

namespace udpchat::core {

// Units us, ms, s, m, h; a bare number is seconds. Negative values are refused.
std::optional<Duration> parse_duration(std::string_view text);

// The shortest exact form among the same units: 1500ms -> "1500ms", 2000ms -> "2s".
std::string format_duration(Duration duration);

}  // namespace udpchat::core
