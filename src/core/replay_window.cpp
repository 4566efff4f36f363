#include "core/replay_window.hpp"

namespace udpchat::core {

namespace {

constexpr std::uint64_t block_of(std::uint64_t counter) noexcept {
  return (counter / 64) % ReplayWindow::kBlocks;
}

constexpr std::uint64_t bit_of(std::uint64_t counter) noexcept {
  return std::uint64_t{1} << (counter % 64);
}

}  // namespace

bool ReplayWindow::fresh(std::uint64_t counter) const noexcept {
  if (!any_ || counter > highest_) return true;
  if (highest_ - counter >= kWindow) return false;
  return (bits_[block_of(counter)] & bit_of(counter)) == 0;
}

bool ReplayWindow::accept(std::uint64_t counter) noexcept {
  if (!fresh(counter)) return false;
  if (!any_ || counter > highest_) {
    // Blocks the window slides past are cleared, at most all of them.
    const std::uint64_t from = any_ ? highest_ / 64 : counter / 64;
    std::uint64_t steps = any_ ? counter / 64 - from : kBlocks;
    if (steps > kBlocks) steps = kBlocks;
    for (std::uint64_t i = 1; i <= steps; ++i) bits_[(from + i) % kBlocks] = 0;
    highest_ = counter;
    any_ = true;
  }
  bits_[block_of(counter)] |= bit_of(counter);
  return true;
}

}  // namespace udpchat::core
