// core::ClientSession in the sealed dialect, wired to a real core::Relay with a key.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>

#include "core/client_session.hpp"
#include "protocol/message.hpp"
#include "protocol/sealed.hpp"
#include "support/catch.hpp"
#include "support/session_wire.hpp"

using namespace std::chrono_literals;
namespace event = udpchat::core::event;
namespace noise = udpchat::protocol::noise;
namespace sealed = udpchat::protocol::sealed;
using udpchat::core::EndReason;
using udpchat::core::SessionState;
using udpchat::test::drops;
using udpchat::test::events_of;
using udpchat::test::relay_config;
using udpchat::test::session_config;
using udpchat::test::Wire;

namespace {

udpchat::core::RelayConfig keyed(std::shared_ptr<const noise::KeyPair> identity) {
  auto c = relay_config();
  c.identity = std::move(identity);
  return c;
}

std::shared_ptr<const noise::KeyPair> new_identity() {
  return std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
}

bool is_frame(const std::string& datagram, std::uint8_t type) {
  return !datagram.empty() && static_cast<std::uint8_t>(datagram[0]) == type;
}

}  // namespace

TEST_CASE("a session speaks only sealed after its hello and chats with a text member",
          "[core][session][sealed]") {
  const auto identity = new_identity();
  Wire wire(keyed(identity));
  auto& alice = wire.add(1, session_config("alice"));
  auto bob_config = session_config("bob");
  bob_config.seal = false;
  auto& bob = wire.add(2, bob_config);
  wire.settle();
  REQUIRE(alice.state() == SessionState::joined);
  CHECK(alice.sealed());
  CHECK(alice.offered_key() == sealed::format_key(identity->public_key));
  CHECK_FALSE(bob.sealed());
  alice.take_events();
  bob.take_events();

  alice.send_line("the secret plan", wire.now);
  bob.send_line("a public answer", wire.now);
  wire.run_for(3s);
  const auto to_bob = events_of<event::Message>(bob);
  REQUIRE(to_bob.size() == 2);
  CHECK(to_bob[0].text == "the secret plan");
  const auto to_alice = events_of<event::Message>(alice);
  REQUIRE(to_alice.size() == 2);
  CHECK(to_alice[1].text == "a public answer");

  // The cookie request in the clear, then the hello, then nothing but sealed datagrams.
  const auto& sent = wire.sent[1];
  REQUIRE(sent.size() >= 4);
  CHECK(sent[0].starts_with("reg "));
  CHECK(is_frame(sent[1], sealed::kHello));
  CHECK(std::all_of(sent.begin() + 2, sent.end(),
                    [](const std::string& d) { return is_frame(d, sealed::kSealed); }));
  CHECK(std::none_of(sent.begin(), sent.end(), [](const std::string& d) {
    return d.find("secret") != std::string::npos || d.find("alice") != std::string::npos;
  }));
}

TEST_CASE("a relay that offers another key than the pinned one ends the session",
          "[core][session][sealed]") {
  Wire wire(keyed(new_identity()));
  auto config = session_config("alice");
  config.server_key = sealed::format_key(noise::KeyPair::generate().public_key);
  auto& alice = wire.add(1, config);
  alice.send_line("never sent", wire.now);
  wire.settle();
  // One cookie could be anyone's: the relay's key is taken as changed when it says so again.
  CHECK(alice.state() == SessionState::joining);
  wire.run_for(5s);
  CHECK(alice.state() == SessionState::ended);
  CHECK(alice.end_reason() == EndReason::key_changed);
  CHECK(wire.relay().members().empty());
  // The line was never sent anywhere: only cookie requests left, and never an original `reg`.
  CHECK(wire.sent[1].size() == 3);
  CHECK(std::all_of(wire.sent[1].begin(), wire.sent[1].end(), [](const std::string& d) {
    const auto message = udpchat::protocol::decode_client(d);
    const auto* request = std::get_if<udpchat::protocol::CookieRequest>(&message);
    return request != nullptr && request->sealed > 0;
  }));
}

TEST_CASE("a session that expects a key refuses a relay that no longer seals",
          "[core][session][sealed]") {
  Wire wire(relay_config());  // no key: no sealed dialect
  auto config = session_config("alice");
  config.server_key = sealed::format_key(noise::KeyPair::generate().public_key);
  auto& alice = wire.add(1, config);
  wire.run_for(5s);
  CHECK(alice.end_reason() == EndReason::key_changed);
}

