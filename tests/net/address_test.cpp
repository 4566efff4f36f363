#include "net/address.hpp"

#include "support/catch.hpp"

using udpchat::core::Peer;
using namespace udpchat::net;

namespace {
std::optional<HostPort> parse(std::string_view text) {
  std::string error;
  auto result = parse_host_port(text, error);
  if (!result) CHECK_FALSE(error.empty());
  return result;
}
}  // namespace

TEST_CASE("host and port parse in every accepted form", "[net]") {
  auto v4 = parse("127.0.0.1:9000");
  REQUIRE(v4);
  CHECK(v4->host == "127.0.0.1");
  CHECK(v4->port == 9000);
  auto v6 = parse("[::1]:9001");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 9001);
  auto name = parse("localhost");
  REQUIRE(name);
  CHECK(name->port == kDefaultPort);
  auto bare_v6 = parse("fe80::1");
  REQUIRE(bare_v6);
  CHECK(bare_v6->host == "fe80::1");
  CHECK(bare_v6->port == kDefaultPort);
  CHECK(parse("[::]:0")->port == 0);
}

TEST_CASE("malformed host and port are refused with a reason", "[net]") {
  CHECK_FALSE(parse(""));
  CHECK_FALSE(parse(":9000"));
  CHECK_FALSE(parse("host:"));
  CHECK_FALSE(parse("host:70000"));
  CHECK_FALSE(parse("host:12ab"));
  CHECK_FALSE(parse("[::1"));
  CHECK_FALSE(parse("[::1]9000"));
  CHECK_FALSE(parse("[]:9000"));
  CHECK_FALSE(parse("1.2.3.4:5:6"));
  CHECK_FALSE(parse("host:name:9000"));
  CHECK_FALSE(parse("::1:x"));
}

TEST_CASE("endpoints convert to peers and back unchanged", "[net]") {
  const udp::endpoint v4(asio::ip::make_address("127.0.0.1"), 4242);
  const Peer peer = to_peer(v4);
  CHECK(peer.is_v4_mapped());
  CHECK(peer == Peer::v4(127, 0, 0, 1, 4242));
  CHECK(to_endpoint(peer, udp::v4()) == v4);
  CHECK(format_ip(peer) == "127.0.0.1");

  const udp::endpoint mapped(asio::ip::make_address("::ffff:127.0.0.1"), 4242);
  CHECK(to_peer(mapped) == peer);
  CHECK(to_endpoint(peer, udp::v6()) == mapped);
  CHECK(format_endpoint(mapped) == "127.0.0.1:4242");

  const udp::endpoint v6(asio::ip::make_address("::1"), 7);
  CHECK(format_ip(to_peer(v6)) == "::1");
  CHECK(format_endpoint(v6) == "[::1]:7");
  CHECK(to_endpoint(to_peer(v6), udp::v6()) == v6);
}

TEST_CASE("a target refuses port 0, which only binding may use", "[net]") {
  std::string error;
  CHECK_FALSE(parse_target("127.0.0.1:0", error));
  CHECK(error.find("port 0") != std::string::npos);
  CHECK_FALSE(parse_target("[::1]:0", error));
  const auto target = parse_target("127.0.0.1:1", error);
  REQUIRE(target);
  CHECK(target->port == 1);
}

TEST_CASE("a bind address of :PORT is every address, and digits that are no IPv4 address say so",
          "[net]") {
  std::string error;
  const auto every = parse_bind(":9999", error);
  REQUIRE(every);
  CHECK(every->host == "::");
  CHECK(every->port == 9999);
  CHECK(parse_bind("127.0.0.1:1", error)->host == "127.0.0.1");
  CHECK_FALSE(parse_bind(":99999", error));
  CHECK_FALSE(parse_target(":9999", error));  // a target needs a host
  CHECK_FALSE(parse_host_port("999.1.1.1:1", error));
  CHECK(error.find("999.1.1.1 is not an IPv4 address") != std::string::npos);
  CHECK_FALSE(parse_target("1.2.3:9998", error));
  CHECK(parse_target("10.0.0.1:9998", error));
}
