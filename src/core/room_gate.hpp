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
  handed_over,   // admitted, and the room moves to the join's key: a new epoch
  private_room,  // no proof, or another key's: the room is private
  open_room,     // a proof, for a room that others share here without one
  old_key,       // a proof under the key the room had before its current one
};

// What a room's gate knows while the room lives. `current` nullopt: the room is new, or kept
// open with no member, and takes the join's verifier.
struct Gate {
  std::optional<std::string_view> current;
  std::string_view previous;  // the verifier before a handover; empty: none
};

// `verifier` is what the join proved (empty: nothing); `handover_from` the verifier whose key
// signed the join's handover to it (empty: none).
constexpr Admission admit(const RoomPin* pin, Gate gate, std::string_view verifier,
                          std::string_view handover_from = {}) noexcept {
  if (pin != nullptr && verifier.empty()) return Admission::private_room;
  // A pinned key changes in the rooms file, never by a join.
  if (pin != nullptr && !pin->verifier.empty() && pin->verifier != verifier) {
    return Admission::private_room;
  }
  if (!gate.current || *gate.current == verifier) return Admission::admitted;
  if (gate.current->empty()) return Admission::open_room;
  if (!verifier.empty() && !handover_from.empty() && handover_from == *gate.current) {
    return Admission::handed_over;
  }
  if (!verifier.empty() && verifier == gate.previous) return Admission::old_key;
  return Admission::private_room;
}

// `serve --rooms FILE`: one room a line, `<room> private` or `<room> <verifier>`; `#` starts a
// comment. An error names the line.
struct RoomPinsParsed {
  RoomPins pins;
  std::string error;  // empty when the file is good
};
RoomPinsParsed parse_room_pins(std::string_view text);

}  // namespace udpchat::core
