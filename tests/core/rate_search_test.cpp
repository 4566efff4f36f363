#include "core/rate_search.hpp"

#include "support/catch.hpp"

using udpchat::core::RateSearch;

namespace {
double search_for(double limit, double start) {
  RateSearch search(start, 1e7);
  while (auto rate = search.next()) search.record(*rate, *rate <= limit);
  return search.best();
}
}  // namespace

TEST_CASE("the rate search converges on the highest passing rate", "[core][rate_search]") {
  for (double limit : {1000.0, 2500.0, 37'000.0, 280'000.0}) {
    const double best = search_for(limit, 1000);
    CHECK(best <= limit);
    CHECK(best >= limit * 0.95);
  }
}

TEST_CASE("the rate search goes below its start when the start fails", "[core][rate_search]") {
  const double best = search_for(300, 1000);
  CHECK(best <= 300);
  CHECK(best >= 300 * 0.9);
}

TEST_CASE("the rate search stops at its ceiling and after its trial budget",
          "[core][rate_search]") {
  RateSearch capped(1000, 5000);
  while (auto rate = capped.next()) capped.record(*rate, true);
  CHECK(capped.best() == 5000);
  RateSearch budget(1000, 1e9, 0.0001, 5);
  while (auto rate = budget.next()) budget.record(*rate, *rate < 123'456);
  CHECK(budget.trials() == 5);
}

TEST_CASE("the rate found is rounded down to what the search resolved", "[core][rate_search]") {
  RateSearch search(100, 1e6);
  search.record(257.08, true);
  search.record(269.9, false);
  CHECK(search.rounded() == 250);  // a gap of 12.8: tens
  RateSearch wide(100, 1e6, 0.05, 2);
  wide.record(50, true);
  wide.record(400, false);
  CHECK(wide.rounded() == 50);  // never rounded up, nor below its own leading digit
  RateSearch open(1000, 1e6, 0.05, 1);
  open.record(123'456, true);
  CHECK(open.rounded() == 123'000);  // no failure yet: three significant digits
  CHECK(RateSearch(1, 10).rounded() == 0);
}
