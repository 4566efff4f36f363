// End to end: `udpchat chat` processes against serve, an original-protocol server, and nothing.
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/catch.hpp"
#include "support/legacy_server.hpp"
#include "support/process.hpp"
#include "support/udp_peer.hpp"

using namespace std::chrono_literals;
using udpchat::test::free_port;
using udpchat::test::LegacyServer;
using udpchat::test::loopback;
using udpchat::test::Process;
using udpchat::test::run_udpchat;
using udpchat::test::Server;

namespace {

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    if (end == std::string::npos) break;  // a line still being written
    lines.push_back(nlohmann::json::parse(text.substr(start, end - start)));
    start = end + 1;
  }
  return lines;
}

std::vector<nlohmann::json> messages(const Process& client) {
  std::vector<nlohmann::json> found;
  for (auto& line : json_lines(client.out())) {
    if (line["type"] == "message") found.push_back(line);
  }
  return found;
}

nlohmann::json joined(const Process& client) {
  for (auto& line : json_lines(client.out())) {
    if (line["type"] == "joined") return line;
  }
  return {};
}

// A chat client (heartbeat 100 ms) that joined a relay on `address`, which then died without
// sending `end`.
std::unique_ptr<Process> client_of_a_killed_server(const std::string& address) {
  Server server({}, address);
  auto client = std::make_unique<Process>(
      std::vector<std::string>{"chat", "--json", "--hb-interval", "100ms", address},
      Process::InputPipe{});
  REQUIRE(client->wait_for_output("\"type\":\"joined\""));
  server.process().signal(SIGKILL);
  REQUIRE(server.process().wait(2s));
  return client;
}

}  // namespace

TEST_CASE("two sealed chat clients see each other's lines with nick and own marking, no address",
          "[e2e][chat]") {
  Server server;
  Process alice({"chat", "--json", "--nick", "alice", server.address()}, Process::InputPipe{});
  Process anon({"chat", "--json", server.address()}, Process::InputPipe{});
  REQUIRE(alice.wait_for_output("\"type\":\"joined\""));
  REQUIRE(anon.wait_for_output("\"type\":\"joined\""));
  const auto alice_join = joined(alice);
  CHECK(alice_join["mode"] == "udpchat");
  CHECK(alice_join["nick"] == "alice");
  const std::string alice_address = alice_join["address"];
  const std::string anon_address = joined(anon)["address"];
  CHECK(alice_address.starts_with("127.0.0.1:"));

  alice.write_input("hello from alice\n");
  REQUIRE(anon.wait_for_output("hello from alice"));
  anon.write_input("hi alice\n");
  REQUIRE(alice.wait_for_output("hi alice"));
  REQUIRE(anon.wait_for_output("hi alice"));

  const auto at_alice = messages(alice);
  const auto at_anon = messages(anon);
  REQUIRE(at_alice.size() == 2);
  REQUIRE(at_anon.size() == 2);
  CHECK(at_alice[0]["text"] == "hello from alice");
  CHECK(at_alice[0]["nick"] == "alice");
  CHECK(at_alice[0]["own"] == true);
  CHECK(at_anon[0]["text"] == "hello from alice");
  CHECK(at_anon[0]["own"] == false);
  // A member's address is the relay's business: a sealed session's acks name none.
  CHECK(at_anon[0]["from"].is_null());
  CHECK(at_anon[0]["port"].is_null());
  CHECK(at_alice[1]["text"] == "hi alice");
  CHECK(at_alice[1]["nick"].is_null());
  CHECK(at_alice[1]["own"] == false);
  CHECK(at_anon[1]["own"] == true);
  CHECK(at_anon[1]["from"].is_null());
  CHECK(anon_address.starts_with("127.0.0.1:"));  // its own, told in the welcome

  alice.close_input();
  CHECK(alice.wait(5s) == 0);
}

TEST_CASE("piped lines are all posted and chat exits 0 after they are acknowledged",
          "[e2e][chat]") {
  Server server;
  udpchat::test::UdpPeer watcher(loopback(server.port()));
  watcher.join("watcher");
  Process ci({"chat", "--nick", "ci", server.address()}, "a\nb\n");
  CHECK(ci.wait(5s) == 0);
  const auto seen = watcher.drain(300ms);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].ends_with(" ci\na\n"));
  CHECK(seen[1].ends_with(" ci\nb\n"));
  // The leave reached the server (logged once the quit is processed).
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (server.process().err().find("left") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  CHECK(server.process().err().find("nick=ci") != std::string::npos);
  CHECK(server.process().err().find(" left ") != std::string::npos);
}

TEST_CASE("piped lines that are never acknowledged make chat exit 1 after --linger",
          "[e2e][chat]") {
  Server server;
  Process client({"chat", "--json", "--linger", "300ms", server.address()}, Process::InputPipe{});
  REQUIRE(client.wait_for_output("\"type\":\"joined\""));
  server.process().signal(SIGKILL);  // gone without `end`
  REQUIRE(server.process().wait(2s));
  const auto closed = std::chrono::steady_clock::now();
  client.write_input("anyone there?\n");
  client.close_input();
  CHECK(client.wait(5s) == 1);
  CHECK(std::chrono::steady_clock::now() - closed >= 300ms);
  CHECK(client.err().find("1 line(s) not delivered: 1 never acknowledged") != std::string::npos);
}

