// How a relay runs: its limits, budgets and history bounds (serve's options). A shard of a
// node also holds the node's share.
#pragma once

#include <cstddef>
#include <memory>

#include "core/peer.hpp"
#include "core/rate_limiter.hpp"
#include "core/room_gate.hpp"
#include "core/time.hpp"
#include "protocol/noise.hpp"

namespace udpchat::core {

class NodeShare;

// Members silent for longer than this are expired; clients must beat more often.
inline constexpr Duration kDefaultHbTimeout = std::chrono::seconds(10);
// Below this a member could not get a heartbeat through a busy network in time.
inline constexpr Duration kMinHbTimeout = std::chrono::seconds(1);

struct RelayConfig {
  // Original open semantics: any datagram from an unknown address makes it a member.
  bool legacy = false;
  Duration hb_timeout = kDefaultHbTimeout;
  std::size_t max_clients = 4096;
  PeerFormatter format_ip = nullptr;
  // Per-source budgets (an IPv4 address or IPv6 /64); a rate of 0 turns one off.
  TokenBucket datagram_limit{200, 400};
  TokenBucket cookie_limit{10, 20};
  std::size_t limiter_slots = 65536;
  // Bytes per second of fan-out, all members together; 0 means unlimited.
  double max_egress = 0;
  // Record when a room gains its first member or loses its last (take_room_changes): what a
  // backplane subscribes by. Off, nothing is recorded.
  bool report_room_changes = false;
  // A chat line that waited longer than this between the kernel and the relay is dropped as
  // stale: under overload the relay spends itself on fresh lines. Zero: never.
  Duration max_queue_delay = std::chrono::milliseconds(100);
  // Bytes of lines held ahead of gaps in their senders' numbering, for the shard's members
  // together (protocol::kReorderLines each at most); beyond, such a line is dropped as out of
  // sequence, as without holding.
  std::size_t held_bytes = 8 << 20;
  // Bytes fanned out to a member admitted without a cookie (--legacy) since it last sent
  // anything: a spoofed one-byte join cannot make the relay flood its victim. Zero: no cap.
  std::size_t legacy_credit = 64'000;
  // Numbered lines each room keeps for repair and history (+r1): at most this many, this many
  // bytes per room, and this many bytes in all rooms together (the room adding a line gives
  // up its oldest when the total is reached). Zero lines: no numbering, +r1 is not offered.
  std::size_t history_lines = 1024;
  std::size_t history_room_bytes = 256'000;
  std::size_t history_total_bytes = 64'000'000;
  // How long a room that lost its last member keeps its window (and its numbering), so that a
  // post can be read later with --history. When the total is reached, the rooms kept longest
  // without members give theirs up first. Zero: a room goes with its last member.
  Duration history_ttl = std::chrono::hours(1);
  // Wall-clock time minus the time passed in (system_clock - steady_clock): what turns `now`
  // into the Unix time a +r2 member is told a line was received. The I/O layer sets it.
  Duration wall_offset{};
  // The relay's identity (serve --key-file): with it the sealed dialect is offered (+s1) and
  // spoken. Without, only the text protocol.
  std::shared_ptr<const protocol::noise::KeyPair> identity;
  // Rooms the operator made private (serve --rooms): their pinned verifiers, or private to
  // whichever key their first member proves. Other rooms are open until a member proves a key.
  std::shared_ptr<const RoomPins> rooms;
  // Suite 2 (AESGCM) is offered too (+s2) to clients that speak it: where the CPU has AES.
  bool aes_gcm = protocol::noise::available(protocol::noise::Cipher::aes_gcm);
  // What the shards of one node share (serve --threads): cookies, seats, nicks, budgets and
  // the rooms' history. A relay given none makes its own.
  std::shared_ptr<NodeShare> share;
};

}  // namespace udpchat::core