TEST_CASE("a session whose relay key is known never falls back to the original protocol",
          "[core][session][sealed]") {
  Wire wire(keyed(new_identity()));
  auto config = session_config("alice");
  config.server_key = sealed::format_key(noise::KeyPair::generate().public_key);
  wire.down = true;  // no cookie ever comes: an original server would look like this
  auto& alice = wire.add(1, config);
  alice.send_line("only ever sealed", wire.now);
  wire.run_for(10s, 100ms);
  CHECK(alice.state() != SessionState::legacy);
  for (const auto& d : wire.sent[1]) CHECK(d.find("only ever sealed") == std::string::npos);
}

TEST_CASE("a forged welcome in the clear while a hello is out joins nothing",
          "[core][session][sealed]") {
  Wire wire(keyed(new_identity()));
  auto& alice = wire.add(1, session_config("alice"));
  // The relay's cookie comes; the hello is lost on the way.
  const auto request = alice.take_datagrams();
  REQUIRE(request.size() == 1);
  const auto cookie =
      wire.relay().on_datagram(udpchat::core::Peer::v4(10, 0, 0, 1, 1), request[0], wire.now);
  const auto& answer = std::get<udpchat::core::ToSender>(cookie.sends).datagrams;
  REQUIRE(answer.size() == 1);
  alice.on_datagram(answer[0], wire.now);
  REQUIRE(alice.take_datagrams().size() == 1);  // the hello
  alice.send_line("secret", wire.now);
  alice.on_datagram("welcome 10.0.0.1 1 alice", wire.now);
  CHECK(alice.state() == SessionState::joining);
  CHECK(alice.forged() == 1);
  for (const auto& d : alice.take_datagrams()) CHECK(d.find("secret") == std::string::npos);
}

TEST_CASE("a session joins again through its last session when the relay kept it",
          "[core][session][sealed]") {
  Wire wire(keyed(new_identity()));
  auto& alice = wire.add(1, session_config("alice"));
  wire.settle();
  REQUIRE(alice.sealed());
  alice.take_events();
  // The relay is unreachable long enough for the client to give it up, not for the relay to
  // expire the member (its heartbeat timeout is longer than the client's silence limit here).
  wire.down = true;
  wire.run_for(6500ms, 100ms);
  REQUIRE(alice.state() == SessionState::rejoining);
  wire.down = false;
  wire.run_for(3s, 100ms);
  CHECK(alice.state() == SessionState::joined);
  CHECK(alice.sealed());
  CHECK(drops(wire.relay(), udpchat::core::DropReason::unsealed) > 0);
}

TEST_CASE("a session with the pinned key joins, and one without a pin learns the key",
          "[core][session][sealed]") {
  const auto identity = new_identity();
  Wire wire(keyed(identity));
  auto pinned = session_config("alice");
  pinned.server_key = sealed::format_key(identity->public_key);
  wire.add(1, pinned);
  wire.add(2, session_config("bob"));
  wire.settle();
  CHECK(wire.at(1).sealed());
  CHECK(wire.at(2).sealed());
  CHECK(wire.at(2).offered_key() == pinned.server_key);
}

TEST_CASE("text or frames forged from the relay's address change nothing in a sealed session",
          "[core][session][sealed]") {
  Wire wire(keyed(new_identity()));
  auto& alice = wire.add(1, session_config("alice"));
  wire.settle();
  REQUIRE(alice.sealed());
  alice.take_events();
  for (const std::string_view forged :
       {"end", "reg?", "nick taken", "ack: 1.2.3.4 5 mallory\nforged\n", "head 99999999",
        "\xF7\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c"
        "0123456789abcdef"}) {
    alice.on_datagram(forged, wire.now);
  }
  CHECK(alice.forged() == 6);
  CHECK(alice.state() == SessionState::joined);
  CHECK(alice.take_events().empty());
  alice.send_line("still fine", wire.now);
  wire.run_for(1s);
  const auto echo = events_of<event::Message>(alice);
  REQUIRE(echo.size() == 1);
  CHECK(echo[0].own);
}

TEST_CASE("a sealed session survives a relay restart by joining again with a new handshake",
          "[core][session][sealed]") {
  const auto identity = new_identity();
  Wire wire(keyed(identity));
  auto& alice = wire.add(1, session_config("alice"));
  wire.settle();
  REQUIRE(alice.sealed());
  wire.restart();  // the same key, as serve keeps it in its key file
  alice.send_line("after the restart", wire.now);
  wire.run_for(20s, 100ms);
  CHECK(alice.state() == SessionState::joined);
  CHECK(alice.sealed());
  const auto lines = events_of<event::Message>(alice);
  CHECK(std::count_if(lines.begin(), lines.end(),
                      [](const event::Message& m) { return m.text == "after the restart"; }) == 1);
}