TEST_CASE("a pipe longer than the send budget's burst is paced and delivered whole, exit 0",
          "[e2e][chat]") {
  Server server;
  udpchat::test::UdpPeer watcher(loopback(server.port()));
  watcher.join();
  std::string input;
  for (int i = 1; i <= 450; ++i) input += "line " + std::to_string(i) + "\n";
  // 450 lines at 100/s after a burst of 200: about 2.5 s, longer than the default --linger.
  // The watcher reads while the lines come: 450 unread acks could overflow a receive buffer
  // where net.core.rmem_max is the kernel's default.
  std::vector<std::string> seen;
  std::atomic<bool> reading{true};
  std::thread reader([&] {
    while (reading) {
      for (auto& datagram : watcher.drain(100ms)) seen.push_back(std::move(datagram));
    }
  });
  Process client({"chat", "--nick", "many", server.address()}, input);
  CHECK(client.wait(20s) == 0);
  std::this_thread::sleep_for(300ms);
  reading = false;
  reader.join();
  REQUIRE(seen.size() == 450);
  CHECK(seen.front().ends_with("\nline 1\n"));
  CHECK(seen.back().ends_with("\nline 450\n"));
}

TEST_CASE(
    "piped lines not yet sent when the server ends and stays away for --linger make chat "
    "exit 1, saying so",
    "[e2e][chat]") {
  Server server;
  Process client({"chat", "--json", "--nick", "cut", server.address()}, Process::InputPipe{});
  REQUIRE(client.wait_for_output("\"type\":\"joined\""));
  std::string input;
  for (int i = 1; i <= 600; ++i) input += "line " + std::to_string(i) + "\n";
  client.write_input(input);
  std::this_thread::sleep_for(300ms);  // the burst goes; the rest is paced
  server.process().signal(SIGTERM);
  CHECK(client.wait(5s) == 1);
  CHECK(client.out().find("\"code\":\"server_closed\"") != std::string::npos);
  CHECK(client.err().find("never sent (the server closed the chat and was not back in time)") !=
        std::string::npos);
}

TEST_CASE("every chat --listen exits 0 when the server shuts down", "[e2e][chat]") {
  Server server;
  std::vector<std::unique_ptr<Process>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<Process>(
        std::vector<std::string>{"chat", "--json", "--listen", server.address()}, ""));
  }
  for (auto& client : clients) REQUIRE(client->wait_for_output("\"type\":\"joined\""));
  server.process().signal(SIGTERM);
  for (auto& client : clients) {
    CHECK(client->wait(3s) == 0);
    CHECK(client->out().find("\"type\":\"end\"") != std::string::npos);
  }
}

TEST_CASE("a chat client rejoins a restarted server by itself", "[e2e][chat]") {
  const std::string address = "127.0.0.1:" + std::to_string(free_port());
  const auto client = client_of_a_killed_server(address);
  REQUIRE(client->wait_for_output("\"code\":\"silent\"", 5s));
  auto server = std::make_unique<Server>(std::vector<std::string>{}, address);
  udpchat::test::UdpPeer watcher(loopback(server->port()));
  watcher.join();
  REQUIRE(client->wait_for_output("\"type\":\"rejoined\"", 10s));
  client->write_input("after the restart\n");
  const auto line = watcher.receive(2s);
  REQUIRE(line);
  CHECK(line->ends_with("\nafter the restart\n"));
}

TEST_CASE("a chat client regains membership after a restart too quick to notice", "[e2e][chat]") {
  const std::string address = "127.0.0.1:" + std::to_string(free_port());
  const auto client = client_of_a_killed_server(address);
  auto server = std::make_unique<Server>(std::vector<std::string>{}, address);
  udpchat::test::UdpPeer watcher(loopback(server->port()));
  watcher.join();
  // The new server tells the client at its next heartbeat that it is not a member; the
  // client rejoins at once.
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (server->process().err().find("joined") == std::string::npos ||
         server->process().err().find("joined") == server->process().err().rfind("joined")) {
    REQUIRE(std::chrono::steady_clock::now() < until);
    std::this_thread::sleep_for(10ms);
  }
  CHECK(client->out().find("\"code\":\"silent\"") == std::string::npos);
  CHECK(client->out().find("\"code\":\"not_member\"") != std::string::npos);
  client->write_input("after a quick restart\n");
  const auto line = watcher.receive(2s);
  REQUIRE(line);
  CHECK(line->ends_with("\nafter a quick restart\n"));
}

TEST_CASE("against an original-protocol server chat joins in legacy mode and never pings",
          "[e2e][chat]") {
  LegacyServer legacy;
  const std::string address = "127.0.0.1:" + std::to_string(legacy.port());
  Process client({"chat", "--json", "--hb-interval", "100ms", address}, Process::InputPipe{});
  REQUIRE(client.wait_for_output("\"type\":\"joined\"", 5s));
  CHECK(joined(client)["mode"] == "legacy");
  client.write_input("old school\n");
  REQUIRE(client.wait_for_output("old school"));
  const auto seen = messages(client);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0]["own"] == true);
  std::this_thread::sleep_for(500ms);  // several heartbeat rounds
  client.close_input();
  CHECK(client.wait(5s) == 0);
  int heartbeats = 0;
  for (const auto& datagram : legacy.received()) {
    CHECK_FALSE(datagram.starts_with("ping"));
    if (datagram == "^hb^") ++heartbeats;
  }
  CHECK(heartbeats >= 3);
  CHECK(legacy.received().back() == "quit");
}

