#include "core/sequence_tracker.hpp"

#include "support/catch.hpp"

using udpchat::core::SequenceTracker;
using Arrival = SequenceTracker::Arrival;

TEST_CASE("a complete in-order stream has no loss, duplicates or reordering", "[core][sequence]") {
  SequenceTracker tracker(1000);
  for (std::uint64_t n = 0; n < 1000; ++n) CHECK(tracker.record(n) == Arrival::fresh);
  CHECK(tracker.delivered() == 1000);
  CHECK(tracker.lost(1000) == 0);
  CHECK(tracker.duplicates() == 0);
  CHECK(tracker.out_of_order() == 0);
}

TEST_CASE("gaps count as lost, repeats as duplicates, late arrivals as out of order",
          "[core][sequence]") {
  SequenceTracker tracker(100);
  for (std::uint64_t n : {0, 1, 2, 5, 4, 4, 9, 3, 9, 70}) tracker.record(n);
  CHECK(tracker.delivered() == 8);     // 0 1 2 3 4 5 9 70
  CHECK(tracker.duplicates() == 2);    // 4, 9
  CHECK(tracker.out_of_order() == 2);  // 4 after 5, 3 after 9
  CHECK(tracker.lost(10) == 3);        // 6 7 8
  CHECK(tracker.lost(100) == 100 - 8);
}

TEST_CASE("numbers past the capacity are counted apart, not stored", "[core][sequence]") {
  SequenceTracker tracker(10);
  CHECK(tracker.record(10) == Arrival::out_of_range);
  CHECK(tracker.record(1u << 30) == Arrival::out_of_range);
  CHECK(tracker.out_of_range() == 2);
  CHECK(tracker.delivered() == 0);
  CHECK(tracker.lost(10) == 10);
}

TEST_CASE("loss is counted only below the number sent", "[core][sequence]") {
  SequenceTracker tracker(1000);
  for (std::uint64_t n = 0; n < 130; n += 2) tracker.record(n);  // evens up to 128
  CHECK(tracker.lost(64) == 32);
  CHECK(tracker.lost(129) == 64);
  CHECK(tracker.lost(0) == 0);
}
