// UDP socket set-up shared by every subcommand.
#pragma once

#include <span>
#include <string_view>
#include <system_error>

#include "net/asio_compat.hpp"

namespace udpchat::net {

// Opens a socket bound to `local`. An unspecified IPv6 address ([::]) also accepts IPv4 (set
// explicitly: Windows defaults to v6 only). No reuse_address: "address in use" is a useful error.
udp::socket bind_socket(const asio::any_io_executor& executor, const udp::endpoint& local, std::error_code& ec);

// A socket connected to `remote`, so that an ICMP port unreachable comes back as
// connection_refused on the next receive.
udp::socket connect_socket(const asio::any_io_executor& executor, const udp::endpoint& remote, std::error_code& ec);

struct BufferSizes {
  int receive = 0;
  int send = 0;
};
// Asks for `bytes` of receive and send buffer and returns what the kernel granted (Linux caps
// the request at net.core.rmem_max / wmem_max and reports double the usable size).
BufferSizes set_buffer_sizes(udp::socket& socket, int bytes);

// Sends one datagram from a non-blocking socket. When the send buffer is full it waits, blocking,
// until it drains (microseconds on a live host): a fan-out must neither drop silently nor let
// other work change the member list halfway through.
std::error_code send_datagram(udp::socket& socket, std::string_view payload,
                              const udp::endpoint& to);

// Sends one payload to each of `to` (sendmmsg on Linux: one system call per batch), waiting
// like send_datagram when the buffer is full. Returns how many sends failed.
std::size_t send_to_each(udp::socket& socket, std::string_view payload,
                         std::span<const udp::endpoint> to);

// Errors a receive loop counts and survives: they concern one datagram or one peer.
bool is_per_datagram_error(const std::error_code& ec);

}  // namespace udpchat::net
