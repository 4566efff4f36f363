#include "core/backoff.hpp"

#include "support/catch.hpp"

using namespace std::chrono_literals;
using udpchat::core::Backoff;
using udpchat::core::reconnect_delay;

TEST_CASE("reconnect delay doubles per round up to the cap", "[core][backoff]") {
  const Backoff backoff{100ms, 2s};
  CHECK(reconnect_delay(backoff, 1, 0.0) == 100ms);
  CHECK(reconnect_delay(backoff, 2, 0.0) == 200ms);
  CHECK(reconnect_delay(backoff, 4, 0.0) == 800ms);
  CHECK(reconnect_delay(backoff, 6, 0.0) == 2s);
  CHECK(reconnect_delay(backoff, 1'000'000, 0.0) == 2s);  // forever stays bounded
}

TEST_CASE("reconnect jitter adds at most a quarter", "[core][backoff]") {
  const Backoff backoff{100ms, 2s};
  CHECK(reconnect_delay(backoff, 1, 0.999) > 124ms);
  CHECK(reconnect_delay(backoff, 1, 0.999) <= 125ms);
  CHECK(reconnect_delay(backoff, 1, 0.5) == 112500us);
  CHECK(reconnect_delay(backoff, 1, 7.0) == 125ms);  // out-of-range draws are clamped
  CHECK(reconnect_delay(backoff, 0, 0.0) == 100ms);
}
