// udpchat: one binary, four tools. This file only wires the command line; each subcommand lives
// in src/commands/ with its options.
#include <CLI/CLI.hpp>

#include "commands/command.hpp"

int main(int argc, char** argv) {
  using namespace udpchat::commands;
  // Named, so that usage lines say `udpchat <command>` wherever the binary was started from.
  CLI::App app{"udpchat: a UDP chat relay, its client, a health probe and a load generator.",
               "udpchat"};
  app.set_version_flag("--version", UDPCHAT_VERSION);
  app.require_subcommand(1);

  Runner run;
  add_serve(app, run);  // the relay
  add_chat(app, run);   // the interactive client
  add_probe(app, run);  // the health check for scripts and CI
  add_bench(app, run);  // the load generator
  return parse_and_run(app, argc, argv, run);
}
