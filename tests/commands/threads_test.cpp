// End to end: serve --threads N, one node of N shards on one address. The kernel spreads the
// members over the shards by their addresses; everything a member sees must be as with one.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "protocol/message.hpp"
#include "support/catch.hpp"
#include "support/process.hpp"
#include "support/udp_peer.hpp"

using namespace std::chrono_literals;
using udpchat::test::loopback;
using udpchat::test::Server;
using udpchat::test::UdpPeer;

namespace {

// The lines of a datagram list, as "<nick>:<text>" in the order they came.
std::vector<std::string> lines_of(const std::vector<std::string>& datagrams) {
  std::vector<std::string> lines;
  for (const auto& d : datagrams) {
    const auto message = udpchat::protocol::decode_server(d);
    if (const auto* ack = std::get_if<udpchat::protocol::Ack>(&message)) {
      lines.push_back(std::string(ack->nick) + ":" + std::string(ack->text));
    }
  }
  return lines;
}

// A burst of 500 lines may wait past the stale limit on a slow build; that policy has tests
// of its own.
const std::vector<std::string> kOpen = {"--rate-limit",      "off", "--cookie-rate-limit", "off",
                                        "--max-queue-delay", "off"};

std::vector<std::string> open_args(std::initializer_list<std::string> more) {
  std::vector<std::string> args = kOpen;
  args.insert(args.end(), more);
  return args;
}

// Joins `room` as a +r2 client whose lines are numbered from 1: returns the welcome's head.
std::uint64_t join_numbered(UdpPeer& peer, const std::string& nick, const std::string& room) {
  namespace proto = udpchat::protocol;
  peer.send(proto::encode_extended_cookie_request(2));
  const auto cookie = peer.receive(5s);
  REQUIRE(cookie);
  const auto decoded = proto::decode_server(*cookie);
  REQUIRE(std::holds_alternative<proto::Cookie>(decoded));
  peer.send(proto::encode_join(std::get<proto::Cookie>(decoded).token, nick, room, 1, 2));
  const auto welcome = peer.receive(5s);
  REQUIRE(welcome);
  const auto joined = proto::decode_server(*welcome);
  REQUIRE(std::holds_alternative<proto::Welcome>(joined));
  return std::get<proto::Welcome>(joined).head;
}

// The texts of the numbered lines among `datagrams`, by their number in the room.
std::map<std::uint64_t, std::string> numbered_texts(const std::vector<std::string>& datagrams) {
  std::map<std::uint64_t, std::string> texts;
  for (const auto& d : datagrams) {
    const auto message = udpchat::protocol::decode_server(d);
    if (const auto* ack = std::get_if<udpchat::protocol::Ack>(&message); ack && ack->room_seq) {
      texts[ack->room_seq] = std::string(ack->text);
    }
  }
  return texts;
}

// The distinct shards that members joined, as serve logs them.
std::set<std::string> shards_joined(const std::string& log) {
  std::set<std::string> shards;
  for (auto at = log.find(" shard="); at != std::string::npos; at = log.find(" shard=", at + 1)) {
    shards.insert(log.substr(at + 7, 1));
  }
  return shards;
}

}  // namespace

