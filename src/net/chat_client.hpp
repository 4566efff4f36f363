// The chat client's I/O shell around core::ClientSession: it resolves and connects, moves
// datagrams between the socket and the session, runs the session's timers, feeds it input
// lines, and hands its events to a ChatView. What is shown, and how, is the view's business.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/client_session.hpp"
#include "core/time.hpp"
#include "net/address.hpp"
#include "net/asio_compat.hpp"
#include "net/line_source.hpp"

namespace udpchat::net {

struct ChatSettings {
  HostPort target;
  core::SessionConfig session;
  core::Duration linger = std::chrono::seconds(1);
  bool listen = false;  // receive only: no input, runs until `end` or a signal
};

// Said by the client itself rather than by the session: input it refused, and how it ended.
enum class ClientNotice : std::uint8_t {
  joining,          // connected; the join is under way
  help,             // the answer to /help
  unknown_command,  // a line starting with '/' that is no command
  refused_line,     // a line that cannot be sent (invalid UTF-8, control characters, ...)
  bad_room,         // /join with a name that is not a room, or without a nick
  same_room,        // /join to the room we are in
};

class ChatView {
 public:
  virtual ~ChatView() = default;
  virtual void show(const core::SessionEvent& event) = 0;
  virtual void notice(ClientNotice what, std::string_view text) = 0;
};

// How a chat session ended, mapped to exit codes by the command.
enum class ChatEnd { ok, undelivered, refused, unresolved, nick_taken, failed };

class ChatClient {
 public:
  // `input` is null with settings.listen.
  ChatClient(asio::io_context& io, ChatSettings settings, ChatView& view, LineSource* input);

  // Runs until end of input (and the linger after it), /quit, `end` from the server, a signal,
  // or a failure.
  ChatEnd run();
  // Why the session did not end well, when it did not: one line.
  const std::string& error() const noexcept { return error_; }
  // The server as resolved, ip:port.
  const std::string& server() const noexcept { return server_; }

 private:
  awaitable<void> session();
  awaitable<void> receive_loop(std::uint64_t generation);
  awaitable<void> timer_loop(std::uint64_t generation);
  awaitable<void> input_loop();
  awaitable<void> signal_loop();
  // Waits until `done()` or `until`; every change the session reports wakes it.
  template <class Done>
  awaitable<void> wait_until(core::TimePoint until, Done done);

  void apply();
  void handle_input(std::string_view line);
  void finish(ChatEnd end, std::string error = {});
  void finish_session();

  asio::io_context& io_;
  ChatSettings settings_;
  ChatView& view_;
  LineSource* input_;
  udp::socket socket_;
  std::optional<core::ClientSession> session_;
  std::uint64_t generation_ = 0;  // which socket and session the loops belong to
  asio::steady_timer timer_;      // the session's deadline
  asio::steady_timer wake_;       // cancelled whenever the session has news
  asio::signal_set signals_;
  bool refused_ = false;  // nothing listening, seen before the first join
  bool done_ = false;
  std::uint64_t refused_lines_ = 0;
  std::string server_;
  std::string error_;
  ChatEnd end_ = ChatEnd::ok;
};

}  // namespace udpchat::net
