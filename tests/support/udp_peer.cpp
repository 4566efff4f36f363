#include "support/udp_peer.hpp"

#include <stdexcept>
#include <variant>

#include "protocol/message.hpp"

namespace udpchat::test {

asio::ip::udp::endpoint loopback(std::uint16_t port, bool v6) {
  return {v6 ? asio::ip::address(asio::ip::address_v6::loopback())
             : asio::ip::address(asio::ip::address_v4::loopback()),
          port};
}

std::uint16_t free_port() {
  asio::io_context io;
  asio::ip::udp::socket socket(io, loopback(0));
  return socket.local_endpoint().port();
}

UdpPeer::UdpPeer(const asio::ip::udp::endpoint& server)
    : UdpPeer(server, loopback(0, server.address().is_v6()).address()) {}

UdpPeer::UdpPeer(const asio::ip::udp::endpoint& server, const asio::ip::address& local)
    : socket_(io_), server_(server) {
  socket_.open(server.protocol());
  // Room for a burst of acks while the test is busy elsewhere.
  socket_.set_option(asio::socket_base::receive_buffer_size(4 << 20));
  socket_.bind(asio::ip::udp::endpoint(local, 0));
}

std::optional<std::string> UdpPeer::try_receive() {
  if (socket_.available() == 0) return std::nullopt;
  std::vector<char> buffer(65536);
  asio::ip::udp::endpoint from;
  const auto size = socket_.receive_from(asio::buffer(buffer), from);
  last_sender_ = from;
  return std::string(buffer.data(), size);
}

void UdpPeer::send(std::string_view payload) { send_to(payload, server_); }

void UdpPeer::send_to(std::string_view payload, const asio::ip::udp::endpoint& to) {
  socket_.send_to(asio::buffer(payload.data(), payload.size()), to);
}

std::optional<std::string> UdpPeer::receive(std::chrono::milliseconds timeout) {
  std::vector<char> buffer(65536);
  std::optional<std::string> result;
  asio::ip::udp::endpoint from;
  socket_.async_receive_from(asio::buffer(buffer), from,
                             [&](std::error_code ec, std::size_t size) {
                               if (ec) return;
                               result.emplace(buffer.data(), size);
                               last_sender_ = from;
                             });
  io_.restart();
  io_.run_for(timeout);
  if (!io_.stopped()) {
    socket_.cancel();
    io_.restart();
    io_.run();
  }
  return result;
}

std::vector<std::string> UdpPeer::drain(std::chrono::milliseconds window) {
  std::vector<std::string> all;
  const auto until = std::chrono::steady_clock::now() + window;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto datagram = receive(left);
    if (!datagram) break;
    all.push_back(std::move(*datagram));
  }
  return all;
}

std::string UdpPeer::join(std::string_view nick, std::string_view room) {
  send(protocol::encode_cookie_request());
  const auto cookie_line = receive();
  if (!cookie_line) throw std::runtime_error("no cookie from the server");
  const auto message = protocol::decode_server(*cookie_line);
  const auto* cookie = std::get_if<protocol::Cookie>(&message);
  if (cookie == nullptr) throw std::runtime_error("expected a cookie, got: " + *cookie_line);
  send(protocol::encode_join(cookie->token, nick, room));
  const auto welcome = receive();
  if (!welcome) throw std::runtime_error("no welcome from the server");
  return *welcome;
}

}  // namespace udpchat::test
