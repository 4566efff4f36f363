// `udpchat chat`: the interactive client, also usable from scripts.
#include <clocale>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <variant>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands/command.hpp"
#include "core/client_session.hpp"
#include "core/duration.hpp"
#include "core/relay.hpp"
#include "net/chat_client.hpp"
#include "net/log.hpp"
#include "net/terminal.hpp"
#include "protocol/message.hpp"
#include "protocol/text.hpp"

namespace udpchat::commands {

namespace {

namespace event = core::event;
using Json = nlohmann::ordered_json;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

struct ChatOptions {
  std::string target{net::kDefaultTarget};
  core::SessionConfig session;
  core::Duration linger = std::chrono::seconds(1);
  bool json = false;
  bool listen = false;
};

std::string_view code_of(core::JoinTrouble why) {
  switch (why) {
    case core::JoinTrouble::none: return "joining";
    case core::JoinTrouble::server_full: return "server_full";
    case core::JoinTrouble::not_member: return "not_member";
    case core::JoinTrouble::silent: return "silent";
    case core::JoinTrouble::no_cookie: return "no_cookie";
  }
  return "joining";
}

std::string_view code_of(core::Unsent why) {
  switch (why) {
    case core::Unsent::overflow: return "overflow";
    case core::Unsent::room_refused: return "room_refused";
    case core::Unsent::stale_room: return "stale_room";
  }
  return "overflow";
}

std::string_view code_of(net::ClientNotice what) {
  switch (what) {
    case net::ClientNotice::joining: return "connecting";
    case net::ClientNotice::help: return "help";
    case net::ClientNotice::unknown_command: return "unknown_command";
    case net::ClientNotice::refused_line: return "refused_line";
    case net::ClientNotice::bad_room: return "bad_room";
    case net::ClientNotice::same_room: return "same_room";
  }
  return "notice";
}

// For the person at the keyboard: what each event means.
std::string describe(const event::Joining& joining) {
  switch (joining.why) {
    case core::JoinTrouble::none: return "joining…";
    case core::JoinTrouble::server_full:
      return fmt::format("server full: retrying (next in {}); typed lines wait",
                         core::format_duration(std::chrono::round<std::chrono::milliseconds>(joining.retry_in)));
    case core::JoinTrouble::not_member:
      return "the server no longer knows us (restarted?): rejoining; unacknowledged lines "
             "will be sent again";
    case core::JoinTrouble::silent: return "server not answering, rejoining";
    case core::JoinTrouble::no_cookie: return "the server speaks udpchat after all: joining";
  }
  return "joining…";
}

std::string describe(const event::LinesUnsent& unsent, const std::string& room) {
  switch (unsent.why) {
    case core::Unsent::overflow:
      return fmt::format("{} line(s) dropped, oldest first: too many were waiting for the server",
                         unsent.count);
    case core::Unsent::room_refused:
      return fmt::format("{} line(s) typed after that /join not sent; still in room {}",
                         unsent.count, room);
    case core::Unsent::stale_room:
      return fmt::format("{} unacknowledged line(s) not sent again: meant for a room since left",
                         unsent.count);
  }
  return {};
}

// Lines for people: on a terminal through the line editor, so that incoming lines never garble
// the line being typed; otherwise plain lines. Everything from the network goes through
// printable(): no escape sequence, bidi control or invisible character reaches the screen raw.
class TextView final : public net::ChatView {
 public:
  TextView(net::Terminal* terminal, std::string nick) : terminal_(terminal), nick_(std::move(nick)) {}

