// The load generator behind `udpchat bench`: N clients joined with the real handshake, S of them
// sending paced chat lines, every client counting what comes back.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/histogram.hpp"
#include "core/time.hpp"
#include "net/address.hpp"
#include "net/asio_compat.hpp"
#include "net/probe_client.hpp"

namespace udpchat::net {

struct BenchSettings {
  // Client i joins targets[i % targets.size()]: one target, or the nodes of a cluster.
  std::vector<HostPort> targets;
  std::string room;  // empty: the server's default room
  int clients = 10;
  int senders = 1;
  double rate = 1000;      // lines per second, all senders together
  std::size_t size = 64;   // bytes per chat line
  core::Duration duration = std::chrono::seconds(5);
  core::Duration warmup = std::chrono::seconds(1);
  // After the last line, how long to wait for stragglers before counting.
  core::Duration drain = std::chrono::milliseconds(500);
  // Every client sends `^hb^` this often, so that no member expires during a long run.
  core::Duration hb_interval = std::chrono::seconds(2);
};

struct BenchReport {
  ServerKind server = ServerKind::unknown;
  int clients = 0;
  int senders = 0;
  double rate = 0;
  std::size_t size = 0;
  double seconds = 0;  // measured period
  double send_seconds = 0;  // how long sending the measured lines really took
  std::uint64_t sent = 0;
  std::uint64_t expected = 0;
  std::uint64_t delivered = 0;
  std::uint64_t lost = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t bytes = 0;  // of the acks delivered
  std::uint64_t send_errors = 0;
  std::optional<std::uint64_t> kernel_drops;  // the bench's own receive buffers (Linux)
  core::Histogram latency;                    // nanoseconds from intended send to arrival
  // Deliveries to a client of another node than the sender's (several targets only).
  std::uint64_t cross_delivered = 0;
  core::Histogram cross_latency;
  int nodes = 1;
  double jitter_ns = 0;                       // RFC 3550, averaged over streams

  double lost_percent() const noexcept;
  double deliveries_per_second() const noexcept;
  double bytes_per_second() const noexcept;
  // Lines per second the senders achieved (below the offered rate when the bench could not
  // keep up).
  double send_rate() const noexcept;
};

class BenchRunner {
 public:
  explicit BenchRunner(asio::io_context& io);
  ~BenchRunner();

  struct Failure {
    ProbeStatus status;   // refused, unresolved or failed: the same exit codes as probe
    std::string message;  // one line
  };
  // Resolves the targets and joins every client.
  awaitable<std::optional<Failure>> connect(const BenchSettings& settings);
  // One measured trial at settings.rate with the joined clients.
  awaitable<BenchReport> trial(const BenchSettings& settings);
  // Sends `quit` from every client.
  void leave();

  ServerKind server() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace udpchat::net
