#include "core/relay.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/overloaded.hpp"
#include "protocol/message.hpp"
#include "support/catch.hpp"
#include "support/core_fixture.hpp"

using namespace std::chrono_literals;
namespace proto = udpchat::protocol;
using udpchat::core::DropReason;
using udpchat::core::Outcome;
using udpchat::core::Peer;
using udpchat::core::Relay;
using udpchat::core::RelayConfig;
using udpchat::core::RelayStats;
using udpchat::core::TimePoint;

namespace {

using udpchat::test::dotted;
using udpchat::test::drops;
using udpchat::test::peer;
using udpchat::test::t0;

// An outcome as these tests read it: who gets what, and what became of the datagram.
enum class Audience : std::uint8_t { nobody, sender, room };
enum class Event : std::uint8_t { none, joined, moved, left, dropped };

Audience audience_of(const Outcome& out) {
  if (std::holds_alternative<udpchat::core::ToSender>(out.sends)) return Audience::sender;
  if (std::holds_alternative<udpchat::core::ToRoom>(out.sends)) return Audience::room;
  return Audience::nobody;
}

// A membership change wins over a drop, as a legacy stranger's dropped line still admits it.
Event event_of(const Outcome& out) {
  switch (out.change.index()) {
    case 1:
      return Event::joined;
    case 2:
      return Event::moved;
    case 3:
      return Event::left;
    default:
      return out.dropped ? Event::dropped : Event::none;
  }
}

const udpchat::core::Member* member_of(const Outcome& out) {
  return std::visit(
      udpchat::core::Overloaded{
          [](std::monostate) -> const udpchat::core::Member* { return nullptr; },
          [](const auto& change) -> const udpchat::core::Member* { return change.member; }},
      out.change);
}

std::optional<DropReason> drop_of(const Outcome& out) {
  return out.dropped;
}

std::span<const std::string_view> replies_of(const Outcome& out) {
  const auto* answer = std::get_if<udpchat::core::ToSender>(&out.sends);
  return answer == nullptr ? std::span<const std::string_view>{} : answer->datagrams;
}

const udpchat::core::ToRoom& to_room(const Outcome& out) {
  static const udpchat::core::ToRoom nothing;
  const auto* line = std::get_if<udpchat::core::ToRoom>(&out.sends);
  return line == nullptr ? nothing : *line;
}

// The one datagram back to the sender, or the plain ack to the room.
std::string_view payload_of(const Outcome& out) {
  const auto replies = replies_of(out);
  if (!replies.empty()) return replies.front();
  return to_room(out).plain.payload;
}

std::span<const std::uint32_t> recipients_of(const Outcome& out) {
  return to_room(out).plain.recipients;
}
std::string_view numbered_payload_of(const Outcome& out) {
  return to_room(out).numbered.payload;
}
std::span<const std::uint32_t> numbered_recipients_of(const Outcome& out) {
  return to_room(out).numbered.recipients;
}
const std::optional<udpchat::core::SaidLine>& said_of(const Outcome& out) {
  return to_room(out).said;
}

RelayConfig config(bool legacy = false, std::size_t max_clients = 4096) {
  RelayConfig c;
  c.legacy = legacy;
  c.max_clients = max_clients;
  c.format_ip = &dotted;
  // Off here: these tests drive many peers from one address; the limits have tests of their own.
  c.datagram_limit = {0, 0};
  c.cookie_limit = {0, 0};
  return c;
}

// The cookie handshake, as a client runs it.
Outcome join(Relay& relay, const Peer& who, std::string_view nick, TimePoint now,
             std::string_view room = {}) {
  const Outcome cookie = relay.on_datagram(who, proto::encode_cookie_request(), now);
  REQUIRE(audience_of(cookie) == Audience::sender);
  const auto decoded = proto::decode_server(payload_of(cookie));
  REQUIRE(std::holds_alternative<proto::Cookie>(decoded));
  const std::string token(std::get<proto::Cookie>(decoded).token);
  return relay.on_datagram(who, proto::encode_join(token, nick, room), now);
}

// The ports of the members an outcome goes to, sorted.
std::vector<std::uint16_t> recipient_ports(const Relay& relay, const Outcome& out) {
  std::vector<std::uint16_t> ports;
  for (const std::uint32_t index : recipients_of(out))
    ports.push_back(relay.members()[index].peer.port);
  std::sort(ports.begin(), ports.end());
  return ports;
}

// A line as another shard or node hands it over, from 192.168.7.7:7777.
udpchat::core::NodeLine node_line(std::string room, std::uint64_t seq, std::string nick,
                                  std::string text) {
  udpchat::core::NodeLine line;
  line.room = std::move(room);
  line.seq = seq;
  line.ip = "192.168.7.7";
  line.port = 7777;
  line.nick = std::move(nick);
  line.text = std::move(text);
  return line;
}

}  // namespace

TEST_CASE("a client joins through the cookie handshake and is welcomed", "[core][relay]") {
  Relay relay(config(), t0);
  const std::string request = proto::encode_cookie_request();
  const Outcome cookie = relay.on_datagram(peer(5000), request, t0);
  CHECK(audience_of(cookie) == Audience::sender);
  CHECK(payload_of(cookie).starts_with("cookie "));
  CHECK(payload_of(cookie).size() <= request.size());
  CHECK(relay.members().empty());

  const Outcome welcome = join(relay, peer(5000), "alice", t0);
  CHECK(audience_of(welcome) == Audience::sender);
  CHECK(payload_of(welcome) == "welcome 10.0.0.1 5000 alice");
  CHECK(event_of(welcome) == Event::joined);
  REQUIRE(relay.members().size() == 1);
  CHECK(relay.members()[0].nick == "alice");
}

TEST_CASE("joining again keeps one membership and updates the nick", "[core][relay]") {
  Relay relay(config(), t0);
  join(relay, peer(5000), "alice", t0);
  const Outcome again = join(relay, peer(5000), "alicia", t0 + 1s);
  CHECK(event_of(again) == Event::none);
  CHECK(payload_of(again) == "welcome 10.0.0.1 5000 alicia");
  REQUIRE(relay.members().size() == 1);
  CHECK(relay.members()[0].nick == "alicia");
}

TEST_CASE("validated mode tells a stranger's heartbeat or chat line that it is not a member",
          "[core][relay]") {
  Relay relay(config(), t0);
  CHECK(audience_of(relay.on_datagram(peer(1), "reg", t0)) == Audience::nobody);
  const Outcome heartbeat = relay.on_datagram(peer(1), "^hb^", t0);
  CHECK(audience_of(heartbeat) == Audience::sender);
  CHECK(payload_of(heartbeat) == "reg?");
  CHECK(event_of(heartbeat) == Event::dropped);
  CHECK(payload_of(relay.on_datagram(peer(1), "hello", t0)) == "reg?");
  CHECK(audience_of(relay.on_datagram(peer(1), "quit", t0)) == Audience::nobody);
  // Never longer than what came in: a one-byte line gets nothing.
  CHECK(audience_of(relay.on_datagram(peer(1), "k", t0)) == Audience::nobody);
  CHECK(relay.members().empty());
  CHECK(drops(relay, DropReason::unpadded_reg) == 1);
  CHECK(drops(relay, DropReason::not_member) == 4);
}

TEST_CASE("not-member notices spend the source's cookie budget", "[core][relay]") {
  RelayConfig limited = config();
  limited.cookie_limit = {10, 20};
  Relay relay(limited, t0);
  int told = 0;
  for (int i = 0; i < 100; ++i) {
    if (audience_of(relay.on_datagram(peer(1), "^hb^", t0)) == Audience::sender) ++told;
  }
  CHECK(told == 20);
}

