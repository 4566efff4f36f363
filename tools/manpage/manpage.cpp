// Writes udpchat.1 from its template (docs/udpchat.1.in, configured) and the options themselves:
// each `.\" @options COMMAND` line becomes that command's options, as CLI11 knows them, so the
// man page cannot miss or misstate one. An option without help text stops the build.
// Usage: udpchat_manpage TEMPLATE OUTPUT
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <vector>
#include <iostream>
#include <sstream>
#include <string>

#include "commands/command.hpp"

namespace {

// Text as roff shows it: backslashes and hyphens escaped, no line read as a request.
std::string roff(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  if (!out.empty() && (out.front() == '.' || out.front() == '\'')) out.insert(0, "\\&");
  return out;
}

// `.TP` entries for every option of `command` but --help; false when one has no help text.
bool write_options(std::ostream& out, const CLI::App& command) {
  bool complete = true;
  for (const CLI::Option* option : command.get_options()) {
    if (option == command.get_help_ptr()) continue;
    const std::string names = option->get_name(true, true);
    if (option->get_description().empty()) {
      std::cerr << fmt::format("udpchat_manpage: udpchat {} {} has no help text\n",
                               command.get_name(), names);
      complete = false;
    }
    out << ".TP\n";
    std::string head;
    if (option->nonpositional()) {
      std::string_view rest = names;
      while (!rest.empty()) {
        const std::string_view name = rest.substr(0, rest.find(','));
        rest.remove_prefix(std::min(rest.size(), name.size() + 1));
        head += fmt::format("{}\\fB{}\\fR", head.empty() ? "" : ", ", roff(name));
      }
      if (option->get_type_size() != 0) head += fmt::format(" \\fI{}\\fR", roff(option->get_type_name()));
    } else {
      head = fmt::format("\\fI{}\\fR", roff(option->get_type_name()));
    }
    out << head << "\n" << roff(option->get_description());
    const std::string fallback = option->get_default_str();
    if (!fallback.empty()) out << " (default: " << roff(fallback) << ")";
    out << "\n";
  }
  return complete;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: udpchat_manpage TEMPLATE OUTPUT\n";
    return 2;
  }
  CLI::App app{"udpchat", "udpchat"};
  udpchat::commands::Runner run;
  udpchat::commands::add_commands(app, run);

  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << "udpchat_manpage: cannot read " << argv[1] << "\n";
    return 1;
  }
  std::ostringstream out;
  bool complete = true;
  std::vector<std::string> listed;
  std::string line;
  constexpr std::string_view kMarker = ".\\\" @options ";
  while (std::getline(in, line)) {
    if (!line.starts_with(kMarker)) {
      out << line << "\n";
      continue;
    }
    const std::string name = line.substr(kMarker.size());
    const CLI::App* command = nullptr;
    for (const CLI::App* sub : app.get_subcommands({})) {
      if (sub->get_name() == name) command = sub;
    }
    if (command == nullptr) {
      std::cerr << "udpchat_manpage: the template names no command '" << name << "'\n";
      return 1;
    }
    complete = write_options(out, *command) && complete;
    listed.push_back(name);
  }
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (std::find(listed.begin(), listed.end(), sub->get_name()) == listed.end()) {
      std::cerr << "udpchat_manpage: the template lists no options of '" << sub->get_name()
                << "' (a line `.\\\" @options " << sub->get_name() << "`)\n";
      complete = false;
    }
  }
  if (!complete) return 1;
  std::ofstream(argv[2]) << out.str();
  return 0;
}
