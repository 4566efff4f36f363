#include "core/room_window.hpp"

namespace udpchat::core {

std::size_t RoomWindow::push(std::uint64_t seq, std::string_view payload, std::int64_t said_ms) {
  lines_.push_back({seq, std::string(payload), said_ms});
  const std::size_t cost = payload.size() + kHistoryEntryOverhead;
  bytes_ += cost;
  return cost;
}

std::size_t RoomWindow::pop_oldest() noexcept {
  if (lines_.empty()) return 0;
  const std::size_t freed = lines_.front().payload.size() + kHistoryEntryOverhead;
  lines_.pop_front();
  bytes_ -= freed;
  return freed;
}

}  // namespace udpchat::core
