// End to end: `udpchat bench` against an embedded relay, a separate serve and a legacy server.
#include <signal.h>

#include <nlohmann/json.hpp>

#include "support/catch.hpp"
#include "support/legacy_server.hpp"
#include "support/process.hpp"
#include "support/udp_peer.hpp"

using udpchat::test::LegacyServer;
using udpchat::test::loopback;
using udpchat::test::run_udpchat;
using udpchat::test::Server;

namespace {

void check_consistent(const nlohmann::json& r) {
  CHECK(r["expected"] == r["sent"].get<std::uint64_t>() * r["clients"].get<std::uint64_t>());
  CHECK(r["delivered"].get<std::uint64_t>() + r["lost"].get<std::uint64_t>() == r["expected"]);
  const auto& l = r["latency_us"];
  CHECK(l["min"].get<double>() <= l["p50"].get<double>());
  CHECK(l["p50"].get<double>() <= l["p90"].get<double>());
  CHECK(l["p90"].get<double>() <= l["p99"].get<double>());
  CHECK(l["p99"].get<double>() <= l["p99_9"].get<double>());
  CHECK(l["p99_9"].get<double>() <= l["max"].get<double>());
}

}  // namespace

TEST_CASE("bench --embedded reports valid JSON with no loss at a low rate", "[e2e][bench]") {
  const auto result = run_udpchat({"bench", "--embedded", "--clients", "5", "--rate", "200",
                                   "--duration", "1s", "--warmup", "200ms", "--json"});
  REQUIRE(result.exit_code == 0);
  const auto r = nlohmann::json::parse(result.out);  // throws on NaN, Infinity or junk
  CHECK(r["server"] == "udpchat");
  CHECK(r["clients"] == 5);
  CHECK(r["sent"] == 200);
  CHECK(r["expected"] == 1000);
  CHECK(r["delivered"] == 1000);
  CHECK(r["lost"] == 0);
  CHECK(r["lost_percent"] == 0.0);
  CHECK(r["duplicates"] == 0);
  CHECK(r["latency_us"]["p50"].get<double>() > 0);
#ifdef __linux__
  CHECK(r["kernel_drops"] == 0);  // SO_RXQ_OVFL
#else
  CHECK(r["kernel_drops"].is_null());  // not measured: said, not guessed
#endif
  check_consistent(r);
}

TEST_CASE("bench against a running serve with several senders and CSV output", "[e2e][bench]") {
  Server server;
  const auto result = run_udpchat({"bench", server.address(), "--clients", "8", "--senders", "3",
                                   "--rate", "300", "--size", "200", "--duration", "1s",
                                   "--warmup", "100ms", "--csv"});
  REQUIRE(result.exit_code == 0);
  const auto newline = result.out.find('\n');
  REQUIRE(newline != std::string::npos);
  const std::string header = result.out.substr(0, newline);
  CHECK(header.starts_with("target,server,clients,senders,rate,size,seconds,sent,send_rate,expected"));
  CHECK(header.find("latency_us_p99") != std::string::npos);
  const std::string row = result.out.substr(newline + 1);
  CHECK(std::count(header.begin(), header.end(), ',') == std::count(row.begin(), row.end(), ','));
  CHECK(row.find(",udpchat,8,3,") != std::string::npos);
}

TEST_CASE("bench works against an original-protocol server", "[e2e][bench]") {
  LegacyServer legacy;
  const auto result =
      run_udpchat({"bench", "127.0.0.1:" + std::to_string(legacy.port()), "--clients", "4",
                   "--rate", "100", "--duration", "1s", "--warmup", "100ms", "--json"});
  REQUIRE(result.exit_code == 0);
  const auto r = nlohmann::json::parse(result.out);
  CHECK(r["server"] == "legacy");
  CHECK(r["sent"] == 100);
  CHECK(r["delivered"] == 400);
  check_consistent(r);
}

TEST_CASE("bench --find-max converges and reports the rate it found", "[e2e][bench]") {
  const auto result = run_udpchat({"bench", "--embedded", "--clients", "10", "--find-max",
                                   "--rate", "2000", "--trial", "300ms", "--json"},
                                  std::chrono::seconds(60));
  REQUIRE(result.exit_code == 0);
  const auto r = nlohmann::json::parse(result.out);
  CHECK(r["max_lossless_rate"].get<double>() >= 2000);
  CHECK(r["trials"].get<int>() <= 16);
  CHECK(r["lost_percent"].get<double>() <= 0.1);
  // The report is the best trial's; the rate found is rounded down to what the search resolved.
  CHECK(r["rate"] == r["best_passed_rate"]);
  CHECK(r["max_lossless_rate"].get<double>() <= r["rate"].get<double>());
  CHECK(r["max_lossless_rate"].get<double>() >= 0.9 * r["rate"].get<double>());
  CHECK_FALSE(r["limited_by"].get<std::string>().empty());
}

