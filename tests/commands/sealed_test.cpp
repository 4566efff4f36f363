// The sealed dialect end to end: serve and chat over real sockets on loopback, with a relay of
// the test's own in between that records (and can send again) every datagram.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/catch.hpp"
#include "support/process.hpp"
#include "support/udp_peer.hpp"

using namespace std::chrono_literals;
using udpchat::test::count_in;
using udpchat::test::free_port;
using udpchat::test::logged_number;
using udpchat::test::loopback;
using udpchat::test::Process;
using udpchat::test::scratch_dir;
using udpchat::test::Server;
using udpchat::test::UdpPeer;

namespace {

// Forwards between a client and the relay, keeping a copy of everything, as a tap on the wire
// would; `to_relay` sends a datagram to the relay from the client's side again.
class Tap {
 public:
  explicit Tap(std::uint16_t relay_port)
      : front_(loopback(1)), back_(loopback(relay_port)), thread_([this] { run(); }) {}
  ~Tap() {
    stop_ = true;
    thread_.join();
  }
  std::uint16_t port() const { return front_.port(); }
  std::vector<std::string> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  std::vector<std::string> from_client() {
    std::lock_guard lock(mutex_);
    return from_client_;
  }
  void to_relay(const std::string& datagram) {
    std::lock_guard lock(mutex_);
    back_.send(datagram);
  }

 private:
  void run() {
    while (!stop_) {
      bool moved = false;
      {
        std::lock_guard lock(mutex_);
        if (auto d = front_.try_receive()) {
          client_ = front_.last_sender();
          seen_.push_back(*d);
          from_client_.push_back(*d);
          back_.send(*d);
          moved = true;
        }
        if (auto d = back_.try_receive(); d && client_) {
          seen_.push_back(*d);
          front_.send_to(*d, *client_);
          moved = true;
        }
      }
      if (!moved) std::this_thread::sleep_for(1ms);
    }
  }

