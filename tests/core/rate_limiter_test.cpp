#include "core/rate_limiter.hpp"

#include "support/catch.hpp"
#include "support/core_fixture.hpp"

using namespace std::chrono_literals;
using udpchat::core::EgressBudget;
using udpchat::core::Peer;
using udpchat::core::RateLimiter;
using udpchat::core::TimePoint;

namespace {
using udpchat::test::t0;

Peer v6(std::uint8_t subnet_byte, std::uint8_t host_byte, std::uint16_t port) {
  Peer peer;
  peer.address[0] = 0x20;
  peer.address[1] = 0x01;
  peer.address[7] = subnet_byte;
  peer.address[15] = host_byte;
  peer.port = port;
  return peer;
}

int allowed(RateLimiter& limiter, const Peer& peer, int tries, TimePoint now) {
  int count = 0;
  for (int i = 0; i < tries; ++i) count += limiter.allow_datagram(peer, now) ? 1 : 0;
  return count;
}
}  // namespace

TEST_CASE("a source gets its burst at once, then its rate", "[core][limiter]") {
  RateLimiter limiter({200, 400}, {10, 20}, 1024);
  const Peer a = Peer::v4(192, 0, 2, 1, 1000);
  CHECK(allowed(limiter, a, 1000, t0) == 400);
  CHECK(allowed(limiter, a, 1000, t0 + 1s) == 200);
  CHECK(allowed(limiter, a, 1000, t0 + 1s + 10ms) == 2);
  // Idle long enough, the bucket is full again but never above the burst.
  CHECK(allowed(limiter, a, 1000, t0 + 1h) == 400);
}

TEST_CASE("every port of an IPv4 address shares one budget", "[core][limiter]") {
  RateLimiter limiter({100, 100}, {10, 20}, 1024);
  int total = 0;
  for (std::uint16_t port = 1; port <= 50; ++port) {
    total += allowed(limiter, Peer::v4(192, 0, 2, 1, port), 10, t0);
  }
  CHECK(total == 100);
  CHECK(allowed(limiter, Peer::v4(192, 0, 2, 2, 1), 10, t0) == 10);  // another address
}

TEST_CASE("an IPv6 /64 is one source", "[core][limiter]") {
  RateLimiter limiter({100, 100}, {10, 20}, 1024);
  CHECK(allowed(limiter, v6(1, 1, 1), 60, t0) == 60);
  CHECK(allowed(limiter, v6(1, 2, 9), 60, t0) == 40);  // same /64, other host
  CHECK(allowed(limiter, v6(2, 1, 1), 60, t0) == 60);  // another /64
}

TEST_CASE("cookie requests have a smaller budget of their own", "[core][limiter]") {
  RateLimiter limiter({200, 400}, {10, 20}, 1024);
  const Peer a = Peer::v4(192, 0, 2, 1, 1000);
  int cookies = 0;
  for (int i = 0; i < 100; ++i) {
    if (limiter.allow_datagram(a, t0) && limiter.allow_cookie(a, t0)) ++cookies;
  }
  CHECK(cookies == 20);
  limiter.allow_datagram(a, t0 + 1s);
  int later = 0;
  for (int i = 0; i < 100; ++i) later += limiter.allow_cookie(a, t0 + 1s) ? 1 : 0;
  CHECK(later == 10);
}

TEST_CASE("the cookie budget refills with time when the datagram budget is off",
          "[core][limiter]") {
  // A sealed hello spends the cookie budget without passing the datagram budget.
  RateLimiter limiter({0, 0}, {10, 20}, 1024);
  const Peer a = Peer::v4(192, 0, 2, 1, 1000);
  int cookies = 0;
  for (int i = 0; i < 100; ++i) cookies += limiter.allow_cookie(a, t0) ? 1 : 0;
  CHECK(cookies == 20);
  int later = 0;
  for (int i = 0; i < 100; ++i) later += limiter.allow_cookie(a, t0 + 1s) ? 1 : 0;
  CHECK(later == 10);
}

TEST_CASE("a flood of new sources recycles idle entries and never grows the table",
          "[core][limiter]") {
  RateLimiter limiter({10, 10}, {1, 1}, 64);
  const auto capacity = limiter.capacity();
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    const Peer forged =
        Peer::v4(10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                 static_cast<std::uint8_t>(i), 9);
    CHECK(limiter.allow_datagram(forged, t0 + std::chrono::microseconds(i)));
  }
  CHECK(limiter.capacity() == capacity);
  CHECK(limiter.recycled() >= 100'000 - capacity);
}

TEST_CASE("a rate of zero turns a budget off", "[core][limiter]") {
  RateLimiter limiter({0, 0}, {0, 0}, 64);
  const Peer a = Peer::v4(192, 0, 2, 1, 1000);
  CHECK(allowed(limiter, a, 10'000, t0) == 10'000);
  CHECK(limiter.allow_cookie(a, t0));
}

TEST_CASE("the egress budget admits whole fan-outs up to its rate", "[core][limiter]") {
  EgressBudget budget(10'000);
  CHECK(budget.allow(6'000, t0));
  CHECK_FALSE(budget.allow(6'000, t0));  // all or nothing
  CHECK(budget.allow(4'000, t0));
  CHECK_FALSE(budget.allow(1, t0));
  CHECK(budget.allow(5'000, t0 + 500ms));
  CHECK_FALSE(budget.allow(20'000, t0 + 1h));  // never more than one second's worth
}
