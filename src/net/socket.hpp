// UDP socket set-up shared by every subcommand.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#ifdef __linux__
#include <sys/socket.h>
#endif

#include "net/asio_compat.hpp"

namespace udpchat::net {

// Opens a socket bound to `local`. An unspecified IPv6 address ([::]) also accepts IPv4 (set
// explicitly: Windows defaults to v6 only). No reuse_address: "address in use" is a useful error.
// `reuse_port` (Linux): one of a group of sockets on one address, among which the kernel
// spreads datagrams, keeping each source address on one socket (serve --threads).
udp::socket bind_socket(const asio::any_io_executor& executor, const udp::endpoint& local,
                        std::error_code& ec, bool reuse_port = false);

// A socket connected to `remote`, so that an ICMP port unreachable comes back as
// connection_refused on the next receive.
udp::socket connect_socket(const asio::any_io_executor& executor, const udp::endpoint& remote,
                           std::error_code& ec);

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

// One datagram and where it goes.
struct Addressed {
  udp::endpoint to;
  std::string_view payload;
};
// Sends each datagram to its own address, batched and waiting like send_to_each. Returns how
// many sends failed.
std::size_t send_each(udp::socket& socket, std::span<const Addressed> datagrams);

// Sends `payloads` in order on a connected, non-blocking socket without waiting (sendmmsg on
// Linux: one system call per batch). Returns how many went; fewer with would_block (or
// try_again) in `ec` when the send buffer is full, none with another error in `ec` when the
// first one failed.
std::size_t send_many(udp::socket& socket, std::span<const std::string> payloads,
                      std::error_code& ec);

// Errors a receive loop counts and survives: they concern one datagram or one peer.
bool is_per_datagram_error(const std::error_code& ec);

// Datagrams read in batches, each with its source and what the kernel says of it: its receive
// time (SO_TIMESTAMPNS) and the socket's running count of datagrams dropped for want of buffer
// (SO_RXQ_OVFL), when enabled. Linux reads a batch with recvmmsg (one system call for up to
// `count`); elsewhere one non-blocking receive each, and the kernel says nothing.
class ReceiveBatch {
 public:
  ReceiveBatch(std::size_t count, std::size_t slot_bytes);

  static void enable_timestamps(udp::socket& socket);
  static void enable_drop_count(udp::socket& socket);

  // Reads what is queued without waiting: how many datagrams came (0 with would_block or
  // try_again in `ec` when none), or an error in `ec`.
  std::size_t read(udp::socket& socket, std::error_code& ec);

  std::size_t capacity() const noexcept { return stamps_.size(); }
  std::string_view datagram(std::size_t i) const noexcept;
  bool truncated(std::size_t i) const noexcept;
  udp::endpoint source(std::size_t i) const;
  // CLOCK_REALTIME nanoseconds at which the kernel received datagram i; 0 without a stamp.
  std::int64_t received_ns(std::size_t i) const noexcept { return stamps_[i]; }
  // The socket's drop count as the last read reported it (SO_RXQ_OVFL; cumulative, wraps);
  // nothing when that read carried none.
  std::optional<std::uint32_t> kernel_drops() const noexcept { return kernel_drops_; }

 private:
  std::size_t slot_bytes_;
  std::vector<char> data_;
  std::vector<std::int64_t> stamps_;
  std::optional<std::uint32_t> kernel_drops_;
#ifdef __linux__
  std::vector<mmsghdr> headers_;
  std::vector<iovec> vectors_;
  std::vector<sockaddr_storage> sources_;
  std::vector<std::array<char, 64>> controls_;  // room for a timestamp and a drop count
#else
  std::vector<std::size_t> lengths_;
  std::vector<char> truncated_;
  std::vector<udp::endpoint> sources_;
  std::error_code pending_;  // met after the first datagram of a read: the next read's
#endif
};

// The one receive loop over batches, for the relay and for bench's clients: waits until
// `socket` is readable, then reads up to `batches_per_turn` batches before waiting again (a
// flood must not starve the io thread's other work). `on_batch(received)` sees each read;
// `on_error(ec)` each error but "nothing queued", and says whether to go on. Ends when
// `keep()` is false, the wait fails, or on_error says so.
template <class Keep, class OnBatch, class OnError>
awaitable<void> receive_batches(udp::socket& socket, ReceiveBatch& batch, int batches_per_turn,
                                Keep keep, OnBatch on_batch, OnError on_error) {
  while (keep()) {
    auto [wait_error] = co_await socket.async_wait(udp::socket::wait_read, use_nothrow);
    if (!keep()) co_return;
    if (wait_error) {
      on_error(wait_error);
      co_return;
    }
    for (int turn = 0; turn < batches_per_turn && keep(); ++turn) {
      std::error_code ec;
      const std::size_t received = batch.read(socket, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) {
        if (on_error(ec)) continue;
        co_return;
      }
      on_batch(received);
      if (received < batch.capacity()) break;
    }
  }
}

// CLOCK_REALTIME now, in nanoseconds: what kernel receive stamps are measured against.
std::int64_t realtime_ns() noexcept;

}  // namespace udpchat::net
