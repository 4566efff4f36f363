#include "core/chat_input.hpp"

#include <charconv>

#include "protocol/message.hpp"
#include "protocol/text.hpp"

namespace udpchat::core {

ChatInput parse_input(std::string_view line, InputMode mode) noexcept {
  const std::string_view text = protocol::strip(line);
  if (text.empty()) return input::Empty{};
  if (mode == InputMode::text) return input::Chat{text};
  if (text == "/quit" || (mode == InputMode::terminal && text == protocol::kQuit)) {
    return input::Quit{};
  }
  if (text == "/help") return input::Help{};
  if (text == "/join" || text.starts_with("/join ")) {
    return input::Join{protocol::strip(text.substr(5))};
  }
  if (text == "/history" || text.starts_with("/history ")) {
    const std::string_view count = protocol::strip(text.substr(8));
    if (count.empty()) return input::History{20};
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
    return input::History{ec == std::errc{} && end == count.data() + count.size() ? n : 0};
  }
  if (text.starts_with("//")) return input::Chat{text.substr(1)};
  if (text.starts_with('/')) return input::Unknown{text.substr(0, text.find(' '))};
  return input::Chat{text};
}

}  // namespace udpchat::core
