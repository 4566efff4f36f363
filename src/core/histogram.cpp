#include "core/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace udpchat::core {

namespace {
constexpr std::uint64_t kSubCount = std::uint64_t{1} << Histogram::kSubBits;
constexpr std::uint64_t kHalf = kSubCount / 2;
constexpr std::uint64_t kLargest = (std::uint64_t{1} << Histogram::kMaxBits) - 1;
}  // namespace

// Below 2^kSubBits the index is the value. Above, `shift` drops all but the top kSubBits bits;
// those bits lie in [kHalf, kSubCount), so each power of two takes kHalf consecutive indexes.
std::size_t Histogram::index_of(std::uint64_t value) noexcept {
  value = std::min(value, kLargest);
  if (value < kSubCount) return static_cast<std::size_t>(value);
  const int shift = static_cast<int>(std::bit_width(value)) - kSubBits;
  const std::uint64_t sub = value >> shift;
  return static_cast<std::size_t>(static_cast<std::uint64_t>(shift) * kHalf + sub);
}

std::uint64_t Histogram::highest_in(std::size_t index) noexcept {
  if (index < kSubCount) return index;
  const std::uint64_t shift = index / kHalf - 1;
  const std::uint64_t sub = index - shift * kHalf;
  return ((sub + 1) << shift) - 1;
}

void Histogram::record(std::uint64_t value) noexcept {
  ++counts_[index_of(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<long double>(value);
}

void Histogram::merge(const Histogram& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double Histogram::mean() const noexcept {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t Histogram::percentile(double percentile) const noexcept {
  if (count_ == 0) return 0;
  const double clamped = std::clamp(percentile, 0.0, 100.0);
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(clamped / 100.0 * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(highest_in(i), min(), max_);
  }
  return max_;
}

}  // namespace udpchat::core
