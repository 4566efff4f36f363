#include "net/socket.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#ifdef _WIN32
#include <mstcpip.h>
#endif
#ifdef __linux__
#include <sys/socket.h>
#include <time.h>

#include <array>
#include <cstring>
#endif

namespace udpchat::net {

namespace {

// Windows reports an earlier ICMP port unreachable as WSAECONNRESET on the next receive, which
// would end a receive loop; there is no reason to hear about it on a datagram socket.
void ignore_connection_reset([[maybe_unused]] udp::socket& socket) {
#ifdef _WIN32
  BOOL report = FALSE;
  DWORD returned = 0;
  ::WSAIoctl(socket.native_handle(), SIO_UDP_CONNRESET, &report, sizeof report, nullptr, 0,
             &returned, nullptr, nullptr);
#endif
}

}  // namespace

udp::socket bind_socket(const asio::any_io_executor& executor, const udp::endpoint& local,
                        std::error_code& ec, [[maybe_unused]] bool reuse_port) {
  udp::socket socket(executor);
  socket.open(local.protocol(), ec);
  if (ec) return socket;
#ifdef __linux__
  if (reuse_port) {
    const int on = 1;
    if (::setsockopt(socket.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
      ec = std::error_code(errno, asio::error::get_system_category());
      return socket;
    }
  }
#endif
  if (local.address().is_v6() && local.address().is_unspecified()) {
    socket.set_option(asio::ip::v6_only(false), ec);
    if (ec) return socket;
  }
  ignore_connection_reset(socket);
  socket.bind(local, ec);
  if (ec) return socket;
  socket.non_blocking(true, ec);
  return socket;
}

udp::socket connect_socket(const asio::any_io_executor& executor, const udp::endpoint& remote,
                           std::error_code& ec) {
  udp::socket socket(executor);
  socket.open(remote.protocol(), ec);
  if (ec) return socket;
  ignore_connection_reset(socket);
  socket.connect(remote, ec);
  return socket;
}

BufferSizes set_buffer_sizes(udp::socket& socket, int bytes) {
  std::error_code ignored;
  socket.set_option(asio::socket_base::receive_buffer_size(bytes), ignored);
  socket.set_option(asio::socket_base::send_buffer_size(bytes), ignored);
  asio::socket_base::receive_buffer_size receive;
  asio::socket_base::send_buffer_size send;
  socket.get_option(receive, ignored);
  socket.get_option(send, ignored);
  return {receive.value(), send.value()};
}

std::error_code send_datagram(udp::socket& socket, std::string_view payload,
                              const udp::endpoint& to) {
  std::error_code ec;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    socket.send_to(asio::buffer(payload.data(), payload.size()), to, 0, ec);
    if (ec != asio::error::would_block && ec != asio::error::try_again) return ec;
    socket.wait(udp::socket::wait_write, ec);
    if (ec) return ec;
  }
  return asio::error::would_block;
}

namespace {

#ifdef __linux__
// `count` datagrams through sendmmsg, 64 a call; `fill(i, header, vector)` describes the i-th.
template <class Fill>
std::size_t send_batched(udp::socket& socket, std::size_t total, Fill fill) {
  constexpr std::size_t kBatch = 64;
  std::array<mmsghdr, kBatch> headers{};
  std::array<iovec, kBatch> vectors{};
  std::size_t failed = 0;
  std::size_t done = 0;
  while (done < total) {
    const std::size_t count = std::min(kBatch, total - done);
    for (std::size_t i = 0; i < count; ++i) {
      auto& header = headers[i].msg_hdr;
      header = {};
      fill(done + i, header, vectors[i]);
      header.msg_iov = &vectors[i];
      header.msg_iovlen = 1;
    }
    const int sent = ::sendmmsg(socket.native_handle(), headers.data(),
                                static_cast<unsigned>(count), MSG_DONTWAIT);
    if (sent > 0) {
      done += static_cast<std::size_t>(sent);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      std::error_code ec;
      socket.wait(udp::socket::wait_write, ec);
      if (ec) return failed + (total - done);
    } else if (errno != EINTR) {
      // The first of the batch failed (say, an unreachable peer): skip it, keep the rest.
      ++failed;
      ++done;
    }
  }
  return failed;
}
#endif

}  // namespace

std::size_t send_to_each(udp::socket& socket, std::string_view payload,
                         std::span<const udp::endpoint> to) {
#ifdef __linux__
  return send_batched(socket, to.size(), [&](std::size_t i, msghdr& header, iovec& vector) {
    header.msg_name = const_cast<sockaddr*>(to[i].data());
    header.msg_namelen = static_cast<socklen_t>(to[i].size());
    vector = {const_cast<char*>(payload.data()), payload.size()};
  });
#else
  std::size_t failed = 0;
  for (const auto& endpoint : to) {
    if (send_datagram(socket, payload, endpoint)) ++failed;
  }
  return failed;
#endif
}

std::size_t send_each(udp::socket& socket, std::span<const Addressed> datagrams) {
#ifdef __linux__
  return send_batched(socket, datagrams.size(), [&](std::size_t i, msghdr& header, iovec& vector) {
    header.msg_name = const_cast<sockaddr*>(datagrams[i].to.data());
    header.msg_namelen = static_cast<socklen_t>(datagrams[i].to.size());
    vector = {const_cast<char*>(datagrams[i].payload.data()), datagrams[i].payload.size()};
  });
#else
  std::size_t failed = 0;
  for (const auto& datagram : datagrams) {
    if (send_datagram(socket, datagram.payload, datagram.to)) ++failed;
  }
  return failed;
#endif
}

std::size_t send_many(udp::socket& socket, std::span<const std::string> payloads,
                      std::error_code& ec) {
  ec.clear();
#ifdef __linux__
  constexpr std::size_t kBatch = 64;
  std::array<mmsghdr, kBatch> headers{};
  std::array<iovec, kBatch> vectors{};
  std::size_t done = 0;
  while (done < payloads.size()) {
    const std::size_t count = std::min(kBatch, payloads.size() - done);
    for (std::size_t i = 0; i < count; ++i) {
      vectors[i] = {const_cast<char*>(payloads[done + i].data()), payloads[done + i].size()};
      headers[i].msg_hdr = {};
      headers[i].msg_hdr.msg_iov = &vectors[i];
      headers[i].msg_hdr.msg_iovlen = 1;
    }
    const int sent = ::sendmmsg(socket.native_handle(), headers.data(),
                                static_cast<unsigned>(count), MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR) continue;
      ec = std::error_code(errno, asio::error::get_system_category());
      return done;
    }
    done += static_cast<std::size_t>(sent);
  }
  return done;
#else
  std::size_t done = 0;
  for (const auto& payload : payloads) {
    socket.send(asio::buffer(payload), 0, ec);
    if (ec) return done;
    ++done;
  }
  return done;
#endif
}

