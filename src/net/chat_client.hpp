// The chat client's network side: join (cookie handshake, legacy fallback), heartbeats,
// liveness and rejoin, sending input lines and waiting for their acks. What is shown, and how,
// is the ChatView's business.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.hpp"
#include "net/address.hpp"
#include "net/asio_compat.hpp"
#include "net/line_source.hpp"
#include "net/probe_client.hpp"

namespace udpchat::net {

struct ChatSettings {
  HostPort target;
  std::string nick;
  std::string room;  // empty: the server's default room (lobby); needs a nick otherwise
  core::Duration hb_interval = std::chrono::seconds(5);
  core::Duration linger = std::chrono::seconds(1);
};

struct JoinInfo {
  std::string server;   // as resolved, ip:port
  ServerKind mode = ServerKind::udpchat;
  std::string address;  // how the server sees us (udpchat mode), else empty
  std::string nick;
  std::string room;  // as the server confirmed it; "lobby" when none was named
};

struct ChatMessage {
  std::string_view ip;
  std::uint16_t port = 0;
  std::string_view nick;
  std::string_view text;
  bool own = false;
};

class ChatView {
 public:
  virtual ~ChatView() = default;
  virtual void joined(const JoinInfo& info) = 0;
  virtual void message(const ChatMessage& message) = 0;
  // Status lines for the person at the keyboard ("server not answering, rejoining").
  virtual void notice(std::string_view text) = 0;
  virtual void server_closed() = 0;
  // The server confirmed a move to another room (/join).
  virtual void room_changed(std::string_view room) = 0;
};

// Exit status of a chat session, mapped to exit codes by the command.
enum class ChatEnd { ok, unacknowledged, refused, unresolved, failed };

class ChatClient {
 public:
  ChatClient(asio::io_context& io, ChatSettings settings, ChatView& view, LineSource& input);

  // Runs the session until /quit, end of input, `end` from the server, or a failure.
  ChatEnd run();
  // Why the session failed, when it did: one line.
  const std::string& error() const noexcept { return error_; }

 private:
  enum class State { joining, joined, legacy };

  awaitable<void> session();
  awaitable<bool> join_loop();
  awaitable<void> receive_loop(std::uint64_t generation);
  awaitable<void> heartbeat_loop();
  awaitable<void> input_loop();
  awaitable<void> signal_loop();
  awaitable<void> linger();

  void handle(std::string_view datagram);
  // False when the session should end (/quit).
  bool handle_input(std::string_view line);
  void join_room(std::string_view room);
  void send(std::string_view payload);
  void finish(ChatEnd end, std::string error = {});

  asio::io_context& io_;
  ChatSettings settings_;
  ChatView& view_;
  LineSource& input_;
  udp::socket socket_;
  std::uint64_t generation_ = 0;  // which socket the receive loop belongs to
  asio::steady_timer join_event_;  // woken by the receive loop on welcome or refusal
  asio::steady_timer ack_event_;   // woken by the receive loop on each of our own acks
  asio::signal_set signals_;
  State state_ = State::joining;
  bool refused_ = false;
  std::string error_;
  std::string server_;
  std::optional<std::pair<std::string, std::uint16_t>> own_;  // our address as the server sees it
  std::string room_;            // the room every join names (changed by /join)
  std::string confirmed_room_;  // the room the last welcome named
  std::deque<std::string> pending_;  // lines sent and not yet seen back as our own ack
  std::size_t forgotten_ = 0;        // pending lines dropped to bound memory
  core::TimePoint last_heard_{};          // any datagram from the server
  core::TimePoint last_member_traffic_{};  // what only a member gets: welcome, ack
  ChatEnd end_ = ChatEnd::ok;
};

}  // namespace udpchat::net
