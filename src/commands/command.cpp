#include "commands/command.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>

#include "core/units.hpp"
#include "protocol/message.hpp"

namespace udpchat::commands {

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
