// End to end: two `udpchat serve` nodes sharing rooms through a real nats-server that the test
// starts on a free loopback port. a1 is in lobby on node A; b1 and b2 in lobby on node B; b3 in
// another room on B.
#include <nats/nats.h>
#include <signal.h>

#include <algorithm>
#include <asio.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "support/catch.hpp"
#include "support/process.hpp"
#include "support/udp_peer.hpp"

using namespace std::chrono_literals;
using udpchat::test::count_in;
using udpchat::test::logged_number;
using udpchat::test::loopback;
using udpchat::test::Process;
using udpchat::test::resident_kib;
using udpchat::test::Server;
using udpchat::test::UdpPeer;

namespace {

std::uint16_t free_tcp_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io,
                                   asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return acceptor.local_endpoint().port();
}

bool tcp_answers(std::uint16_t port) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  std::error_code ec;
  socket.connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port), ec);
  return !ec;
}

// A nats-server on 127.0.0.1:port, killed with the object.
class Engine {
 public:
  explicit Engine(std::uint16_t port) { start(port); }
  void start(std::uint16_t port) {
    process_ = std::make_unique<Process>(
        Process::Program{NATS_SERVER},
        std::vector<std::string>{"-a", "127.0.0.1", "-p", std::to_string(port)});
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!tcp_answers(port)) {
      if (std::chrono::steady_clock::now() > until || process_->wait(1ms)) {
        throw std::runtime_error("nats-server did not start: " + process_->err());
      }
      std::this_thread::sleep_for(10ms);
    }
  }
  // Abruptly, as a crash would.
  void stop() {
    process_->signal(SIGKILL);
    process_->wait(5s);
  }

 private:
  std::unique_ptr<Process> process_;
};

std::vector<std::string> node_args(std::uint16_t engine_port, std::string node) {
  return {"--backplane",  "nats://127.0.0.1:" + std::to_string(engine_port),
          "--node-id",    std::move(node),
          "--hb-timeout", "2m"};
}

std::size_t acks_with(const std::vector<std::string>& received, std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(received.begin(), received.end(), [&](const auto& d) {
        return d.starts_with("ack: ") && d.ends_with("\n" + std::string(text) + "\n");
      }));
}

// A node's subscription reaches the engine a moment after it connects: sends numbered probe
// lines from `from` until one reaches `to`, then lets the stragglers arrive and drops them.
bool wait_until_lines_cross(UdpPeer& from, UdpPeer& to, std::initializer_list<UdpPeer*> others,
                            std::string_view tag) {
  bool crossed = false;
  for (int i = 0; i < 100 && !crossed; ++i) {
    from.send(std::string(tag) + " probe " + std::to_string(i));
    for (const auto& d : to.drain(100ms))
      crossed = crossed || d.find(" probe ") != std::string::npos;
  }
  std::this_thread::sleep_for(300ms);
  for (UdpPeer* peer : others) peer->drain(50ms);
  from.drain(50ms);
  to.drain(50ms);
  return crossed;
}

// Publishes `envelopes` on `subject` as fast as nats.c takes them: what another node (or
// anyone able to publish on the engine) could do.
void publish_all(std::uint16_t engine_port, const std::string& subject,
                 const std::vector<std::string>& envelopes) {
  natsConnection* connection = nullptr;
  const std::string url = "nats://127.0.0.1:" + std::to_string(engine_port);
  REQUIRE(natsConnection_ConnectTo(&connection, url.c_str()) == NATS_OK);
  for (const auto& envelope : envelopes) {
    natsConnection_Publish(connection, subject.c_str(), envelope.data(),
                           static_cast<int>(envelope.size()));
  }
  natsConnection_FlushTimeout(connection, 10000);
  natsConnection_Destroy(connection);
}

