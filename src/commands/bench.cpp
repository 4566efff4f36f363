// `udpchat bench`: the load generator.
#include <cmath>
#include <cstdio>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "commands/command.hpp"
#include "core/units.hpp"
#include "core/rate_search.hpp"
#include "net/bench_runner.hpp"
#include "net/log.hpp"
#include "net/relay_server.hpp"
#include "net/socket.hpp"
#include "protocol/bench_line.hpp"
#include "protocol/message.hpp"

namespace udpchat::commands {

namespace {

using namespace std::chrono_literals;

struct BenchOptions {
  std::string target{net::kDefaultTarget};
  std::vector<std::string> servers;  // several nodes of one cluster, clients spread over them
  std::string room;
  bool embedded = false;
  int clients = 10;
  int senders = 1;
  double rate = 1000;
  std::size_t size = 64;
  core::Duration duration = 5s;
  core::Duration warmup = 1s;
  core::Duration hb_interval = 2s;
  bool json = false;
  bool csv = false;
  bool find_max = false;
  double loss_limit = 0.1;  // percent
  // An overloaded relay queues before it drops: a trial whose p99 passes this did not keep up,
  // even if deep socket buffers let every line through in the end.
  core::Duration latency_limit = 20ms;
  core::Duration trial = 2s;
};

// A relay on its own thread and io_context, on a free loopback port.
class EmbeddedRelay {
 public:
  explicit EmbeddedRelay(std::size_t max_clients) : log_(net::LogFormat::text, true) {
    std::error_code ec;
    auto socket = net::bind_socket(io_.get_executor(),
                                   net::udp::endpoint(asio::ip::address_v4::loopback(), 0), ec);
    if (ec) throw std::runtime_error("cannot start the embedded relay: " + ec.message());
    core::RelayConfig config;
    config.max_clients = max_clients;
    config.format_ip = &net::format_ip;
    // All clients share 127.0.0.1: per-source limits would measure the limiter, not the relay.
    config.datagram_limit = {0, 0};
    config.cookie_limit = {0, 0};
    server_ = std::make_unique<net::RelayServer>(io_, std::move(socket), config, log_);
    server_->start(false);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EmbeddedRelay() {
    asio::post(io_, [this] { server_->stop(); });
    thread_.join();
  }
  std::uint16_t port() const { return server_->local_endpoint().port(); }

 private:
  asio::io_context io_{1};
  net::Logger log_;
  std::unique_ptr<net::RelayServer> server_;
  std::thread thread_;
};

double micros(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

// Three decimals, and 0 for NaN or infinity, so that every report is valid JSON.
double round3(double v) { return std::isfinite(v) ? std::round(v * 1000.0) / 1000.0 : 0.0; }

nlohmann::ordered_json latency_json(const core::Histogram& h) {
  return {{"min", round3(micros(h.min()))},
          {"p50", round3(micros(h.percentile(50)))},
          {"p90", round3(micros(h.percentile(90)))},
          {"p99", round3(micros(h.percentile(99)))},
          {"p99_9", round3(micros(h.percentile(99.9)))},
          {"max", round3(micros(h.max()))},
          {"mean", round3(h.mean() / 1000.0)}};
}

// Every figure of a report, in one order for JSON and CSV; never NaN or infinite.
nlohmann::ordered_json to_json(const std::string& target, const std::string& room,
                               const net::BenchReport& r) {
  nlohmann::ordered_json out = {
      {"target", target},
      {"server", net::to_string(r.server)},
      {"clients", r.clients},
      {"senders", r.senders},
      {"rate", round3(r.rate)},
      {"size", r.size},
      {"seconds", round3(r.seconds)},
      {"sent", r.sent},
      {"send_rate", round3(r.send_rate())},
      {"expected", r.expected},
      {"delivered", r.delivered},
      {"lost", r.lost},
      {"lost_percent", round3(r.lost_percent())},
      {"duplicates", r.duplicates},
      {"out_of_order", r.out_of_order},
      {"deliveries_per_s", round3(r.deliveries_per_second())},
      {"bytes_per_s", round3(r.bytes_per_second())},
      {"latency_us", latency_json(r.latency)},
      {"jitter_us", round3(r.jitter_ns / 1000.0)},
      {"kernel_drops", r.kernel_drops ? nlohmann::ordered_json(*r.kernel_drops) : nlohmann::ordered_json()},
      {"send_errors", r.send_errors},
      // Newer fields last, so that CSV columns keep their places.
      {"nodes", r.nodes},
      {"room", room.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(room)},
  };
  // Deliveries that crossed from one node to another through the backplane.
  if (r.nodes > 1) {
    out["cross_node_delivered"] = r.cross_delivered;
    out["cross_node_latency_us"] = latency_json(r.cross_latency);
  }
  return out;
}

void print_csv(const nlohmann::ordered_json& row) {
  std::vector<std::string> header;
  std::vector<std::string> values;
  auto add = [&](const std::string& key, const nlohmann::ordered_json& value) {
    header.push_back(key);
    values.push_back(value.is_string() ? value.get<std::string>() : value.is_null() ? "" : value.dump());
  };
  for (const auto& [key, value] : row.items()) {
    if (value.is_object()) {
      for (const auto& [inner, v] : value.items()) add(key + "_" + inner, v);
    } else {
      add(key, value);
    }
  }
  fmt::print("{}\n{}\n", fmt::join(header, ","), fmt::join(values, ","));
}

void print_table(const nlohmann::ordered_json& r) {
  const auto& l = r["latency_us"];
  fmt::print("server     {} ({}), {} clients, {} sender(s)\n", r["target"].get<std::string>(),
             r["server"].get<std::string>(), r["clients"].get<int>(), r["senders"].get<int>());
  fmt::print("offered    {} lines/s of {} bytes for {} s\n", r["rate"].dump(), r["size"].dump(),
             r["seconds"].dump());
  fmt::print("sent       {} lines ({} lines/s achieved), expected {} deliveries\n",
             r["sent"].dump(), r["send_rate"].dump(), r["expected"].dump());
  fmt::print("delivered  {} ({} lost, {}%), {} duplicates, {} out of order\n",
             r["delivered"].dump(), r["lost"].dump(), r["lost_percent"].dump(),
             r["duplicates"].dump(), r["out_of_order"].dump());
  fmt::print("throughput {} deliveries/s, {} bytes/s\n", r["deliveries_per_s"].dump(),
             r["bytes_per_s"].dump());
  fmt::print("latency us min {} p50 {} p90 {} p99 {} p99.9 {} max {} mean {}\n",
             l["min"].dump(), l["p50"].dump(), l["p90"].dump(), l["p99"].dump(),
             l["p99_9"].dump(), l["max"].dump(), l["mean"].dump());
  if (r.contains("cross_node_latency_us")) {
    const auto& x = r["cross_node_latency_us"];
    fmt::print("cross-node {} deliveries, latency us p50 {} p90 {} p99 {} max {}\n",
               r["cross_node_delivered"].dump(), x["p50"].dump(), x["p90"].dump(),
               x["p99"].dump(), x["max"].dump());
  }
  fmt::print("jitter     {} us (RFC 3550)\n", r["jitter_us"].dump());
  if (!r["kernel_drops"].is_null()) {
    fmt::print("bench receive-buffer drops {}\n", r["kernel_drops"].dump());
  }
}

int run_bench(const BenchOptions& options) {
  std::string error;
  std::vector<net::HostPort> targets;
  for (const auto& text : options.servers.empty() ? std::vector{options.target} : options.servers) {
    auto target = net::parse_host_port(text, error);
    if (!target) {
      print_error(error);
      return kExitUsage;
    }
    targets.push_back(*target);
  }
  if (options.size < protocol::kMinBenchLineBytes || options.size > protocol::kMaxLineBytes) {
    print_error(fmt::format("--size must be from {} to {} bytes", protocol::kMinBenchLineBytes,
                            protocol::kMaxLineBytes));
    return kExitUsage;
  }

  std::unique_ptr<EmbeddedRelay> relay;
  if (options.embedded) {
    relay = std::make_unique<EmbeddedRelay>(static_cast<std::size_t>(options.clients));
    targets = {net::HostPort{"127.0.0.1", relay->port()}};
  }
  std::vector<std::string> names;
  for (const auto& target : targets) names.push_back(fmt::format("{}:{}", target.host, target.port));
  const std::string where = fmt::format("{}", fmt::join(names, ","));

  asio::io_context io(1);
  net::BenchRunner runner(io);
  net::BenchSettings settings;
  settings.targets = targets;
  settings.room = options.room;
  settings.clients = options.clients;
  settings.senders = options.senders;
  settings.rate = options.rate;
  settings.size = options.size;
  settings.duration = options.duration;
  settings.warmup = options.warmup;
  settings.hb_interval = options.hb_interval;
  int code = kExitOk;
  std::optional<nlohmann::ordered_json> result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const auto failure = co_await runner.connect(settings);
        if (failure) {
          error = failure->message;
          code = exit_code(failure->status);
          co_return;
        }
        if (!options.find_max) {
          const net::BenchReport report = co_await runner.trial(settings);
          result = to_json(where, options.room, report);
        } else {
          // Short trials, doubling then bisecting; the loss limit decides each one.
          net::BenchSettings trial = settings;
          trial.duration = options.trial;
          trial.warmup = std::min<core::Duration>(options.warmup, options.trial / 4);
          core::RateSearch search(options.rate, 10'000'000);
          std::optional<nlohmann::ordered_json> best;
          while (auto rate = search.next()) {
            trial.rate = *rate;
            const net::BenchReport report = co_await runner.trial(trial);
            const auto limit_ns = static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(options.latency_limit).count());
            const bool passed = report.lost_percent() <= options.loss_limit &&
                                report.delivered > 0 && report.latency.percentile(99) <= limit_ns;
            search.record(*rate, passed);
            if (!options.json && !options.csv) {
              fmt::print(stderr, "trial {:>10.0f} lines/s: {:.3f}% lost, p99 {:.0f} us -> {}\n",
                         *rate, report.lost_percent(), micros(report.latency.percentile(99)),
                         passed ? "pass" : "fail");
            }
            if (passed && *rate >= search.best()) best = to_json(where, options.room, report);
          }
          if (!best) {
            error = fmt::format("no rate tried stayed within {}% loss and p99 {}",
                                options.loss_limit, core::format_duration(options.latency_limit));
            code = kExitFailure;
            co_return;
          }
          result = std::move(best);
          (*result)["max_lossless_rate"] = search.best();
          (*result)["loss_limit_percent"] = options.loss_limit;
          (*result)["latency_limit_us"] = micros(static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(options.latency_limit).count()));
          (*result)["trials"] = search.trials();
        }
        runner.leave();
      },
      [&io](std::exception_ptr failure) {
        if (failure) std::rethrow_exception(failure);
        io.stop();  // the clients' receive and heartbeat loops would run forever
      });
  io.run();