TEST_CASE(
    "serve --threads 2 and 3: 100 members in four rooms get each line of their room "
    "once, in each sender's order",
    "[e2e][threads]") {
  for (const char* threads : {"2", "3"}) {
    std::vector<std::string> args = kOpen;
    args.insert(args.end(), {"--threads", threads, "--hb-timeout", "2m"});
    Server server(args);
    std::vector<std::unique_ptr<UdpPeer>> members;
    for (int i = 0; i < 100; ++i) {
      members.push_back(std::make_unique<UdpPeer>(loopback(server.port())));
      members.back()->join("m" + std::to_string(i), "room" + std::to_string(i % 4));
    }
    // Every shard has members: the kernel spreads them by address.
    std::set<std::string> shards;
    const std::string log = server.process().err();
    for (auto at = log.find(" shard="); at != std::string::npos; at = log.find(" shard=", at + 1)) {
      shards.insert(log.substr(at + 7, 1));
    }
    CHECK(shards.size() == std::stoul(threads));

    for (int round = 0; round < 5; ++round) {
      for (int i = 0; i < 100; ++i) {
        members[static_cast<std::size_t>(i)]->send("line " + std::to_string(round));
      }
    }
    for (int i = 0; i < 100; ++i) {
      auto& member = *members[static_cast<std::size_t>(i)];
      std::vector<std::string> datagrams;
      // Slow builds (TSan) take seconds for 12500 deliveries; a duplicate would come with them.
      while (lines_of(datagrams).size() < 125) {
        auto datagram = member.receive(10s);
        if (!datagram) break;
        datagrams.push_back(std::move(*datagram));
      }
      for (auto& extra : member.drain(20ms)) datagrams.push_back(std::move(extra));
      const auto seen = lines_of(datagrams);
      // 25 members of its room, 5 lines each, no other room's, none twice, each sender's in
      // the order sent.
      REQUIRE(seen.size() == 125);
      std::map<std::string, int> next;
      for (const auto& line : seen) {
        const auto colon = line.find(':');
        const int sender = std::stoi(line.substr(1, colon - 1));
        CHECK(sender % 4 == i % 4);
        CHECK(line.substr(colon + 1) == "line " + std::to_string(next[line.substr(0, colon)]++));
      }
      CHECK(next.size() == 25);
    }
    server.process().signal(SIGTERM);
    for (auto& member : members) CHECK(member->receive(2s) == "end");
    CHECK(server.process().wait(5s) == 0);
    CHECK(server.process().err().find("notified=100") != std::string::npos);
    CHECK(server.process().err().find("lines=500") != std::string::npos);
    CHECK(server.process().err().find("deliveries=12500") != std::string::npos);
  }
}

TEST_CASE("serve --threads 3: moves, nicks, seats and expiry are the node's, not a shard's",
          "[e2e][threads]") {
  std::vector<std::string> args = kOpen;
  args.insert(args.end(), {"--threads", "3", "--max-clients", "10", "--hb-timeout", "1s"});
  Server server(args);
  std::vector<std::unique_ptr<UdpPeer>> members;
  for (int i = 0; i < 10; ++i) {
    members.push_back(std::make_unique<UdpPeer>(loopback(server.port())));
    members.back()->join("m" + std::to_string(i), "a");
  }
  // Seats are counted over the node: the eleventh is refused whatever shard it reaches.
  for (int i = 0; i < 4; ++i) {
    UdpPeer late(loopback(server.port()));
    late.send(udpchat::protocol::encode_cookie_request());
    const auto cookie = late.receive();
    REQUIRE(cookie);
    const auto token =
        std::get<udpchat::protocol::Cookie>(udpchat::protocol::decode_server(*cookie)).token;
    late.send(udpchat::protocol::encode_join(token, "late" + std::to_string(i), "a"));
    CHECK(late.receive() == "full");
  }
  // A nick is held over the node: m0 leaves, and only then may another take it.
  members[0]->send("quit");
  REQUIRE(server.process().wait_for_log(" left ", 1, 2s));
  UdpPeer impostor(loopback(server.port()));
  impostor.send(udpchat::protocol::encode_cookie_request());
  const auto cookie = impostor.receive();
  REQUIRE(cookie);
  const auto token =
      std::get<udpchat::protocol::Cookie>(udpchat::protocol::decode_server(*cookie)).token;
  impostor.send(udpchat::protocol::encode_join(token, "m1", "a"));
  CHECK(impostor.receive() == "nick taken");
  impostor.send(udpchat::protocol::encode_join(token, "m0", "a"));
  CHECK(impostor.receive()->starts_with("welcome "));
  // A move on one shard: lines of the old room stop, lines of the new one come.
  members[1]->join("m1", "b");
  members[2]->send("for a");
  std::this_thread::sleep_for(200ms);
  CHECK(lines_of(members[1]->drain(200ms)).empty());
  members[3]->drain(100ms);
  members[3]->join("m3", "b");
  members[3]->send("for b");
  CHECK(lines_of(members[1]->drain(300ms)) == std::vector<std::string>{"m3:for b"});
  // Silent members expire on every shard within the timeout and a quarter.
  REQUIRE(server.process().wait_for_log("expired", 10, 4s));
  server.process().signal(SIGTERM);
  CHECK(server.process().wait(5s) == 0);
  CHECK(server.process().err().find("members=0") != std::string::npos);
}

