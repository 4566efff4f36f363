// End to end: the built `udpchat serve` driven over real loopback sockets.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/catch.hpp"
#include "support/process.hpp"
#include "support/udp_peer.hpp"

using namespace std::chrono_literals;
using udpchat::test::loopback;
using udpchat::test::run_udpchat;
using udpchat::test::Server;
using udpchat::test::UdpPeer;

namespace {

std::string ack(std::uint16_t port, std::string_view nick, std::string_view text) {
  std::string out = "ack: 127.0.0.1 " + std::to_string(port);
  if (!nick.empty()) out += " " + std::string(nick);
  return out + "\n" + std::string(text) + "\n";
}

// Polls the server's log until `needle` shows up.
bool wait_for_log(udpchat::test::Process& process, std::string_view needle,
                  std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (process.err().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

}  // namespace

TEST_CASE("serve logs the address it is listening on, and nothing goes to stdout",
          "[e2e][serve]") {
  Server server;
  REQUIRE(wait_for_log(server.process(), "listening", 5s));
  CHECK(server.process().err().find("listening address=127.0.0.1:" + std::to_string(server.port())) !=
        std::string::npos);
  server.process().signal(SIGTERM);
  REQUIRE(server.process().wait(5s) == 0);
  CHECK(server.process().out().empty());
}

TEST_CASE("validated members receive every line as an ack, sender included", "[e2e][serve]") {
  Server server;
  UdpPeer alice(loopback(server.port()));
  UdpPeer bob(loopback(server.port()));
  CHECK(alice.join("alice") == "welcome 127.0.0.1 " + std::to_string(alice.port()) + " alice");
  CHECK(bob.join() == "welcome 127.0.0.1 " + std::to_string(bob.port()));

  alice.send("hello bob\n");
  CHECK(alice.receive() == ack(alice.port(), "alice", "hello bob"));
  CHECK(bob.receive() == ack(alice.port(), "alice", "hello bob"));
  bob.send("hi alice");
  CHECK(alice.receive() == ack(bob.port(), "", "hi alice"));
  CHECK(bob.receive() == ack(bob.port(), "", "hi alice"));
}

TEST_CASE("serve relays a line to its sender's room only; the original join is in lobby",
          "[e2e][serve][rooms]") {
  Server server;
  UdpPeer old_style(loopback(server.port()));
  UdpPeer lobby(loopback(server.port()));
  UdpPeer ops(loopback(server.port()));
  CHECK(old_style.join("old") == "welcome 127.0.0.1 " + std::to_string(old_style.port()) + " old");
  CHECK(lobby.join("l", "lobby") ==
        "welcome 127.0.0.1 " + std::to_string(lobby.port()) + " l lobby");
  CHECK(ops.join("o", "ops") == "welcome 127.0.0.1 " + std::to_string(ops.port()) + " o ops");

  old_style.send("lobby line");
  CHECK(lobby.receive() == ack(old_style.port(), "old", "lobby line"));
  CHECK(old_style.receive() == ack(old_style.port(), "old", "lobby line"));
  CHECK(ops.drain(200ms).empty());
  ops.send("ops line");
  CHECK(ops.receive() == ack(ops.port(), "o", "ops line"));
  CHECK(lobby.drain(200ms).empty());
  CHECK(old_style.drain(100ms).empty());
  CHECK(server.process().err().find("room=ops") != std::string::npos);
}

TEST_CASE("a non-member's chat line is not relayed in validated mode, and it is told so",
          "[e2e][serve]") {
  Server server;
  UdpPeer member(loopback(server.port()));
  member.join();
  UdpPeer stranger(loopback(server.port()));
  stranger.send("reg");
  stranger.send("^hb^");
  stranger.send("let me in");
  CHECK(member.drain(300ms).empty());
  CHECK(stranger.drain(100ms) == std::vector<std::string>{"reg?", "reg?"});
  member.send("still here");
  CHECK(member.receive() == ack(member.port(), "", "still here"));
  CHECK(stranger.drain(200ms).empty());
}

TEST_CASE("an original-protocol client chats through serve --legacy with byte-exact acks",
          "[e2e][serve]") {
  Server server({"--legacy"});
  UdpPeer old_a(loopback(server.port()));
  UdpPeer old_b(loopback(server.port()));
  old_a.send("reg");
  old_b.send("reg\n");
  std::this_thread::sleep_for(100ms);
  old_a.send("hello from the past\n");
  const std::string expected = ack(old_a.port(), "", "hello from the past");
  CHECK(old_a.receive() == expected);
  CHECK(old_b.receive() == expected);

  old_a.send("quit");
  std::this_thread::sleep_for(100ms);
  old_b.send("anyone?");
  CHECK(old_b.receive() == ack(old_b.port(), "", "anyone?"));
  CHECK(old_a.drain(200ms).empty());
}

TEST_CASE("SIGTERM sends end to every member and exits 0 within a second", "[e2e][serve]") {
  Server server;
  std::vector<std::unique_ptr<UdpPeer>> members;
  for (int i = 0; i < 5; ++i) {
    members.push_back(std::make_unique<UdpPeer>(loopback(server.port())));
    members.back()->join();
  }
  const auto sent = std::chrono::steady_clock::now();
  server.process().signal(SIGTERM);
  const auto code = server.process().wait(1s);
  CHECK(std::chrono::steady_clock::now() - sent < 1s);
  REQUIRE(code);
  CHECK(*code == 0);
  for (auto& member : members) CHECK(member->receive(1s) == "end");
  CHECK(server.process().err().find("notified=5") != std::string::npos);
}

TEST_CASE("SIGINT ends serve cleanly too", "[e2e][serve]") {
  Server server;
  UdpPeer member(loopback(server.port()));
  member.join();
  server.process().signal(SIGINT);
  CHECK(server.process().wait(1s) == 0);
  CHECK(member.receive(1s) == "end");
}

TEST_CASE("serve --duration ends like a signal: end to members, exit 0", "[e2e][serve]") {
  // The duration runs from a moment after the process starts: it cannot end before 1.5 s
  // from here. The upper bound is slack for a loaded machine, not a figure.
  const auto started = std::chrono::steady_clock::now();
  Server server({"--duration", "1500ms", "--hb-timeout", "1m"});
  UdpPeer member(loopback(server.port()));
  member.join();
  CHECK(member.receive(5s) == "end");
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(elapsed >= 1500ms);
  CHECK(elapsed < 1500ms + 3s);
  CHECK(server.process().wait(2s) == 0);
  CHECK(server.process().err().find("duration reached") != std::string::npos);
}

TEST_CASE("a silent member expires within hb-timeout plus a quarter, with no traffic",
          "[e2e][serve]") {
  Server server({"--hb-timeout", "1s"});
  UdpPeer member(loopback(server.port()));
  member.join();
  const auto joined = std::chrono::steady_clock::now();
  REQUIRE(wait_for_log(server.process(), "expired", 3s));
  const auto elapsed = std::chrono::steady_clock::now() - joined;
  CHECK(elapsed >= 1s);
  // 1 s + 250 ms is the bound; the rest is slack for a loaded machine and the log poll.
  CHECK(elapsed < 1s + 250ms + 250ms);
  member.send("am I still in?");
  CHECK(member.drain(200ms) == std::vector<std::string>{"reg?"});
}

TEST_CASE("heartbeats keep a member alive past the timeout", "[e2e][serve]") {
  Server server({"--hb-timeout", "1s"});
  UdpPeer member(loopback(server.port()));
  member.join();
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(250ms);
    member.send("^hb^");
  }
  member.send("alive");
  CHECK(member.receive() == ack(member.port(), "", "alive"));
}

TEST_CASE("a member whose port closed does not stop the broadcast", "[e2e][serve]") {
  Server server;
  UdpPeer speaker(loopback(server.port()));
  speaker.join();
  {
    UdpPeer gone(loopback(server.port()));
    gone.join();
  }  // its socket is closed: sends to it now draw ICMP port unreachable
  UdpPeer listener(loopback(server.port()));
  listener.join();
  for (int i = 0; i < 5; ++i) {
    speaker.send("line " + std::to_string(i));
    CHECK(listener.receive() == ack(speaker.port(), "", "line " + std::to_string(i)));
  }
}

TEST_CASE("serve on [::] accepts IPv4 and IPv6 members and shows IPv4 plainly", "[e2e][serve]") {
  Server server({}, "[::]:0");
  UdpPeer v4(loopback(server.port()));
  UdpPeer v6(loopback(server.port(), true));
  CHECK(v4.join() == "welcome 127.0.0.1 " + std::to_string(v4.port()));
  CHECK(v6.join("six") == "welcome ::1 " + std::to_string(v6.port()) + " six");
  v4.send("from v4");
  CHECK(v4.receive() == ack(v4.port(), "", "from v4"));
  CHECK(v6.receive() == ack(v4.port(), "", "from v4"));
  v6.send("from v6");
  CHECK(v4.receive() == "ack: ::1 " + std::to_string(v6.port()) + " six\nfrom v6\n");
}

TEST_CASE("serve --bind :PORT serves every address, IPv4 and IPv6", "[e2e][serve]") {
  Server server({}, ":0");
  UdpPeer v4(loopback(server.port()));
  UdpPeer v6(loopback(server.port(), true));
  CHECK(v4.join() == "welcome 127.0.0.1 " + std::to_string(v4.port()));
  CHECK(v6.join() == "welcome ::1 " + std::to_string(v6.port()));
  CHECK(server.process().err().find("listening address=[::]:") != std::string::npos);
}

TEST_CASE("an unknown option is named with the one likely meant; digits that are no address say so",
          "[e2e][serve]") {
  const auto typo = run_udpchat({"serve", "--hsitory", "5"});
  CHECK(typo.exit_code == 2);
  CHECK(typo.err.starts_with(
      "udpchat: error: unknown option '--hsitory' for 'udpchat serve' (did you mean --history?)"));
  const auto prefix = run_udpchat({"chat", "--linge", "2s"});
  CHECK(prefix.err.find("(did you mean --linger?)") != std::string::npos);
  const auto nothing_near = run_udpchat({"serve", "--frobnicate"});
  CHECK(nothing_near.err.starts_with("udpchat: error: unknown option '--frobnicate'"));
  CHECK(nothing_near.err.find("did you mean") == std::string::npos);
  const auto address = run_udpchat({"serve", "--bind", "999.1.1.1:1"});
  CHECK(address.exit_code == 2);
  CHECK(address.err.find("999.1.1.1 is not an IPv4 address") != std::string::npos);
}

TEST_CASE("serve reports a port already in use and exits 1", "[e2e][serve]") {
  asio::io_context io;
  asio::ip::udp::socket taken(io, loopback(0));
  const auto result =
      run_udpchat({"serve", "--bind", "127.0.0.1:" + std::to_string(taken.local_endpoint().port())});
  CHECK(result.exit_code == 1);
  CHECK(result.err.starts_with("udpchat: error: cannot bind 127.0.0.1:"));
}

TEST_CASE("a port file that cannot be written is named with the reason, before listening",
          "[e2e][serve]") {
  const auto result = run_udpchat({"serve", "--bind", "127.0.0.1:0", "--port-file",
                                   "/nonexistent-udpchat-dir/port", "--duration", "5s"});
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("cannot write port file '/nonexistent-udpchat-dir/port': No such file") !=
        std::string::npos);
  CHECK(result.err.find("listening") == std::string::npos);
}

