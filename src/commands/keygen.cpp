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
};

int run_keygen(const KeygenOptions& options) {
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
      "  UDPCHAT_ROOM_KEY=\"$(udpchat keygen)\" udpchat chat --nick ci --room ops -m done");
  cmd->add_option("file", options->path, "Where to write the key (default: standard output)")
      ->type_name("FILE");
  cmd->callback([options, &run] { run = [options] { return run_keygen(*options); }; });
}

}  // namespace udpchat::commands
