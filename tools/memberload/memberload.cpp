// memberload: many relay members from one process, for `scripts/bench`. Each member is a
// distinct source address and port (127.0.0.2 and up, 50,000 ports each) written into a raw
// IPv4 socket, so that 100,000 members need neither 100,000 descriptors nor raised limits.
// The members join a relay in --legacy mode with `^hb^` (they cannot receive a cookie) and then
// send a heartbeat every INTERVAL seconds for SECONDS. Needs CAP_NET_RAW (root).
// Usage: memberload PORT MEMBERS INTERVAL_S SECONDS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {

constexpr unsigned kPortsPerAddress = 50000;
constexpr unsigned kFirstPort = 10000;
constexpr char kHeartbeat[] = "^hb^";

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "memberload: error: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

std::uint16_t ip_checksum(const void* data, std::size_t length) {
  const auto* words = static_cast<const std::uint16_t*>(data);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < length / 2; ++i) sum += words[i];
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

struct Sender {
  int fd;
  sockaddr_in server;

  void heartbeat_from(unsigned member) const {
    struct {
      iphdr ip;
      udphdr udp;
      char payload[4];
    } packet{};
    packet.ip.version = 4;
    packet.ip.ihl = 5;
    packet.ip.ttl = 64;
    packet.ip.protocol = IPPROTO_UDP;
    packet.ip.tot_len = htons(sizeof packet);
    packet.ip.saddr = htonl(INADDR_LOOPBACK + 1 + member / kPortsPerAddress);
    packet.ip.daddr = server.sin_addr.s_addr;
    packet.ip.check = ip_checksum(&packet.ip, sizeof packet.ip);
    packet.udp.source = htons(static_cast<std::uint16_t>(kFirstPort + member % kPortsPerAddress));
    packet.udp.dest = server.sin_port;
    packet.udp.len = htons(sizeof packet.udp + sizeof packet.payload);
    packet.udp.check = 0;  // optional for IPv4
    std::memcpy(packet.payload, kHeartbeat, sizeof packet.payload);
    if (::sendto(fd, &packet, sizeof packet, 0, reinterpret_cast<const sockaddr*>(&server),
                 sizeof server) < 0 &&
        errno != ENOBUFS && errno != EAGAIN) {
      die("sendto");
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: memberload PORT MEMBERS INTERVAL_S SECONDS\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const long members = std::atol(argv[2]);
  const double interval = std::atof(argv[3]);
  const double seconds = std::atof(argv[4]);
  if (port <= 0 || port > 65535 || members <= 0 || members > 5'000'000 || interval <= 0 ||
      seconds < 0) {
    return 2;
  }
  Sender sender{::socket(AF_INET, SOCK_RAW, IPPROTO_RAW), {}};
  if (sender.fd < 0) die("raw socket (needs root)");
  sender.server.sin_family = AF_INET;
  sender.server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sender.server.sin_port = htons(static_cast<std::uint16_t>(port));

  using Clock = std::chrono::steady_clock;
  // Joins in batches, pausing so that the relay's receive buffer never overflows.
  for (long i = 0; i < members; ++i) {
    sender.heartbeat_from(static_cast<unsigned>(i));
    if (i % 500 == 499) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::printf("joined %ld\n", members);
  std::fflush(stdout);

  // Then heartbeats spread evenly over each interval, in small bursts every millisecond.
  const auto start = Clock::now();
  const double per_second = static_cast<double>(members) / interval;
  long sent = 0;
  while (true) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed >= seconds) break;
    const auto due = static_cast<long>(elapsed * per_second);
    for (; sent < due; ++sent) sender.heartbeat_from(static_cast<unsigned>(sent % members));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ::close(sender.fd);
  return 0;
}
