#include "core/rate_search.hpp"

#include <algorithm>
#include <cmath>

namespace udpchat::core {

RateSearch::RateSearch(double start, double ceiling, double precision, int max_trials)
    : start_(start), ceiling_(ceiling), precision_(precision), max_trials_(max_trials) {}

std::optional<double> RateSearch::next() const {
  if (trials_ >= max_trials_) return std::nullopt;
  if (!lowest_failure_) {
    if (best_ == 0) return start_;
    if (best_ >= ceiling_) return std::nullopt;
    return std::min(best_ * 2, ceiling_);
  }
  const double low = best_ == 0 ? *lowest_failure_ / 2 : best_;
  if (best_ > 0 && *lowest_failure_ <= low * (1 + precision_)) return std::nullopt;
  if (best_ == 0 && low < 1) return std::nullopt;
  return (low + *lowest_failure_) / 2;
}

void RateSearch::record(double rate, bool passed) {
  ++trials_;
  if (passed) {
    best_ = std::max(best_, rate);
  } else if (!lowest_failure_ || rate < *lowest_failure_) {
    lowest_failure_ = rate;
  }
}

}  // namespace udpchat::core

namespace udpchat::core {

double RateSearch::rounded() const noexcept {
  if (best_ <= 0) return 0;
  const double gap = lowest_failure_ && *lowest_failure_ > best_
                         ? *lowest_failure_ - best_
                         : best_ / 100;  // three significant digits
  // Never coarser than best's own leading digit: 50 stays 50, whatever the gap.
  const double step = std::min(std::pow(10.0, std::floor(std::log10(gap))),
                               std::pow(10.0, std::floor(std::log10(best_))));
  return std::floor(best_ / step) * step;
}

}  // namespace udpchat::core
