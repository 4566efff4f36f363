// End to end: serve under abuse. Loopback only; every load is bounded in count and time.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "protocol/message.hpp"
#include "support/catch.hpp"
#include "support/process.hpp"
#include "support/udp_peer.hpp"

using namespace std::chrono_literals;
using udpchat::test::loopback;
using udpchat::test::resident_kib;
using udpchat::test::run_udpchat;
using udpchat::test::Server;
using udpchat::test::UdpPeer;

namespace {

// The milliseconds of the day of a JSON log line's "time" (2026-11-27T15:02:44.449Z).
long log_time_ms(std::string_view line) {
  const auto at = line.find("\"time\":\"");
  if (at == std::string_view::npos || line.size() < at + 8 + 24) return -1;
  const std::string_view t = line.substr(at + 8 + 11, 12);  // 15:02:44.449
  auto number = [&](std::size_t from, std::size_t digits) {
    long n = 0;
    for (std::size_t i = from; i < from + digits; ++i) n = n * 10 + (t[i] - '0');
    return n;
  };
  return ((number(0, 2) * 60 + number(3, 2)) * 60 + number(6, 2)) * 1000 + number(9, 3);
}

}  // namespace

TEST_CASE("a storm of random datagrams relays nothing, leaves probe answering and memory flat",
          "[e2e][hardening]") {
  Server server;
  const std::uint16_t port = server.port();
  UdpPeer member(loopback(port));
  member.join("watcher");
  std::this_thread::sleep_for(100ms);

  const long before = resident_kib(server.process());
  REQUIRE(before > 0);
  asio::io_context io;
  std::vector<std::unique_ptr<asio::ip::udp::socket>> sources;
  for (int i = 0; i < 200; ++i) {
    sources.push_back(std::make_unique<asio::ip::udp::socket>(io, loopback(0)));
    sources.back()->non_blocking(true);
  }
  std::mt19937 random(2026);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> small(0, 2048);
  std::uniform_int_distribution<int> large(2049, 65507);
  std::string datagram;
  std::size_t sent = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 300'000; ++i) {
    datagram.resize(static_cast<std::size_t>(i % 100 == 99 ? large(random) : small(random)));
    for (std::size_t b = 0; b < std::min<std::size_t>(datagram.size(), 64); ++b) {
      datagram[b] = static_cast<char>(byte(random));
    }
    std::error_code ec;
    sources[static_cast<std::size_t>(i) % sources.size()]->send_to(asio::buffer(datagram),
                                                                   loopback(port), 0, ec);
    if (!ec) ++sent;
    if (i % 2000 == 1999) std::this_thread::sleep_for(1ms);  // let the relay drain
  }
  CHECK(std::chrono::steady_clock::now() - started < 60s);
  CHECK(sent >= 290'000);
  std::this_thread::sleep_for(300ms);

  CHECK(run_udpchat({"probe", "--wait", "5s", "127.0.0.1:" + std::to_string(port)}).exit_code == 0);
  for (const auto& seen : member.drain(300ms)) CHECK_FALSE(seen.starts_with("ack:"));
  const long after = resident_kib(server.process());
  CHECK(after - before <= 10 * 1024);
}

