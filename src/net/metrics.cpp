#include "net/metrics.hpp"

#ifdef UDPCHAT_HAS_METRICS

#include <httplib.h>
#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <exception>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#ifdef __unix__
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#endif

#include "net/address.hpp"

namespace udpchat::net {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
MetricFamily family(std::string name, std::string help, MetricType type, double value) {
  ClientMetric metric;
  (type == MetricType::Gauge ? metric.gauge.value : metric.counter.value) = value;
  return {std::move(name), std::move(help), type, {metric}};
}

// The process itself, as Prometheus' own clients name it (Linux; elsewhere what POSIX gives).
void add_process_families(std::vector<MetricFamily>& families) {
#ifdef __unix__
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    const auto seconds = [](const timeval& t) {
      return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    families.push_back(
        family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds",
               MetricType::Counter, seconds(usage.ru_utime) + seconds(usage.ru_stime)));
  }
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
    families.push_back(family("process_max_fds", "Maximum number of open file descriptors",
                              MetricType::Gauge, static_cast<double>(files.rlim_cur)));
  }
#endif
#ifdef __linux__
  std::error_code ec;
  std::size_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  if (!ec) {
    families.push_back(family("process_open_fds", "Number of open file descriptors",
                              MetricType::Gauge, static_cast<double>(fds)));
  }
  std::ifstream statm("/proc/self/statm");
  double virtual_pages = 0;
  double resident_pages = 0;
  if (statm >> virtual_pages >> resident_pages) {
    const auto page = static_cast<double>(sysconf(_SC_PAGESIZE));
    families.push_back(family("process_virtual_memory_bytes", "Virtual memory size in bytes",
                              MetricType::Gauge, virtual_pages * page));
    families.push_back(family("process_resident_memory_bytes", "Resident memory size in bytes",
                              MetricType::Gauge, resident_pages * page));
  }
  // Field 22 of /proc/self/stat (after the command's closing parenthesis) is the start, in clock
  // ticks after boot; /proc/stat's btime is the boot.
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  std::ifstream boot_file("/proc/stat");
  std::string word;
  double boot = 0;
  while (boot_file >> word) {
    if (word == "btime") {
      boot_file >> boot;
      break;
    }
  }
  const auto close = stat.rfind(')');
  if (close != std::string::npos && boot > 0) {
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 22 && fields >> field; ++i) {
      if (i == 22) {
        families.push_back(
            family("process_start_time_seconds",
                   "Start time of the process since unix epoch in seconds", MetricType::Gauge,
                   boot + std::stod(field) / static_cast<double>(sysconf(_SC_CLK_TCK))));
      }
    }
  }
#endif
}

// udpchat_build_info{version,commit} 1: which build answers, as Prometheus exporters say it.
MetricFamily build_info() {
  ClientMetric metric;
  metric.label = {{"version", UDPCHAT_BUILD_VERSION}, {"commit", UDPCHAT_BUILD_COMMIT}};
  metric.gauge.value = 1;
  return {
      "udpchat_build_info", "The udpchat build serving these metrics", MetricType::Gauge, {metric}};
}

// The figures as families, built at each scrape from the last update.
class NodeCollectable {
 public:
  void update(const NodeFigures& figures) {
    std::lock_guard lock(mutex_);
    figures_ = figures;
  }

  std::vector<MetricFamily> Collect() const {
    NodeFigures f;
    {
      std::lock_guard lock(mutex_);
      f = figures_;
    }
    auto as_double = [](auto value) { return static_cast<double>(value); };
    std::vector<MetricFamily> families;
    for (const auto& figure : kNodeFigures) {
      if (figure.metric.empty() || (figure.shown == Shown::with_backplane && f.backplane == 0)) {
        continue;
      }
      families.push_back(
          family(std::string(figure.metric), std::string(figure.help),
                 figure.kind == FigureKind::gauge ? MetricType::Gauge : MetricType::Counter,
                 as_double(f.*figure.field)));
    }
    for (const auto& counter : core::kRelayCounters) {
      families.push_back(family(std::string(counter.metric), std::string(counter.help),
                                MetricType::Counter, as_double(f.relay.*counter.field)));
    }
    MetricFamily drops{
        "udpchat_dropped_total", "Datagrams dropped, by reason", MetricType::Counter, {}};
    for (const auto& reason : core::kDropReasons) {
      ClientMetric metric;
      metric.label.push_back({"reason", std::string(reason.name)});
      metric.counter.value = as_double(f.relay.drops[static_cast<std::size_t>(reason.reason)]);
      drops.metric.push_back(std::move(metric));
    }
    families.push_back(std::move(drops));
    families.push_back(build_info());
    add_process_families(families);
    return families;
  }

 private:
  mutable std::mutex mutex_;
  NodeFigures figures_;
};

// /metrics over HTTP (cpp-httplib), on IPv4 or IPv6. Each connection holds a worker (cpp-httplib
// has no other model), so there are more workers than a scraper needs and every wait is short:
// an idle connection or a half-sent request gives its worker back within a second, and a dozen
// of them leave the scrape a worker. cpp-httplib times each read, not the whole request: a
// client dribbling a byte a second holds its worker as long as it dribbles, so keep --metrics on
// an address only scrapers reach.
class HttpEndpoint final : public MetricsEndpoint {
 public:
  HttpEndpoint() {
    server_.new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
    server_.set_read_timeout(kTimeout);
    server_.set_write_timeout(kTimeout);
    // One request a connection: a scraper comes back every few seconds, far beyond any
    // keep-alive worth holding a worker for.
    server_.set_keep_alive_max_count(1);
    server_.set_keep_alive_timeout(kTimeout.count());  // also the wait for the first request
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
      response.set_content(prometheus::TextSerializer().Serialize(collectable_.Collect()),
                           "text/plain; version=0.0.4; charset=utf-8");
    });
  }
  ~HttpEndpoint() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // Binds `host:port` (port 0: any free one); false when it cannot.
  bool start(const HostPort& where) {
    int port = where.port;
    if (port == 0) {
      port = server_.bind_to_any_port(where.host);
      if (port < 0) return false;
    } else if (!server_.bind_to_port(where.host, port)) {
      return false;
    }
    address_ = format_address(where.host, static_cast<std::uint16_t>(port));
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    return true;
  }

  void update(const NodeFigures& figures) override { collectable_.update(figures); }
  std::string address() const override { return address_; }

 private:
  static constexpr int kWorkers = 16;
  static constexpr std::chrono::seconds kTimeout{1};

  httplib::Server server_;
  NodeCollectable collectable_;
  std::string address_;
  std::thread thread_;
};

}  // namespace

bool metrics_available() noexcept {
  return true;
}

std::unique_ptr<MetricsEndpoint> start_metrics(const std::string& address, std::string& error) {
  const auto where = parse_bind(address, error);
  if (!where) return nullptr;
  auto endpoint = std::make_unique<HttpEndpoint>();
  if (!endpoint->start(*where)) {
    error = "cannot serve metrics on " + address +
            " (the port is in use, or the address is not this host's)";
    return nullptr;
  }
  return endpoint;
}

}  // namespace udpchat::net

#else  // a build without prometheus-cpp or cpp-httplib

namespace udpchat::net {

bool metrics_available() noexcept {
  return false;
}

std::unique_ptr<MetricsEndpoint> start_metrics(const std::string&, std::string& error) {
  error = "this udpchat was built without metrics (prometheus-cpp or cpp-httplib was not found)";
  return nullptr;
}

}  // namespace udpchat::net

#endif
