#include "core/chat_input.hpp"

#include "protocol/message.hpp"
#include "protocol/text.hpp"

namespace udpchat::core {

ChatInput parse_input(std::string_view line) noexcept {
  const std::string_view text = protocol::strip(line);
  if (text.empty()) return input::Empty{};
  if (text == "/quit" || text == protocol::kQuit) return input::Quit{};
  if (text == "/help") return input::Help{};
  if (text == "/join" || text.starts_with("/join ")) {
    return input::Join{protocol::strip(text.substr(5))};
  }
  if (text.starts_with("//")) return input::Chat{text.substr(1)};
  if (text.starts_with('/')) return input::Unknown{text.substr(0, text.find(' '))};
  return input::Chat{text};
}

}  // namespace udpchat::core
