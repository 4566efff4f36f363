#include "net/chat_client.hpp"

#include <algorithm>
#include <csignal>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "net/socket.hpp"
#include "protocol/message.hpp"
#include "protocol/text.hpp"

namespace udpchat::net {

namespace {

using namespace std::chrono_literals;

// Three cookie requests over about 1.4 s: enough for a lost datagram or two, short enough that
// an original-protocol server (which never answers with a cookie) is detected quickly.
constexpr core::Duration kJoinBackoff[] = {200ms, 400ms, 800ms};
// A ping every this many heartbeats; this many pings' worth of silence means the server is gone.
constexpr int kPingEvery = 2;
constexpr int kSilentPings = 3;
// Lines awaiting their ack beyond this are forgotten (and so counted as unacknowledged).
constexpr std::size_t kMaxPending = 4096;

constexpr std::string_view kHelp =
    "commands: /join ROOM moves to another room, /quit (or quit) leaves, /help shows this; a "
    "line starting with // sends it with one / removed; anything else is sent as a chat line "
    "(at most 1024 bytes of UTF-8)";

}  // namespace

ChatClient::ChatClient(asio::io_context& io, ChatSettings settings, ChatView& view,
                       LineSource& input)
    : io_(io),
      settings_(std::move(settings)),
      view_(view),
      input_(input),
      socket_(io),
      join_event_(io),
      ack_event_(io),
      signals_(io, SIGINT, SIGTERM),
      room_(settings_.room) {}

ChatEnd ChatClient::run() {
  asio::co_spawn(io_, session(), [](std::exception_ptr failure) {
    if (failure) std::rethrow_exception(failure);
  });
  io_.run();
  return end_;
}

void ChatClient::finish(ChatEnd end, std::string error) {
  end_ = end;
  error_ = std::move(error);
  io_.stop();
}

void ChatClient::send(std::string_view payload) {
  // Errors here are expected (a restarting server refuses): liveness handles them.
  std::error_code ignored;
  socket_.send(asio::buffer(payload.data(), payload.size()), 0, ignored);
}

awaitable<void> ChatClient::session() {
  const Resolved resolved = co_await resolve(settings_.target);
  if (resolved.error) {
    finish(ChatEnd::unresolved, fmt::format("cannot resolve '{}': {}", settings_.target.host,
                                            resolved.error.message()));
    co_return;
  }
  const auto executor = co_await asio::this_coro::executor;
  bool joined = false;
  for (const auto& endpoint : resolved.endpoints) {
    server_ = format_endpoint(endpoint);
    std::error_code ec;
    socket_ = connect_socket(executor, endpoint, ec);
    if (ec) {
      refused_ = true;
      error_ = fmt::format("{}: {}", server_, ec.message());
      continue;
    }
    asio::co_spawn(io_, receive_loop(++generation_), asio::detached);
    joined = co_await join_loop();
    if (!refused_) break;
  }
  if (refused_) {
    finish(ChatEnd::refused, fmt::format("{}: refused (nothing listening)", server_));
    co_return;
  }
  if (!joined) {
    // The padded reg strips to `reg`, which already made us a member of an original server.
    state_ = State::legacy;
    view_.notice(fmt::format("no cookie from {}: it speaks the original protocol, continuing "
                             "in legacy mode",
                             server_));
  }
  JoinInfo info{server_, joined ? ServerKind::udpchat : ServerKind::legacy, {}, settings_.nick,
                confirmed_room_.empty() ? std::string(protocol::kDefaultRoom) : confirmed_room_};
  if (own_) info.address = format_address(own_->first, own_->second);
  view_.joined(info);
  last_heard_ = last_member_traffic_ = core::Clock::now();
  asio::co_spawn(io_, heartbeat_loop(), asio::detached);
  asio::co_spawn(io_, input_loop(), asio::detached);
  asio::co_spawn(io_, signal_loop(), asio::detached);
}

awaitable<bool> ChatClient::join_loop() {
  state_ = State::joining;
  refused_ = false;
  const std::string request = protocol::encode_cookie_request();
  for (const auto delay : kJoinBackoff) {
    send(request);
    const auto deadline = core::Clock::now() + delay;
    while (state_ == State::joining && !refused_ && core::Clock::now() < deadline) {
      join_event_.expires_at(deadline);
      co_await join_event_.async_wait(use_nothrow);
    }
    if (state_ == State::joined) co_return true;
    if (refused_) co_return false;
  }
  co_return false;
}

awaitable<void> ChatClient::receive_loop(std::uint64_t generation) {
  std::vector<char> buffer(protocol::kMaxDatagramBytes);
  int failures = 0;
  while (generation == generation_) {
    auto [ec, size] = co_await socket_.async_receive(asio::buffer(buffer), use_nothrow);
    if (generation != generation_ || ec == asio::error::operation_aborted) co_return;
    if (ec == asio::error::connection_refused || ec == asio::error::connection_reset) {
      // Nothing listening (yet): fatal while first joining, expected while the server restarts.
      if (state_ == State::joining) {
        refused_ = true;
        join_event_.cancel();
      }
      continue;
    }
    if (ec) {
      if (is_per_datagram_error(ec)) continue;
      if (++failures < 100) continue;
      finish(ChatEnd::failed, fmt::format("{}: receive failed: {}", server_, ec.message()));
      co_return;
    }
    failures = 0;
    last_heard_ = core::Clock::now();
    handle(std::string_view(buffer.data(), size));
  }
}

void ChatClient::handle(std::string_view datagram) {
  const auto message = protocol::decode_server(datagram);
  if (const auto* cookie = std::get_if<protocol::Cookie>(&message)) {
    // Cookies come only when asked for: on joining and on a membership refresh.
    if (state_ != State::legacy) send(protocol::encode_join(cookie->token, settings_.nick, room_));
  } else if (const auto* welcome = std::get_if<protocol::Welcome>(&message)) {
    own_.emplace(std::string(welcome->ip), welcome->port);
    last_member_traffic_ = core::Clock::now();
    if (!welcome->room.empty() && welcome->room != confirmed_room_) {
      confirmed_room_.assign(welcome->room);
      if (state_ == State::joined) view_.room_changed(confirmed_room_);
    }
    if (state_ == State::joining) {
      state_ = State::joined;
      join_event_.cancel();
    }
  } else if (const auto* ack = std::get_if<protocol::Ack>(&message)) {
    last_member_traffic_ = core::Clock::now();
    bool own = own_ && own_->first == ack->ip && own_->second == ack->port;
    const auto pending = std::find(pending_.begin(), pending_.end(), ack->text);
    // Without a welcome (legacy server) our address is learnt from the echo of our first line.
    if (!own_ && pending != pending_.end()) {
      own_.emplace(std::string(ack->ip), ack->port);
      own = true;
    }
    if (own && pending != pending_.end()) {
      pending_.erase(pending);
      ack_event_.cancel();
    }
    view_.message(ChatMessage{ack->ip, ack->port, ack->nick, ack->text, own});
  } else if (std::holds_alternative<protocol::End>(message)) {
    view_.server_closed();
    finish(ChatEnd::ok);
  }
}

awaitable<void> ChatClient::heartbeat_loop() {
  asio::steady_timer timer(io_);
  const auto silence_limit = settings_.hb_interval * (kPingEvery * kSilentPings);
  for (std::uint64_t round = 1;; ++round) {
    timer.expires_after(settings_.hb_interval);
    co_await timer.async_wait(use_nothrow);
    send(protocol::kHeartbeat);
    if (state_ == State::legacy) continue;  // an original server would relay a ping as chat
    if (round % kPingEvery == 0) send(protocol::encode_ping(make_ping_token()));
    const auto now = core::Clock::now();
    const bool silent = now - last_heard_ > silence_limit;
    if (silent || state_ == State::joining) {
      // Until a rejoin succeeds, every round tries again.
      if (silent && state_ != State::joining) view_.notice("server not answering, rejoining");
      const bool rejoined = co_await join_loop();
      if (rejoined) view_.notice("rejoined");
      last_heard_ = last_member_traffic_ = core::Clock::now();
    } else if (state_ == State::joined && now - last_member_traffic_ > silence_limit) {
      // A server restarted within the silence limit answers pings but no longer knows us, and
      // must not tell a stranger so; a quiet room gives no other sign. Re-running the
      // handshake costs two small datagrams and restores membership if it was lost.
      send(protocol::encode_cookie_request());
      last_member_traffic_ = now;
    }
  }
}

awaitable<void> ChatClient::input_loop() {
  while (true) {
    const std::optional<std::string> line = co_await input_.next();
    if (!line) break;
    if (!handle_input(*line)) {
      send(protocol::kQuit);
      finish(ChatEnd::ok);
      co_return;
    }
  }
  // End of input: give the lines already sent a chance to come back acknowledged.
  co_await linger();
  send(protocol::kQuit);
  const std::size_t unacknowledged = pending_.size() + forgotten_;
  if (unacknowledged == 0) {
    finish(ChatEnd::ok);
  } else {
    finish(ChatEnd::unacknowledged,
           fmt::format("{} line(s) not acknowledged by {} within {}ms", unacknowledged, server_,
                       std::chrono::duration_cast<std::chrono::milliseconds>(settings_.linger)
                           .count()));
  }
}

awaitable<void> ChatClient::linger() {
  const auto deadline = core::Clock::now() + settings_.linger;
  while (!pending_.empty() && core::Clock::now() < deadline) {
    ack_event_.expires_at(deadline);
    co_await ack_event_.async_wait(use_nothrow);
  }
}

awaitable<void> ChatClient::signal_loop() {
  auto [ec, signal] = co_await signals_.async_wait(use_nothrow);
  if (ec) co_return;
  send(protocol::kQuit);
  finish(ChatEnd::ok);
}

bool ChatClient::handle_input(std::string_view line) {
  std::string_view text = protocol::strip(line);
  if (text.empty()) return true;
  if (text == "/quit" || text == protocol::kQuit) return false;
  if (text == "/help") {
    view_.notice(kHelp);
    return true;
  }
  if (text == "/join" || text.starts_with("/join ")) {
    join_room(protocol::strip(text.substr(5)));
    return true;
  }
  if (text.starts_with("//")) {
    text.remove_prefix(1);
  } else if (text.starts_with('/')) {
    view_.notice(fmt::format("unknown command '{}'; /help lists commands",
                             text.substr(0, text.find(' '))));
    return true;
  }
  if (text.size() > protocol::kMaxLineBytes) {
    view_.notice(fmt::format("line too long ({} bytes; the limit is {}): not sent", text.size(),
                             protocol::kMaxLineBytes));
    return true;
  }
  const auto decoded = protocol::decode_client(text);
  if (const auto* bad = std::get_if<protocol::Malformed>(&decoded)) {
    view_.notice(bad->reason == protocol::Malformation::invalid_utf8
                     ? "line is not valid UTF-8: not sent"
                     : "line holds a control character: not sent");
    return true;
  }
  if (!std::holds_alternative<protocol::Chat>(decoded)) {
    view_.notice(fmt::format("'{}' reads as a protocol command, not chat: not sent", text));
    return true;
  }
  send(text);
  if (pending_.size() == kMaxPending) {
    pending_.pop_front();
    ++forgotten_;
  }
  pending_.emplace_back(text);
  return true;
}

// A move is a new join naming the room; the welcome that confirms it is what the view reports.
void ChatClient::join_room(std::string_view room) {
  if (state_ == State::legacy) {
    view_.notice("the server speaks the original protocol: it has no rooms");
  } else if (settings_.nick.empty()) {
    view_.notice("/join needs a nick (a room is named after it): start chat with --nick");
  } else if (!protocol::is_room(room)) {
    view_.notice(fmt::format("'{}' is not a room name: use 1 to 32 of A-Z a-z 0-9 _ -", room));
  } else if (room == confirmed_room_ || (confirmed_room_.empty() && room == protocol::kDefaultRoom)) {
    view_.notice(fmt::format("already in room {}", room));
  } else {
    room_.assign(room);
    send(protocol::encode_cookie_request());
  }
}

}  // namespace udpchat::net
