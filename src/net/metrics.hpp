// serve --metrics: the node's figures, the process's and the build's in Prometheus text
// exposition at /metrics (prometheus-cpp's serializer), served over HTTP by cpp-httplib on its own
// threads, on IPv4 or IPv6. A scrape reads the figures the node last gathered (every second),
// never the shards themselves.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/relay.hpp"

namespace udpchat::net {

// A node's figures at one moment: its shards' added up, and its backplane's.
struct NodeFigures {
  core::RelayStats relay;
  std::size_t members = 0;
  std::size_t rooms = 0;
  std::size_t shards = 1;
  std::uint64_t receive_errors = 0;
  std::uint64_t send_errors = 0;
  std::size_t history_bytes = 0;  // all rooms' windows (within --history-memory)
  std::size_t kept_rooms = 0;     // rooms without members keeping their history (--history-ttl)
  bool backplane = false;         // the node has one
  bool backplane_connected = false;
  std::size_t backplane_queue = 0;  // lines from the engine waiting for the node
  std::uint64_t backplane_published = 0;
  std::uint64_t backplane_publish_dropped = 0;
  std::uint64_t backplane_dropped = 0;  // inbound, the queue being full
  std::uint64_t backplane_received = 0;
  std::uint64_t backplane_own = 0;
  std::uint64_t backplane_malformed = 0;
  std::uint64_t backplane_gaps = 0;
  std::uint64_t remote_lines = 0;     // lines from other nodes relayed to the node's rooms
  std::uint64_t remote_unrouted = 0;  // lines from other nodes for a room with no member here
  std::uint64_t remote_missed = 0;    // lines from other nodes lost on the way (gaps seen)
};

class MetricsEndpoint {
 public:
  virtual ~MetricsEndpoint() = default;
  // Thread-safe: the node calls it on its thread, scrapes read on the exposer's.
  virtual void update(const NodeFigures& figures) = 0;
  virtual std::string address() const = 0;
};

// True when this build can serve metrics (prometheus-cpp was found).
bool metrics_available() noexcept;

// Serves /metrics on `address` (HOST:PORT, [V6]:PORT, :PORT for every address). Null with
// `error` set when it cannot listen there or this build has no metrics.
std::unique_ptr<MetricsEndpoint> start_metrics(const std::string& address, std::string& error);

}  // namespace udpchat::net
