#include "commands/command.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/units.hpp"
#include "protocol/message.hpp"

namespace udpchat::commands {

void add_commands(CLI::App& app, Runner& run) {
  app.set_version_flag("--version", UDPCHAT_VERSION);
  app.require_subcommand(1);
  add_serve(app, run);   // the relay
  add_chat(app, run);    // the interactive client
  add_probe(app, run);   // the health check for scripts and CI
  add_bench(app, run);   // the load generator
  add_keygen(app, run);  // a private room's key
}

void print_error(const std::string& message) {
  fmt::print(stderr, "udpchat: error: {}\n", message);
}

CLI::Option* add_duration(CLI::App& app, const std::string& name, core::Duration& target,
                          const std::string& description, DurationBounds bounds) {
  const bool off = bounds.off;
  auto* option = app.add_option_function<std::string>(
      name,
      [&target, off](const std::string& text) {
        target = off && text == "off" ? core::Duration::zero() : *core::parse_duration(text);
      },
      description);
  option->type_name("DURATION");
  option->default_str(off && target == core::Duration::zero() ? "off"
                                                              : core::format_duration(target));
  option->check(CLI::Validator(
      [bounds](std::string& text) -> std::string {
        if (bounds.off && text == "off") return {};
        const auto value = core::parse_duration(text);
        if (!value) {
          return fmt::format("'{}' is not a duration (examples: 500ms, 10s, 2m{})", text,
                             bounds.off ? ", off" : "");
        }
        const std::string why = bounds.why.empty() ? "" : ": " + bounds.why;
        if (*value < bounds.min) {
          return fmt::format("'{}' is too short: at least {}{}", text,
                             core::format_duration(bounds.min), why);
        }
        if (*value >= bounds.below) {
          return fmt::format("'{}' is too long: it must be below {}{}", text,
                             core::format_duration(bounds.below), why);
        }
        return {};
      },
      ""));
  return option;
}

const ValueKind kRate{&core::parse_rate, &core::format_rate, "N/s",
                      "a rate",          "200/s, 1000, off", true};
const ValueKind kBytes{&core::parse_bytes, &core::format_bytes, "BYTES", "a size in bytes",
                       "64M, 256K, 1500"};
const ValueKind kBytesOrOff{&core::parse_bytes, &core::format_bytes, "BYTES",
                            "a size in bytes",  "64K, 1M, off",      true};
const ValueKind kByteRate{&core::parse_byte_rate, &core::format_byte_rate, "BYTES/s",
                          "a byte rate",          "500K, 10M/s, off",      true};

CLI::Option* add_value(CLI::App& app, const std::string& name, std::function<void(double)> set,
                       double current, const ValueKind& kind, const std::string& description) {
  auto read = [kind](std::string_view text) -> std::optional<double> {
    if (kind.off && text == "off") return 0.0;
    return kind.parse(text);
  };
  auto* option = app.add_option_function<std::string>(
      name, [set = std::move(set), read](const std::string& text) { set(*read(text)); },
      description);
  option->type_name(kind.type);
  option->default_str(kind.off && current == 0 ? "off" : kind.format(current));
  option->check(CLI::Validator(
      [read, what = std::string(kind.what),
       examples = std::string(kind.examples)](std::string& text) -> std::string {
        if (read(text)) return {};
        return fmt::format("'{}' is not {} (examples: {})", text, what, examples);
      },
      ""));
  return option;
}

namespace {

// Checks a number's text against [min, max]; `whole`: no fraction allowed.
CLI::Validator number_check(double min, double max, bool whole) {
  return CLI::Validator(
      [min, max, whole](std::string& text) -> std::string {
        const auto value = core::parse_number(text);
        if (!value || (whole && *value != static_cast<double>(static_cast<long long>(*value)))) {
          return fmt::format("'{}' is not {}", text, whole ? "a whole number" : "a number");
        }
        if (*value < min) return fmt::format("'{}' is below {}", text, min);
        if (*value > max) return fmt::format("'{}' is above {}", text, max);
        return {};
      },
      "");
}

}  // namespace

CLI::Option* add_number(CLI::App& app, const std::string& name, double& target, double min,
                        double max, const std::string& description, const std::string& type) {
  return app.add_option(name, target, description)
      ->capture_default_str()
      ->type_name(type)
      ->check(number_check(min, max, false));
}

CLI::Option* add_count(CLI::App& app, const std::string& name, int& target, int min, int max,
                       const std::string& description) {
  return app.add_option(name, target, description)
      ->capture_default_str()
      ->type_name("N")
      ->check(number_check(min, max, true));
}

CLI::Option* add_count(CLI::App& app, const std::string& name, std::size_t& target, std::size_t min,
                       std::size_t max, const std::string& description) {
  return app.add_option(name, target, description)
      ->capture_default_str()
      ->type_name("N")
      ->check(number_check(static_cast<double>(min), static_cast<double>(max), true));
}

CLI::Option* add_quiet(CLI::App& app, bool& target, const std::string& what_stays) {
  return app.add_flag(
      "-q,--quiet", target,
      "Only results and problems: no progress, status or routine lines (" + what_stays + ")");
}

CLI::Option* add_room(CLI::App& app, const std::string& name, std::string& target,
                      const std::string& description) {
  return app.add_option(name, target, description)
      ->type_name("ROOM")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            if (protocol::is_room(text)) return {};
            return fmt::format("'{}' is not a room name: use 1 to 32 of A-Z a-z 0-9 _ -", text);
          },
          ""));
}

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The long option of `command` that `word` most likely meant: the only one it begins, or one
// an edit or two away (a third of the name at most). Empty when none is near.
std::string nearest_option(const CLI::App& command, std::string_view word) {
  const std::string_view name = word.substr(0, word.find('='));
  std::vector<std::string> longs;
  for (const CLI::Option* option : command.get_options()) {
    for (const auto& lname : option->get_lnames()) longs.push_back("--" + lname);
  }
  std::vector<std::string> prefixed;
  for (const auto& option : longs) {
    if (name.size() > 2 && option.starts_with(name)) prefixed.push_back(option);
  }
  if (prefixed.size() == 1) return prefixed.front();
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, name.size() / 3) + 1;
  for (const auto& option : longs) {
    const std::size_t distance = edit_distance(name, option);
    if (distance < best_distance) {
      best_distance = distance;
      best = option;
    }
  }
  return best;
}