bool is_per_datagram_error(const std::error_code& ec) {
  return ec == asio::error::connection_refused || ec == asio::error::connection_reset ||
         ec == asio::error::message_size || ec == asio::error::would_block ||
         ec == asio::error::try_again || ec == asio::error::no_buffer_space ||
         ec == asio::error::network_unreachable || ec == asio::error::host_unreachable ||
         ec == asio::error::interrupted;
}

#ifdef __linux__
ReceiveBatch::ReceiveBatch(std::size_t count, std::size_t slot_bytes)
    : slot_bytes_(slot_bytes),
      data_(count * slot_bytes),
      stamps_(count),
      headers_(count),
      vectors_(count),
      sources_(count),
      controls_(count) {}

void ReceiveBatch::enable_timestamps(udp::socket& socket) {
  const int on = 1;
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
}

void ReceiveBatch::enable_drop_count(udp::socket& socket) {
  const int on = 1;
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on);
}

std::size_t ReceiveBatch::read(udp::socket& socket, std::error_code& ec) {
  ec.clear();
  // The kernel rewrites lengths on every call: every header is set afresh.
  for (std::size_t i = 0; i < headers_.size(); ++i) {
    vectors_[i] = {data_.data() + i * slot_bytes_, slot_bytes_};
    auto& header = headers_[i].msg_hdr;
    header = {};
    header.msg_name = &sources_[i];
    header.msg_namelen = sizeof sources_[i];
    header.msg_iov = &vectors_[i];
    header.msg_iovlen = 1;
    header.msg_control = controls_[i].data();
    header.msg_controllen = controls_[i].size();
  }
  const int received = ::recvmmsg(socket.native_handle(), headers_.data(),
                                  static_cast<unsigned>(headers_.size()), MSG_DONTWAIT, nullptr);
  if (received < 0) {
    ec = std::error_code(errno, asio::error::get_system_category());
    return 0;
  }
  const auto count = static_cast<std::size_t>(received);
  kernel_drops_.reset();
  for (std::size_t i = 0; i < count; ++i) {
    stamps_[i] = 0;
    auto& header = headers_[i].msg_hdr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c)) {
      if (c->cmsg_level != SOL_SOCKET) continue;
      if (c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec stamp{};
        std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
        stamps_[i] = static_cast<std::int64_t>(stamp.tv_sec) * 1'000'000'000 + stamp.tv_nsec;
      } else if (c->cmsg_type == SO_RXQ_OVFL) {
        std::uint32_t drops = 0;
        std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
        kernel_drops_ = drops;
      }
    }
  }
  return count;
}

