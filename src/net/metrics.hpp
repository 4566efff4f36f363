// serve --metrics: the node's figures, the process's and the build's in Prometheus text
// exposition at /metrics (prometheus-cpp's serializer), served over HTTP by cpp-httplib on its own
// threads, on IPv4 or IPv6. A scrape reads the figures the node last gathered (every second),
// never the shards themselves.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "net/node_figures.hpp"

namespace udpchat::net {

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
