// End to end: `udpchat bench` against an embedded relay, a separate serve and a legacy server.
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
  CHECK(r["rate"] == r["max_lossless_rate"]);
}

TEST_CASE("bench names an IPv6 target in brackets, as it is typed", "[e2e][bench]") {
  Server server({}, "[::1]:0");
  const auto result = run_udpchat({"bench", server.address(), "--clients", "2", "--rate", "100",
                                   "--duration", "300ms", "--warmup", "100ms", "--json"});
  REQUIRE(result.exit_code == 0);
  CHECK(nlohmann::json::parse(result.out)["target"] == server.address());
  CHECK(server.address().starts_with("[::1]:"));
}

TEST_CASE("bench says when a default serve's per-member budget explains the loss", "[e2e][bench]") {
  Server server;
  const auto result = run_udpchat({"bench", server.address(), "--clients", "2", "--rate", "1000",
                                   "--duration", "1s", "--warmup", "100ms"});
  REQUIRE(result.exit_code == 0);
  CHECK(result.err.find("note: each sender offered 1000 lines/s; a serve with its default "
                        "--rate-limit (200/s per member)") != std::string::npos);
  const auto within = run_udpchat({"bench", server.address(), "--clients", "2", "--rate", "100",
                                   "--duration", "500ms", "--warmup", "100ms"});
  REQUIRE(within.exit_code == 0);
  CHECK(within.err.find("note:") == std::string::npos);
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
