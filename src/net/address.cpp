#include "net/address.hpp"

#include <fmt/format.h>

#include <charconv>

#include "protocol/message.hpp"

namespace udpchat::net {

namespace {

bool parse_port(std::string_view text, std::uint16_t& port) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc{} && end == text.data() + text.size();
}

asio::ip::address plain(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text, std::string& error) {
  HostPort result;
  if (text.empty()) {
    error = "empty address";
    return std::nullopt;
  }
  std::string_view host = text;
  std::string_view port;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      error = fmt::format("'{}': missing ']'", text);
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        error = fmt::format("'{}': expected ':' after ']'", text);
        return std::nullopt;
      }
      port = rest.substr(1);
      if (port.empty()) {
        error = fmt::format("'{}': missing port after ':'", text);
        return std::nullopt;
      }
    }
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    // More than one colon without brackets can only be a bare IPv6 literal.
    if (text.find(':') != colon) {
      std::error_code ec;
      const auto address = asio::ip::make_address(std::string(text), ec);
      if (ec || !address.is_v6()) {
        error = fmt::format(
            "'{}' is not HOST:PORT (an IPv6 address with a port is written "
            "[ADDRESS]:PORT)",
            text);
        return std::nullopt;
      }
    } else {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (port.empty()) {
        error = fmt::format("'{}': missing port after ':'", text);
        return std::nullopt;
      }
    }
  }
  if (host.empty()) {
    error = fmt::format("'{}': missing host", text);
    return std::nullopt;
  }
  // Digits and dots can only mean an IPv4 address: say what is wrong with it rather than let a
  // resolver call it an unknown host. The protocol's own rule, not the platform's inet_pton
  // (some read "1.2.3" as 1.2.0.3).
  if (host.find_first_not_of("0123456789.") == std::string_view::npos) {
    if (!protocol::is_ip_address(host)) {
      error = fmt::format(
          "'{}': {} is not an IPv4 address (four numbers from 0 to 255, "
          "separated by dots)",
          text, host);
      return std::nullopt;
    }
  }
  if (!port.empty() && !parse_port(port, result.port)) {
    error = fmt::format("'{}': port must be a number from 0 to 65535", text);
    return std::nullopt;
  }
  result.host = std::string(host);
  return result;
}

std::optional<HostPort> parse_bind(std::string_view text, std::string& error) {
  // `:PORT` is every address, as nc -l, Go and nginx read it: both families, on [::].
  if (text.starts_with(':') && text.find(':', 1) == std::string_view::npos) {
    auto every = parse_host_port("[::]" + std::string(text), error);
    if (!every) error = fmt::format("'{}': port must be a number from 0 to 65535", text);
    return every;
  }
  return parse_host_port(text, error);
}

std::optional<HostPort> parse_target(std::string_view text, std::string& error) {
  auto target = parse_host_port(text, error);
  if (target && target->port == 0) {
    error = fmt::format("'{}': port 0 cannot be sent to: use a port from 1 to 65535", text);
    return std::nullopt;
  }
  return target;
}

core::Peer to_peer(const udp::endpoint& endpoint) {
  core::Peer peer;
  const auto address = endpoint.address();
  const auto v6 = address.is_v4() ? asio::ip::make_address_v6(asio::ip::v4_mapped, address.to_v4())
                                  : address.to_v6();
  peer.address = v6.to_bytes();
  peer.port = endpoint.port();
  return peer;
}

udp::endpoint to_endpoint(const core::Peer& peer, const udp& protocol) {
  const asio::ip::address_v6 v6(peer.address);
  if (protocol == udp::v4()) {
    return {asio::ip::make_address_v4(asio::ip::v4_mapped, v6), peer.port};
  }
  return {v6, peer.port};
}

std::string format_ip(const core::Peer& peer) {
  return plain(asio::ip::address_v6(peer.address)).to_string();
}

std::string format_endpoint(const udp::endpoint& endpoint) {
  return format_address(plain(endpoint.address()).to_string(), endpoint.port());
}

std::string format_address(std::string_view ip, std::uint16_t port) {
  if (ip.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", ip, port);
  return fmt::format("{}:{}", ip, port);
}

awaitable<Resolved> resolve(const HostPort& target) {
  const auto executor = co_await asio::this_coro::executor;
  udp::resolver resolver(executor);
  auto [ec, results] = co_await resolver.async_resolve(target.host, std::to_string(target.port),
                                                       udp::resolver::numeric_service, use_nothrow);
  Resolved resolved;
  resolved.error = ec;
  for (const auto& entry : results) resolved.endpoints.push_back(entry.endpoint());
  if (!ec && resolved.endpoints.empty()) resolved.error = asio::error::host_not_found;
  co_return resolved;
}

}  // namespace udpchat::net