TEST_CASE("non-members never receive more bytes than they sent, and never an ack",
          "[e2e][hardening]") {
  Server server({"--rate-limit", "off"});
  asio::io_context io;
  std::vector<std::unique_ptr<UdpPeer>> members;
  for (int i = 0; i < 20; ++i) {
    members.push_back(std::make_unique<UdpPeer>(loopback(server.port())));
    members.back()->join("m" + std::to_string(i));
  }
  struct Stranger {
    std::unique_ptr<asio::ip::udp::socket> socket;
    std::size_t sent = 0;
  };
  std::vector<Stranger> strangers;
  for (int i = 0; i < 1000; ++i) {
    strangers.push_back({std::make_unique<asio::ip::udp::socket>(io, loopback(0)), 0});
    strangers.back().socket->non_blocking(true);
  }
  const std::vector<std::string> shapes = {"reg",
                                           udpchat::protocol::encode_cookie_request(),
                                           "^hb^",
                                           "hello everyone",
                                           "quit",
                                           "ping zz",
                                           "reg AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA nick",
                                           std::string(3000, 'j'),
                                           "\xff\xfe junk"};
  for (int round = 0; round < 5; ++round) {
    for (auto& stranger : strangers) {
      const auto& shape = shapes[(stranger.sent + static_cast<std::size_t>(round)) % shapes.size()];
      std::error_code ec;
      stranger.socket->send_to(asio::buffer(shape), loopback(server.port()), 0, ec);
      if (!ec) stranger.sent += shape.size();
    }
    for (int i = 0; i < 20; ++i) members[static_cast<std::size_t>(i)]->send("line from a member");
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(300ms);
  std::vector<char> buffer(65536);
  for (auto& stranger : strangers) {
    std::size_t received = 0;
    while (true) {
      std::error_code ec;
      const auto n = stranger.socket->receive(asio::buffer(buffer), 0, ec);
      if (ec) break;
      received += n;
      CHECK_FALSE(std::string_view(buffer.data(), n).starts_with("ack:"));
    }
    CHECK(received <= stranger.sent);
  }
}

TEST_CASE("20,000 joins never pass max-clients and every member expires on time",
          "[e2e][hardening]") {
  Server server({"--max-clients", "4096", "--hb-timeout", "2s", "--rate-limit", "off",
                 "--cookie-rate-limit", "off", "--log-format", "json"});
  std::size_t welcomed = 0;
  // 80 batches of 250 sockets, each batch on its own loopback address: 20,000 distinct sources
  // without holding 20,000 descriptors at once.
  for (int batch = 0; batch < 80; ++batch) {
    std::vector<std::unique_ptr<UdpPeer>> peers;
    const auto address = asio::ip::make_address_v4("127.0.1." + std::to_string(batch + 1));
    for (int i = 0; i < 250; ++i) {
      peers.push_back(std::make_unique<UdpPeer>(loopback(server.port()), address));
      peers.back()->send(udpchat::protocol::encode_cookie_request());
    }
    for (auto& peer : peers) {
      const auto cookie = peer->receive(2s);
      REQUIRE(cookie);
      peer->send("reg " + cookie->substr(7));
    }
    std::this_thread::sleep_for(30ms);
    for (auto& peer : peers) {
      if (peer->try_receive()) {
        ++welcomed;
      }
    }
  }
  CHECK(welcomed >= 4096);
  // With no further traffic every member is gone within hb-timeout plus a quarter of it. The
  // bound is checked on the relay's own log times (milliseconds), so that a loaded machine's
  // delay in reading the log is not taken for the relay's; the wait itself is generous.
  struct Membership {
    std::size_t members = 0;
    std::size_t most = 0;
    long last_joined_ms = -1;
    long last_expired_ms = -1;
  };
  auto membership = [&] {
    Membership m;
    const std::string log = server.process().err();
    for (std::size_t at = 0, end; (end = log.find('\n', at)) != std::string::npos; at = end + 1) {
      const std::string_view line(log.data() + at, end - at);
      const bool joined = line.find("\"event\":\"joined\"") != std::string_view::npos;
      const bool expired = line.find("\"event\":\"expired\"") != std::string_view::npos;
      if (!joined && !expired) continue;
      const long ms = log_time_ms(line);
      if (joined) {
        ++m.members;
        m.last_joined_ms = ms;
      } else {
        --m.members;
        m.last_expired_ms = ms;
      }
      m.most = std::max(m.most, m.members);
    }
    return m;
  };
  const auto until = std::chrono::steady_clock::now() + 2s + 500ms + 5s;
  while (membership().members != 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  const Membership m = membership();
  CHECK(m.members == 0);
  CHECK(m.most == 4096);
  REQUIRE(m.last_joined_ms >= 0);
  REQUIRE(m.last_expired_ms >= 0);
  // The last member to join is among the last to expire: 2 s + 500 ms after it at the latest,
  // plus 500 ms for the sweep's timer on a loaded machine and the writing of the sweep's log
  // lines (each stamped as written). The joined line is stamped a moment after the member was
  // last heard, hence 1990 below.
  long span = m.last_expired_ms - m.last_joined_ms;
  if (span < 0) span += 24 * 3600 * 1000;  // past midnight
  INFO("the last member expired " << span << " ms after it joined");
  CHECK(span >= 1990);
  CHECK(span <= 2000 + 500 + 500);
}

TEST_CASE("a flooding member gets only its budget relayed while others get through",
          "[e2e][hardening]") {
  Server server;
  UdpPeer watcher(loopback(server.port()));
  watcher.join("watcher");
  UdpPeer flooder(loopback(server.port()), asio::ip::make_address_v4("127.0.0.2"));
  flooder.join("flooder");
  std::vector<std::unique_ptr<UdpPeer>> others;
  for (int i = 0; i < 3; ++i) {
    others.push_back(std::make_unique<UdpPeer>(
        loopback(server.port()), asio::ip::make_address_v4("127.0.0." + std::to_string(3 + i))));
    others.back()->join("o" + std::to_string(i));
  }
  std::atomic<bool> flooding{true};
  std::thread flood([&] {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 30'000; ++i) {  // 10,000 lines/s for 3 s
      const auto due = start + std::chrono::microseconds(100 * i);
      std::this_thread::sleep_until(due);
      flooder.send("flood " + std::to_string(i));
    }
    flooding = false;
  });
  int probes_ok = 0;
  int others_sent = 0;
  while (flooding) {
    for (auto& other : others) {
      other->send("legit " + std::to_string(others_sent++));
    }
    probes_ok += run_udpchat({"probe", "--timeout", "500ms", server.address()}).exit_code == 0;
    std::this_thread::sleep_for(200ms);
  }
  flood.join();
  std::size_t flood_relayed = 0;
  std::size_t legit_relayed = 0;
  for (const auto& seen : watcher.drain(1s)) {
    if (seen.find("\nflood ") != std::string::npos) ++flood_relayed;
    if (seen.find("\nlegit ") != std::string::npos) ++legit_relayed;
  }
  // Burst 400 + 200/s over the ~3 s flood, with slack for scheduling.
  CHECK(flood_relayed <= 400 + 200 * 4);
  CHECK(flood_relayed >= 400);
  CHECK(legit_relayed == static_cast<std::size_t>(others_sent));
  CHECK(probes_ok >= 5);
}

TEST_CASE("malformed lines are never relayed and a 1024-byte line is relayed intact",
          "[e2e][hardening]") {
  Server server;
  UdpPeer member(loopback(server.port()));
  member.join();
  std::vector<std::string> bad = {"bad \xff utf8", "\xc0\xaf overlong", "new\nline",
                                  "carriage\rreturn", std::string("nul\0byte", 8)};
  for (std::size_t size : {1025u, 1500u, 4096u, 65507u}) bad.push_back(std::string(size, 'x'));
  for (const auto& line : bad) member.send(line);
  const std::string exact(1024, 'z');
  member.send(exact);
  const auto seen = member.drain(500ms);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == "ack: 127.0.0.1 " + std::to_string(member.port()) + "\n" + exact + "\n");
}

