#include "commands/chat_words.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/units.hpp"
#include "protocol/text.hpp"

namespace udpchat::commands {

namespace event = core::event;

std::string_view unreadable_reason(protocol::room_key::Opened why, bool for_people) {
  switch (why) {
    case protocol::room_key::Opened::other_key:
      return for_people ? "sealed under another room key (ask the room for the current one)"
                        : "other_key";
    case protocol::room_key::Opened::not_sealed:
      return for_people ? "sent in the clear, which no member does" : "not_sealed";
    case protocol::room_key::Opened::ok:
    case protocol::room_key::Opened::forged:
      break;
  }
  return for_people ? "they do not open under the room key (altered on the way, or forged)"
                    : "forged";
}

std::string_view code_of(core::JoinTrouble why) {
  switch (why) {
    case core::JoinTrouble::none:
      return "joining";
    case core::JoinTrouble::server_full:
      return "server_full";
    case core::JoinTrouble::not_member:
      return "not_member";
    case core::JoinTrouble::silent:
      return "silent";
    case core::JoinTrouble::no_cookie:
      return "no_cookie";
    case core::JoinTrouble::server_closed:
      return "server_closed";
  }
  return "joining";
}

std::string_view code_of(core::Unsent why) {
  switch (why) {
    case core::Unsent::room_refused:
      return "room_refused";
    case core::Unsent::stale_room:
      return "stale_room";
    case core::Unsent::needs_numbering:
      return "needs_numbering";
    case core::Unsent::overloaded:
      return "overloaded";
  }
  return "unsent";
}

std::string_view code_of(net::ClientNotice what) {
  switch (what) {
    case net::ClientNotice::joining:
      return "connecting";
    case net::ClientNotice::help:
      return "help";
    case net::ClientNotice::unknown_command:
      return "unknown_command";
    case net::ClientNotice::refused_line:
      return "refused_line";
    case net::ClientNotice::bad_room:
      return "bad_room";
    case net::ClientNotice::same_room:
      return "same_room";
    case net::ClientNotice::pin_failed:
      return "pin_failed";
    case net::ClientNotice::no_history:
      return "no_history";
    case net::ClientNotice::input_paused:
      return "input_paused";
    case net::ClientNotice::stopped:
      return "stopped";
  }
  return "notice";
}

// For the person at the keyboard (or reading a script's log): what each event means.
std::string describe(const event::Joining& joining, bool script) {
  switch (joining.why) {
    case core::JoinTrouble::none:
      return "joining…";
    case core::JoinTrouble::server_full:
      return fmt::format(
          "server full: retrying (next in {}); typed lines wait",
          core::format_duration(std::chrono::round<std::chrono::milliseconds>(joining.retry_in)));
    case core::JoinTrouble::not_member:
      return "the server no longer knows us (restarted?): rejoining; unacknowledged lines "
             "will be sent again";
    case core::JoinTrouble::silent:
      return "server not answering, rejoining";
    case core::JoinTrouble::no_cookie:
      return "the server speaks udpchat after all: joining";
    case core::JoinTrouble::server_closed:
      return script ? "the server closed the chat: waiting --linger for it to come back"
                    : "the server closed the chat: rejoining when it is back (retries at most 30 "
                      "s apart); lines typed meanwhile wait";
  }
  return "joining…";
}

// 'first line', 'second' and 3 more.
std::string named(const std::vector<std::string>& texts) {
  constexpr std::size_t kNamed = 3;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < texts.size() && i < kNamed; ++i) {
    names.push_back("'" + protocol::printable(texts[i]) + "'");
  }
  std::string out = fmt::format("{}", fmt::join(names, ", "));
  if (texts.size() > kNamed) out += fmt::format(" and {} more", texts.size() - kNamed);
  return out;
}

std::string describe(const event::LinesUnsent& unsent, const std::string& room) {
  switch (unsent.why) {
    case core::Unsent::room_refused:
      return fmt::format("{} line(s) typed after that /join not sent; still in room {}: {}",
                         unsent.count, room, named(unsent.texts));
    case core::Unsent::stale_room:
      return fmt::format(
          "{} unacknowledged line(s) not sent again: meant for a room since left: {}", unsent.count,
          named(unsent.texts));
    case core::Unsent::needs_numbering:
      return fmt::format(
          "{} line(s) not sent: they read as protocol commands, and this server "
          "does not number lines (the only way to send such text): {}",
          unsent.count, named(unsent.texts));
    case core::Unsent::overloaded:
      return fmt::format("{} line(s) given up: the relay did not take them in time: {}",
                         unsent.count, named(unsent.texts));
  }
  return {};
}

}  // namespace udpchat::commands