  if (!result) {
    print_error(error);
    return code;
  }
  if (options.json) {
    fmt::print("{}\n", result->dump());
  } else if (options.csv) {
    print_csv(*result);
  } else {
    if (options.find_max) {
      fmt::print("max lossless rate {} lines/s (loss <= {}%, p99 <= {})\n",
                 (*result)["max_lossless_rate"].dump(), options.loss_limit,
                 core::format_duration(options.latency_limit));
    }
    print_table(*result);
  }
  return kExitOk;
}

}  // namespace

void add_bench(CLI::App& app, Runner& run) {
  auto options = std::make_shared<BenchOptions>();
  auto* cmd = app.add_subcommand("bench", "Load generator: throughput, loss and latency of a relay");
  cmd->footer(
      "N clients join with the real handshake; S of them send paced chat lines (open loop:\n"
      "latency counts from each line's intended send time, so stalls are not hidden); every\n"
      "client counts what it receives. --embedded benches a relay started inside the process.\n"
      "With --server given more than once, client i joins server i mod N (one cluster's nodes\n"
      "sharing a backplane); sender i is client i, and deliveries that crossed nodes are\n"
      "reported apart (cross-node latency).\n"
      "Exit codes: 0 done, 1 failure (clients could not join, no rate passed), 2 usage error,\n"
      "3 refused, 4 host does not resolve.");
  auto* target =
      cmd->add_option("target", options->target, "Relay address, HOST:PORT")->capture_default_str();
  auto* embedded =
      cmd->add_flag("--embedded", options->embedded, "Bench a relay started inside this process");
  cmd->add_option("--server", options->servers,
                  "A node of a cluster, HOST:PORT; repeat for each node (instead of target)")
      ->excludes(target)
      ->excludes(embedded);
  add_room(*cmd, "--room", options->room, "Room every client joins (default: lobby)");
  cmd->add_option("--clients", options->clients, "Members joined")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000));
  cmd->add_option("--senders", options->senders, "How many of the members send")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000));
  cmd->add_option("--rate", options->rate, "Lines per second, all senders together")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e8));
  cmd->add_option("--size", options->size, "Bytes per chat line")->capture_default_str();
  add_duration(*cmd, "--duration", options->duration, "Measured period");
  add_duration(*cmd, "--warmup", options->warmup, "Traffic before measuring, not counted");
  add_duration(*cmd, "--hb-interval", options->hb_interval, "Heartbeat period of every client");
  auto* json = cmd->add_flag("--json", options->json, "Print one JSON object");
  cmd->add_flag("--csv", options->csv, "Print a CSV header and one row")->excludes(json);
  cmd->add_flag("--find-max", options->find_max,
                "Search for the highest rate within --loss-limit (short trials from --rate)");
  cmd->add_option("--loss-limit", options->loss_limit, "Loss allowed by --find-max, in percent")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  add_duration(*cmd, "--latency-limit", options->latency_limit,
               "p99 latency allowed by --find-max: beyond it the relay is queueing, not coping");
  add_duration(*cmd, "--trial", options->trial, "Length of each --find-max trial");
  cmd->callback([options, &run] { run = [options] { return run_bench(*options); }; });
}

}  // namespace udpchat::commands