TEST_CASE("a forged cookie or one issued to another address does not join", "[core][relay]") {
  Relay relay(config(), t0);
  const Outcome cookie = relay.on_datagram(peer(1), proto::encode_cookie_request(), t0);
  const std::string token(std::get<proto::Cookie>(proto::decode_server(payload_of(cookie))).token);
  CHECK(audience_of(relay.on_datagram(peer(2), proto::encode_join(token, ""), t0)) ==
        Audience::nobody);
  CHECK(audience_of(relay.on_datagram(peer(1), "reg AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", t0)) ==
        Audience::nobody);
  CHECK(relay.members().empty());
  CHECK(drops(relay, DropReason::bad_cookie) == 2);
}

TEST_CASE("an expired cookie does not join", "[core][relay]") {
  Relay relay(config(), t0);
  const Outcome cookie = relay.on_datagram(peer(1), proto::encode_cookie_request(), t0);
  const std::string token(std::get<proto::Cookie>(proto::decode_server(payload_of(cookie))).token);
  relay.on_datagram(peer(1), proto::encode_join(token, ""), t0 + 31s);
  CHECK(relay.members().empty());
  CHECK(drops(relay, DropReason::bad_cookie) == 1);
}

TEST_CASE("a chat line is broadcast as an ack to every member, sender included", "[core][relay]") {
  Relay relay(config(), t0);
  join(relay, peer(1), "alice", t0);
  join(relay, peer(2), "", t0);
  join(relay, peer(3), "carol", t0);
  const Outcome line = relay.on_datagram(peer(2), "hello all\n", t0);
  CHECK(audience_of(line) == Audience::room);
  CHECK(payload_of(line) == "ack: 10.0.0.1 2\nhello all\n");
  CHECK(relay.members().size() == 3);
  CHECK(relay.stats().deliveries == 3);
  const Outcome named = relay.on_datagram(peer(1), "hi", t0);
  CHECK(payload_of(named) == "ack: 10.0.0.1 1 alice\nhi\n");
}

TEST_CASE("a malformed line from a member is dropped and counted, never relayed", "[core][relay]") {
  Relay relay(config(), t0);
  join(relay, peer(1), "", t0);
  CHECK(event_of(relay.on_datagram(peer(1), "a\nack: 1.1.1.1 1\nforged", t0)) == Event::dropped);
  CHECK(event_of(relay.on_datagram(peer(1), "bad \xFF", t0)) == Event::dropped);
  CHECK(event_of(relay.on_datagram(peer(1), std::string(1025, 'x'), t0)) == Event::dropped);
  CHECK(event_of(relay.on_datagram(peer(1), "   ", t0)) == Event::dropped);
  CHECK(relay.stats().lines == 0);
  CHECK(drops(relay, DropReason::control_character) == 1);
  CHECK(drops(relay, DropReason::invalid_utf8) == 1);
  CHECK(drops(relay, DropReason::too_long) == 1);
  CHECK(drops(relay, DropReason::empty) == 1);
}

TEST_CASE("a member silent past the heartbeat timeout expires with no traffic", "[core][relay]") {
  Relay relay(config(), t0);  // hb_timeout 10 s
  join(relay, peer(1), "", t0);
  join(relay, peer(2), "", t0);
  CHECK(relay.expire(t0 + 10s).empty());
  relay.on_datagram(peer(2), "^hb^", t0 + 9s);
  const auto expired = relay.expire(t0 + 10s + 1ms);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].peer == peer(1));
  REQUIRE(relay.members().size() == 1);
  CHECK(relay.members()[0].peer == peer(2));
  CHECK(relay.expire(t0 + 19s).empty());
  CHECK(relay.expire(t0 + 19s + 1ms).size() == 1);
  CHECK(relay.members().empty());
  CHECK(relay.stats().expiries == 2);
}

TEST_CASE("any datagram from a member refreshes it", "[core][relay]") {
  Relay relay(config(), t0);
  join(relay, peer(1), "", t0);
  relay.on_datagram(peer(1), "a chat line", t0 + 8s);
  relay.on_datagram(peer(1), "ping tok", t0 + 16s);
  CHECK(relay.expire(t0 + 25s).empty());
  CHECK(relay.expire(t0 + 26s + 1ms).size() == 1);
}

TEST_CASE("quit removes only the sender's own address", "[core][relay]") {
  Relay relay(config(), t0);
  join(relay, peer(1), "alice", t0);
  join(relay, peer(2), "bob", t0);
  relay.on_datagram(Peer::v4(10, 0, 0, 2, 1), "quit", t0);  // same port, other host
  CHECK(relay.members().size() == 2);
  const Outcome left = relay.on_datagram(peer(1), "quit", t0);
  CHECK(event_of(left) == Event::left);
  REQUIRE(member_of(left) != nullptr);
  CHECK(member_of(left)->nick == "alice");
  REQUIRE(relay.members().size() == 1);
  CHECK(relay.members()[0].nick == "bob");
  CHECK(relay.find(peer(2)) != nullptr);
  CHECK(relay.find(peer(1)) == nullptr);
}

TEST_CASE("the member index stays right through swap-removal", "[core][relay]") {
  Relay relay(config(), t0);
  for (std::uint16_t p = 1; p <= 50; ++p) join(relay, peer(p), "", t0);
  for (std::uint16_t p = 1; p <= 50; p += 3) relay.on_datagram(peer(p), "quit", t0);
  for (std::uint16_t p = 1; p <= 50; ++p) {
    const bool should_be_member = (p - 1) % 3 != 0;
    const auto* member = relay.find(peer(p));
    CHECK((member != nullptr) == should_be_member);
    if (member != nullptr) CHECK(member->peer == peer(p));
  }
}

TEST_CASE("a join beyond max-clients is dropped and counted", "[core][relay]") {
  Relay relay(config(false, 2), t0);
  join(relay, peer(1), "", t0);
  join(relay, peer(2), "", t0);
  const Outcome third = join(relay, peer(3), "", t0);
  CHECK(audience_of(third) == Audience::sender);  // the cookie proved the address: it is told
  CHECK(payload_of(third) == "full");
  CHECK(drop_of(third) == DropReason::server_full);
  CHECK(relay.members().size() == 2);
  relay.on_datagram(peer(1), "quit", t0);
  CHECK(event_of(join(relay, peer(3), "", t0)) == Event::joined);
}

TEST_CASE("a nick a member of the room holds is refused to another, never to its holder",
          "[core][relay]") {
  Relay relay(config(), t0);
  join(relay, peer(1), "alice", t0);
  const Outcome taken = join(relay, peer(2), "alice", t0);
  CHECK(audience_of(taken) == Audience::sender);
  CHECK(payload_of(taken) == "nick taken");
  CHECK(drops(relay, DropReason::nick_taken) == 1);
  CHECK(relay.find(peer(2)) == nullptr);
  // The holder joining again from its own address keeps it.
  CHECK(payload_of(join(relay, peer(1), "alice", t0 + 1s)) == "welcome 10.0.0.1 1 alice");
  // Unique per room: another room has its own alice; moving into hers is refused.
  CHECK(event_of(join(relay, peer(3), "alice", t0, "ops")) == Event::joined);
  CHECK(payload_of(join(relay, peer(1), "alice", t0, "ops")) == "nick taken");
  CHECK(relay.find(peer(1))->room_name() == "lobby");
  // A nick is free again once its holder leaves, renames or moves.
  relay.on_datagram(peer(3), "quit", t0);
  CHECK(event_of(join(relay, peer(1), "alice", t0, "ops")) == Event::moved);
  CHECK(event_of(join(relay, peer(2), "alice", t0)) == Event::joined);
  CHECK(payload_of(join(relay, peer(2), "alicia", t0)) == "welcome 10.0.0.1 2 alicia");
  CHECK(event_of(join(relay, peer(4), "alice", t0)) == Event::joined);
}

