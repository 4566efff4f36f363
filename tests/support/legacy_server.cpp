#include "support/legacy_server.hpp"

#include <algorithm>

#include "protocol/text.hpp"

namespace udpchat::test {

LegacyServer::LegacyServer()
    : socket_(io_, asio::ip::udp::endpoint(asio::ip::address_v4::loopback(), 0)),
      port_(socket_.local_endpoint().port()) {
  receive_next();
  thread_ = std::thread([this] { io_.run(); });
}

LegacyServer::~LegacyServer() {
  io_.stop();
  thread_.join();
}

std::vector<std::string> LegacyServer::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

std::size_t LegacyServer::member_count() const {
  std::lock_guard lock(mutex_);
  return members_.size();
}

void LegacyServer::receive_next() {
  socket_.async_receive_from(asio::buffer(buffer_), from_, [this](std::error_code ec, std::size_t n) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) handle(from_, std::string(buffer_.data(), n));
    receive_next();
  });
}

void LegacyServer::handle(const asio::ip::udp::endpoint& from, std::string datagram) {
  std::lock_guard lock(mutex_);
  received_.push_back(datagram);
  const std::string line(protocol::strip(datagram));
  const auto member = std::find(members_.begin(), members_.end(), from);
  if (line == "quit") {
    if (member != members_.end()) members_.erase(member);
    return;
  }
  if (member == members_.end()) members_.push_back(from);
  if (line == "reg" || line == "^hb^") return;
  const std::string ack = "ack: " + from.address().to_string() + " " +
                          std::to_string(from.port()) + "\n" + line + "\n";
  for (const auto& to : members_) {
    std::error_code ignored;
    socket_.send_to(asio::buffer(ack), to, 0, ignored);
  }
}

}  // namespace udpchat::test
