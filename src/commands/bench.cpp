// `udpchat bench`: the load generator. Longer than most commands because it owns three
// report formats (text, JSON, CSV) and the --find-max search around the trials; the counting
// is core/bench_tally, the sockets and pacing net/bench_runner.
#include "commands/bench.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands/command.hpp"
#include "core/client_session.hpp"
#include "core/rate_search.hpp"
#include "core/relay.hpp"
#include "core/units.hpp"
#include "net/bench_runner.hpp"
#include "net/log.hpp"
#include "net/relay_server.hpp"
#include "net/socket.hpp"
#include "net/terminal.hpp"
#include "protocol/bench_line.hpp"

namespace udpchat::commands {

namespace {

using namespace std::chrono_literals;

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
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EmbeddedRelay() {
    asio::post(io_, [this] { server_->stop(); });
    thread_.join();
  }
  std::uint16_t port() const { return server_->local_endpoint().port(); }
  // Lines the relay dropped as stale so far (read on its own thread).
  std::uint64_t stale() {
    std::promise<std::uint64_t> count;
    asio::post(io_, [&] {
      count.set_value(
          server_->relay().stats().drops[static_cast<std::size_t>(core::DropReason::stale)]);
    });
    return count.get_future().get();
  }

 private:
  asio::io_context io_{1};
  net::Logger log_;
  std::unique_ptr<net::RelayServer> server_;
  std::thread thread_;
};

// How many senders --senders auto picks for `rate`: enough that each offers at most
// kAutoSenderRate, at most every client.
int auto_senders(double rate, int clients) {
  return std::clamp(static_cast<int>(std::ceil(rate / kAutoSenderRate)), 1, clients);
}

struct BenchResult {
  std::optional<core::BenchReport> report;
  std::optional<SearchResult> search;
  int code = kExitOk;
  std::string error;
};

// One trial at --rate, or a --find-max search: short trials, doubling then bisecting, each
// decided by the loss and latency limits.
asio::awaitable<void> run_trials(net::BenchRunner& runner, const BenchOptions& options,
                                 EmbeddedRelay* relay, BenchResult& result,
                                 const std::function<void(const net::BenchProgress&)>& progress) {
  const net::BenchSettings& settings = options.settings;
  if (const auto failure = co_await runner.connect(settings)) {
    result.error = failure->message;
    result.code = exit_code(failure->status);
    co_return;
  }
  if (!options.find_max) {
    const std::uint64_t stale_before = relay != nullptr ? relay->stale() : 0;
    core::BenchReport report = co_await runner.trial(settings, progress, options.interval);
    if (relay != nullptr) report.relay_stale = relay->stale() - stale_before;
    result.report = std::move(report);
    co_return;
  }
  net::BenchSettings trial = settings;
  trial.duration = options.trial;
  trial.warmup = std::min<core::Duration>(settings.warmup, options.trial / 4);
  const auto limit_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(options.latency_limit).count());
  core::RateSearch search(settings.rate, 10'000'000);
  std::string limit = "the search's ceiling or its trial budget";
  while (const auto rate = search.next()) {
    trial.rate = *rate;
    if (options.senders_auto) trial.senders = auto_senders(*rate, settings.clients);
    core::BenchReport report = co_await runner.trial(trial);
    const bool lossy = report.lost_percent() > options.loss_limit || report.delivered == 0;
    const bool slow = report.latency.percentile(99) > limit_ns;
    const bool passed = !lossy && !slow;
    // What stopped the search is what failed at the lowest failing rate.
    if (!passed && (!search.lowest_failure() || *rate < *search.lowest_failure())) {
      limit = lossy
                  ? fmt::format("loss: {:.3f}% at {:.0f} lines/s (--loss-limit {}%); {}",
                                report.lost_percent(), *rate, options.loss_limit,
                                loss_reason(report, relay != nullptr))
                  : fmt::format("latency: p99 {} at {:.0f} lines/s (--latency-limit {})",
                                core::humane_ns(static_cast<double>(report.latency.percentile(99))),
                                *rate, core::format_duration(options.latency_limit));
    }
    search.record(*rate, passed);
    if (!options.json && !options.csv && !options.quiet) {
      fmt::print(stderr, "trial {:>10.0f} lines/s: {:.3f}% lost, p99 {:.0f} us -> {}\n", *rate,
                 report.lost_percent(), us_of_ns(report.latency.percentile(99)),
                 passed ? "pass" : "fail");
    }
    if (passed && *rate >= search.best()) result.report = std::move(report);
  }
  if (!result.report) {
    result.error = fmt::format("no rate tried stayed within {}% loss and p99 {}",
                               options.loss_limit, core::format_duration(options.latency_limit));
    result.code = kExitFailure;
    co_return;
  }
  result.search = SearchResult{search.rounded(), search.best(), search.trials(), limit};
}

