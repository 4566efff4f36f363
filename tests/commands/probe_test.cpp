// End to end: `udpchat probe` against serve, an original-protocol server, and nothing at all.
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
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
using udpchat::test::UdpPeer;

namespace {}  // namespace

TEST_CASE("probe exits 0 when serve answers", "[e2e][probe]") {
  Server server;
  const auto result = run_udpchat({"probe", server.address()});
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("answered in") != std::string::npos);
  CHECK(result.out.find("(udpchat)") != std::string::npos);
}

TEST_CASE("probe --json prints one object describing the answer", "[e2e][probe]") {
  Server server;
  const auto result = run_udpchat({"probe", "--json", "--count", "3", server.address()});
  REQUIRE(result.exit_code == 0);
  const auto json = nlohmann::json::parse(result.out);
  CHECK(json["ok"] == true);
  CHECK(json["server"] == "udpchat");
  CHECK(json["attempts"] == 3);
  CHECK(json["answered"] == 3);
  CHECK(json["rtt_us"].get<std::int64_t>() > 0);
  CHECK(json["rtt_min_us"].get<std::int64_t>() <= json["rtt_max_us"].get<std::int64_t>());
  CHECK(json["error"].is_null());
}

TEST_CASE("probe --json percentiles are nearest-rank and its fields never change", "[e2e][probe]") {
  Server server;
  const auto two = run_udpchat({"probe", "--json", "--count", "2", server.address()});
  REQUIRE(two.exit_code == 0);
  const auto answered = nlohmann::json::parse(two.out);
  // With two answers the 99th percentile is the slower one, never the faster.
  CHECK(answered["rtt_p99_us"] == answered["rtt_max_us"]);
  CHECK(answered["rtt_p50_us"] == answered["rtt_min_us"]);
  const auto refused = run_udpchat({"probe", "--json", "127.0.0.1:" + std::to_string(free_port())});
  const auto failed = nlohmann::json::parse(refused.out);
  std::vector<std::string> keys_answered;
  std::vector<std::string> keys_failed;
  for (const auto& [key, value] : answered.items()) keys_answered.push_back(key);
  for (const auto& [key, value] : failed.items()) keys_failed.push_back(key);
  CHECK(keys_answered == keys_failed);
  CHECK(failed["rtt_p99_us"].is_null());
  CHECK(failed["server"].is_null());
}

TEST_CASE("probe answers over IPv6 loopback", "[e2e][probe]") {
  Server server({}, "[::1]:0");
  CHECK(run_udpchat({"probe", server.address()}).exit_code == 0);
}

TEST_CASE("probe exits 1 when nothing answers in time", "[e2e][probe]") {
  asio::io_context io;
  asio::ip::udp::socket silent(io, loopback(0));  // bound, never reads
  const auto started = std::chrono::steady_clock::now();
  const auto result = run_udpchat({"probe", "--timeout", "200ms",
                                   "127.0.0.1:" + std::to_string(silent.local_endpoint().port())});
  CHECK(result.exit_code == 1);
  CHECK(std::chrono::steady_clock::now() - started >= 200ms);
  CHECK(result.err.find("no answer within 200ms") != std::string::npos);
}

TEST_CASE("a lost first ping is one of --count, not the end of the probe", "[e2e][probe]") {
  // A server that never saw the first ping: it answers the others.
  UdpPeer fake(loopback(9));
  std::thread server([&] {
    if (!fake.receive(5s)) return;
    for (int i = 0; i < 2; ++i) {
      const auto ping = fake.receive(5s);
      if (!ping || !ping->starts_with("ping ")) return;
      fake.send_to("pong " + ping->substr(5), fake.last_sender());
    }
  });
  const auto result = run_udpchat({"probe", "--json", "--count", "3", "--timeout", "300ms",
                                   "127.0.0.1:" + std::to_string(fake.port())});
  server.join();
  CHECK(result.exit_code == 0);
  const auto json = nlohmann::json::parse(result.out);
  CHECK(json["attempts"] == 3);
  CHECK(json["answered"] == 2);
  CHECK(json["server"] == "udpchat");
}

TEST_CASE("a silent server gets every ping of --count before probe gives up", "[e2e][probe]") {
  asio::io_context io;
  asio::ip::udp::socket silent(io, loopback(0));  // bound, never reads
  const auto result = run_udpchat({"probe", "--json", "--count", "3", "--timeout", "200ms",
                                   "127.0.0.1:" + std::to_string(silent.local_endpoint().port())});
  CHECK(result.exit_code == 1);
  const auto json = nlohmann::json::parse(result.out);
  CHECK(json["attempts"] == 3);
  CHECK(json["answered"] == 0);
  CHECK(json["error"] == "no answer to 3 pings within 200ms each");
}

