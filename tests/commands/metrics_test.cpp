// End to end: serve --metrics, scraped with curl while the relay runs, checked with promtool
// (Debian's prometheus package), and held against the totals serve logs at shutdown.
#include <signal.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "support/catch.hpp"
#include "support/process.hpp"
#include "support/udp_peer.hpp"

using namespace std::chrono_literals;
using udpchat::test::logged_number;
using udpchat::test::loopback;
using udpchat::test::run_udpchat;
using udpchat::test::Server;
using udpchat::test::UdpPeer;

namespace {

std::string run_shell(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return out;
  }
  char buffer[4096];
  std::size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  status = pclose(pipe);
  return out;
}

// The value of a sample line `name value` (or `name{labels} value`) in exposition text.
double sample(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

// Where serve says it serves /metrics (its `metrics address=HOST:PORT` log line); empty when
// it did not say.
std::string metrics_address(Server& server) {
  const std::string log = server.process().err();
  const auto at = log.find("metrics address=");
  if (at == std::string::npos) return {};
  return log.substr(at + 16, log.find(' ', at + 16) - at - 16);
}

}  // namespace

TEST_CASE("serve --metrics exposes valid Prometheus text whose counters match the totals",
          "[e2e][serve][metrics]") {
#ifndef UDPCHAT_HAS_METRICS
  WARN("skipped: this udpchat was built without metrics (prometheus-cpp not found)");
  return;
#endif
  if (std::system("command -v curl >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1") != 0) {
    WARN("skipped: curl or promtool (Debian package prometheus) is not installed");
    return;
  }
  Server server({"--metrics", "127.0.0.1:0"});
  const std::string address = metrics_address(server);
  REQUIRE(!address.empty());
  UdpPeer alice(loopback(server.port()));
  UdpPeer bob(loopback(server.port()));
  alice.join("alice");
  bob.join("bob", "ops");
  for (int i = 0; i < 7; ++i) alice.send("hello " + std::to_string(i));
  bob.send("in ops");
  alice.send("\x1B[2J");                // dropped: a control character
  std::this_thread::sleep_for(1500ms);  // the node gathers its figures every second

  int status = 0;
  const std::string text = run_shell("curl -sf http://" + address + "/metrics", status);
  REQUIRE(status == 0);
  const auto checked =
      run_shell("curl -sf http://" + address + "/metrics | promtool check metrics 2>&1", status);
  INFO(checked);
  CHECK(status == 0);
  CHECK(sample(text, "udpchat_members") == 2);
  CHECK(sample(text, "udpchat_rooms") == 2);
  // What operators expect of any exporter: which build, and the process's own figures.
  CHECK(text.find("\nudpchat_build_info{version=\"") != std::string::npos);
  for (const char* name : {"process_start_time_seconds", "process_resident_memory_bytes",
                           "process_cpu_seconds_total", "process_open_fds"}) {
    INFO(name);
    CHECK(sample(text, name) > 0);
  }
  CHECK(text.find("NaN") == std::string::npos);
  CHECK(text.find("Nan") == std::string::npos);
  CHECK(text.find("udpchat_dropped_total{reason=\"control_character\"} 1") != std::string::npos);

  server.process().signal(SIGTERM);
  REQUIRE(server.process().wait(5s) == 0);
  const std::string log = server.process().err();
  // Counters are exposed as floating-point text; the totals line holds integers.
  const auto logged = [&](std::string_view key) {
    return static_cast<double>(logged_number(log, key));
  };
  CHECK(sample(text, "udpchat_lines_total") == logged("lines"));
  CHECK(sample(text, "udpchat_deliveries_total") == logged("deliveries"));
  CHECK(sample(text, "udpchat_joins_total") == logged("joins"));
  CHECK(sample(text, "udpchat_datagrams_total") == logged("datagrams"));
  CHECK(logged_number(log, "lines") == 8);
}

TEST_CASE("serve --metrics answers on IPv6 loopback", "[e2e][serve][metrics]") {
#ifndef UDPCHAT_HAS_METRICS
  WARN("skipped: this udpchat was built without metrics");
  return;
#endif
  if (std::system("command -v curl >/dev/null 2>&1") != 0) {
    WARN("skipped: curl is not installed");
    return;
  }
  Server server({"--metrics", "[::1]:0"});
  const std::string address = metrics_address(server);
  REQUIRE(address.starts_with("[::1]:"));
  int status = 0;
  const std::string text = run_shell("curl -sf 'http://" + address + "/metrics'", status);
  CHECK(status == 0);
  CHECK(sample(text, "udpchat_members") == 0);
}

TEST_CASE("serve --metrics refuses a bad address and says which", "[e2e][serve][metrics]") {
  for (const char* bad : {"host:", "99999"}) {
    const auto run = run_udpchat({"serve", "--metrics", bad});
    CHECK(run.exit_code == 2);
    CHECK(run.err.find("--metrics") != std::string::npos);
#ifndef UDPCHAT_HAS_METRICS
    CHECK(run.err.find("built without metrics") != std::string::npos);
#endif
  }
}

