#include "commands/command.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "core/units.hpp"
#include "protocol/message.hpp"

namespace udpchat::commands {

void print_error(const std::string& message) {
  fmt::print(stderr, "udpchat: error: {}\n", message);
}

CLI::Option* add_duration(CLI::App& app, const std::string& name, core::Duration& target,
                          const std::string& description, DurationBounds bounds) {
  auto* option = app.add_option_function<std::string>(
      name, [&target](const std::string& text) { target = *core::parse_duration(text); },
      description);
  option->type_name("DURATION");
  option->default_str(core::format_duration(target));
  option->check(CLI::Validator(
      [bounds](std::string& text) -> std::string {
        const auto value = core::parse_duration(text);
        if (!value) return fmt::format("'{}' is not a duration (examples: 500ms, 10s, 2m)", text);
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
