// Loss, duplicate and reordering accounting for one stream of numbered messages.
#pragma once

#include <cstdint>
#include <vector>

namespace udpchat::core {

class SequenceTracker {
 public:
  enum class Arrival { fresh, late, duplicate, out_of_range };

  // Sequence numbers from 0 to capacity - 1 are tracked (a bit each).
  explicit SequenceTracker(std::uint64_t capacity) : capacity_(capacity) {}

  // `late`: first arrival of a number below the highest seen so far (out of order).
  Arrival record(std::uint64_t sequence);

  std::uint64_t delivered() const noexcept { return delivered_; }  // distinct numbers seen
  std::uint64_t duplicates() const noexcept { return duplicates_; }
  std::uint64_t out_of_order() const noexcept { return out_of_order_; }
  std::uint64_t out_of_range() const noexcept { return out_of_range_; }
  // Numbers below `sent` never seen.
  std::uint64_t lost(std::uint64_t sent) const noexcept;
  bool seen(std::uint64_t sequence) const noexcept {
    const auto word = sequence / 64;
    return word < seen_.size() && ((seen_[word] >> (sequence % 64)) & 1) != 0;
  }

 private:
  std::uint64_t capacity_;
  std::vector<std::uint64_t> seen_;  // grown on demand, never past capacity
  std::uint64_t highest_ = 0;
  bool any_ = false;
  std::uint64_t delivered_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t out_of_order_ = 0;
  std::uint64_t out_of_range_ = 0;
};

}  // namespace udpchat::core
