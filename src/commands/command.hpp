// Each subcommand registers its options with CLI11 and leaves a runner for main to call.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.hpp"
#include "core/time.hpp"
#include "net/address.hpp"
#include "protocol/room_key.hpp"

namespace udpchat::commands {

using core::exit_code;
using core::kExitFailure;
using core::kExitKeyChanged;
using core::kExitNickTaken;
using core::kExitNotAdmitted;
using core::kExitOk;
using core::kExitRefused;
using core::kExitTooMuchLoss;
using core::kExitUnresolved;
using core::kExitUsage;

using Runner = std::function<int()>;

void add_serve(CLI::App& app, Runner& run);
void add_chat(CLI::App& app, Runner& run);
void add_probe(CLI::App& app, Runner& run);
void add_bench(CLI::App& app, Runner& run);
void add_keygen(CLI::App& app, Runner& run);

// Every subcommand on `app`, with --version: what main runs and what the man page is made from.
void add_commands(CLI::App& app, Runner& run);

// Parses the command line and runs the chosen subcommand; usage errors end in one
// "udpchat: error: ..." line and exit code 2.
int parse_and_run(CLI::App& app, int argc, char** argv, const Runner& run);

// How an option's text reads as a value (core/units) and how the value shows as its default.
struct ValueKind {
  std::optional<double> (*parse)(std::string_view);
  std::string (*format)(double);
  const char* type;  // in --help: N/s, BYTES
  const char* what;  // in the usage error for a bad value: "a rate", with examples
  const char* examples;
  bool off = false;  // "off" reads as 0, and 0 shows as off
};
extern const ValueKind kRate;        // 200/s, 1000, off
extern const ValueKind kBytes;       // 64M, 256K, 1500
extern const ValueKind kBytesOrOff;  // 64K, 1M, off
extern const ValueKind kByteRate;    // 500K, 10M/s, off

// An option of kind `kind`: `set` takes the value read, `current` shows as the default.
CLI::Option* add_value(CLI::App& app, const std::string& name, std::function<void(double)> set,
                       double current, const ValueKind& kind, const std::string& description);
// The same, stored in `target` (a double, or a count).
template <class T>
CLI::Option* add_value(CLI::App& app, const std::string& name, T& target, const ValueKind& kind,
                       const std::string& description) {
  return add_value(
      app, name, [&target](double value) { target = static_cast<T>(value); },
      static_cast<double>(target), kind, description);
}

// The values a duration option may take: at least `min`, and below `below` when it is set;
// `why` says what the bounds protect, in the usage error.
struct DurationBounds {
  core::Duration min = core::Duration::zero();
  core::Duration below = core::Duration::max();
  std::string why;
  bool off = false;  // "off" reads as zero, and zero shows as off
};

// An option read as a duration (500ms, 10s, 2m), showing `target`'s value as its default.
CLI::Option* add_duration(CLI::App& app, const std::string& name, core::Duration& target,
                          const std::string& description, DurationBounds bounds = {});

// A numeric option from `min` to `max`. Bad values get plain errors ("'abc' is not a number",
// "'0' is below 1"), and --help shows `type` (N, RATE) rather than CLI11's range notation.
CLI::Option* add_number(CLI::App& app, const std::string& name, double& target, double min,
                        double max, const std::string& description, const std::string& type = "N");
CLI::Option* add_count(CLI::App& app, const std::string& name, int& target, int min, int max,
                       const std::string& description);
CLI::Option* add_count(CLI::App& app, const std::string& name, std::size_t& target, std::size_t min,
                       std::size_t max, const std::string& description);

// -q/--quiet means one thing in every command: only results and problems; no progress, status
// or routine log lines.
CLI::Option* add_quiet(CLI::App& app, bool& target, const std::string& what_stays);

// An option naming a room (1 to 32 of [A-Za-z0-9_-]); a bad name is a usage error.
CLI::Option* add_room(CLI::App& app, const std::string& name, std::string& target,
                      const std::string& description);

// Which relay key a client expects (chat, probe, bench): --server-key, else its pin in
// known_servers; a key first seen is pinned there (trust on first use, as ssh's known_hosts).
struct KeyOptions {
  std::string server_key;
  std::string known_servers;  // empty: net::default_known_servers_path()
};
void add_key_options(CLI::App& app, KeyOptions& options);
// A private room's key: --room-key-file, --passphrase-file, else UDPCHAT_ROOM_KEY.
struct RoomKeyOptions {
  std::string key_file;
  std::string passphrase_file;
  std::string previous_key_file;  // chat: the room's key before this one
};
void add_room_key_options(CLI::App& app, RoomKeyOptions& options);
// chat's --previous-room-key-file: a key change (a new epoch), and earlier lines readable.
void add_previous_room_key_option(CLI::App& app, RoomKeyOptions& options);
// The key for `room` when one is given (nullptr when none is), or an error said in `error`.
std::shared_ptr<const protocol::room_key::RoomKey> room_key_of(const RoomKeyOptions& options,
                                                               std::string_view room,
                                                               std::string& error);
// The key before, when --previous-room-key-file gives one (and a room key is given too).
std::shared_ptr<const protocol::room_key::RoomKey> previous_room_key_of(
    const RoomKeyOptions& options, bool has_key, std::string& error);
// What is known of `server`'s key before the first datagram. `pin_to`: where a key first seen
// is pinned (empty: it is not, as with --server-key).
struct ExpectedKey {
  std::string key;     // empty: none known yet
  std::string pin_to;  // the known_servers file a new key goes to
};
ExpectedKey expected_key(const KeyOptions& options, std::string_view server);
// The name a target is pinned under: HOST:PORT as typed ([IPV6]:PORT).
std::string pin_name(const net::HostPort& target);
// The error for a relay whose key is not the one expected: which key, which file, what to do.
std::string key_changed_error(std::string_view server, std::string_view offered,
                              const KeyOptions& options, const ExpectedKey& expected);

// Prints "udpchat: error: <message>" on stderr.
void print_error(const std::string& message);

}  // namespace udpchat::commands
