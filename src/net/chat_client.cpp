// The Asio shell around core::ClientSession: one loop each for datagrams, timers, typed lines
// and signals, and each of the host's addresses tried in turn until one is not refused.
#include "net/chat_client.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <csignal>
#include <tuple>
#include <variant>
#include <vector>

#include "core/chat_input.hpp"
#include "core/overloaded.hpp"
#include "core/units.hpp"
#include "net/key_store.hpp"
#include "net/probe_client.hpp"
#include "net/socket.hpp"
#include "protocol/message.hpp"
#include "protocol/text.hpp"

namespace udpchat::net {

namespace {

using namespace std::chrono_literals;
using core::Overloaded;

// Output waiting for a reader that does not keep up: beyond `high` the session holds room lines
// (with repair they wait, or wait in the relay's window), and lets them go at `low`.
constexpr std::size_t kOutputHigh = 256 * 1024;
constexpr std::size_t kOutputLow = 64 * 1024;

}  // namespace

// Lines named in an error are cut to a readable length (kNamedLines of them at most).
constexpr std::size_t kNamedBytes = 40;
// What a member on a room's old key does next.
constexpr const char* kAskForNewKey =
    "ask the room's members for its new key; given with --previous-room-key-file, this one "
    "still opens earlier lines";

std::string ChatClient::name_lines(const std::vector<std::string>& texts, std::size_t total) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < texts.size() && i < kNamedLines; ++i) {
    std::string_view text = texts[i];
    const bool cut = text.size() > kNamedBytes;
    if (cut) text = protocol::split_text(text, kNamedBytes).front();
    names.push_back(fmt::format("'{}{}'", protocol::printable(text), cut ? "…" : ""));
  }
  std::string named = fmt::format("{}", fmt::join(names, ", "));
  if (total > names.size()) named += fmt::format(" and {} more", total - names.size());
  return named;
}

ChatClient::ChatClient(asio::io_context& io, ChatSettings settings, ChatView& view,
                       LineSource* input, OutputQueue* output)
    : io_(io),
      settings_(std::move(settings)),
      view_(view),
      input_(input),
      output_(output),
      socket_(io),
      timer_(io),
      wake_(io),
      outage_wake_(io),
      signals_(io, SIGINT, SIGTERM) {
  if (settings_.session.ping_token == core::SessionConfig{}.ping_token) {
    settings_.session.ping_token = make_ping_token();
  }
  if (output_ != nullptr) {
    output_->watch(kOutputHigh, kOutputLow, [this] {
      if (done_ || !session_) return;
      session_->hold_lines(false, core::Clock::now());
      apply();
    });
  }
}