// The node is subscribed once a line published on the engine reaches its member.
bool lobby_subscribed(std::uint16_t engine_port, UdpPeer& member) {
  for (int i = 0; i < 100; ++i) {
    publish_all(engine_port, "udpchat.room.lobby", {"udpchat1 other 10.0.0.1 4242\nready?"});
    for (const auto& d : member.drain(50ms)) {
      if (d.ends_with("\nready?\n")) return true;
    }
  }
  return false;
}

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UDPCHAT_TEST_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define UDPCHAT_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(UDPCHAT_TEST_TSAN)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(UDPCHAT_TEST_ASAN)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif

}  // namespace

TEST_CASE(
    "rooms span two nodes through NATS: local first, exactly once, and back after an "
    "engine restart",
    "[e2e][backplane]") {
  const std::uint16_t engine_port = free_tcp_port();
  // 1. Nodes started before the engine serve their own members.
  Server node_a(node_args(engine_port, "node-a"));
  Server node_b(node_args(engine_port, "node-b"));
  UdpPeer a1(loopback(node_a.port()));
  UdpPeer b1(loopback(node_b.port()));
  UdpPeer b2(loopback(node_b.port()));
  UdpPeer b3(loopback(node_b.port()));
  CHECK(a1.join("a1").ends_with(" a1"));
  CHECK(b1.join("b1", "lobby").ends_with(" b1 lobby"));
  CHECK(b2.join("b2").ends_with(" b2"));
  CHECK(b3.join("b3", "other").ends_with(" b3 other"));

  a1.send("before the engine");
  CHECK(acks_with(a1.drain(300ms), "before the engine") == 1);
  b1.send("b before the engine");
  CHECK(acks_with(b2.drain(300ms), "b before the engine") == 1);
  CHECK(acks_with(a1.drain(200ms), "b before the engine") == 0);

  Engine engine(engine_port);
  REQUIRE(node_a.process().wait_for_log("backplane connected", 1, 15s));
  REQUIRE(node_b.process().wait_for_log("backplane connected", 1, 15s));
  REQUIRE(wait_until_lines_cross(a1, b1, {&b2, &b3}, "a"));
  REQUIRE(wait_until_lines_cross(b2, a1, {&b1, &b3}, "b"));

  // 2. Exactly once everywhere in the room, nothing in another room; both directions.
  a1.send("hello from a1");
  const auto at_a1 = a1.drain(500ms);
  const auto at_b1 = b1.drain(100ms);
  const auto at_b2 = b2.drain(100ms);
  const auto at_b3 = b3.drain(100ms);
  CHECK(acks_with(at_a1, "hello from a1") == 1);
  CHECK(acks_with(at_b1, "hello from a1") == 1);
  CHECK(acks_with(at_b2, "hello from a1") == 1);
  CHECK(at_b3.empty());
  // Every node builds the same ack bytes.
  CHECK(std::find(at_b1.begin(), at_b1.end(),
                  "ack: 127.0.0.1 " + std::to_string(a1.port()) + " a1\nhello from a1\n") !=
        at_b1.end());

  b2.send("hello from b2");
  CHECK(acks_with(a1.drain(500ms), "hello from b2") == 1);
  CHECK(acks_with(b1.drain(100ms), "hello from b2") == 1);
  CHECK(acks_with(b2.drain(100ms), "hello from b2") == 1);
  CHECK(b3.drain(100ms).empty());

  // 3. Engine gone: each node still relays locally.
  engine.stop();
  REQUIRE(node_a.process().wait_for_log("backplane disconnected", 1, 10s));
  REQUIRE(node_b.process().wait_for_log("backplane disconnected", 1, 10s));
  a1.send("a alone");
  CHECK(acks_with(a1.drain(300ms), "a alone") == 1);
  b1.send("b alone");
  CHECK(acks_with(b2.drain(300ms), "b alone") == 1);
  CHECK(acks_with(b1.drain(100ms), "b alone") == 1);
  CHECK(acks_with(a1.drain(100ms), "b alone") == 0);

  // Engine back on the same address: both nodes reconnect by themselves.
  engine.start(engine_port);
  REQUIRE(node_a.process().wait_for_log("backplane connected", 2, 15s));
  REQUIRE(node_b.process().wait_for_log("backplane connected", 2, 15s));
  // Lines held while the engine was away may arrive now, never twice.
  std::this_thread::sleep_for(300ms);
  CHECK(acks_with(b1.drain(200ms), "a alone") <= 1);
  REQUIRE(wait_until_lines_cross(a1, b1, {&b2, &b3}, "a"));
  REQUIRE(wait_until_lines_cross(b1, a1, {&b2, &b3}, "b"));
  a1.send("after the restart");
  CHECK(acks_with(a1.drain(500ms), "after the restart") == 1);
  CHECK(acks_with(b1.drain(100ms), "after the restart") == 1);
  CHECK(acks_with(b2.drain(100ms), "after the restart") == 1);
  CHECK(b3.drain(100ms).empty());

  // The nodes counted what crossed, and never saw their own lines again.
  node_a.process().signal(SIGTERM);
  node_b.process().signal(SIGTERM);
  REQUIRE(node_a.process().wait(5s) == 0);
  REQUIRE(node_b.process().wait(5s) == 0);
  CHECK(node_a.process().err().find("backplane_own=0") != std::string::npos);
  CHECK(node_a.process().err().find("backplane_malformed=0") != std::string::npos);
  CHECK(node_a.process().err().find("backplane closed") != std::string::npos);
}

