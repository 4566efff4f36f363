// A bare UDP socket for tests: sends datagrams and waits, with a time limit, for answers.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio.hpp>

namespace udpchat::test {

class UdpPeer {
 public:
  // Bound to an ephemeral port on the loopback address of `server`'s family.
  explicit UdpPeer(const asio::ip::udp::endpoint& server);
  // Bound to `local` (another 127.x address, say) instead.
  UdpPeer(const asio::ip::udp::endpoint& server, const asio::ip::address& local);

  void send(std::string_view payload);
  void send_to(std::string_view payload, const asio::ip::udp::endpoint& to);

  // The next datagram, or nullopt if none comes within `timeout`.
  std::optional<std::string> receive(std::chrono::milliseconds timeout = std::chrono::seconds(2));
  // A datagram already queued, without waiting.
  std::optional<std::string> try_receive();
  // Every datagram that arrives within `window`.
  std::vector<std::string> drain(std::chrono::milliseconds window);

  asio::ip::udp::endpoint local_endpoint() const { return socket_.local_endpoint(); }
  // Who sent the datagram received last (for a test playing the server).
  const asio::ip::udp::endpoint& last_sender() const { return last_sender_; }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }

  // Cookie handshake, as a udpchat client does it; returns the `welcome` line.
  std::string join(std::string_view nick = {}, std::string_view room = {});

 private:
  asio::io_context io_;
  asio::ip::udp::socket socket_;
  asio::ip::udp::endpoint server_;
  asio::ip::udp::endpoint last_sender_;
};

asio::ip::udp::endpoint loopback(std::uint16_t port, bool v6 = false);

// A loopback port with nothing bound to it (bound, then released).
std::uint16_t free_port();

}  // namespace udpchat::test
