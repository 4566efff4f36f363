// What bench's receivers count, pure: for every (receiver, sender) stream, which numbered
// lines arrived (loss, duplicates, reordering), their latency from the intended send time,
// and RFC 3550 jitter; and the report all of it adds up to. Arrivals are made up in tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/histogram.hpp"
#include "core/sequence_tracker.hpp"
#include "core/status.hpp"
#include "protocol/bench_line.hpp"

namespace udpchat::core {

struct BenchReport {
  ServerKind server = ServerKind::unknown;
  int clients = 0;
  int senders = 0;
  double rate = 0;
  std::size_t size = 0;
  double seconds = 0;       // measured period
  double send_seconds = 0;  // how long sending the measured lines really took
  std::uint64_t sent = 0;
  std::uint64_t expected = 0;
  std::uint64_t delivered = 0;
  std::uint64_t lost = 0;  // deliveries missing of lines not given up
  // Measured lines their senders gave up (--give-up: the relay did not take them in time), each
  // said to its sender; their deliveries are neither expected nor lost.
  std::uint64_t given_up = 0;
  std::uint64_t given_up_delivered = 0;  // deliveries of lines given up that came after all
  std::uint64_t duplicates = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t bytes = 0;  // of the acks delivered
  std::uint64_t send_errors = 0;
  std::optional<std::uint64_t> kernel_drops;  // the bench's own receive buffers (Linux)
  Histogram latency;                          // nanoseconds from intended send to arrival
  // Deliveries to a client of another node than the sender's (several targets only).
  std::uint64_t cross_delivered = 0;
  Histogram cross_latency;
  int nodes = 1;
  double jitter_ns = 0;                      // RFC 3550, averaged over streams
  std::optional<std::uint64_t> relay_stale;  // lines the (embedded) relay dropped as stale

  double lost_percent() const noexcept;
  double deliveries_per_second() const noexcept;
  double bytes_per_second() const noexcept;
  // Lines per second the senders achieved (below the offered rate when the bench could not
  // keep up).
  double send_rate() const noexcept;
};

class BenchTally {
 public:
  // Client i is on node nodes[i]; senders are clients 0 to senders - 1. Each stream tracks
  // sequence numbers up to `capacity`.
  BenchTally(std::uint32_t run, std::vector<std::size_t> nodes, std::uint32_t senders,
             std::uint64_t capacity);

  std::uint32_t run() const noexcept { return run_; }
  // A bench line's ack arrived at client `receiver`: counted if it is a measured line of this
  // run; duplicates and numbers out of range count apart.
  void record(std::size_t receiver, const protocol::BenchLine& line, std::size_t bytes,
              std::int64_t arrival_ns);
  // How many deliveries would complete the trial; unknown (never complete) until set.
  void expect(std::uint64_t deliveries) noexcept { awaited_ = deliveries; }
  bool complete() const noexcept { return delivered_ >= awaited_; }
  std::uint64_t delivered() const noexcept { return delivered_; }
  const Histogram& latency() const noexcept { return latency_; }

  // The figures for lines sent_by[i] by sender i, into `report` (whose other fields the
  // caller fills).
  // `given_up`: the measured lines their senders gave up, as (sender, sequence).
  void fill(BenchReport& report, const std::vector<std::uint64_t>& sent_by,
            const std::vector<std::pair<std::uint32_t, std::uint64_t>>& given_up = {}) const;

 private:
  struct Stream {
    explicit Stream(std::uint64_t capacity) : tracker(capacity) {}
    SequenceTracker tracker;
    std::int64_t last_transit = 0;
    bool has_transit = false;
    double jitter = 0;
  };

  std::uint32_t run_;
  std::vector<std::size_t> nodes_;
  std::uint32_t senders_;
  std::vector<Stream> streams_;  // receiver-major: streams_[receiver * senders_ + sender]
  std::uint64_t delivered_ = 0;
  std::uint64_t awaited_ = ~std::uint64_t{0};
  std::uint64_t bytes_ = 0;
  Histogram latency_;
  std::uint64_t cross_delivered_ = 0;
  Histogram cross_latency_;
};

}  // namespace udpchat::core
