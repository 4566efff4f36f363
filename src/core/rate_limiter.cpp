#include "core/rate_limiter.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace udpchat::core {

namespace {

std::int64_t nanoseconds_of(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

}  // namespace

RateLimiter::RateLimiter(TokenBucket datagrams, TokenBucket cookies, std::size_t slots)
    : datagrams_(datagrams),
      cookies_(cookies),
      entries_(std::max<std::size_t>(kWays, (slots + kWays - 1) / kWays * kWays)) {}

RateLimiter::Key RateLimiter::source_of(const Peer& peer) noexcept {
  Key key = peer.address;
  // Port ignored; for IPv6 only the /64 counts.
  if (!peer.is_v4_mapped()) std::fill(key.begin() + 8, key.end(), std::uint8_t{0});
  return key;
}

RateLimiter::Entry& RateLimiter::find(const Peer& peer, TimePoint now) {
  Peer source;
  source.address = source_of(peer);
  const std::size_t sets = entries_.size() / kWays;
  Entry* set = &entries_[(PeerHash{}(source) % sets) * kWays];
  const std::int64_t now_ns = nanoseconds_of(now);
  Entry* victim = &set[0];
  for (std::size_t way = 0; way < kWays; ++way) {
    Entry& entry = set[way];
    if (entry.used && entry.key == source.address) {
      // Both budgets are brought up to now together: the clock moves for the entry, not for
      // one budget (crediting one alone lost the time for the other).
      const double elapsed_s =
          static_cast<double>(std::max<std::int64_t>(0, now_ns - entry.last_ns)) * 1e-9;
      entry.datagram_tokens =
          static_cast<float>(datagrams_.refill(entry.datagram_tokens, elapsed_s));
      entry.cookie_tokens = static_cast<float>(cookies_.refill(entry.cookie_tokens, elapsed_s));
      entry.last_ns = now_ns;
      return entry;
    }
    if (!entry.used) {
      victim = &entry;
    } else if (victim->used && entry.last_ns < victim->last_ns) {
      victim = &entry;
    }
  }
  if (victim->used) ++recycled_;
  *victim = Entry{source.address, true, static_cast<float>(datagrams_.burst),
                  static_cast<float>(cookies_.burst), now_ns};
  return *victim;
}

bool RateLimiter::take(float& tokens, const TokenBucket& bucket) {
  if (bucket.rate <= 0) return true;  // this budget is off
  if (tokens < 1.0f) return false;
  tokens -= 1.0f;
  return true;
}

bool RateLimiter::allow_datagram(const Peer& peer, TimePoint now) {
  return take(find(peer, now).datagram_tokens, datagrams_);
}

bool RateLimiter::allow_cookie(const Peer& peer, TimePoint now) {
  return take(find(peer, now).cookie_tokens, cookies_);
}

bool BucketState::take(const TokenBucket& bucket, TimePoint now) noexcept {
  if (bucket.rate <= 0) return true;
  const std::int64_t now_ns = nanoseconds_of(now);
  const double elapsed =
      started ? static_cast<double>(std::max<std::int64_t>(0, now_ns - last_ns)) * 1e-9 : 0.0;
  if (!started) tokens = static_cast<float>(bucket.burst);
  started = true;
  last_ns = now_ns;
  tokens = static_cast<float>(bucket.refill(tokens, elapsed));
  if (tokens < 1.0f) return false;
  tokens -= 1.0f;
  return true;
}

EgressBudget::EgressBudget(double bytes_per_second) noexcept
    : rate_(bytes_per_second), tokens_(bytes_per_second) {}

bool EgressBudget::allow(double bytes, TimePoint now) noexcept {
  if (started_) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    // A second's worth at most: the burst is the rate.
    tokens_ = TokenBucket{rate_, rate_}.refill(tokens_, elapsed);
  }
  started_ = true;
  last_ = now;
  if (bytes > tokens_) return false;
  tokens_ -= bytes;
  return true;
}

}  // namespace udpchat::core
