// Who may enter a room. A room is open, or private to the holders of one room key: a join then
// carries a proof made with the key (protocol/room_key.hpp), and the room keeps the proof's
// verifier. The first member decides, for as long as the room lives on the node (members, or
// its history kept after them); an operator can pin a room's verifier, or mark it private so
// that nobody creates it open by mistake (`serve --rooms FILE`). Pure: no locks, no clock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace udpchat::core {

struct RoomPin {
  std::string verifier;  // empty: private, to whichever key its first member proves
};
using RoomPins = std::map<std::string, RoomPin, std::less<>>;

enum class Admission : std::uint8_t {
  admitted,
  private_room,  // no proof, or another key's: the room is private
  open_room,     // a proof, for a room that others share here without one
};

// `verifier` is what the join proved (empty: nothing); `current` is the room's while it lives
// (nullopt: the room is new, or kept open with no member, and takes the join's verifier).
constexpr Admission admit(const RoomPin* pin, std::optional<std::string_view> current,
                          std::string_view verifier) noexcept {
  if (pin != nullptr && verifier.empty()) return Admission::private_room;
  if (pin != nullptr && !pin->verifier.empty() && pin->verifier != verifier) {
    return Admission::private_room;
  }
  if (!current || *current == verifier) return Admission::admitted;
  return current->empty() ? Admission::open_room : Admission::private_room;
}

// `serve --rooms FILE`: one room a line, `<room> private` or `<room> <verifier>`; `#` starts a
// comment. An error names the line.
struct RoomPinsParsed {
  RoomPins pins;
  std::string error;  // empty when the file is good
};
RoomPinsParsed parse_room_pins(std::string_view text);

}  // namespace udpchat::core
