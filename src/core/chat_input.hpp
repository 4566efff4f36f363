// What a line given to `chat` asks for: a chat line or one of the client's commands. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace udpchat::core {

namespace input {
struct Chat {
  std::string_view text;  // `//text` arrives here as `/text` where commands are read
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

// How input lines are read. A script's text is chat whatever it says: a log line reading `quit`
// or starting with `/` is posted, never obeyed.
enum class InputMode : std::uint8_t {
  text,      // every line is a chat line, as written (piped input, -m)
  commands,  // slash commands too (--commands): /join, /history, /quit, /help, //text
  terminal,  // a person typing: slash commands, and a bare `quit` leaves, as the original client
             // had it
};

enum class SlashCommand : std::uint8_t { join, history, quit, help };

// The slash commands, from which parsing, /help and `chat --help` are made: to add one, a row
// here, its input type above and its case in parse_input, then what it does in net/chat_client.
struct SlashCommandInfo {
  SlashCommand command;
  std::string_view name;   // what is typed, slash included
  std::string_view usage;  // with its argument
  std::string_view help;
};

inline constexpr SlashCommandInfo kSlashCommands[] = {
    {SlashCommand::join, "/join", "/join ROOM", "moves to another room"},
    {SlashCommand::history, "/history", "/history [N]", "shows the room's last N lines (20)"},
    {SlashCommand::quit, "/quit", "/quit", "leaves"},
    {SlashCommand::help, "/help", "/help", "shows this"},
};

// Every command's usage and help, in the table's order: "/join ROOM moves to another room, ...".
std::string slash_help();

// `/join ROOM`, `/history [N]` (20 by default), `/quit`, `/help`; `//text` sends `/text`; any
// other line starting with `/` is an unknown command. Only where `mode` reads commands.
ChatInput parse_input(std::string_view line, InputMode mode) noexcept;

}  // namespace udpchat::core
