// The command line as a whole: what every command's options promise, checked on the CLI11
// definitions themselves (the man page is written from them).
#include <string>

#include "commands/command.hpp"
#include "support/catch.hpp"

TEST_CASE("every option of every command has help text", "[commands]") {
  CLI::App app{"udpchat", "udpchat"};
  udpchat::commands::Runner run;
  udpchat::commands::add_commands(app, run);
  std::size_t options = 0;
  for (const CLI::App* command : app.get_subcommands({})) {
    for (const CLI::Option* option : command->get_options()) {
      INFO("udpchat " << command->get_name() << " " << option->get_name(true, true));
      CHECK_FALSE(option->get_description().empty());
      ++options;
    }
  }
  CHECK(options > 40);
}