TEST_CASE("chat --room against an original-protocol server sends nothing and exits 1",
          "[e2e][chat]") {
  LegacyServer legacy;
  const std::string address = "127.0.0.1:" + std::to_string(legacy.port());
  Process client({"chat", "--nick", "n", "--room", "ops", address}, "meant for ops only\n");
  CHECK(client.wait(10s) == 1);
  CHECK(client.err().find("no rooms: nothing sent to room ops") != std::string::npos);
  for (const auto& datagram : legacy.received())
    CHECK(datagram.find("meant for ops") == std::string::npos);
}

TEST_CASE("chat exits 3 on a refused port and 4 on an unknown host", "[e2e][chat]") {
  const auto refused = run_udpchat({"chat", "127.0.0.1:" + std::to_string(free_port())});
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find("refused") != std::string::npos);
  const auto unknown = run_udpchat({"chat", "no-such-host.invalid:9998"});
  CHECK(unknown.exit_code == 4);
  CHECK(unknown.err.starts_with("udpchat: error: cannot resolve"));
}

TEST_CASE("chat refuses bad lines locally, sends nothing for them and exits 1", "[e2e][chat]") {
  Server server;
  udpchat::test::UdpPeer watcher(loopback(server.port()));
  watcher.join();
  Process client({"chat", "--json", server.address()},
                 "bad \xFF utf8\n^hb^\n\n/nope\n//slash\nbell\a\nrtl \xE2\x80\xAE"
                 "override\n" +
                     std::string(1024, 'y') + "\n");
  CHECK(client.wait(5s) == 1);
  // Piped text is posted as written, whatever it reads like; only text that cannot be chat is
  // refused.
  const auto seen = watcher.drain(300ms);
  REQUIRE(seen.size() == 4);
  CHECK(seen[0].ends_with("\n^hb^\n"));
  CHECK(seen[1].ends_with("\n/nope\n"));
  CHECK(seen[2].ends_with("\n//slash\n"));
  CHECK(seen[3].ends_with("\n" + std::string(1024, 'y') + "\n"));
  const std::string out = client.out();
  CHECK(out.find("not valid UTF-8") != std::string::npos);
  CHECK(out.find("control character") != std::string::npos);
  CHECK(out.find("bidi override") != std::string::npos);
  CHECK(client.err().find("3 line(s) not delivered: 3 refused") != std::string::npos);
}

TEST_CASE("a line longer than 1024 bytes goes as parts in order, split between characters",
          "[e2e][chat]") {
  Server server;
  udpchat::test::UdpPeer watcher(loopback(server.port()));
  watcher.join();
  std::string long_line;
  for (int i = 0; i < 700; ++i) long_line += "\xE4\xBD\xA0";  // 你, 2100 bytes
  Process client({"chat", server.address()}, long_line + "\nafter\n");
  CHECK(client.wait(5s) == 0);
  const auto seen = watcher.drain(300ms);
  REQUIRE(seen.size() == 4);
  std::string joined_up;
  for (int i = 0; i < 3; ++i) {
    const auto text =
        seen[static_cast<std::size_t>(i)].substr(seen[static_cast<std::size_t>(i)].find('\n') + 1);
    CHECK(text.size() <= 1024 + 1);
    joined_up += text.substr(0, text.size() - 1);
  }
  CHECK(joined_up == long_line);
  CHECK(seen[3].ends_with("\nafter\n"));
}

TEST_CASE("chat --room keeps lines in the room and /join moves the client", "[e2e][chat][rooms]") {
  Server server;
  udpchat::test::UdpPeer in_lobby(loopback(server.port()));
  udpchat::test::UdpPeer in_ops(loopback(server.port()));
  in_lobby.join("lobbyist");
  in_ops.join("operator", "ops");
  Process client(
      {"chat", "--json", "--commands", "--nick", "mover", "--room", "ops", server.address()},
      Process::InputPipe{});
  REQUIRE(client.wait_for_output("\"type\":\"joined\""));
  CHECK(joined(client)["room"] == "ops");

  client.write_input("for ops\n");
  REQUIRE(client.wait_for_output("for ops"));
  // A sealed member (chat seals by default) is named by an alias to text members, the same one
  // in every room it moves to; never by its address.
  const std::string address = joined(client)["address"];
  const std::string for_ops = in_ops.receive(2s).value_or("");
  CHECK(for_ops.starts_with("ack: fd75:6463:"));
  CHECK(for_ops.ends_with(" mover\nfor ops\n"));
  CHECK(for_ops.find(address.substr(0, address.rfind(':'))) == std::string::npos);
  const std::string ack_header = for_ops.substr(0, for_ops.find('\n') + 1);
  CHECK(in_lobby.drain(200ms).empty());

  client.write_input("/join lobby\n");
  REQUIRE(client.wait_for_output("\"type\":\"room\",\"room\":\"lobby\""));
  client.write_input("for the lobby\n");
  REQUIRE(client.wait_for_output("for the lobby"));
  CHECK(in_lobby.receive(2s) == ack_header + "for the lobby\n");
  CHECK(in_ops.drain(200ms).empty());

  // A line from the room left behind no longer reaches the client.
  in_ops.send("ops chatter");
  in_lobby.send("lobby chatter");
  REQUIRE(client.wait_for_output("lobby chatter"));
  std::this_thread::sleep_for(200ms);
  CHECK(client.out().find("ops chatter") == std::string::npos);

  // A script's failed command stops it there: nothing after it goes to the wrong room.
  in_lobby.drain(200ms);
  client.write_input("/join bad.room\nnot for the lobby\n");
  REQUIRE(client.wait_for_output("is not a room name"));
  CHECK(client.wait(5s) == 1);
  CHECK(client.err().find("stopped at '/join bad.room'") != std::string::npos);
  std::this_thread::sleep_for(200ms);
  CHECK(in_lobby.drain(200ms).empty());
}

