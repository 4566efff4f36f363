// udpchat: one binary, four tools. This file only wires the command line; each subcommand lives
// in src/commands/ with its options, and add_commands (commands/command.cpp) lists them.
#include <CLI/CLI.hpp>

#include "commands/command.hpp"

int main(int argc, char** argv) {
  using namespace udpchat::commands;
  // Named, so that usage lines say `udpchat <command>` wherever the binary was started from.
  CLI::App app{"udpchat: a UDP chat relay, its client, a health probe and a load generator.",
               "udpchat"};
  Runner run;
  add_commands(app, run);
  return parse_and_run(app, argc, argv, run);
}
