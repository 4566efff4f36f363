// What the shards of one node (`serve --threads N`) hold in common, so that the node behaves as
// one relay: one cookie secret (a cookie issued by one shard verifies on any), one member count
// for --max-clients, one holder per nick in a room, one budget per stranger source, one egress
// budget, and the rooms' numbering and history. Thread-safe; everything else in a shard is its
// own. A relay on its own owns one: the same code runs alone and as a shard.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/cookie.hpp"
#include "core/history.hpp"
#include "core/peer.hpp"
#include "core/rate_limiter.hpp"
#include "core/relay_config.hpp"
#include "core/time.hpp"

namespace udpchat::core {

class NodeShare {
 public:
  NodeShare(const RelayConfig& config, TimePoint now);

  const CookieJar::Secret& cookie_secret() const noexcept { return secret_; }
  TimePoint cookie_epoch() const noexcept { return epoch_; }

  // Takes a member slot while fewer than `max` are taken.
  bool admit(std::size_t max) noexcept;
  void release() noexcept;
  std::size_t members() const noexcept { return members_.load(std::memory_order_relaxed); }

  // The nick in the room for `peer`: false when another member holds it.
  bool claim_nick(std::string_view room, std::string_view nick, const Peer& peer);
  void release_nick(std::string_view room, std::string_view nick, const Peer& peer);

  bool limits_on() const noexcept { return limiter_.has_value(); }
  bool allow_datagram(const Peer& peer, TimePoint now);
  bool allow_cookie(const Peer& peer, TimePoint now);
  bool egress_on() const noexcept { return egress_.has_value(); }
  bool allow_egress(double bytes, TimePoint now);

  History& history() noexcept { return history_; }
  const History& history() const noexcept { return history_; }

 private:
  CookieJar::Secret secret_{};
  TimePoint epoch_;
  std::atomic<std::size_t> members_{0};
  std::mutex nicks_mutex_;
  std::map<std::string, Peer> nicks_;  // "room\nnick"
  std::mutex limits_mutex_;
  std::optional<RateLimiter> limiter_;
  std::optional<EgressBudget> egress_;
  History history_;
};

}  // namespace udpchat::core
