// Which transport counters a session has accepted, as RFC 6479 keeps them (and WireGuard): a
// bitmap of the last 1984 counters in 64-bit blocks, one block spare so that moving forward only
// clears whole blocks. A counter seen before, or older than the window, is a replay.
#pragma once

#include <array>
#include <cstdint>

namespace udpchat::core {

class ReplayWindow {
 public:
  static constexpr std::uint64_t kBlocks = 32;
  static constexpr std::uint64_t kWindow = (kBlocks - 1) * 64;

  // Whether `counter` may be new: asked before the datagram is opened (a cheap refusal).
  bool fresh(std::uint64_t counter) const noexcept;
  // Marks `counter` as seen: only once the datagram opened, so a forgery moves nothing.
  // False when it was not fresh.
  bool accept(std::uint64_t counter) noexcept;
  // The highest counter accepted (0 before any).
  std::uint64_t highest() const noexcept { return highest_; }
  bool empty() const noexcept { return !any_; }

 private:
  std::array<std::uint64_t, kBlocks> bits_{};
  std::uint64_t highest_ = 0;
  bool any_ = false;
};

}  // namespace udpchat::core