  void show(const core::SessionEvent& e) override {
    std::visit(
        Overloaded{
            [&](const event::Joining& joining) {
              // The first attempt is announced by notice(joining) with the server's address.
              if (joining.why != core::JoinTrouble::none) say(describe(joining));
            },
            [&](const event::Joined& joined) {
              room_ = joined.room;
              if (joined.again) {
                say(fmt::format("rejoined {}, room {}", server_, joined.room));
                return;
              }
              if (joined.legacy) {
                say(fmt::format("no cookie from {}: it speaks the original protocol, continuing "
                                "in legacy mode",
                                server_));
              }
              print(fmt::format("joined {} ({}) as {}{}{}", server_,
                                joined.legacy ? "legacy" : "udpchat",
                                joined.address.empty() ? "unknown address" : joined.address,
                                nick_.empty() ? "" : ", nick " + nick_,
                                joined.legacy ? "" : ", room " + joined.room),
                    stderr);
              if (terminal_ != nullptr) print("type a line and press enter; /help lists commands", stderr);
            },
            [&](const event::Message& m) {
              const std::time_t now = std::time(nullptr);
              const std::string from = m.nick.empty() ? net::format_address(m.ip, m.port) : m.nick;
              print(fmt::format("{:%H:%M:%S} {}{}: {}", fmt::localtime(now), from,
                                m.own ? " (me)" : "", protocol::printable(m.text)),
                    stdout);
            },
            [&](const event::RoomChanged& changed) {
              room_ = changed.room;
              say(fmt::format("now in room {}", changed.room));
            },
            [&](const event::RoomRefused& refused) {
              say(refused.nick_taken
                      ? fmt::format("could not move to room {}: nick {} is taken there",
                                    refused.room, nick_)
                      : fmt::format("could not move to room {}: the server has no rooms",
                                    refused.room));
            },
            [&](const event::LinesUnsent& unsent) { say(describe(unsent, room_)); },
            [&](const event::Malformed&) {
              say("ignoring datagrams from the server that break the protocol's rules");
            },
            [&](const event::Ended& ended) {
              if (ended.why == core::EndReason::server_closed) print("server closed the chat", stderr);
            },
        },
        e);
  }

  void notice(net::ClientNotice what, std::string_view text) override {
    if (what == net::ClientNotice::joining) {
      server_ = text;
      if (terminal_ != nullptr) say(fmt::format("joining {}…", server_));
      return;
    }
    say(text);
  }

 private:
  void say(std::string_view text) { print(fmt::format("-- {}", text), stderr); }

  void print(const std::string& line, std::FILE* stream) {
    if (terminal_ != nullptr) {
      terminal_->print_above(line);
    } else {
      fmt::print(stream, "{}\n", line);
      std::fflush(stream);
    }
  }

  net::Terminal* terminal_;
  std::string nick_;
  std::string server_;
  std::string room_;
};

// One JSON object per line on stdout, for scripts and tests. Text fields carry the exact
// bytes (JSON escapes what needs escaping).
class JsonView final : public net::ChatView {
 public:
  explicit JsonView(std::string nick) : nick_(std::move(nick)) {}

  void show(const core::SessionEvent& e) override {
    std::visit(
        Overloaded{
            [&](const event::Joining& joining) {
              Json status = {{"type", "status"}, {"code", code_of(joining.why)}};
              if (joining.why == core::JoinTrouble::server_full) {
                status["retry_ms"] =
                    std::chrono::duration_cast<std::chrono::milliseconds>(joining.retry_in).count();
              }
              emit(std::move(status));
            },
            [&](const event::Joined& joined) {
              emit({{"type", joined.again ? "rejoined" : "joined"},
                    {"server", server_},
                    {"mode", joined.legacy ? "legacy" : "udpchat"},
                    {"address", joined.address.empty() ? Json() : Json(joined.address)},
                    {"nick", nick_.empty() ? Json() : Json(nick_)},
                    {"room", joined.legacy ? Json() : Json(joined.room)}});
            },
            [&](const event::Message& m) {
              emit({{"type", "message"},
                    {"from", m.ip},
                    {"port", m.port},
                    {"nick", m.nick.empty() ? Json() : Json(m.nick)},
                    {"text", m.text},
                    {"own", m.own}});
            },
            [&](const event::RoomChanged& changed) {
              emit({{"type", "room"}, {"room", changed.room}});
            },
            [&](const event::RoomRefused& refused) {
              emit({{"type", "room_refused"},
                    {"room", refused.room},
                    {"reason", refused.nick_taken ? "nick_taken" : "no_rooms"}});
            },
            [&](const event::LinesUnsent& unsent) {
              emit({{"type", "unsent"}, {"count", unsent.count}, {"reason", code_of(unsent.why)}});
            },
            [&](const event::Malformed&) { emit({{"type", "malformed"}}); },
            [&](const event::Ended& ended) {
              if (ended.why == core::EndReason::server_closed) emit({{"type", "end"}});
              if (ended.why == core::EndReason::nick_taken) {
                emit({{"type", "nick_taken"}, {"nick", nick_}});
              }
            },
        },
        e);
  }

