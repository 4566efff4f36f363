// Each subcommand registers its options with CLI11 and leaves a runner for main to call.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/time.hpp"
#include "net/probe_client.hpp"

namespace udpchat::commands {

// Exit codes shared by every subcommand and documented in --help and the README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // no answer, or a run that did not succeed
inline constexpr int kExitUsage = 2;
inline constexpr int kExitRefused = 3;
inline constexpr int kExitUnresolved = 4;

using Runner = std::function<int()>;

// The exit code for how reaching a relay ended: the same for probe and bench.
int exit_code(net::ProbeStatus status);

void add_serve(CLI::App& app, Runner& run);
void add_chat(CLI::App& app, Runner& run);
void add_probe(CLI::App& app, Runner& run);
void add_bench(CLI::App& app, Runner& run);

// Parses the command line and runs the chosen subcommand; usage errors end in one
// "udpchat: error: ..." line and exit code 2.
int parse_and_run(CLI::App& app, int argc, char** argv, const Runner& run);

// The values a duration option may take: at least `min`, and below `below` when it is set;
// `why` says what the bounds protect, in the usage error.
struct DurationBounds {
  core::Duration min = core::Duration::zero();
  core::Duration below = core::Duration::max();
  std::string why;
};

// An option read as a duration (500ms, 10s, 2m), showing `target`'s value as its default.
CLI::Option* add_duration(CLI::App& app, const std::string& name, core::Duration& target,
                          const std::string& description, DurationBounds bounds = {});

// An option naming a room (1 to 32 of [A-Za-z0-9_-]); a bad name is a usage error.
CLI::Option* add_room(CLI::App& app, const std::string& name, std::string& target,
                      const std::string& description);

// Prints "udpchat: error: <message>" on stderr.
void print_error(const std::string& message);

}  // namespace udpchat::commands
