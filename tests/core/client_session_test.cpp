#include "core/client_session.hpp"

#include <fmt/format.h>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/relay.hpp"
#include "protocol/message.hpp"
#include "protocol/sealed.hpp"
#include "protocol/text.hpp"
#include "support/catch.hpp"
#include "support/session_wire.hpp"

using namespace std::chrono_literals;
namespace proto = udpchat::protocol;
namespace event = udpchat::core::event;
using udpchat::core::ClientSession;
using udpchat::core::EndReason;
using udpchat::core::JoinTrouble;
using udpchat::core::LineVerdict;
using udpchat::core::Peer;
using udpchat::core::Relay;
using udpchat::core::RelayConfig;
using udpchat::core::ServerKind;
using udpchat::core::SessionConfig;
using udpchat::core::SessionEvent;
using udpchat::core::SessionState;
using udpchat::core::TimePoint;
using udpchat::core::Unsent;

namespace {

using udpchat::test::dotted;
using udpchat::test::drops;
using udpchat::test::events_of;
using udpchat::test::relay_config;
using udpchat::test::session_config;
using udpchat::test::t0;
using udpchat::test::Wire;

// A cookie and a welcome, as a udpchat server without repair would send them: joined at t0.
void join_by_hand(ClientSession& session) {
  session.on_datagram("cookie AAAA", t0);
  session.on_datagram("welcome 10.0.0.1 9", t0);
}

std::vector<std::string> texts(const std::vector<event::Message>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.text);
  return out;
}

}  // namespace

TEST_CASE("a session joins through the cookie handshake and reports the room it is in",
          "[core][session]") {
  Wire wire;
  auto& alice = wire.add(1, session_config("alice", "ops"));
  CHECK(alice.state() == SessionState::joining);
  wire.settle();
  CHECK(alice.state() == SessionState::joined);
  const auto joined = events_of<event::Joined>(alice);
  REQUIRE(joined.size() == 1);
  CHECK(joined[0].address == "10.0.0.1:1");
  CHECK(joined[0].room == "ops");
  CHECK_FALSE(joined[0].again);
  CHECK(wire.relay().find(Peer::v4(10, 0, 0, 1, 1))->room_name() == "ops");
}

TEST_CASE("a line typed while joining waits and goes out once welcomed", "[core][session]") {
  Wire wire;
  auto& alice = wire.add(1, session_config("alice"));
  CHECK(alice.send_line("early bird", wire.now) == LineVerdict::accepted);
  wire.settle();
  REQUIRE(wire.sent[1].size() == 3);
  // The sealed request (in the suites this CPU speaks): this relay has no key.
  CHECK(wire.sent[1][0] == proto::encode_sealed_cookie_request(udpchat::protocol::sealed::suite_of(
                               udpchat::protocol::noise::fastest_cipher())));
  CHECK(wire.sent[1][1].starts_with("reg "));
  CHECK(wire.sent[1][1].ends_with(" +r2 1"));
  CHECK(wire.sent[1][2] == "#1 early bird");
  CHECK(texts(events_of<event::Message>(alice)) == std::vector<std::string>{"early bird"});
  CHECK(alice.settled());
  CHECK(alice.echoed() == 1);
}

TEST_CASE("a session with no cookie after three requests continues in legacy mode",
          "[core][session]") {
  ClientSession session(session_config(), t0);
  CHECK(session.take_datagrams().size() == 1);
  session.on_timer(t0 + 200ms);
  session.on_timer(t0 + 600ms);
  CHECK(session.take_datagrams().size() == 2);
  CHECK(session.state() == SessionState::joining);
  session.on_timer(t0 + 1400ms);
  CHECK(session.state() == SessionState::legacy);
  CHECK(session.take_datagrams().empty());  // the padded reg already made us a member there
  const auto joined = events_of<event::Joined>(session);
  REQUIRE(joined.size() == 1);
  CHECK(joined[0].legacy);

  // Original servers get the original bytes: no padding, no ping.
  session.send_line("hi", t0 + 1500ms);
  CHECK(session.take_datagrams() == std::vector<std::string>{"hi"});
  session.on_timer(t0 + 2400ms);
  session.on_timer(t0 + 3400ms);
  CHECK(session.take_datagrams() == std::vector<std::string>{"^hb^", "^hb^"});
  session.on_datagram("ack: 10.0.0.1 7\nhi\n", t0 + 3500ms);
  const auto seen = events_of<event::Message>(session);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].own);  // the address is learnt from the echo of our own line
  CHECK(session.settled());
}

TEST_CASE("a cookie that comes after the legacy decision joins the udpchat server after all",
          "[core][session]") {
  Wire wire;
  wire.down = true;  // paused: nothing comes back
  auto& alice = wire.add(1, session_config("alice"));
  wire.run_for(1500ms);
  REQUIRE(alice.state() == SessionState::legacy);
  alice.send_line("sent while it slept", wire.now);
  wire.settle();
  alice.take_events();
  wire.down = false;                           // resumed: it answers what arrives now
  alice.on_datagram("cookie AAAA", wire.now);  // a late answer to an early request
  CHECK(alice.state() == SessionState::rejoining);
  const auto again = alice.take_datagrams();
  REQUIRE(again.size() == 1);
  CHECK(again[0] == "reg AAAA alice");
  wire.run_for(300ms);  // the forged cookie fails; the next request joins for real
  CHECK(alice.state() == SessionState::joined);
  CHECK(texts(events_of<event::Message>(alice)) == std::vector<std::string>{"sent while it slept"});
}

