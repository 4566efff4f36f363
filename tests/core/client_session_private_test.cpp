// core::ClientSession in a private room: lines sealed end to end with the room key, wired to a
// real core::Relay that keeps and forwards only what it cannot read.
#include <algorithm>
#include <memory>
#include <string>

#include "core/client_session.hpp"
#include "protocol/room_key.hpp"
#include "support/catch.hpp"
#include "support/session_wire.hpp"

using namespace std::chrono_literals;
namespace event = udpchat::core::event;
namespace room_key = udpchat::protocol::room_key;
using udpchat::core::SessionState;
using udpchat::test::events_of;
using udpchat::test::relay_config;
using udpchat::test::session_config;
using udpchat::test::Wire;

namespace {

std::shared_ptr<const room_key::RoomKey> new_room_key() {
  return std::make_shared<const room_key::RoomKey>(room_key::RoomKey::generate());
}

udpchat::core::SessionConfig member(std::string nick,
                                    std::shared_ptr<const room_key::RoomKey> key) {
  auto config = session_config(std::move(nick), "ops");
  config.room_key = std::move(key);
  // In the clear to the relay, so that this test sees what the relay sees.
  config.seal = false;
  return config;
}

bool anywhere(const std::map<std::uint16_t, std::vector<std::string>>& datagrams,
              std::string_view text) {
  return std::any_of(datagrams.begin(), datagrams.end(), [&](const auto& each) {
    return std::any_of(each.second.begin(), each.second.end(),
                       [&](const std::string& d) { return d.find(text) != std::string::npos; });
  });
}

}  // namespace

TEST_CASE("key holders chat in a private room while the relay carries only ciphertext",
          "[core][session][private]") {
  const auto key = new_room_key();
  Wire wire;
  auto& alice = wire.add(1, member("alice", key));
  auto& bob = wire.add(2, member("bob", key));
  wire.settle();
  REQUIRE(alice.state() == SessionState::joined);
  alice.take_events();
  bob.take_events();

  alice.send_line("the launch code is 1234", wire.now);
  bob.send_line("noted", wire.now);
  wire.run_for(2s);
  const auto to_bob = events_of<event::Message>(bob);
  REQUIRE(to_bob.size() == 2);
  CHECK(to_bob[0].nick == "alice");
  CHECK(to_bob[0].text == "the launch code is 1234");
  CHECK(to_bob[1].text == "noted");
  CHECK(to_bob[1].own);
  CHECK(alice.waiting() == 0);  // her line's echo acknowledged it
  CHECK(bob.waiting() == 0);
  // Neither on the way in nor out, nor in the relay's window, is the text ever in the clear.
  CHECK_FALSE(anywhere(wire.sent, "launch code"));
  CHECK_FALSE(anywhere(wire.received, "launch code"));
}

TEST_CASE("a member with another key, or none, is refused and learns no line and no nick",
          "[core][session][private]") {
  const auto key = new_room_key();
  Wire wire;
  auto& alice = wire.add(1, member("alice", key));
  wire.settle();
  alice.send_line("for members only", wire.now);
  wire.run_for(1s);
  auto& dave = wire.add(3, member("dave", new_room_key()));
  auto stranger = member("eve", nullptr);
  stranger.history = 10;
  auto& eve = wire.add(4, stranger);
  wire.run_for(2s);
  for (auto* outsider : {&dave, &eve}) {
    CHECK(outsider->state() == SessionState::ended);
    CHECK(outsider->end_reason() == udpchat::core::EndReason::room_private);
    CHECK(events_of<event::Message>(*outsider).empty());
  }
  // What reached them: a cookie and the refusal, nothing naming the room's members or lines.
  for (const std::uint16_t port : {std::uint16_t{3}, std::uint16_t{4}}) {
    for (const std::string& datagram : wire.received[port]) {
      CHECK(datagram.find("alice") == std::string::npos);
      CHECK(datagram.find("~1 ") == std::string::npos);
    }
    CHECK(wire.received[port].back() == "private");
  }
  // Nor did the refusals cost the room anything.
  alice.send_line("still here", wire.now);
  wire.run_for(1s);
  CHECK(alice.waiting() == 0);
}