// CLI11 says only that an argument was not expected: say which option was likely meant.
std::string explain_extras(const CLI::App& app, const CLI::ExtrasError& error,
                           const char* command) {
  const std::string_view what = error.what();
  const auto colon = what.find(": ");
  if (colon == std::string_view::npos) return std::string(what);
  const CLI::App* sub = nullptr;
  if (command != nullptr) {
    for (const CLI::App* candidate : app.get_subcommands({})) {
      if (candidate->get_name() == command) sub = candidate;
    }
  }
  // CLI11 lists them last first.
  std::vector<std::string_view> words;
  for (std::string_view rest = what.substr(colon + 2); !rest.empty();) {
    const std::string_view word = rest.substr(0, rest.find(' '));
    rest.remove_prefix(std::min(rest.size(), word.size() + 1));
    if (!word.empty()) words.insert(words.begin(), word);
  }
  std::vector<std::string> lines;
  for (const std::string_view word : words) {
    if (!word.starts_with('-')) {
      lines.push_back(fmt::format("unexpected argument '{}'", word));
      continue;
    }
    const std::string nearest =
        sub != nullptr ? nearest_option(*sub, word) : nearest_option(app, word);
    lines.push_back(
        fmt::format("unknown option '{}'{}{}", word,
                    sub != nullptr ? fmt::format(" for 'udpchat {}'", command) : "",
                    nearest.empty() ? "" : fmt::format(" (did you mean {}?)", nearest)));
  }
  return fmt::format("{}", fmt::join(lines, "; "));
}

}  // namespace

int parse_and_run(CLI::App& app, int argc, char** argv, const Runner& run) {
  // A first word that is no command is said so, not "a subcommand is required".
  std::vector<std::string> names;
  for (const auto* command : app.get_subcommands({})) names.push_back(command->get_name());
  if (argc > 1 && argv[1][0] != '-' &&
      std::find(names.begin(), names.end(), argv[1]) == names.end()) {
    print_error(
        fmt::format("unknown command '{}' (commands: {})", argv[1], fmt::join(names, ", ")));
    fmt::print(stderr, "Run 'udpchat --help' for usage.\n");
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    print_error(explain_extras(app, e, argc > 1 && argv[1][0] != '-' ? argv[1] : nullptr));
    fmt::print(stderr, "Run 'udpchat --help' or 'udpchat <command> --help' for usage.\n");
    return kExitUsage;
  } catch (const CLI::ParseError& e) {
    print_error(e.what());
    fmt::print(stderr, "Run 'udpchat --help' or 'udpchat <command> --help' for usage.\n");
    return kExitUsage;
  }
  if (!run) return kExitUsage;
  try {
    return run();
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitFailure;
  }
}

}  // namespace udpchat::commands
