// The Asio shell around core::Relay: a receive loop, a sweep loop and a signal loop on one
// io_context. All decisions are the relay's; this file only moves bytes and time.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/relay.hpp"
#include "net/asio_compat.hpp"
#include "net/backplane.hpp"
#include "net/log.hpp"

namespace udpchat::net {

class RelayServer {
 public:
  RelayServer(asio::io_context& io, udp::socket socket, core::RelayConfig config,
              const Logger& log, core::Duration stats_interval = std::chrono::seconds(60));

  // Spawns the loops; io.run() returns once stop() has run (on SIGINT or SIGTERM when
  // `handle_signals`; an embedded relay is stopped by its owner instead).
  void start(bool handle_signals = true);
  // Sends `end` to every member, then ends every loop.
  void stop();
  // Stops after `duration`, as a signal would: a shutdown path that works the same on
  // Windows, where one process cannot send another SIGTERM.
  void stop_after(core::Duration duration);

  // Rooms span the nodes that share `backplane` (the relay must report room changes). Lines
  // from local members reach local members first, then the backplane.
  void attach(Backplane& backplane, std::string node_id);
  // An envelope the backplane delivered for `room` (on the io thread).
  void on_backplane_line(std::string_view room, std::string_view envelope);

  udp::endpoint local_endpoint() const;
  const core::Relay& relay() const noexcept { return relay_; }
  bool failed() const noexcept { return failed_; }

 private:
  awaitable<void> receive_loop();
  awaitable<void> sweep_loop();
  awaitable<void> signal_loop();
  awaitable<void> deadline_wait();

  bool survives(const std::error_code& ec);
  void handle(const udp::endpoint& from, std::string_view datagram);
  void send(std::string_view payload, const udp::endpoint& to);
  void broadcast(std::string_view payload, std::span<const std::uint32_t> recipients);
  void broadcast_to_all(std::string_view payload);
  template <class Items, class ToPeer>
  std::uint64_t send_in_batches(std::string_view payload, const Items& items, ToPeer to_peer);
  void deliver(const core::Outcome& outcome, const udp::endpoint& from);
  void publish(const core::Member& sender, std::string_view text);
  void sync_subscriptions();
  void log_stats_if_due();
  void log_stats(std::string_view event) const;

  asio::io_context& io_;
  udp::socket socket_;
  udp protocol_;
  asio::steady_timer sweep_timer_;
  asio::signal_set signals_;
  asio::steady_timer deadline_timer_;
  core::Relay relay_;
  const Logger& log_;
  std::uint64_t receive_errors_ = 0;
  std::uint64_t send_errors_ = 0;
  core::Duration stats_interval_;
  std::uint64_t datagrams_logged_ = 0;
  core::TimePoint stats_logged_at_{};
  Backplane* backplane_ = nullptr;
  std::string node_id_;
  std::string envelope_;
  struct BackplaneCounters {
    std::uint64_t published = 0;
    std::uint64_t publish_dropped = 0;
    std::uint64_t received = 0;
    std::uint64_t own = 0;        // our own lines handed back (no-echo should make this 0)
    std::uint64_t malformed = 0;
  } backplane_counts_;
  bool stopped_ = false;
  bool failed_ = false;
};

}  // namespace udpchat::net
