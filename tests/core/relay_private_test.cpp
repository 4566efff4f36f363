// The relay's gate to private rooms (core/room_gate.hpp): joins that prove a room key, the
// verifier the room keeps while it lives, the operator's pins, and refusals that tell nothing.
// Datagrams in and out by hand, time stepped by hand.
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "core/relay.hpp"
#include "core/room_gate.hpp"
#include "protocol/message.hpp"
#include "protocol/room_key.hpp"
#include "support/catch.hpp"
#include "support/core_fixture.hpp"

using namespace std::chrono_literals;
namespace proto = udpchat::protocol;
namespace room_key = udpchat::protocol::room_key;
using udpchat::core::Admission;
using udpchat::core::DropReason;
using udpchat::core::Outcome;
using udpchat::core::Peer;
using udpchat::core::Relay;
using udpchat::core::RelayConfig;
using udpchat::core::RoomPin;
using udpchat::core::RoomPins;
using udpchat::core::TimePoint;
using udpchat::core::ToRoom;
using udpchat::core::ToSender;

namespace {

using udpchat::test::dotted;
using udpchat::test::drops;
using udpchat::test::peer;
using udpchat::test::t0;

RelayConfig private_config(std::shared_ptr<const RoomPins> rooms = nullptr, bool legacy = false) {
  RelayConfig c;
  c.format_ip = &dotted;
  c.datagram_limit = {0, 0};
  c.cookie_limit = {0, 0};
  c.rooms = std::move(rooms);
  c.legacy = legacy;
  return c;
}

std::string answer(const Outcome& out) {
  const auto* to = std::get_if<ToSender>(&out.sends);
  return to == nullptr || to->datagrams.empty() ? std::string{} : std::string(to->datagrams[0]);
}

// A join as a client makes it: a cookie, then reg with the proof of `keys` when given.
Outcome join(Relay& relay, std::uint16_t port, std::string_view nick, std::string_view room,
             const room_key::RoomKeys* keys, TimePoint now = t0) {
  const std::string cookie_line =
      answer(relay.on_datagram(peer(port), proto::encode_cookie_request(), now));
  const auto cookie = proto::decode_server(cookie_line);
  REQUIRE(std::holds_alternative<proto::Cookie>(cookie));
  const std::string token(std::get<proto::Cookie>(cookie).token);
  const std::string proof =
      keys != nullptr ? room_key::join_proof(*keys, room, token, nick) : std::string{};
  return relay.on_datagram(
      peer(port), proto::encode_join(token, nick, room, std::nullopt, proto::kRepairVersion, proof),
      now);
}

room_key::RoomKeys keys_for(std::string_view room) {
  return room_key::RoomKey::generate().for_room(room);
}

}  // namespace

TEST_CASE("the first member's proof makes a room private to its key", "[core][relay][private]") {
  Relay relay(private_config(), t0);
  const auto ops = keys_for("ops");
  CHECK(answer(join(relay, 1, "alice", "ops", &ops)).starts_with("welcome"));
  CHECK(answer(join(relay, 2, "bob", "ops", &ops)).starts_with("welcome"));
  CHECK(answer(join(relay, 3, "eve", "ops", nullptr)) == "private");
  const auto other = keys_for("ops");
  CHECK(answer(join(relay, 4, "dave", "ops", &other)) == "private");
  CHECK(relay.members().size() == 2);
  CHECK(drops(relay, DropReason::room_private) == 2);
  // A refused join cannot learn whether a nick is held: the same answer for alice's nick.
  CHECK(answer(join(relay, 5, "alice", "ops", nullptr)) == "private");
  // Nor does a refused stranger get the room's lines.
  const Outcome line = relay.on_datagram(peer(1), "~1 sealed text", t0);
  const auto* to_room = std::get_if<ToRoom>(&line.sends);
  REQUIRE(to_room != nullptr);
  for (const auto index : to_room->plain.recipients) {
    CHECK(relay.members()[index].peer.port <= 2);
  }
}

