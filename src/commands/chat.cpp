// `udpchat chat`: the interactive client, also usable from scripts.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <clocale>
#include <iostream>
#include <memory>

#include "commands/chat_view.hpp"
#include "commands/command.hpp"
#include "core/chat_input.hpp"
#include "core/client_session.hpp"
#include "core/relay.hpp"
#include "net/chat_client.hpp"
#include "net/terminal.hpp"
#include "protocol/message.hpp"
#include "protocol/text.hpp"

namespace udpchat::commands {

namespace {

struct ChatOptions {
  // The target, and anything a user typed after it (a message meant for -m, say).
  std::vector<std::string> words;
  std::vector<std::string> messages;  // -m: posted in order, as written; stdin is not read
  core::SessionConfig session;
  core::Duration linger = std::chrono::seconds(1);
  bool json = false;
  bool listen = false;
  bool quiet = false;
  bool commands = false;    // slash commands in piped input
  bool nick_exact = false;  // a taken nick ends the client instead of taking the next free one
  KeyOptions keys;
  RoomKeyOptions room_key;
};

// Usage problems the options cannot say themselves; empty when there are none.
std::string usage_problem(const ChatOptions& options) {
  const std::string said = fmt::format("{}", fmt::join(options.words, " "));
  if (options.words.size() > 1) {
    return fmt::format("unexpected '{}' after the target {}: to post a message, use -m '{}'",
                       fmt::join(options.words.begin() + 1, options.words.end(), " "),
                       options.words.front(),
                       fmt::join(options.words.begin() + 1, options.words.end(), " "));
  }
  if (options.words.size() == 1 &&
      options.words.front().find_first_of(" \t") != std::string::npos) {
    return fmt::format("'{}' is not HOST:PORT: to post a message, use -m '{}'", said, said);
  }
  for (const auto& message : options.messages) {
    if (protocol::strip(message).empty()) return "-m takes a line to post, and this one is empty";
    if (message.find_first_of("\r\n") != std::string::npos) {
      return "-m takes one line, and this message holds a line break: give one -m per line, or "
             "pipe the text";
    }
  }
  if (!options.messages.empty() && options.listen) return "--listen sends nothing: drop -m";
  if (!options.messages.empty() && options.commands) {
    return "--commands reads commands from standard input; -m text is posted as written";
  }
  if (!options.session.room.empty() && options.session.nick.empty()) {
    // The join's fields are positional: reg <cookie> <nick> <room>.
    return "--room needs --nick";
  }
  return {};
}

// Typed text is UTF-8 on the wire: the line editor reads multibyte input only under a locale
// that says so. The environment's is used when it is UTF-8, else C.UTF-8.
void use_utf8_input() {
  const char* chosen = std::setlocale(LC_CTYPE, "");
  const std::string_view name = chosen == nullptr ? "" : chosen;
  if (name.find("UTF-8") == std::string_view::npos && name.find("utf8") == std::string_view::npos &&
      name.find("UTF8") == std::string_view::npos && name.find("utf-8") == std::string_view::npos) {
    std::setlocale(LC_CTYPE, "C.UTF-8");
  }
}

int exit_code(net::ChatEnd end) {
  switch (end) {
    case net::ChatEnd::ok:
      return kExitOk;
    case net::ChatEnd::refused:
      return kExitRefused;
    case net::ChatEnd::unresolved:
      return kExitUnresolved;
    case net::ChatEnd::nick_taken:
      return kExitNickTaken;
    case net::ChatEnd::key_changed:
      return kExitKeyChanged;
    case net::ChatEnd::not_admitted:
      return kExitNotAdmitted;
    case net::ChatEnd::undelivered:
    case net::ChatEnd::failed:
      return kExitFailure;
  }
  return kExitFailure;
}

int run_chat(ChatOptions options) {
  if (const std::string problem = usage_problem(options); !problem.empty()) {
    print_error(problem);
    return kExitUsage;
  }
  const std::string target_text =
      options.words.empty() ? std::string(net::kDefaultTarget) : options.words.front();
  std::string error;
  auto target = net::parse_target(target_text, error);
  if (!target) {
    print_error(error);
    return kExitUsage;
  }

  // Who is at the other end of standard input decides what a line means: a person's commands,
  // or a script's text, posted as written.
  const bool typed =
      options.messages.empty() && !options.listen && net::Terminal::input_is_terminal();
  net::ChatSettings settings{*target, options.session, options.linger, options.listen};
  settings.input = typed              ? core::InputMode::terminal
                   : options.commands ? core::InputMode::commands
                                      : core::InputMode::text;
  settings.session.nick_policy = options.nick_exact ? core::NickPolicy::exact
                                 : typed            ? core::NickPolicy::alternate_on_rejoin
                                                    : core::NickPolicy::alternate;
  // --listen ends with the server; everything else waits for it to come back.
  settings.session.rejoin_after_end = !options.listen;
  settings.session.room_key = room_key_of(options.room_key, options.session.room, error);
  if (error.empty()) {
    settings.session.previous_room_key =
        previous_room_key_of(options.room_key, settings.session.room_key != nullptr, error);
  }
  if (!error.empty()) {
    print_error(error);
    return kExitUsage;
  }
  const std::string server = pin_name(*target);
  const ExpectedKey expected = expected_key(options.keys, server);
  settings.session.server_key = expected.key;
  if (expected.key.empty()) settings.pin_to = expected.pin_to;
  settings.pin_name = server;

  asio::io_context io(1);
  // The line editor only when a person is at both ends; pipes get plain line mode.
  std::unique_ptr<net::Terminal> terminal;
  if (typed && !options.json && net::Terminal::available()) {
    use_utf8_input();
    terminal = std::make_unique<net::Terminal>(io.get_executor());
  }
  // Written by a thread of its own: a reader that stops reading stalls the output, not the chat.
  net::OutputQueue output(io.get_executor());
  const std::unique_ptr<net::ChatView> view =
      options.json
          ? make_json_view(output, options.session.nick)
          : make_text_view(terminal.get(), output, options.session.nick, options.quiet, !typed);
  std::unique_ptr<net::LineSource> input;
  if (!options.messages.empty()) {
    input = std::make_unique<net::LineSource>(io.get_executor(), std::move(options.messages));
  } else if (!options.listen) {
    input = std::make_unique<net::LineSource>(io.get_executor(), std::cin, terminal.get());
  }

  net::ChatClient client(io, std::move(settings), *view, input.get(), terminal ? nullptr : &output);
  const net::ChatEnd end = client.run();
  terminal.reset();  // restore the terminal before the last words
  // What is shown comes before the last words; a reader stopped for good gets 2 s.
  output.flush(std::chrono::seconds(2));
  if (end == net::ChatEnd::key_changed) {
    print_error(key_changed_error(server, client.offered_key(), options.keys, expected));
  } else if (!client.error().empty()) {
    // `chat deploy` meant as a message reads as a host name.
    const bool bare_word = target_text.find_first_of(":.") == std::string::npos;
    print_error(
        end == net::ChatEnd::unresolved && bare_word
            ? fmt::format("{} (to post a message, use -m '{}')", client.error(), target_text)
            : client.error());
  }
  return exit_code(end);
}

}  // namespace

void add_chat(CLI::App& app, Runner& run) {
  auto options = std::make_shared<ChatOptions>();
  auto* cmd =
      app.add_subcommand("chat", "Chat through a relay: standard input out, lines received shown");
  cmd->footer(
      "Piped input is text: every line is posted as written, `quit` and lines starting with /\n"
      "included (longer than 1024 bytes: as several, wrapped at a space). -m TEXT posts without\n"
      "a pipe. At a terminal (and in piped input with --commands), the commands:\n  " +
      core::slash_help() +
      ";\n  at a terminal quit leaves too; lines typed after /join wait for the move; // sends a\n"
      "  line starting with /. A command that fails in a script stops it there: nothing after\n"
      "  it is sent.\n"
      "No line is lost quietly: lines wait while the client joins, rejoins a restarted server\n"
      "or waits for a seat (1000 at most: a script's input waits beyond, a person is told), and\n"
      "are sent again until the server acknowledges them, however long it is away. After `end`\n"
      "a person's client rejoins when the server is back; a script's lines wait --linger for\n"
      "it. Input goes out at most 100 lines/s; at end of input the client waits while its lines\n"
      "make progress (--linger at most without), then leaves. A stalled reader of the output\n"
      "never costs the seat: lines wait (with repair, in the relay's window) until shown.\n"
      "A taken nick: a script takes the next free one (NICK2, NICK3...) and says so; a person,\n"
      "or --nick-exact, exits 5.\n"
      "--listen only receives (no input), until the server ends or SIGINT/SIGTERM.\n"
      "Exit codes: 0 every line delivered (or --listen ended), 1 a line was refused (invalid\n"
      "UTF-8, control characters, an unknown /command), never sent or never acknowledged, or a\n"
      "script stopped at a failed command, 2 usage error, 3 refused (nothing listening), 4 host\n"
      "does not resolve, 5 nick taken in the room (a person, or --nick-exact), 7 the relay's key\n"
      "is not the one pinned (known_servers) or given (--server-key), 8 not admitted to a\n"
      "private room (no room key, the wrong one, or one the room has moved on from).\n"
      "Every datagram is sealed (Noise NK) with a relay that offers it; its key is pinned on\n"
      "first use, as ssh pins hosts, and a changed key is refused before any line goes.\n"
      "A private room (--room-key-file, UDPCHAT_ROOM_KEY or --passphrase-file): each line is\n"
      "sealed end to end with the room's key; the relay keeps and forwards only ciphertext, and\n"
      "a line that does not open is said, never shown. /join is refused (the key is the room's).\n"
      "Examples:\n"
      "  udpchat chat --nick alice --room ops --history 20\n"
      "  echo \"deploy $VERSION done\" | udpchat chat chat.example.org:9998 --nick ci\n"
      "  udpchat chat --nick ci -m \"deploy $VERSION done\"\n"
      "  udpchat chat --listen --json > chat.log &\n"
      "  udpchat chat --nick alice --room ops --room-key-file ops.key   # udpchat keygen ops.key");
  cmd->add_option("target", options->words, "Relay address, HOST:PORT")
      ->default_str(std::string(net::kDefaultTarget))
      ->type_name("HOST:PORT");
  cmd->add_option("-m,--message", options->messages,
                  "Post TEXT (one line, as written) instead of reading standard input; "
                  "repeatable, in order")
      ->type_name("TEXT")
      ->allow_extra_args(false);  // one value each: the target may follow
  cmd->add_option("-n,--nick", options->session.nick,
                  "Name shown to others, unique in its room (1-32 of A-Z a-z 0-9 _ . -)")
      ->type_name("NICK")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            if (protocol::is_nick(text)) return {};
            return fmt::format("'{}': use 1 to 32 of A-Z a-z 0-9 _ . -", text);
          },
          ""));
  add_room(*cmd, "-r,--room", options->session.room,
           "Room to join (1-32 of A-Z a-z 0-9 _ -; needs --nick; default: lobby)");
  add_duration(*cmd, "--hb-interval", options->session.hb_interval, "Heartbeat period",
               {core::kMinHbInterval, core::kDefaultHbTimeout,
                "members must beat more often than serve's default --hb-timeout expires them"});
  add_duration(*cmd, "--linger", options->linger,
               "At end of input (and after the server's end), how long to wait without progress "
               "for the echo of lines sent",
               {std::chrono::milliseconds(100), core::Duration::max(),
                "an echo takes a round trip; less would report delivered lines as not"});
  cmd->add_flag("--json", options->json, "Print one JSON object per event instead of text");
  cmd->add_flag("--listen", options->listen,
                "Receive only: read no input, run until the server ends or a signal");
  add_count(*cmd, "--history", options->session.history, 0, 1'000'000,
            "On joining, fetch and show the room's last N lines (a server with repair)");
  add_quiet(*cmd, options->quiet, "lines received and problems stay");
  add_key_options(*cmd, options->keys);
  add_room_key_options(*cmd, options->room_key);
  add_previous_room_key_option(*cmd, options->room_key);
  cmd->add_flag("--commands", options->commands,
                "Read /join, /history, /quit and // in piped input (a terminal always does)");
  cmd->add_flag("--nick-exact", options->nick_exact,
                "A taken nick ends the client (exit 5) instead of taking the next free one "
                "(NICK2, NICK3, ...)");
  // A callback, not a negated flag: CLI11 2.1 would show the latter as `--no-repair{false}`.
  cmd->add_flag_callback(
      "--no-repair", [options] { options->session.repair = false; },
      "Do not number lines or ask for lost ones: the original bytes, as to an older server");
  cmd->callback([options, &run] { run = [options] { return run_chat(*options); }; });
}

}  // namespace udpchat::commands
