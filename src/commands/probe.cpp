// `udpchat probe`: the health check that scripts and CI call.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <vector>

#include "commands/command.hpp"
#include "core/units.hpp"
#include "net/key_store.hpp"
#include "net/probe_client.hpp"
#include "net/terminal.hpp"

namespace udpchat::commands {

using Json = nlohmann::ordered_json;  // the same alias as bench.hpp's: a unity build may join them

namespace {

struct ProbeOptions {
  std::string target{net::kDefaultTarget};
  core::Duration timeout = std::chrono::seconds(1);
  int count = 1;
  core::Duration wait{};
  bool progress = false;
  bool json = false;
  bool quiet = false;
  KeyOptions keys;
};

// The relay's key against what this client knows of it: a changed key (or none, where one is
// pinned), or a key the relay did not prove it holds, fails the probe; a proven key first seen
// is pinned.
void check_key(const ProbeOptions& options, const std::string& server, net::ProbeReport& report) {
  if (report.status != net::ProbeStatus::answered) return;
  const ExpectedKey expected = expected_key(options.keys, server);
  const std::string offered = report.key ? report.key->key : std::string();
  const bool proven = report.key && report.key->proven;
  if (!expected.key.empty() && report.key && offered != expected.key) {
    report.status = net::ProbeStatus::key_changed;
    report.error = key_changed_error(server, offered, options.keys, expected);
  } else if ((!expected.key.empty() || !offered.empty()) && !proven) {
    // A relay that repeats a public key, or says nothing of one where one is expected, is not
    // taken for its holder.
    report.status = net::ProbeStatus::key_changed;
    const std::string tries =
        fmt::format("{} tries of {}", report.key_tries, core::format_duration(options.timeout));
    if (report.server == net::ServerKind::legacy) {
      report.error =
          fmt::format("the relay at {} speaks only the original protocol, but {} is expected",
                      server, expected.key);
    } else if (!report.key) {
      report.error = fmt::format(
          "the relay at {} did not say which key it holds (no cookie in "
          "{}), but {} is expected",
          server, tries, expected.key);
    } else {
      report.error = fmt::format(
          "the relay at {} did not prove it holds key {} (no sealed answer to a handshake in "
          "{}): someone may be in the middle, or the relay is too old to prove it",
          server, offered, tries);
    }
  } else if (expected.key.empty() && proven && !expected.pin_to.empty()) {
    std::string error;
    if (!net::pin_key(expected.pin_to, server, offered, error)) {
      fmt::print(stderr, "udpchat: warning: {}\n", error);
    }
  }
}

std::int64_t whole_us(core::Duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

void print_json(const ProbeOptions& options, const net::ProbeReport& report) {
  const bool ok = report.status == net::ProbeStatus::answered;
  auto us_or_null = [&](auto value) { return report.rtts.empty() ? Json() : Json(value); };
  // The same fields whatever happened, null when unknown: scripts read them without guessing.
  // Exact, from the sorted answers: the histogram's log buckets would round a percentile up
  // to its bucket's edge (p50 of 132 and 200 us came out 133).
  std::vector<std::int64_t> rtts;
  for (const auto rtt : report.rtts) rtts.push_back(whole_us(rtt));
  std::sort(rtts.begin(), rtts.end());
  const std::int64_t sum_us = std::accumulate(rtts.begin(), rtts.end(), std::int64_t{0});
  const auto count = static_cast<std::int64_t>(rtts.size());
  const auto nearest_rank = [&](double percent) {
    if (rtts.empty()) return std::int64_t{0};
    const double rank = std::ceil(percent / 100.0 * static_cast<double>(count));
    return rtts[std::clamp<std::size_t>(static_cast<std::size_t>(rank), 1, rtts.size()) - 1];
  };
  const Json out = {
      {"target", options.target},
      {"endpoint", report.endpoint.empty() ? Json() : Json(report.endpoint)},
      {"ok", ok},
      {"server", ok ? Json(core::to_string(report.server)) : Json()},
      {"rtt_us", us_or_null(report.rtts.empty() ? 0 : whole_us(report.rtts.front()))},
      {"attempts", report.attempts},
      {"answered", report.rtts.size()},
      {"error", ok ? Json() : Json(report.error)},
      {"rtt_min_us", us_or_null(rtts.empty() ? 0 : rtts.front())},
      {"rtt_avg_us", us_or_null(count == 0 ? 0 : sum_us / count)},
      {"rtt_max_us", us_or_null(rtts.empty() ? 0 : rtts.back())},
      // Nearest rank: with two answers, p50 is the faster one and p99 the slower.
      {"rtt_p50_us", us_or_null(nearest_rank(50))},
      {"rtt_p99_us", us_or_null(nearest_rank(99))},
      // The relay's key (null: not asked, or an original server; "": it does not seal).
      {"key", report.key ? Json(report.key->key) : Json()},
      // Whether the relay proved it holds that key (a handshake answered).
      {"key_proven", report.key ? Json(report.key->proven) : Json()},
  };
  fmt::print("{}\n", out.dump());
}

void print_text(const ProbeOptions& options, const net::ProbeReport& report) {
  if (report.status != net::ProbeStatus::answered) {
    const std::string where = report.endpoint.empty() ? options.target : report.endpoint;
    print_error(report.status == net::ProbeStatus::unresolved ||
                        report.status == net::ProbeStatus::key_changed
                    ? report.error
                    : fmt::format("{}: {}", where, report.error));
    return;
  }
  if (options.quiet) return;
  if (options.count == 1) {
    fmt::print("{} answered in {} us ({})\n", report.endpoint, whole_us(report.rtts.front()),
               core::to_string(report.server));
    return;
  }
  const auto [min, max] = std::minmax_element(report.rtts.begin(), report.rtts.end());
  const auto sum = std::accumulate(report.rtts.begin(), report.rtts.end(), core::Duration{});
  fmt::print("{} ({}): {}/{} answered, rtt min/avg/max = {}/{}/{} us\n", report.endpoint,
             core::to_string(report.server), report.rtts.size(), report.attempts, whole_us(*min),
             whole_us(sum / static_cast<long>(report.rtts.size())), whole_us(*max));
}

int run_probe(const ProbeOptions& options) {
  std::string error;
  auto target = net::parse_target(options.target, error);
  if (!target) {
    print_error(error);
    return kExitUsage;
  }
  net::ProbeRequest request{*target, options.timeout, options.count, std::nullopt, {}, true};
  if (options.wait > core::Duration::zero()) request.wait = options.wait;
  // What --wait is waiting for, for a person watching (or when asked): when the reason
  // changes, and every 5 s while it does not.
  core::TimePoint said_at{};
  std::string said;
  if (request.wait && !options.quiet && (options.progress || net::Terminal::error_is_terminal())) {
    request.progress = [&, wait = *request.wait](const net::ProbeProgress& p) {
      const auto now = core::Clock::now();
      if (p.error == said && now - said_at < std::chrono::seconds(5)) return;
      said = p.error;
      said_at = now;
      fmt::print(stderr, "udpchat: waiting for {}: {} (waited {:.0f}s of {})\n", options.target,
                 p.error, std::chrono::duration<double>(p.waited).count(),
                 core::format_duration(wait));
    };
  }

  asio::io_context io(1);
  net::ProbeReport report;
  asio::co_spawn(io, net::probe(request),
                 [&report](std::exception_ptr failure, net::ProbeReport result) {
                   if (failure) std::rethrow_exception(failure);
                   report = std::move(result);
                 });
  io.run();
  check_key(options, pin_name(*target), report);

  if (options.json) {
    print_json(options, report);
  } else {
    print_text(options, report);
  }
  return exit_code(report.status);
}

}  // namespace

void add_probe(CLI::App& app, Runner& run) {
  auto options = std::make_shared<ProbeOptions>();
  auto* cmd = app.add_subcommand("probe", "Check that a relay answers (for scripts and CI)");
  cmd->footer(
      "Sends 'ping <token>' and waits for 'pong <token>'. An original-protocol server relays the\n"
      "ping as chat; its echo counts as the answer and the server is reported as legacy.\n"
      "With --count N every ping is sent, lost ones included; one answer is enough.\n"
      "Exit codes: 0 answered, 1 no answer in time, 2 usage error,\n"
      "3 refused (nothing listening on the port), 4 host name does not resolve,\n"
      "7 the relay's key is not the one pinned (known_servers) or given (--server-key), or the\n"
      "  relay did not prove it holds it.\n"
      "A udpchat relay is asked for its key and to prove it (a Noise handshake, answered only\n"
      "with the private half); the first key proven is pinned, as ssh pins hosts.\n"
      "Examples:\n"
      "  udpchat probe --wait 10s                  # in CI: wait until the relay is up\n"
      "  udpchat probe chat.example.org:9998 --count 20\n"
      "  udpchat probe --json -q || echo down");
  cmd->add_option("target", options->target, "Relay address, HOST:PORT")
      ->capture_default_str()
      ->type_name("HOST:PORT");
  add_duration(*cmd, "--timeout", options->timeout, "How long to wait for each answer");
  add_count(*cmd, "-c,--count", options->count, 1, 1'000'000,
            "Pings to send (min/avg/max reported)");
  add_duration(*cmd, "--wait", options->wait,
               "Keep trying until an answer comes or this much time has passed");
  cmd->add_flag("--progress", options->progress,
                "Say on stderr what --wait is waiting for, also when stderr is not a terminal");
  cmd->add_flag("--json", options->json, "Print one JSON object");
  add_quiet(*cmd, options->quiet, "nothing on success: the exit code tells");
  add_key_options(*cmd, options->keys);
  cmd->callback([options, &run] { run = [options] { return run_probe(*options); }; });
}

}  // namespace udpchat::commands
