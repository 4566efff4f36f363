// The Asio shell around core::Relay: a receive loop, a sweep loop and a signal loop on one
// io_context. All decisions are the relay's; this file only moves bytes and time.
#pragma once

#include <cstdint>

#include "core/relay.hpp"
#include "net/asio_compat.hpp"
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
  void broadcast(std::string_view payload);
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
  bool stopped_ = false;
  bool failed_ = false;
};

}  // namespace udpchat::net