TEST_CASE("a chat line with a bidi override or a line separator is dropped", "[core][relay]") {
  Relay relay(config(), t0);
  join(relay, peer(1), "", t0);
  CHECK(event_of(relay.on_datagram(peer(1), "price \xE2\x80\xAE 0021", t0)) == Event::dropped);
  CHECK(event_of(relay.on_datagram(peer(1), "two\xE2\x80\xA8lines", t0)) == Event::dropped);
  CHECK(event_of(relay.on_datagram(peer(1), "isolate \xE2\x81\xA6x", t0)) == Event::dropped);
  CHECK(drops(relay, DropReason::format_character) == 3);
  // Joiners and marks that scripts need pass: a family emoji, Persian with a ZWNJ.
  CHECK(audience_of(relay.on_datagram(peer(1), "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9",
                                      t0)) == Audience::room);
  CHECK(audience_of(relay.on_datagram(
            peer(1), "\xD9\x85\xDB\x8C\xE2\x80\x8C\xD8\xB1\xD9\x88\xD9\x85", t0)) ==
        Audience::room);
}

TEST_CASE("legacy mode admits the original client's reg, heartbeat and chat", "[core][relay]") {
  Relay relay(config(true), t0);
  const Outcome reg = relay.on_datagram(peer(1), "reg\n", t0);
  CHECK(event_of(reg) == Event::joined);
  CHECK(audience_of(reg) == Audience::nobody);  // the original server did not answer reg
  CHECK(event_of(relay.on_datagram(peer(2), "^hb^", t0)) == Event::joined);
  const Outcome chat = relay.on_datagram(peer(3), "hello\n", t0);
  CHECK(event_of(chat) == Event::joined);
  CHECK(audience_of(chat) == Audience::room);
  CHECK(payload_of(chat) == "ack: 10.0.0.1 3\nhello\n");
  CHECK(relay.members().size() == 3);
  // A reg line whose cookie does not verify is chat, as the original server saw it.
  const Outcome line = relay.on_datagram(peer(1), "reg something", t0);
  CHECK(audience_of(line) == Audience::room);
  CHECK(payload_of(line) == "ack: 10.0.0.1 1\nreg something\n");
}

TEST_CASE("legacy mode still honours max-clients and the cookie handshake", "[core][relay]") {
  Relay relay(config(true, 1), t0);
  CHECK(payload_of(join(relay, peer(1), "alice", t0)) == "welcome 10.0.0.1 1 alice");
  CHECK(drop_of(relay.on_datagram(peer(2), "hello", t0)) == DropReason::server_full);
  CHECK(relay.members().size() == 1);
}

TEST_CASE("ping is answered to the sender only, member or not", "[core][relay]") {
  Relay relay(config(), t0);
  const Outcome pong = relay.on_datagram(peer(9), "ping abc123", t0);
  CHECK(audience_of(pong) == Audience::sender);
  CHECK(payload_of(pong) == "pong abc123");
  CHECK(relay.members().empty());
}

TEST_CASE("a stranger never gets more than one reply per datagram, nor a longer one",
          "[core][relay]") {
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  const std::vector<std::string> shapes = {proto::encode_cookie_request(),
                                           "reg",
                                           "^hb^",
                                           "quit",
                                           "ping a",
                                           "ping " + std::string(32, 'z'),
                                           "reg AAAA nick",
                                           "hello",
                                           std::string(64, ' ') + "reg",
                                           "reg" + std::string(200, ' ')};
  for (bool legacy : {false, true}) {
    Relay relay(config(legacy), t0);
    for (int i = 0; i < 5000; ++i) {
      std::string datagram = shapes[static_cast<std::size_t>(i) % shapes.size()];
      if (i % 3 == 0) {
        datagram.resize(static_cast<std::size_t>(byte(random)));
        for (auto& c : datagram) c = static_cast<char>(byte(random));
      }
      const Peer from = Peer::v4(192, 0, 2, static_cast<std::uint8_t>(i % 200), 7);
      const bool member_before = relay.find(from) != nullptr;
      const Outcome out = relay.on_datagram(from, datagram, t0 + std::chrono::milliseconds(i));
      if (!legacy && !member_before && audience_of(out) != Audience::nobody) {
        CHECK(audience_of(out) == Audience::sender);
        CHECK(payload_of(out).size() <= datagram.size());
      }
    }
    if (!legacy) CHECK(relay.members().empty());
  }
}

TEST_CASE("expiry matches a brute-force model through random joins, refreshes and leaves",
          "[core][relay]") {
  Relay relay(config(true), t0);  // legacy: any datagram joins, which keeps the driver simple
  std::map<std::uint16_t, TimePoint> model;
  std::mt19937 random(7);
  std::uniform_int_distribution<int> port(1, 300);
  std::uniform_int_distribution<int> action(0, 9);
  TimePoint now = t0;
  for (int step = 0; step < 20'000; ++step) {
    now += std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 20)(random));
    const auto p = static_cast<std::uint16_t>(port(random));
    const int what = action(random);
    if (what < 6) {
      relay.on_datagram(peer(p), "^hb^", now);
      model[p] = now;
    } else if (what < 8) {
      relay.on_datagram(peer(p), "quit", now);
      model.erase(p);
    } else {
      relay.expire(now);
      std::erase_if(model, [&](const auto& entry) { return now - entry.second > 10s; });
      REQUIRE(relay.members().size() == model.size());
      for (const auto& [member_port, seen] : model) {
        const auto* member = relay.find(peer(member_port));
        REQUIRE(member != nullptr);
        CHECK(member->last_seen == seen);
      }
    }
  }
}

TEST_CASE("datagrams beyond a source's budget are dropped and counted", "[core][relay]") {
  RelayConfig limited = config();
  limited.datagram_limit = {100, 50};
  limited.cookie_limit = {5, 5};
  Relay relay(limited, t0);
  int cookies = 0;
  for (int i = 0; i < 40; ++i) {
    cookies += audience_of(relay.on_datagram(peer(1), proto::encode_cookie_request(), t0)) ==
                       Audience::sender
                   ? 1
                   : 0;
  }
  CHECK(cookies == 5);
  CHECK(drops(relay, DropReason::cookie_rate_limited) == 35);
  for (int i = 0; i < 40; ++i) relay.on_datagram(peer(2), "ping x", t0);
  CHECK(drops(relay, DropReason::rate_limited) == 30);  // 50 in the burst, 40 + 40 asked
}

