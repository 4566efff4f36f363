#include "core/bench_tally.hpp"

#include "support/catch.hpp"

using udpchat::core::BenchReport;
using udpchat::core::BenchTally;
using udpchat::protocol::BenchLine;

namespace {

constexpr std::uint32_t kRun = 7;

BenchLine line(std::uint32_t sender, std::uint64_t sequence, std::uint64_t intended_ns,
               bool measured = true, std::uint32_t run = kRun) {
  BenchLine l;
  l.run = run;
  l.measured = measured;
  l.sender = sender;
  l.sequence = sequence;
  l.intended_ns = intended_ns;
  return l;
}

}  // namespace

TEST_CASE("every line to every receiver on time is a lossless report", "[core][tally]") {
  BenchTally tally(kRun, {0, 0, 0}, 1, 100);
  tally.expect(3 * 10);
  for (std::uint64_t n = 0; n < 10; ++n) {
    for (std::size_t receiver = 0; receiver < 3; ++receiver) {
      tally.record(receiver, line(0, n, n * 1000), 80, static_cast<std::int64_t>(n * 1000 + 500));
    }
  }
  CHECK(tally.complete());
  BenchReport report;
  tally.fill(report, {10});
  CHECK(report.sent == 10);
  CHECK(report.expected == 30);
  CHECK(report.delivered == 30);
  CHECK(report.lost == 0);
  CHECK(report.duplicates == 0);
  CHECK(report.out_of_order == 0);
  CHECK(report.bytes == 30 * 80);
  CHECK(report.latency.min() == 500);
  CHECK(report.latency.max() == 500);
  CHECK(report.jitter_ns == 0);  // the same transit every time
}

TEST_CASE("gaps are lost, repeats duplicates, late ones out of order, per stream",
          "[core][tally]") {
  BenchTally tally(kRun, {0, 0}, 2, 100);
  for (std::uint64_t n : {0, 1, 3, 2, 2, 5}) tally.record(0, line(0, n, 0), 10, 100);
  for (std::uint64_t n : {0, 1, 2, 3, 4, 5}) tally.record(1, line(1, n, 0), 10, 100);
  BenchReport report;
  tally.fill(report, {6, 6});
  CHECK(report.expected == 24);  // two receivers, twelve lines
  // Receiver 0 saw sender 0's 0 1 2 3 5 (4 lost) and nothing of sender 1; receiver 1 the reverse.
  CHECK(report.delivered == 5 + 6);
  CHECK(report.lost == 1 + 6 + 6 + 0);
  CHECK(report.duplicates == 1);
  CHECK(report.out_of_order == 1);
  CHECK_FALSE(tally.complete());
}

TEST_CASE("lines of another run, of the warm-up or of unknown senders are not counted",
          "[core][tally]") {
  BenchTally tally(kRun, {0}, 1, 100);
  tally.record(0, line(0, 0, 0, true, kRun + 1), 10, 10);
  tally.record(0, line(0, 0, 0, false), 10, 10);
  tally.record(0, line(3, 0, 0), 10, 10);
  tally.record(9, line(0, 0, 0), 10, 10);
  tally.record(0, line(0, 500, 0), 10, 10);  // beyond the capacity
  CHECK(tally.delivered() == 0);
}

TEST_CASE("latency counts from the intended time and jitter follows RFC 3550", "[core][tally]") {
  BenchTally tally(kRun, {0}, 1, 100);
  // Transit 1000, 3000, 1000 ns: |D| is 2000 twice, J = 2000/16 then + (2000 - J)/16.
  tally.record(0, line(0, 0, 0), 10, 1000);
  tally.record(0, line(0, 1, 10'000), 10, 13'000);
  tally.record(0, line(0, 2, 20'000), 10, 21'000);
  BenchReport report;
  tally.fill(report, {3});
  const double j1 = 2000.0 / 16;
  CHECK(report.jitter_ns == j1 + (2000.0 - j1) / 16);
  CHECK(report.latency.min() == 1000);
  CHECK(report.latency.max() == 3000);
  // A line that arrives before its intended time (clock skew) counts as zero latency.
  tally.record(0, line(0, 3, 50'000), 10, 40'000);
  BenchReport again;
  tally.fill(again, {4});
  CHECK(again.latency.min() == 0);
}

TEST_CASE("deliveries across nodes are counted apart", "[core][tally]") {
  // Clients 0 and 2 on node 0, client 1 on node 1; client 0 sends.
  BenchTally tally(kRun, {0, 1, 0}, 1, 10);
  for (std::size_t receiver = 0; receiver < 3; ++receiver) tally.record(receiver, line(0, 0, 0), 10, 700);
  BenchReport report;
  tally.fill(report, {1});
  CHECK(report.delivered == 3);
  CHECK(report.cross_delivered == 1);
  CHECK(report.cross_latency.max() == 700);
}
