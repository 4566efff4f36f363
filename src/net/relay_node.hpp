// One serve node: N shards, each a RelayServer with its own socket bound to the node's address
// (SO_REUSEPORT: the kernel keeps each client address on one socket), its own thread and
// io_context, and its own relay state for the members whose datagrams reach it. A line reaches
// the other shards through an in-process bus shaped like the backplane (the same envelopes,
// the same room routing), handed over in batches; what must be the node's (seats, nicks,
// cookies, budgets) is one core::NodeShare. The node owns the signals, --duration, the stats
// and totals, and the backplane: a line goes to the engine once per node, and every shard gets
// what the engine brings.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "core/relay.hpp"
#include "net/asio_compat.hpp"
#include "net/backplane.hpp"
#include "net/log.hpp"

namespace udpchat::net {

struct NodeConfig {
  core::RelayConfig relay;
  std::size_t threads = 1;
  core::Duration stats_interval = std::chrono::seconds(60);
  core::Duration duration{};  // zero: until a signal
  std::optional<BackplaneConfig> backplane;
  std::string metrics;  // HOST:PORT for /metrics; empty: none
};

// The number of shards a platform can run: datagrams are spread over sockets only where the
// kernel balances a SO_REUSEPORT group by address (Linux).
bool can_shard() noexcept;

class RelayNode {
 public:
  // Binds every shard's socket to `local`. Null with `error` set when the address cannot be
  // had (in use, not ours).
  static std::unique_ptr<RelayNode> bind(asio::io_context& io, const udp::endpoint& local,
                                         NodeConfig config, const Logger& log, std::string& error);
  ~RelayNode();
  RelayNode(const RelayNode&) = delete;
  RelayNode& operator=(const RelayNode&) = delete;

  udp::endpoint local_endpoint() const;
  std::size_t shards() const noexcept;
  // Starts the backplane (when configured). Null result and `error` only for a bad
  // configuration; the engine itself may come later.
  bool start_backplane(std::string& error);
  // Starts serving /metrics (when configured); false with `error` set when it cannot.
  bool start_metrics(std::string& error);
  // Serves until SIGINT, SIGTERM, SIGHUP or --duration; every member then gets `end`. False
  // when a shard failed (its socket broke).
  bool run();

 private:
  struct Impl;
  explicit RelayNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace udpchat::net
