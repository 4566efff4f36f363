// Keys on disk: the relay's identity (its static key pair, serve --key-file) and the servers a
// client has pinned (known_servers, as ssh's known_hosts).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "protocol/noise.hpp"

namespace udpchat::net {

// Where a relay keeps its key without --key-file: the service's state directory
// ($STATE_DIRECTORY), else $XDG_STATE_HOME/udpchat, ~/.local/state/udpchat, or on Windows
// %LOCALAPPDATA%\udpchat. Empty when none of them is known.
std::string default_key_path();

// The key pair in `path`, created there (mode 0600, its directory too) when the file does not
// exist. `created` says which. Nothing, with `error` set, when it cannot be read or written.
std::optional<protocol::noise::KeyPair> load_or_create_key(const std::string& path, bool& created,
                                                           std::string& error);

// A secret file of the user's (a room key): its text; nothing, with `error` set, when it cannot
// be read or others can read it (as ssh refuses such a private key).
std::optional<std::string> read_secret(const std::string& path, std::string& error);
// Written once, mode 0600 from the first byte, never over an existing file.
bool write_secret(const std::string& path, const std::string& content, std::string& error);

// known_servers: one `<server> <key>` line per relay a client has talked to.
std::string default_known_servers_path();

// The key pinned for `server` ("host:port" as typed), if any. A file that cannot be read pins
// nothing.
std::optional<std::string> pinned_key(const std::string& path, std::string_view server);
// Pins `key` for `server` (trust on first use): one line appended, the folder made if need be.
bool pin_key(const std::string& path, std::string_view server, std::string_view key,
             std::string& error);

}  // namespace udpchat::net