TEST_CASE("serve --threads 2 and 3: late joiners on every shard get the same 20 history lines",
          "[e2e][threads][history]") {
  for (const int threads : {2, 3}) {
    Server server(open_args({"--threads", std::to_string(threads), "--hb-timeout", "2m"}));
    UdpPeer alice(loopback(server.port()));
    CHECK(join_numbered(alice, "alice", "ops") == 0);
    std::map<std::uint64_t, std::string> expected;
    for (int i = 1; i <= 20; ++i) {
      alice.send(udpchat::protocol::encode_numbered(static_cast<std::uint64_t>(i),
                                                    "line " + std::to_string(i)));
      expected[static_cast<std::uint64_t>(i)] = "line " + std::to_string(i);
    }
    // Her echoes say the room took each one.
    std::vector<std::string> echoes;
    while (numbered_texts(echoes).size() < 20) {
      auto datagram = alice.receive(5s);
      if (!datagram) break;
      echoes.push_back(std::move(*datagram));
    }
    REQUIRE(numbered_texts(echoes) == expected);
    // Eight late joiners per shard, on average: the kernel spreads them by address.
    std::vector<std::unique_ptr<UdpPeer>> late;
    for (int i = 0; i < 8 * threads; ++i) {
      late.push_back(std::make_unique<UdpPeer>(loopback(server.port())));
      CHECK(join_numbered(*late.back(), "late" + std::to_string(i), "ops") == 20);
    }
    CHECK(shards_joined(server.process().err()).size() == static_cast<std::size_t>(threads));
    for (auto& peer : late) {
      peer->send(udpchat::protocol::encode_nack(1, 20));
      std::vector<std::string> history;
      while (numbered_texts(history).size() < 20) {
        auto datagram = peer->receive(5s);
        if (!datagram) break;
        history.push_back(std::move(*datagram));
      }
      CHECK(numbered_texts(history) == expected);
    }
    server.process().signal(SIGTERM);
    CHECK(server.process().wait(5s) == 0);
  }
}

TEST_CASE("serve --threads 2: five shutdowns under load lose no line a shard took",
          "[e2e][threads][shutdown]") {
  for (int run = 0; run < 5; ++run) {
    Server server(open_args({"--threads", "2", "--hb-timeout", "2m"}));
    constexpr int kMembers = 12;
    std::vector<std::unique_ptr<UdpPeer>> members;
    for (int i = 0; i < kMembers; ++i) {
      members.push_back(std::make_unique<UdpPeer>(loopback(server.port())));
      members.back()->join("m" + std::to_string(i));
    }
    REQUIRE(shards_joined(server.process().err()).size() == 2);
    // Lines from every member, and the signal while they are still coming in. The members'
    // sockets hold what comes (4 MiB each) until they are read, after `end`.
    std::thread sender([&] {
      for (int round = 0; round < 40; ++round) {
        for (int i = 0; i < kMembers; ++i) {
          members[static_cast<std::size_t>(i)]->send(fmt::format("r{} from m{}", round, i));
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + 10 * run));
    server.process().signal(SIGTERM);
    sender.join();
    std::vector<std::vector<std::string>> seen(kMembers);
    std::vector<bool> ended(kMembers, false);
    for (std::size_t i = 0; i < members.size(); ++i) {
      while (auto datagram = members[i]->receive(10s)) {
        if (*datagram == "end") {
          ended[i] = true;
          break;
        }
        seen[i].push_back(std::move(*datagram));
      }
    }
    CHECK(server.process().wait(10s) == 0);
    // A line any member saw was taken by a shard: every member saw it before `end`.
    std::set<std::string> taken;
    for (const auto& lines : seen) {
      for (const auto& line : lines_of(lines)) taken.insert(line);
    }
    INFO("run " << run << ": " << taken.size() << " lines taken");
    for (int i = 0; i < kMembers; ++i) {
      const auto index = static_cast<std::size_t>(i);
      CHECK(ended[index]);
      const auto mine = lines_of(seen[index]);
      CHECK(std::set<std::string>(mine.begin(), mine.end()) == taken);
    }
  }
}