TEST_CASE("serve --threads 2 --history-memory 100K: the history gauge stays within the bound",
          "[e2e][serve][metrics][history]") {
#ifndef UDPCHAT_HAS_METRICS
  WARN("skipped: this udpchat was built without metrics");
  return;
#endif
  if (std::system("command -v curl >/dev/null 2>&1") != 0) {
    WARN("skipped: curl is not installed");
    return;
  }
  Server server({"--metrics", "127.0.0.1:0", "--threads", "2", "--history-memory", "100K",
                 "--rate-limit", "off", "--cookie-rate-limit", "off", "--max-queue-delay", "off",
                 "--hb-timeout", "2m"});
  const std::string address = metrics_address(server);
  REQUIRE(!address.empty());
  // 20 rooms of one member each, spread over both shards, each writing 20 lines of 900 bytes:
  // 360 kB offered to a bound of 100 kB.
  std::vector<std::unique_ptr<UdpPeer>> members;
  for (int i = 0; i < 20; ++i) {
    members.push_back(std::make_unique<UdpPeer>(loopback(server.port())));
    members.back()->join("m", "room" + std::to_string(i));
  }
  REQUIRE(server.process().err().find("shard=1") != std::string::npos);
  REQUIRE(server.process().err().find("shard=0") != std::string::npos);
  const std::string text(900, 'h');
  double most = 0;
  for (int round = 0; round < 4; ++round) {
    for (int line = 0; line < 5; ++line) {
      for (auto& member : members) member->send(text);
    }
    std::this_thread::sleep_for(1200ms);  // the node gathers its figures every second
    int status = 0;
    const std::string scraped = run_shell("curl -sf http://" + address + "/metrics", status);
    REQUIRE(status == 0);
    const double bytes = sample(scraped, "udpchat_history_bytes");
    INFO("round " << round << ": " << bytes << " bytes");
    CHECK(bytes <= 100000);
    most = std::max(most, bytes);
  }
  CHECK(most > 50000);  // filled, not empty
  server.process().signal(SIGTERM);
  REQUIRE(server.process().wait(5s) == 0);
  const long logged = logged_number(server.process().err(), "history_bytes");
  CHECK(logged <= 100000);
  CHECK(logged > 50000);
  CHECK(logged_number(server.process().err(), "lines") == 400);
}

TEST_CASE(
    "a scrape answers within 2 s while 10 idle and 3 half-sent connections are open, and "
    "the server closes them within 2 s",
    "[e2e][serve][metrics]") {
#ifndef UDPCHAT_HAS_METRICS
  WARN("skipped: this udpchat was built without metrics (prometheus-cpp not found)");
  return;
#endif
  if (std::system("command -v curl >/dev/null 2>&1") != 0) {
    WARN("skipped: curl is not installed");
    return;
  }
  Server server({"--metrics", "127.0.0.1:0"});
  const std::string address = metrics_address(server);
  REQUIRE(!address.empty());
  const auto colon = address.rfind(':');
  const asio::ip::tcp::endpoint endpoint(
      asio::ip::make_address(address.substr(0, colon)),
      static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  asio::io_context io;
  std::vector<asio::ip::tcp::socket> holders;
  for (int i = 0; i < 13; ++i) {
    holders.emplace_back(io);
    // Under a loaded sanitizer run the exposer can be slow to accept: a refusal is retried for a
    // while, and what serve said is shown if it never answers.
    asio::error_code ec;
    for (int attempt = 0; attempt < 20; ++attempt) {
      holders.back().close(ec);
      holders.back().connect(endpoint, ec);
      if (!ec) break;
      std::this_thread::sleep_for(50ms);
    }
    INFO("serve said: " << server.process().err());
    REQUIRE_FALSE(ec);
    // The last three start a request and never finish it.
    if (i >= 10)
      asio::write(holders.back(), asio::buffer(std::string("GET /metrics HTTP/1.1\r\n")));
  }
  std::this_thread::sleep_for(100ms);
  int status = 0;
  const auto started = std::chrono::steady_clock::now();
  const std::string text =
      run_shell("curl -sf --max-time 2 http://" + address + "/metrics", status);
  CHECK(status == 0);
  CHECK(text.find("udpchat_build_info") != std::string::npos);
  INFO("the scrape took " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - started)
                                 .count()
                          << " ms");
  // Every holder has been let go within 2 s of opening: reading finds the end of the stream
  // (after a 400 for the half-sent ones).
  std::this_thread::sleep_until(started + 1900ms);
  int closed = 0;
  for (auto& holder : holders) {
    holder.non_blocking(true);
    std::array<char, 512> bytes{};
    asio::error_code ec;
    while (!ec) holder.read_some(asio::buffer(bytes), ec);
    if (ec == asio::error::eof || ec == asio::error::connection_reset) ++closed;
  }
  CHECK(closed == 13);
}