TEST_CASE("a node subscribes to a room only while it has members there", "[e2e][backplane]") {
  const std::uint16_t engine_port = free_tcp_port();
  Engine engine(engine_port);
  Server node_a(node_args(engine_port, "node-a"));
  Server node_b(node_args(engine_port, "node-b"));
  REQUIRE(node_b.process().wait_for_log("backplane connected", 1, 15s));
  UdpPeer a1(loopback(node_a.port()));
  UdpPeer b1(loopback(node_b.port()));
  a1.join("a1", "ops");
  b1.join("b1", "ops");
  REQUIRE(wait_until_lines_cross(a1, b1, {}, "a"));

  // b1 leaves ops: node B has nobody there, so nothing for ops reaches it any more.
  b1.join("b1", "dev");
  std::this_thread::sleep_for(300ms);
  a1.send("ops only");
  CHECK(acks_with(a1.drain(300ms), "ops only") == 1);
  CHECK(b1.drain(200ms).empty());
  node_b.process().signal(SIGTERM);
  REQUIRE(node_b.process().wait(5s) == 0);
  // Unsubscribed, so the line was never routed to B (no remote line without a room).
  CHECK(node_b.process().err().find("remote_unrouted=0") != std::string::npos);
}

TEST_CASE("serve with an unreachable engine starts and serves at once", "[e2e][backplane]") {
  const auto started = std::chrono::steady_clock::now();
  Server node(node_args(free_tcp_port(), "lonely"));
  UdpPeer a(loopback(node.port()));
  UdpPeer b(loopback(node.port()));
  a.join("a");
  b.join("b");
  a.send("no engine needed");
  CHECK(acks_with(b.drain(300ms), "no engine needed") == 1);
  CHECK(std::chrono::steady_clock::now() - started < 3s);
}

TEST_CASE("with the engine away a node holds at most --backplane-buffer and counts the rest",
          "[e2e][backplane]") {
  auto args = node_args(free_tcp_port(), "holder");
  args.insert(args.end(), {"--backplane-buffer", "2K"});
  Server node(args);
  UdpPeer a(loopback(node.port()));
  a.join("a");
  for (int i = 0; i < 60; ++i) {
    a.send("held line " + std::to_string(i) + " with some padding to fill the buffer");
    CHECK(a.receive(2s));  // the local relay answers every one of them
  }
  node.process().signal(SIGTERM);
  REQUIRE(node.process().wait(5s) == 0);
  const std::string log = node.process().err();
  const long published = logged_number(log, "backplane_published");
  const long dropped = logged_number(log, "backplane_publish_dropped");
  CHECK(published + dropped == 60);
  CHECK(published > 0);
  CHECK(published < 40);  // 2 KiB holds about 20 of these
  CHECK(dropped > 20);
}

