#include "core/backoff.hpp"

#include <algorithm>

namespace udpchat::core {

Duration reconnect_delay(const Backoff& backoff, int rounds, double unit) noexcept {
  Duration delay = backoff.first;
  for (int i = 1; i < rounds && delay < backoff.cap; ++i) delay *= 2;
  delay = std::min(delay, backoff.cap);
  const double fraction = std::clamp(unit, 0.0, 1.0) / 4;
  return delay + std::chrono::duration_cast<Duration>(delay * fraction);
}

}  // namespace udpchat::core
