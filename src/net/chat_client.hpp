// The chat client's I/O shell around core::ClientSession: it resolves and connects, moves
// datagrams between the socket and the session, runs the session's timers, feeds it input
// lines, and hands its events to a ChatView. What is shown, and how, is the view's business.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/chat_input.hpp"
#include "core/client_session.hpp"
#include "core/time.hpp"
#include "net/address.hpp"
#include "net/asio_compat.hpp"
#include "net/line_source.hpp"
#include "net/output.hpp"

namespace udpchat::net {

struct ChatSettings {
  HostPort target;
  core::SessionConfig session;
  core::Duration linger = std::chrono::seconds(1);
  bool listen = false;  // receive only: no input, runs until `end` or a signal
  // A person types (commands, a bare quit) or a script's text is posted as written.
  core::InputMode input = core::InputMode::text;
  // Where the relay's key is pinned on first use (known_servers), under which name; empty when
  // a key is expected already (session.server_key) or nothing is pinned.
  std::string pin_to{};
  std::string pin_name{};
};

// Said by the client itself rather than by the session: input it refused, and how it ended.
enum class ClientNotice : std::uint8_t {
  joining,          // connected; the join is under way
  help,             // the answer to /help
  unknown_command,  // a line starting with '/' that is no command
  refused_line,     // a line that cannot be sent (invalid UTF-8, control characters, ...)
  bad_room,         // /join with a name that is not a room, or without a nick
  same_room,        // /join to the room we are in
  pin_failed,       // the relay's key could not be pinned in known_servers
  no_history,       // --history asked of a server that keeps none
  input_paused,  // max_waiting lines wait for the server: no more input is read until it takes them
  stopped,       // a command failed in a script: nothing after it is sent
};

class ChatView {
 public:
  virtual ~ChatView() = default;
  virtual void show(const core::SessionEvent& event) = 0;
  virtual void notice(ClientNotice what, std::string_view text) = 0;
};

// How a chat session ended, mapped to exit codes by the command.
enum class ChatEnd {
  ok,
  undelivered,
  refused,
  unresolved,
  nick_taken,
  key_changed,
  not_admitted,
  failed
};

class ChatClient {
 public:
  // `input` is null with settings.listen. `output` is what the view writes through (null: a
  // terminal, written directly): its backlog decides when lines are held.
  ChatClient(asio::io_context& io, ChatSettings settings, ChatView& view, LineSource* input,
             OutputQueue* output = nullptr);

  // Runs until end of input (and the linger after it), /quit, `end` from the server (--listen),
  // a signal, or a failure.
  ChatEnd run();
  // Why the session did not end well, when it did not: one line.
  const std::string& error() const noexcept { return error_; }
  // The key the relay offered last (empty: none).
  std::string offered_key() const { return session_ ? session_->offered_key() : std::string{}; }
  // The server as resolved, ip:port.
  const std::string& server() const noexcept { return server_; }

 private:
  void pin_relay_key();
  // Lines named in an error, at most, each cut to a readable length: 'a', 'b' and 4 more.
  static constexpr std::size_t kNamedLines = 3;
  // At end of input, lines that have not moved for --linger while the server still answers
  // (its budget is spent, say: they go on their resend timers) wait this long at most.
  static constexpr core::Duration kStuckLimit = std::chrono::seconds(30);
  static std::string name_lines(const std::vector<std::string>& texts, std::size_t total);
  // What became of an input line.
  enum class Step : std::uint8_t { next, quit, stop };

  awaitable<void> session();
  awaitable<void> receive_loop(std::uint64_t generation);
  awaitable<void> timer_loop(std::uint64_t generation);
  awaitable<void> input_loop();
  awaitable<void> signal_loop();
  // A script's lines wait at most --linger for a server that said `end` to be back.
  awaitable<void> outage_loop();
  // Waits on `timer` until `done()` or `until`; every change the session reports wakes it.
  // Each waiter has a timer of its own: setting an expiry cancels the other waits on it.
  template <class Done>
  awaitable<void> wait_until(asio::steady_timer& timer, core::TimePoint until, Done done);
  // At the end of input: waits while the lines still waiting make progress, each step at most
  // --linger.
  awaitable<void> linger();

  void apply();
  // The view's output falls behind: the session holds room lines until it drains.
  void watch_output();
  Step handle_input(std::string_view line);
  void stop_input(std::string_view line, std::string_view why);
  void finish(ChatEnd end, std::string error = {});
  void finish_session();

  asio::io_context& io_;
  ChatSettings settings_;
  ChatView& view_;
  LineSource* input_;
  OutputQueue* output_;
  udp::socket socket_;
  std::optional<core::ClientSession> session_;
  bool pinned_ = false;             // the relay's key, pinned on first use
  std::uint64_t generation_ = 0;    // which socket and session the loops belong to
  asio::steady_timer timer_;        // the session's deadline
  asio::steady_timer wake_;         // cancelled whenever the session has news: the input loop's
  asio::steady_timer outage_wake_;  // the same, for outage_loop
  asio::signal_set signals_;
  bool refused_ = false;  // nothing listening, seen before the first join
  bool done_ = false;
  std::uint64_t refused_lines_ = 0;
  std::vector<std::string> refused_texts_;  // the first few, named at the end
  bool signaled_ = false;                   // SIGINT or SIGTERM ended the client
  bool stuck_ = false;          // the server answered, but no line moved for kStuckLimit
  std::uint64_t closings_ = 0;  // `end`s from the server: each one restarts the linger
  // A command that failed in a script: the line, why, and the input not sent after it.
  std::string stopped_at_;
  std::vector<std::string> not_sent_;
  std::string server_;
  std::string error_;
  ChatEnd end_ = ChatEnd::ok;
};

template <class Done>
awaitable<void> ChatClient::wait_until(asio::steady_timer& timer, core::TimePoint until,
                                       Done done) {
  while (!done() && core::Clock::now() < until) {
    timer.expires_at(until);
    co_await timer.async_wait(use_nothrow);
  }
}

}  // namespace udpchat::net
