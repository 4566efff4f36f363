#include "core/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "support/catch.hpp"

using udpchat::core::Histogram;

namespace {

// The value at rank ceil(p * n) of the sorted values: what the histogram approximates.
std::uint64_t reference(const std::vector<std::uint64_t>& sorted, double percentile) {
  const auto rank = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::ceil(percentile / 100.0 * static_cast<double>(sorted.size()))));
  return sorted[rank - 1];
}

}  // namespace

TEST_CASE("histogram percentiles stay within 1/64 of a sorted reference", "[core][histogram]") {
  std::mt19937_64 random(42);
  // Latency-like data: mostly tens of microseconds in ns, a long tail up to seconds.
  std::lognormal_distribution<double> shape(11.0, 1.5);
  std::vector<std::uint64_t> values;
  Histogram histogram;
  for (int i = 0; i < 200'000; ++i) {
    const auto v = static_cast<std::uint64_t>(shape(random));
    values.push_back(v);
    histogram.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const auto expected = reference(values, p);
    const auto got = histogram.percentile(p);
    CHECK(got >= expected);
    CHECK(static_cast<double>(got - expected) <= static_cast<double>(expected) / 64.0 + 1.0);
  }
  CHECK(histogram.count() == values.size());
  CHECK(histogram.min() == values.front());
  CHECK(histogram.max() == values.back());
  long double sum = 0;
  for (auto v : values) sum += static_cast<long double>(v);
  CHECK(std::abs(histogram.mean() - static_cast<double>(sum / values.size())) < 1e-6 * histogram.mean());
}

TEST_CASE("histogram keeps small values exactly", "[core][histogram]") {
  Histogram histogram;
  for (std::uint64_t v = 0; v < 128; ++v) histogram.record(v);
  CHECK(histogram.percentile(50) == 63);
  CHECK(histogram.percentile(100) == 127);
  CHECK(histogram.min() == 0);
}

TEST_CASE("histogram buckets are contiguous and each holds what it claims", "[core][histogram]") {
  std::uint64_t previous_top = 0;
  for (std::size_t i = 1; i < Histogram::kBuckets; ++i) {
    const auto top = Histogram::highest_in(i);
    CHECK(top > previous_top);
    CHECK(Histogram::index_of(top) == i);
    CHECK(Histogram::index_of(previous_top + 1) == i);
    previous_top = top;
  }
  CHECK(Histogram::index_of(~std::uint64_t{0}) == Histogram::kBuckets - 1);
}

TEST_CASE("an empty histogram reports zeros and a merged one the union", "[core][histogram]") {
  Histogram a;
  CHECK(a.percentile(99) == 0);
  CHECK(a.mean() == 0);
  CHECK(a.min() == 0);
  Histogram b;
  a.record(100);
  b.record(1'000'000);
  a.merge(b);
  CHECK(a.count() == 2);
  CHECK(a.min() == 100);
  CHECK(a.max() == 1'000'000);
  CHECK(a.percentile(50) == 100);
  CHECK(a.percentile(100) == 1'000'000);
}