TEST_CASE("piped lines after /join never reach the room being left", "[e2e][chat][rooms]") {
  Server server;
  udpchat::test::UdpPeer in_lobby(loopback(server.port()));
  udpchat::test::UdpPeer in_ops(loopback(server.port()));
  in_lobby.join("lobbyist");
  in_ops.join("operator", "ops");
  Process client({"chat", "--commands", "--nick", "m", server.address()},
                 "/join ops\nsecret\nmore\n");
  CHECK(client.wait(5s) == 0);
  CHECK(client.err().find("now in room ops") != std::string::npos);
  const auto in_ops_seen = in_ops.drain(300ms);
  REQUIRE(in_ops_seen.size() == 2);
  CHECK(in_ops_seen[0].ends_with(" m\nsecret\n"));
  CHECK(in_ops_seen[1].ends_with(" m\nmore\n"));
  CHECK(in_lobby.drain(200ms).empty());
}

TEST_CASE("bad chat options are usage errors", "[e2e][chat]") {
  CHECK(run_udpchat({"chat", "--room", "ops"}).exit_code == 2);  // a room needs a nick
  CHECK(run_udpchat({"chat", "--nick", "n", "--room", "a.b"}).exit_code == 2);
  CHECK(run_udpchat({"chat", "--nick", "has space"}).exit_code == 2);
  CHECK(run_udpchat({"chat", "--hb-interval", "fast"}).exit_code == 2);
  CHECK(run_udpchat({"chat", "--linger", "0s"}).exit_code ==
        2);  // would report delivered lines as not
  CHECK(run_udpchat({"chat", "-m", "  "}).exit_code == 2);
  CHECK(run_udpchat({"chat", "host:"}).exit_code == 2);
  for (const char* interval : {"0s", "50ms", "10s", "1m"}) {
    const auto result = run_udpchat({"chat", "--hb-interval", interval});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find("--hb-interval") != std::string::npos);
  }
  const auto colons = run_udpchat({"chat", "1.2.3.4:5:6"});
  CHECK(colons.exit_code == 2);
  CHECK(colons.err.find("is not HOST:PORT") != std::string::npos);
}

TEST_CASE(
    "a line typed after a SIGKILL and restart arrives within two seconds, and the lines "
    "typed during the outage arrive once and in order before it",
    "[e2e][chat]") {
  const std::string address = "127.0.0.1:" + std::to_string(free_port());
  auto server = std::make_unique<Server>(std::vector<std::string>{}, address);
  // The listener beats every second, so it is back in the restarted server's room in time.
  Process listener({"chat", "--json", "--listen", "--hb-interval", "1s", address}, "");
  Process sender({"chat", "--json", "--nick", "s", address}, Process::InputPipe{});
  REQUIRE(listener.wait_for_output("\"type\":\"joined\""));
  REQUIRE(sender.wait_for_output("\"type\":\"joined\""));
  sender.write_input("before\n");
  REQUIRE(listener.wait_for_output("\"text\":\"before\""));

  server->process().signal(SIGKILL);
  REQUIRE(server->process().wait(2s));
  for (const char* line : {"outage 1\n", "outage 2\n", "outage 3\n"}) sender.write_input(line);
  std::this_thread::sleep_for(500ms);
  server = std::make_unique<Server>(std::vector<std::string>{}, address);
  std::this_thread::sleep_for(1s);
  const auto typed = std::chrono::steady_clock::now();
  sender.write_input("after the restart\n");
  REQUIRE(listener.wait_for_output("\"text\":\"after the restart\"", 2s));
  CHECK(std::chrono::steady_clock::now() - typed < 2s);

  std::vector<std::string> texts;
  for (const auto& m : messages(listener)) texts.push_back(m["text"]);
  CHECK(texts == std::vector<std::string>{"before", "outage 1", "outage 2", "outage 3",
                                          "after the restart"});
  sender.close_input();
  CHECK(sender.wait(5s) == 0);
  listener.signal(SIGTERM);
  CHECK(listener.wait(5s) == 0);
}

TEST_CASE("a full server is said, retried, and joined with nothing lost when a seat frees",
          "[e2e][chat]") {
  Server server({"--max-clients", "1"});
  udpchat::test::UdpPeer occupant(loopback(server.port()));
  occupant.join("occupant");
  Process client({"chat", "--json", "--nick", "late", server.address()}, Process::InputPipe{});
  REQUIRE(client.wait_for_output("\"code\":\"server_full\"", 5s));
  client.write_input("waited for a seat\n");
  std::this_thread::sleep_for(500ms);
  CHECK(client.out().find("\"type\":\"message\"") == std::string::npos);
  occupant.send("quit");
  REQUIRE(client.wait_for_output("\"type\":\"joined\"", 8s));
  REQUIRE(client.wait_for_output("\"text\":\"waited for a seat\"", 2s));
  client.close_input();
  CHECK(client.wait(5s) == 0);

  Server full_again({"--max-clients", "1"});
  udpchat::test::UdpPeer holder(loopback(full_again.port()));
  holder.join();
  Process piped({"chat", "--linger", "300ms", full_again.address()}, "no seat for me\n");
  CHECK(piped.wait(10s) == 1);
  CHECK(piped.err().find("server full") != std::string::npos);
  CHECK(piped.err().find("1 line(s) not delivered") != std::string::npos);
}

