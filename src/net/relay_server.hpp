// The Asio shell around core::Relay for one socket: a receive loop and a sweep loop on one
// io_context. All decisions are the relay's; this file only moves bytes and time. A serve node
// runs one of these per shard (net::RelayNode); bench --embedded runs one on its own.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/relay.hpp"
#include "net/asio_compat.hpp"
#include "net/log.hpp"

namespace udpchat::net {

// What a shard tells its node, on the shard's own thread: RelayNode carries local lines to the
// other shards and the backplane, and counts rooms for the backplane's subscriptions.
class ShardLinks {
 public:
  virtual ~ShardLinks() = default;
  // A local member's line, already relayed to this shard's own members of its room.
  virtual void on_local_line(std::size_t shard, const core::SaidLine& line) = 0;
  virtual void on_room_change(std::size_t shard, const core::RoomChange& change) = 0;
  // A batch of datagrams is handled: what the lines of the batch hand over can go, together.
  virtual void on_batch_end(std::size_t shard) = 0;
  // The shard's socket broke and it stopped: the node stops too.
  virtual void on_failure(std::size_t shard) = 0;
};

// A shard's figures at one moment, for the node's stats and totals.
struct ShardSnapshot {
  core::RelayStats relay;
  std::size_t members = 0;
  std::vector<std::string> rooms;
  std::uint64_t receive_errors = 0;
  std::uint64_t send_errors = 0;
};

class RelayServer {
 public:
  RelayServer(asio::io_context& io, udp::socket socket, core::RelayConfig config,
              const Logger& log);

  // Spawns the loops; io.run() returns once stop() has run.
  void start();
  // Stops reading datagrams (the first step of a node's shutdown): after this the shard says
  // no new line, and what it said is handed over already.
  void stop_receiving();
  // Sends `end` to every member, then ends every loop. Returns how many members were told.
  std::size_t stop();

  // Makes this shard `index` of a node of `shards` (the relay must report room changes for a
  // backplane).
  void link(ShardLinks& links, std::size_t index, std::size_t shards);
  // A line the node numbered (another shard's, or another node's through the engine), on this
  // shard's io thread.
  void on_node_line(const core::NodeLine& line);

  udp::endpoint local_endpoint() const;
  const core::Relay& relay() const noexcept { return relay_; }
  ShardSnapshot snapshot() const;
  bool failed() const noexcept { return failed_; }

 private:
  awaitable<void> receive_loop();
  awaitable<void> sweep_loop();

  bool survives(const std::error_code& ec);
  // `arrived`: when the kernel received the datagram (its stamp), or when it was read.
  void handle(const udp::endpoint& from, std::string_view datagram, core::TimePoint arrived);
  void dispatch(const core::Outcome& outcome, const udp::endpoint& from);
  void send(std::string_view payload, const udp::endpoint& to);
  void broadcast(std::string_view payload, std::span<const std::uint32_t> recipients);
  void send_sealed(std::span<const core::SealedDelivery> deliveries);
  template <class Items, class ToPeer>
  std::uint64_t send_in_batches(std::string_view payload, const Items& items, ToPeer to_peer);
  void deliver(const core::Sends& sends, const udp::endpoint& from);
  void report_room_changes();
  nlohmann::ordered_json member_fields(const core::Member& member) const;

  asio::io_context& io_;
  udp::socket socket_;
  udp protocol_;
  asio::steady_timer sweep_timer_;
  core::Relay relay_;
  const Logger& log_;
  ShardLinks* links_ = nullptr;
  std::size_t index_ = 0;
  std::size_t shards_ = 1;
  std::uint64_t receive_errors_ = 0;
  std::uint64_t send_errors_ = 0;
  bool receiving_ = true;
  bool stopped_ = false;
  bool failed_ = false;
};

}  // namespace udpchat::net