TEST_CASE("bad serve options are usage errors with exit code 2", "[e2e][serve]") {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"serve", "--max-clients", "0"},
           {"serve", "--hb-timeout", "soon"},
           {"serve", "--hb-timeout", "0s"},
           {"serve", "--hb-timeout", "500ms"},
           {"serve", "--bind", "127.0.0.1:99999"},
           {"serve", "--log-format", "xml"},
           {"serve", "--no-such-flag"},
           {}}) {
    const auto result = run_udpchat(args);
    CHECK(result.exit_code == 2);
    CHECK(result.err.starts_with("udpchat: error: "));
  }
}

TEST_CASE("a bad rate, size or delay names its option, what it wants and examples",
          "[e2e][serve]") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--rate-limit", "fast"}, "--rate-limit: 'fast' is not a rate (examples: 200/s"},
      {{"--max-egress", "5Q"}, "--max-egress: '5Q' is not a byte rate (examples: 500K"},
      {{"--history-memory", "off"}, "--history-memory: 'off' is not a size in bytes"},
      {{"--max-queue-delay", "0"}, "--max-queue-delay: '0' is too short: at least 1ms"},
      {{"--max-queue-delay", "soon"}, "'soon' is not a duration (examples: 500ms, 10s, 2m, off)"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> command = {"serve"};
    command.insert(command.end(), args.begin(), args.end());
    const auto result = run_udpchat(command);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.err, Catch::Matchers::Contains(message));
  }
  // Where off is a value, it is taken, and shown as the default where it is one.
  const auto help = run_udpchat({"serve", "--help"});
  CHECK_THAT(help.out, Catch::Matchers::Contains("--max-egress BYTES/s=off"));
  CHECK_THAT(help.out, Catch::Matchers::Contains("--history-memory BYTES=64M"));
  Server server({"--legacy", "--legacy-credit", "off", "--max-queue-delay", "off", "--rate-limit",
                 "off", "--max-egress", "10M/s"});
  UdpPeer peer(loopback(server.port()));
  peer.join("alice");
  peer.send("relayed");
  const auto ack = peer.receive();
  REQUIRE(ack);
  CHECK(ack->ends_with("\nrelayed\n"));
}

