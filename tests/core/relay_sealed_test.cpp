// The relay's sealed dialect, driven by a client built here from the same pieces a real one
// uses (the Noise handshake, SealedSession), datagrams in and out by hand, time stepped by hand.
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/relay.hpp"
#include "protocol/message.hpp"
#include "protocol/sealed.hpp"
#include "support/catch.hpp"
#include "support/core_fixture.hpp"

using namespace std::chrono_literals;
namespace proto = udpchat::protocol;
namespace noise = udpchat::protocol::noise;
namespace sealed = udpchat::protocol::sealed;
using udpchat::core::DropReason;
using udpchat::core::Member;
using udpchat::core::Outcome;
using udpchat::core::Peer;
using udpchat::core::Relay;
using udpchat::core::RelayConfig;
using udpchat::core::SealedSession;
using udpchat::core::TimePoint;
using udpchat::core::ToRoom;
using udpchat::core::ToSender;

namespace {

using udpchat::test::dotted;
using udpchat::test::drops;
using udpchat::test::peer;
using udpchat::test::t0;

RelayConfig sealed_config(std::shared_ptr<const noise::KeyPair> identity = nullptr) {
  RelayConfig c;
  c.format_ip = &dotted;
  c.datagram_limit = {0, 0};
  c.cookie_limit = {0, 0};
  c.identity =
      identity ? identity : std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
  return c;
}

std::vector<std::string> answers(const Outcome& out) {
  std::vector<std::string> all;
  if (const auto* to = std::get_if<ToSender>(&out.sends)) {
    for (const auto d : to->datagrams) all.emplace_back(d);
  }
  return all;
}

// A client of the sealed dialect, as chat would be one.
struct Client {
  Peer at;
  std::uint32_t index;
  std::optional<SealedSession> session;
  std::string last_sent;
  noise::Cipher cipher{noise::Cipher::chacha_poly};  // what it asks for, and hellos in
  std::uint8_t offered_suite{};                      // what the relay's cookie offered
  std::string hello_sent{};
  std::string last_cookie{};

  // Cookie, hello, welcome: the welcome's text, or nothing when the relay did not answer.
  // With `cookie` given, its hello goes on that one (a client trying again) without asking.
  std::optional<std::string> join(Relay& relay, const noise::PublicKey& relay_key,
                                  std::string_view nick, TimePoint now, std::string_view room = {},
                                  std::string_view cookie = {}) {
    std::string token(cookie);
    if (token.empty()) {
      const auto answer = answers(relay.on_datagram(
          at, proto::encode_sealed_cookie_request(sealed::suite_of(cipher)), now));
      REQUIRE(answer.size() == 1);
      const auto decoded = proto::decode_server(answer[0]);
      REQUIRE(std::holds_alternative<proto::Cookie>(decoded));
      const auto& offer = std::get<proto::Cookie>(decoded);
      REQUIRE_FALSE(offer.sealed_key.empty());  // a real client compares it with its pin first
      offered_suite = offer.sealed_suite;
      token = offer.token;
      last_cookie = token;
    }
    std::string hello;
    sealed::encode_hello_header(hello, cipher, index, token);
    std::string payload = proto::encode_join(token, nick, room, std::uint64_t{1});
    payload.resize(sealed::kHelloBytes - hello.size() - sealed::kNoiseOverheadBytes, ' ');
    noise::Initiator initiator(cipher, relay_key, sealed::prologue(hello),
                               noise::KeyPair::generate());
    hello += noise::as_text(initiator.write_first(noise::as_bytes(payload)));
    last_sent = hello;
    hello_sent = hello;
    const auto welcome = answers(relay.on_datagram(at, hello, now));
    if (welcome.size() != 1) return std::nullopt;
    CHECK(welcome[0].size() <= hello.size());  // the reflection rule, before any session
    const auto frame = sealed::decode(welcome[0]);
    REQUIRE(std::holds_alternative<sealed::Welcome>(frame));
    const auto& w = std::get<sealed::Welcome>(frame);
    CHECK(w.receiver == index);
    CHECK(w.cipher == cipher);  // answered in the hello's suite
    noise::Bytes said;
    auto keys = initiator.read_second(noise::as_bytes(w.noise), said);
    REQUIRE(keys);
    session.emplace(index, w.sender, std::move(*keys));
    return std::string(noise::as_text(said));
  }