TEST_CASE("probe exits 3 when the port is refused", "[e2e][probe]") {
  const auto result = run_udpchat({"probe", "127.0.0.1:" + std::to_string(free_port())});
  CHECK(result.exit_code == 3);
  CHECK(result.err.find("refused") != std::string::npos);
  const auto json = run_udpchat({"probe", "--json", "127.0.0.1:" + std::to_string(free_port())});
  CHECK(json.exit_code == 3);
  CHECK(nlohmann::json::parse(json.out)["ok"] == false);
}

TEST_CASE("probe exits 4 when the host name does not resolve", "[e2e][probe]") {
  const auto result = run_udpchat({"probe", "no-such-host.invalid:9998"});
  CHECK(result.exit_code == 4);
  CHECK(result.err.starts_with("udpchat: error: cannot resolve 'no-such-host.invalid'"));
}

TEST_CASE("a target of port 0 is a usage error for probe, chat and bench", "[e2e][probe]") {
  const auto port_zero = run_udpchat({"probe", "127.0.0.1:0"});
  CHECK(port_zero.exit_code == 2);
  CHECK(port_zero.err.find("port 0 cannot be sent to") != std::string::npos);
  CHECK(run_udpchat({"chat", "127.0.0.1:0"}).exit_code == 2);
  CHECK(run_udpchat({"bench", "127.0.0.1:0"}).exit_code == 2);
}

TEST_CASE("probe exits 2 on a usage error", "[e2e][probe]") {
  CHECK(run_udpchat({"probe", "--count", "0"}).exit_code == 2);
  CHECK(run_udpchat({"probe", "host:port"}).exit_code == 2);
  CHECK(run_udpchat({"probe", "--wait"}).exit_code == 2);
  const auto colons = run_udpchat({"probe", "1.2.3.4:5:6"});
  CHECK(colons.exit_code == 2);
  CHECK(colons.err.find("[ADDRESS]:PORT") != std::string::npos);
}

TEST_CASE("probe accepts an original-protocol server's echo and leaves afterwards",
          "[e2e][probe]") {
  LegacyServer legacy;
  // A pin of its port (a test relay that had it before) would rightly refuse it: no pins here.
  const std::string no_pins = (udpchat::test::scratch_dir("probe-legacy") / "known").string();
  const auto result = run_udpchat(
      {"probe", "--known-servers", no_pins, "127.0.0.1:" + std::to_string(legacy.port())});
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("(legacy)") != std::string::npos);
  std::this_thread::sleep_for(50ms);
  const auto received = legacy.received();
  REQUIRE(received.size() == 2);
  CHECK(received[0].starts_with("ping "));
  CHECK(received[1] == "quit");
  CHECK(legacy.member_count() == 0);
}

TEST_CASE("probe --wait keeps trying until the server comes up", "[e2e][probe]") {
  const std::uint16_t port = free_port();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  Process waiting({"probe", "--wait", "10s", address});
  std::this_thread::sleep_for(500ms);
  REQUIRE_FALSE(waiting.wait(0ms));  // still trying: nothing is listening yet
  Process serve({"serve", "--bind", address});
  CHECK(waiting.wait(5s) == 0);
  CHECK(waiting.out().find("(udpchat)") != std::string::npos);
  CHECK(waiting.err().empty());  // stderr is no terminal here, and progress was not asked for
}

TEST_CASE("probe --wait --progress says what it waits for, and -q keeps it quiet", "[e2e][probe]") {
  const std::string address = "127.0.0.1:" + std::to_string(free_port());
  const auto said = run_udpchat({"probe", "--wait", "1s", "--progress", address});
  CHECK(said.exit_code == 3);
  CHECK(said.err.starts_with("udpchat: waiting for " + address +
                             ": refused (nothing listening) (waited 0s of 1s)\n"));
  const auto quiet = run_udpchat({"probe", "--wait", "1s", "--progress", "-q", address});
  CHECK(quiet.err.find("waiting") == std::string::npos);
}

TEST_CASE("probe --wait gives up with the last failure's exit code", "[e2e][probe]") {
  const auto started = std::chrono::steady_clock::now();
  const auto result =
      run_udpchat({"probe", "--wait", "500ms", "127.0.0.1:" + std::to_string(free_port())});
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(result.exit_code == 3);
  CHECK(elapsed >= 500ms);
  CHECK(elapsed < 5s);
}
