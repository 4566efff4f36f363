#include "core/pacer.hpp"

#include "support/catch.hpp"

using namespace std::chrono_literals;
using udpchat::core::Pacer;
using udpchat::core::TimePoint;

TEST_CASE("the pacer spaces messages evenly from the start", "[core][pacer]") {
  const TimePoint start{1h};
  const Pacer pacer(1000, start);  // one per millisecond
  CHECK(pacer.intended(0) == start);
  CHECK(pacer.intended(1) == start + 1ms);
  CHECK(pacer.intended(1000) == start + 1s);
  CHECK(pacer.due_by(start - 1ns) == 0);
  CHECK(pacer.due_by(start) == 1);
  CHECK(pacer.due_by(start + 999us) == 1);
  CHECK(pacer.due_by(start + 1ms) == 2);
}

TEST_CASE("after a stall every missed message is due at once, with its original time",
          "[core][pacer]") {
  const TimePoint start{1h};
  const Pacer pacer(10'000, start);
  const auto due = pacer.due_by(start + 50ms);  // the sender slept for 50 ms
  CHECK(due == 501);
  // Their intended times are where the schedule put them, not when they finally leave.
  CHECK(pacer.intended(250) == start + 25ms);
  for (std::uint64_t n = 0; n + 1 < due; ++n) CHECK(pacer.intended(n) < pacer.intended(n + 1));
}

TEST_CASE("fractional rates keep their average", "[core][pacer]") {
  const TimePoint start{1h};
  const Pacer pacer(3, start);
  CHECK(pacer.due_by(start + 10s) == 31);
  CHECK(pacer.intended(3) == start + 1s);
}