TEST_CASE("a proof made for another room, cookie or nick does not verify",
          "[core][relay][private]") {
  Relay relay(private_config(), t0);
  const auto ops = keys_for("ops");
  const std::string cookie_line =
      answer(relay.on_datagram(peer(1), proto::encode_cookie_request(), t0));
  const auto cookie = proto::decode_server(cookie_line);
  const std::string token(std::get<proto::Cookie>(cookie).token);
  for (const std::string& proof : {room_key::join_proof(ops, "dev", token, "alice"),
                                   room_key::join_proof(ops, "ops", token, "mallory"),
                                   room_key::join_proof(ops, "ops", "another-cookie", "alice")}) {
    const Outcome out = relay.on_datagram(
        peer(1),
        proto::encode_join(token, "alice", "ops", std::nullopt, proto::kRepairVersion, proof), t0);
    CHECK(answer(out) == "private");
    CHECK(out.dropped == DropReason::bad_proof);
  }
  CHECK(relay.members().empty());
}

TEST_CASE("a key's holder stays out of a room others share openly", "[core][relay][private]") {
  Relay relay(private_config(), t0);
  CHECK(answer(join(relay, 1, "olga", "ops", nullptr)).starts_with("welcome"));
  const auto ops = keys_for("ops");
  const Outcome out = join(relay, 2, "hank", "ops", &ops);
  CHECK(answer(out) == "open room");
  CHECK(out.dropped == DropReason::room_open);
  // Once the open members are gone (and the room kept nothing), the holder's proof decides.
  relay.on_datagram(peer(1), "quit", t0);
  CHECK(answer(join(relay, 2, "hank", "ops", &ops)).starts_with("welcome"));
}

TEST_CASE("a private room kept for its history stays private after its last member leaves",
          "[core][relay][private]") {
  Relay relay(private_config(), t0);
  const auto ops = keys_for("ops");
  REQUIRE(answer(join(relay, 1, "alice", "ops", &ops)).starts_with("welcome"));
  relay.on_datagram(peer(1), "~1 a sealed line for the window", t0);
  relay.on_datagram(peer(1), "quit", t0 + 1s);
  REQUIRE(relay.members().empty());
  CHECK(answer(join(relay, 2, "eve", "ops", nullptr, t0 + 2s)) == "private");
  CHECK(answer(join(relay, 3, "late", "ops", &ops, t0 + 3s)).starts_with("welcome"));
}

TEST_CASE("a member moving into a private room needs its proof, and leaving one needs none",
          "[core][relay][private]") {
  Relay relay(private_config(), t0);
  const auto ops = keys_for("ops");
  REQUIRE(answer(join(relay, 1, "alice", "ops", &ops)).starts_with("welcome"));
  REQUIRE(answer(join(relay, 2, "eve", "lobby", nullptr)).starts_with("welcome"));
  CHECK(answer(join(relay, 2, "eve", "ops", nullptr)) == "private");
  CHECK(relay.find(peer(2))->room_name() == "lobby");
  CHECK(answer(join(relay, 1, "alice", "lobby", nullptr)).starts_with("welcome"));
  CHECK(relay.find(peer(1))->room_name() == "lobby");
}

TEST_CASE("an operator's pins refuse an open join before anyone is in the room",
          "[core][relay][private]") {
  const auto ops = keys_for("ops");
  auto pins = std::make_shared<RoomPins>();
  pins->emplace("ops", RoomPin{ops.verifier});
  pins->emplace("dev", RoomPin{});
  Relay relay(private_config(pins), t0);
  CHECK(answer(join(relay, 1, "early", "ops", nullptr)) == "private");
  const auto squatter = keys_for("ops");
  CHECK(answer(join(relay, 2, "squat", "ops", &squatter)) == "private");
  CHECK(answer(join(relay, 3, "alice", "ops", &ops)).starts_with("welcome"));
  CHECK(answer(join(relay, 4, "early", "dev", nullptr)) == "private");
  const auto dev = keys_for("dev");
  CHECK(answer(join(relay, 5, "first", "dev", &dev)).starts_with("welcome"));
  const auto other_dev = keys_for("dev");
  CHECK(answer(join(relay, 6, "second", "dev", &other_dev)) == "private");
}

