// Keys on the command line: the relay's (pinned or given) and a private room's.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "commands/command.hpp"
#include "net/key_store.hpp"
#include "protocol/message.hpp"

namespace udpchat::commands {

void add_key_options(CLI::App& app, KeyOptions& options) {
  app.add_option("--server-key", options.server_key,
                 "The relay's key (serve --show-key): anything else is refused, exit 7; "
                 "known_servers is not read or written")
      ->type_name("KEY")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            if (protocol::is_key(text)) return {};
            return "a relay key is 43 characters of [A-Za-z0-9_-], as serve --show-key prints it";
          },
          "KEY"));
  app.add_option("--known-servers", options.known_servers,
                 "Where relay keys are pinned on first use, one 'HOST:PORT KEY' a line [default: "
                 "~/.config/udpchat/known_servers]")
      ->type_name("FILE");
}

void add_room_key_options(CLI::App& app, RoomKeyOptions& options) {
  auto* file = app.add_option("--room-key-file", options.key_file,
                              "A private room: its key (udpchat keygen), and every line of --room "
                              "sealed end to end with it [default: $UDPCHAT_ROOM_KEY, the key]")
                   ->type_name("FILE");
  app.add_option("--passphrase-file", options.passphrase_file,
                 "A private room whose key is derived from the passphrase in FILE (Argon2id, "
                 "salted with the room's name)")
      ->type_name("FILE")
      ->excludes(file);
}

void add_previous_room_key_option(CLI::App& app, RoomKeyOptions& options) {
  app.add_option("--previous-room-key-file", options.previous_key_file,
                 "The room's key before --room-key-file's: the room moves to the new key (its "
                 "members on this one are told), and lines sealed under this one still open")
      ->type_name("FILE");
}

std::shared_ptr<const protocol::room_key::RoomKey> previous_room_key_of(
    const RoomKeyOptions& options, bool has_key, std::string& error) {
  if (options.previous_key_file.empty()) return nullptr;
  if (!has_key) {
    error =
        "--previous-room-key-file changes a room's key: give the new one too "
        "(--room-key-file, --passphrase-file or UDPCHAT_ROOM_KEY)";
    return nullptr;
  }
  std::optional<std::string> text = net::read_secret(options.previous_key_file, error);
  if (!text) return nullptr;
  auto key = protocol::room_key::RoomKey::parse(*text);
  std::fill(text->begin(), text->end(), '\0');
  if (!key) {
    error = options.previous_key_file + " holds no room key";
    return nullptr;
  }
  return std::make_shared<const protocol::room_key::RoomKey>(std::move(*key));
}

std::shared_ptr<const protocol::room_key::RoomKey> room_key_of(const RoomKeyOptions& options,
                                                               std::string_view room,
                                                               std::string& error) {
  namespace room_key = protocol::room_key;
  const char* from_env = std::getenv("UDPCHAT_ROOM_KEY");
  const bool given = !options.key_file.empty() || !options.passphrase_file.empty() ||
                     (from_env != nullptr && *from_env != '\0');
  if (!given) return nullptr;
  if (room.empty()) {
    error = "a room key is a room's: name the room with --room";
    return nullptr;
  }
  std::optional<room_key::RoomKey> key;
  if (!options.passphrase_file.empty()) {
    std::optional<std::string> text = net::read_secret(options.passphrase_file, error);
    if (!text) return nullptr;
    while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
    if (text->empty()) {
      error = options.passphrase_file + " holds no passphrase";
      return nullptr;
    }
    key = room_key::RoomKey::from_passphrase(*text, room);
    std::fill(text->begin(), text->end(), '\0');
    if (!key) error = "not enough memory to derive the key (Argon2id needs 256 MiB)";
  } else {
    std::optional<std::string> text = options.key_file.empty()
                                          ? std::optional<std::string>(from_env)
                                          : net::read_secret(options.key_file, error);
    if (!text) return nullptr;
    key = room_key::RoomKey::parse(*text);
    std::fill(text->begin(), text->end(), '\0');
    if (!key) {
      error = fmt::format(
          "{} holds no room key (a line '{}' and 43 characters, from udpchat "
          "keygen)",
          options.key_file.empty() ? "UDPCHAT_ROOM_KEY" : options.key_file, room_key::kKeyPrefix);
    }
  }
  if (!key) return nullptr;
  return std::make_shared<const room_key::RoomKey>(std::move(*key));
}

ExpectedKey expected_key(const KeyOptions& options, std::string_view server) {
  if (!options.server_key.empty()) return {options.server_key, {}};
  const std::string path =
      options.known_servers.empty() ? net::default_known_servers_path() : options.known_servers;
  if (path.empty()) return {};
  return {net::pinned_key(path, server).value_or(std::string{}), path};
}

std::string pin_name(const net::HostPort& target) {
  if (target.host.find(':') != std::string::npos) {
    return fmt::format("[{}]:{}", target.host, target.port);
  }
  return fmt::format("{}:{}", target.host, target.port);
}

std::string key_changed_error(std::string_view server, std::string_view offered,
                              const KeyOptions& options, const ExpectedKey& expected) {
  const std::string source = options.server_key.empty()
                                 ? fmt::format("the key pinned in {}", expected.pin_to)
                                 : std::string("--server-key");
  if (offered.empty()) {
    return fmt::format(
        "the relay at {} no longer offers a sealed session, but {} says it has a key: "
        "refusing to talk to it in the clear (someone may be in the middle)",
        server, source);
  }
  const std::string remedy =
      options.server_key.empty()
          ? fmt::format("If its operator replaced the key, remove the line for {} from {}", server,
                        expected.pin_to)
          : std::string("If its operator replaced the key, pass the new one with --server-key");
  return fmt::format(
      "the relay at {} changed its key: it offers {}, not {} ({}). {}; otherwise "
      "someone may be in the middle",
      server, offered, expected.key, source, remedy);
}

}  // namespace udpchat::commands