int run_bench(BenchOptions options) {
  std::string error;
  net::BenchSettings& settings = options.settings;
  settings.targets.clear();
  for (const auto& text : options.servers.empty() ? std::vector{options.target} : options.servers) {
    auto target = net::parse_target(text, error);
    if (!target) {
      print_error(error);
      return kExitUsage;
    }
    settings.targets.push_back(*target);
  }
  if (options.senders_auto) {
    settings.senders = auto_senders(settings.rate, settings.clients);
  } else if (settings.senders > settings.clients) {
    print_error(fmt::format("--senders {} is more than --clients {}: senders are clients",
                            settings.senders, settings.clients));
    return kExitUsage;
  }
  if (settings.size < protocol::kMinBenchLineBytes || settings.size > protocol::kMaxLineBytes) {
    print_error(fmt::format("--size must be from {} to {} bytes", protocol::kMinBenchLineBytes,
                            protocol::kMaxLineBytes));
    return kExitUsage;
  }
  settings.room_key = room_key_of(options.room_key, settings.room, error);
  if (!error.empty()) {
    print_error(error);
    return kExitUsage;
  }
  if (settings.room_key && !settings.seal && !settings.repair) {
    // Such a bench sends its own lines, unnumbered and unsealed: it cannot seal them.
    print_error(
        "a private room's lines go through each client's session: drop --no-seal, or "
        "add --repair");
    return kExitUsage;
  }
  if (settings.room_key && settings.size > protocol::room_key::kMaxPlainBytes) {
    print_error(
        fmt::format("--size is at most {} bytes in a private room (a sealed line must "
                    "fit in one datagram)",
                    protocol::room_key::kMaxPlainBytes));
    return kExitUsage;
  }

  std::unique_ptr<EmbeddedRelay> relay;
  if (options.embedded) {
    relay = std::make_unique<EmbeddedRelay>(static_cast<std::size_t>(settings.clients));
    settings.targets = {net::HostPort{"127.0.0.1", relay->port()}};
  }
  std::vector<std::string> names;
  for (const auto& target : settings.targets) {
    names.push_back(net::format_address(target.host, target.port));
  }
  const std::string where = fmt::format("{}", fmt::join(names, ","));

  // The trials run until done; then the runner closes its sockets and timers, and run() returns.
  asio::io_context io(1);
  net::BenchRunner runner(io);
  BenchResult result;
  // A line a second on stderr while a run goes: for a person watching, or when asked.
  std::function<void(const net::BenchProgress&)> progress;
  if (!options.quiet && !options.find_max &&
      (options.interval_given || net::Terminal::error_is_terminal())) {
    progress = [](const net::BenchProgress& p) {
      fmt::print(stderr, "{:>6.1f} s  sent {}  delivered {}  lost {}  p99 {}\n", p.seconds, p.sent,
                 p.delivered, p.lost, core::humane_ns(static_cast<double>(p.p99_ns)));
    };
  }
  asio::co_spawn(io, run_trials(runner, options, relay.get(), result, progress),
                 [&runner](std::exception_ptr failure) {
                   runner.close();
                   if (failure) std::rethrow_exception(failure);
                 });
  io.run();

  if (!result.report) {
    print_error(result.error);
    return result.code;
  }
  if (options.json) {
    fmt::print("{}\n", to_json(where, options, *result.report, result.search).dump());
  } else if (options.csv) {
    print_csv(to_json(where, options, *result.report, result.search));
  } else {
    if (result.search) {
      fmt::print("max lossless rate {:.0f} lines/s (loss <= {}%, p99 <= {}), limited by {}\n",
                 result.search->max_lossless_rate, options.loss_limit,
                 core::format_duration(options.latency_limit), result.search->limit);
    }
    print_table(where, *result.report);
  }
  const core::BenchReport& r = *result.report;
  if (!result.search && r.lost_percent() > options.max_loss) {
    print_error(fmt::format("{:.3f}% of deliveries lost, more than --max-loss {}%: {}",
                            r.lost_percent(), options.max_loss, loss_reason(r, options.embedded)));
    return kExitTooMuchLoss;
  }
  return kExitOk;
}

}  // namespace

