#include "core/node_share.hpp"

#include <sodium.h>

#include <cstdlib>

namespace udpchat::core {

NodeShare::NodeShare(const RelayConfig& config, TimePoint now)
    : epoch_(now),
      history_({.lines = config.history_lines,
                .room_bytes = config.history_room_bytes,
                .total_bytes = config.history_total_bytes,
                .ttl = config.history_ttl},
               config.rooms) {
  if (sodium_init() < 0) std::abort();
  randombytes_buf(secret_.data(), secret_.size());
  if (config.datagram_limit.rate > 0 || config.cookie_limit.rate > 0) {
    limiter_.emplace(config.datagram_limit, config.cookie_limit, config.limiter_slots);
  }
  if (config.max_egress > 0) egress_.emplace(config.max_egress);
}

bool NodeShare::admit(std::size_t max) noexcept {
  std::size_t taken = members_.load(std::memory_order_relaxed);
  while (taken < max) {
    if (members_.compare_exchange_weak(taken, taken + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

void NodeShare::release() noexcept {
  members_.fetch_sub(1, std::memory_order_relaxed);
}

namespace {
std::string nick_key(std::string_view room, std::string_view nick) {
  std::string key(room);
  key.push_back('\n');
  key.append(nick);
  return key;
}
}  // namespace

bool NodeShare::claim_nick(std::string_view room, std::string_view nick, const Peer& peer) {
  std::lock_guard lock(nicks_mutex_);
  const auto [it, claimed] = nicks_.try_emplace(nick_key(room, nick), peer);
  return claimed || it->second == peer;
}

void NodeShare::release_nick(std::string_view room, std::string_view nick, const Peer& peer) {
  std::lock_guard lock(nicks_mutex_);
  const auto it = nicks_.find(nick_key(room, nick));
  if (it != nicks_.end() && it->second == peer) nicks_.erase(it);
}

bool NodeShare::allow_datagram(const Peer& peer, TimePoint now) {
  std::lock_guard lock(limits_mutex_);
  return !limiter_ || limiter_->allow_datagram(peer, now);
}

bool NodeShare::allow_cookie(const Peer& peer, TimePoint now) {
  std::lock_guard lock(limits_mutex_);
  return !limiter_ || limiter_->allow_cookie(peer, now);
}

bool NodeShare::allow_egress(double bytes, TimePoint now) {
  std::lock_guard lock(limits_mutex_);
  return !egress_ || egress_->allow(bytes, now);
}

}  // namespace udpchat::core
