// The Asio shell around core::ClientSession: one loop each for datagrams, timers, typed lines
// and signals, and each of the host's addresses tried in turn until one is not refused.
#include "net/chat_client.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <csignal>
#include <variant>
#include <vector>

#include "core/chat_input.hpp"
#include "core/overloaded.hpp"
#include "net/probe_client.hpp"
#include "net/socket.hpp"
#include "protocol/message.hpp"
#include "protocol/text.hpp"

namespace udpchat::net {

namespace {

using namespace std::chrono_literals;
using core::Overloaded;

// At end of input a join still under way gets this long before --linger starts counting: a
// little more than telling an original server apart takes (three cookie requests, 1.4 s).
constexpr core::Duration kJoinGrace = 2s;

constexpr std::string_view kHelp =
    "commands: /join ROOM moves to another room, /history [N] shows the room's last N lines "
    "(20), /quit (or quit) leaves, /help shows this; a line starting with // sends it with one "
    "/ removed; anything else is sent as a chat line (longer than 1024 bytes of UTF-8, it goes "
    "as several)";

std::string_view refusal(core::LineVerdict verdict) {
  switch (verdict) {
    case core::LineVerdict::invalid_utf8:
      return "line is not valid UTF-8: not sent";
    case core::LineVerdict::control_character:
      return "line holds a control character: not sent";
    case core::LineVerdict::format_character:
      return "line holds a bidi override or a line separator: not sent";
    case core::LineVerdict::protocol_command:
      return "line reads as a protocol command, not chat: not sent";
    case core::LineVerdict::accepted:
    case core::LineVerdict::empty:
      break;
  }
  return {};
}

}  // namespace

ChatClient::ChatClient(asio::io_context& io, ChatSettings settings, ChatView& view,
                       LineSource* input)
    : io_(io),
      settings_(std::move(settings)),
      view_(view),
      input_(input),
      socket_(io),
      timer_(io),
      wake_(io),
      signals_(io, SIGINT, SIGTERM) {
  if (settings_.session.ping_token == core::SessionConfig{}.ping_token) {
    settings_.session.ping_token = make_ping_token();
  }
}

ChatEnd ChatClient::run() {
  asio::co_spawn(io_, signal_loop(), asio::detached);
  asio::co_spawn(io_, session(), [](std::exception_ptr failure) {
    if (failure) std::rethrow_exception(failure);
  });
  io_.run();
  return end_;
}

void ChatClient::finish(ChatEnd end, std::string error) {
  if (done_) return;
  done_ = true;
  end_ = end;
  error_ = std::move(error);
  io_.stop();
}

awaitable<void> ChatClient::session() {
  const Resolved resolved = co_await resolve(settings_.target);
  if (resolved.error) {
    finish(ChatEnd::unresolved,
           fmt::format("cannot resolve '{}': {}", settings_.target.host, resolved.error.message()));
    co_return;
  }
  const auto executor = co_await asio::this_coro::executor;
  // Every address of the host in turn until one is not refused.
  for (const auto& endpoint : resolved.endpoints) {
    server_ = format_endpoint(endpoint);
    std::error_code ec;
    socket_ = connect_socket(executor, endpoint, ec);
    refused_ = static_cast<bool>(ec);
    if (ec) continue;
    const std::uint64_t generation = ++generation_;
    session_.emplace(settings_.session, core::Clock::now());
    view_.notice(ClientNotice::joining, server_);
    asio::co_spawn(io_, receive_loop(generation), asio::detached);
    asio::co_spawn(io_, timer_loop(generation), asio::detached);
    apply();
    // A refusal comes back within a round trip; a welcome, a full server or the legacy
    // decision means that someone is there. Input waits meanwhile, so that what is shown
    // reads in order.
    co_await wait_until(core::TimePoint::max(), [&] {
      return done_ || refused_ || session_->waiting_for_seat() ||
             session_->state() != core::SessionState::joining;
    });
    if (done_) co_return;
    if (!refused_) break;
  }
  if (refused_) {
    finish(ChatEnd::refused, fmt::format("{}: refused (nothing listening)", server_));
    co_return;
  }
  if (session_->state() == core::SessionState::legacy && !settings_.session.room.empty()) {
    // Lines meant for one room would reach everyone on the server.
    finish(
        ChatEnd::failed,
        fmt::format("{} speaks the original protocol (or sent no cookie within 1.4 s), which has "
                    "no rooms: nothing sent to room {}",
                    server_, settings_.session.room));
    session_->leave();
    apply();
    co_return;
  }
  if (!settings_.listen) asio::co_spawn(io_, input_loop(), asio::detached);
}

awaitable<void> ChatClient::receive_loop(std::uint64_t generation) {
  std::vector<char> buffer(protocol::kMaxDatagramBytes);
  int failures = 0;
  while (generation == generation_ && !done_) {
    auto [ec, size] = co_await socket_.async_receive(asio::buffer(buffer), use_nothrow);
    if (generation != generation_ || done_ || ec == asio::error::operation_aborted) co_return;
    if (ec == asio::error::connection_refused || ec == asio::error::connection_reset) {
      // Nothing listening: the end of a first join, and expected while a server restarts.
      if (!session_->is_udpchat() && session_->state() == core::SessionState::joining) {
        refused_ = true;
        wake_.cancel();
      }
      continue;
    }
    if (ec) {
      if (is_per_datagram_error(ec) || ++failures < 100) continue;
      finish(ChatEnd::failed, fmt::format("{}: receive failed: {}", server_, ec.message()));
      co_return;
    }
    failures = 0;
    session_->on_datagram(std::string_view(buffer.data(), size), core::Clock::now());
    apply();
  }
}

awaitable<void> ChatClient::timer_loop(std::uint64_t generation) {
  while (generation == generation_ && !done_) {
    timer_.expires_at(session_->deadline());
    co_await timer_.async_wait(use_nothrow);
    if (generation != generation_ || done_) co_return;
    const auto now = core::Clock::now();
    // Woken early when the deadline moved; the loop just looks again.
    if (now < session_->deadline()) continue;
    session_->on_timer(now);
    apply();
  }
}

// One waiter at a time (the join at start, then the input loop): every wait sets wake_'s expiry.
template <class Done>
awaitable<void> ChatClient::wait_until(core::TimePoint until, Done done) {
  while (!done() && core::Clock::now() < until) {
    wake_.expires_at(until);
    co_await wake_.async_wait(use_nothrow);
  }
}

awaitable<void> ChatClient::input_loop() {
  const std::size_t most = settings_.session.max_waiting;
  while (!done_) {
    const std::optional<std::string> line = co_await input_->next();
    if (!line || done_) break;
    if (std::holds_alternative<core::input::Quit>(core::parse_input(*line))) break;
    handle_input(*line);
    apply();
    // Input is taken no faster than the server takes lines, so a long pipe is paced rather
    // than dropped; while the server is away, the bound drops the oldest instead, visibly.
    co_await wait_until(core::TimePoint::max(), [&] {
      return done_ || session_->waiting() < most || session_->state() != core::SessionState::joined;
    });
  }
  if (done_) co_return;
  // End of input: a join under way gets its first attempts.
  co_await wait_until(core::Clock::now() + kJoinGrace, [&] {
    return done_ || session_->is_member() || session_->state() == core::SessionState::ended;
  });
  // Lines still paced out at the send budget (a long pipe) go first, however long that takes
  // while they keep going; --linger bounds a wait without progress (the server away, a /join
  // never confirmed).
  while (!done_ && session_->queued() > 0) {
    const std::size_t before = session_->queued();
    co_await wait_until(core::Clock::now() + settings_.linger,
                        [&] { return done_ || session_->queued() < before; });
    if (session_->queued() >= before) break;
  }
  // Then --linger waits for the echo of every line sent, unless some never went: those cannot
  // settle.
  if (session_->queued() == 0) {
    co_await wait_until(core::Clock::now() + settings_.linger,
                        [&] { return done_ || session_->settled(); });
  }
  if (done_) co_return;
  session_->leave();
  apply();
}

awaitable<void> ChatClient::signal_loop() {
  auto [ec, signal] = co_await signals_.async_wait(use_nothrow);
  if (ec || done_) co_return;
  if (!session_) {
    finish(ChatEnd::ok);
    co_return;
  }
  session_->leave();
  apply();
}

void ChatClient::handle_input(std::string_view line) {
  std::visit(
      Overloaded{
          [](const core::input::Empty&) {},
          [](const core::input::Quit&) {},
          [&](const core::input::Help&) { view_.notice(ClientNotice::help, kHelp); },
          [&](const core::input::History& history) {
            if (history.count == 0) {
              view_.notice(ClientNotice::unknown_command, "/history takes a number of lines");
            } else if (!session_->repairing()) {
              view_.notice(ClientNotice::unknown_command,
                           "this server keeps no history (it does not offer repair)");
            } else {
              session_->fetch_history(history.count, core::Clock::now());
            }
          },
          [&](const core::input::Unknown& unknown) {
            // A line meant as chat (`/var/log is full`) is not sent: said, and counted as such.
            ++refused_lines_;
            view_.notice(ClientNotice::unknown_command,
                         fmt::format("unknown command '{}': not sent (// sends a line starting "
                                     "with /; /help lists commands)",
                                     protocol::printable(unknown.command)));
          },
          [&](const core::input::Join& join) {
            std::string problem;
            if (session_->state() == core::SessionState::legacy) {
              problem = "the server speaks the original protocol: it has no rooms";
            } else if (settings_.session.nick.empty()) {
              problem = "/join needs a nick (a room is named after it): start chat with --nick";
            } else if (!protocol::is_room(join.room)) {
              problem = fmt::format("'{}' is not a room name: use 1 to 32 of A-Z a-z 0-9 _ -",
                                    protocol::printable(join.room));
            } else if (join.room == session_->room() && session_->settled()) {
              view_.notice(ClientNotice::same_room, fmt::format("already in room {}", join.room));
              return;
            }
            if (!problem.empty()) {
              // What follows a failed /join would go to the room the script meant to leave.
              ++refused_lines_;
              view_.notice(ClientNotice::bad_room, problem);
              return;
            }
            session_->move_to(join.room, core::Clock::now());
          },
          [&](const core::input::Chat& chat) {
            const core::LineVerdict verdict = session_->send_line(chat.text, core::Clock::now());
            if (verdict == core::LineVerdict::accepted || verdict == core::LineVerdict::empty) {
              return;
            }
            ++refused_lines_;
            view_.notice(ClientNotice::refused_line, refusal(verdict));
          },
      },
      core::parse_input(line));
}

void ChatClient::apply() {
  if (!session_) return;
  for (const auto& datagram : session_->take_datagrams()) {
    // A restarting server refuses for a moment: liveness and the session deal with that.
    std::error_code ignored;
    socket_.send(asio::buffer(datagram), 0, ignored);
  }
  for (const auto& event : session_->take_events()) view_.show(event);
  if (session_->deadline() < timer_.expiry()) timer_.cancel();
  wake_.cancel();
  if (session_->state() == core::SessionState::ended) finish_session();
}

void ChatClient::finish_session() {
  if (session_->end_reason() == core::EndReason::nick_taken) {
    finish(ChatEnd::nick_taken,
           fmt::format("nick '{}' is taken in room {} on {} (a member that left without quitting "
                       "frees it within the server's heartbeat timeout)",
                       settings_.session.nick, session_->room(), server_));
    return;
  }
  const std::uint64_t queued = session_->queued();
  const std::uint64_t sent = session_->waiting() - queued;
  const std::uint64_t unsent = session_->unsent();
  // Input already read ahead when the server ends (a restart by SIGTERM, say) is never sent:
  // a script must not take that for success. (What its writer has not written yet meets a
  // closed pipe, the writer's own error.)
  const std::uint64_t unread =
      session_->end_reason() == core::EndReason::server_closed && input_ != nullptr
          ? input_->unread()
          : 0;
  const std::uint64_t lines = sent + queued + unsent + unread + refused_lines_;
  if (lines == 0) {
    finish(ChatEnd::ok);
    return;
  }
  std::vector<std::string> parts;
  if (refused_lines_ > 0) parts.push_back(fmt::format("{} refused", refused_lines_));
  if (unsent > 0) parts.push_back(fmt::format("{} dropped unsent", unsent));
  if (queued + unread > 0) {
    parts.push_back(fmt::format("{} never sent ({})", queued + unread,
                                session_->end_reason() == core::EndReason::server_closed
                                    ? "the server closed the chat"
                                : session_->ever_joined() ? "the server went away"
                                                          : "never joined"));
  }
  if (sent > 0) parts.push_back(fmt::format("{} never acknowledged by {}", sent, server_));
  finish(ChatEnd::undelivered,
         fmt::format("{} line(s) not delivered: {}", lines, fmt::join(parts, ", ")));
}

}  // namespace udpchat::net
