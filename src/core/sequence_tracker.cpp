#include "core/sequence_tracker.hpp"

#include <bit>

namespace udpchat::core {

SequenceTracker::Arrival SequenceTracker::record(std::uint64_t sequence) {
  if (sequence >= capacity_) {
    ++out_of_range_;
    return Arrival::out_of_range;
  }
  const std::size_t word = static_cast<std::size_t>(sequence / 64);
  const std::uint64_t bit = std::uint64_t{1} << (sequence % 64);
  if (word >= seen_.size()) seen_.resize(word + 1 + word / 2, 0);
  if (seen_[word] & bit) {
    ++duplicates_;
    return Arrival::duplicate;
  }
  seen_[word] |= bit;
  ++delivered_;
  if (any_ && sequence < highest_) {
    ++out_of_order_;
    return Arrival::late;
  }
  highest_ = sequence;
  any_ = true;
  return Arrival::fresh;
}

std::uint64_t SequenceTracker::lost(std::uint64_t sent) const noexcept {
  std::uint64_t seen_below = 0;
  const std::uint64_t limit = sent < capacity_ ? sent : capacity_;
  for (std::size_t word = 0; word < seen_.size() && word * 64 < limit; ++word) {
    std::uint64_t bits = seen_[word];
    const std::uint64_t first = word * 64;
    if (first + 64 > limit) bits &= (std::uint64_t{1} << (limit - first)) - 1;
    seen_below += static_cast<std::uint64_t>(std::popcount(bits));
  }
  return sent - seen_below;
}

}  // namespace udpchat::core