  Outcome send(Relay& relay, std::string_view line, TimePoint now) {
    session->seal(line, last_sent);
    return relay.on_datagram(at, last_sent, now);
  }

  // What a datagram to this client says, or nothing if it does not open.
  std::optional<std::string> open(std::string_view datagram) {
    const auto frame = sealed::decode(datagram);
    const auto* s = std::get_if<sealed::Sealed>(&frame);
    if (s == nullptr) return std::nullopt;
    std::string out;
    if (!session->open(*s, out)) return std::nullopt;
    return out;
  }

  // Its datagrams in an outcome: answers to it, or its own sealed copy of a room line.
  std::vector<std::string> received(const Relay& relay, const Outcome& out) {
    std::vector<std::string> all;
    if (const auto* to = std::get_if<ToSender>(&out.sends)) {
      for (const auto d : to->datagrams) {
        if (auto opened = open(d)) all.push_back(*opened);
      }
    } else if (const auto* line = std::get_if<ToRoom>(&out.sends)) {
      for (const auto& delivery : line->sealed) {
        if (relay.members()[delivery.recipient].peer != at) continue;
        if (auto opened = open(delivery.datagram)) all.push_back(*opened);
      }
    }
    return all;
  }
};

std::string plain_join(Relay& relay, const Peer& who, std::string_view nick, TimePoint now) {
  const auto cookie = answers(relay.on_datagram(who, proto::encode_cookie_request(), now));
  REQUIRE(cookie.size() == 1);
  const std::string token(std::get<proto::Cookie>(proto::decode_server(cookie[0])).token);
  const auto welcome = answers(relay.on_datagram(who, proto::encode_join(token, nick), now));
  REQUIRE(welcome.size() == 1);
  return welcome[0];
}

}  // namespace

TEST_CASE("a sealed client joins with a hello and chats with a text member in one room",
          "[core][relay][sealed]") {
  const auto identity = std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
  Relay relay(sealed_config(identity), t0);
  Client alice{peer(1), 7, {}, {}};
  const auto welcome = alice.join(relay, identity->public_key, "alice", t0);
  REQUIRE(welcome);
  CHECK(welcome->starts_with("welcome 10.0.0.1 1 alice"));
  CHECK(relay.find(peer(1))->sealed != nullptr);
  plain_join(relay, peer(2), "bob", t0);

  const Outcome line = alice.send(relay, "#1 meet at noon", t0);
  const auto& to_room = std::get<ToRoom>(line.sends);
  REQUIRE(to_room.plain.recipients.size() == 1);  // bob, in the clear as ever
  // The original form, but naming alice's alias, not her address: it is the relay's business.
  const auto plain = proto::decode_server(to_room.plain.payload);
  REQUIRE(std::holds_alternative<proto::Ack>(plain));
  const auto& ack = std::get<proto::Ack>(plain);
  const Member& member = *relay.find(peer(1));
  CHECK(ack.ip == member.alias_ip);
  CHECK(ack.ip.starts_with("fd75:6463:"));
  CHECK(ack.port == member.alias_port);
  CHECK(ack.nick == "alice");
  CHECK(ack.text == "meet at noon");
  CHECK(to_room.plain.payload.find("10.0.0.1") == std::string_view::npos);
  REQUIRE(to_room.sealed.size() == 1);  // alice's echo, sealed for her alone
  CHECK(to_room.sealed[0].datagram.find("meet at noon") == std::string_view::npos);
  const auto echo = alice.received(relay, line);
  REQUIRE(echo.size() == 1);
  CHECK(echo[0] == "ack 1 1 @me alice\nmeet at noon\n");  // her own, and no address

  const Outcome from_bob = relay.on_datagram(peer(2), "hello alice", t0);
  const auto got = alice.received(relay, from_bob);
  REQUIRE(got.size() == 1);
  CHECK(got[0] == "ack 2 0 @ bob\nhello alice\n");  // bob's address is the relay's business
}