TEST_CASE("a long session takes new keys every rekey_after and loses no line on the way",
          "[core][session][sealed]") {
  const auto identity = new_identity();
  Wire wire(keyed(identity));
  auto alice_config = session_config("alice");
  alice_config.rekey_after = 10s;
  auto& alice = wire.add(1, alice_config);
  auto& bob = wire.add(2, session_config("bob"));
  wire.settle();
  REQUIRE(alice.sealed());
  REQUIRE(bob.sealed());
  alice.take_events();
  bob.take_events();
  const udpchat::core::Peer at = udpchat::core::Peer::v4(10, 0, 0, 1, 1);
  const std::uint32_t first_index = wire.relay().find(at)->sealed->local();

  // One welcome of a rekey lost on the way: the session asks again a little later.
  int welcomes_lost = 0;
  std::uint64_t rekeys_seen = 0;
  wire.lose = [&](std::uint16_t port, bool to_relay) {
    // The relay answers a rekey at once: the datagram to alice just after it counts one is
    // its welcome.
    const std::uint64_t rekeys = wire.relay().stats().rekeys;
    const bool welcome = !to_relay && port == 1 && rekeys > rekeys_seen;
    rekeys_seen = rekeys;
    return welcome && welcomes_lost++ == 0;
  };
  std::vector<std::string> captured;  // alice's datagrams under her first keys
  for (int i = 0; i < 150; ++i) {
    alice.send_line(fmt::format("line {}", i), wire.now);
    wire.run_for(200ms);
    if (captured.empty()) captured = wire.sent[1];
  }
  wire.run_for(2s);
  CHECK(welcomes_lost == 3);  // the one lost, then two answered
  CHECK(wire.relay().stats().rekeys >= 2);
  const auto* member = wire.relay().find(at);
  REQUIRE(member != nullptr);
  CHECK(member->sealed->local() != first_index);
  CHECK(member->sealed_next == nullptr);  // each new session took over
  // Every line reached bob once and in order, and came back to alice as hers.
  const auto to_bob = events_of<event::Message>(bob);
  REQUIRE(to_bob.size() == 150);
  for (int i = 0; i < 150; ++i)
    CHECK(to_bob[static_cast<std::size_t>(i)].text == fmt::format("line {}", i));
  CHECK(alice.waiting() == 0);
  CHECK(alice.state() == SessionState::joined);
  // A datagram under keys two sessions ago names a session the relay has forgotten.
  const auto stale = std::find_if(captured.begin(), captured.end(),
                                  [](const std::string& d) { return is_frame(d, 0xF7); });
  REQUIRE(stale != captured.end());
  CHECK(wire.relay().on_datagram(at, *stale, wire.now).dropped ==
        udpchat::core::DropReason::unknown_session);
}

TEST_CASE("the relay keeps a member's keys before a rekey only while late datagrams may come",
          "[core][session][sealed]") {
  Wire wire(keyed(new_identity()));
  auto config = session_config("alice");
  config.rekey_after = 30s;
  wire.add(1, config);
  wire.settle();
  const auto* member = wire.relay().find(udpchat::core::Peer::v4(10, 0, 0, 1, 1));
  REQUIRE(member != nullptr);
  wire.run_for(35s, 100ms);
  CHECK(wire.relay().stats().rekeys == 1);
  CHECK(member->sealed_before != nullptr);  // what alice sent just before may still come
  wire.run_for(10s, 100ms);
  CHECK(member->sealed_before == nullptr);  // her heartbeats since opened under the new keys
}

TEST_CASE("thirty sealed sessions from one address all join within a default cookie budget",
          "[core][session][sealed]") {
  // CI jobs on one runner, or bench's clients: one source, each join a cookie and a hello.
  auto config = keyed(new_identity());
  config.cookie_limit = {10, 20};
  config.datagram_limit = udpchat::core::RelayConfig{}.datagram_limit;
  Wire wire(config);
  for (std::uint16_t port = 1; port <= 30; ++port) {
    wire.add(port, session_config("m" + std::to_string(port)));
  }
  const auto joined = [&] {
    int n = 0;
    for (std::uint16_t port = 1; port <= 30; ++port) {
      n += wire.at(port).state() == SessionState::joined ? 1 : 0;
    }
    return n;
  };
  // 60 grants at 10 a second after a burst of 20: about 4 s, with the sessions' backoff.
  wire.run_for(8s);
  CHECK(joined() == 30);
  CHECK(drops(wire.relay(), udpchat::core::DropReason::cookie_rate_limited) > 0);
}