TEST_CASE("a member's budget is its own: a flood from its IP on other ports costs it nothing",
          "[core][relay]") {
  RelayConfig limited = config();
  limited.datagram_limit = {200, 400};
  limited.cookie_limit = {10, 20};
  Relay relay(limited, t0);
  // Join before the flood (the handshake spends the source's budget as a stranger's would).
  join(relay, Peer::v4(10, 0, 0, 7, 5000), "victim", t0);
  join(relay, peer(1), "watcher", t0);
  int delivered = 0;
  TimePoint now = t0;
  for (int ms = 0; ms < 20'000; ++ms) {
    now = t0 + std::chrono::milliseconds(ms);
    // 3000 datagrams a second forged from the victim's IP, one in four a padded reg.
    for (int k = 0; k < 3; ++k) {
      const auto port = static_cast<std::uint16_t>(6000 + (ms * 3 + k) % 1000);
      const auto forged = Peer::v4(10, 0, 0, 7, port);
      relay.on_datagram(forged, (ms + k) % 4 == 0 ? proto::encode_cookie_request() : "^hb^", now);
    }
    if (ms % 1000 == 500) {
      relay.on_datagram(Peer::v4(10, 0, 0, 7, 5000), "^hb^", now);
      relay.on_datagram(peer(1), "^hb^", now);
    }
    if (ms % 4000 == 0) {
      delivered += audience_of(relay.on_datagram(Peer::v4(10, 0, 0, 7, 5000), "still here", now)) ==
                   Audience::room;
    }
    relay.expire(now);
  }
  CHECK(delivered == 5);
  CHECK(relay.find(Peer::v4(10, 0, 0, 7, 5000)) != nullptr);
  CHECK(relay.stats().expiries == 0);
  CHECK(drops(relay, DropReason::rate_limited) > 50'000);  // the flood paid, from its own budget
}

TEST_CASE("a chat line that waited past max_queue_delay is dropped as stale; the rest is not",
          "[core][relay]") {
  Relay relay(config(), t0);  // max_queue_delay 100 ms by default
  join(relay, peer(1), "", t0);
  CHECK(audience_of(relay.on_datagram(peer(1), "fresh", t0, 99ms)) == Audience::room);
  const Outcome stale = relay.on_datagram(peer(1), "stale", t0 + 10s, 101ms);
  CHECK(audience_of(stale) == Audience::nobody);
  CHECK(drop_of(stale) == DropReason::stale);
  CHECK(drops(relay, DropReason::stale) == 1);
  // Heartbeats, pings and joins late by seconds are still handled, and keep the member alive.
  CHECK(payload_of(relay.on_datagram(peer(1), "ping tok", t0 + 10s, 3s)) == "pong tok");
  relay.on_datagram(peer(1), "^hb^", t0 + 19s, 3s);
  CHECK(relay.expire(t0 + 20s).empty());
  const Outcome cookie = relay.on_datagram(peer(2), proto::encode_cookie_request(), t0 + 20s, 3s);
  CHECK(audience_of(cookie) == Audience::sender);
  RelayConfig off = config();
  off.max_queue_delay = {};
  Relay patient(off, t0);
  join(patient, peer(1), "", t0);
  CHECK(audience_of(patient.on_datagram(peer(1), "late but wanted", t0, 30s)) == Audience::room);
}

TEST_CASE("a member admitted without a cookie receives at most its credit until it speaks",
          "[core][relay]") {
  RelayConfig legacy = config(true);
  legacy.legacy_credit = 1000;
  Relay relay(legacy, t0);
  relay.on_datagram(peer(1), "x", t0);  // a spoofed one-byte join: the victim is at port 1
  join(relay, peer(2), "talker", t0);
  std::size_t to_victim = 0;
  const std::string line(100, 'z');
  for (int i = 0; i < 50; ++i) {
    const Outcome out = relay.on_datagram(peer(2), line, t0 + std::chrono::milliseconds(i));
    for (const auto index : recipients_of(out)) {
      if (relay.members()[index].peer == peer(1)) to_victim += payload_of(out).size();
    }
  }
  CHECK(to_victim <= 1000);
  CHECK(to_victim > 1000 - 200);
  CHECK(relay.stats().credit_skipped > 0);
  // A heartbeat from the member renews it; a cookie join makes it a member like any other.
  relay.on_datagram(peer(1), "^hb^", t0 + 1s);
  CHECK(recipient_ports(relay, relay.on_datagram(peer(2), line, t0 + 1s)) ==
        std::vector<std::uint16_t>{1, 2});
  join(relay, peer(1), "", t0 + 2s);
  for (int i = 0; i < 50; ++i) relay.on_datagram(peer(2), line, t0 + 2s);
  CHECK(recipient_ports(relay, relay.on_datagram(peer(2), line, t0 + 2s)) ==
        std::vector<std::uint16_t>{1, 2});
}

TEST_CASE(
    "a legacy member's credit renews on a heartbeat or a line, never on an empty or "
    "malformed datagram",
    "[core][relay]") {
  RelayConfig legacy = config(true);
  legacy.legacy_credit = 1000;
  Relay relay(legacy, t0);
  relay.on_datagram(peer(1), "x", t0);  // a spoofed one-byte join: the victim is at port 1
  join(relay, peer(2), "talker", t0);
  const std::string line(100, 'z');
  auto reaches_victim = [&](TimePoint now) {
    const auto ports = recipient_ports(relay, relay.on_datagram(peer(2), line, now));
    return std::find(ports.begin(), ports.end(), 1) != ports.end();
  };
  for (int i = 0; i < 20; ++i) reaches_victim(t0);
  REQUIRE_FALSE(reaches_victim(t0));  // the credit is spent
  // 18 forged datagrams from the victim's address, each dropped: none renews the credit.
  const std::vector<std::string> forged{"\n", "\r\n", " ", std::string(2000, 'q')};
  for (int i = 0; i < 18; ++i) {
    const Outcome out =
        relay.on_datagram(peer(1), forged[static_cast<std::size_t>(i) % 4], t0 + 1s);
    CHECK(out.dropped.has_value());
    CHECK_FALSE(reaches_victim(t0 + 1s));
  }
  // Nor do they keep it alive: it expires on time, as if they had never come.
  const auto expired = relay.expire(t0 + legacy.hb_timeout + 1ms);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].peer == peer(1));
  // A heartbeat is proof of life: a new member's credit, then the same bound again.
  relay.on_datagram(peer(1), "^hb^", t0 + 40s);
  join(relay, peer(2), "talker", t0 + 40s);
  CHECK(reaches_victim(t0 + 40s));
}

TEST_CASE("a fan-out beyond --max-egress is dropped whole and counted", "[core][relay]") {
  RelayConfig limited = config();
  limited.max_egress = 100;  // bytes per second
  Relay relay(limited, t0);
  join(relay, peer(1), "", t0);
  join(relay, peer(2), "", t0);
  CHECK(audience_of(relay.on_datagram(peer(1), "short", t0)) == Audience::room);  // 2 x 23 bytes
  CHECK(audience_of(relay.on_datagram(peer(1), std::string(60, 'x'), t0)) == Audience::nobody);
  CHECK(drops(relay, DropReason::egress_limited) == 1);
  CHECK(audience_of(relay.on_datagram(peer(1), std::string(30, 'y'), t0 + 1s)) == Audience::room);
}

TEST_CASE("a chat line reaches the members of its sender's room only", "[core][relay][rooms]") {
  Relay relay(config(), t0);
  join(relay, peer(1), "a1", t0);
  join(relay, peer(2), "b1", t0, "lobby");
  join(relay, peer(3), "b3", t0, "ops");
  join(relay, peer(4), "b4", t0, "ops");
  const Outcome lobby_line = relay.on_datagram(peer(1), "to the lobby", t0);
  CHECK(audience_of(lobby_line) == Audience::room);
  CHECK(recipient_ports(relay, lobby_line) == std::vector<std::uint16_t>{1, 2});
  CHECK(payload_of(lobby_line) == "ack: 10.0.0.1 1 a1\nto the lobby\n");  // ack bytes unchanged
  const Outcome ops_line = relay.on_datagram(peer(4), "to ops", t0);
  CHECK(recipient_ports(relay, ops_line) == std::vector<std::uint16_t>{3, 4});
  CHECK(relay.stats().deliveries == 4);
  CHECK(relay.room_count() == 2);
}

TEST_CASE("welcome names the room only when the join named one", "[core][relay][rooms]") {
  Relay relay(config(), t0);
  CHECK(payload_of(join(relay, peer(1), "old", t0)) == "welcome 10.0.0.1 1 old");
  CHECK(payload_of(join(relay, peer(2), "new", t0, "lobby")) == "welcome 10.0.0.1 2 new lobby");
  CHECK(payload_of(join(relay, peer(3), "ops", t0, "ops")) == "welcome 10.0.0.1 3 ops ops");
  CHECK(relay.find(peer(1))->room_name() == "lobby");
}

TEST_CASE("legacy members are in the lobby", "[core][relay][rooms]") {
  Relay relay(config(true), t0);
  relay.on_datagram(peer(1), "reg", t0);
  join(relay, peer(2), "n", t0, "ops");
  join(relay, peer(3), "m", t0);
  CHECK(relay.find(peer(1))->room_name() == "lobby");
  CHECK(recipient_ports(relay, relay.on_datagram(peer(1), "hi", t0)) ==
        std::vector<std::uint16_t>{1, 3});
}