TEST_CASE("text forged from a sealed member's address changes nothing and draws nothing",
          "[core][relay][sealed]") {
  const auto identity = std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
  Relay relay(sealed_config(identity), t0);
  Client alice{peer(1), 1, {}, {}};
  REQUIRE(alice.join(relay, identity->public_key, "alice", t0));
  for (const std::string_view forged :
       {"^hb^", "nack 1 64", "#2", "quit", "reg?", "forged line", "head 9999999999999999998"}) {
    const Outcome out = relay.on_datagram(peer(1), forged, t0 + 9s);
    CHECK(std::holds_alternative<std::monostate>(out.sends));
    CHECK(out.dropped == DropReason::unsealed);
  }
  CHECK(drops(relay, DropReason::unsealed) == 7);
  // Still alice's, still numbered from 1, and expired on time: the forgeries refreshed nothing.
  CHECK(alice.received(relay, alice.send(relay, "#1 still here", t0 + 9s)).size() == 1);
  CHECK(relay.expire(t0 + 9s + 10s + 1ms).size() == 1);
}

TEST_CASE("a sealed datagram sent again, altered or under another index is dropped unopened",
          "[core][relay][sealed]") {
  const auto identity = std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
  Relay relay(sealed_config(identity), t0);
  Client alice{peer(1), 1, {}, {}};
  REQUIRE(alice.join(relay, identity->public_key, "alice", t0));
  REQUIRE(alice.received(relay, alice.send(relay, "#1 once", t0)).size() == 1);
  const std::string captured = alice.last_sent;
  CHECK(relay.on_datagram(peer(1), captured, t0 + 1s).dropped == DropReason::unopened);

  alice.session->seal("#2 twice", alice.last_sent);
  std::string altered = alice.last_sent;
  altered.back() = static_cast<char>(altered.back() ^ 1);
  CHECK(relay.on_datagram(peer(1), altered, t0 + 1s).dropped == DropReason::unopened);
  std::string elsewhere = alice.last_sent;
  elsewhere[1] = static_cast<char>(elsewhere[1] ^ 1);  // another session's index
  CHECK(relay.on_datagram(peer(1), elsewhere, t0 + 1s).dropped == DropReason::unknown_session);
  // The same datagram from another address is nobody's.
  CHECK(relay.on_datagram(peer(9), alice.last_sent, t0 + 1s).dropped ==
        DropReason::unknown_session);
  // None of that moved the window: the real one still opens.
  CHECK(alice.received(relay, relay.on_datagram(peer(1), alice.last_sent, t0 + 1s)).size() == 1);
}

