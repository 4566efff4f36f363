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
    std::vector<MetricFamily> families;
    auto gauge = [&](std::string name, std::string help, double value) {
      ClientMetric metric;
      metric.gauge.value = value;
      families.push_back({std::move(name), std::move(help), MetricType::Gauge, {metric}});
    };
    auto counter = [&](std::string name, std::string help, double value) {
      ClientMetric metric;
      metric.counter.value = value;
      families.push_back({std::move(name), std::move(help), MetricType::Counter, {metric}});
    };
    const core::RelayStats& r = f.relay;
    gauge("udpchat_members", "Members now, all shards together", static_cast<double>(f.members));
    gauge("udpchat_rooms", "Rooms with at least one member", static_cast<double>(f.rooms));
    gauge("udpchat_shards", "Shards serving the node's address (serve --threads)",
          static_cast<double>(f.shards));
    counter("udpchat_datagrams_total", "Datagrams received", static_cast<double>(r.datagrams));
    counter("udpchat_joins_total", "Members that joined", static_cast<double>(r.joins));
    counter("udpchat_leaves_total", "Members that left with quit", static_cast<double>(r.leaves));
    counter("udpchat_expiries_total", "Members expired for silence", static_cast<double>(r.expiries));
    counter("udpchat_lines_total", "Chat lines relayed from local members", static_cast<double>(r.lines));
    counter("udpchat_deliveries_total", "Datagrams sent for lines (one per member reached)",
            static_cast<double>(r.deliveries));
    counter("udpchat_repaired_total", "Lines sent again to members that asked (+r1)",
            static_cast<double>(r.repaired));
    counter("udpchat_missed_total", "Lines asked for that had left the window",
            static_cast<double>(r.missed));
    counter("udpchat_credit_skipped_total", "Deliveries withheld from legacy members over credit",
            static_cast<double>(r.credit_skipped));
    counter("udpchat_receive_errors_total", "Receive errors survived", static_cast<double>(f.receive_errors));
    counter("udpchat_send_errors_total", "Sends that failed", static_cast<double>(f.send_errors));
    MetricFamily drops{"udpchat_dropped_total", "Datagrams dropped, by reason", MetricType::Counter, {}};
    for (std::size_t i = 0; i < core::kDropReasonCount; ++i) {
      ClientMetric metric;
      metric.label.push_back({"reason", std::string(core::to_string(static_cast<core::DropReason>(i)))});
      metric.counter.value = static_cast<double>(r.drops[i]);
      drops.metric.push_back(std::move(metric));
    }
    families.push_back(std::move(drops));
    if (f.backplane) {
      gauge("udpchat_backplane_connected", "1 while the node is connected to its engine",
            f.backplane_connected ? 1 : 0);
      gauge("udpchat_backplane_queue", "Lines from the engine waiting for the node",
            static_cast<double>(f.backplane_queue));
      counter("udpchat_backplane_published_total", "Lines published to the engine",
              static_cast<double>(f.backplane_published));
      counter("udpchat_backplane_publish_dropped_total",
              "Lines not published: the engine away and the buffer full",
              static_cast<double>(f.backplane_publish_dropped));
      counter("udpchat_backplane_dropped_total", "Lines from the engine dropped: the queue full",
              static_cast<double>(f.backplane_dropped));
      counter("udpchat_backplane_received_total", "Lines received from the engine",
              static_cast<double>(f.backplane_received));
      counter("udpchat_backplane_malformed_total", "Envelopes from the engine that broke the rules",
              static_cast<double>(f.backplane_malformed));
      counter("udpchat_backplane_gaps_total", "Jumps in another node's numbering (lines lost)",
              static_cast<double>(f.backplane_gaps));
      counter("udpchat_remote_lines_total", "Lines from other nodes delivered here",
              static_cast<double>(r.remote_lines));
      counter("udpchat_remote_missed_total", "Lines from other nodes lost on the way",
              static_cast<double>(r.remote_missed));
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

bool metrics_available() noexcept { return true; }

std::unique_ptr<MetricsEndpoint> start_metrics(const std::string& address, std::string& error) {
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(address, 1);
    // civetweb may pick the port (0): the exposer knows which.
    const auto ports = exposer->GetListeningPorts();
    const std::string host = address.substr(0, address.rfind(':'));
    const std::string bound = ports.empty() ? address : host + ":" + std::to_string(ports.front());
    return std::make_unique<PrometheusEndpoint>(std::move(exposer), bound);
  } catch (const std::exception& e) {
    error = "cannot serve metrics on " + address + ": " + e.what();
    return nullptr;
  }
}

}  // namespace udpchat::net

#else  // a build without prometheus-cpp

namespace udpchat::net {

bool metrics_available() noexcept { return false; }

std::unique_ptr<MetricsEndpoint> start_metrics(const std::string&, std::string& error) {
  error = "this udpchat was built without metrics (prometheus-cpp was not found)";
  return nullptr;
}

}  // namespace udpchat::net

#endif
