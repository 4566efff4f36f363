// Sessions and a relay wired together in one process, for the tests of core::ClientSession:
// datagrams go from one to the other at once, time is stepped by hand.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/client_session.hpp"
#include "core/relay.hpp"
#include "support/core_fixture.hpp"

namespace udpchat::test {

using namespace std::chrono_literals;
using core::ClientSession;
using core::Peer;
using core::Relay;
using core::RelayConfig;
using core::SessionConfig;
using core::TimePoint;

inline RelayConfig relay_config(std::size_t max_clients = 4096) {
  RelayConfig c;
  c.max_clients = max_clients;
  c.format_ip = &dotted;
  c.datagram_limit = {0, 0};
  c.cookie_limit = {0, 0};
  return c;
}

inline SessionConfig session_config(std::string nick = {}, std::string room = {}) {
  SessionConfig c;
  c.nick = std::move(nick);
  c.room = std::move(room);
  c.hb_interval = 1s;
  return c;
}

// Sessions and a relay wired together with nothing in between: what one sends, the other
// handles at once, until nobody has anything left to say. `lose` drops datagrams on the way.
class Wire {
 public:
  explicit Wire(RelayConfig config = relay_config()) : config_(config) { restart(); }

  ClientSession& add(std::uint16_t port, SessionConfig config) {
    auto& slot = sessions_[port];
    slot = std::make_unique<ClientSession>(std::move(config), now);
    return *slot;
  }
  ClientSession& at(std::uint16_t port) { return *sessions_.at(port); }
  Relay& relay() { return *relay_; }
  // The relay loses every member, as after a SIGKILL and a restart on the same port.
  void restart() { relay_ = std::make_unique<Relay>(config_, now); }

  // Runs every session's timers due by `now`, then delivers until the wire is quiet.
  void settle() {
    for (auto& [port, session] : sessions_) {
      if (session->deadline() <= now) session->on_timer(now);
    }
    for (bool busy = true; busy;) {
      busy = false;
      for (auto& [port, session] : sessions_) {
        for (const auto& datagram : session->take_datagrams()) {
          busy = true;
          sent[port].push_back(datagram);
          if (down || (lose && lose(port, true))) continue;
          deliver(Peer::v4(10, 0, 0, 1, port), datagram);
        }
      }
    }
  }
  // Steps the clock by `step` until `duration` has passed, settling at each step.
  void run_for(core::Duration duration, core::Duration step = 10ms) {
    const TimePoint until = now + duration;
    while (now < until) {
      now += step;
      settle();
    }
  }

  TimePoint now = t0;
  bool down = false;  // the server is gone: datagrams to it vanish
  std::map<std::uint16_t, std::vector<std::string>> sent;
  std::map<std::uint16_t, std::vector<std::string>> received;  // what the relay sent each
  // Decides, for each datagram on the way (to the relay or from it), whether the link loses it.
  std::function<bool(std::uint16_t port, bool to_relay)> lose;

 private:
  // As the relay's shell does: the datagram's outcome, then every line it released.
  void deliver(const Peer& from, const std::string& datagram) {
    // Copied before any reply is handled: a reply can make the session send, and the relay
    // overwrite what the outcome points into.
    std::vector<std::pair<std::uint16_t, std::string>> replies;
    collect(from, relay_->on_datagram(from, datagram, now), replies);
    while (auto released = relay_->next_released(now)) collect(from, *released, replies);
    for (const auto& [port, payload] : replies) reply(port, payload);
  }
  void collect(const Peer& from, const core::Outcome& out,
               std::vector<std::pair<std::uint16_t, std::string>>& replies) {
    if (const auto* answer = std::get_if<core::ToSender>(&out.sends)) {
      for (const auto answered : answer->datagrams) replies.emplace_back(from.port, answered);
    } else if (const auto* line = std::get_if<core::ToRoom>(&out.sends)) {
      for (const auto& form : {line->plain, line->numbered}) {
        for (const auto index : form.recipients) {
          replies.emplace_back(relay_->members()[index].peer.port, form.payload);
        }
      }
      for (const auto& sealed : line->sealed) {
        replies.emplace_back(relay_->members()[sealed.recipient].peer.port, sealed.datagram);
      }
    }
  }
  void reply(std::uint16_t port, std::string_view payload) {
    received[port].emplace_back(payload);
    if (lose && lose(port, false)) return;
    const auto it = sessions_.find(port);
    if (it != sessions_.end()) it->second->on_datagram(payload, now);
  }

  RelayConfig config_;
  std::unique_ptr<Relay> relay_;
  std::map<std::uint16_t, std::unique_ptr<ClientSession>> sessions_;
};

template <class T>
inline std::vector<T> events_of(ClientSession& session) {
  std::vector<T> found;
  for (auto& e : session.take_events()) {
    if (auto* match = std::get_if<T>(&e)) found.push_back(std::move(*match));
  }
  return found;
}

}  // namespace udpchat::test
