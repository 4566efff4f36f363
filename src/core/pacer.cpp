#include "core/pacer.hpp"

#include <cmath>

namespace udpchat::core {

Pacer::Pacer(double rate_per_second, TimePoint start) noexcept
    : nanoseconds_per_message_(1e9 / rate_per_second), start_(start) {}

TimePoint Pacer::intended(std::uint64_t n) const noexcept {
  return start_ + std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(
                      std::llround(static_cast<double>(n) * nanoseconds_per_message_)));
}

std::uint64_t Pacer::due_by(TimePoint now) const noexcept {
  if (now < start_) return 0;
  const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(now - start_).count();
  // Message n is due once intended(n) <= now: n <= elapsed / spacing.
  return static_cast<std::uint64_t>(
             std::floor(static_cast<double>(elapsed) / nanoseconds_per_message_)) +
         1;
}

}  // namespace udpchat::core