TEST_CASE("a restarted relay's notice makes the session rejoin and resend, in order, once",
          "[core][session]") {
  Wire wire;
  SessionConfig quiet = session_config("alice");
  quiet.hb_interval = 5s;  // alice learns of the restart from her own lines, not a heartbeat
  auto& alice = wire.add(1, quiet);
  auto& bob = wire.add(2, session_config("bob"));
  wire.settle();
  alice.send_line("before", wire.now);
  wire.settle();
  CHECK(texts(events_of<event::Message>(bob)) == std::vector<std::string>{"before"});
  alice.take_events();

  wire.restart();
  wire.run_for(1s);  // bob's heartbeat meets the notice and bob rejoins
  CHECK(bob.state() == SessionState::joined);
  CHECK(alice.state() == SessionState::joined);  // she does not know yet
  alice.send_line("one", wire.now);
  alice.send_line("two", wire.now);
  wire.settle();
  CHECK(alice.state() == SessionState::joined);
  const auto rejoined = events_of<event::Joined>(alice);
  REQUIRE(rejoined.size() == 1);
  CHECK(rejoined[0].again);
  CHECK(texts(events_of<event::Message>(bob)) == std::vector<std::string>{"one", "two"});
  CHECK(alice.settled());
  CHECK(alice.echoed() == 3);
  CHECK(wire.relay().stats().lines == 2);  // each line relayed exactly once
}

TEST_CASE("a line whose echo is merely late is not resent", "[core][session]") {
  Wire wire;
  auto& alice = wire.add(1, session_config());
  wire.settle();
  alice.send_line("slow echo", wire.now);
  const auto first = alice.take_datagrams();
  REQUIRE(first.size() == 1);
  // Heartbeats and pings go on while the echo is on its way; nothing is sent twice.
  wire.run_for(3s);
  for (const auto& datagram : wire.sent[1]) CHECK(proto::strip(datagram) != "slow echo");
  alice.on_datagram("ack: 10.0.0.1 1\nslow echo\n", wire.now);
  CHECK(alice.settled());
  CHECK(alice.echoed() == 1);
}

TEST_CASE("a full server is retried with backoff and queued lines go once a slot frees",
          "[core][session]") {
  Wire wire(relay_config(1));
  auto& first = wire.add(1, session_config("first"));
  wire.settle();
  auto& late = wire.add(2, session_config("late"));
  late.send_line("waited for a seat", wire.now);
  wire.settle();
  CHECK(late.state() == SessionState::joining);
  const auto trouble = events_of<event::Joining>(late);
  REQUIRE(trouble.size() == 2);
  CHECK(trouble[1].why == JoinTrouble::server_full);
  CHECK(trouble[1].retry_in >= 500ms);
  wire.run_for(3s);
  CHECK(late.state() == SessionState::joining);  // still full, still trying, nothing lost
  CHECK(late.waiting() == 1);
  first.leave();
  wire.run_for(6s);
  CHECK(late.state() == SessionState::joined);
  CHECK(texts(events_of<event::Message>(late)) == std::vector<std::string>{"waited for a seat"});
}

TEST_CASE("a nick taken in the room ends the session; the holder keeps it on rejoining",
          "[core][session]") {
  Wire wire;
  auto& holder = wire.add(1, session_config("alice"));
  wire.settle();
  auto& impostor = wire.add(2, session_config("alice"));
  wire.settle();
  CHECK(impostor.state() == SessionState::ended);
  CHECK(impostor.end_reason() == EndReason::nick_taken);
  // Unheard long enough to rejoin while the relay still holds it: its own nick is its own.
  wire.down = true;
  wire.run_for(6100ms);
  REQUIRE(holder.state() == SessionState::rejoining);
  wire.down = false;
  wire.run_for(3s);
  CHECK(holder.state() == SessionState::joined);
  auto& elsewhere = wire.add(3, session_config("alice", "other"));
  wire.settle();
  CHECK(elsewhere.state() == SessionState::joined);  // unique per room, not per server
}

TEST_CASE("lines typed after /join wait for the new room's welcome", "[core][session]") {
  Wire wire;
  auto& mover = wire.add(1, session_config("mover"));
  auto& lobby = wire.add(2, session_config("lobbyist"));
  auto& ops = wire.add(3, session_config("operator", "ops"));
  wire.settle();
  // Piped input arrives all at once: the secret must not reach the lobby.
  mover.send_line("for the lobby", wire.now);
  mover.move_to("ops", wire.now);
  mover.send_line("secret", wire.now);
  wire.settle();
  CHECK(texts(events_of<event::Message>(lobby)) == std::vector<std::string>{"for the lobby"});
  CHECK(texts(events_of<event::Message>(ops)) == std::vector<std::string>{"secret"});
  CHECK(events_of<event::RoomChanged>(mover).size() == 1);
  CHECK(mover.room() == "ops");
  CHECK(mover.settled());
}

