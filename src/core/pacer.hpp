// Open-loop pacing: the n-th message is due at start + n / rate whatever happened before, so a
// sender that stalls catches up in a burst and the stall shows as latency (measured from the
// intended time) instead of vanishing (coordinated omission).
#pragma once

#include <cstdint>

#include "core/time.hpp"

namespace udpchat::core {

class Pacer {
 public:
  Pacer(double rate_per_second, TimePoint start) noexcept;

  // When message `n` (from 0) is meant to leave.
  TimePoint intended(std::uint64_t n) const noexcept;
  // How many messages are due by `now` in all (sent or not).
  std::uint64_t due_by(TimePoint now) const noexcept;

 private:
  double nanoseconds_per_message_;
  TimePoint start_;
};

}  // namespace udpchat::core
