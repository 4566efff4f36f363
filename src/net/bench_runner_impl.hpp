// The inside of bench's runner (net::BenchRunner): its clients, their receive and timer loops
// and the paced sender. Private to bench_runner.cpp.
#pragma once

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <string_view>
#include <variant>

#include "core/pacer.hpp"
#include "net/bench_runner.hpp"
#include "net/probe_client.hpp"
#include "net/socket.hpp"
#include "protocol/bench_line.hpp"
#include "protocol/message.hpp"
#include "protocol/sealed.hpp"

namespace udpchat::net {

namespace bench_detail {

using namespace std::chrono_literals;

// How long the clients have to join once the first one has told what the server speaks.
constexpr core::Duration kJoinLimit = 10s;
// How often the sessions' timers (join retries, heartbeats) are looked at.
constexpr core::Duration kTick = 20ms;
// Receive buffers: large enough that the bench itself does not drop; the kernel caps the value
// at net.core.rmem_max and the drops it still sees are reported apart (SO_RXQ_OVFL).
constexpr int kReceiveBuffer = 4 << 20;
constexpr std::size_t kBatch = 64;
// Acks of lines up to 1024 bytes plus their header fit; anything longer is not ours.
constexpr std::size_t kSlotBytes = 2048;
// Batches read from one socket before its loop yields to the others and to the sender.
constexpr int kBatchesPerTurn = 8;
// A sender far behind its schedule sends at most this many lines before looking at the clock.
constexpr std::uint64_t kMostPerTurn = 4096;
// A line sent longer ago than this whose deliveries have not all come counts as lost in a
// progress line (the report, after the drain, is exact).
constexpr core::Duration kProgressGrace = 250ms;

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(core::Clock::now().time_since_epoch())
      .count();
}

inline core::TimePoint to_time_point(std::int64_t ns) {
  return core::TimePoint(
      std::chrono::duration_cast<core::TimePoint::duration>(std::chrono::nanoseconds(ns)));
}

inline std::uint64_t to_ns(core::TimePoint time) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count());
}

struct Client {
  explicit Client(asio::io_context& io) : socket(io) {}
  udp::socket socket;
  std::size_t index = 0;
  std::size_t node = 0;  // which target it joined
  core::SessionConfig config;
  // Joining, heartbeats and liveness, as chat has them; acks are counted apart, on the hot path.
  std::optional<core::ClientSession> session;
  std::uint32_t kernel_drops = 0;  // SO_RXQ_OVFL: cumulative for the socket
};

// One sender's schedule in a trial: which lines are due, measured, and sent so far.
struct Schedule {
  core::Pacer pacer;
  std::uint64_t first_measured = 0;
  std::uint64_t last = 0;  // lines [0, last) are the trial's
  std::uint64_t next = 0;  // the next line to send
};

}  // namespace bench_detail

using namespace bench_detail;

struct BenchRunner::Impl {
  explicit Impl(asio::io_context& context) : io(context), wake(context), tick(context) {}

  asio::io_context& io;
  std::vector<std::unique_ptr<Client>> clients;
  core::ServerKind server = core::ServerKind::unknown;
  bool refused = false;
  bool closed = false;  // the server said `end`
  bool full = false;    // a client was told the server is full
  // A client was refused its private room (another key, or none), or kept out of an open one.
  std::optional<core::Refusal> not_admitted;
  std::size_t joined = 0;
  asio::steady_timer wake;  // cancelled when a wait's condition may have changed
  asio::steady_timer tick;  // the sessions' timers
  // Set by close(): a tick already due when its timer is cancelled still completes without an
  // error, and a loop that only looked at the error would tick on, keeping io.run() alive.
  bool stopped = false;
  // One receive buffer for every client: each loop handles a whole batch before it yields.
  ReceiveBatch batch{kBatch, kSlotBytes};
  std::optional<core::BenchTally> tally;  // the trial in progress
  std::uint64_t send_errors = 0;
  // Measured lines of the trial given up by their senders: (sender, sequence).
  std::vector<std::pair<std::uint32_t, std::uint64_t>> given_up;

  void send(Client& client, std::string_view payload) {
    std::error_code ec;
    client.socket.send(asio::buffer(payload.data(), payload.size()), 0, ec);
    if (ec) ++send_errors;
  }