TEST_CASE("bench names an IPv6 target in brackets, as it is typed", "[e2e][bench]") {
  Server server({}, "[::1]:0");
  const auto result = run_udpchat({"bench", server.address(), "--clients", "2", "--rate", "100",
                                   "--duration", "300ms", "--warmup", "100ms", "--json"});
  REQUIRE(result.exit_code == 0);
  CHECK(nlohmann::json::parse(result.out)["target"] == server.address());
  CHECK(server.address().starts_with("[::1]:"));
}

TEST_CASE("bench with no flags against serve with no flags loses nothing", "[e2e][bench]") {
  // Both on their defaults, 127.0.0.1:9998, as a new user would run them.
  udpchat::test::Process serve({"serve"});
  REQUIRE(serve.wait_for_log("listening"));
  const auto result = run_udpchat({"bench"}, std::chrono::seconds(30));
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("(0 lost, 0.000%)") != std::string::npos);
  CHECK(result.out.find("10 clients, 10 sender(s)") != std::string::npos);
  serve.signal(SIGTERM);
  CHECK(serve.wait() == 0);
}

TEST_CASE("a run losing more than --max-loss exits 6 and names the budget that explains it",
          "[e2e][bench]") {
  Server server;
  // One sender at 5x a default serve's per-member budget.
  const auto over = run_udpchat({"bench", server.address(), "--senders", "1", "--rate", "1000",
                                 "--duration", "1s", "--warmup", "100ms"});
  CHECK(over.exit_code == 6);
  CHECK(over.err.find("more than --max-loss 1%: each sender offered 1000 lines/s, above a default "
                      "serve's budget of 200 datagrams/s per member (serve --rate-limit)") !=
        std::string::npos);
  const auto within = run_udpchat({"bench", server.address(), "--clients", "2", "--rate", "100",
                                   "--duration", "500ms", "--warmup", "100ms"});
  CHECK(within.exit_code == 0);
  CHECK(within.err.empty());
  // --find-max names the limit it hit: here the budget, not the relay.
  const auto search = run_udpchat({"bench", server.address(), "--clients", "2", "--senders", "1",
                                   "--find-max", "--trial", "500ms", "--json"},
                                  std::chrono::seconds(60));
  REQUIRE(search.exit_code == 0);
  const auto r = nlohmann::json::parse(search.out);
  CHECK(r["limited_by"].get<std::string>().find("200 datagrams/s per member") != std::string::npos);
  CHECK(r["max_lossless_rate"].get<double>() < 500);
}

TEST_CASE("bench prints a progress line a second when asked, and none with -q", "[e2e][bench]") {
  const auto shown = run_udpchat({"bench", "--embedded", "--clients", "2", "--rate", "100",
                                  "--duration", "2500ms", "--warmup", "100ms", "--interval", "1s"});
  CHECK(shown.exit_code == 0);
  CHECK(udpchat::test::count_in(shown.err, " sent ") == 2);
  CHECK(shown.err.find("   1.0 s  sent ") != std::string::npos);
  const auto quiet = run_udpchat({"bench", "--embedded", "--clients", "2", "--rate", "100",
                                  "--duration", "1500ms", "--warmup", "100ms", "--interval", "1s",
                                  "-q"});
  CHECK(quiet.exit_code == 0);
  CHECK(quiet.err.find(" sent ") == std::string::npos);
}

TEST_CASE("bench exits 3 when refused and 2 on bad options", "[e2e][bench]") {
  CHECK(run_udpchat({"bench", "127.0.0.1:" + std::to_string(udpchat::test::free_port()),
                     "--duration", "1s"})
            .exit_code == 3);
  CHECK(run_udpchat({"bench", "--size", "10"}).exit_code == 2);
  CHECK(run_udpchat({"bench", "--rate", "0"}).exit_code == 2);
  CHECK(run_udpchat({"bench", "--json", "--csv"}).exit_code == 2);
  CHECK(run_udpchat({"bench", "--duration", "0s"}).exit_code == 2);
  CHECK(run_udpchat({"bench", "--hb-interval", "0s"}).exit_code == 2);
  const auto senders = run_udpchat({"bench", "--senders", "20", "--clients", "10"});
  CHECK(senders.exit_code == 2);
  CHECK(senders.err.find("--senders 20 is more than --clients 10") != std::string::npos);
  // A target beside --embedded would be ignored: refused instead.
  CHECK(run_udpchat({"bench", "--embedded", "127.0.0.1:30001"}).exit_code == 2);
}
