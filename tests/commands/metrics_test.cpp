// End to end: serve --metrics, scraped with curl while the relay runs, checked with promtool
// (Debian's prometheus package), and held against the totals serve logs at shutdown.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

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
  const std::string start = server.process().err();
  const auto at = start.find("metrics address=");
  REQUIRE(at != std::string::npos);
  const std::string address = start.substr(at + 16, start.find(' ', at + 16) - at - 16);
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
  const std::string start = server.process().err();
  const auto at = start.find("metrics address=[::1]:");
  REQUIRE(at != std::string::npos);
  const std::string address = start.substr(at + 16, start.find(' ', at + 16) - at - 16);
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