  void notice(net::ClientNotice what, std::string_view text) override {
    if (what == net::ClientNotice::joining) server_ = text;
    emit({{"type", "notice"}, {"code", code_of(what)}, {"text", text}});
  }

 private:
  static void emit(Json object) {
    Json line = {{"time", net::utc_timestamp()}};
    for (auto& [key, value] : object.items()) line[key] = std::move(value);
    fmt::print("{}\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    std::fflush(stdout);
  }

  std::string nick_;
  std::string server_;
};

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
    case net::ChatEnd::ok: return kExitOk;
    case net::ChatEnd::refused: return kExitRefused;
    case net::ChatEnd::unresolved: return kExitUnresolved;
    case net::ChatEnd::nick_taken: return kExitUsage;
    case net::ChatEnd::undelivered:
    case net::ChatEnd::failed: return kExitFailure;
  }
  return kExitFailure;
}

int run_chat(const ChatOptions& options) {
  std::string error;
  auto target = net::parse_host_port(options.target, error);
  if (!target) {
    print_error(error);
    return kExitUsage;
  }
  if (!options.session.room.empty() && options.session.nick.empty()) {
    // The join's fields are positional: reg <cookie> <nick> <room>.
    print_error("--room needs --nick");
    return kExitUsage;
  }

  asio::io_context io(1);
  // Interactive only when a person is at both ends; pipes get plain line mode.
  std::unique_ptr<net::Terminal> terminal;
  if (!options.json && !options.listen && net::Terminal::available()) {
    use_utf8_input();
    terminal = std::make_unique<net::Terminal>(io.get_executor());
  }
  TextView text_view(terminal.get(), options.session.nick);
  JsonView json_view(options.session.nick);
  net::ChatView& view = options.json ? static_cast<net::ChatView&>(json_view) : text_view;
  std::unique_ptr<net::LineSource> input;
  if (!options.listen) input = std::make_unique<net::LineSource>(io.get_executor(), std::cin, terminal.get());

  net::ChatClient client(io, net::ChatSettings{*target, options.session, options.linger, options.listen},
                         view, input.get());
  const net::ChatEnd end = client.run();
  terminal.reset();  // restore the terminal before the last words
  if (!client.error().empty()) print_error(client.error());
  return exit_code(end);
}

}  // namespace

void add_chat(CLI::App& app, Runner& run) {
  auto options = std::make_shared<ChatOptions>();
  auto* cmd = app.add_subcommand("chat", "Chat through a relay: standard input out, lines received shown");
  cmd->footer(
      "Each input line is sent as a chat line (longer than 1024 bytes: as several, split between\n"
      "characters); /join ROOM moves to another room, /quit (or quit) leaves, /help lists\n"
      "commands. Lines reach the members of your room only; lines typed after /join wait until\n"
      "the server confirms the move.\n"
      "Nothing typed is lost quietly: while joining, rejoining a restarted server or waiting\n"
      "for a seat on a full one, lines wait (up to 1000) and go once joined; lines the server\n"
      "proved it dropped are sent again. At end of input the client waits up to --linger for\n"
      "the echo of every line, so `echo \"deploy done\" | udpchat chat --nick ci` posts reliably.\n"
      "--listen only receives (no input), until the server ends or SIGINT/SIGTERM.\n"
      "Exit codes: 0 every line delivered (or --listen ended), 1 a line was refused (invalid\n"
      "UTF-8, control characters) or never acknowledged, 2 usage error or nick taken in the room,\n"
      "3 refused (nothing listening), 4 host does not resolve.");
  cmd->add_option("target", options->target, "Relay address, HOST:PORT")->capture_default_str();
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
               "At end of input, how long to wait for the echo of lines sent");
  cmd->add_flag("--json", options->json, "Print one JSON object per event instead of text");
  cmd->add_flag("--listen", options->listen,
                "Receive only: read no input, run until the server ends or a signal");
  cmd->callback([options, &run] { run = [options] { return run_chat(*options); }; });
}

}  // namespace udpchat::commands
