// `udpchat bench`: the load generator (not implemented yet).
#include "commands/command.hpp"

namespace udpchat::commands {

void add_bench(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("bench", "Load generator (not implemented yet)");
  cmd->allow_extras();
  cmd->callback([&run] {
    run = [] {
      print_error("bench is not implemented yet");
      return kExitUsage;
    };
  });
}

}  // namespace udpchat::commands