TEST_CASE("a new reg with another room moves the member", "[core][relay][rooms]") {
  Relay relay(config(), t0);
  join(relay, peer(1), "a", t0);
  join(relay, peer(2), "b", t0, "ops");
  const Outcome moved = join(relay, peer(1), "a", t0 + 1s, "ops");
  CHECK(event_of(moved) == Event::moved);
  CHECK(payload_of(moved) == "welcome 10.0.0.1 1 a ops");
  CHECK(relay.room_count() == 1);  // the empty lobby is gone
  CHECK(recipient_ports(relay, relay.on_datagram(peer(2), "x", t0 + 1s)) ==
        std::vector<std::uint16_t>{1, 2});
  // The same room again is no move.
  CHECK(event_of(join(relay, peer(1), "a", t0 + 2s, "ops")) == Event::none);
}

TEST_CASE("room changes report each room's first join and last leave in order",
          "[core][relay][rooms]") {
  RelayConfig c = config();
  c.report_room_changes = true;
  c.hb_timeout = 10s;
  Relay relay(c, t0);
  join(relay, peer(1), "a", t0, "ops");
  join(relay, peer(2), "b", t0, "ops");
  join(relay, peer(3), "c", t0);
  auto changes = relay.take_room_changes();
  REQUIRE(changes.size() == 2);
  CHECK((changes[0].room == "ops" && changes[0].opened));
  CHECK((changes[1].room == "lobby" && changes[1].opened));
  CHECK(relay.take_room_changes().empty());

  relay.on_datagram(peer(1), "quit", t0);
  CHECK(relay.take_room_changes().empty());  // b is still in ops
  relay.on_datagram(peer(3), "^hb^", t0 + 8s);
  relay.expire(t0 + 11s);  // b expires, c does not
  changes = relay.take_room_changes();
  REQUIRE(changes.size() == 1);
  CHECK((changes[0].room == "ops" && !changes[0].opened));
}

TEST_CASE("room changes are not recorded unless asked for", "[core][relay][rooms]") {
  Relay relay(config(), t0);
  join(relay, peer(1), "a", t0, "ops");
  CHECK(relay.take_room_changes().empty());
}

TEST_CASE("a line the node numbered elsewhere reaches this shard's room with the sender's bytes",
          "[core][relay][rooms]") {
  Relay relay(config(), t0);
  join(relay, peer(1), "local", t0);
  join(relay, peer(2), "other", t0, "ops");
  const Outcome out = relay.on_node_line(node_line("lobby", 7, "far", "from B"), t0);
  CHECK(audience_of(out) == Audience::room);
  CHECK(payload_of(out) == "ack: 192.168.7.7 7777 far\nfrom B\n");
  CHECK(recipient_ports(relay, out) == std::vector<std::uint16_t>{1});
  CHECK(!said_of(out));  // never handed on again
  // Numbered where it was said: this shard's window is the node's, and was not added to.
  CHECK(relay.history_bytes() == 0);
  CHECK(audience_of(relay.on_node_line(node_line("empty", 0, "", "x"), t0)) == Audience::nobody);
}

TEST_CASE("a local line names its sender, text and number for the node", "[core][relay][rooms]") {
  Relay relay(config(), t0);
  join(relay, peer(1), "a", t0, "ops");
  const Outcome out = relay.on_datagram(peer(1), "  publish me \n", t0);
  REQUIRE(said_of(out));
  REQUIRE(said_of(out)->sender != nullptr);
  CHECK(said_of(out)->sender->room_name() == "ops");
  CHECK(said_of(out)->text == "publish me");
  CHECK(said_of(out)->room_seq == 1);
}

TEST_CASE("room membership stays consistent through random joins, moves and leaves",
          "[core][relay][rooms]") {
  RelayConfig c = config();
  c.hb_timeout = 5s;
  Relay relay(c, t0);
  std::mt19937 random(7);
  TimePoint now = t0;
  const std::array<std::string_view, 4> rooms{"", "lobby", "ops", "dev"};
  for (int step = 0; step < 3000; ++step) {
    const auto who = peer(static_cast<std::uint16_t>(1 + random() % 40));
    switch (random() % 4) {
      case 0:
        join(relay, who, "n", now, rooms[random() % rooms.size()]);
        break;
      case 1:
        relay.on_datagram(who, "quit", now);
        break;
      case 2:
        relay.on_datagram(who, "line", now);
        break;
      case 3:
        now += 300ms;
        relay.expire(now);
        break;
    }
    std::size_t in_rooms = 0;
    for (std::size_t i = 0; i < relay.members().size(); ++i) {
      const auto& member = relay.members()[i];
      REQUIRE(member.room != nullptr);
      REQUIRE(member.room->members[member.room_slot] == i);
      if (member.room_slot == 0) in_rooms += member.room->members.size();
    }
    REQUIRE(in_rooms == relay.members().size());
    REQUIRE(relay.room_count() <= relay.members().size());
  }
}

namespace {

// The repair handshake: an extended cookie request, a join with the next line number. Version
// 1 (+r1) unless told: what a client from before +r2 sends.
Outcome join_repair(Relay& relay, const Peer& who, std::string_view nick, TimePoint now,
                    std::uint64_t next = 1, std::string_view room = {}, std::uint8_t version = 1) {
  const Outcome cookie =
      relay.on_datagram(who, proto::encode_extended_cookie_request(version), now);
  const auto decoded = proto::decode_server(payload_of(cookie));
  REQUIRE(std::holds_alternative<proto::Cookie>(decoded));
  REQUIRE(std::get<proto::Cookie>(decoded).repair == version);
  const std::string token(std::get<proto::Cookie>(decoded).token);
  return relay.on_datagram(who, proto::encode_join(token, nick, room, next, version), now);
}

}  // namespace

TEST_CASE("+r1 is offered only to a client that asks with the longer request",
          "[core][relay][repair]") {
  Relay relay(config(), t0);
  const Outcome plain = relay.on_datagram(peer(1), proto::encode_cookie_request(), t0);
  CHECK_FALSE(std::get<proto::Cookie>(proto::decode_server(payload_of(plain))).repair);
  const std::string extended = proto::encode_extended_cookie_request(1);
  const Outcome offered = relay.on_datagram(peer(1), extended, t0);
  CHECK(std::get<proto::Cookie>(proto::decode_server(payload_of(offered))).repair == 1);
  CHECK(payload_of(offered).size() <= extended.size());
  CHECK(payload_of(offered).ends_with(" +r1"));  // what a client from before +r2 reads
  const std::string timed = proto::encode_extended_cookie_request(2);
  const Outcome offered_timed = relay.on_datagram(peer(1), timed, t0);
  CHECK(std::get<proto::Cookie>(proto::decode_server(payload_of(offered_timed))).repair == 2);
  CHECK(payload_of(offered_timed).size() <= extended.size());
  RelayConfig no_history = config();
  no_history.history_lines = 0;
  Relay bare(no_history, t0);
  const Outcome not_offered = bare.on_datagram(peer(1), extended, t0);
  CHECK_FALSE(std::get<proto::Cookie>(proto::decode_server(payload_of(not_offered))).repair);
}