  void handle(Client& client, std::string_view datagram, std::int64_t arrival_ns) {
    if (protocol::sealed::is_sealed_dialect(datagram)) {
      // Sealed: the session opens it, and its lines come out as events (pump counts them).
      if (!client.session) return;
      client.session->on_datagram(datagram, core::Clock::now());
      pump(client, arrival_ns);
      return;
    }
    const auto message = protocol::decode_server(datagram);
    if (const auto* ack = std::get_if<protocol::Ack>(&message); ack && ack->room_seq == 0) {
      count(client, ack->text, datagram.size(), arrival_ns);
      // Without it, three lost pongs (10% loss: twice a run of 50 clients) end a live membership.
      if (client.session) client.session->heard_from_server(to_time_point(arrival_ns));
      return;
    }
    // Numbered acks go through the session, which hands them over in order (pump counts them).
    if (!client.session) return;
    client.session->on_message(message, core::Clock::now());
    pump(client, arrival_ns);
  }

  void count(Client& client, std::string_view text, std::size_t bytes, std::int64_t arrival_ns) {
    if (!tally) return;
    if (const auto line = protocol::decode_bench_line(text)) {
      tally->record(client.index, *line, bytes, arrival_ns);
      if (tally->complete()) wake.cancel();
    }
  }

  // Sends what the session has to send and notes what became of it.
  void pump(Client& client, std::int64_t arrival_ns = 0) {
    core::ClientSession& session = *client.session;
    for (const auto& datagram : session.take_datagrams()) send(client, datagram);
    for (const auto& e : session.take_events()) {
      if (const auto* message = std::get_if<core::event::Message>(&e)) {
        // The ack's header is not kept with the line: its size is estimated.
        count(client, message->text, message->text.size() + 40,
              arrival_ns == 0 ? now_ns() : arrival_ns);
      } else if (const auto* joining = std::get_if<core::event::Joining>(&e)) {
        if (joining->why == core::JoinTrouble::server_full) full = true;
      } else if (const auto* joined_event = std::get_if<core::event::Joined>(&e)) {
        if (!joined_event->again) ++joined;
      } else if (const auto* unsent = std::get_if<core::event::LinesUnsent>(&e)) {
        count_given_up(*unsent);
      } else if (const auto* ended = std::get_if<core::event::Ended>(&e)) {
        if (ended->why == core::EndReason::server_closed) closed = true;
        if (const auto refusal = core::refusal_of(ended->why)) not_admitted = refusal;
      }
    }
    wake.cancel();
  }

  // Measured lines of this trial that their sender gave up (and said so).
  void count_given_up(const core::event::LinesUnsent& unsent) {
    if (!tally || unsent.why != core::Unsent::overloaded) return;
    for (const auto& text : unsent.texts) {
      const auto line = protocol::decode_bench_line(text);
      if (line && line->run == tally->run() && line->measured) {
        given_up.emplace_back(line->sender, line->sequence);
      }
    }
  }

  void start_session(Client& client, core::ServerKind hint) {
    client.config.hint = hint;
    client.session.emplace(client.config, core::Clock::now());
    pump(client);
  }

  awaitable<void> receive_loop(Client& client) {
    // A burst is drained at once (on Linux in one call), so the bench is not the bottleneck.
    co_await receive_batches(
        client.socket, batch, kBatchesPerTurn, [&client] { return client.socket.is_open(); },
        [&](std::size_t received) {
          if (const auto drops = batch.kernel_drops()) client.kernel_drops = *drops;
          const std::int64_t arrival = now_ns();
          for (std::size_t i = 0; i < received; ++i) {
            if (!batch.truncated(i)) handle(client, batch.datagram(i), arrival);
          }
        },
        [this](const std::error_code& ec) {
          if (ec == asio::error::connection_refused) {
            refused = true;
            wake.cancel();
            return true;
          }
          return is_per_datagram_error(ec);
        });
  }

  // Every session's timers, looked at each tick: a thousand clients need no thousand timers.
  awaitable<void> timer_loop() {
    while (true) {
      tick.expires_after(kTick);
      auto [ec] = co_await tick.async_wait(use_nothrow);
      if (ec || stopped) co_return;
      const auto now = core::Clock::now();
      for (auto& client : clients) {
        if (!client->session || client->session->deadline() > now) continue;
        client->session->on_timer(now);
        pump(*client);
      }
    }
  }

  // Waits until `done()` or `limit` has passed; receive handlers wake it.
  template <class Done>
  awaitable<void> wait_until(core::TimePoint limit, Done done) {
    while (!stopped && !done() && core::Clock::now() < limit) {
      wake.expires_at(limit);
      co_await wake.async_wait(use_nothrow);
    }
  }