TEST_CASE("bad backplane options are usage errors", "[e2e][backplane]") {
  CHECK(udpchat::test::run_udpchat({"serve", "--backplane", "http://x:1"}).exit_code == 2);
  CHECK(udpchat::test::run_udpchat({"serve", "--backplane", "nats://"}).exit_code == 2);
  CHECK(udpchat::test::run_udpchat({"serve", "--backplane", "nats://host:99999"}).exit_code == 2);
  CHECK(udpchat::test::run_udpchat({"serve", "--backplane", "nats://a b:4222"}).exit_code == 2);
  CHECK(udpchat::test::run_udpchat({"serve", "--backplane", "nats://h:1,nats://"}).exit_code == 2);
  CHECK(udpchat::test::run_udpchat({"serve", "--node-id", "bad/id"}).exit_code == 2);
  CHECK(udpchat::test::run_udpchat({"serve", "--backplane-buffer", "off"}).exit_code == 2);
}

TEST_CASE(
    "a burst of 200,000 envelopes costs a node bounded memory, never its probe or its "
    "signal",
    "[e2e][backplane]") {
  if (kAddressSanitizer) {
    // ASan keeps up to 256 MiB of freed blocks in quarantine, so a burst's churn would show as
    // growth that is ASan's, not the node's. The node inherits this environment.
    const char* given = std::getenv("ASAN_OPTIONS");
    std::string options = given != nullptr && *given != '\0' ? std::string(given) + ":" : "";
    options += "quarantine_size_mb=4";
    ::setenv("ASAN_OPTIONS", options.c_str(), 1);
  }
  const std::uint16_t engine_port = free_tcp_port();
  Engine engine(engine_port);
  Server node(node_args(engine_port, "target"));
  REQUIRE(node.process().wait_for_log("backplane connected", 1, 15s));
  UdpPeer member(loopback(node.port()));
  member.join("member");
  REQUIRE(lobby_subscribed(engine_port, member));
  const long before = resident_kib(node.process());

  std::vector<std::string> envelopes;
  for (int i = 0; i < 200'000; ++i) {
    envelopes.push_back("udpchat1 flood 10.0.0." + std::to_string(1 + i % 200) + " 4242\nline " +
                        std::to_string(i));
  }
  std::atomic<bool> publishing{true};
  std::thread publisher([&] {
    publish_all(engine_port, "udpchat.room.lobby", envelopes);
    publishing = false;
  });
  UdpPeer prober(loopback(node.port()));
  long peak = before;
  int probes = 0;
  int slow = 0;
  while (publishing || probes < 5) {
    const auto sent = std::chrono::steady_clock::now();
    prober.send("ping burst" + std::to_string(probes));
    const auto answer = prober.receive(1s);
    const auto rtt = std::chrono::steady_clock::now() - sent;
    ++probes;
    if (!answer || rtt > 100ms) ++slow;
    peak = std::max(peak, resident_kib(node.process()));
    std::this_thread::sleep_for(20ms);
  }
  publisher.join();
  const auto signalled = std::chrono::steady_clock::now();
  node.process().signal(SIGTERM);
  const auto exit_code = node.process().wait(5s);
  INFO("the node's exit: " << (exit_code ? std::to_string(*exit_code) : "still running after 5 s")
                           << "; its log ends: " << node.process().err().substr(
                                  node.process().err().size() > 2000 ? node.process().err().size() - 2000 : 0));
  REQUIRE(exit_code == 0);
  CHECK(std::chrono::steady_clock::now() - signalled < 1s);
  CHECK(slow == 0);
  if (kThreadSanitizer) {
    // TSan's shadow and allocator multiply a process's memory; the ASan pass (whose overhead
    // is smaller, and still on top of the real figure) checks the bound.
    WARN("resident memory grew " << (peak - before) / 1024 << " MiB under ThreadSanitizer");
  } else {
    CHECK(peak - before <= 32 * 1024);
  }
  const std::string log = node.process().err();
  const long dropped = logged_number(log, "backplane_dropped");
  const long lines = logged_number(log, "remote_lines");
  CHECK(dropped > 0);  // a burst this size overflows the queue, and says so
  CHECK(log.find("backplane inbound queue full") != std::string::npos);
  CHECK(lines > 0);
  CHECK(lines + dropped <= 200'000 + 100);
}

TEST_CASE("envelopes with impossible addresses are dropped and counted, never relayed",
          "[e2e][backplane]") {
  const std::uint16_t engine_port = free_tcp_port();
  Engine engine(engine_port);
  Server node(node_args(engine_port, "strict"));
  REQUIRE(node.process().wait_for_log("backplane connected", 1, 15s));
  UdpPeer member(loopback(node.port()));
  member.join("member");
  REQUIRE(lobby_subscribed(engine_port, member));
  publish_all(engine_port, "udpchat.room.lobby",
              {"udpchat1 bad " + std::string(45, ':') + " 80\nforty-five colons",
               "udpchat1 bad 10.0.0.1 0\nport zero", "udpchat1 bad 1.2.3.4.5 80\nfive octets",
               "udpchat1 bad 10.0.0.1 80\nclear \x1B[2J"});
  CHECK(member.drain(300ms).empty());
  node.process().signal(SIGTERM);
  REQUIRE(node.process().wait(5s) == 0);
  CHECK(logged_number(node.process().err(), "backplane_malformed") == 4);
}

TEST_CASE(
    "lines lost while the engine was away beyond the buffer show as missed lines on the "
    "other node",
    "[e2e][backplane]") {
  const std::uint16_t engine_port = free_tcp_port();
  Engine engine(engine_port);
  auto args_a = node_args(engine_port, "node-a");
  args_a.insert(args_a.end(), {"--backplane-buffer", "2K"});
  Server node_a(args_a);
  Server node_b(node_args(engine_port, "node-b"));
  REQUIRE(node_a.process().wait_for_log("backplane connected", 1, 15s));
  REQUIRE(node_b.process().wait_for_log("backplane connected", 1, 15s));
  UdpPeer a1(loopback(node_a.port()));
  a1.join("a1");
  Process b1({"chat", "--json", "--listen", "--hb-interval", "1s", node_b.address()}, "");
  REQUIRE(b1.wait_for_output("\"type\":\"joined\""));
  bool crossed = false;
  for (int i = 0; i < 100 && !crossed; ++i) {
    a1.send("probe " + std::to_string(i));
    crossed = b1.wait_for_output("\"text\":\"probe ", 100ms);
  }
  REQUIRE(crossed);

  engine.stop();
  REQUIRE(node_a.process().wait_for_log("backplane disconnected", 1, 10s));
  for (int i = 0; i < 60; ++i) {
    a1.send("held line " + std::to_string(i) + " with some padding to fill the buffer");
    a1.receive(2s);
  }
  engine.start(engine_port);
  REQUIRE(node_a.process().wait_for_log("backplane connected", 2, 15s));
  REQUIRE(node_b.process().wait_for_log("backplane connected", 2, 15s));
  std::this_thread::sleep_for(500ms);
  bool after = false;
  for (int i = 0; i < 50 && !after; ++i) {
    a1.send("after " + std::to_string(i));
    after = b1.wait_for_output("\"text\":\"after ", 100ms);
  }
  REQUIRE(after);
  // What node A could not hold is said on node B: missed lines, never silence.
  REQUIRE(b1.wait_for_output("\"type\":\"missed\"", 3s));
  std::this_thread::sleep_for(300ms);
  const std::string out = b1.out();
  long missed = 0;
  for (auto at = out.find("\"type\":\"missed\",\"count\":"); at != std::string::npos;
       at = out.find("\"type\":\"missed\",\"count\":", at + 1)) {
    missed += std::stol(out.substr(at + 24));
  }
  INFO(out);
  node_a.process().signal(SIGTERM);
  REQUIRE(node_a.process().wait(5s) == 0);
  const long dropped = logged_number(node_a.process().err(), "backplane_publish_dropped");
  CHECK(dropped > 20);
  // Node A dropped what its buffer could not hold; lines it held and sent on reconnecting can
  // be lost too, if node B had not subscribed again yet. Node B says what it really missed.
  CHECK(missed >= dropped);
  CHECK(missed <= 60);
  b1.signal(SIGTERM);
  CHECK(b1.wait(5s) == 0);
}

TEST_CASE(
    "serve --threads 2 with a backplane: one publish per line, each line once on every "
    "shard and node",
    "[e2e][backplane][threads]") {
  const std::uint16_t engine_port = free_tcp_port();
  Engine engine(engine_port);
  auto args_a = node_args(engine_port, "node-a");
  args_a.insert(args_a.end(),
                {"--threads", "2", "--rate-limit", "off", "--cookie-rate-limit", "off"});
  Server node_a(args_a);
  Server node_b(node_args(engine_port, "node-b"));
  REQUIRE(node_a.process().wait_for_log("backplane connected", 1, 15s));
  REQUIRE(node_b.process().wait_for_log("backplane connected", 1, 15s));
  std::vector<std::unique_ptr<UdpPeer>> on_a;
  for (int i = 0; i < 12; ++i) {
    on_a.push_back(std::make_unique<UdpPeer>(loopback(node_a.port())));
    on_a.back()->join("a" + std::to_string(i));
  }
  REQUIRE(count_in(node_a.process().err(), "shard=1") > 0);  // both shards have members
  REQUIRE(count_in(node_a.process().err(), "shard=0") > 0);
  UdpPeer b1(loopback(node_b.port()));
  b1.join("b1");
  REQUIRE(wait_until_lines_cross(*on_a[0], b1, {}, "a"));
  for (auto& peer : on_a) peer->drain(50ms);
  for (int i = 0; i < 12; ++i)
    on_a[static_cast<std::size_t>(i)]->send("from a" + std::to_string(i));
  std::this_thread::sleep_for(500ms);
  const auto at_b = b1.drain(200ms);
  for (int i = 0; i < 12; ++i) {
    CHECK(acks_with(at_b, "from a" + std::to_string(i)) == 1);
    const auto at_a = on_a[static_cast<std::size_t>(i)]->drain(50ms);
    for (int j = 0; j < 12; ++j) CHECK(acks_with(at_a, "from a" + std::to_string(j)) == 1);
  }
  // From the other way: each envelope is taken in once by the node, not once per shard.
  for (int i = 0; i < 10; ++i) b1.send("from b " + std::to_string(i));
  std::this_thread::sleep_for(500ms);
  for (auto& peer : on_a) {
    const auto at_a = peer->drain(50ms);
    for (int i = 0; i < 10; ++i) CHECK(acks_with(at_a, "from b " + std::to_string(i)) == 1);
  }
  node_a.process().signal(SIGTERM);
  REQUIRE(node_a.process().wait(5s) == 0);
  const std::string log = node_a.process().err();
  const long published = logged_number(log, "backplane_published");
  const long lines = logged_number(log, "lines");
  CHECK(published == lines);  // once per line, not once per shard
  CHECK(logged_number(log, "backplane_own") == 0);
  CHECK(logged_number(log, "backplane_received") == 10);
  CHECK(logged_number(log, "remote_lines") == 10);
}
