// `udpchat chat`: the interactive client (not implemented yet).
#include "commands/command.hpp"

namespace udpchat::commands {

void add_chat(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("chat", "Interactive chat client (not implemented yet)");
  cmd->allow_extras();
  cmd->callback([&run] {
    run = [] {
      print_error("chat is not implemented yet");
      return kExitUsage;
    };
  });
}

}  // namespace udpchat::commands