TEST_CASE("a +r1 member gets numbered acks while a plain member gets the original bytes",
          "[core][relay][repair]") {
  Relay relay(config(), t0);
  const Outcome welcome = join_repair(relay, peer(1), "modern", t0);
  const auto w = std::get<proto::Welcome>(proto::decode_server(payload_of(welcome)));
  CHECK(w.repair);
  CHECK(w.head == 0);
  join(relay, peer(2), "classic", t0);
  const Outcome line = relay.on_datagram(peer(1), "#1 hello", t0);
  CHECK(audience_of(line) == Audience::room);
  CHECK(payload_of(line) == "ack: 10.0.0.1 1 modern\nhello\n");  // byte for byte as ever
  CHECK(recipient_ports(relay, line) == std::vector<std::uint16_t>{2});
  CHECK(numbered_payload_of(line) == "ack 1 1 10.0.0.1 1 modern\nhello\n");
  REQUIRE(numbered_recipients_of(line).size() == 1);
  CHECK(relay.members()[numbered_recipients_of(line)[0]].peer == peer(1));
  // The plain member's line is numbered for the +r1 member too, with no sender number.
  const Outcome reply = relay.on_datagram(peer(2), "hi", t0);
  CHECK(numbered_payload_of(reply) == "ack 2 0 10.0.0.1 2 classic\nhi\n");
  // A +r1 member's heartbeat learns the room's latest line.
  CHECK(payload_of(relay.on_datagram(peer(1), "^hb^", t0)) == "head 2");
}

TEST_CASE("a resent number is answered got and one ahead answered want; neither is relayed",
          "[core][relay][repair]") {
  Relay relay(config(), t0);
  join_repair(relay, peer(1), "a", t0, 5);
  CHECK(audience_of(relay.on_datagram(peer(1), "#5 first", t0)) == Audience::room);
  const Outcome again = relay.on_datagram(peer(1), "#5 first", t0);
  CHECK(audience_of(again) == Audience::sender);
  CHECK(payload_of(again) == "got 5 1");
  const Outcome ahead = relay.on_datagram(peer(1), "#8 later", t0);
  CHECK(payload_of(ahead) == "want 6");
  CHECK(audience_of(relay.on_datagram(peer(1), "#6", t0)) == Audience::nobody);  // withdrawn
  CHECK(audience_of(relay.on_datagram(peer(1), "#7 next", t0)) == Audience::room);
  CHECK(drop_of(relay.on_datagram(peer(1), "unnumbered", t0)) == DropReason::unnumbered);
  CHECK(relay.stats().lines == 2);
  // Joining again does not forget what was relayed: no second copy after a rejoin.
  join_repair(relay, peer(1), "a", t0, 5);
  CHECK(payload_of(relay.on_datagram(peer(1), "#5 first", t0)) == "got 5 1");
}

namespace {

// Every line the relay released after a datagram, as its shell sends them.
std::vector<std::string> released_texts(Relay& relay, TimePoint now) {
  std::vector<std::string> texts;
  while (const auto out = relay.next_released(now)) {
    const auto ack = proto::decode_server(to_room(*out).numbered.payload);
    if (const auto* line = std::get_if<proto::Ack>(&ack)) texts.emplace_back(line->text);
  }
  return texts;
}

}  // namespace

TEST_CASE(
    "lines behind a lost one are held and relayed in their order once it comes, not "
    "dropped as out of sequence",
    "[core][relay][repair]") {
  Relay relay(config(), t0);
  join_repair(relay, peer(1), "a", t0);
  join_repair(relay, peer(2), "b", t0);
  CHECK(audience_of(relay.on_datagram(peer(1), "#1 one", t0)) == Audience::room);
  // #2 is lost on the way: #3 and #4 wait, and the gap is asked for once.
  const Outcome three = relay.on_datagram(peer(1), "#3 three", t0);
  CHECK(payload_of(three) == "want 2");
  CHECK_FALSE(three.dropped);
  CHECK(audience_of(relay.on_datagram(peer(1), "#4 four", t0)) == Audience::nobody);
  CHECK(released_texts(relay, t0).empty());
  // Sent again while held: not relayed twice.
  CHECK(drop_of(relay.on_datagram(peer(1), "#3 three", t0)) == DropReason::resent);
  CHECK(audience_of(relay.on_datagram(peer(1), "#2 two", t0 + 5ms)) == Audience::room);
  CHECK(released_texts(relay, t0 + 5ms) == std::vector<std::string>{"three", "four"});
  CHECK(relay.stats().lines == 4);
  CHECK(relay.stats().held == 2);
  CHECK(drops(relay, DropReason::out_of_sequence) == 0);
  CHECK(payload_of(relay.on_datagram(peer(1), "#4 four", t0 + 6ms)) == "got 4 4");
  // Beyond the span a relay holds, a line is dropped as before.
  const Outcome far =
      relay.on_datagram(peer(1), "#" + std::to_string(6 + proto::kReorderLines) + " far", t0 + 7ms);
  CHECK(drop_of(far) == DropReason::out_of_sequence);
  CHECK(payload_of(far) == "want 5");
}

TEST_CASE(
    "a line shed as stale is asked for at once, and a held line its sender gives up is "
    "never relayed",
    "[core][relay][repair]") {
  Relay relay(config(), t0);
  join_repair(relay, peer(1), "a", t0);
  join_repair(relay, peer(2), "b", t0);
  const Outcome stale = relay.on_datagram(peer(1), "#1 late", t0, 500ms);
  CHECK(drop_of(stale) == DropReason::stale);
  CHECK(payload_of(stale) == "want 1");
  // The fresh lines after it wait for it instead of being thrown away.
  CHECK(payload_of(relay.on_datagram(peer(1), "#2 fresh", t0)).empty());
  CHECK(audience_of(relay.on_datagram(peer(1), "#3 given up", t0)) == Audience::nobody);
  CHECK(audience_of(relay.on_datagram(peer(1), "#3", t0)) == Audience::nobody);  // withdrawn
  CHECK(audience_of(relay.on_datagram(peer(1), "#1 late", t0 + 1ms)) == Audience::room);
  CHECK(released_texts(relay, t0 + 1ms) == std::vector<std::string>{"fresh"});
  CHECK(audience_of(relay.on_datagram(peer(1), "#4 after", t0 + 2ms)) == Audience::room);
  CHECK(relay.stats().lines == 3);
}

TEST_CASE("a NACK is answered from the window to the member alone, within its budget",
          "[core][relay][repair]") {
  RelayConfig small = config();
  small.history_lines = 4;
  small.datagram_limit = {1, 3};  // a budget small enough to see
  Relay relay(small, t0);
  const Peer other = Peer::v4(10, 0, 0, 2, 2);  // its own source budget for the handshake
  join_repair(relay, peer(1), "a", t0);
  join_repair(relay, other, "b", t0);
  for (int i = 1; i <= 6; ++i)
    relay.on_datagram(peer(1), "#" + std::to_string(i) + " l" + std::to_string(i),
                      t0 + std::chrono::seconds(i));
  const TimePoint later = t0 + 100s;
  // Lines 1 and 2 left the window of 4; 3 to 6 are there. The budget holds 3: the NACK takes
  // one, the answers the others.
  const Outcome repair = relay.on_datagram(other, "nack 1 6", later);
  CHECK(audience_of(repair) == Audience::sender);
  REQUIRE(replies_of(repair).size() == 2);
  CHECK(replies_of(repair)[0] == "missed 1 2");
  CHECK(replies_of(repair)[1] == "ack 3 3 10.0.0.1 1 a\nl3\n");
  CHECK(relay.stats().missed == 2);
  // The budget refills: the rest comes on the next requests, only to the member that asked.
  const Outcome more = relay.on_datagram(other, "nack 4 6", later + 3s);
  REQUIRE(replies_of(more).size() == 2);
  CHECK(replies_of(more)[1] == "ack 5 5 10.0.0.1 1 a\nl5\n");
}