TEST_CASE("SIGTERM under load sends end to all 100 members and exits 0 within a second",
          "[e2e][hardening]") {
  Server server({"--rate-limit", "off", "--cookie-rate-limit", "off"});
  std::vector<std::unique_ptr<UdpPeer>> members;
  for (int i = 0; i < 100; ++i) {
    members.push_back(std::make_unique<UdpPeer>(loopback(server.port())));
    members.back()->join();
  }
  std::atomic<bool> chatting{true};
  std::thread chatter([&] {
    for (int i = 0; chatting && i < 100'000; ++i) {
      members[static_cast<std::size_t>(i) % members.size()]->send("busy " + std::to_string(i));
      std::this_thread::sleep_for(1ms);  // about 1,000 lines/s, each to 100 members
    }
  });
  std::this_thread::sleep_for(300ms);
  const auto signalled = std::chrono::steady_clock::now();
  server.process().signal(SIGTERM);
  const auto code = server.process().wait(1s);
  CHECK(std::chrono::steady_clock::now() - signalled < 1s);
  chatting = false;
  chatter.join();
  REQUIRE(code);
  CHECK(*code == 0);
  for (auto& member : members) {
    bool ended = false;
    while (auto seen = member->receive(1s)) {
      if (*seen == "end") {
        ended = true;
        break;
      }
    }
    CHECK(ended);
  }
}

