// Chat's input: the loop that reads lines, what each does (core::parse_input reads it: a chat
// line sent, or a slash command carried out; where a script's command fails, its input stops
// there), and the wait at end of input for the lines to be acknowledged.
#include <fmt/format.h>

#include <variant>

#include "core/chat_input.hpp"
#include "core/overloaded.hpp"
#include "net/chat_client.hpp"
#include "protocol/text.hpp"

namespace udpchat::net {

namespace {

using core::Overloaded;
using namespace std::chrono_literals;

// At end of input a join still under way gets this long before --linger starts counting: a
// little more than telling an original server apart takes (three cookie requests, 1.4 s).
constexpr core::Duration kJoinGrace = 2s;

// /help: the commands' table, then what a line that is not one does.
std::string help_text(bool script) {
  return fmt::format(
      "commands: {}{}; a line starting with // sends it with one / removed; anything else is "
      "sent as a chat line (longer than 1024 bytes of UTF-8, it goes as several)",
      core::slash_help(), script ? "" : " (at a terminal, so does quit)");
}

std::string_view refusal(core::LineVerdict verdict) {
  switch (verdict) {
    case core::LineVerdict::invalid_utf8:
      return "line is not valid UTF-8: not sent";
    case core::LineVerdict::control_character:
      return "line holds a control character: not sent";
    case core::LineVerdict::format_character:
      return "line holds a bidi override or a line separator: not sent";
    case core::LineVerdict::needs_numbering:
      return "line reads as a protocol command, and this server does not number lines (the "
             "only way to send that text): not sent";
    case core::LineVerdict::too_many_waiting:
      return "too many lines wait for the server already (the most kept): not sent";
    case core::LineVerdict::accepted:
    case core::LineVerdict::empty:
      break;
  }
  return {};
}

// 'first line', 'second' and 3 more: which lines, for the person to find them again.
}  // namespace

void ChatClient::stop_input(std::string_view line, std::string_view why) {
  if (!stopped_at_.empty()) return;
  stopped_at_ = fmt::format("'{}' ({})", protocol::printable(protocol::strip(line)), why);
  not_sent_ = input_->take_unread();
  input_->stop_reading();
  view_.notice(ClientNotice::stopped,
               fmt::format("stopped at {}: no line after it is sent", stopped_at_));
}

ChatClient::Step ChatClient::handle_input(std::string_view line) {
  // A person sees a failed command and carries on; a script stops there.
  const bool script = settings_.input != core::InputMode::terminal;
  // `unsent`: the line was meant as chat, or to lead lines somewhere (a /join): exit 1.
  // A person was told, and types again: nothing is owed at the end.
  auto failed = [&](ClientNotice what, const std::string& problem) {
    if (script) {
      stop_input(line, problem);
      return Step::stop;
    }
    view_.notice(what, problem);
    return Step::next;
  };
  return std::visit(
      Overloaded{
          [](const core::input::Empty&) { return Step::next; },
          [](const core::input::Quit&) { return Step::quit; },
          [&](const core::input::Help&) {
            view_.notice(ClientNotice::help, help_text(script));
            return Step::next;
          },
          [&](const core::input::History& history) {
            if (history.count == 0) {
              return failed(ClientNotice::unknown_command, "/history takes a number of lines");
            }
            if (!session_->repairing()) {
              return failed(ClientNotice::unknown_command,
                            "this server keeps no history (it does not offer repair)");
            }
            session_->fetch_history(history.count, core::Clock::now());
            return Step::next;
          },
          [&](const core::input::Unknown& unknown) {
            // A line meant as chat (`/var/log is full`) is not sent: said, and counted as such.
            return failed(ClientNotice::unknown_command,
                          fmt::format("unknown command '{}': not sent (// sends a line starting "
                                      "with /; /help lists commands)",
                                      protocol::printable(unknown.command)));
          },
          [&](const core::input::Join& join) {
            std::string problem;
            if (session_->state() == core::SessionState::legacy) {
              problem = "the server speaks the original protocol: it has no rooms";
            } else if (settings_.session.room_key && join.room != settings_.session.room) {
              problem = fmt::format(
                  "room {} is private and its key is its own: start another chat for room {}",
                  settings_.session.room, protocol::printable(join.room));
            } else if (settings_.session.nick.empty()) {
              problem = "/join needs a nick (a room is named after it): start chat with --nick";
            } else if (!protocol::is_room(join.room)) {
              problem = fmt::format("'{}' is not a room name: use 1 to 32 of A-Z a-z 0-9 _ -",
                                    protocol::printable(join.room));
            } else if (join.room == session_->room() && session_->settled()) {
              view_.notice(ClientNotice::same_room, fmt::format("already in room {}", join.room));
              return Step::next;
            }
            // What follows a failed /join would go to the room the script meant to leave.
            if (!problem.empty()) return failed(ClientNotice::bad_room, problem);
            session_->move_to(join.room, core::Clock::now());
            return Step::next;
          },
          [&](const core::input::Chat& chat) {
            const core::LineVerdict verdict = session_->send_line(chat.text, core::Clock::now());
            if (verdict != core::LineVerdict::accepted && verdict != core::LineVerdict::empty) {
              ++refused_lines_;
              if (refused_texts_.size() < kNamedLines) refused_texts_.emplace_back(chat.text);
              view_.notice(
                  ClientNotice::refused_line,
                  fmt::format("{}: {}", refusal(verdict), name_lines({std::string(chat.text)}, 1)));
            }
            return Step::next;
          },
      },
      core::parse_input(line, settings_.input));
}

awaitable<void> ChatClient::input_loop() {
  const std::size_t most = settings_.session.max_waiting;
  bool paused = false;
  while (!done_) {
    // A script's input waits while the most lines kept wait for the server (a long outage, a
    // long pipe): its writer waits too, and nothing is dropped. A person is told instead
    // (send_line refuses), since what is typed cannot wait in a pipe.
    if (settings_.input != core::InputMode::terminal && session_->waiting() >= most) {
      // Said when the server is away; a long pipe paced out at the send budget is normal.
      if (!paused && !session_->is_member()) {
        view_.notice(ClientNotice::input_paused,
                     fmt::format("{} lines wait for the server, the most kept: reading input "
                                 "again once it takes them",
                                 most));
      }
      paused = paused || !session_->is_member();
      co_await wait_until(wake_, core::TimePoint::max(), [&] {
        return done_ || session_->waiting() < most || (!paused && !session_->is_member());
      });
      continue;
    }
    if (session_->waiting() < most / 2) paused = false;
    const std::optional<std::string> line = co_await input_->next();
    if (!line || done_) break;
    const Step step = handle_input(*line);
    apply();
    if (step == Step::quit && settings_.input != core::InputMode::terminal &&
        input_->unread() > 0) {
      // A script that quits before its end: what it wrote after /quit is not sent, and said.
      stop_input(*line, "the script quit");
    }
    if (step != Step::next) break;
  }
  if (done_) co_return;
  co_await linger();
  if (done_) co_return;
  session_->leave();
  apply();
}

awaitable<void> ChatClient::linger() {
  // A first join still under way gets its first attempts before --linger counts.
  co_await wait_until(wake_, core::Clock::now() + kJoinGrace, [&] {
    return done_ || session_->ever_joined() || session_->state() == core::SessionState::ended;
  });
  // Lines going out at the send budget (a long pipe), echoes coming back, the server saying
  // `end` (it may be restarting): each is progress, and --linger bounds the wait for the next.
  // A server that went away without a word makes none.
  // A server that still answers (its budget is spent, its queue long) is waited for while lines
  // move within kStuckLimit; asked when none moved for --linger.
  const auto progress = [&] {
    return std::tuple{session_->queued(), session_->waiting(), closings_};
  };
  auto moved_at = core::Clock::now();
  while (!done_ && !session_->settled() && session_->state() != core::SessionState::ended) {
    const auto mark = progress();
    co_await wait_until(wake_, core::Clock::now() + settings_.linger,
                        [&] { return done_ || session_->settled() || progress() != mark; });
    if (progress() != mark) {
      moved_at = core::Clock::now();
      continue;
    }
    if (done_) break;
    if (core::Clock::now() - moved_at >= kStuckLimit) {
      stuck_ = true;
      break;
    }
    const auto asked = core::Clock::now();
    session_->check_alive();
    apply();
    co_await wait_until(wake_, asked + settings_.linger, [&] {
      return done_ || session_->last_heard() >= asked || progress() != mark;
    });
    if (session_->last_heard() < asked && progress() == mark) break;
  }
}

}  // namespace udpchat::net
