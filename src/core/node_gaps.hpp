// Other nodes' numbering of the lines they publish, per room: a number that jumps is lines lost
// on the way between nodes (the engine away longer than the sender's buffer, a full queue),
// which the room's +r1 members are told of. Pure; the node decides once, for all its shards.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace udpchat::core {

class NodeGaps {
 public:
  // `node` published a line for `room` numbered `seq` (0: an unnumbered envelope): how many of
  // its lines before this one never came. A number that goes back is a node that started
  // again: counting starts again too.
  std::uint64_t on_line(std::string_view room, std::string_view node, std::uint64_t seq);
  // The node no longer listens to `room`: what was heard there is forgotten.
  void forget(std::string_view room);
  // Rooms and nodes remembered: bounded by the rooms the node listens to.
  std::size_t size() const noexcept;

 private:
  std::map<std::string, std::map<std::string, std::uint64_t, std::less<>>, std::less<>> heard_;
};

}  // namespace udpchat::core