std::string_view ReceiveBatch::datagram(std::size_t i) const noexcept {
  return {data_.data() + i * slot_bytes_, headers_[i].msg_len};
}

bool ReceiveBatch::truncated(std::size_t i) const noexcept {
  return (headers_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
}

udp::endpoint ReceiveBatch::source(std::size_t i) const {
  udp::endpoint from;
  std::memcpy(from.data(), &sources_[i], headers_[i].msg_hdr.msg_namelen);
  return from;
}

std::int64_t realtime_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}
#else
ReceiveBatch::ReceiveBatch(std::size_t count, std::size_t slot_bytes)
    : slot_bytes_(slot_bytes),
      data_(count * slot_bytes),
      stamps_(count),
      lengths_(count),
      truncated_(count),
      sources_(count) {}

void ReceiveBatch::enable_timestamps(udp::socket&) {}
void ReceiveBatch::enable_drop_count(udp::socket&) {}

std::size_t ReceiveBatch::read(udp::socket& socket, std::error_code& ec) {
  ec = std::exchange(pending_, {});
  if (ec) return 0;
  if (!socket.non_blocking()) socket.non_blocking(true, ec);
  if (ec) return 0;
  std::size_t count = 0;
  while (count < capacity()) {
    std::error_code error;
    const std::size_t size = socket.receive_from(
        asio::buffer(data_.data() + count * slot_bytes_, slot_bytes_), sources_[count], 0, error);
    // Windows reports a datagram longer than the slot as an error; it is read, cut short.
    truncated_[count] = error == asio::error::message_size;
    if (error && !truncated_[count]) {
      // What ends a batch after its first datagram is said with the next read.
      if (count == 0) {
        ec = error;
      } else if (error != asio::error::would_block && error != asio::error::try_again) {
        pending_ = error;
      }
      break;
    }
    lengths_[count] = truncated_[count] ? slot_bytes_ : size;
    ++count;
  }
  return count;
}

std::string_view ReceiveBatch::datagram(std::size_t i) const noexcept {
  return {data_.data() + i * slot_bytes_, lengths_[i]};
}

bool ReceiveBatch::truncated(std::size_t i) const noexcept {
  return truncated_[i] != 0;
}

udp::endpoint ReceiveBatch::source(std::size_t i) const {
  return sources_[i];
}

std::int64_t realtime_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
#endif

}  // namespace udpchat::net