TEST_CASE("a nick held in the room: a script takes the next free one, --nick-exact exits 5",
          "[e2e][chat]") {
  Server server;
  udpchat::test::UdpPeer alice(loopback(server.port()));
  alice.join("alice");
  Process exact({"chat", "--nick", "alice", "--nick-exact", server.address()}, "I am alice\n");
  CHECK(exact.wait(5s) == 5);
  CHECK(exact.err().find("nick 'alice' is taken in room lobby") != std::string::npos);
  CHECK(alice.drain(300ms).empty());
  Process script({"chat", "--nick", "alice", server.address()}, "I am another alice\n");
  CHECK(script.wait(5s) == 0);
  CHECK(script.err().find("nick alice is taken in room lobby: you are alice2") !=
        std::string::npos);
  const auto seen = alice.drain(300ms);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].ends_with(" alice2\nI am another alice\n"));
  Process elsewhere({"chat", "--nick", "alice", "--room", "other", server.address()}, "hi\n");
  CHECK(elsewhere.wait(5s) == 0);  // unique per room
  CHECK(elsewhere.err().find("alice2") == std::string::npos);
}

TEST_CASE("chat --listen receives with stdin at end of file and ends on SIGTERM", "[e2e][chat]") {
  Server server;
  Process listener({"chat", "--json", "--listen", server.address()}, "");
  REQUIRE(listener.wait_for_output("\"type\":\"joined\""));
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(listener.wait(0ms));  // still running
  Process poster({"chat", "--nick", "poster", server.address()}, "for the listener\n");
  CHECK(poster.wait(5s) == 0);
  REQUIRE(listener.wait_for_output("\"text\":\"for the listener\""));
  listener.signal(SIGTERM);
  CHECK(listener.wait(5s) == 0);
}

TEST_CASE("a fake server's escape sequences never reach the screen", "[e2e][chat]") {
  // The test plays the server: any datagram can come from its address.
  udpchat::test::UdpPeer fake(loopback(9));
  Process client(
      {"chat", "--listen", "--nick", "victim", "127.0.0.1:" + std::to_string(fake.port())}, "");
  REQUIRE(fake.receive(5s));  // cookie request
  const auto client_at = fake.last_sender();
  fake.send_to("cookie AAAA", client_at);
  REQUIRE(fake.receive(5s));  // the join
  const std::string me = "127.0.0.1 " + std::to_string(client_at.port());
  fake.send_to("welcome " + me + " victim", client_at);
  for (const std::string& datagram :
       {std::string("ack: 127.0.0.1 5 \x1B[2J\nhi\n"),
        std::string("ack: \x1B]52;c;ZXZpbA==\x07 5\nhi\n"),
        "ack: 127.0.0.1 5 " + std::string(60000, 'n') + "\nhi\n",
        std::string("ack: 127.0.0.1 5 mallory\nred \x1B[31malert\n"),
        std::string("ack: 127.0.0.1 5 mallory\n\xE2\x80\xAE"
                    "desrever\n"),
        std::string("ack: 127.0.0.1 5 mallory\nhidden\xE2\x80\x8B"
                    "space\n"),
        std::string("welcome 127.0.0.1 5 \x1B[2J"), std::string("end")}) {
    fake.send_to(datagram, client_at);
  }
  CHECK(client.wait(5s) == 0);
  CHECK(client.out().find('\x1B') == std::string::npos);
  CHECK(client.err().find('\x1B') == std::string::npos);
  CHECK(client.out().find("mallory: hidden<U+200B>space") != std::string::npos);
  CHECK(client.out().find("alert") == std::string::npos);
  CHECK(client.out().find("desrever") == std::string::npos);
  CHECK(client.err().find("break the protocol's rules") != std::string::npos);
}

namespace {

// `udpchat chat ARGS` in a tmux window of `columns`, as a person would run it: what is on the
// screen, and keys typed into it. None when this build or machine cannot (the reason is warned).
class TmuxChat {
 public:
  static std::unique_ptr<TmuxChat> start(const std::string& name, const std::string& args,
                                         int columns = 80) {
#ifndef UDPCHAT_HAVE_LIBEDIT
    WARN("skipped: this build has no line editor (libedit), so chat uses plain line mode");
    return nullptr;
#endif
    // scripts/test installs tmux; elsewhere (a macOS runner) it may be missing.
    if (std::system("command -v tmux >/dev/null 2>&1") != 0) {
      WARN("skipped: tmux is not installed");
      return nullptr;
    }
    // -u and LANG: tmux and chat both in UTF-8.
    const std::string command = "tmux -u new-session -d -s " + name + " -x " +
                                std::to_string(columns) + " -y 30 'env LANG=C.UTF-8 " +
                                std::string(UDPCHAT_BINARY) + " chat " + args + "'";
    REQUIRE(std::system(command.c_str()) == 0);
    return std::unique_ptr<TmuxChat>(new TmuxChat(name));
  }
  ~TmuxChat() {
    std::system(("tmux kill-session -t " + name_ + " 2>/dev/null").c_str());
  }

