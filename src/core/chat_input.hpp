// What a line typed into `chat` asks for: a chat line or one of the client's commands. Pure.
#pragma once

#include <cstdint>
#include <string_view>
#include <variant>

namespace udpchat::core {

namespace input {
struct Chat {
  std::string_view text;  // `//text` arrives here as `/text`
};
struct Join {
  std::string_view room;  // not yet checked against the room rules
};
struct History {
  std::uint64_t count = 0;  // 0: the text after /history is not a number
};
struct Quit {};
struct Help {};
struct Unknown {
  std::string_view command;  // the first word, slash included
};
struct Empty {};
}  // namespace input

using ChatInput = std::variant<input::Chat, input::Join, input::History, input::Quit, input::Help,
                               input::Unknown, input::Empty>;

// `/join ROOM`, `/history [N]` (20 by default), `/quit` (or a bare `quit`, as the original
// client had it), `/help`; `//text`
// sends `/text`; any other line starting with `/` is an unknown command.
ChatInput parse_input(std::string_view line) noexcept;

}  // namespace udpchat::core
