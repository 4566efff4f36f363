#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "commands/bench.hpp"
#include "core/relay_config.hpp"
#include "core/units.hpp"

namespace udpchat::commands {

namespace {

double round3(double v) {
  return std::isfinite(v) ? std::round(v * 1000.0) / 1000.0 : 0.0;
}

Json latency_json(const core::Histogram& h) {
  return {{"min", round3(us_of_ns(h.min()))},
          {"p50", round3(us_of_ns(h.percentile(50)))},
          {"p90", round3(us_of_ns(h.percentile(90)))},
          {"p99", round3(us_of_ns(h.percentile(99)))},
          {"p99_9", round3(us_of_ns(h.percentile(99.9)))},
          {"max", round3(us_of_ns(h.max()))},
          {"mean", round3(h.mean() / 1000.0)}};
}

std::string latency_line(const core::Histogram& h) {
  return fmt::format("min {}, p50 {}, p90 {}, p99 {}, p99.9 {}, max {}, mean {}",
                     core::humane_ns(static_cast<double>(h.min())),
                     core::humane_ns(static_cast<double>(h.percentile(50))),
                     core::humane_ns(static_cast<double>(h.percentile(90))),
                     core::humane_ns(static_cast<double>(h.percentile(99))),
                     core::humane_ns(static_cast<double>(h.percentile(99.9))),
                     core::humane_ns(static_cast<double>(h.max())), core::humane_ns(h.mean()));
}

// For people: exact counts, rates and times in units that read at a glance (--json and --csv
// keep every figure exact).
}  // namespace

// Nanoseconds as microseconds, fractions kept (latencies are reported to 1 ns).
double us_of_ns(std::uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

// Three decimals, and 0 for NaN or infinity, so that every report is valid JSON.
// Every figure of a report, in one order for JSON and CSV; never NaN or infinite. Newer
// fields go last, so that CSV columns keep their places.
Json to_json(const std::string& target, const BenchOptions& options, const core::BenchReport& r,
             const std::optional<SearchResult>& search) {
  Json out = {
      {"target", target},
      {"server", core::to_string(r.server)},
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
      {"given_up", r.given_up},
      {"given_up_delivered", r.given_up_delivered},
      {"lost_percent", round3(r.lost_percent())},
      {"duplicates", r.duplicates},
      {"out_of_order", r.out_of_order},
      {"deliveries_per_s", round3(r.deliveries_per_second())},
      {"bytes_per_s", round3(r.bytes_per_second())},
      {"latency_us", latency_json(r.latency)},
      {"jitter_us", round3(r.jitter_ns / 1000.0)},
      {"kernel_drops", r.kernel_drops ? Json(*r.kernel_drops) : Json()},
      {"send_errors", r.send_errors},
      {"nodes", r.nodes},
      {"room", options.settings.room.empty() ? Json() : Json(options.settings.room)},
  };
  // Deliveries that crossed from one node to another through the backplane.
  if (r.nodes > 1) {
    out["cross_node_delivered"] = r.cross_delivered;
    out["cross_node_latency_us"] = latency_json(r.cross_latency);
  }
  out["relay_stale"] = r.relay_stale ? Json(*r.relay_stale) : Json();
  out["repair"] = options.settings.repair;
  if (search) {
    out["max_lossless_rate"] = search->max_lossless_rate;
    out["best_passed_rate"] = round3(search->best_passed);
    out["limited_by"] = search->limit;
    out["loss_limit_percent"] = options.loss_limit;
    out["latency_limit_us"] = us_of_ns(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(options.latency_limit).count()));
    out["trials"] = search->trials;
  }
  return out;
}

void print_csv(const Json& row) {
  std::vector<std::string> header;
  std::vector<std::string> values;
  auto add = [&](const std::string& key, const Json& value) {
    header.push_back(key);
    values.push_back(value.is_string() ? value.get<std::string>()
                     : value.is_null() ? ""
                                       : value.dump());
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

void print_table(const std::string& target, const core::BenchReport& r) {
  fmt::print("server     {} ({}), {} clients, {} sender(s)\n", target, core::to_string(r.server),
             r.clients, r.senders);
  fmt::print("offered    {:.0f} lines/s of {} bytes for {:.1f} s\n", r.rate, r.size, r.seconds);
  fmt::print("sent       {} lines ({:.0f} lines/s achieved), expected {} deliveries\n", r.sent,
             r.send_rate(), r.expected);
  fmt::print("delivered  {} ({} lost, {:.3f}%), {} duplicates, {} out of order\n", r.delivered,
             r.lost, r.lost_percent(), r.duplicates, r.out_of_order);
  if (r.given_up > 0) {
    fmt::print(
        "given up   {} lines, each said to its sender (not taken within --give-up); {} of their "
        "deliveries came anyway\n",
        r.given_up, r.given_up_delivered);
  }
  fmt::print("throughput {} deliveries/s, {}\n", core::humane(r.deliveries_per_second()),
             core::humane(r.bytes_per_second(), "B/s"));
  fmt::print("latency    {}\n", latency_line(r.latency));
  if (r.nodes > 1) {
    fmt::print("cross-node {} deliveries, latency {}\n", r.cross_delivered,
               latency_line(r.cross_latency));
  }
  fmt::print("jitter     {} (RFC 3550)\n", core::humane_ns(r.jitter_ns));
  if (r.kernel_drops) fmt::print("bench receive-buffer drops {}\n", *r.kernel_drops);
  if (r.relay_stale)
    fmt::print("relay stale lines {} (waited past --max-queue-delay)\n", *r.relay_stale);
}

// Why a run lost what it lost, as far as the bench can tell: the likeliest cause first.
std::string loss_reason(const core::BenchReport& r, bool embedded) {
  const double per_sender = r.rate / std::max(1, r.senders);
  if (!embedded && r.server == core::ServerKind::udpchat && per_sender > kMemberBudget) {
    return fmt::format(
        "each sender offered {:.0f} lines/s, above a default serve's budget of {:.0f} datagrams/s "
        "per member (serve --rate-limit), and the relay dropped the rest: use more senders "
        "(--senders auto keeps each within it), or bench a serve run with --rate-limit off",
        per_sender, kMemberBudget);
  }
  if (r.kernel_drops && *r.kernel_drops > 0) {
    return fmt::format(
        "the bench's own receive buffers dropped {} datagrams: the bench, not the "
        "relay, could not keep up (fewer --clients, or a larger net.core.rmem_max)",
        *r.kernel_drops);
  }
  if (r.relay_stale && *r.relay_stale > 0) {
    return fmt::format("the relay dropped {} lines as stale: it is overloaded at this rate",
                       *r.relay_stale);
  }
  return "the relay or the path to it dropped them: try a lower --rate, or --find-max";
}

// What the trials came to, or why there are none.
}  // namespace udpchat::commands
