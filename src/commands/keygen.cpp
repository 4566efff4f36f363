// `udpchat keygen`: a new room key for a private room (protocol/room_key.hpp), written to a file
// only its owner can read, or printed.
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "commands/command.hpp"
#include "net/key_store.hpp"
#include "protocol/room_key.hpp"

namespace udpchat::commands {

namespace {

struct KeygenOptions {
  std::string path;  // empty: standard output
  bool verifier = false;
  std::string room;
  RoomKeyOptions keys;
};

// The line of a `serve --rooms` file that lets only the key's holders into the room.
int print_verifier(const KeygenOptions& options) {
  namespace room_key = protocol::room_key;
  std::string error;
  const auto key = room_key_of(options.keys, options.room, error);
  if (!error.empty()) {
    print_error(error);
    return kExitUsage;
  }
  if (!key) {
    print_error(
        "--verifier needs the room's key: --room-key-file, --passphrase-file or UDPCHAT_ROOM_KEY");
    return kExitUsage;
  }
  fmt::print("{} {}{}\n", options.room, room_key::kVerifierPrefix,
             key->for_room(options.room).verifier);
  return kExitOk;
}

int run_keygen(const KeygenOptions& options) {
  if (options.verifier) return print_verifier(options);
  std::string text = protocol::room_key::RoomKey::generate().format() + "\n";
  if (options.path.empty()) {
    fmt::print("{}", text);
    return kExitOk;
  }
  std::string error;
  const bool written = net::write_secret(options.path, text, error);
  std::fill(text.begin(), text.end(), '\0');
  if (!written) {
    print_error(error);
    return kExitFailure;
  }
  fmt::print(stderr,
             "udpchat: room key written to {} (mode 0600): give it to the room's "
             "members only, over a channel you trust\n",
             options.path);
  return kExitOk;
}

}  // namespace

void add_keygen(CLI::App& app, Runner& run) {
  auto options = std::make_shared<KeygenOptions>();
  auto* cmd = app.add_subcommand("keygen", "Make a room key for a private room");
  cmd->footer(
      "Writes a new random room key to FILE (mode 0600; an existing file is never written\n"
      "over), or prints it. Members give it to chat and bench with --room-key-file FILE or\n"
      "UDPCHAT_ROOM_KEY; every line of the room is then sealed end to end with it, and\n"
      "neither the relay nor another node can read one.\n"
      "Examples:\n"
      "  udpchat keygen ops.key && udpchat chat --nick alice --room ops --room-key-file ops.key\n"
      "  UDPCHAT_ROOM_KEY=\"$(udpchat keygen)\" udpchat chat --nick ci --room ops -m done\n"
      "With --verifier it makes no key: it prints the line of a `serve --rooms` file that\n"
      "admits only the holders of the given key to the room (the verifier is public):\n"
      "  udpchat keygen --verifier --room ops --room-key-file ops.key >> rooms.conf");
  auto* file =
      cmd->add_option("file", options->path, "Where to write the key (default: standard output)")
          ->type_name("FILE");
  auto* verifier = cmd->add_flag("--verifier", options->verifier,
                                 "Print the room's verifier for serve --rooms instead")
                       ->excludes(file);
  add_room(*cmd, "--room", options->room, "The room of --verifier")->needs(verifier);
  add_room_key_options(*cmd, options->keys);
  cmd->callback([options, &run] { run = [options] { return run_keygen(*options); }; });
}

}  // namespace udpchat::commands