TEST_CASE("a client that speaks AESGCM is offered suite 2 where the relay has it, else suite 1",
          "[core][relay][sealed]") {
  const auto identity = std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
  RelayConfig without_aes = sealed_config(identity);
  without_aes.aes_gcm = false;
  Relay plain_cpu(without_aes, t0);
  Client alice{peer(1), 1, {}, {}, noise::Cipher::aes_gcm};
  CHECK_FALSE(alice.join(plain_cpu, identity->public_key, "alice", t0));  // its hello: suite 2
  CHECK(alice.offered_suite == sealed::kSuiteChaChaPoly);
  CHECK(drops(plain_cpu, DropReason::cipher_off) == 1);
  alice.cipher = noise::Cipher::chacha_poly;
  REQUIRE(alice.join(plain_cpu, identity->public_key, "alice", t0));
  CHECK(alice.received(plain_cpu, alice.send(plain_cpu, "#1 in ChaChaPoly", t0)).size() == 1);

  if (!noise::available(noise::Cipher::aes_gcm)) {
    WARN("this CPU has no AES instructions: suite 2 is not checked here");
    return;
  }
  Relay relay(sealed_config(identity), t0);
  Client bob{peer(2), 2, {}, {}, noise::Cipher::aes_gcm};
  REQUIRE(bob.join(relay, identity->public_key, "bob", t0));
  CHECK(bob.offered_suite == sealed::kSuiteAesGcm);
  CHECK(bob.received(relay, bob.send(relay, "#1 in AESGCM", t0)).size() == 1);
  Client carol{peer(3), 3, {}, {}};  // an older client asks for suite 1 and gets it
  REQUIRE(carol.join(relay, identity->public_key, "carol", t0));
  CHECK(carol.offered_suite == sealed::kSuiteChaChaPoly);
  const auto heard = carol.received(relay, bob.send(relay, "#2 both suites, one room", t0));
  REQUIRE(heard.size() == 1);
  CHECK(heard[0] == "ack 2 2 @ bob\nboth suites, one room\n");
}

TEST_CASE("a hello in the clear from a sealed member's address cannot take its session over",
          "[core][relay][sealed]") {
  const auto identity = std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
  Relay relay(sealed_config(identity), t0);
  Client alice{peer(1), 1, {}, {}};
  REQUIRE(alice.join(relay, identity->public_key, "alice", t0));
  const std::string captured = alice.hello_sent;
  REQUIRE(alice.received(relay, alice.send(relay, "#1 before", t0 + 1s)).size() == 1);
  // Her own hello sent again, and one built afresh on a cookie seen on the path: neither is
  // answered, and her session goes on.
  const Outcome replayed = relay.on_datagram(peer(1), captured, t0 + 20s);
  CHECK(replayed.dropped == DropReason::hello_outside_session);
  CHECK(std::holds_alternative<std::monostate>(replayed.sends));
  // A cookie for her address (an on-path attacker sees the ones that go in the clear).
  const auto asked =
      alice.received(relay, alice.send(relay, proto::encode_sealed_cookie_request(), t0 + 21s));
  REQUIRE(asked.size() == 1);
  const std::string token(std::get<proto::Cookie>(proto::decode_server(asked[0])).token);
  auto forged = sealed::encode_hello(noise::Cipher::chacha_poly, identity->public_key, 66, token,
                                     proto::encode_join(token, "mallory"));
  const Outcome taken = relay.on_datagram(peer(1), forged.datagram, t0 + 21s);
  CHECK(taken.dropped == DropReason::hello_outside_session);
  CHECK(std::holds_alternative<std::monostate>(taken.sends));
  CHECK(drops(relay, DropReason::hello_outside_session) == 2);
  CHECK(alice.received(relay, alice.send(relay, "#2 after", t0 + 21s)).size() == 1);
  CHECK(relay.find(peer(1))->nick == "alice");
  // Once she has left, her hello sent again while its cookie lives is a replay.
  alice.send(relay, "quit", t0 + 22s);
  REQUIRE(relay.find(peer(1)) == nullptr);
  CHECK(relay.on_datagram(peer(1), captured, t0 + 23s).dropped == DropReason::replayed_hello);
  CHECK(relay.find(peer(1)) == nullptr);
  // Past its cookie's life the copy is refused by the cookie instead.
  CHECK(relay.on_datagram(peer(1), captured, t0 + 40s).dropped == DropReason::bad_cookie);
}