  // Wrapped rows joined back into lines (-J), as the person reads them.
  std::string screen() const {
    std::string text;
    FILE* pipe = popen(("tmux capture-pane -p -J -t " + name_).c_str(), "r");
    char buffer[4096];
    std::size_t n = 0;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) text.append(buffer, n);
    pclose(pipe);
    return text;
  }
  bool wait_for_screen(const std::string& needle, std::chrono::milliseconds timeout = 5s) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (screen().find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  void type(const std::string& keys) const {
    REQUIRE(std::system(("tmux send-keys -t " + name_ + " -l '" + keys + "'").c_str()) == 0);
  }
  void enter() const {
    REQUIRE(std::system(("tmux send-keys -t " + name_ + " Enter").c_str()) == 0);
  }

 private:
  explicit TmuxChat(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

}  // namespace

TEST_CASE(
    "characters that hide or take no room reach the screen escaped: tag characters and "
    "every other default-ignorable or format character",
    "[e2e][chat][tty]") {
  Server server;
  const auto tty = TmuxChat::start("udpchat-hide-" + std::to_string(server.port()),
                                   "--nick reader " + server.address(), 160);
  if (!tty) return;
  REQUIRE(tty->wait_for_screen("type a line"));
  udpchat::test::UdpPeer hider(loopback(server.port()));
  hider.join("hider");
  // Tag characters spelling "ABC" (invisible on most terminals), soft hyphen, grapheme joiner,
  // Hangul filler, a Mongolian variation selector, shorthand format and musical format controls.
  hider.send(
      "pay \xF3\xA0\x81\x81\xF3\xA0\x81\x82\xF3\xA0\x81\x83 now|\xC2\xAD|\xCD\x8F|"
      "\xE3\x85\xA4|\xE1\xA0\x8B|\xF0\x9B\xB2\xA0|\xF0\x9D\x85\xB3|end");
  CHECK(
      tty->wait_for_screen("hider: pay <U+E0041><U+E0042><U+E0043> now|<U+00AD>|<U+034F>|"
                           "<U+3164>|<U+180B>|<U+1BCA0>|<U+1D173>|end"));
}

TEST_CASE("typed Chinese goes out exactly and a half-typed wide line survives a redraw",
          "[e2e][chat][tty]") {
  Server server;
  Process listener({"chat", "--json", "--listen", server.address()}, "");
  REQUIRE(listener.wait_for_output("\"type\":\"joined\""));
  // 16 columns: the prompt and the half-typed line wrap, so the redraw must count columns
  // (two per CJK character), not bytes.
  const auto tty = TmuxChat::start("udpchat-test-" + std::to_string(server.port()),
                                   "--nick typist " + server.address(), 16);
  if (!tty) return;
  REQUIRE(tty->wait_for_screen("type a line"));
  tty->type("\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C caf");  // 你好，世界 caf
  REQUIRE(
      tty->wait_for_screen("> \xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C caf"));
  Process other({"chat", "--nick", "other", server.address()}, "from elsewhere\n");
  CHECK(other.wait(5s) == 0);
  REQUIRE(tty->wait_for_screen("other: from elsewhere"));
  const std::string text = tty->screen();
  // The message sits above the prompt, and the half-typed line is intact below it.
  const auto message_at = text.find("other: from elsewhere");
  const auto prompt_at =
      text.rfind("> \xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C caf");
  CHECK(prompt_at != std::string::npos);
  CHECK(prompt_at > message_at);
  CHECK(text.substr(prompt_at).find("other:") == std::string::npos);
  // Finishing the line sends it whole, byte for byte.
  tty->type("\xC3\xA9 \xE2\x9C\x93");  // é ✓
  tty->enter();
  const std::string typed =
      "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C caf\xC3\xA9 \xE2\x9C\x93";
  REQUIRE(listener.wait_for_output("typist"));
  bool exact = false;
  for (const auto& m : messages(listener)) {
    if (m["nick"] == "typist") exact = m["text"].get<std::string>() == typed;
  }
  CHECK(exact);
  CHECK(tty->wait_for_screen("typist (me): " + typed));
  listener.signal(SIGTERM);
  CHECK(listener.wait(5s) == 0);
}

TEST_CASE(
    "after a SIGTERM and a restart within 5 s a person's chat is back in its room with its "
    "nick, and a line typed during the gap arrives",
    "[e2e][chat][tty][outage]") {
  const std::string address = "127.0.0.1:" + std::to_string(free_port());
  auto server = std::make_unique<Server>(std::vector<std::string>{}, address);
  const auto tty = TmuxChat::start("udpchat-restart-" + address.substr(address.rfind(':') + 1),
                                   "--nick typist --room ops " + address);
  if (!tty) return;
  REQUIRE(tty->wait_for_screen("type a line"));
  server->process().signal(SIGTERM);
  REQUIRE(server->process().wait(5s) == 0);
  const auto stopped = std::chrono::steady_clock::now();
  REQUIRE(tty->wait_for_screen("the server closed the chat"));
  tty->type("typed during the gap");
  tty->enter();
  std::this_thread::sleep_until(stopped + 3s);
  server = std::make_unique<Server>(std::vector<std::string>{}, address);
  Process watcher({"chat", "--json", "--listen", "--history", "5", "--nick", "watcher", "--room",
                   "ops", address},
                  "");
  REQUIRE(watcher.wait_for_output("\"text\":\"typed during the gap\"", 15s));
  CHECK(tty->wait_for_screen("rejoined"));
  CHECK(server->process().err().find("nick=typist room=ops") != std::string::npos);
  const auto seen = messages(watcher);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0]["nick"] == "typist");
  CHECK(tty->screen().find("typist (me): typed during the gap") != std::string::npos);
  watcher.signal(SIGTERM);
  CHECK(watcher.wait(5s) == 0);
}