void ChatClient::watch_output() {
  if (output_ == nullptr || session_->holding_lines() || output_->backlog() <= kOutputHigh) return;
  session_->hold_lines(true, core::Clock::now());
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
    co_await wait_until(wake_, core::TimePoint::max(), [&] {
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
  if (settings_.session.history > 0 && session_->is_member() && !session_->repairing()) {
    view_.notice(
        ClientNotice::no_history,
        "this server keeps no history (it does not offer repair): --history shows nothing");
  }
  if (settings_.listen) co_return;
  asio::co_spawn(io_, input_loop(), asio::detached);
  if (settings_.input != core::InputMode::terminal) {
    asio::co_spawn(io_, outage_loop(), asio::detached);
  }
}

// A person decides when to give up on a server that went away; a script's waiting lines get
// --linger from the moment they wait on a server that said `end` (or said it again).
awaitable<void> ChatClient::outage_loop() {
  while (!done_) {
    co_await wait_until(outage_wake_, core::TimePoint::max(), [&] {
      return done_ || (session_->server_closed() && session_->waiting() > 0);
    });
    const std::uint64_t mark = closings_;
    co_await wait_until(outage_wake_, core::Clock::now() + settings_.linger, [&] {
      return done_ || !session_->server_closed() || session_->waiting() == 0 || closings_ != mark;
    });
    if (done_) co_return;
    if (session_->server_closed() && session_->waiting() > 0 && closings_ == mark) {
      session_->leave();
      apply();
      co_return;
    }
  }
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

awaitable<void> ChatClient::signal_loop() {
  auto [ec, signal] = co_await signals_.async_wait(use_nothrow);
  if (ec || done_) co_return;
  if (!session_) {
    finish(ChatEnd::ok);
    co_return;
  }
  signaled_ = true;
  session_->leave();
  apply();
}

// A command that failed in a script: what follows it was meant for after it, so none of it is
// sent; the lines read already are named.
void ChatClient::apply() {
  if (!session_) return;
  for (const auto& datagram : session_->take_datagrams()) {
    // A restarting server refuses for a moment: liveness and the session deal with that.
    std::error_code ignored;
    socket_.send(asio::buffer(datagram), 0, ignored);
  }
  const auto events = session_->take_events();
  for (const auto& event : events) {
    view_.show(event);
    if (std::holds_alternative<core::event::Joined>(event)) pin_relay_key();
    if (const auto* joining = std::get_if<core::event::Joining>(&event);
        joining != nullptr && joining->why == core::JoinTrouble::server_closed) {
      ++closings_;
    }
    // A /join the server refused (the nick is taken there): a script stops, as for a bad name.
    if (const auto* refused = std::get_if<core::event::RoomRefused>(&event);
        refused != nullptr && settings_.input == core::InputMode::commands && input_ != nullptr) {
      stop_input("/join " + refused->room, std::string(core::info(refused->why).says));
    }
  }
  if (!events.empty()) watch_output();
  if (session_->deadline() < timer_.expiry()) timer_.cancel();
  wake_.cancel();
  outage_wake_.cancel();
  if (session_->state() == core::SessionState::ended) finish_session();
}

// Trust on first use: the key of the first relay this name led to, once a handshake proved it.
void ChatClient::pin_relay_key() {
  if (pinned_ || settings_.pin_to.empty() || !session_->sealed()) return;
  pinned_ = true;
  std::string error;
  if (!pin_key(settings_.pin_to, settings_.pin_name, session_->offered_key(), error)) {
    view_.notice(ClientNotice::pin_failed, error);
  }
}

void ChatClient::finish_session() {
  if (session_->end_reason() == core::EndReason::key_changed) {
    // The command says which key, which file and what to do (commands::key_changed_error).
    finish(ChatEnd::key_changed, "the relay's key changed");
    return;
  }
  const auto refused = core::refusal_of(session_->end_reason());
  const std::string room_note =
      refused ? fmt::format("not admitted to room {} on {}: {}", session_->room(), server_,
                            core::info(*refused).says)
              : std::string{};
  if (refused && !session_->ever_joined()) {
    const char* what_to_do =
        *refused == core::Refusal::open_room ? "the operator can make it private with serve --rooms"
        : *refused == core::Refusal::old_key ? kAskForNewKey
        : settings_.session.room_key ? "the key given is not the room's: check --room-key-file, "
                                       "UDPCHAT_ROOM_KEY or --passphrase-file"
                                     : "give the room's key with --room-key-file, UDPCHAT_ROOM_KEY "
                                       "or --passphrase-file";
    finish(ChatEnd::not_admitted, fmt::format("{}; nothing was sent ({})", room_note, what_to_do));
    return;
  }
  if (session_->end_reason() == core::EndReason::nick_taken) {
    finish(ChatEnd::nick_taken,
           fmt::format("nick '{}' is taken in room {} on {} ({}a member that left without "
                       "quitting frees it within the server's heartbeat timeout)",
                       session_->nick(), session_->room(), server_,
                       settings_.session.nick_policy == core::NickPolicy::exact
                           ? "--nick-exact takes no other; "
                           : "pick another with --nick; "));
    return;
  }
  const std::uint64_t queued = session_->queued();
  const std::uint64_t sent = session_->waiting() - queued;
  const std::uint64_t unsent = session_->unsent();
  // Input read ahead and never handed over (a signal came): never sent either.
  const std::vector<std::string> unread =
      input_ != nullptr ? input_->take_unread() : std::vector<std::string>{};
  const std::uint64_t after_stop = not_sent_.size();
  const std::uint64_t lines = sent + queued + unsent + unread.size() + after_stop + refused_lines_;
  if (lines == 0 && stopped_at_.empty()) {
    // Moved to a new key while we were in: every line went, and the person is told why it ends.
    if (refused) {
      finish(ChatEnd::not_admitted, fmt::format("{} ({})", room_note, kAskForNewKey));
    } else {
      finish(ChatEnd::ok);
    }
    return;
  }
  std::vector<std::string> parts;
  if (refused_lines_ > 0) {
    parts.push_back(
        fmt::format("{} refused: {}", refused_lines_, name_lines(refused_texts_, refused_lines_)));
  }
  if (unsent > 0) parts.push_back(fmt::format("{} dropped unsent (said above)", unsent));
  const std::string why =
      signaled_                   ? "the client was stopped by a signal"
      : refused                   ? "the room moved to a new key"
      : session_->server_closed() ? "the server closed the chat and was not back in time"
      : !session_->ever_joined()  ? "never joined"
      : stuck_                    ? fmt::format(
                                        "the server answered but took none of them for {}: over its "
                                                           "per-member budget? (its drop counters say)",
                                        core::format_duration(kStuckLimit))
               : "the server went away";
  if (queued + unread.size() > 0) {
    parts.push_back(fmt::format("{} never sent ({})", queued + unread.size(), why));
  }
  if (sent > 0)
    parts.push_back(fmt::format("{} never acknowledged by {} ({})", sent, server_, why));
  // Which lines, in input order: from the first not delivered, where a script would resume.
  if (sent + queued + unread.size() > 0) {
    std::vector<std::string> first = session_->waiting_texts(kNamedLines);
    for (std::size_t i = 0; first.size() < kNamedLines && i < unread.size(); ++i) {
      first.push_back(unread[i]);
    }
    parts.back() += ": " + name_lines(first, sent + queued + unread.size());
  }
  std::string error;
  if (!stopped_at_.empty()) {
    error = fmt::format("stopped at {}", stopped_at_);
    if (after_stop > 0) {
      error += fmt::format(": {} line(s) after it not sent: {}", after_stop,
                           name_lines(not_sent_, after_stop));
    }
    if (!parts.empty()) error += "; also ";
  }
  if (!parts.empty()) {
    error +=
        fmt::format("{} line(s) not delivered: {}", lines - after_stop, fmt::join(parts, ", "));
  }
  finish(refused ? ChatEnd::not_admitted : ChatEnd::undelivered, std::move(error));
}

}  // namespace udpchat::net
