#include "core/node_gaps.hpp"

namespace udpchat::core {

std::uint64_t NodeGaps::on_line(std::string_view room, std::string_view node, std::uint64_t seq) {
  if (seq == 0) return 0;
  auto room_it = heard_.find(room);
  if (room_it == heard_.end())
    room_it = heard_.emplace(std::string(room), decltype(heard_)::mapped_type{}).first;
  auto& nodes = room_it->second;
  auto it = nodes.find(node);
  if (it == nodes.end()) {
    nodes.emplace(std::string(node), seq);
    return 0;
  }
  const std::uint64_t last = it->second;
  it->second = seq;
  return seq > last + 1 ? seq - last - 1 : 0;
}

void NodeGaps::forget(std::string_view room) {
  const auto it = heard_.find(room);
  if (it != heard_.end()) heard_.erase(it);
}

std::size_t NodeGaps::size() const noexcept {
  std::size_t count = 0;
  for (const auto& [room, nodes] : heard_) count += nodes.size();
  return count;
}

}  // namespace udpchat::core
