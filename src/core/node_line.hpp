// A line on its way between the shards of a node, or from the engine to them: values inside
// the process. It becomes bytes only where it leaves (the backplane's envelope), and is
// decoded once where it comes in.
#pragma once

#include <cstdint>
#include <string>

namespace udpchat::core {

struct NodeLine {
  std::string room;
  std::uint64_t seq = 0;  // the room's number on this node; 0 when rooms are not numbered
  std::string ip;         // the sender, as written in `ack`
  std::uint16_t port = 0;
  std::string nick;  // empty when the sender has none
  std::string text;
  std::uint64_t sender_seq = 0;  // the sender's own number (+r1); 0 when it has none
  std::int64_t said_ms = 0;      // when the node received it (Unix ms)
  std::uint64_t missed = 0;      // not a chat line: this many lines of another node were lost
};

}  // namespace udpchat::core
