// The search behind `bench --find-max`: the highest rate whose trial stays within the loss limit.
// Doubles from a starting rate until a trial fails, then bisects between the best passing and
// the lowest failing rate until they are within `precision` of each other.
#pragma once

#include <optional>

namespace udpchat::core {

class RateSearch {
 public:
  RateSearch(double start, double ceiling, double precision = 0.05, int max_trials = 16);

  // The next rate to try, or nullopt when the search is over.
  std::optional<double> next() const;
  void record(double rate, bool passed);
  // Highest passing rate so far (0 if none passed).
  double best() const noexcept { return best_; }
  // Lowest failing rate so far: the answer lies between best() and it.
  std::optional<double> lowest_failure() const noexcept { return lowest_failure_; }
  // best(), rounded down to what the search resolved: no digit finer than the gap to the
  // lowest failing rate (257.08 with a failure at 269.9 is 250), else three significant digits.
  double rounded() const noexcept;
  int trials() const noexcept { return trials_; }

 private:
  double start_;
  double ceiling_;
  double precision_;
  int max_trials_;
  double best_ = 0;
  std::optional<double> lowest_failure_;
  int trials_ = 0;
};

}  // namespace udpchat::core
