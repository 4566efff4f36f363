// A minimal server speaking the original plain-text protocol (docs/protocol.md), written from
// its table: reg, ^hb^ or any line joins; quit leaves; a line goes to every member as
// "ack: <ip> <port>\n<text>\n". It never answers ping: it relays it as chat.
#pragma once

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>

namespace udpchat::test {

class LegacyServer {
 public:
  LegacyServer();
  ~LegacyServer();

  std::uint16_t port() const { return port_; }
  std::vector<std::string> received() const;
  std::size_t member_count() const;

 private:
  void receive_next();
  void handle(const asio::ip::udp::endpoint& from, std::string datagram);

  asio::io_context io_;
  asio::ip::udp::socket socket_;
  std::uint16_t port_ = 0;
  std::vector<char> buffer_ = std::vector<char>(65536);
  asio::ip::udp::endpoint from_;
  mutable std::mutex mutex_;
  std::vector<asio::ip::udp::endpoint> members_;
  std::vector<std::string> received_;
  std::thread thread_;
};

}  // namespace udpchat::test