TEST_CASE("a NACK from a non-member gets no more bytes than it sent", "[core][relay][repair]") {
  Relay relay(config(), t0);
  join_repair(relay, peer(1), "a", t0);
  for (int i = 1; i <= 50; ++i)
    relay.on_datagram(peer(1), "#" + std::to_string(i) + " " + std::string(500, 'x'), t0);
  const std::string nack = "nack 1 50";
  const Outcome out = relay.on_datagram(peer(9), nack, t0);
  CHECK(replies_of(out).size() <= 1);  // reg? at most, never the window
  CHECK(payload_of(out).size() <= nack.size());
  // From a plain member it is a chat line, as it always was.
  join(relay, peer(3), "plain", t0);
  CHECK(audience_of(relay.on_datagram(peer(3), nack, t0)) == Audience::room);
}

TEST_CASE("windows are bounded per room and in total: 1000 full rooms stay within the bound",
          "[core][relay][repair]") {
  RelayConfig bounded = config();
  bounded.history_lines = 1024;
  bounded.history_room_bytes = 256 * 1024;
  bounded.history_total_bytes = 16 << 20;
  Relay relay(bounded, t0);
  const std::string text(900, 'w');
  for (int room = 0; room < 1000; ++room) {
    const Peer who = Peer::v4(10, 1, static_cast<std::uint8_t>(room / 250),
                              static_cast<std::uint8_t>(room % 250), 7);
    join_repair(relay, who, "m", t0, 1, "r" + std::to_string(room));
    for (int i = 1; i <= 300; ++i) relay.on_datagram(who, "#" + std::to_string(i) + " " + text, t0);
    CHECK(relay.history_bytes() <= bounded.history_total_bytes);
  }
  CHECK(relay.room_count() == 1000);
  CHECK(relay.history_bytes() > bounded.history_total_bytes - 2 * (text.size() + 200));
}

TEST_CASE("lines lost between nodes become a gap line that +r1 members are told in order",
          "[core][relay][repair]") {
  RelayConfig node = config();
  node.share = std::make_shared<udpchat::core::NodeShare>(node, t0);
  Relay relay(node, t0);
  join_repair(relay, peer(1), "modern", t0);
  join(relay, peer(2), "classic", t0);
  relay.on_datagram(peer(1), "#1 first", t0);
  // The node numbers the gap in the room (as it does for the engine's lines), then hands it on.
  std::string scratch;
  const auto seq = node.share->history().append_gap("lobby", 12, scratch);
  REQUIRE(seq == 2);
  udpchat::core::NodeLine lost = node_line("lobby", *seq, "", "");
  lost.missed = 12;
  const Outcome gap = relay.on_node_line(lost, t0);
  CHECK(audience_of(gap) == Audience::room);
  CHECK(recipients_of(gap).empty());  // a plain member cannot be told
  CHECK(numbered_payload_of(gap) == "gap 2 12");
  // It sits in the window like any line: a member that lost it gets it again.
  const Outcome repaired = relay.on_datagram(peer(1), "nack 2 2", t0);
  REQUIRE(replies_of(repaired).size() == 1);
  CHECK(replies_of(repaired)[0] == "gap 2 12");
}

TEST_CASE("shards number a room as one: a late joiner on either shard gets the same history",
          "[core][relay][shards][history]") {
  RelayConfig shared = config();
  shared.share = std::make_shared<udpchat::core::NodeShare>(shared, t0);
  Relay a(shared, t0);
  Relay b(shared, t0);
  const Outcome first = join_repair(a, peer(1), "alice", t0, 1, "ops", 2);
  const auto stream = std::get<proto::Welcome>(proto::decode_server(payload_of(first))).stream;
  join_repair(b, peer(2), "bob", t0, 1, "ops", 2);
  // Alice on shard a, bob on shard b, in turn: one numbering.
  CHECK(said_of(a.on_datagram(peer(1), "#1 one", t0))->room_seq == 1);
  CHECK(said_of(b.on_datagram(peer(2), "#1 two", t0))->room_seq == 2);
  CHECK(said_of(a.on_datagram(peer(1), "#2 three", t0))->room_seq == 3);
  for (Relay* shard : {&a, &b}) {
    const std::uint16_t port = shard == &a ? 3 : 4;
    const Outcome late = join_repair(*shard, peer(port), "late", t0, 1, "ops", 2);
    const auto welcome = std::get<proto::Welcome>(proto::decode_server(payload_of(late)));
    CHECK(welcome.head == 3);
    CHECK(welcome.stream == stream);
    const Outcome history = shard->on_datagram(peer(port), "nack 1 3", t0);
    REQUIRE(replies_of(history).size() == 3);
    CHECK(replies_of(history)[1].find("two") != std::string_view::npos);
    shard->on_datagram(peer(port), "quit", t0);
  }
  // The room lives while either shard has members: alice leaving a keeps it for bob on b.
  a.on_datagram(peer(1), "quit", t0 + 1s);
  CHECK(a.kept_rooms() == 0);
  CHECK(said_of(b.on_datagram(peer(2), "#2 four", t0 + 1s))->room_seq == 4);
  b.on_datagram(peer(2), "quit", t0 + 2s);
  CHECK(a.kept_rooms() == 1);  // the node's, seen from any shard
}

TEST_CASE("the total bound holds for the node, whichever shards the lines come through",
          "[core][relay][shards][history]") {
  RelayConfig bounded = config();
  bounded.history_total_bytes = 64 * 1024;
  bounded.share = std::make_shared<udpchat::core::NodeShare>(bounded, t0);
  Relay a(bounded, t0);
  Relay b(bounded, t0);
  const std::string text(900, 'w');
  for (std::uint16_t room = 0; room < 20; ++room) {
    Relay& shard = room % 2 == 0 ? a : b;
    join_repair(shard, peer(room + 1), "m", t0, 1, "r" + std::to_string(room));
    for (int i = 1; i <= 20; ++i) {
      shard.on_datagram(peer(room + 1), "#" + std::to_string(i) + " " + text, t0);
      CHECK(a.history_bytes() <= bounded.history_total_bytes);
    }
  }
  CHECK(b.history_bytes() > bounded.history_total_bytes - 2 * (text.size() + 200));
}

TEST_CASE("shards sharing a node are one relay: cookies, seats, nicks and budgets are node-wide",
          "[core][relay][shards]") {
  RelayConfig shared = config(false, 3);
  shared.datagram_limit = {100, 30};
  shared.share = std::make_shared<udpchat::core::NodeShare>(shared, t0);
  Relay a(shared, t0);
  Relay b(shared, t0);
  // A cookie issued by one shard joins on the other (the kernel may hash a client's datagrams
  // to another socket after a rebind, or a test may send from two).
  const Outcome cookie = a.on_datagram(peer(1), proto::encode_cookie_request(), t0);
  const std::string token(std::get<proto::Cookie>(proto::decode_server(payload_of(cookie))).token);
  CHECK(event_of(b.on_datagram(peer(1), proto::encode_join(token, "alice"), t0)) == Event::joined);
  // Seats are counted over the node, nicks held over the node.
  CHECK(event_of(join(a, peer(2), "bob", t0)) == Event::joined);
  CHECK(payload_of(join(a, peer(3), "alice", t0)) == "nick taken");
  CHECK(event_of(join(a, peer(3), "carol", t0)) == Event::joined);
  CHECK(payload_of(join(b, peer(4), "dave", t0)) == "full");
  CHECK(shared.share->members() == 3);
  b.on_datagram(peer(1), "quit", t0);
  CHECK(shared.share->members() == 2);
  CHECK(event_of(join(a, peer(4), "alice", t0)) == Event::joined);  // free again, on any shard
  // A stranger's budget is the node's, not one per shard.
  int allowed = 0;
  for (int i = 0; i < 40; ++i) {
    Relay& shard = i % 2 == 0 ? a : b;
    allowed += drop_of(shard.on_datagram(Peer::v4(192, 0, 2, 1, 9), "^hb^", t0 + 1s)) !=
               DropReason::rate_limited;
  }
  CHECK(allowed == 30);
}