TEST_CASE("a hello carrying a ping is answered with a sealed pong and leaves nothing behind",
          "[core][relay][sealed]") {
  const auto identity = std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
  Relay relay(sealed_config(identity), t0);
  const auto cookie =
      answers(relay.on_datagram(peer(1), proto::encode_sealed_cookie_request(), t0));
  REQUIRE(cookie.size() == 1);
  const std::string token(std::get<proto::Cookie>(proto::decode_server(cookie[0])).token);
  auto hello = sealed::encode_hello(noise::Cipher::chacha_poly, identity->public_key, 9, token,
                                    proto::encode_ping("proof"));
  const auto welcome = answers(relay.on_datagram(peer(1), hello.datagram, t0));
  REQUIRE(welcome.size() == 1);
  CHECK(welcome[0].size() <= hello.datagram.size());
  const auto frame = sealed::decode(welcome[0]);
  REQUIRE(std::holds_alternative<sealed::Welcome>(frame));
  const auto& w = std::get<sealed::Welcome>(frame);
  CHECK(w.sender == 0);  // no session
  noise::Bytes said;
  REQUIRE(hello.handshake.read_second(noise::as_bytes(w.noise), said));
  CHECK(noise::as_text(said) == "pong proof");
  CHECK(relay.members().empty());
  // Only the holder of the key could answer: another key's handshake does not open it.
  const auto other = noise::KeyPair::generate();
  auto wrong = sealed::encode_hello(noise::Cipher::chacha_poly, other.public_key, 9, token,
                                    proto::encode_ping("proof"));
  CHECK(relay.on_datagram(peer(1), wrong.datagram, t0).dropped == DropReason::unopened);
}

TEST_CASE("a hello again after a lost welcome is answered until the session is confirmed",
          "[core][relay][sealed]") {
  const auto identity = std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
  Relay relay(sealed_config(identity), t0);
  Client alice{peer(1), 1, {}, {}};
  REQUIRE(alice.join(relay, identity->public_key, "alice", t0));  // its welcome "lost"
  Client again{peer(1), 2, {}, {}};  // the same client's next hello, on the same cookie
  REQUIRE(again.join(relay, identity->public_key, "alice", t0 + 1s, {}, alice.last_cookie));
  CHECK(relay.find(peer(1))->sealed->local() == again.session->remote());
  CHECK(again.received(relay, again.send(relay, "#1 made it", t0 + 1s)).size() == 1);
  // Confirmed now: a hello in the clear is no longer taken from this address.
  Client third{peer(1), 3, {}, {}};
  CHECK_FALSE(third.join(relay, identity->public_key, "alice", t0 + 2s, {}, alice.last_cookie));
  CHECK(drops(relay, DropReason::hello_outside_session) == 1);
}