TEST_CASE("a script's text is posted as written: a line reading quit does not end the post",
          "[e2e][chat][script]") {
  Server server;
  udpchat::test::UdpPeer watcher(loopback(server.port()));
  watcher.join("watcher");
  Process quits({"chat", "--nick", "ci", server.address()},
                "line1\nquit\nline3 after quit\nline4\n");
  CHECK(quits.wait(5s) == 0);
  Process path({"chat", "--nick", "ci", server.address()}, "/var/log/deploy.log uploaded\n");
  CHECK(path.wait(5s) == 0);
  std::vector<std::string> texts;
  for (const auto& datagram : watcher.drain(300ms))
    texts.push_back(datagram.substr(datagram.find('\n') + 1));
  CHECK(texts == std::vector<std::string>{"line1\n", "quit\n", "line3 after quit\n", "line4\n",
                                          "/var/log/deploy.log uploaded\n"});
}

TEST_CASE("with --commands a bad /join stops the script: nothing after it is sent, exit 1",
          "[e2e][chat][script]") {
  Server server;
  udpchat::test::UdpPeer watcher(loopback(server.port()));
  watcher.join("watcher");
  Process client({"chat", "--commands", "--nick", "jj", server.address()},
                 "before\n/join caf\xC3\xA9\nhello\n");
  CHECK(client.wait(5s) == 1);
  CHECK(client.err().find("stopped at '/join caf\xC3\xA9' ('caf\xC3\xA9' is not a room name") !=
        std::string::npos);
  CHECK(client.err().find("1 line(s) after it not sent: 'hello'") != std::string::npos);
  const auto seen = watcher.drain(300ms);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].ends_with(" jj\nbefore\n"));
  // /quit before the end of a script: what follows is named, not dropped quietly.
  Process quits({"chat", "--commands", "--nick", "q", server.address()}, "a\n/quit\nb\n");
  CHECK(quits.wait(5s) == 1);
  CHECK(
      quits.err().find("stopped at '/quit' (the script quit): 1 line(s) after it not sent: 'b'") !=
      std::string::npos);
}

TEST_CASE(
    "chat -m posts each message without a pipe, and words after the target get a hint to use it",
    "[e2e][chat][script]") {
  Server server;
  udpchat::test::UdpPeer watcher(loopback(server.port()));
  watcher.join("watcher");
  const auto posted = run_udpchat(
      {"chat", "--nick", "ci", "-m", "deploy done", "--message", "quit", server.address()});
  CHECK(posted.exit_code == 0);
  const auto seen = watcher.drain(300ms);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].ends_with(" ci\ndeploy done\n"));
  CHECK(seen[1].ends_with(" ci\nquit\n"));

  const auto words = run_udpchat({"chat", "--nick", "ci", server.address(), "deploy", "done"});
  CHECK(words.exit_code == 2);
  CHECK(words.err.find("to post a message, use -m 'deploy done'") != std::string::npos);
  const auto spaced = run_udpchat({"chat", "--nick", "ci", "deploy done"});
  CHECK(spaced.exit_code == 2);
  CHECK(spaced.err.find("use -m 'deploy done'") != std::string::npos);
  const auto two_lines = run_udpchat({"chat", "-m", "one\ntwo", server.address()});
  CHECK(two_lines.exit_code == 2);
  CHECK(two_lines.err.find("-m takes one line") != std::string::npos);
  CHECK(watcher.drain(200ms).empty());
}

TEST_CASE("two jobs posting as --nick ci at once both arrive, the second as ci2",
          "[e2e][chat][script]") {
  Server server;
  udpchat::test::UdpPeer watcher(loopback(server.port()));
  watcher.join("watcher");
  Process first({"chat", "--json", "--nick", "ci", server.address()}, Process::InputPipe{});
  Process second({"chat", "--json", "--nick", "ci", server.address()}, Process::InputPipe{});
  REQUIRE(first.wait_for_output("\"type\":\"joined\""));
  REQUIRE(second.wait_for_output("\"type\":\"joined\""));
  first.write_input("from the first job\n");
  second.write_input("from the second job\n");
  first.close_input();
  second.close_input();
  CHECK(first.wait(5s) == 0);
  CHECK(second.wait(5s) == 0);
  const std::string nicks =
      joined(first)["nick"].get<std::string>() + " " + joined(second)["nick"].get<std::string>();
  CHECK((nicks == "ci ci2" || nicks == "ci2 ci"));
  std::vector<std::string> texts;
  for (const auto& datagram : watcher.drain(300ms))
    texts.push_back(datagram.substr(datagram.find('\n') + 1));
  std::sort(texts.begin(), texts.end());
  CHECK(texts == std::vector<std::string>{"from the first job\n", "from the second job\n"});
}

