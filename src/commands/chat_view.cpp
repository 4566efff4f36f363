// What chat shows: every session event and client notice, as text for people and as JSON
// lines for scripts. Both views sit in one file so that a new event gets both at once.
#include "commands/chat_view.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <variant>

#include "commands/chat_words.hpp"
#include "core/client_session.hpp"
#include "core/overloaded.hpp"
#include "core/units.hpp"
#include "net/address.hpp"
#include "net/log.hpp"
#include "protocol/text.hpp"

namespace udpchat::commands {

using Json = nlohmann::ordered_json;  // the same alias as bench.hpp's: a unity build may join them

namespace {

namespace event = core::event;
using core::Overloaded;

// Lines for people: on a terminal through the line editor, so that incoming lines never garble
// the line being typed; otherwise plain lines. Everything from the network goes through
// printable(): no escape sequence, bidi control or invisible character reaches the screen raw.
class TextView final : public net::ChatView {
 public:
  TextView(net::Terminal* terminal, net::OutputQueue& output, std::string nick, bool quiet,
           bool script)
      : terminal_(terminal),
        output_(output),
        nick_(std::move(nick)),
        quiet_(quiet),
        script_(script) {}

  void show(const core::SessionEvent& e) override {
    std::visit(Overloaded{
                   [&](const event::Joining& joining) {
                     // The first attempt is announced by notice(joining) with the server's address.
                     if (joining.why == core::JoinTrouble::server_full ||
                         joining.why == core::JoinTrouble::server_closed) {
                       say(describe(joining, script_));  // a problem: said even with --quiet
                     } else if (joining.why != core::JoinTrouble::none) {
                       status("-- " + describe(joining, script_));
                     }
                   },
                   [&](const event::Joined& joined) {
                     room_ = joined.room;
                     if (!nick_.empty() && joined.nick != nick_ && joined.nick != held_) {
                       say(fmt::format("nick {} is taken in room {}: you are {}", nick_,
                                       joined.room, joined.nick));
                     }
                     held_ = joined.nick;
                     if (joined.again) {
                       status(fmt::format("-- rejoined {}, room {}", server_, joined.room));
                       return;
                     }
                     if (joined.legacy) {
                       status(
                           fmt::format("-- no cookie from {} within 1.4 s: it speaks the original "
                                       "protocol (or does not answer at all), continuing in "
                                       "legacy mode",
                                       server_));
                     }
                     status(fmt::format("joined {} ({}) as {}{}{}", server_,
                                        joined.legacy ? "legacy" : "udpchat",
                                        joined.address.empty() ? "unknown address" : joined.address,
                                        joined.nick.empty() ? "" : ", nick " + joined.nick,
                                        joined.legacy ? "" : ", room " + joined.room));
                     if (terminal_ != nullptr)
                       status("type a line and press enter; /help lists commands");
                   },
                   [&](const event::Message& m) {
                     // A line sent again from the relay's window (history, repair) shows when
                     // it was said, not when it came.
                     const std::time_t said = m.said_ms > 0
                                                  ? static_cast<std::time_t>(m.said_ms / 1000)
                                                  : std::time(nullptr);
                     // A sealed session's acks name no address: a member without a nick is
                     // nameless.
                     const std::string from = !m.nick.empty() ? m.nick
                                              : m.ip.empty()  ? std::string("(no nick)")
                                                              : net::format_address(m.ip, m.port);
                     print(fmt::format("{}{:%H:%M:%S} {}{}: {}", m.history ? "(history) " : "",
                                       fmt::localtime(said), from, m.own ? " (me)" : "",
                                       protocol::printable(m.text)),
                           stdout);
                   },
                   [&](const event::LinesMissed& missed) {
                     say(missed.unshown
                             ? fmt::format("{} line(s) not shown: they came while the output was "
                                           "blocked, and this server cannot send them again",
                                           missed.count)
                             : fmt::format("{} line(s) missed: they will not come (gone from the "
                                           "server's window before they reached us)",
                                           missed.count));
                   },
                   [&](const event::LinesUnreadable& unreadable) {
                     say(fmt::format("{} line(s) of this private room not shown: {}",
                                     unreadable.count, unreadable_reason(unreadable.why, true)));
                   },
                   [&](const event::RoomChanged& changed) {
                     room_ = changed.room;
                     status(fmt::format("-- now in room {}", changed.room));
                   },
                   [&](const event::RoomRefused& refused) {
                     say(refused.why == core::Refusal::nick_taken
                             ? fmt::format("could not move to room {}: nick {} is taken there",
                                           refused.room, held_)
                             : fmt::format("could not move to room {}: {}", refused.room,
                                           core::info(refused.why).says));
                   },
                   [&](const event::LinesUnsent& unsent) { say(describe(unsent, room_)); },
                   [&](const event::Malformed&) {
                     say("ignoring datagrams from the server that break the protocol's rules");
                   },
                   [&](const event::Ended& ended) {
                     if (ended.why == core::EndReason::server_closed)
                       print("server closed the chat", stderr);
                   },
               },
               e);
  }

