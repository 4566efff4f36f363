// Per-source token buckets in a fixed-size table: an IPv4 address or an IPv6 /64 is one source
// (a host owns its /64). The table never grows; a new source takes an empty slot or the one
// idle longest in its set, so a flood of new (or forged) sources cannot exhaust memory.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/peer.hpp"
#include "core/time.hpp"

namespace udpchat::core {

struct TokenBucket {
  double rate = 0;   // tokens per second
  double burst = 0;  // most tokens held

  // `tokens` after `elapsed_s` seconds of refill: the one refill every budget uses.
  constexpr double refill(double tokens, double elapsed_s) const noexcept {
    const double refilled = tokens + rate * (elapsed_s > 0 ? elapsed_s : 0.0);
    return refilled < burst ? refilled : burst;
  }
};

// One bucket's state, for a budget that belongs to one holder (a member's own).
struct BucketState {
  float tokens = 0;
  std::int64_t last_ns = 0;
  bool started = false;
  // Takes a token; false when none is left. A first call starts full.
  bool take(const TokenBucket& bucket, TimePoint now) noexcept;
};

class RateLimiter {
 public:
  // `slots` is rounded up to a whole number of sets.
  RateLimiter(TokenBucket datagrams, TokenBucket cookies, std::size_t slots);

  // Takes one datagram token from `peer`'s source; false when it has none left.
  bool allow_datagram(const Peer& peer, TimePoint now);
  // Takes one cookie-request token (the lower budget for padded `reg`), after allow_datagram.
  bool allow_cookie(const Peer& peer, TimePoint now);

  std::size_t capacity() const noexcept { return entries_.size(); }
  std::uint64_t recycled() const noexcept { return recycled_; }

 private:
  static constexpr std::size_t kWays = 8;
  using Key = std::array<std::uint8_t, 16>;
  struct Entry {
    Key key{};
    bool used = false;
    float datagram_tokens = 0;
    float cookie_tokens = 0;
    std::int64_t last_ns = 0;
  };

  static Key source_of(const Peer& peer) noexcept;
  Entry& find(const Peer& peer, TimePoint now);
  static bool take(float& tokens, const TokenBucket& bucket);

  TokenBucket datagrams_;
  TokenBucket cookies_;
  std::vector<Entry> entries_;
  std::uint64_t recycled_ = 0;
};

// A single budget shared by everything the relay fans out (bytes per second).
class EgressBudget {
 public:
  explicit EgressBudget(double bytes_per_second) noexcept;
  // True (and charged) if `bytes` fit the budget now; a fan-out is all or nothing.
  bool allow(double bytes, TimePoint now) noexcept;

 private:
  double rate_;
  double tokens_;
  TimePoint last_{};
  bool started_ = false;
};

}  // namespace udpchat::core
