// libFuzzer target: the relay state machine driven by a byte stream read as steps of
//   [op] [source] [time step, ms] [length] [datagram bytes...]
// op 0 sends the datagram; op 1 completes a join with the cookie the relay last gave that
// source (the fuzzer cannot forge one), half of them asking for +r1; op 2 only lets time pass.
// After every step: members <= max_clients; no address that is not a validated member has
// been sent more bytes than it sent; every ack is at most 1200 bytes with exactly two newlines;
// nobody silent past the timeout is still a member once the sweep has run; the rooms' windows
// stay within their bound; repair goes to the member that asked and nobody else.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "core/relay.hpp"
#include "protocol/message.hpp"

namespace core = udpchat::core;
namespace proto = udpchat::protocol;

namespace {

std::string dotted(const core::Peer& peer) {
  return std::to_string(peer.address[12]) + "." + std::to_string(peer.address[13]) + "." +
         std::to_string(peer.address[14]) + "." + std::to_string(peer.address[15]);
}

struct Traffic {
  std::uint64_t received = 0;  // by the relay, from this address
  std::uint64_t sent = 0;      // by the relay, to this address
  bool validated = false;
  std::string cookie;
};

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  core::RelayConfig config;
  config.legacy = false;
  config.max_clients = 6;
  config.hb_timeout = std::chrono::seconds(1);
  config.format_ip = &dotted;
  config.datagram_limit = {50, 20};
  config.cookie_limit = {5, 3};
  config.limiter_slots = 16;  // small, so that recycling is exercised
  config.max_egress = (data[0] & 1) ? 4000 : 0;
  config.history_lines = 8;
  config.history_room_bytes = 2048;
  config.history_total_bytes = 4096;
  core::TimePoint now{std::chrono::hours(1)};
  core::Relay relay(config, now);
  std::map<std::uint8_t, Traffic> traffic;

  std::size_t at = 1;
  while (at + 4 <= size) {
    const std::uint8_t op = data[at] % 3;
    const std::uint8_t source = data[at + 1];
    now += std::chrono::milliseconds(data[at + 2] * 4);
    const std::size_t length = std::min<std::size_t>(data[at + 3] * 8u, size - at - 4);
    std::string datagram(reinterpret_cast<const char*>(data + at + 4), length);
    at += 4 + length;

    // 32 addresses, several ports each: enough to fill max_clients and to share limiter slots.
    const core::Peer peer = core::Peer::v4(10, 0, source % 32, 1, static_cast<std::uint16_t>(1000 + source / 32));
    Traffic& t = traffic[source];
    if (op == 1) {
      if (t.cookie.empty()) continue;
      // A third of the sources name no room (lobby), the others one of two rooms.
      const std::string room = source % 3 == 0 ? "" : "r" + std::to_string(source % 3);
      const bool repair = (data[at - 1 - length] & 1) != 0;
      datagram = proto::encode_join(t.cookie, "n" + std::to_string(source), room,
                                    repair ? std::optional<std::uint64_t>(1) : std::nullopt);
    } else if (op == 2) {
      datagram.clear();
    }
    if (op != 2) {
      t.received += datagram.size();
      const bool member_before = relay.find(peer) != nullptr;
      const core::Outcome out = relay.on_datagram(peer, datagram, now);
      if (const auto* answer = std::get_if<core::ToSender>(&out.sends)) {
        std::size_t answered = 0;
        for (const auto reply : answer->datagrams) answered += reply.size();
        t.sent += answered;
        if (answer->datagrams.size() > 1) check(relay.find(peer) != nullptr);  // repair: members only
        check(!answer->datagrams.empty());
        const auto reply = proto::decode_server(answer->datagrams.front());
        if (const auto* cookie = std::get_if<proto::Cookie>(&reply)) t.cookie = std::string(cookie->token);
        if (std::holds_alternative<proto::Welcome>(reply)) t.validated = true;
        if (!member_before && !t.validated) check(answered <= datagram.size());
      }
      const auto* line = std::get_if<core::ToRoom>(&out.sends);
      if (line != nullptr && !line->numbered.recipients.empty()) {
        const std::string_view payload = line->numbered.payload;
        check(std::count(payload.begin(), payload.end(), '\n') == 2);
        for (const std::uint32_t index : line->numbered.recipients) check(relay.members()[index].repair);
      }
      if (line != nullptr && !line->plain.recipients.empty()) {
        const std::string_view payload = line->plain.payload;
        check(payload.size() <= 1200);
        check(std::count(payload.begin(), payload.end(), '\n') == 2);
        check(std::holds_alternative<proto::Ack>(proto::decode_server(payload)));
        const core::Member* sender = relay.find(peer);
        for (const std::uint32_t index : line->plain.recipients) {
          const core::Member& member = relay.members()[index];
          if (sender != nullptr) check(member.room == sender->room);  // a line stays in its room
          const auto key = static_cast<std::uint8_t>(member.peer.address[14] + 32 * (member.peer.port - 1000));
          traffic[key].sent += payload.size();
          check(traffic[key].validated);  // only validated members ever receive an ack
        }
      }
    }
    relay.expire(now);
    check(relay.history_bytes() <= config.history_total_bytes);
    check(relay.members().size() <= config.max_clients);
    for (const auto& member : relay.members()) check(now - member.last_seen <= config.hb_timeout);
    // Every member is in exactly one room, at the slot it records.
    std::size_t in_rooms = 0;
    for (std::size_t i = 0; i < relay.members().size(); ++i) {
      const core::Member& member = relay.members()[i];
      check(member.room != nullptr && member.room->members[member.room_slot] == i);
      if (member.room_slot == 0) in_rooms += member.room->members.size();
    }
    check(in_rooms == relay.members().size());
    for (const auto& [id, seen] : traffic) {
      if (!seen.validated) check(seen.sent <= seen.received);
    }
  }
  return 0;
}
