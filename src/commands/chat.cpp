// `udpchat chat`: the interactive client, also usable from scripts.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands/command.hpp"
#include "net/chat_client.hpp"
#include "net/log.hpp"
#include "net/terminal.hpp"
#include "protocol/message.hpp"
#include "protocol/text.hpp"

namespace udpchat::commands {

namespace {

struct ChatOptions {
  std::string target{net::kDefaultTarget};
  std::string nick;
  std::string room;
  core::Duration hb_interval = std::chrono::seconds(5);
  core::Duration linger = std::chrono::seconds(1);
  bool json = false;
};

std::string sender_name(const net::ChatMessage& m) {
  if (!m.nick.empty()) return std::string(m.nick);
  return net::format_address(m.ip, m.port);
}

std::string mode_name(net::ServerKind mode) {
  return mode == net::ServerKind::legacy ? "legacy" : "udpchat";
}

// Lines for people: on a terminal through the line editor, so that incoming lines never garble
// the line being typed; otherwise plain lines on stdout.
class TextView final : public net::ChatView {
 public:
  explicit TextView(net::Terminal* terminal) : terminal_(terminal) {}

  void joined(const net::JoinInfo& info) override {
    print(fmt::format("joined {} ({}) as {}{}{}", info.server, mode_name(info.mode),
                      info.address.empty() ? "unknown address" : info.address,
                      info.nick.empty() ? "" : ", nick " + info.nick,
                      info.mode == net::ServerKind::legacy ? "" : ", room " + info.room),
          stderr);
    if (terminal_ != nullptr) print("type a line and press enter; /help lists commands", stderr);
  }

  void message(const net::ChatMessage& m) override {
    const std::time_t now = std::time(nullptr);
    print(fmt::format("{:%H:%M:%S} {}{}: {}", fmt::localtime(now), sender_name(m),
                      m.own ? " (me)" : "", protocol::printable(m.text)),
          stdout);
  }

  void notice(std::string_view text) override { print(fmt::format("-- {}", text), stderr); }

  void server_closed() override { print("server closed the chat", stderr); }

  void room_changed(std::string_view room) override {
    print(fmt::format("-- now in room {}", room), stderr);
  }

 private:
  void print(const std::string& line, std::FILE* stream) {
    if (terminal_ != nullptr) {
      terminal_->print_above(line);
    } else {
      fmt::print(stream, "{}\n", line);
      std::fflush(stream);
    }
  }

  net::Terminal* terminal_;
};

// One JSON object per line on stdout, for scripts and tests.
class JsonView final : public net::ChatView {
 public:
  void joined(const net::JoinInfo& info) override {
    emit({{"type", "joined"},
          {"server", info.server},
          {"mode", mode_name(info.mode)},
          {"address", info.address.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(info.address)},
          {"nick", info.nick.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(info.nick)},
          {"room", info.mode == net::ServerKind::legacy ? nlohmann::ordered_json()
                                                        : nlohmann::ordered_json(info.room)}});
  }

  void message(const net::ChatMessage& m) override {
    emit({{"type", "message"},
          {"from", m.ip},
          {"port", m.port},
          {"nick", m.nick.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(m.nick)},
          {"text", m.text},
          {"own", m.own}});
  }

  void notice(std::string_view text) override { emit({{"type", "notice"}, {"text", text}}); }

  void server_closed() override { emit({{"type", "end"}}); }

  void room_changed(std::string_view room) override { emit({{"type", "room"}, {"room", room}}); }

 private:
  static void emit(nlohmann::ordered_json object) {
    nlohmann::ordered_json line = {{"time", net::utc_timestamp()}};
    for (auto& [key, value] : object.items()) line[key] = std::move(value);
    fmt::print("{}\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    std::fflush(stdout);
  }
};

int run_chat(const ChatOptions& options) {
  std::string error;
  auto target = net::parse_host_port(options.target, error);
  if (!target) {
    print_error(error);
    return kExitUsage;
  }
  if (!options.nick.empty() && !protocol::is_nick(options.nick)) {
    print_error(fmt::format("--nick '{}': use 1 to 32 of A-Z a-z 0-9 _ . -", options.nick));
    return kExitUsage;
  }
  if (!options.room.empty() && options.nick.empty()) {
    // The join's fields are positional: reg <cookie> <nick> <room>.
    print_error("--room needs --nick");
    return kExitUsage;
  }

  asio::io_context io(1);
  // Interactive only when a person is at both ends; pipes get plain line mode.
  std::unique_ptr<net::Terminal> terminal;
  if (!options.json && net::Terminal::available()) terminal = std::make_unique<net::Terminal>(io.get_executor());
  TextView text_view(terminal.get());
  JsonView json_view;
  net::ChatView& view = options.json ? static_cast<net::ChatView&>(json_view) : text_view;
  net::LineSource input(io.get_executor(), std::cin, terminal.get());

  net::ChatClient client(
      io,
      net::ChatSettings{*target, options.nick, options.room, options.hb_interval, options.linger},
      view, input);
  const net::ChatEnd end = client.run();
  terminal.reset();  // restore the terminal before the last words
  if (!client.error().empty()) print_error(client.error());
  switch (end) {
    case net::ChatEnd::ok: return kExitOk;
    case net::ChatEnd::refused: return kExitRefused;
    case net::ChatEnd::unresolved: return kExitUnresolved;
    case net::ChatEnd::unacknowledged:
    case net::ChatEnd::failed: return kExitFailure;
  }
  return kExitFailure;
}

}  // namespace

void add_chat(CLI::App& app, Runner& run) {
  auto options = std::make_shared<ChatOptions>();
  auto* cmd = app.add_subcommand("chat", "Chat through a relay: standard input out, lines received shown");
  cmd->footer(
      "Each input line is sent as a chat line; /join ROOM moves to another room, /quit (or\n"
      "quit) leaves, /help lists commands. Lines reach the members of your room only.\n"
      "At end of input the client waits up to --linger for the echo of every line it sent, so\n"
      "`echo \"deploy done\" | udpchat chat --nick ci` posts reliably.\n"
      "Exit codes: 0 left normally or the server closed the chat, 1 a sent line was never\n"
      "acknowledged, 2 usage error, 3 refused (nothing listening), 4 host does not resolve.");
  cmd->add_option("target", options->target, "Relay address, HOST:PORT")->capture_default_str();
  cmd->add_option("-n,--nick", options->nick, "Name shown to others (1-32 of A-Z a-z 0-9 _ . -)");
  add_room(*cmd, "-r,--room", options->room,
           "Room to join (1-32 of A-Z a-z 0-9 _ -; needs --nick; default: lobby)");
  add_duration(*cmd, "--hb-interval", options->hb_interval, "Heartbeat period");
  add_duration(*cmd, "--linger", options->linger,
               "At end of input, how long to wait for the echo of lines sent");
  cmd->add_flag("--json", options->json, "Print one JSON object per event instead of text");
  cmd->callback([options, &run] { run = [options] { return run_chat(*options); }; });
}

}  // namespace udpchat::commands