TEST_CASE("a key holder stays out of a room that others share openly, and is told why",
          "[core][session][private]") {
  Wire wire;
  auto& open = wire.add(1, member("olga", nullptr));
  wire.settle();
  REQUIRE(open.state() == SessionState::joined);
  auto& holder = wire.add(2, member("hank", new_room_key()));
  wire.run_for(1s);
  CHECK(holder.state() == SessionState::ended);
  CHECK(holder.end_reason() == udpchat::core::EndReason::room_open);
  CHECK(wire.received[2].back() == "open room");
}

TEST_CASE("a late joiner with the key reads the private room's sealed history",
          "[core][session][private]") {
  const auto key = new_room_key();
  Wire wire;
  auto& alice = wire.add(1, member("alice", key));
  wire.settle();
  alice.send_line("before you came", wire.now);
  wire.run_for(1s);
  auto late = member("late", key);
  late.history = 10;
  auto& latecomer = wire.add(2, late);
  wire.run_for(2s);
  const auto lines = events_of<event::Message>(latecomer);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].text == "before you came");
  CHECK(lines[0].history);
  CHECK_FALSE(anywhere(wire.received, "before you came"));
}

TEST_CASE("a line the relay alters or moves to another member is said, never shown",
          "[core][session][private]") {
  const auto key = new_room_key();
  Wire wire;
  auto& alice = wire.add(1, member("alice", key));
  auto& bob = wire.add(2, member("bob", key));
  wire.settle();
  bob.take_events();
  alice.send_line("pay 10 to carol", wire.now);
  wire.run_for(1s);
  REQUIRE(events_of<event::Message>(bob).size() == 1);
  // The relay (or anyone in its place) sends bob alice's sealed line as mallory's, and altered.
  const auto& from_alice = wire.sent[1];
  const auto sealed_line =
      std::find_if(from_alice.begin(), from_alice.end(),
                   [](const std::string& d) { return d.starts_with("#1 ~1 "); });
  REQUIRE(sealed_line != from_alice.end());
  const std::string text = sealed_line->substr(3);
  bob.on_datagram("ack 2 1 10.0.0.9 9 mallory\n" + text + "\n", wire.now);
  std::string altered = text;
  altered[20] = altered[20] == 'A' ? 'B' : 'A';
  bob.on_datagram("ack 3 1 10.0.0.1 1 alice\n" + altered + "\n", wire.now);
  wire.run_for(1s);
  CHECK(events_of<event::Message>(bob).empty());
  CHECK(bob.unreadable() == 2);
}

TEST_CASE("a new key moves the room on: members on the old key are told, and its history opens "
          "only with the old key",
          "[core][session][private]") {
  const auto old_key = new_room_key();
  const auto new_key = new_room_key();
  Wire wire;
  auto& bob = wire.add(1, member("bob", old_key));
  wire.settle();
  bob.send_line("said under the old key", wire.now);
  wire.run_for(1s);
  auto changer = member("alice", new_key);
  changer.previous_room_key = old_key;
  auto& alice = wire.add(2, changer);
  wire.run_for(1s);
  REQUIRE(alice.state() == SessionState::joined);
  alice.send_line("said under the new key", wire.now);
  wire.run_for(11s);  // bob's next ping hears of it (a bare heartbeat is too short to answer)
  CHECK(bob.state() == SessionState::ended);
  CHECK(bob.end_reason() == udpchat::core::EndReason::room_rekeyed);
  for (const auto& shown : events_of<event::Message>(bob)) {
    CHECK(shown.text != "said under the new key");
  }
  // Alice holds both keys: she reads the old line from history too.
  auto with_both = member("carol", new_key);
  with_both.previous_room_key = old_key;
  with_both.history = 10;
  auto only_new = member("dave", new_key);
  only_new.history = 10;
  auto& carol = wire.add(3, with_both);
  auto& dave = wire.add(4, only_new);
  wire.run_for(2s);
  std::vector<std::string> carol_read;
  for (const auto& shown : events_of<event::Message>(carol)) carol_read.push_back(shown.text);
  CHECK(carol_read == std::vector<std::string>{"said under the old key", "said under the new key"});
  std::vector<std::string> dave_read;
  for (const auto& shown : events_of<event::Message>(dave)) dave_read.push_back(shown.text);
  CHECK(dave_read == std::vector<std::string>{"said under the new key"});
  CHECK(dave.unreadable() == 1);
}
