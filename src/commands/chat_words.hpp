// What chat says for each kind of event, for people and as --json codes: the words both of
// chat's views use (chat_view.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/session_events.hpp"
#include "net/chat_client.hpp"
#include "protocol/room_key.hpp"

namespace udpchat::commands {

// Why a private room's line could not be read: for people, or as a --json reason.
std::string_view unreadable_reason(protocol::room_key::Opened why, bool for_people);
std::string_view code_of(core::JoinTrouble why);
std::string_view code_of(core::Unsent why);
std::string_view code_of(net::ClientNotice what);
std::string describe(const core::event::Joining& joining, bool script);
// A few of `texts`, quoted, and how many more.
std::string named(const std::vector<std::string>& texts);
std::string describe(const core::event::LinesUnsent& unsent, const std::string& room);

}  // namespace udpchat::commands