  UdpPeer front_;
  UdpPeer back_;
  std::optional<asio::ip::udp::endpoint> client_;
  std::mutex mutex_;
  std::vector<std::string> seen_;
  std::vector<std::string> from_client_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

bool sealed_frame(const std::string& d) {
  return !d.empty() && static_cast<unsigned char>(d[0]) == 0xF7;
}

}  // namespace

TEST_CASE("a sealed chat shows none of its text on the wire and a datagram sent again is dropped",
          "[e2e][sealed]") {
  const auto dir = scratch_dir("sealed-wire");
  Server server({"--key-file", (dir / "relay.key").string()});
  Tap tap(server.port());
  const std::string through = "127.0.0.1:" + std::to_string(tap.port());
  Process alice(
      {"chat", "--json", "--nick", "alice", "--known-servers", (dir / "known").string(), through},
      Process::InputPipe{});
  REQUIRE(alice.wait_for_output("\"type\":\"joined\""));
  alice.write_input("the launch code is 0000\n");
  REQUIRE(alice.wait_for_output("the launch code is 0000"));

  // A captured line, sent again from the member's own address: opened never, shown never.
  const auto sent = tap.from_client();
  const auto line = std::find_if(sent.rbegin(), sent.rend(), sealed_frame);
  REQUIRE(line != sent.rend());
  tap.to_relay(*line);
  std::this_thread::sleep_for(300ms);
  alice.close_input();
  CHECK(alice.wait(10s) == 0);
  CHECK(count_in(alice.out(), "the launch code is 0000") == 1);

  const auto seen = tap.seen();
  CHECK(seen.size() >= 6);
  for (const auto& d : seen) {
    CHECK(d.find("launch code") == std::string::npos);
    CHECK(d.find("alice") == std::string::npos);
  }
  server.process().signal(SIGTERM);
  REQUIRE(server.process().wait(5s) == 0);
  CHECK(logged_number(server.process().err(), "unopened") == 1);
  CHECK(logged_number(server.process().err(), "lines") == 1);
}

TEST_CASE("chat and probe refuse a relay whose key changed, naming the change, exit 7",
          "[e2e][sealed]") {
  const auto dir = scratch_dir("sealed-changed");
  const std::string known = (dir / "known").string();
  const std::string address = "127.0.0.1:" + std::to_string(free_port());
  {
    Server first({"--key-file", (dir / "a.key").string()}, address);
    Process probe({"probe", "--known-servers", known, address});
    REQUIRE(probe.wait() == 0);  // pinned on first use
  }
  Server second({"--key-file", (dir / "b.key").string()}, address);
  Process probe({"probe", "--known-servers", known, address});
  CHECK(probe.wait() == 7);
  CHECK(probe.err().find("changed its key") != std::string::npos);
  Process chat({"chat", "-m", "not for an impostor", "--known-servers", known, address});
  CHECK(chat.wait() == 7);
  CHECK(chat.err().find("changed its key") != std::string::npos);
  CHECK(chat.err().find(known) != std::string::npos);  // which file holds the old key
  CHECK(second.process().err().find("joined") == std::string::npos);
}

TEST_CASE("probe refuses a relay that offers the pinned key but cannot prove it holds it",
          "[e2e][sealed]") {
  const auto dir = scratch_dir("sealed-unproven");
  Process show({"serve", "--key-file", (dir / "relay.key").string(), "--show-key"});
  REQUIRE(show.wait() == 0);
  const std::string key = show.out().substr(0, 43);
  {
    // The real relay proves it: a handshake to its key, answered.
    Server real({"--key-file", (dir / "relay.key").string()});
    Process probe({"probe", "--json", "--server-key", key, real.address()});
    REQUIRE(probe.wait() == 0);
    CHECK(probe.out().find("\"key_proven\":true") != std::string::npos);
  }
  // An impostor that answers pings and offers the same public key, which anyone can copy.
  UdpPeer impostor(loopback(1));
  std::atomic<bool> stop{false};
  std::atomic<int> hellos{0};
  std::thread answering([&] {
    while (!stop) {
      auto d = impostor.try_receive();
      if (!d) {
        std::this_thread::sleep_for(1ms);
        continue;
      }
      if (d->starts_with("ping ")) {
        impostor.send_to("pong " + d->substr(5), impostor.last_sender());
      } else if (d->starts_with("reg ")) {
        impostor.send_to("cookie AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA +r2 +s1=" + key,
                         impostor.last_sender());
      } else if (static_cast<unsigned char>((*d)[0]) == 0xF5) {
        ++hellos;  // it cannot open it, nor answer it
      }
    }
  });
  Process probe({"probe", "--server-key", key, "127.0.0.1:" + std::to_string(impostor.port())});
  const auto exit_code = probe.wait();
  stop = true;
  answering.join();
  CHECK(exit_code == 7);
  CHECK(probe.err().find("did not prove it holds key " + key) != std::string::npos);
  CHECK(hellos == 3);  // a lost welcome is not an impostor: asked three times
}

TEST_CASE("serve keeps its key across restarts, in a file only its owner can read",
          "[e2e][sealed]") {
  const auto dir = scratch_dir("sealed-keyfile");
  const std::string key_file = (dir / "state" / "relay.key").string();
  Process first({"serve", "--key-file", key_file, "--show-key"});
  REQUIRE(first.wait() == 0);
  Process again({"serve", "--key-file", key_file, "--show-key"});
  REQUIRE(again.wait() == 0);
  CHECK(first.out().size() == 44);  // 43 characters and a newline
  CHECK(first.out() == again.out());
  struct stat info {};
  REQUIRE(::stat(key_file.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  // A file that holds no key is an error, said, not a fresh key written over it.
  const std::string wrong = (dir / "wrong.key").string();
  { std::ofstream(wrong) << "not a key\n"; }
  ::chmod(wrong.c_str(), 0600);
  Process bad({"serve", "--key-file", wrong, "--show-key"});
  CHECK(bad.wait() == 1);
  CHECK(bad.err().find("holds no udpchat key") != std::string::npos);
  // A key others can read is refused, as ssh refuses such a private key.
  ::chmod(key_file.c_str(), 0644);
  Process open_key({"serve", "--key-file", key_file, "--show-key"});
  CHECK(open_key.wait() == 1);
  CHECK(open_key.err().find("chmod 600") != std::string::npos);
}