TEST_CASE("shards' figures add up to the node's, every counter and every drop reason", "[relay]") {
  // Every field a distinct value (RelayStats is all uint64, no padding): a counter left out of
  // the sum would show.
  using Fields = std::array<std::uint64_t, sizeof(RelayStats) / sizeof(std::uint64_t)>;
  Fields first{};
  Fields second{};
  for (std::size_t i = 0; i < first.size(); ++i) {
    first[i] = i + 1;
    second[i] = 1000 * (i + 1);
  }
  auto sum = std::bit_cast<RelayStats>(first);
  sum += std::bit_cast<RelayStats>(second);
  const auto fields = std::bit_cast<Fields>(sum);
  for (std::size_t i = 0; i < fields.size(); ++i) CHECK(fields[i] == 1001 * (i + 1));
}

TEST_CASE("a +r2 member's lines sent again from the window say when the relay received them",
          "[core][relay][repair]") {
  RelayConfig timed_config = config();
  // t0 + 5 s on the relay's clock is 2026-11-27T00:00:00Z on the wall.
  timed_config.wall_offset =
      std::chrono::milliseconds(1'764'201'600'000) -
      std::chrono::duration_cast<std::chrono::milliseconds>((t0 + 5s).time_since_epoch());
  Relay relay(timed_config, t0);
  join_repair(relay, peer(1), "a", t0, 1, {}, 2);
  join_repair(relay, peer(2), "old", t0, 1, {}, 1);
  // Received at t0 + 5 s, handled 40 ms later: the time said is the receipt.
  const Outcome live = relay.on_datagram(peer(1), "#1 posted", t0 + 5040ms, 40ms);
  CHECK(numbered_payload_of(live) == "ack 1 1 10.0.0.1 1 a\nposted\n");  // live lines are as ever
  const Outcome timed = relay.on_datagram(peer(1), "nack 1 1", t0 + 60s);
  REQUIRE(replies_of(timed).size() == 1);
  CHECK(replies_of(timed)[0] == "at 1764201600000 ack 1 1 10.0.0.1 1 a\nposted\n");
  const auto decoded = proto::decode_server(replies_of(timed)[0]);
  REQUIRE(std::holds_alternative<proto::Ack>(decoded));
  CHECK(std::get<proto::Ack>(decoded).said_ms == 1'764'201'600'000);
  CHECK(std::get<proto::Ack>(decoded).text == "posted");
  // A +r1 member gets the window's bytes unchanged.
  const Outcome plain = relay.on_datagram(peer(2), "nack 1 1", t0 + 60s);
  REQUIRE(replies_of(plain).size() == 1);
  CHECK(replies_of(plain)[0] == "ack 1 1 10.0.0.1 1 a\nposted\n");
}

TEST_CASE("a room keeps its window and numbering for the TTL after its last member leaves",
          "[core][relay][history]") {
  RelayConfig kept = config();
  kept.history_ttl = 60s;
  Relay relay(kept, t0);
  const Outcome first = join_repair(relay, peer(1), "ci", t0, 1, "ops", 2);
  const auto stream = std::get<proto::Welcome>(proto::decode_server(payload_of(first))).stream;
  for (int i = 1; i <= 3; ++i) relay.on_datagram(peer(1), "#" + std::to_string(i) + " post", t0);
  relay.on_datagram(peer(1), "quit", t0 + 1s);
  CHECK(relay.room_count() == 0);
  CHECK(relay.kept_rooms() == 1);
  relay.expire(t0 + 50s);
  // A reader 50 s later finds the room where it was: same numbering, head 3, the lines there.
  const Outcome reader = join_repair(relay, peer(2), "reader", t0 + 50s, 1, "ops", 2);
  const auto welcome = std::get<proto::Welcome>(proto::decode_server(payload_of(reader)));
  CHECK(welcome.head == 3);
  CHECK(welcome.stream == stream);
  CHECK(relay.kept_rooms() == 0);
  CHECK(replies_of(relay.on_datagram(peer(2), "nack 1 3", t0 + 50s)).size() == 3);
  // Left again, and not joined within the TTL: forgotten.
  relay.on_datagram(peer(2), "quit", t0 + 51s);
  relay.expire(t0 + 110s);
  CHECK(relay.kept_rooms() == 1);
  relay.expire(t0 + 112s);
  CHECK(relay.kept_rooms() == 0);
  CHECK(relay.history_bytes() == 0);
  const Outcome late = join_repair(relay, peer(3), "late", t0 + 113s, 1, "ops", 2);
  CHECK(std::get<proto::Welcome>(proto::decode_server(payload_of(late))).head == 0);
}

TEST_CASE(
    "over the total, the room holding the most gives up its oldest line, among equals the "
    "one idle longest",
    "[core][relay][history]") {
  RelayConfig small = config();
  small.history_total_bytes = 2500;  // two lines of 900 bytes fit, three do not
  Relay relay(small, t0);
  // Two rooms posted to and left, oldest first; a live room then writes past the total.
  for (std::uint16_t port = 1; port <= 2; ++port) {
    join_repair(relay, peer(port), "ci", t0, 1, "room" + std::to_string(port), 2);
    relay.on_datagram(peer(port), "#1 " + std::string(900, 'x'), t0);
    relay.on_datagram(peer(port), "quit", t0 + std::chrono::seconds(port));
  }
  CHECK(relay.kept_rooms() == 2);
  join_repair(relay, peer(3), "ci", t0 + 5s, 1, "live", 2);  // lines of the same size
  relay.on_datagram(peer(3), "#1 " + std::string(900, 'y'), t0 + 5s);
  CHECK(relay.kept_rooms() == 1);  // three equal rooms: room1, idle longest, gave its line up
  // The live room now holds the most: it gives up its own oldest, not room2's only line.
  relay.on_datagram(peer(3), "#2 " + std::string(900, 'y'), t0 + 5s);
  CHECK(relay.kept_rooms() == 1);
  const Outcome nack = relay.on_datagram(peer(3), "nack 1 2", t0 + 6s);
  REQUIRE(replies_of(nack).size() == 2);
  CHECK(replies_of(nack)[0] == "missed 1 1");  // its own first line went
  CHECK(relay.history_bytes() <= small.history_total_bytes);
  const Outcome late = join_repair(relay, peer(4), "late", t0 + 7s, 1, "room2", 2);
  CHECK(std::get<proto::Welcome>(proto::decode_server(payload_of(late))).head == 1);
  CHECK(replies_of(relay.on_datagram(peer(4), "nack 1 1", t0 + 7s)).size() == 1);
}

TEST_CASE("five rooms squatting the history bound leave a small room all its lines",
          "[core][relay][history]") {
  RelayConfig bounded = config();
  bounded.history_total_bytes = 1 << 20;
  Relay relay(bounded, t0);
  const std::string line(1024, 'v');
  join_repair(relay, peer(1), "victim", t0, 1, "victim", 2);
  for (int i = 1; i <= 10; ++i) relay.on_datagram(peer(1), "#" + std::to_string(i) + " small", t0);
  relay.on_datagram(peer(1), "quit", t0 + 1s);  // posted and left: kept for its history
  for (std::uint16_t squatter = 2; squatter <= 6; ++squatter) {
    join_repair(relay, peer(squatter), "s", t0 + 2s, 1, "squat" + std::to_string(squatter), 2);
    for (int i = 1; i <= 240; ++i) {
      relay.on_datagram(peer(squatter), "#" + std::to_string(i) + " " + line, t0 + 2s);
    }
  }
  CHECK(relay.history_bytes() <= bounded.history_total_bytes);
  join_repair(relay, peer(9), "late", t0 + 3s, 1, "victim", 2);
  const Outcome history = relay.on_datagram(peer(9), "nack 1 10", t0 + 3s);
  CHECK(replies_of(history).size() == 10);
}