TEST_CASE("serve logs joins and leaves as JSON lines when asked", "[e2e][serve]") {
  Server server({"--log-format", "json"});
  UdpPeer member(loopback(server.port()));
  member.join("jay");
  member.send("quit");
  REQUIRE(wait_for_log(server.process(), "\"event\":\"left\"", 2s));
  const std::string log = server.process().err();
  CHECK(log.find("\"event\":\"joined\"") != std::string::npos);
  CHECK(log.find("\"nick\":\"jay\"") != std::string::npos);
  server.process().signal(SIGTERM);
  REQUIRE(server.process().wait(5s) == 0);
  // Every line of stderr is one JSON object with a millisecond timestamp; stdout stays empty.
  const std::string all = server.process().err();
  std::size_t lines = 0;
  for (std::size_t start = 0; start < all.size();) {
    const auto end = all.find('\n', start);
    const auto object = nlohmann::json::parse(all.substr(start, end - start));
    CHECK(object["time"].get<std::string>().size() == 24);  // 2026-11-27T09:56:08.738Z
    start = end + 1;
    ++lines;
  }
  CHECK(lines >= 5);  // socket buffers, listening, joined, left, signal, shutdown, totals
  CHECK(all.find("\"event\":\"listening\"") != std::string::npos);
  CHECK(server.process().out().empty());
}

