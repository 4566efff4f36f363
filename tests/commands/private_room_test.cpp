// Private rooms end to end: keygen's key file, and chat clients that seal every line of a room
// with it through a real serve, which keeps and forwards only ciphertext.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/catch.hpp"
#include "support/process.hpp"
#include "support/udp_peer.hpp"

using namespace std::chrono_literals;
using udpchat::test::loopback;
using udpchat::test::Process;
using udpchat::test::run_udpchat;
using udpchat::test::scratch_dir;
using udpchat::test::Server;
using udpchat::test::UdpPeer;

namespace {}  // namespace

TEST_CASE("keygen writes a room key only its owner can read, and never over a file",
          "[e2e][private]") {
  const auto dir = scratch_dir("private-keygen");
  const std::string path = (dir / "ops.key").string();
  const auto made = run_udpchat({"keygen", path});
  REQUIRE(made.exit_code == 0);
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  std::ifstream in(path);
  std::string key;
  std::getline(in, key);
  CHECK(key.starts_with("udpchat-room-key-1:"));
  CHECK(key.size() == 19 + 43);
  const auto again = run_udpchat({"keygen", path});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("exists already") != std::string::npos);
  std::ifstream still(path);
  std::string kept;
  std::getline(still, kept);
  CHECK(kept == key);
  const auto printed = run_udpchat({"keygen"});
  CHECK(printed.exit_code == 0);
  CHECK(printed.out.starts_with("udpchat-room-key-1:"));
  CHECK(printed.out != key + "\n");
}

TEST_CASE("two key holders chat in a private room and the relay sees only ciphertext",
          "[e2e][private]") {
  const auto dir = scratch_dir("private-chat");
  const std::string key = (dir / "ops.key").string();
  const std::string other = (dir / "other.key").string();
  REQUIRE(run_udpchat({"keygen", key}).exit_code == 0);
  REQUIRE(run_udpchat({"keygen", other}).exit_code == 0);
  Server server;
  Process bob({"chat", "--listen", "--json", "--nick", "bob", "--room", "ops", "--room-key-file",
               key, server.address()});
  REQUIRE(bob.wait_for_output("\"type\":\"joined\""));
  // Without the key, in the text protocol: refused, in words that name nobody.
  UdpPeer outsider(loopback(server.port()));
  CHECK(outsider.join("outsider", "ops") == "private");
  const auto alice = run_udpchat({"chat", "--nick", "alice", "--room", "ops", "--room-key-file",
                                  key, "-m", "the launch code is 1234", server.address()});
  CHECK(alice.exit_code == 0);
  REQUIRE(bob.wait_for_output("the launch code is 1234"));
  CHECK(outsider.drain(500ms).empty());
  // Another key's holder, and a chat with none: refused (exit 8), nothing shown, no nick learned.
  for (const std::vector<std::string>& keys :
       {std::vector<std::string>{"--room-key-file", other}, std::vector<std::string>{}}) {
    std::vector<std::string> args{"chat",   "--json", "--nick",    "eve",
                                  "--room", "ops",    "--history", "10"};
    args.insert(args.end(), keys.begin(), keys.end());
    args.insert(args.end(), {"-m", "let me in", server.address()});
    const auto eve = run_udpchat(args);
    CHECK(eve.exit_code == 8);
    CHECK(eve.out.find("\"type\":\"not_admitted\",\"reason\":\"private\"") != std::string::npos);
    CHECK(eve.err.find("not admitted to room ops") != std::string::npos);
    for (const std::string_view secret : {"bob", "alice", "launch", "~1 "}) {
      CHECK(eve.out.find(secret) == std::string::npos);
      CHECK(eve.err.find(secret) == std::string::npos);
    }
  }
  bob.signal(SIGTERM);
  bob.wait();
  CHECK(bob.out().find("let me in") == std::string::npos);
  server.process().signal(SIGTERM);
  server.process().wait();
  CHECK(server.process().err().find("launch") == std::string::npos);
  CHECK(server.process().err().find("room_private=3") != std::string::npos);
}

TEST_CASE("serve --rooms keeps a room private from its first join, to the verifier it names",
          "[e2e][private]") {
  const auto dir = scratch_dir("private-rooms-file");
  const std::string key = (dir / "ops.key").string();
  REQUIRE(run_udpchat({"keygen", key}).exit_code == 0);
  const auto verifier =
      run_udpchat({"keygen", "--verifier", "--room", "ops", "--room-key-file", key});
  REQUIRE(verifier.exit_code == 0);
  CHECK(verifier.out.starts_with("ops udpchat-room-verifier-1:"));
  const std::string rooms = (dir / "rooms.conf").string();
  {
    std::ofstream out(rooms);
    out << "# private rooms\n" << verifier.out << "dev private\n";
  }
  Server server({"--rooms", rooms});
  // Nobody in either room yet: still, no open join creates them.
  UdpPeer early(loopback(server.port()));
  CHECK(early.join("early", "ops") == "private");
  UdpPeer early_dev(loopback(server.port()));
  CHECK(early_dev.join("early", "dev") == "private");
  UdpPeer elsewhere(loopback(server.port()));
  CHECK(elsewhere.join("anyone", "lobby").starts_with("welcome"));
  const auto holder = run_udpchat({"chat", "--nick", "alice", "--room", "ops", "--room-key-file",
                                   key, "-m", "pinned", server.address()});
  CHECK(holder.exit_code == 0);

  const std::string bad = (dir / "bad.conf").string();
  { std::ofstream(bad) << "ops private\nops private\n"; }
  const auto twice = run_udpchat({"serve", "--rooms", bad, "--bind", "127.0.0.1:0"});
  CHECK(twice.exit_code == 2);
  CHECK(twice.err.find("line 2: room 'ops' is named twice") != std::string::npos);
}