void add_bench(CLI::App& app, Runner& run) {
  auto options = std::make_shared<BenchOptions>();
  net::BenchSettings& settings = options->settings;
  auto* cmd =
      app.add_subcommand("bench", "Load generator: throughput, loss and latency of a relay");
  cmd->footer(
      "N clients join with the real handshake; S of them send paced chat lines (open loop:\n"
      "latency counts from each line's intended send time, so stalls are not hidden); every\n"
      "client counts what it receives. --embedded benches a relay started inside the process.\n"
      "With --server given more than once, client i joins server i mod N (one cluster's nodes\n"
      "sharing a backplane); sender i is client i, and deliveries that crossed nodes are\n"
      "reported apart (cross-node latency).\n"
      "--senders auto (the default) spreads --rate over enough senders that each stays within\n"
      "half of a default serve's per-member budget (200 datagrams/s), so that a default bench\n"
      "against a default serve measures the relay, not its abuse limits.\n"
      "Exit codes: 0 done, 1 failure (clients could not join, no rate passed), 2 usage error,\n"
      "3 refused, 4 host does not resolve, 6 more lost than --max-loss (the error says why),\n"
      "8 not admitted to a private room (no room key, or the wrong one).\n"
      "Clients speak the sealed dialect with a relay that offers it (--no-seal: the original).\n"
      "Examples:\n"
      "  udpchat bench --embedded --clients 100 --rate 2000 --duration 2s\n"
      "  udpchat bench 127.0.0.1:9998 --clients 100 --find-max --json\n"
      "  udpchat bench --server 10.0.0.1:9998 --server 10.0.0.2:9998 --room ops --repair");
  auto* target = cmd->add_option("target", options->target, "Relay address, HOST:PORT")
                     ->capture_default_str()
                     ->type_name("HOST:PORT");
  auto* embedded =
      cmd->add_flag("--embedded", options->embedded, "Bench a relay started inside this process")
          ->excludes(target);
  cmd->add_option("--server", options->servers,
                  "A node of a cluster, HOST:PORT; repeat for each node (instead of target)")
      ->type_name("HOST:PORT")
      ->excludes(target)
      ->excludes(embedded);
  add_room(*cmd, "--room", settings.room, "Room every client joins (default: lobby)");
  add_count(*cmd, "--clients", settings.clients, 1, 100'000, "Members joined");
  cmd->add_option_function<std::string>(
         "--senders",
         [options](const std::string& text) {
           options->senders_auto = text == "auto";
           if (!options->senders_auto) options->settings.senders = std::stoi(text);
         },
         "How many of the members send; auto: enough that each sends at most 100 lines/s")
      ->type_name("N|auto")
      ->default_str("auto")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            if (text == "auto") return {};
            const auto value = core::parse_number(text);
            if (value && *value >= 1 && *value <= 100'000 && *value == std::floor(*value))
              return {};
            return fmt::format("'{}' is not a number of senders (1 to 100000, or auto)", text);
          },
          ""));
  add_number(*cmd, "--rate", settings.rate, 1, 1e8, "Lines per second, all senders together",
             "LINES/s");
  add_count(*cmd, "--size", settings.size, protocol::kMinBenchLineBytes, protocol::kMaxLineBytes,
            "Bytes per chat line");
  const DurationBounds measurable{100ms, core::Duration::max(),
                                  "a period must be long enough to measure"};
  add_duration(*cmd, "--duration", settings.duration, "Measured period", measurable);
  add_duration(*cmd, "--warmup", settings.warmup, "Traffic before measuring, not counted");
  auto* drain = add_duration(*cmd, "--drain", settings.drain,
                             "After the last line, how long late lines still count (--repair: 3s "
                             "unless given, time for repair)");
  add_duration(*cmd, "--hb-interval", settings.hb_interval, "Heartbeat period of every client",
               {core::kMinHbInterval, core::kDefaultHbTimeout,
                "members must beat more often than serve's default --hb-timeout expires them"});
  cmd->add_flag("--no-seal", options->no_seal,
                "Speak the original text protocol, not the sealed dialect (to measure what "
                "sealing costs the relay)");
  cmd->add_flag("--chachapoly", options->chachapoly,
                "Seal in suite 1 (ChaChaPoly) even where suite 2 (AESGCM) is offered: what the "
                "relay pays for clients without AES instructions")
      ->excludes("--no-seal");
  add_room_key_options(*cmd, options->room_key);
  cmd->add_flag("--repair", settings.repair,
                "Negotiate numbered lines with repair (+r1): lost lines are sent again and asked "
                "for, and counted once, in order");
  add_duration(*cmd, "--give-up", settings.give_up,
               "With --repair: a line the relay has not taken this long after its time is given "
               "up by its sender, said and counted (given up), not resent: a real-time sender's "
               "policy under overload [default: never]");
  auto* json = cmd->add_flag("--json", options->json, "Print one JSON object");
  cmd->add_flag("--csv", options->csv, "Print a CSV header and one row")->excludes(json);
  cmd->add_flag("--find-max", options->find_max,
                "Search for the highest rate within --loss-limit (short trials from --rate)");
  add_number(*cmd, "--loss-limit", options->loss_limit, 0, 100,
             "Loss allowed by --find-max, in percent", "PERCENT");
  add_number(*cmd, "--max-loss", options->max_loss, 0, 100,
             "Loss beyond which a run exits 6 and says why, in percent", "PERCENT");
  auto* interval = add_duration(*cmd, "--interval", options->interval,
                                "A progress line on stderr this often (given, or stderr a "
                                "terminal; not with -q or --find-max)",
                                {100ms, core::Duration::max(), "a line per 100 ms is plenty"});
  add_quiet(*cmd, options->quiet, "the report stays");
  add_duration(*cmd, "--latency-limit", options->latency_limit,
               "p99 latency allowed by --find-max: beyond it the relay is queueing, not coping");
  add_duration(*cmd, "--trial", options->trial, "Length of each --find-max trial", measurable);
  cmd->callback([options, drain, interval, &run] {
    if (options->settings.repair && drain->count() == 0) options->settings.drain = 3s;
    options->settings.seal = !options->no_seal;
    if (options->chachapoly) options->settings.aes_gcm = false;
    options->interval_given = interval->count() > 0;
    run = [options] { return run_bench(*options); };
  });
}

}  // namespace udpchat::commands
