// Host:port parsing, resolution and the conversions between Asio endpoints and core::Peer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/peer.hpp"
#include "net/asio_compat.hpp"

namespace udpchat::net {

inline constexpr std::uint16_t kDefaultPort = 9998;
inline constexpr std::string_view kDefaultTarget = "127.0.0.1:9998";

struct HostPort {
  std::string host;
  std::uint16_t port = kDefaultPort;
};

// Accepts HOST:PORT, [IPV6]:PORT, HOST (default port) and a bare IPv6 literal. Returns nullopt
// and sets `error` when the text cannot be a target.
std::optional<HostPort> parse_host_port(std::string_view text, std::string& error);
// The same for an address to listen on, where `:PORT` also means every address ([::]:PORT,
// both families).
std::optional<HostPort> parse_bind(std::string_view text, std::string& error);
// The same for an address to send to, where port 0 (only for binding: any free port) is refused.
std::optional<HostPort> parse_target(std::string_view text, std::string& error);

core::Peer to_peer(const udp::endpoint& endpoint);
udp::endpoint to_endpoint(const core::Peer& peer, const udp& protocol);

// Plain IPv4 for v4-mapped addresses, IPv6 without brackets: the `ack` form.
std::string format_ip(const core::Peer& peer);
// ip:port with IPv6 in brackets: for people and logs.
std::string format_endpoint(const udp::endpoint& endpoint);
// The same from an address already in text form (as `ack` and `welcome` carry it).
std::string format_address(std::string_view ip, std::uint16_t port);

struct Resolved {
  std::vector<udp::endpoint> endpoints;
  std::error_code error;
};

awaitable<Resolved> resolve(const HostPort& target);

}  // namespace udpchat::net
