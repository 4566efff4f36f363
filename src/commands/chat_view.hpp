// How `chat` shows what happens: lines for people (TextView) or one JSON object per event for
// scripts (JsonView). Both take the session's events and the client's own notices.
#pragma once

#include <memory>
#include <string>

#include "net/chat_client.hpp"
#include "net/output.hpp"
#include "net/terminal.hpp"

namespace udpchat::commands {

// On a terminal (`terminal` not null) through the line editor, else plain lines on stdout
// (messages) and stderr (everything else), through `output`.
// `quiet`: messages and problems only, no status lines (joining, joined, room changes).
// `script`: nobody types (a pipe, -m, --listen): what is said fits a script's lifetime.
std::unique_ptr<net::ChatView> make_text_view(net::Terminal* terminal, net::OutputQueue& output,
                                              std::string nick, bool quiet = false,
                                              bool script = false);
std::unique_ptr<net::ChatView> make_json_view(net::OutputQueue& output, std::string nick);

}  // namespace udpchat::commands
