// A log-linear latency histogram in the manner of HdrHistogram: fixed memory, constant-time
// recording, every value kept to within 1/64 (about 1.6%) of itself. Min, max, count and mean
// are exact.
#pragma once

#include <array>
#include <cstdint>

namespace udpchat::core {

class Histogram {
 public:
  // 2^kSubBits sub-buckets per power of two: values below 128 are exact.
  static constexpr int kSubBits = 7;
  // Values up to 2^kMaxBits - 1 are kept (in nanoseconds: about 18 minutes); larger ones are
  // clamped into the top bucket, and max still reports them exactly.
  static constexpr int kMaxBits = 40;
  static constexpr std::size_t kBuckets = (static_cast<std::size_t>(kMaxBits - kSubBits + 1) + 1)
                                          << (kSubBits - 1);

  void record(std::uint64_t value) noexcept;
  void merge(const Histogram& other) noexcept;
  void reset() noexcept { *this = Histogram{}; }

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept;
  // The value at or below which `percentile` percent of the recorded values fall (the top of
  // the bucket holding it, never above max). 0 when empty.
  std::uint64_t percentile(double percentile) const noexcept;

  static std::size_t index_of(std::uint64_t value) noexcept;
  static std::uint64_t highest_in(std::size_t index) noexcept;

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
  std::uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace udpchat::core