TEST_CASE(
    "a /join after more lines than the window waits until all of them are taken, and "
    "none reaches the new room",
    "[core][session][repair]") {
  Wire wire;
  auto& mover = wire.add(1, session_config("mover"));
  auto& lobby = wire.add(2, session_config("lobbyist"));
  auto& ops = wire.add(3, session_config("operator", "ops"));
  wire.settle();
  std::vector<std::string> for_lobby;
  for (int i = 0; i < 12; ++i) {  // three times the first window
    for_lobby.push_back("lobby " + std::to_string(i));
    mover.send_line(for_lobby.back(), wire.now);
  }
  mover.move_to("ops", wire.now);
  mover.send_line("secret", wire.now);
  wire.run_for(1s);
  CHECK(texts(events_of<event::Message>(lobby)) == for_lobby);
  CHECK(texts(events_of<event::Message>(ops)) == std::vector<std::string>{"secret"});
  CHECK(mover.room() == "ops");
  CHECK(mover.settled());
}

TEST_CASE("a /join refused for a taken nick keeps the room and sends nothing typed for it",
          "[core][session]") {
  Wire wire;
  auto& mover = wire.add(1, session_config("alice"));
  auto& holder = wire.add(2, session_config("alice", "ops"));
  wire.settle();
  holder.take_events();
  mover.move_to("ops", wire.now);
  mover.send_line("meant for ops", wire.now);
  wire.settle();
  CHECK(mover.state() == SessionState::joined);
  CHECK(mover.room() == "lobby");
  std::vector<SessionEvent> seen = mover.take_events();
  bool refused = false;
  bool told = false;
  for (const auto& e : seen) {
    if (const auto* r = std::get_if<event::RoomRefused>(&e)) refused = r->room == "ops";
    if (const auto* u = std::get_if<event::LinesUnsent>(&e)) {
      told = u->count == 1 && u->why == Unsent::room_refused;
    }
  }
  CHECK(refused);
  CHECK(told);
  CHECK(mover.unsent() == 1);
  CHECK(events_of<event::Message>(holder).empty());
}

TEST_CASE("a silent server is declared gone after six heartbeats and rejoined when back",
          "[core][session]") {
  Wire wire;
  auto& alice = wire.add(1, session_config());
  wire.settle();
  alice.take_events();
  wire.down = true;
  wire.run_for(5900ms);
  CHECK(alice.state() == SessionState::joined);
  wire.run_for(200ms);
  CHECK(alice.state() == SessionState::rejoining);
  const auto trouble = events_of<event::Joining>(alice);
  REQUIRE(trouble.size() == 1);
  CHECK(trouble[0].why == JoinTrouble::silent);
  alice.send_line("typed in the dark", wire.now);
  wire.run_for(10s);
  CHECK(alice.waiting() == 1);  // kept, not lost
  wire.down = false;
  wire.restart();
  wire.run_for(3s);
  CHECK(alice.state() == SessionState::joined);
  CHECK(alice.settled());
}

TEST_CASE("acks handled outside the session keep it a member though every pong is lost",
          "[core][session]") {
  ClientSession session(session_config(), t0);
  join_by_hand(session);
  session.take_events();
  for (auto now = t0; now < t0 + 10s; now += 100ms) {
    session.heard_from_server(now);
    session.on_timer(now);
  }
  CHECK(session.state() == SessionState::joined);
  CHECK(events_of<event::Joining>(session).empty());
  // Not heard from at all, the same session is taken as gone: the check above can fail.
  session.on_timer(t0 + 17s);
  CHECK(session.state() == SessionState::rejoining);
}

TEST_CASE("a line longer than a datagram is split at character boundaries, in order",
          "[core][session]") {
  ClientSession session(session_config(), t0);
  join_by_hand(session);
  session.take_datagrams();
  std::string chinese;
  for (int i = 0; i < 400; ++i) chinese += "\xE4\xBD\xA0";  // 你: 1200 bytes
  CHECK(session.send_line(chinese, t0) == LineVerdict::accepted);
  const auto parts = session.take_datagrams();
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].size() == 1023);  // 341 whole characters
  CHECK(parts[0] + parts[1] == chinese);
  CHECK(proto::check_text(parts[0]) == proto::TextCheck::ok);
  CHECK(proto::check_text(parts[1]) == proto::TextCheck::ok);
}

TEST_CASE("lines that cannot be sent are refused whole and never sent", "[core][session]") {
  ClientSession session(session_config(), t0);
  join_by_hand(session);
  session.take_datagrams();
  CHECK(session.send_line("bad \xFF utf8", t0) == LineVerdict::invalid_utf8);
  CHECK(session.send_line("bell\a", t0) == LineVerdict::control_character);
  CHECK(session.send_line("evil \xE2\x80\xAE reversed", t0) == LineVerdict::format_character);
  // Joined without numbering (join_by_hand): text that reads as a command has no way to go.
  CHECK(session.send_line("^hb^", t0) == LineVerdict::needs_numbering);
  CHECK(session.send_line("   ", t0) == LineVerdict::empty);
  CHECK(session.send_line(std::string(1500, 'x') + "\x01", t0) == LineVerdict::control_character);
  CHECK(session.take_datagrams().empty());
  CHECK(session.send_line("ok", t0) == LineVerdict::accepted);
  // Short lines are padded so that a notice can answer them; the server strips the padding.
  CHECK(session.take_datagrams() == std::vector<std::string>{"ok  "});
}