TEST_CASE(
    "a new key moves a private room on: old-key members are told, and old history stays "
    "theirs",
    "[e2e][private]") {
  const auto dir = scratch_dir("private-rekey");
  const std::string old_key = (dir / "old.key").string();
  const std::string new_key = (dir / "new.key").string();
  REQUIRE(run_udpchat({"keygen", old_key}).exit_code == 0);
  REQUIRE(run_udpchat({"keygen", new_key}).exit_code == 0);
  Server server;
  Process bob({"chat", "--listen", "--json", "--hb-interval", "500ms", "--nick", "bob", "--room",
               "ops", "--room-key-file", old_key, server.address()});
  REQUIRE(bob.wait_for_output("\"type\":\"joined\""));
  REQUIRE(run_udpchat({"chat", "--nick", "alice", "--room", "ops", "--room-key-file", old_key, "-m",
                       "before the change", server.address()})
              .exit_code == 0);
  REQUIRE(bob.wait_for_output("before the change"));
  // Only a holder of the old key can move the room: the new key alone is refused.
  CHECK(run_udpchat({"chat", "--nick", "mallory", "--room", "ops", "--room-key-file", new_key, "-m",
                     "took over", server.address()})
            .exit_code == 8);
  const auto carol = run_udpchat({"chat", "--nick", "carol", "--room", "ops", "--room-key-file",
                                  new_key, "--previous-room-key-file", old_key, "-m",
                                  "after the change", server.address()});
  CHECK(carol.exit_code == 0);
  // Bob, on the old key, hears of it at his next ping and ends asking for the new key.
  CHECK(bob.wait(5s) == 8);
  CHECK(bob.err().find("the room has a new key") != std::string::npos);
  CHECK(bob.out().find("after the change") == std::string::npos);
  // The new key alone reads the new epoch, not the old one's history; both keys read both.
  const auto dave = run_udpchat({"chat", "--nick", "dave", "--room", "ops", "--room-key-file",
                                 new_key, "--history", "10", "-m", "hi", server.address()});
  CHECK(dave.exit_code == 0);
  CHECK(dave.out.find("after the change") != std::string::npos);
  CHECK(dave.out.find("before the change") == std::string::npos);
  const auto erin = run_udpchat({"chat", "--nick", "erin", "--room", "ops", "--room-key-file",
                                 new_key, "--previous-room-key-file", old_key, "--history", "10",
                                 "-m", "hello", server.address()});
  CHECK(erin.exit_code == 0);
  CHECK(erin.out.find("before the change") != std::string::npos);
  CHECK(erin.out.find("after the change") != std::string::npos);
  // The old key alone no longer gets in.
  const auto late = run_udpchat({"chat", "--nick", "late", "--room", "ops", "--room-key-file",
                                 old_key, "-m", "am I in", server.address()});
  CHECK(late.exit_code == 8);
  CHECK(late.err.find("new key") != std::string::npos);
}

TEST_CASE("a room key without a room, or a file that holds none, is a usage error",
          "[e2e][private]") {
  const auto dir = scratch_dir("private-usage");
  const std::string key = (dir / "ops.key").string();
  REQUIRE(run_udpchat({"keygen", key}).exit_code == 0);
  const auto no_room = run_udpchat({"chat", "--nick", "a", "--room-key-file", key, "-m", "x"});
  CHECK(no_room.exit_code == 2);
  CHECK(no_room.err.find("--room") != std::string::npos);
  const std::string wrong = (dir / "wrong.key").string();
  { std::ofstream(wrong) << "not a key\n"; }
  ::chmod(wrong.c_str(), 0600);
  const auto bad =
      run_udpchat({"chat", "--nick", "a", "--room", "ops", "--room-key-file", wrong, "-m", "x"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("holds no room key") != std::string::npos);
  ::chmod(key.c_str(), 0644);
  const auto open_file =
      run_udpchat({"chat", "--nick", "a", "--room", "ops", "--room-key-file", key, "-m", "x"});
  CHECK(open_file.exit_code == 2);
  CHECK(open_file.err.find("chmod 600") != std::string::npos);
}

TEST_CASE("bench measures a private room: every line sealed, delivered and opened",
          "[e2e][private]") {
  const auto dir = scratch_dir("private-bench");
  const std::string key = (dir / "bench.key").string();
  REQUIRE(run_udpchat({"keygen", key}).exit_code == 0);
  const auto run =
      run_udpchat({"bench", "--embedded", "--clients", "10", "--rate", "200", "--duration", "500ms",
                   "--room", "bench", "--room-key-file", key, "--json"});
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("\"lost\":0,") != std::string::npos);
  const auto plain = run_udpchat({"bench", "--embedded", "--room", "bench", "--room-key-file", key,
                                  "--no-seal", "--duration", "200ms"});
  CHECK(plain.exit_code == 2);
}