TEST_CASE("the original protocol cannot enter a private lobby, and is told so",
          "[core][relay][private]") {
  auto pins = std::make_shared<RoomPins>();
  pins->emplace("lobby", RoomPin{});
  Relay relay(private_config(pins, true), t0);
  const Outcome out = relay.on_datagram(peer(1), "hello there", t0);
  CHECK(answer(out) == "private");
  CHECK(out.dropped == DropReason::room_private);
  CHECK(relay.members().empty());
  // Shorter than the refusal: counted, and nothing reflected.
  const Outcome tiny = relay.on_datagram(peer(2), "hi", t0);
  CHECK(answer(tiny).empty());
  CHECK(tiny.dropped == DropReason::room_private);
}

TEST_CASE("a room's gate admits by pin, then by the room's verifier, then by the first join",
          "[core][room_gate]") {
  using udpchat::core::admit;
  using udpchat::core::Gate;
  const RoomPin pinned{"V"};
  const RoomPin any{};
  const Gate fresh{};
  const Gate open{std::string_view{}, {}};
  const Gate on_v{std::string_view{"V"}, {}};
  const Gate moved{std::string_view{"W"}, "V"};
  CHECK(admit(nullptr, fresh, "") == Admission::admitted);
  CHECK(admit(nullptr, fresh, "V") == Admission::admitted);
  CHECK(admit(nullptr, open, "") == Admission::admitted);
  CHECK(admit(nullptr, open, "V") == Admission::open_room);
  CHECK(admit(nullptr, on_v, "") == Admission::private_room);
  CHECK(admit(nullptr, on_v, "W") == Admission::private_room);
  CHECK(admit(&pinned, fresh, "W") == Admission::private_room);
  CHECK(admit(&pinned, fresh, "V") == Admission::admitted);
  CHECK(admit(&any, fresh, "") == Admission::private_room);
  CHECK(admit(&any, fresh, "W") == Admission::admitted);
  // Key changes: only with the current key's handover, never for a pinned key or an open room.
  CHECK(admit(nullptr, on_v, "W", "V") == Admission::handed_over);
  CHECK(admit(nullptr, on_v, "W", "X") == Admission::private_room);
  CHECK(admit(&pinned, on_v, "W", "V") == Admission::private_room);
  CHECK(admit(nullptr, open, "W", "V") == Admission::open_room);
  CHECK(admit(nullptr, moved, "V") == Admission::old_key);
  CHECK(admit(nullptr, moved, "W") == Admission::admitted);
  CHECK(admit(nullptr, moved, "") == Admission::private_room);
}

TEST_CASE("a rooms file names each room once, private or with its verifier", "[core][room_gate]") {
  const std::string verifier(room_key::kVerifierChars, 'A');
  const auto good =
      udpchat::core::parse_room_pins("# ops is pinned\nops udpchat-room-verifier-1:" + verifier +
                                     "\n\n  dev   private # any key\n");
  REQUIRE(good.error.empty());
  REQUIRE(good.pins.size() == 2);
  CHECK(good.pins.at("ops").verifier == verifier);
  CHECK(good.pins.at("dev").verifier.empty());
  CHECK(udpchat::core::parse_room_pins("ops\n").error.starts_with("line 1: say 'private'"));
  CHECK(udpchat::core::parse_room_pins("ops open\n").error.starts_with("line 1:"));
  CHECK(udpchat::core::parse_room_pins("a/b private\n").error.starts_with("line 1: 'a/b'"));
  CHECK(udpchat::core::parse_room_pins("\nops udpchat-room-verifier-1:short\n")
            .error.starts_with("line 2: the verifier"));
}

