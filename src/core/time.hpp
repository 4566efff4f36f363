#pragma once

#include <chrono>

namespace udpchat::core {

// The core never reads a clock: callers pass the time in, so tests can step it by hand.
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

}  // namespace udpchat::core