TEST_CASE("a flood forged from a member's IP on other ports neither silences nor expires it",
          "[e2e][hardening]") {
  Server server({"--hb-timeout", "2s"});
  UdpPeer watcher(loopback(server.port()), asio::ip::make_address_v4("127.0.0.9"));
  watcher.join("watcher");
  UdpPeer victim(loopback(server.port()), asio::ip::make_address_v4("127.0.0.7"));
  victim.join("victim");
  // The forger shares the victim's address (127.0.0.7), not its port.
  asio::io_context io;
  std::vector<std::unique_ptr<asio::ip::udp::socket>> forged;
  for (int i = 0; i < 50; ++i) {
    forged.push_back(std::make_unique<asio::ip::udp::socket>(
        io, asio::ip::udp::endpoint(asio::ip::make_address_v4("127.0.0.7"), 0)));
    forged.back()->non_blocking(true);
  }
  const std::string padded = udpchat::protocol::encode_cookie_request();
  std::atomic<bool> flooding{true};
  std::thread flood([&] {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 15'000; ++i) {  // 3000 datagrams/s for 5 s, one in four a padded reg
      std::this_thread::sleep_until(start + std::chrono::microseconds(333 * i));
      std::error_code ec;
      const std::string_view datagram = i % 4 == 0 ? std::string_view(padded) : "^hb^";
      forged[static_cast<std::size_t>(i) % forged.size()]->send_to(asio::buffer(datagram),
                                                                   loopback(server.port()), 0, ec);
    }
    flooding = false;
  });
  int sent = 0;
  while (flooding) {
    victim.send("line " + std::to_string(sent++));
    watcher.send("^hb^");
    std::this_thread::sleep_for(50ms);
  }
  flood.join();
  std::size_t delivered = 0;
  for (const auto& seen : watcher.drain(1s))
    delivered += seen.find(" victim\nline ") != std::string::npos;
  CHECK(sent >= 80);
  CHECK(delivered * 100 >= static_cast<std::size_t>(sent) * 99);
  CHECK(server.process().err().find("expired") == std::string::npos);
}

TEST_CASE("a one-byte spoofed legacy join into a busy room gets at most its credit",
          "[e2e][hardening]") {
  Server server({"--legacy"});
  UdpPeer victim(loopback(server.port()), asio::ip::make_address_v4("127.0.0.66"));
  victim.send("x");  // as if forged: the victim never speaks again
  std::vector<std::unique_ptr<UdpPeer>> room;
  for (int i = 0; i < 20; ++i) {
    room.push_back(std::make_unique<UdpPeer>(loopback(server.port())));
    room.back()->send("^hb^");
  }
  std::this_thread::sleep_for(100ms);
  const std::string line(500, 'b');
  for (int i = 0; i < 1000; ++i) {
    room[static_cast<std::size_t>(i) % room.size()]->send(line);
    if (i % 50 == 49) std::this_thread::sleep_for(2ms);
  }
  std::size_t bytes = 0;
  for (const auto& seen : victim.drain(1s)) bytes += seen.size();
  const std::size_t one_line = line.size() + 40;
  CHECK(bytes <= 64'000 + one_line);
  CHECK(bytes >= 64'000 - one_line);  // it got its credit's worth, then nothing
}

TEST_CASE("18 spoofed empty datagrams renew no legacy credit", "[e2e][hardening]") {
  Server server({"--legacy"});
  UdpPeer victim(loopback(server.port()), asio::ip::make_address_v4("127.0.0.67"));
  victim.send("x");  // as if forged
  UdpPeer talker(loopback(server.port()));
  talker.send("^hb^");
  std::this_thread::sleep_for(100ms);
  const std::string line(500, 'b');
  auto talk = [&](int lines) {
    for (int i = 0; i < lines; ++i) {
      talker.send(line);
      if (i % 50 == 49) std::this_thread::sleep_for(2ms);
    }
  };
  talk(200);  // 100 KB: beyond the 64 KB credit
  std::size_t bytes = 0;
  for (const auto& seen : victim.drain(500ms)) bytes += seen.size();
  const std::size_t one_line = line.size() + 40;
  REQUIRE(bytes >= 64'000 - one_line);
  // 18 forged bytes, 1 each, between bursts: each is dropped as empty and renews nothing.
  std::size_t after = 0;
  for (int i = 0; i < 18; ++i) {
    victim.send("\n");
    talk(10);
    for (const auto& seen : victim.drain(20ms)) after += seen.size();
  }
  for (const auto& seen : victim.drain(300ms)) after += seen.size();
  CHECK(after == 0);
  CHECK(bytes + after <= 64'000 + one_line);
}

TEST_CASE("SIGHUP ends serve like SIGTERM: end to every member, totals, exit 0",
          "[e2e][hardening]") {
  Server server;
  UdpPeer member(loopback(server.port()));
  member.join();
  server.process().signal(SIGHUP);
  CHECK(member.receive(2s) == "end");
  CHECK(server.process().wait(2s) == 0);
  CHECK(server.process().err().find("signal=SIGHUP") != std::string::npos);
  CHECK(server.process().err().find("totals") != std::string::npos);
}
