#include "core/room_gate.hpp"

#include <fmt/format.h>

#include "protocol/message.hpp"
#include "protocol/room_key.hpp"

namespace udpchat::core {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

RoomPinsParsed parse_room_pins(std::string_view text) {
  namespace room_key = protocol::room_key;
  RoomPinsParsed parsed;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const auto space = line.find_first_of(" \t");
    const std::string_view room = line.substr(0, space);
    const std::string_view what =
        space == std::string_view::npos ? std::string_view{} : trim(line.substr(space));
    auto fail = [&](std::string_view why) {
      parsed.error = fmt::format("line {}: {}", number, why);
      return parsed;
    };
    if (!protocol::is_room(room)) return fail(fmt::format("'{}' is not a room name", room));
    RoomPin pin;
    if (what.starts_with(room_key::kVerifierPrefix)) {
      pin.verifier = what.substr(room_key::kVerifierPrefix.size());
      if (pin.verifier.size() != room_key::kVerifierChars || !protocol::is_key(pin.verifier)) {
        return fail("the verifier is not one (udpchat keygen --verifier prints it)");
      }
    } else if (what != "private") {
      return fail("say 'private' or the room's verifier after its name");
    }
    if (!parsed.pins.emplace(std::string(room), std::move(pin)).second) {
      return fail(fmt::format("room '{}' is named twice", room));
    }
  }
  return parsed;
}

}  // namespace udpchat::core
