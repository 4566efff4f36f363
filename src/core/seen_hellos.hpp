// The handshakes the relay answered, by the ephemeral key of their first message, for as long as
// the cookie each carried could still verify. A hello sent again (an on-path replay, within its
// cookie's life) is refused before it reapplies an old join or replaces the live session: a
// client's every hello has a fresh ephemeral key, so only a copy repeats one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
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
  // 65,536 handshakes in 31 s; beyond that hellos wait (a counted drop) rather than memory grow.
  static constexpr std::size_t kCapacity = 65'536;

  bool seen(const Ephemeral& ephemeral, TimePoint now);
  // False, remembering nothing, when kCapacity handshakes are remembered.
  bool remember(const Ephemeral& ephemeral, TimePoint now);
  std::size_t size() const noexcept { return order_.size(); }

 private:
  struct Hash {
    // Ephemeral public keys are random: any 8 of their bytes hash them.
    std::size_t operator()(const Ephemeral& key) const noexcept {
      std::uint64_t h = 0;
      std::memcpy(&h, key.data(), sizeof h);
      return static_cast<std::size_t>(h);
    }
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
