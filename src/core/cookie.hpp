// Stateless join cookies: proof that a client receives datagrams at the address it sends from,
// so that the relay never sends a stranger more than the stranger sent it.
#pragma once

#include <array>
#include <chrono>
#include <string>
#include <string_view>

#include "core/peer.hpp"
#include "core/time.hpp"

namespace udpchat::core {

class CookieJar {
 public:
  static constexpr Duration kLifetime = std::chrono::seconds(30);
  static constexpr Duration kRotation = std::chrono::minutes(2);

  using Secret = std::array<unsigned char, 32>;

  // Keys derived from a random secret, generations counted from `now`.
  explicit CookieJar(TimePoint now);
  // Keys derived from `secret`, generations counted from `epoch`: jars built alike issue and
  // verify the same cookies (the shards of one node).
  CookieJar(TimePoint epoch, const Secret& secret);

  // A token of [A-Za-z0-9_-]: a time stamp and a truncated keyed MAC (BLAKE2b) over the time
  // stamp and the peer's address and port.
  std::string issue(const Peer& peer, TimePoint now);

  // True if `token` was issued to this peer within kLifetime under the current or the previous
  // key. Compares in constant time.
  bool verify(std::string_view token, const Peer& peer, TimePoint now);

 private:
  using Key = std::array<unsigned char, 32>;

  void rotate_keys(TimePoint now);
  std::uint64_t millis_since_epoch(TimePoint now) const;

  Key derive(std::int64_t generation) const;

  TimePoint epoch_;
  Secret secret_{};
  std::int64_t generation_ = 0;
  Key current_{};
  Key previous_{};
};

}  // namespace udpchat::core
