// How long to wait before the next round of reconnect attempts. Pure: the caller supplies the
// random draw, so tests choose it.
#pragma once

#include "core/time.hpp"

namespace udpchat::core {

struct Backoff {
  Duration first = std::chrono::milliseconds(100);
  Duration cap = std::chrono::seconds(2);
};

// Doubles from `first` with each round until `cap`, plus up to a quarter more chosen by `unit`
// (in [0, 1)): nodes that lost the engine together do not all knock at the same instant.
Duration reconnect_delay(const Backoff& backoff, int rounds, double unit) noexcept;

}  // namespace udpchat::core
