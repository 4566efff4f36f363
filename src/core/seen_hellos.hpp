// The handshakes the relay answered, by the ephemeral key of their first message, for as long as
// the cookie each carried could still verify. A hello sent again (an on-path replay, within its
// cookie's life) is refused before it reapplies an old join or replaces the live session: a
// client's every hello has a fresh ephemeral key, so only a copy repeats one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_set>

#include "core/cookie.hpp"
#include "core/time.hpp"

namespace udpchat::core {

class SeenHellos {
 public:
  using Ephemeral = std::array<std::uint8_t, 32>;
  // A hello's cookie verifies for CookieJar::kLifetime after it was issued, so no hello answered
  // longer ago can come back verified.
  static constexpr Duration kKeep = CookieJar::kLifetime + std::chrono::seconds(1);
  // At most this many (a flood of handshakes costs no more memory): beyond, the oldest goes
  // first. Forgetting one early only lets its copy in: a live sealed member's address takes no
  // hello in the clear at all, so a copy can at most rejoin a member that left, with keys the
  // copier does not have, until it expires.
  static constexpr std::size_t kCapacity = 65'536;

  SeenHellos();
  bool seen(const Ephemeral& ephemeral, TimePoint now);
  void remember(const Ephemeral& ephemeral, TimePoint now);
  std::size_t size() const noexcept { return order_.size(); }

 private:
  struct Hash {
    // Keyed (SipHash, a random key): the keys are the sender's choice, their buckets are not.
    std::array<unsigned char, 16> key{};
    std::size_t operator()(const Ephemeral& ephemeral) const noexcept;
  };
  struct Entry {
    TimePoint at;
    Ephemeral key;
  };

  void forget_before(TimePoint now);

  std::deque<Entry> order_;  // oldest first
  std::unordered_set<Ephemeral, Hash> keys_;
};

}  // namespace udpchat::core
