// udpceil: what this machine's loopback UDP can do with raw sockets and no udpchat code. The
// figures udpchat is judged by are ratios of these, measured in the same run.
//   (a) fanout:   one socket sends 64-byte datagrams round-robin to 100 receiving sockets
//   (b) one:      one socket to one socket, sendto and recvfrom
//   (c) pingpong: round trip of a 64-byte datagram between two threads
// Usage: udpceil [--seconds S] [--receivers N] [--size B] [--json]
//        udpceil --sink PORT --seconds S   (a socket that reads and discards: a server with
//                                            no limit, for measuring a sender alone)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  double seconds = 2;
  int receivers = 100;
  std::size_t size = 64;
  bool json = false;
  int pings = 20000;
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "udpceil: error: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int bound_socket(sockaddr_in& address) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) die("bind");
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int buffer = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  return fd;
}

// Sends for `seconds` from one socket to every receiver in turn while another thread drains
// them; returns datagrams delivered per second.
double flood(const Options& options, int receivers) {
  std::vector<int> fds(static_cast<std::size_t>(receivers));
  std::vector<sockaddr_in> addresses(fds.size());
  for (std::size_t i = 0; i < fds.size(); ++i) fds[i] = bound_socket(addresses[i]);
  sockaddr_in from{};
  const int sender = bound_socket(from);

  std::atomic<bool> sending{true};
  std::atomic<std::uint64_t> delivered{0};
  std::thread drain([&] {
    std::vector<pollfd> polls;
    for (int fd : fds) polls.push_back({fd, POLLIN, 0});
    char buffer[2048];
    std::uint64_t count = 0;
    auto idle_since = Clock::now();
    while (true) {
      if (::poll(polls.data(), polls.size(), 50) > 0) {
        idle_since = Clock::now();
        for (auto& p : polls) {
          if (!(p.revents & POLLIN)) continue;
          while (::recv(p.fd, buffer, sizeof buffer, MSG_DONTWAIT) > 0) ++count;
        }
      } else if (!sending && Clock::now() - idle_since > std::chrono::milliseconds(100)) {
        break;
      }
    }
    delivered = count;
  });

  std::string payload(options.size, 'x');
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(options.seconds);
  std::size_t next = 0;
  while (Clock::now() < until) {
    for (int burst = 0; burst < 64; ++burst) {
      ::sendto(sender, payload.data(), payload.size(), 0,
               reinterpret_cast<const sockaddr*>(&addresses[next]), sizeof addresses[next]);
      next = next + 1 == addresses.size() ? 0 : next + 1;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  sending = false;
  drain.join();
  for (int fd : fds) ::close(fd);
  ::close(sender);
  return static_cast<double>(delivered.load()) / elapsed;
}

// Median and 99th percentile round trip, in microseconds.
std::pair<double, double> ping_pong(const Options& options) {
  sockaddr_in a_address{}, b_address{};
  const int a = bound_socket(a_address);
  const int b = bound_socket(b_address);
  std::thread echo([&] {
    char buffer[2048];
    sockaddr_in peer{};
    for (int i = 0; i < options.pings; ++i) {
      socklen_t length = sizeof peer;
      const auto n = ::recvfrom(b, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&peer), &length);
      if (n <= 0) break;
      ::sendto(b, buffer, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&peer), length);
    }
  });
  std::string payload(options.size, 'p');
  char buffer[2048];
  std::vector<double> rtts;
  rtts.reserve(static_cast<std::size_t>(options.pings));
  for (int i = 0; i < options.pings; ++i) {
    const auto sent = Clock::now();
    ::sendto(a, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&b_address), sizeof b_address);
    if (::recv(a, buffer, sizeof buffer, 0) <= 0) die("recv");
    rtts.push_back(std::chrono::duration<double, std::micro>(Clock::now() - sent).count());
  }
  echo.join();
  ::close(a);
  ::close(b);
  std::sort(rtts.begin(), rtts.end());
  return {rtts[rtts.size() / 2], rtts[rtts.size() * 99 / 100]};
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  int sink_port = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "udpceil: error: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--seconds") {
      options.seconds = std::atof(value());
    } else if (arg == "--receivers") {
      options.receivers = std::atoi(value());
    } else if (arg == "--size") {
      options.size = static_cast<std::size_t>(std::atoi(value()));
    } else if (arg == "--pings") {
      options.pings = std::atoi(value());
    } else if (arg == "--sink") {
      sink_port = std::atoi(value());
    } else if (arg == "--json") {
      options.json = true;
    } else {
      std::fprintf(stderr,
                   "usage: udpceil [--seconds S] [--receivers N] [--size B] [--pings N] [--json]\n");
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }
  if (options.seconds <= 0 || options.receivers < 1 || options.size < 1 || options.size > 2048 ||
      options.pings < 1) {
    std::fprintf(stderr, "udpceil: error: values out of range\n");
    return 2;
  }

  if (sink_port >= 0) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(sink_port));
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) die("bind");
    const auto until = Clock::now() + std::chrono::duration<double>(options.seconds);
    char buffer[2048];
    pollfd p{fd, POLLIN, 0};
    while (Clock::now() < until) {
      if (::poll(&p, 1, 50) > 0) {
        while (::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) > 0) {
        }
      }
    }
    return 0;
  }

  const double fanout = flood(options, options.receivers);
  const double one = flood(options, 1);
  const auto [p50, p99] = ping_pong(options);
  if (options.json) {
    fmt::print(
        "{{\"size\":{},\"receivers\":{},\"fanout_deliveries_per_s\":{:.0f},"
        "\"one_to_one_per_s\":{:.0f},\"ping_pong_rtt_p50_us\":{:.2f},\"ping_pong_rtt_p99_us\":{:.2f}}}\n",
        options.size, options.receivers, fanout, one, p50, p99);
  } else {
    fmt::print("(a) one sender to {} sockets: {:.0f} deliveries/s ({} B)\n", options.receivers, fanout,
               options.size);
    fmt::print("(b) one to one:              {:.0f} datagrams/s\n", one);
    fmt::print("(c) ping-pong round trip:    p50 {:.1f} us, p99 {:.1f} us\n", p50, p99);
  }
  return 0;
}