  // Sends lines [from, to) of one sender, in batches where the platform allows.
  awaitable<void> send_lines(Client& client, std::uint32_t sender, const Schedule& schedule,
                             std::uint64_t from, std::uint64_t to, std::size_t size,
                             std::vector<std::string>& lines) {
    while (from < to) {
      const auto count = static_cast<std::size_t>(std::min<std::uint64_t>(to - from, kBatch));
      for (std::size_t i = 0; i < count; ++i) {
        const std::uint64_t n = from + i;
        protocol::BenchLine line;
        line.run = tally->run();
        line.measured = n >= schedule.first_measured;
        line.sender = sender;
        line.sequence = line.measured ? n - schedule.first_measured : n;
        line.intended_ns = to_ns(schedule.pacer.intended(n));
        protocol::encode_bench_line(lines[i], line, size);
      }
      if (client.session && (client.session->repairing() || client.session->sealed())) {
        // Numbered or sealed: the session numbers (or seals) each line and keeps it until it is
        // acknowledged.
        const auto now = core::Clock::now();
        for (std::size_t i = 0; i < count; ++i) client.session->send_line(lines[i], now);
        pump(client);
        from += count;
        continue;
      }
      std::size_t done = 0;
      while (done < count) {
        std::error_code ec;
        done += send_many(client.socket, std::span(lines.data() + done, count - done), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
          // The send buffer is full: send the next line asynchronously. Not async_wait(wait_write):
          // Asio's epoll reactor is edge-triggered, and a socket that became writable before the
          // wait was queued never wakes it (a bench under load hung there for good). async_send
          // tries the send first, so it cannot miss the moment.
          const auto [error, bytes] = co_await client.socket.async_send(
              asio::buffer(lines[done].data(), lines[done].size()), use_nothrow);
          if (error) ++send_errors;
          ++done;
        } else if (ec) {
          ++send_errors;  // refused, say: that line is lost, and counted as lost
          ++done;
        }
      }
      from += count;
    }
  }

  // The trial so far: what was sent, what came, and what should have come by now.
  BenchProgress progress_at(const std::vector<Schedule>& schedules, core::TimePoint measure_from,
                            core::TimePoint now) const {
    BenchProgress p;
    p.seconds = std::chrono::duration<double>(now - measure_from).count();
    std::uint64_t settled = 0;
    for (const Schedule& s : schedules) {
      const std::uint64_t sent = std::max(s.next, s.first_measured);
      p.sent += sent - s.first_measured;
      const std::uint64_t due =
          std::clamp(s.pacer.due_by(now - kProgressGrace), s.first_measured, sent);
      settled += due - s.first_measured;
    }
    p.delivered = tally->delivered();
    const std::uint64_t expected = settled * clients.size();
    p.lost = expected > p.delivered ? expected - p.delivered : 0;
    p.p99_ns = tally->latency().percentile(99);
    return p;
  }

  // Sends every sender's lines on schedule until the measured period ends, with one last turn
  // after it for lines due within it (a timer that fires late must not cut off the last line).
  // Lines never sent are not counted, and the send rate shows the shortfall.
  awaitable<void> pace(std::vector<Schedule>& schedules, core::TimePoint measure_from,
                       core::TimePoint measure_until, std::size_t size,
                       const std::function<void(const BenchProgress&)>& progress,
                       core::Duration interval) {
    std::vector<std::string> lines(kBatch);
    asio::steady_timer timer(io);
    core::TimePoint report_at = progress ? measure_from + interval : core::TimePoint::max();
    while (!closed) {
      const auto now = core::Clock::now();
      if (now >= report_at) {
        progress(progress_at(schedules, measure_from, now));
        while (report_at <= now) report_at += interval;
      }
      core::TimePoint next_due = core::TimePoint::max();
      for (std::uint32_t i = 0; i < schedules.size(); ++i) {
        Schedule& s = schedules[i];
        // Warm-up lines still unsent when measuring starts would only delay the measured ones.
        if (now >= measure_from) s.next = std::max(s.next, s.first_measured);
        const auto due = std::min({s.pacer.due_by(now), s.last, s.next + kMostPerTurn});
        if (s.next < due) {
          co_await send_lines(*clients[i], i, s, s.next, due, size, lines);
          s.next = due;
        }
        if (s.next < s.last) next_due = std::min(next_due, s.pacer.intended(s.next));
      }
      if (next_due == core::TimePoint::max() || now >= measure_until) break;
      timer.expires_at(std::min(next_due, report_at));
      co_await timer.async_wait(use_nothrow);
    }
  }
};

}  // namespace udpchat::net
