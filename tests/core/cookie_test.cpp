#include "core/cookie.hpp"

#include "support/catch.hpp"
#include "support/core_fixture.hpp"

using namespace std::chrono_literals;
using udpchat::core::CookieJar;
using udpchat::core::Peer;
using udpchat::core::TimePoint;

namespace {
using udpchat::test::t0;
const Peer alice = Peer::v4(127, 0, 0, 1, 40000);
}  // namespace

TEST_CASE("a cookie verifies for the address it was issued to while fresh", "[core][cookie]") {
  CookieJar jar(t0);
  const std::string token = jar.issue(alice, t0 + 1s);
  CHECK(token.size() <= 64);
  CHECK(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
      std::string::npos);
  CHECK(jar.verify(token, alice, t0 + 1s));
  CHECK(jar.verify(token, alice, t0 + 31s));
}

TEST_CASE("a cookie expires 30 seconds after it was issued", "[core][cookie]") {
  CookieJar jar(t0);
  const std::string token = jar.issue(alice, t0 + 1s);
  CHECK(jar.verify(token, alice, t0 + 30s));
  CHECK_FALSE(jar.verify(token, alice, t0 + 31s + 1ms));
  CHECK_FALSE(jar.verify(token, alice, t0 + 10min));
}

TEST_CASE("a cookie is refused from another address or port", "[core][cookie]") {
  CookieJar jar(t0);
  const std::string token = jar.issue(alice, t0);
  CHECK_FALSE(jar.verify(token, Peer::v4(127, 0, 0, 1, 40001), t0));
  CHECK_FALSE(jar.verify(token, Peer::v4(127, 0, 0, 2, 40000), t0));
}

TEST_CASE("a forged or damaged cookie is refused", "[core][cookie]") {
  CookieJar jar(t0);
  std::string token = jar.issue(alice, t0);
  for (std::size_t i = 0; i < token.size(); ++i) {
    std::string damaged = token;
    damaged[i] = damaged[i] == 'A' ? 'B' : 'A';
    CHECK_FALSE(jar.verify(damaged, alice, t0));
  }
  CHECK_FALSE(jar.verify("", alice, t0));
  CHECK_FALSE(jar.verify(token + "A", alice, t0));
  CHECK_FALSE(jar.verify(token.substr(1), alice, t0));
  CHECK_FALSE(jar.verify(std::string(token.size(), '!'), alice, t0));
  // Another relay's key: same format, different MAC.
  CookieJar other(t0);
  CHECK_FALSE(other.verify(token, alice, t0));
}

TEST_CASE("a cookie issued just before a key rotation is still accepted after it",
          "[core][cookie]") {
  CookieJar jar(t0);
  const auto before_rotation = t0 + CookieJar::kRotation - 5s;
  const std::string token = jar.issue(alice, before_rotation);
  const std::string fresh = jar.issue(alice, t0 + CookieJar::kRotation + 5s);
  CHECK(jar.verify(token, alice, t0 + CookieJar::kRotation + 5s));
  CHECK(jar.verify(fresh, alice, t0 + CookieJar::kRotation + 5s));
}

TEST_CASE("a cookie from the future is refused", "[core][cookie]") {
  CookieJar jar(t0);
  const std::string token = jar.issue(alice, t0 + 20s);
  CHECK_FALSE(jar.verify(token, alice, t0 + 10s));
}