TEST_CASE("beyond the bound a line is refused whole, and nothing waiting is dropped",
          "[core][session]") {
  SessionConfig config = session_config();
  config.max_waiting = 3;
  ClientSession session(config, t0);
  for (const auto* text : {"a", "b", "c"}) {
    CHECK(session.send_line(text, t0) == LineVerdict::accepted);
  }
  CHECK(session.send_line("d", t0) == LineVerdict::too_many_waiting);
  CHECK(session.waiting() == 3);
  CHECK(session.unsent() == 0);
  CHECK(events_of<event::LinesUnsent>(session).empty());
  CHECK(session.waiting_texts(10) == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("a burst of lines is paced below the server's default budget", "[core][session]") {
  ClientSession session(session_config(), t0);
  join_by_hand(session);
  session.take_datagrams();
  for (int i = 0; i < 300; ++i) session.send_line(fmt::format("line {}", i), t0);
  CHECK(session.take_datagrams().size() == 200);  // the burst
  CHECK(session.deadline() <= t0 + 10ms);
  session.on_timer(t0 + 500ms);
  CHECK(session.take_datagrams().size() == 50);  // 100 lines per second after it
}

TEST_CASE("datagrams that break the field rules are counted and reported once", "[core][session]") {
  ClientSession session(session_config(), t0);
  join_by_hand(session);
  session.take_events();
  session.on_datagram("ack: 10.0.0.1 9 \x1B[2J\nhi\n", t0);
  session.on_datagram("ack: 1.2.3.4.5 9\nhi\n", t0);
  session.on_datagram("ack: 10.0.0.1 9\n\x1B]52;c;ZXZpbA==\x07\n", t0);
  session.on_datagram("welcome 10.0.0.1 9 " + std::string(60000, 'n'), t0);
  CHECK(session.malformed() == 4);
  const auto events = session.take_events();
  REQUIRE(events.size() == 1);
  CHECK(std::holds_alternative<event::Malformed>(events[0]));
}

TEST_CASE("end from the server ends a session that does not rejoin, and leave says quit",
          "[core][session]") {
  ClientSession session(session_config(), t0);
  session.leave();
  CHECK(session.take_datagrams().back() == "quit");
  CHECK(session.end_reason() == EndReason::left);
  ClientSession other(session_config(), t0);
  other.on_datagram("end", t0);
  CHECK(other.end_reason() == EndReason::server_closed);
  CHECK(other.deadline() == TimePoint::max());
}

TEST_CASE("bench's hint skips legacy detection both ways", "[core][session]") {
  SessionConfig legacy = session_config();
  legacy.hint = ServerKind::legacy;
  ClientSession old(legacy, t0);
  CHECK(old.state() == SessionState::legacy);
  CHECK(old.take_datagrams() == std::vector<std::string>{proto::encode_cookie_request()});
  SessionConfig udpchat = session_config();
  udpchat.hint = ServerKind::udpchat;
  ClientSession patient(udpchat, t0);
  for (auto t = t0; t < t0 + 10s; t += 100ms) patient.on_timer(t);
  CHECK(patient.state() == SessionState::joining);  // never mistaken for an original server
}

TEST_CASE(
    "with repair, a link losing one datagram in five each way still carries every line "
    "to every member once and in order",
    "[core][session][repair]") {
  Wire wire;
  std::mt19937 random(15);
  std::bernoulli_distribution lost(0.2);
  auto& sender = wire.add(1, session_config("sender"));
  std::vector<ClientSession*> members;
  for (std::uint16_t port = 2; port <= 4; ++port) {
    members.push_back(&wire.add(port, session_config("m" + std::to_string(port))));
  }
  wire.run_for(3s);  // joined despite no loss yet
  REQUIRE(sender.repairing());
  for (auto* member : members) REQUIRE(member->repairing());
  for (auto* member : members) member->take_events();
  wire.lose = [&](std::uint16_t, bool) { return lost(random); };
  std::vector<std::string> lines;
  for (int i = 0; i < 100; ++i) {
    lines.push_back("line " + std::to_string(i));
    sender.send_line(lines.back(), wire.now);
    wire.run_for(50ms);
  }
  wire.run_for(30s);
  CHECK(sender.settled());
  CHECK(sender.unsent() == 0);
  CHECK(sender.resent() > 0);
  for (auto* member : members) {
    CHECK(texts(events_of<event::Message>(*member)) == lines);
    CHECK(member->missed() == 0);
    CHECK(member->state() == SessionState::joined);
  }
  CHECK(wire.relay().stats().lines == 100);  // each relayed once, however often it was sent
  CHECK(wire.relay().stats().repaired > 0);
}

TEST_CASE("without repair the same link loses lines, and nothing says so to the members",
          "[core][session][repair]") {
  Wire wire;
  std::mt19937 random(15);
  std::bernoulli_distribution lost(0.2);
  SessionConfig plain = session_config("sender");
  plain.repair = false;
  auto& sender = wire.add(1, plain);
  SessionConfig plain_member = session_config("member");
  plain_member.repair = false;
  auto& member = wire.add(2, plain_member);
  wire.run_for(3s);
  REQUIRE_FALSE(member.repairing());
  member.take_events();
  wire.lose = [&](std::uint16_t, bool) { return lost(random); };
  for (int i = 0; i < 100; ++i) {
    sender.send_line("line " + std::to_string(i), wire.now);
    wire.run_for(50ms);
  }
  wire.run_for(10s);
  const auto got = events_of<event::Message>(member).size();
  CHECK(got < 90);
  CHECK(got > 40);
}

TEST_CASE("a resent line whose echo was lost is acknowledged, never relayed twice",
          "[core][session][repair]") {
  Wire wire;
  auto& sender = wire.add(1, session_config("sender"));
  auto& member = wire.add(2, session_config("member"));
  wire.settle();
  member.take_events();
  // Every datagram from the relay to the sender is lost for a while: its echoes never come.
  wire.lose = [&](std::uint16_t port, bool to_relay) { return port == 1 && !to_relay; };
  sender.send_line("only once", wire.now);
  wire.run_for(2s);
  CHECK(sender.resent() > 0);
  wire.lose = nullptr;
  wire.run_for(5s);
  CHECK(sender.settled());
  CHECK(texts(events_of<event::Message>(member)) == std::vector<std::string>{"only once"});
  CHECK(wire.relay().stats().lines == 1);
  CHECK(drops(wire.relay(), udpchat::core::DropReason::resent) > 0);
}

TEST_CASE("a member further behind than the window is told how many lines it missed",
          "[core][session][repair]") {
  RelayConfig small = relay_config();
  small.history_lines = 10;
  Wire wire(small);
  auto& sender = wire.add(1, session_config("sender"));
  auto& member = wire.add(2, session_config("member"));
  wire.settle();
  member.take_events();
  wire.lose = [&](std::uint16_t port, bool to_relay) { return port == 2 && !to_relay; };
  for (int i = 0; i < 30; ++i) {
    sender.send_line("line " + std::to_string(i), wire.now);
    wire.run_for(20ms);
  }
  wire.lose = nullptr;
  wire.run_for(10s);  // a heartbeat tells the member where the room is; it asks for the rest
  const auto events = member.take_events();
  std::uint64_t missed = 0;
  std::vector<std::string> shown;
  for (const auto& e : events) {
    if (const auto* m = std::get_if<event::LinesMissed>(&e)) missed += m->count;
    if (const auto* m = std::get_if<event::Message>(&e)) shown.push_back(m->text);
  }
  CHECK(missed == 20);
  REQUIRE(shown.size() == 10);
  CHECK(shown.front() == "line 20");
  CHECK(shown.back() == "line 29");
}

TEST_CASE("a member joining with history gets the room's last lines, shown as history",
          "[core][session][repair]") {
  Wire wire;
  auto& talker = wire.add(1, session_config("talker"));
  wire.settle();
  for (int i = 0; i < 5; ++i) talker.send_line("old " + std::to_string(i), wire.now);
  wire.settle();
  SessionConfig late = session_config("late");
  late.history = 3;
  auto& latecomer = wire.add(2, late);
  wire.run_for(100ms);
  talker.send_line("new", wire.now);
  wire.run_for(100ms);
  const auto seen = events_of<event::Message>(latecomer);
  REQUIRE(seen.size() == 4);
  CHECK(seen[0].text == "old 2");
  CHECK(seen[0].history);
  CHECK(seen[2].text == "old 4");
  CHECK(seen[3].text == "new");
  CHECK_FALSE(seen[3].history);
}

TEST_CASE("a /history asked while an earlier fetch is under way shows the room's latest lines",
          "[core][session][repair]") {
  Wire wire;
  auto& talker = wire.add(1, session_config("talker"));
  wire.settle();
  for (int i = 1; i <= 30; ++i) talker.send_line("h " + std::to_string(i), wire.now);
  wire.settle();
  SessionConfig late = session_config("late");
  late.history = 3;
  auto& latecomer = wire.add(2, late);
  // The welcome arrives; the three lines fetched on joining are still on their way.
  wire.lose = [&](std::uint16_t port, bool to_relay) {
    return port == 2 && !to_relay && latecomer.state() == SessionState::joined;
  };
  wire.settle();
  REQUIRE(latecomer.state() == SessionState::joined);
  latecomer.fetch_history(5, wire.now);
  wire.lose = nullptr;
  wire.run_for(3s);
  const auto seen = events_of<event::Message>(latecomer);
  CHECK(texts(seen) == std::vector<std::string>{"h 26", "h 27", "h 28", "h 29", "h 30"});
  for (const auto& m : seen) CHECK(m.history);
  CHECK(latecomer.missed() == 0);
}

TEST_CASE("a /history read right after a /join shows the new room's last lines",
          "[core][session][repair]") {
  Wire wire;
  auto& mover = wire.add(1, session_config("mover"));
  auto& ops = wire.add(2, session_config("operator", "ops"));
  wire.settle();
  for (int i = 1; i <= 4; ++i) ops.send_line("ops " + std::to_string(i), wire.now);
  wire.settle();
  // Piped input: the /join and the /history are both read before the new room's welcome.
  mover.move_to("ops", wire.now);
  mover.fetch_history(2, wire.now);
  wire.run_for(3s);
  const auto seen = events_of<event::Message>(mover);
  CHECK(texts(seen) == std::vector<std::string>{"ops 3", "ops 4"});
  for (const auto& m : seen) CHECK(m.history);
  CHECK(mover.room() == "ops");
  CHECK(mover.settled());
}

TEST_CASE("a repair client and an original-style client share a room, each in its own bytes",
          "[core][session][repair]") {
  Wire wire;
  auto& modern = wire.add(1, session_config("modern"));
  SessionConfig old = session_config("old");
  old.repair = false;
  auto& classic = wire.add(2, old);
  wire.settle();
  CHECK(modern.repairing());
  CHECK_FALSE(classic.repairing());
  modern.send_line("from modern", wire.now);
  classic.send_line("from classic", wire.now);
  wire.settle();
  CHECK(texts(events_of<event::Message>(classic)) ==
        std::vector<std::string>{"from modern", "from classic"});
  CHECK(texts(events_of<event::Message>(modern)) ==
        std::vector<std::string>{"from modern", "from classic"});
  CHECK(wire.sent[2].back().find('#') == std::string::npos);
}

TEST_CASE("text that reads as a command goes numbered and arrives exactly as written",
          "[core][session][repair]") {
  Wire wire;
  auto& poster = wire.add(1, session_config("ci"));
  auto& reader = wire.add(2, session_config("reader"));
  wire.settle();
  REQUIRE(poster.repairing());
  reader.take_events();
  const std::vector<std::string> lines = {
      "quit", "/quit", "reg", "^hb^", "ping x", "nack 1 2", "#7 seven", "/var/log/x.log uploaded"};
  for (const auto& line : lines) CHECK(poster.send_line(line, wire.now) == LineVerdict::accepted);
  wire.run_for(1s);
  CHECK(texts(events_of<event::Message>(reader)) == lines);
  CHECK(poster.state() == SessionState::joined);
  CHECK(poster.settled());
  CHECK(wire.relay().find(Peer::v4(10, 0, 0, 1, 1)) != nullptr);  // `quit` did not end it
}

TEST_CASE(
    "text that reads as a command, typed before a server without numbering welcomes us, "
    "is said and not sent",
    "[core][session]") {
  Wire wire;
  SessionConfig plain = session_config("ci");
  plain.repair = false;
  auto& poster = wire.add(1, plain);
  auto& reader = wire.add(2, session_config("reader"));
  CHECK(poster.send_line("before", wire.now) == LineVerdict::accepted);
  CHECK(poster.send_line("quit", wire.now) == LineVerdict::accepted);
  CHECK(poster.send_line("after", wire.now) == LineVerdict::accepted);
  wire.settle();
  const auto unsent = events_of<event::LinesUnsent>(poster);
  REQUIRE(unsent.size() == 1);
  CHECK(unsent[0].why == Unsent::needs_numbering);
  CHECK(unsent[0].texts == std::vector<std::string>{"quit"});
  CHECK(poster.unsent() == 1);
  CHECK(texts(events_of<event::Message>(reader)) == std::vector<std::string>{"before", "after"});
  CHECK(wire.relay().find(Peer::v4(10, 0, 0, 1, 1)) != nullptr);
}

TEST_CASE("a script's session whose nick is taken joins as the next free one", "[core][session]") {
  Wire wire;
  wire.add(1, session_config("ci"));
  wire.settle();
  SessionConfig second = session_config("ci");
  second.nick_policy = udpchat::core::NickPolicy::alternate;
  auto& job2 = wire.add(2, second);
  auto& job3 = wire.add(3, second);
  wire.settle();
  CHECK(job2.state() == SessionState::joined);
  CHECK(job3.state() == SessionState::joined);
  CHECK(job2.nick() == "ci2");
  CHECK(job3.nick() == "ci3");
  const auto joined = events_of<event::Joined>(job2);
  REQUIRE(joined.size() == 1);
  CHECK(joined[0].nick == "ci2");
  CHECK(wire.relay().find(Peer::v4(10, 0, 0, 1, 2))->nick == "ci2");
  job2.send_line("from the second job", wire.now);
  wire.settle();
  CHECK(texts(events_of<event::Message>(job3)) == std::vector<std::string>{"from the second job"});
}

TEST_CASE("a nick of 32 bytes is cut to make room for its number", "[core][session]") {
  Wire wire;
  const std::string longest(32, 'n');
  wire.add(1, session_config(longest));
  SessionConfig config = session_config(longest);
  config.nick_policy = udpchat::core::NickPolicy::alternate;
  auto& other = wire.add(2, config);
  wire.settle();
  CHECK(other.state() == SessionState::joined);
  CHECK(other.nick() == std::string(31, 'n') + "2");
}

TEST_CASE("an exact nick, or a person's first join, ends on a taken nick instead",
          "[core][session]") {
  Wire wire;
  wire.add(1, session_config("alice"));
  wire.settle();
  SessionConfig exact = session_config("alice");
  exact.nick_policy = udpchat::core::NickPolicy::exact;
  auto& strict = wire.add(2, exact);
  auto& person = wire.add(3, session_config("alice"));  // alternate_on_rejoin
  wire.settle();
  CHECK(strict.end_reason() == EndReason::nick_taken);
  CHECK(person.end_reason() == EndReason::nick_taken);
}

TEST_CASE("a rejoin that finds its nick taken takes the next free one and keeps every line",
          "[core][session]") {
  Wire wire;
  SessionConfig config = session_config("alice");
  config.rejoin_after_end = true;
  auto& alice = wire.add(1, config);
  wire.settle();
  // The relay restarts and a newcomer takes the nick before alice is back.
  wire.restart();
  auto& newcomer = wire.add(2, session_config("alice"));
  wire.settle();
  REQUIRE(newcomer.state() == SessionState::joined);
  alice.send_line("still here", wire.now);
  wire.run_for(2s);
  CHECK(alice.state() == SessionState::joined);
  CHECK(alice.nick() == "alice2");
  CHECK(texts(events_of<event::Message>(newcomer)) == std::vector<std::string>{"still here"});
}

TEST_CASE("end makes a chat session join again, backing off up to 30 s, keeping every line",
          "[core][session]") {
  Wire wire;
  SessionConfig config = session_config("alice");
  config.rejoin_after_end = true;
  auto& alice = wire.add(1, config);
  auto& bob = wire.add(2, session_config("bob"));
  wire.settle();
  bob.take_events();
  alice.take_events();
  alice.on_datagram("end", wire.now);
  CHECK(alice.state() == SessionState::rejoining);
  CHECK(alice.server_closed());
  const auto joining = events_of<event::Joining>(alice);
  REQUIRE(joining.size() == 1);
  CHECK(joining[0].why == JoinTrouble::server_closed);
  // The server is gone for five minutes; what is typed meanwhile waits.
  wire.down = true;
  wire.sent[1].clear();
  alice.send_line("typed while it was down", wire.now);
  wire.run_for(5min, 100ms);
  std::size_t requests = 0;
  for (const auto& datagram : wire.sent[1]) requests += proto::strip(datagram) == "reg" ? 1 : 0;
  CHECK(requests >= 10);  // 0.5 s doubling ...
  CHECK(requests <= 20);  // ... to 30 s
  CHECK(alice.waiting() == 1);
  CHECK(events_of<event::LinesUnsent>(alice).empty());
  wire.down = false;
  wire.restart();
  bob.on_datagram("end", wire.now);  // bob does not rejoin: he would miss nothing here anyway
  wire.run_for(31s, 100ms);
  CHECK(alice.state() == SessionState::joined);
  CHECK_FALSE(alice.server_closed());
  CHECK(alice.settled());
  CHECK(alice.echoed() == 1);
  CHECK(wire.relay().stats().lines == 1);
}

TEST_CASE(
    "a line whose echo never comes is sent again for as long as the session is a member, "
    "never given up",
    "[core][session][repair]") {
  Wire wire;
  auto& sender = wire.add(1, session_config("sender"));
  auto& member = wire.add(2, session_config("member"));
  wire.settle();
  member.take_events();
  // Chat lines from the sender vanish for two minutes; its heartbeats still pass.
  wire.lose = [&](std::uint16_t port, bool to_relay) {
    return port == 1 && to_relay && !wire.sent[1].empty() && wire.sent[1].back().starts_with("#");
  };
  sender.send_line("persistent", wire.now);
  wire.run_for(2min, 100ms);
  CHECK(sender.state() == SessionState::joined);
  CHECK(sender.waiting() == 1);
  CHECK(sender.unsent() == 0);
  CHECK(events_of<event::LinesUnsent>(sender).empty());
  wire.lose = nullptr;
  wire.run_for(5s);
  CHECK(sender.settled());
  CHECK(texts(events_of<event::Message>(member)) == std::vector<std::string>{"persistent"});
  CHECK(wire.relay().stats().lines == 1);
}

TEST_CASE("after a /join the server refused, lines typed later go to the room the session is in",
          "[core][session]") {
  Wire wire;
  auto& mover = wire.add(1, session_config("alice"));
  auto& lobby = wire.add(2, session_config("bob"));
  wire.add(3, session_config("alice", "ops"));
  wire.settle();
  lobby.take_events();
  mover.move_to("ops", wire.now);
  wire.settle();
  REQUIRE(mover.room() == "lobby");
  mover.send_line("typed after the refusal", wire.now);
  wire.settle();
  CHECK(texts(events_of<event::Message>(lobby)) ==
        std::vector<std::string>{"typed after the refusal"});
  CHECK(mover.settled());
}

TEST_CASE(
    "while its output is blocked a session holds room lines, keeps its seat, and then "
    "shows every line in order, fetching from the window what it could not hold",
    "[core][session][repair]") {
  Wire wire;
  auto& talker = wire.add(1, session_config("talker"));
  auto& reader = wire.add(2, session_config("reader"));
  wire.settle();
  reader.take_events();
  reader.hold_lines(true, wire.now);
  const int lines = static_cast<int>(udpchat::core::RoomStream::kMaxHeld) + 300;
  std::vector<std::string> said;
  for (int i = 0; i < lines; ++i) {
    said.push_back("line " + std::to_string(i));
    talker.send_line(said.back(), wire.now);
    wire.run_for(20ms);  // 50 lines a second: within the talker's budget
  }
  wire.run_for(20s);  // blocked for longer than the relay's heartbeat timeout
  CHECK(events_of<event::Message>(reader).empty());
  CHECK(reader.state() == SessionState::joined);
  CHECK(wire.relay().find(Peer::v4(10, 0, 0, 1, 2)) != nullptr);
  reader.hold_lines(false, wire.now);
  wire.run_for(20s);
  CHECK(texts(events_of<event::Message>(reader)) == said);
  CHECK(reader.missed() == 0);
  CHECK(wire.relay().stats().repaired >= 300);
}

TEST_CASE("without numbering, lines that come while the output is blocked are counted and said",
          "[core][session]") {
  ClientSession session(session_config(), t0);
  join_by_hand(session);
  session.take_events();
  session.on_datagram("ack: 10.0.0.2 5\nshown\n", t0);
  session.hold_lines(true, t0);
  session.on_datagram("ack: 10.0.0.2 5\nnot shown 1\n", t0);
  session.on_datagram("ack: 10.0.0.2 5\nnot shown 2\n", t0);
  session.hold_lines(false, t0);
  session.on_datagram("ack: 10.0.0.2 5\nshown again\n", t0);
  const auto events = session.take_events();
  std::vector<std::string> shown;
  std::uint64_t unshown = 0;
  for (const auto& e : events) {
    if (const auto* m = std::get_if<event::Message>(&e)) shown.push_back(m->text);
    if (const auto* m = std::get_if<event::LinesMissed>(&e)) {
      CHECK(m->unshown);
      unshown += m->count;
    }
  }
  CHECK(shown == std::vector<std::string>{"shown", "shown again"});
  CHECK(unshown == 2);
}

TEST_CASE("a stalled server meets no storm: timeouts shrink the window and back off",
          "[core][session][repair]") {
  Wire wire;
  SessionConfig paced = session_config("sender");
  paced.send_budget = {100, 200};
  auto& sender = wire.add(1, paced);
  wire.settle();
  for (int i = 0; i < 500; ++i) sender.send_line("line " + std::to_string(i), wire.now);
  wire.down = true;  // a stalled relay: every datagram to it vanishes
  wire.sent[1].clear();
  wire.run_for(5s, 5ms);
  std::size_t lines = 0;
  for (const auto& datagram : wire.sent[1]) lines += datagram.starts_with("#") ? 1 : 0;
  // Each timeout shrinks the window and the timeouts back off: a few datagrams a second, far
  // from the 700 the send budget alone would allow in these 5 s.
  CHECK(lines <= 64);
  CHECK(lines >= 4);  // but resending goes on
  wire.down = false;
  wire.run_for(20s, 5ms);
  CHECK(sender.settled());
  CHECK(wire.relay().stats().lines == 500);
}

TEST_CASE("a line lost on the way is the only one sent again: the relay holds the ones after it",
          "[core][session][repair]") {
  Wire wire;
  auto& sender = wire.add(1, session_config("sender"));
  auto& member = wire.add(2, session_config("member"));
  wire.settle();
  member.take_events();
  int numbered = 0;
  wire.lose = [&](std::uint16_t port, bool to_relay) {
    return port == 1 && to_relay && wire.sent[1].back().starts_with("#") && ++numbered == 2;
  };
  std::vector<std::string> lines;
  for (int i = 0; i < 20; ++i) {
    lines.push_back("line " + std::to_string(i));
    sender.send_line(lines.back(), wire.now);
  }
  wire.run_for(2s);
  CHECK(sender.settled());
  CHECK(texts(events_of<event::Message>(member)) == lines);
  CHECK(sender.resent() == 1);
  std::size_t copies_of_third = 0;
  for (const auto& datagram : wire.sent[1]) copies_of_third += datagram.starts_with("#3 ") ? 1 : 0;
  CHECK(copies_of_third == 1);
  CHECK(wire.relay().stats().held > 0);
  CHECK(wire.relay()
            .stats()
            .drops[static_cast<std::size_t>(udpchat::core::DropReason::out_of_sequence)] == 0);
}

TEST_CASE(
    "lines the relay does not take within give_up_after are given up, said, and their "
    "numbers withdrawn",
    "[core][session][repair]") {
  Wire wire;
  SessionConfig impatient = session_config("sender");
  impatient.give_up_after = 100ms;
  auto& sender = wire.add(1, impatient);
  auto& member = wire.add(2, session_config("member"));
  wire.settle();
  member.take_events();
  wire.down = true;  // a relay that takes nothing
  for (int i = 0; i < 10; ++i) sender.send_line("lost " + std::to_string(i), wire.now);
  wire.run_for(500ms, 5ms);
  std::vector<std::string> given_up;
  for (const auto& unsent : events_of<event::LinesUnsent>(sender)) {
    CHECK(unsent.why == Unsent::overloaded);
    given_up.insert(given_up.end(), unsent.texts.begin(), unsent.texts.end());
  }
  CHECK(given_up.size() == 10);
  CHECK(sender.given_up() == 10);
  CHECK(sender.settled());
  // Back: the numbers given up are withdrawn, and the next line goes through at once.
  wire.down = false;
  sender.send_line("after", wire.now);
  wire.run_for(2s, 5ms);
  CHECK(sender.settled());
  CHECK(texts(events_of<event::Message>(member)) == std::vector<std::string>{"after"});
  CHECK(wire.relay().stats().lines == 1);
}
