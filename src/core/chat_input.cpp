#include "core/chat_input.hpp"

#include <charconv>

#include "protocol/message.hpp"
#include "protocol/text.hpp"

namespace udpchat::core {

std::string slash_help() {
  std::string help;
  for (const auto& command : kSlashCommands) {
    if (!help.empty()) help += ", ";
    help.append(command.usage).append(" ").append(command.help);
  }
  return help;
}

namespace {

std::uint64_t history_count(std::string_view argument) noexcept {
  if (argument.empty()) return 20;
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(argument.data(), argument.data() + argument.size(), n);
  return ec == std::errc{} && end == argument.data() + argument.size() ? n : 0;
}

}  // namespace

ChatInput parse_input(std::string_view line, InputMode mode) noexcept {
  const std::string_view text = protocol::strip(line);
  if (text.empty()) return input::Empty{};
  if (mode == InputMode::text) return input::Chat{text};
  if (mode == InputMode::terminal && text == protocol::kQuit) return input::Quit{};
  if (text.starts_with("//")) return input::Chat{text.substr(1)};
  if (!text.starts_with('/')) return input::Chat{text};
  const std::string_view word = text.substr(0, text.find(' '));
  const std::string_view argument = protocol::strip(text.substr(word.size()));
  for (const auto& command : kSlashCommands) {
    if (word != command.name) continue;
    switch (command.command) {
      case SlashCommand::join:
        return input::Join{argument};
      case SlashCommand::history:
        return input::History{history_count(argument)};
      // Words after /quit or /help make it another line: sent where chat is read.
      case SlashCommand::quit:
        return argument.empty() ? ChatInput{input::Quit{}} : ChatInput{input::Unknown{word}};
      case SlashCommand::help:
        return argument.empty() ? ChatInput{input::Help{}} : ChatInput{input::Unknown{word}};
    }
  }
  return input::Unknown{word};
}

}  // namespace udpchat::core
