// bench's options and its report: text, JSON and CSV from one order of figures, and the reason
// a run lost more than it may. The command itself is in bench.cpp.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "commands/command.hpp"
#include "core/bench_tally.hpp"
#include "core/relay_config.hpp"
#include "core/time.hpp"
#include "net/bench_runner.hpp"
#include "net/socket.hpp"

namespace udpchat::commands {

using namespace std::chrono_literals;

struct BenchOptions {
  std::string target{net::kDefaultTarget};
  std::vector<std::string> servers;  // several nodes of one cluster, clients spread over them
  bool embedded = false;
  net::BenchSettings settings;  // targets are filled in from target, servers or embedded
  bool json = false;
  bool csv = false;
  bool find_max = false;
  bool quiet = false;
  bool no_seal = false;      // --no-seal: settings.seal off
  bool chachapoly = false;   // --chachapoly: settings.aes_gcm off
  RoomKeyOptions room_key;   // a private room: settings.room_key
  bool senders_auto = true;  // --senders auto: as many as keep each within a default budget
  double max_loss = 1.0;     // percent: a single run that loses more exits kExitTooMuchLoss
  // Progress lines on stderr: every `interval` when stderr is a terminal or it was given.
  core::Duration interval = 1s;
  bool interval_given = false;
  double loss_limit = 0.1;  // percent
  // An overloaded relay queues before it drops: a trial whose p99 passes this did not keep up,
  // even if deep socket buffers let every line through in the end.
  core::Duration latency_limit = 20ms;
  core::Duration trial = 2s;
};

// What a --find-max search adds to the report of its best trial.
struct SearchResult {
  double max_lossless_rate = 0;  // rounded to what the search resolved
  double best_passed = 0;        // the highest rate that passed, as tried
  int trials = 0;
  std::string limit;  // what stopped the search, for people
};

using Json = nlohmann::ordered_json;

// A default serve's budget for each member's datagrams: what bench's senders stay within.
inline const double kMemberBudget = core::RelayConfig{}.datagram_limit.rate;
// --senders auto gives each sender at most this: half the budget leaves room for heartbeats and
// for bursts of the pacer catching up.
inline const double kAutoSenderRate = kMemberBudget / 2;

// Nanoseconds as microseconds, fractions kept (latencies are reported to 1 ns).
double us_of_ns(std::uint64_t ns);

// Every figure of a report, in one order for JSON and CSV; never NaN or infinite.
Json to_json(const std::string& target, const BenchOptions& options, const core::BenchReport& r,
             const std::optional<SearchResult>& search);
void print_csv(const Json& row);
void print_table(const std::string& target, const core::BenchReport& r);
// Why a run lost more than --max-loss, as far as the figures tell.
std::string loss_reason(const core::BenchReport& r, bool embedded);

}  // namespace udpchat::commands
