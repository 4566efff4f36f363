#include "core/bench_tally.hpp"

#include <algorithm>
#include <cmath>

namespace udpchat::core {

double BenchReport::lost_percent() const noexcept {
  return expected == 0 ? 0.0 : 100.0 * static_cast<double>(lost) / static_cast<double>(expected);
}
double BenchReport::deliveries_per_second() const noexcept {
  return seconds <= 0 ? 0.0 : static_cast<double>(delivered) / seconds;
}
double BenchReport::send_rate() const noexcept {
  return send_seconds <= 0 ? 0.0 : static_cast<double>(sent) / send_seconds;
}
double BenchReport::bytes_per_second() const noexcept {
  return seconds <= 0 ? 0.0 : static_cast<double>(bytes) / seconds;
}

BenchTally::BenchTally(std::uint32_t run, std::vector<std::size_t> nodes, std::uint32_t senders,
                       std::uint64_t capacity)
    : run_(run),
      nodes_(std::move(nodes)),
      senders_(senders),
      streams_(nodes_.size() * senders, Stream(capacity)) {}

void BenchTally::record(std::size_t receiver, const protocol::BenchLine& line, std::size_t bytes,
                        std::int64_t arrival_ns) {
  if (line.run != run_ || !line.measured || line.sender >= senders_ || receiver >= nodes_.size()) {
    return;
  }
  Stream& stream = streams_[receiver * senders_ + line.sender];
  const auto arrival = stream.tracker.record(line.sequence);
  if (arrival == SequenceTracker::Arrival::duplicate ||
      arrival == SequenceTracker::Arrival::out_of_range) {
    return;
  }
  const std::int64_t transit = arrival_ns - static_cast<std::int64_t>(line.intended_ns);
  const auto transit_ns = static_cast<std::uint64_t>(std::max<std::int64_t>(transit, 0));
  latency_.record(transit_ns);
  if (nodes_[receiver] != nodes_[line.sender]) {
    ++cross_delivered_;
    cross_latency_.record(transit_ns);
  }
  // RFC 3550: J += (|D| - J) / 16, D the change in transit time between consecutive arrivals.
  if (stream.has_transit) {
    const double d = std::abs(static_cast<double>(transit - stream.last_transit));
    stream.jitter += (d - stream.jitter) / 16.0;
  }
  stream.last_transit = transit;
  stream.has_transit = true;
  bytes_ += bytes;
  ++delivered_;
}

void BenchTally::fill(BenchReport& report, const std::vector<std::uint64_t>& sent_by,
                      const std::vector<std::pair<std::uint32_t, std::uint64_t>>& given_up) const {
  std::uint64_t sent = 0;
  for (std::uint32_t i = 0; i < senders_; ++i) sent += sent_by[i];
  report.sent = sent;
  // A line given up is neither expected nor lost where it did not come; where it came anyway
  // (its echo, not the line, was late), it counts as delivered.
  std::uint64_t excused = 0;
  report.given_up = report.given_up_delivered = 0;
  for (const auto& [sender, sequence] : given_up) {
    if (sender >= senders_ || sequence >= sent_by[sender]) continue;
    ++report.given_up;
    for (std::size_t receiver = 0; receiver < nodes_.size(); ++receiver) {
      if (streams_[receiver * senders_ + sender].tracker.seen(sequence)) {
        ++report.given_up_delivered;
      } else {
        ++excused;
      }
    }
  }
  report.expected = sent * nodes_.size() - excused;
  report.bytes = bytes_;
  report.latency = latency_;
  report.cross_delivered = cross_delivered_;
  report.cross_latency = cross_latency_;
  report.delivered = report.lost = report.duplicates = report.out_of_order = 0;
  double jitter_sum = 0;
  std::uint64_t with_jitter = 0;
  for (std::size_t receiver = 0; receiver < nodes_.size(); ++receiver) {
    for (std::uint32_t sender = 0; sender < senders_; ++sender) {
      const Stream& stream = streams_[receiver * senders_ + sender];
      report.delivered += std::min(stream.tracker.delivered(), sent_by[sender]);
      report.lost += stream.tracker.lost(sent_by[sender]);
      report.duplicates += stream.tracker.duplicates();
      report.out_of_order += stream.tracker.out_of_order();
      if (stream.has_transit) {
        jitter_sum += stream.jitter;
        ++with_jitter;
      }
    }
  }
  report.jitter_ns = with_jitter == 0 ? 0.0 : jitter_sum / static_cast<double>(with_jitter);
  report.lost -= excused;  // each was counted missing in its stream
}

}  // namespace udpchat::core
