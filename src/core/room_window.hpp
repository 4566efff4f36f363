// A room's numbered lines: its numbering (a stream id, new each time the room opens, and the
// next number) and the window of its last lines, kept for repair and history. Pure and not
// thread-safe: core::History guards the node's windows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace udpchat::core {

// What the window counts for one line besides its bytes (the entry and the string).
inline constexpr std::size_t kHistoryEntryOverhead = 48;

class RoomWindow {
 public:
  struct Line {
    std::uint64_t seq = 0;
    std::string payload;       // the numbered form, as +r1 members got it
    std::int64_t said_ms = 0;  // when the relay received it (Unix ms); 0 for a gap
  };

  explicit RoomWindow(std::uint32_t stream) noexcept : stream_(stream) {}

  std::uint32_t stream() const noexcept { return stream_; }
  // The latest number given (0 before the first line).
  std::uint64_t head() const noexcept { return next_ - 1; }
  // The oldest number still in the window (head() + 1 when it is empty).
  std::uint64_t oldest() const noexcept { return lines_.empty() ? next_ : lines_.front().seq; }
  std::uint64_t take_number() noexcept { return next_++; }

  // Keeps the line numbered `seq` (the latest taken); returns the bytes it counts.
  std::size_t push(std::uint64_t seq, std::string_view payload, std::int64_t said_ms);
  // Gives up the oldest line; returns the bytes freed (0 when empty).
  std::size_t pop_oldest() noexcept;
  // oldest() <= seq <= head().
  const Line& at(std::uint64_t seq) const noexcept {
    return lines_[static_cast<std::size_t>(seq - oldest())];
  }

  bool empty() const noexcept { return lines_.empty(); }
  std::size_t size() const noexcept { return lines_.size(); }
  std::size_t bytes() const noexcept { return bytes_; }

 private:
  std::uint32_t stream_;
  std::uint64_t next_ = 1;
  std::deque<Line> lines_;
  std::size_t bytes_ = 0;
};

}  // namespace udpchat::core
