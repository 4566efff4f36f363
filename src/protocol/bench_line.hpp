// The chat lines `udpchat bench` sends: ordinary chat text that carries what the receivers need
// to count loss and measure latency, padded to the size under test.
//   bench <run> <phase> <sender> <sequence> <intended-ns> xxxx...
// run: 1-8 hex digits naming the bench run (lines from other runs are ignored); phase: w
// (warm-up, not counted) or m (measured); intended-ns: when the pacer meant it to leave.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace udpchat::protocol {

struct BenchLine {
  std::uint32_t run = 0;
  bool measured = true;
  std::uint32_t sender = 0;
  std::uint64_t sequence = 0;
  std::uint64_t intended_ns = 0;
};

// The longest header for senders below 10^6 and sequences below 10^10: the smallest line size.
inline constexpr std::size_t kMinBenchLineBytes = 6 + 8 + 3 + 6 + 1 + 10 + 1 + 20;

// Writes the line into `out`, padded with 'x' to `size` bytes when the header is shorter.
void encode_bench_line(std::string& out, const BenchLine& line, std::size_t size);
std::optional<BenchLine> decode_bench_line(std::string_view text) noexcept;

}  // namespace udpchat::protocol