TEST_CASE("a hello without a valid cookie or padding costs no key work and draws no answer",
          "[core][relay][sealed]") {
  const auto identity = std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
  Relay relay(sealed_config(identity), t0);
  std::string hello;
  sealed::encode_hello_header(hello, noise::Cipher::chacha_poly, 5,
                              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  hello.resize(sealed::kHelloBytes, 'x');
  Outcome out = relay.on_datagram(peer(1), hello, t0);
  CHECK(out.dropped == DropReason::bad_cookie);
  CHECK(std::holds_alternative<std::monostate>(out.sends));
  hello.resize(100);
  CHECK(relay.on_datagram(peer(1), hello, t0).dropped == DropReason::unpadded_hello);
  CHECK(relay.on_datagram(peer(1), "\xF6u\x01garbage", t0).dropped == DropReason::bad_frame);
  CHECK(relay.members().empty());
}

TEST_CASE("a client that pinned another key learns nothing from the relay's answer",
          "[core][relay][sealed]") {
  Relay relay(sealed_config(), t0);  // a relay with a key of its own
  const auto pinned = noise::KeyPair::generate();
  Client alice{peer(1), 1, {}, {}};
  CHECK_FALSE(alice.join(relay, pinned.public_key, "alice", t0));
  CHECK(drops(relay, DropReason::unopened) == 1);
  CHECK(relay.members().empty());
}

TEST_CASE("a relay without a key offers no sealed dialect", "[core][relay][sealed]") {
  RelayConfig c = sealed_config();
  c.identity = nullptr;
  Relay relay(c, t0);
  const auto cookie =
      answers(relay.on_datagram(peer(1), proto::encode_sealed_cookie_request(), t0));
  REQUIRE(cookie.size() == 1);
  CHECK(std::get<proto::Cookie>(proto::decode_server(cookie[0])).sealed_key.empty());
  CHECK(cookie[0].find("+s1") == std::string::npos);
}

TEST_CASE("end reaches each sealed member sealed and each text member as text",
          "[core][relay][sealed]") {
  const auto identity = std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
  Relay relay(sealed_config(identity), t0);
  Client alice{peer(1), 1, {}, {}};
  REQUIRE(alice.join(relay, identity->public_key, "alice", t0));
  plain_join(relay, peer(2), "bob", t0);
  const auto sends = relay.to_everyone(proto::kEnd);
  const auto& all = std::get<ToRoom>(sends);
  CHECK(all.plain.payload == "end");
  CHECK(all.plain.recipients.size() == 1);
  REQUIRE(all.sealed.size() == 1);
  CHECK(alice.open(all.sealed[0].datagram) == "end");
}

TEST_CASE("a sealed member that expires leaves no session behind", "[core][relay][sealed]") {
  const auto identity = std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
  Relay relay(sealed_config(identity), t0);
  Client alice{peer(1), 1, {}, {}};
  REQUIRE(alice.join(relay, identity->public_key, "alice", t0));
  REQUIRE(relay.expire(t0 + 11s).size() == 1);
  CHECK(alice.send(relay, "^hb^", t0 + 12s).dropped == DropReason::unknown_session);
  // And a new hello makes a new one.
  Client again{peer(1), 2, {}, {}};
  REQUIRE(again.join(relay, identity->public_key, "alice", t0 + 12s));
  CHECK(again.received(relay, again.send(relay, "#1 back", t0 + 12s)).size() == 1);
}

TEST_CASE("text from the address of a sealed member that left draws no reg",
          "[core][relay][sealed]") {
  const auto identity = std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
  Relay relay(sealed_config(identity), t0);
  Client alice{peer(1), 1, {}, {}};
  REQUIRE(alice.join(relay, identity->public_key, "alice", t0));
  REQUIRE(relay.expire(t0 + 11s).size() == 1);
  const Outcome forged = relay.on_datagram(peer(1), "^hb^", t0 + 12s);
  CHECK(forged.dropped == DropReason::not_member);
  CHECK(std::holds_alternative<std::monostate>(forged.sends));
  // A text stranger elsewhere is still told, as ever.
  CHECK(answers(relay.on_datagram(peer(2), "^hb^", t0 + 12s)) == std::vector<std::string>{"reg?"});
  // And the tombstone goes in time.
  relay.expire(t0 + 12s + 10 * 10s + 1s);
  CHECK(answers(relay.on_datagram(peer(1), "^hb^", t0 + 2min)) == std::vector<std::string>{"reg?"});
}

TEST_CASE("lines sent again from the window to a sealed member name no address",
          "[core][relay][sealed]") {
  const auto identity = std::make_shared<const noise::KeyPair>(noise::KeyPair::generate());
  Relay relay(sealed_config(identity), t0);
  Client alice{peer(1), 1, {}, {}};
  REQUIRE(alice.join(relay, identity->public_key, "alice", t0));
  plain_join(relay, peer(2), "bob", t0);
  alice.send(relay, "#1 mine", t0);
  relay.on_datagram(peer(2), "theirs", t0);
  const auto repaired = alice.received(relay, alice.send(relay, "nack 1 2", t0));
  REQUIRE(repaired.size() == 2);
  CHECK(repaired[0].ends_with("ack 1 1 @me alice\nmine\n"));
  CHECK(repaired[1].ends_with("ack 2 0 @ bob\ntheirs\n"));
  for (const auto& r : repaired) CHECK(r.find("10.0.0.1") == std::string::npos);
}