TEST_CASE(
    "a join that hands over with the room's key moves the room to a new key, and members "
    "on the old one are told",
    "[core][relay][private]") {
  Relay relay(private_config(), t0);
  const auto old_key = room_key::RoomKey::generate();
  const auto new_key = room_key::RoomKey::generate();
  const auto before = old_key.for_room("ops");
  const auto after = new_key.for_room("ops");
  REQUIRE(answer(join(relay, 1, "bob", "ops", &before)).starts_with("welcome"));
  // A new key without the old one's handover: refused, the room keeps its key.
  CHECK(answer(join(relay, 2, "alice", "ops", &after)) == "private");

  // The handover, signed by the old key for this join's cookie and the new verifier.
  const std::string cookie_line =
      answer(relay.on_datagram(peer(2), proto::encode_cookie_request(), t0));
  const std::string token(std::get<proto::Cookie>(proto::decode_server(cookie_line)).token);
  const std::string proof = room_key::join_proof(after, "ops", token, "alice") + " " +
                            room_key::handover(before, "ops", token, after.verifier);
  const Outcome handed = relay.on_datagram(
      peer(2), proto::encode_join(token, "alice", "ops", std::nullopt, 2, proof), t0);
  CHECK(answer(handed).starts_with("welcome"));

  // Bob, on the old key, is told at his next datagram, and his line goes nowhere.
  const Outcome bob_line = relay.on_datagram(peer(1), "~1 under the old key", t0 + 1s);
  CHECK(answer(bob_line) == "new key");
  CHECK(bob_line.dropped == DropReason::old_key);
  // A bare heartbeat is shorter than the answer: counted, not answered.
  const Outcome bob_beat = relay.on_datagram(peer(1), "^hb^", t0 + 1s);
  CHECK(answer(bob_beat).empty());
  CHECK(bob_beat.dropped == DropReason::old_key);
  // A join on the old key is told the same; the new key's holders get in.
  CHECK(answer(join(relay, 3, "late", "ops", &before)) == "new key");
  CHECK(answer(join(relay, 4, "carol", "ops", &after)).starts_with("welcome"));
  // Alice's lines reach carol, and not bob.
  const Outcome line = relay.on_datagram(peer(2), "~1 under the new key", t0 + 2s);
  const auto* to_room = std::get_if<ToRoom>(&line.sends);
  REQUIRE(to_room != nullptr);
  // Bob still holds his seat until he quits or expires; his client ends at "new key".
  CHECK(relay.on_datagram(peer(1), "quit", t0 + 3s).change.index() != 0);
}

TEST_CASE("a handover signed for another key, or a forged one, moves nothing",
          "[core][relay][private]") {
  Relay relay(private_config(), t0);
  const auto before = keys_for("ops");
  const auto after = keys_for("ops");
  const auto stranger = keys_for("ops");
  REQUIRE(answer(join(relay, 1, "bob", "ops", &before)).starts_with("welcome"));
  const std::string cookie_line =
      answer(relay.on_datagram(peer(2), proto::encode_cookie_request(), t0));
  const std::string token(std::get<proto::Cookie>(proto::decode_server(cookie_line)).token);
  // Signed by a key that is not the room's: a good signature, but not the room's current key.
  const std::string by_stranger = room_key::join_proof(after, "ops", token, "mal") + " " +
                                  room_key::handover(stranger, "ops", token, after.verifier);
  CHECK(answer(relay.on_datagram(
            peer(2), proto::encode_join(token, "mal", "ops", std::nullopt, 2, by_stranger), t0)) ==
        "private");
  // The room's key, but signed over another verifier than the join proves.
  const std::string elsewhere = room_key::join_proof(after, "ops", token, "mal") + " " +
                                room_key::handover(before, "ops", token, stranger.verifier);
  const Outcome out = relay.on_datagram(
      peer(2), proto::encode_join(token, "mal", "ops", std::nullopt, 2, elsewhere), t0);
  CHECK(answer(out) == "private");
  CHECK(out.dropped == DropReason::bad_proof);
  CHECK(relay.on_datagram(peer(1), "^hb^", t0 + 1s).dropped != DropReason::old_key);
}
