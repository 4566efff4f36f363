// What the tests of the pure core share: a start time, peers told apart by port, addresses
// written as dotted quads, and the relay's drop counts.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "core/relay.hpp"

namespace udpchat::test {

inline const core::TimePoint t0{std::chrono::hours(1)};

inline std::string dotted(const core::Peer& peer) {
  return fmt::format("{}.{}.{}.{}", peer.address[12], peer.address[13], peer.address[14],
                     peer.address[15]);
}

inline core::Peer peer(std::uint16_t port) {
  return core::Peer::v4(10, 0, 0, 1, port);
}

inline std::uint64_t drops(const core::Relay& relay, core::DropReason reason) {
  return relay.stats().drops[static_cast<std::size_t>(reason)];
}

}  // namespace udpchat::test