  void notice(net::ClientNotice what, std::string_view text) override {
    if (what == net::ClientNotice::joining) {
      server_ = text;
      if (terminal_ != nullptr) status(fmt::format("-- joining {}…", server_));
      return;
    }
    // The error line at exit says where the script stopped and names what was not sent.
    if (what == net::ClientNotice::stopped) return;
    say(text);
  }

 private:
  // Problems and what was asked for (/help) are said whatever --quiet says; status lines are not.
  void say(std::string_view text) { print(fmt::format("-- {}", text), stderr); }
  void status(const std::string& line) {
    if (!quiet_) print(line, stderr);
  }

  void print(const std::string& line, std::FILE* stream) {
    if (terminal_ != nullptr) {
      terminal_->print_above(line);
    } else {
      output_.write(stream, line + "\n");
    }
  }

  net::Terminal* terminal_;
  net::OutputQueue& output_;
  std::string nick_;  // asked for
  std::string held_;  // as joined: nick_, or the next free one
  bool quiet_;
  bool script_;
  std::string server_;
  std::string room_;
};

// One JSON object per line on stdout, for scripts and tests. Text fields carry the exact
// bytes (JSON escapes what needs escaping).
class JsonView final : public net::ChatView {
 public:
  JsonView(net::OutputQueue& output, std::string nick) : output_(output), nick_(std::move(nick)) {}

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
                    {"nick", joined.nick.empty() ? Json() : Json(joined.nick)},
                    {"room", joined.legacy ? Json() : Json(joined.room)}});
            },
            [&](const event::Message& m) {
              // `time` is when the line was said: the relay's own time for a line sent again
              // from its window, else now.
              emit({{"type", "message"},
                    // null in a sealed session, whose acks name no address
                    {"from", m.ip.empty() ? Json() : Json(m.ip)},
                    {"port", m.ip.empty() ? Json() : Json(m.port)},
                    {"nick", m.nick.empty() ? Json() : Json(m.nick)},
                    {"text", m.text},
                    {"own", m.own},
                    {"history", m.history}},
                   m.said_ms);
            },
            [&](const event::LinesMissed& missed) {
              emit({{"type", "missed"},
                    {"count", missed.count},
                    {"reason", missed.unshown ? "output_blocked" : "gone"}});
            },
            [&](const event::LinesUnreadable& unreadable) {
              emit({{"type", "unreadable"},
                    {"count", unreadable.count},
                    {"reason", unreadable_reason(unreadable.why, false)}});
            },
            [&](const event::RoomChanged& changed) {
              emit({{"type", "room"}, {"room", changed.room}});
            },
            [&](const event::RoomRefused& refused) {
              emit({{"type", "room_refused"},
                    {"room", refused.room},
                    {"reason", core::info(refused.why).code}});
            },
            [&](const event::LinesUnsent& unsent) {
              emit({{"type", "unsent"},
                    {"count", unsent.count},
                    {"reason", code_of(unsent.why)},
                    {"lines", unsent.texts}});
            },
            [&](const event::Malformed&) {
              emit({{"type", "malformed"}});
            },
            [&](const event::Ended& ended) {
              if (ended.why == core::EndReason::server_closed) emit({{"type", "end"}});
              if (ended.why == core::EndReason::nick_taken) {
                emit({{"type", "nick_taken"}, {"nick", nick_}});
              }
              if (const auto refused = core::refusal_of(ended.why)) {
                emit({{"type", "not_admitted"}, {"reason", core::info(*refused).code}});
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
  void emit(Json object, std::int64_t said_ms = 0) {
    Json line = {{"time", said_ms > 0 ? net::utc_timestamp(said_ms) : net::utc_timestamp()}};
    for (auto& [key, value] : object.items()) line[key] = std::move(value);
    output_.write(stdout,
                  line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  }

  net::OutputQueue& output_;
  std::string nick_;
  std::string server_;
};

}  // namespace

std::unique_ptr<net::ChatView> make_text_view(net::Terminal* terminal, net::OutputQueue& output,
                                              std::string nick, bool quiet, bool script) {
  return std::make_unique<TextView>(terminal, output, std::move(nick), quiet, script);
}

std::unique_ptr<net::ChatView> make_json_view(net::OutputQueue& output, std::string nick) {
  return std::make_unique<JsonView>(output, std::move(nick));
}

}  // namespace udpchat::commands
