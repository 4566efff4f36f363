#include "net/metrics.hpp"

#ifdef UDPCHAT_HAS_METRICS

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <exception>
#include <mutex>
#include <vector>

namespace udpchat::net {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Stats = core::RelayStats;

// A counter as /metrics names and explains it (the log says the same figure by its field name).
template <class Figures>
struct Counter {
  const char* name;
  const char* help;
  std::uint64_t Figures::*field;
  bool backplane_only = false;
};

// The relay's own, added up over the shards.
constexpr Counter<Stats> kRelayCounters[] = {
    {"udpchat_datagrams_total", "Datagrams received", &Stats::datagrams},
    {"udpchat_joins_total", "Members that joined", &Stats::joins},
    {"udpchat_leaves_total", "Members that left with quit", &Stats::leaves},
    {"udpchat_expiries_total", "Members expired for silence", &Stats::expiries},
    {"udpchat_lines_total", "Chat lines relayed from local members", &Stats::lines},
    {"udpchat_deliveries_total", "Datagrams sent for lines (one per member reached)",
     &Stats::deliveries},
    {"udpchat_repaired_total", "Lines sent again to members that asked (+r1)", &Stats::repaired},
    {"udpchat_missed_total", "Lines asked for that had left the window", &Stats::missed},
    {"udpchat_credit_skipped_total", "Deliveries withheld from legacy members over credit",
     &Stats::credit_skipped},
    {"udpchat_remote_lines_total", "Lines from other nodes delivered here", &Stats::remote_lines,
     true},
    {"udpchat_remote_missed_total", "Lines from other nodes lost on the way", &Stats::remote_missed,
     true},
};

// The node's and its backplane's.
constexpr Counter<NodeFigures> kNodeCounters[] = {
    {"udpchat_receive_errors_total", "Receive errors survived", &NodeFigures::receive_errors},
    {"udpchat_send_errors_total", "Sends that failed", &NodeFigures::send_errors},
    {"udpchat_backplane_published_total", "Lines published to the engine",
     &NodeFigures::backplane_published, true},
    {"udpchat_backplane_publish_dropped_total",
     "Lines not published: the engine away and the buffer full",
     &NodeFigures::backplane_publish_dropped, true},
    {"udpchat_backplane_dropped_total", "Lines from the engine dropped: a queue full",
     &NodeFigures::backplane_dropped, true},
    {"udpchat_backplane_received_total", "Lines received from the engine",
     &NodeFigures::backplane_received, true},
    {"udpchat_backplane_malformed_total", "Envelopes from the engine that broke the rules",
     &NodeFigures::backplane_malformed, true},
    {"udpchat_backplane_gaps_total", "Jumps in another node's numbering (lines lost)",
     &NodeFigures::backplane_gaps, true},
};

MetricFamily family(std::string name, std::string help, MetricType type, double value) {
  ClientMetric metric;
  (type == MetricType::Gauge ? metric.gauge.value : metric.counter.value) = value;
  return {std::move(name), std::move(help), type, {metric}};
}

// The figures as families, built at each scrape from the last update.
class NodeCollectable final : public prometheus::Collectable {
 public:
  void update(const NodeFigures& figures) {
    std::lock_guard lock(mutex_);
    figures_ = figures;
  }

  std::vector<MetricFamily> Collect() const override {
    NodeFigures f;
    {
      std::lock_guard lock(mutex_);
      f = figures_;
    }
    auto as_double = [](auto value) { return static_cast<double>(value); };
    std::vector<MetricFamily> families = {
        family("udpchat_members", "Members now, all shards together", MetricType::Gauge,
               as_double(f.members)),
        family("udpchat_rooms", "Rooms with at least one member", MetricType::Gauge,
               as_double(f.rooms)),
        family("udpchat_shards", "Shards serving the node's address (serve --threads)",
               MetricType::Gauge, as_double(f.shards)),
    };
    for (const auto& c : kRelayCounters) {
      if (f.backplane || !c.backplane_only) {
        families.push_back(
            family(c.name, c.help, MetricType::Counter, as_double(f.relay.*c.field)));
      }
    }
    for (const auto& c : kNodeCounters) {
      if (f.backplane || !c.backplane_only) {
        families.push_back(family(c.name, c.help, MetricType::Counter, as_double(f.*c.field)));
      }
    }
    MetricFamily drops{
        "udpchat_dropped_total", "Datagrams dropped, by reason", MetricType::Counter, {}};
    for (std::size_t i = 0; i < core::kDropReasonCount; ++i) {
      ClientMetric metric;
      metric.label.push_back(
          {"reason", std::string(core::to_string(static_cast<core::DropReason>(i)))});
      metric.counter.value = as_double(f.relay.drops[i]);
      drops.metric.push_back(std::move(metric));
    }
    families.push_back(std::move(drops));
    if (f.backplane) {
      families.push_back(family("udpchat_backplane_connected",
                                "1 while the node is connected to its engine", MetricType::Gauge,
                                f.backplane_connected ? 1 : 0));
      families.push_back(family("udpchat_backplane_queue",
                                "Lines from the engine waiting for the node", MetricType::Gauge,
                                as_double(f.backplane_queue)));
    }
    return families;
  }

 private:
  mutable std::mutex mutex_;
  NodeFigures figures_;
};

class PrometheusEndpoint final : public MetricsEndpoint {
 public:
  PrometheusEndpoint(std::unique_ptr<prometheus::Exposer> exposer, std::string address)
      : exposer_(std::move(exposer)),
        collectable_(std::make_shared<NodeCollectable>()),
        address_(std::move(address)) {
    exposer_->RegisterCollectable(collectable_);
  }
  void update(const NodeFigures& figures) override { collectable_->update(figures); }
  std::string address() const override { return address_; }

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<NodeCollectable> collectable_;
  std::string address_;
};

}  // namespace

bool metrics_available() noexcept {
  return true;
}

std::unique_ptr<MetricsEndpoint> start_metrics(const std::string& address, std::string& error) {
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(address, 1);
    // civetweb may pick the port (0): the exposer knows which.
    const auto ports = exposer->GetListeningPorts();
    const std::string host = address.substr(0, address.rfind(':'));
    const std::string bound = ports.empty() ? address : host + ":" + std::to_string(ports.front());
    return std::make_unique<PrometheusEndpoint>(std::move(exposer), bound);
  } catch (const std::exception& e) {
    // civetweb's own words ("null context when constructing CivetServer") follow the likely cause.
    error = "cannot serve metrics on " + address +
            " (the port is in use, or the address is not this host's): " + e.what();
    return nullptr;
  }
}

}  // namespace udpchat::net

#else  // a build without prometheus-cpp

namespace udpchat::net {

bool metrics_available() noexcept {
  return false;
}

std::unique_ptr<MetricsEndpoint> start_metrics(const std::string&, std::string& error) {
  error = "this udpchat was built without metrics (prometheus-cpp was not found)";
  return nullptr;
}

}  // namespace udpchat::net

#endif
