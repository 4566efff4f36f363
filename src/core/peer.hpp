// A client's transport address, as plain bytes so that the core needs no socket headers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace udpchat::core {

struct Peer {
  // IPv6 bytes; an IPv4 peer is stored as ::ffff:a.b.c.d (how a dual-stack socket sees it).
  std::array<std::uint8_t, 16> address{};
  std::uint16_t port = 0;

  friend bool operator==(const Peer&, const Peer&) = default;

  bool is_v4_mapped() const noexcept;
  static Peer v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d,
                 std::uint16_t port) noexcept;
};

// Keyed (SipHash, random key per process) so that remote senders cannot choose source addresses
// that collide in the member index.
struct PeerHash {
  std::size_t operator()(const Peer& peer) const noexcept;
};

// How a member's address is written in `welcome` and `ack`. Supplied by the I/O layer, which
// owns address formatting; called only when a member joins.
using PeerFormatter = std::string (*)(const Peer&);

}  // namespace udpchat::core