// [slow]: mostly waiting, and no threads of its own; the ASan pass runs it, not the TSan one.
TEST_CASE("a server killed for 30 s: every line piped meanwhile arrives once, in order, exit 0",
          "[e2e][chat][outage][slow]") {
  const std::string address = "127.0.0.1:" + std::to_string(free_port());
  auto server = std::make_unique<Server>(std::vector<std::string>{}, address);
  Process listener({"chat", "--json", "--listen", "--hb-interval", "1s", address}, "");
  Process sender({"chat", "--json", "--nick", "s", "--linger", "60s", address},
                 Process::InputPipe{});
  REQUIRE(listener.wait_for_output("\"type\":\"joined\""));
  REQUIRE(sender.wait_for_output("\"type\":\"joined\""));
  sender.write_input("before\n");
  REQUIRE(listener.wait_for_output("\"text\":\"before\""));

  server->process().signal(SIGKILL);
  REQUIRE(server->process().wait(2s));
  const auto killed = std::chrono::steady_clock::now();
  std::vector<std::string> expected{"before"};
  for (int i = 1; i <= 6; ++i) {
    std::this_thread::sleep_until(killed + i * 4s);
    expected.push_back("outage " + std::to_string(i));
    sender.write_input(expected.back() + "\n");
  }
  sender.close_input();
  std::this_thread::sleep_until(killed + 30s);
  server = std::make_unique<Server>(std::vector<std::string>{}, address);
  CHECK(sender.wait(40s) == 0);
  REQUIRE(listener.wait_for_output("\"text\":\"outage 6\"", 10s));
  std::vector<std::string> texts;
  for (const auto& m : messages(listener)) texts.push_back(m["text"]);
  CHECK(texts == expected);
  CHECK(sender.err().find("not delivered") == std::string::npos);
  listener.signal(SIGTERM);
  CHECK(listener.wait(5s) == 0);
}

namespace {

// Milliseconds since the Unix epoch of a chat --json time stamp (2026-11-27T00:25:31.004Z).
std::int64_t unix_ms_of(const std::string& stamp) {
  std::tm parts{};
  int millis = 0;
  REQUIRE(std::sscanf(stamp.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &parts.tm_year, &parts.tm_mon,
                      &parts.tm_mday, &parts.tm_hour, &parts.tm_min, &parts.tm_sec, &millis) == 7);
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&parts)) * 1000 + millis;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("posts to an empty room are read 10 s later with --history, stamped when posted",
          "[e2e][chat][history][slow]") {
  Server server;
  std::vector<std::int64_t> posted_at;
  for (const char* text : {"build 1 done", "build 2 done", "build 3 done"}) {
    posted_at.push_back(wall_ms());
    const auto post =
        run_udpchat({"chat", "--nick", "ci", "--room", "deploys", "-m", text, server.address()});
    REQUIRE(post.exit_code == 0);
    std::this_thread::sleep_for(1500ms);
  }
  std::this_thread::sleep_for(10s);
  Process reader({"chat", "--json", "--listen", "--history", "3", "--nick", "reader", "--room",
                  "deploys", server.address()},
                 "");
  REQUIRE(reader.wait_for_output("build 3 done"));
  const auto seen = messages(reader);
  REQUIRE(seen.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(seen[i]["text"] == "build " + std::to_string(i + 1) + " done");
    CHECK(seen[i]["history"] == true);
    CHECK(seen[i]["nick"] == "ci");
    const std::int64_t stamped = unix_ms_of(seen[i]["time"]);
    CHECK(std::llabs(stamped - posted_at[i]) <= 1000);
  }
  reader.signal(SIGTERM);
  CHECK(reader.wait(5s) == 0);
}

TEST_CASE("a --listen whose stdout is not read for 20 s keeps its seat and then prints every line",
          "[e2e][chat][output]") {
  Server server({"--hb-timeout", "10s"});
  Process listener({"chat", "--json", "--listen", "--hb-interval", "2s", server.address()}, "",
                   Process::OutputPipe{});
  REQUIRE(server.process().wait_for_log("joined"));
  // Far more than a pipe holds (64 KiB) and than the client's own output bound (256 KiB):
  // 2,500 lines of 186 bytes come as about 800 KB of JSON, so that the client holds the last
  // lines it can (1,024) and leaves the rest to the relay's window, to fetch once it may show
  // them. Five posters, each within the relay's per-member budget.
  const std::string filler(180, 'x');
  std::vector<std::unique_ptr<udpchat::test::UdpPeer>> posters;
  for (int p = 0; p < 5; ++p) {
    posters.push_back(std::make_unique<udpchat::test::UdpPeer>(loopback(server.port())));
    posters.back()->join("p" + std::to_string(p));
  }
  const auto started = std::chrono::steady_clock::now();
  int sent = 0;
  for (int round = 0; round < 500; ++round) {
    for (int p = 0; p < 5; ++p) {
      posters[static_cast<std::size_t>(p)]->send(fmt::format("{:05} {}", sent++, filler));
    }
    std::this_thread::sleep_for(5ms);  // 5 lines per 5 ms: 1,000 a second in all
  }
  for (auto& poster : posters) poster->send("quit");  // so that any expiry is the listener's
  std::this_thread::sleep_until(started + 20s);
  CHECK(server.process().err().find("expired") == std::string::npos);
  // Read now: every line, in order, once.
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (listener.out().find(fmt::format("\"{:05} ", sent - 1)) == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  std::vector<std::string> texts;
  for (const auto& line : json_lines(listener.out())) {
    if (line["type"] == "message") texts.push_back(line["text"].get<std::string>().substr(0, 5));
    CHECK(line["type"] != "missed");
  }
  REQUIRE(texts.size() == static_cast<std::size_t>(sent));
  for (int i = 0; i < sent; ++i)
    CHECK(texts[static_cast<std::size_t>(i)] == fmt::format("{:05}", i));
  CHECK(server.process().err().find("expired") == std::string::npos);
  // The lines the client could not hold came from the relay's window.
  server.process().signal(SIGTERM);
  CHECK(listener.wait(5s) == 0);
  REQUIRE(server.process().wait(5s) == 0);
  CHECK(udpchat::test::logged_number(server.process().err(), "repaired") > 0);
}
