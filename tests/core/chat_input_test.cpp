#include "core/chat_input.hpp"

#include <string>
#include <variant>

#include "support/catch.hpp"

using udpchat::core::ChatInput;
using udpchat::core::InputMode;
using udpchat::core::parse_input;
namespace input = udpchat::core::input;

namespace {

// The chat text a line would send, or "<command>" when it is not chat.
std::string sent_as(std::string_view line, InputMode mode) {
  const ChatInput parsed = parse_input(line, mode);
  if (const auto* chat = std::get_if<input::Chat>(&parsed)) return std::string(chat->text);
  return "<command>";
}

}  // namespace

TEST_CASE("piped text is chat whatever it says", "[core][input]") {
  for (const char* line : {"quit", "/quit", "/join ops", "/var/log/deploy.log uploaded", "//x",
                           "/history 3", "/help"}) {
    CHECK(sent_as(line, InputMode::text) == line);
  }
  CHECK(std::holds_alternative<input::Empty>(parse_input("  \t", InputMode::text)));
}

TEST_CASE("with --commands a script's slash commands are read, and a bare quit is text",
          "[core][input]") {
  CHECK(std::holds_alternative<input::Quit>(parse_input("/quit", InputMode::commands)));
  CHECK(sent_as("quit", InputMode::commands) == "quit");
  const auto join = parse_input("/join ops", InputMode::commands);
  REQUIRE(std::holds_alternative<input::Join>(join));
  CHECK(std::get<input::Join>(join).room == "ops");
  CHECK(sent_as("//slash", InputMode::commands) == "/slash");
  const auto unknown = parse_input("/var/log is full", InputMode::commands);
  REQUIRE(std::holds_alternative<input::Unknown>(unknown));
  CHECK(std::get<input::Unknown>(unknown).command == "/var/log");
}

TEST_CASE("a person at a terminal leaves with quit or /quit", "[core][input]") {
  CHECK(std::holds_alternative<input::Quit>(parse_input("quit", InputMode::terminal)));
  CHECK(std::holds_alternative<input::Quit>(parse_input(" /quit ", InputMode::terminal)));
  CHECK(std::get<input::History>(parse_input("/history", InputMode::terminal)).count == 20);
  CHECK(std::get<input::History>(parse_input("/history 5", InputMode::terminal)).count == 5);
  CHECK(std::get<input::History>(parse_input("/history x", InputMode::terminal)).count == 0);
}

TEST_CASE("every slash command in the table is read as itself and named in the help",
          "[core][input]") {
  const std::string help = udpchat::core::slash_help();
  for (const auto& command : udpchat::core::kSlashCommands) {
    INFO(command.name);
    CHECK(help.find(command.usage) != std::string::npos);
    const auto parsed = udpchat::core::parse_input(command.name, InputMode::commands);
    CHECK_FALSE(std::holds_alternative<udpchat::core::input::Unknown>(parsed));
    CHECK_FALSE(std::holds_alternative<udpchat::core::input::Chat>(parsed));
    // Where a script's text is read, it is a chat line like any other.
    CHECK(std::holds_alternative<udpchat::core::input::Chat>(
        udpchat::core::parse_input(command.name, InputMode::text)));
  }
}
