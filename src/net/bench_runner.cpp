#include "net/bench_runner.hpp"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <string_view>
#include <variant>

#ifdef __linux__
#include <sys/socket.h>
#endif

#include <fmt/format.h>
#include <cstring>

#include "core/client_session.hpp"
#include "core/pacer.hpp"
#include "core/sequence_tracker.hpp"
#include "net/socket.hpp"
#include "protocol/bench_line.hpp"
#include "protocol/message.hpp"

namespace udpchat::net {

namespace {

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

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             core::Clock::now().time_since_epoch())
      .count();
}

struct Stream {
  explicit Stream(std::uint64_t capacity) : tracker(capacity) {}
  core::SequenceTracker tracker;
  std::int64_t last_transit = 0;
  bool has_transit = false;
  double jitter = 0;
};

struct Client {
  explicit Client(asio::io_context& io) : socket(io) {}
  udp::socket socket;
  std::size_t node = 0;  // which target it joined
  core::SessionConfig config;
  // Joining, heartbeats and liveness, as chat has them; acks are counted apart, on the hot path.
  std::optional<core::ClientSession> session;
  std::vector<Stream> streams;
  std::uint32_t kernel_drops = 0;  // SO_RXQ_OVFL: cumulative for the socket
};

}  // namespace

struct BenchRunner::State {
  explicit State(asio::io_context& context) : io(context), wake(context), tick(context) {}

  asio::io_context& io;
  std::vector<std::unique_ptr<Client>> clients;
  ServerKind server = ServerKind::unknown;
  bool refused = false;
  bool closed = false;
  bool full = false;  // a client was told the server is full
  std::size_t joined = 0;
  asio::steady_timer wake;  // cancelled when a wait's condition may have changed
  asio::steady_timer tick;  // the sessions' timers

  // The trial in progress.
  bool counting = false;
  std::uint32_t run = 0;
  std::uint32_t senders = 0;
  std::uint64_t delivered = 0;
  std::uint64_t awaited = 0;  // deliveries that would complete the trial
  std::uint64_t bytes = 0;
  std::uint64_t send_errors = 0;
  core::Histogram latency;
  std::uint64_t cross_delivered = 0;
  core::Histogram cross_latency;

  void send(Client& client, std::string_view payload) {
    std::error_code ec;
    client.socket.send(asio::buffer(payload.data(), payload.size()), 0, ec);
    if (ec) ++send_errors;
  }

  void handle(Client& client, std::string_view datagram, std::int64_t arrival_ns) {
    const auto message = protocol::decode_server(datagram);
    if (const auto* ack = std::get_if<protocol::Ack>(&message)) {
      if (counting) count(client, *ack, datagram.size(), arrival_ns);
      return;
    }
    if (!client.session) return;
    client.session->on_message(message, core::Clock::now());
    pump(client);
  }

  // Sends what the session has to send and notes what became of it.
  void pump(Client& client) {
    core::ClientSession& session = *client.session;
    for (const auto& datagram : session.take_datagrams()) send(client, datagram);
    for (const auto& e : session.take_events()) {
      if (const auto* joining = std::get_if<core::event::Joining>(&e)) {
        if (joining->why == core::JoinTrouble::server_full) full = true;
      } else if (const auto* joined_event = std::get_if<core::event::Joined>(&e)) {
        if (!joined_event->again) ++joined;
      } else if (const auto* ended = std::get_if<core::event::Ended>(&e)) {
        if (ended->why == core::EndReason::server_closed) closed = true;
      }
    }
    wake.cancel();
  }

  void start_session(Client& client, core::ServerHint hint) {
    client.config.hint = hint;
    client.session.emplace(client.config, core::Clock::now());
    pump(client);
  }

  void count(Client& client, const protocol::Ack& ack, std::size_t size, std::int64_t arrival_ns) {
    const auto line = protocol::decode_bench_line(ack.text);
    if (!line || line->run != run || !line->measured || line->sender >= senders) return;
    Stream& stream = client.streams[line->sender];
    const auto arrival = stream.tracker.record(line->sequence);
    if (arrival == core::SequenceTracker::Arrival::duplicate ||
        arrival == core::SequenceTracker::Arrival::out_of_range) {
      return;
    }
    const std::int64_t transit = arrival_ns - static_cast<std::int64_t>(line->intended_ns);
    const auto transit_ns = static_cast<std::uint64_t>(std::max<std::int64_t>(transit, 0));
    latency.record(transit_ns);
    if (client.node != clients[line->sender]->node) {
      ++cross_delivered;
      cross_latency.record(transit_ns);
    }
    if (stream.has_transit) {
      const double d = std::abs(static_cast<double>(transit - stream.last_transit));
      stream.jitter += (d - stream.jitter) / 16.0;
    }
    stream.last_transit = transit;
    stream.has_transit = true;
    bytes += size;
    if (++delivered == awaited) wake.cancel();
  }

  void on_error(const std::error_code& ec) {
    if (ec == asio::error::connection_refused) {
      refused = true;
      wake.cancel();
    }
  }

  awaitable<void> receive_loop(Client& client) {
#ifdef __linux__
    // recvmmsg drains a burst in one call, so the bench is not the bottleneck.
    std::vector<char> data(kBatch * kSlotBytes);
    std::array<mmsghdr, kBatch> headers{};
    std::array<iovec, kBatch> vectors{};
    std::array<std::array<char, CMSG_SPACE(sizeof(std::uint32_t))>, kBatch> controls{};
    while (client.socket.is_open()) {
      auto [wait_error] = co_await client.socket.async_wait(udp::socket::wait_read, use_nothrow);
      if (wait_error) co_return;
      while (true) {
        for (std::size_t i = 0; i < kBatch; ++i) {
          vectors[i] = {data.data() + i * kSlotBytes, kSlotBytes};
          headers[i].msg_hdr = {};
          headers[i].msg_hdr.msg_iov = &vectors[i];
          headers[i].msg_hdr.msg_iovlen = 1;
          headers[i].msg_hdr.msg_control = controls[i].data();
          headers[i].msg_hdr.msg_controllen = controls[i].size();
        }
        const int received =
            ::recvmmsg(client.socket.native_handle(), headers.data(), kBatch, MSG_DONTWAIT, nullptr);
        if (received < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          on_error(std::error_code(errno, asio::error::get_system_category()));
          if (errno == ECONNREFUSED || errno == EINTR) continue;
          co_return;
        }
        const std::int64_t arrival = now_ns();
        for (int i = 0; i < received; ++i) {
          auto& header = headers[static_cast<std::size_t>(i)].msg_hdr;
          for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
              std::memcpy(&client.kernel_drops, CMSG_DATA(c), sizeof client.kernel_drops);
            }
          }
          if (header.msg_flags & MSG_TRUNC) continue;
          handle(client,
                 std::string_view(data.data() + static_cast<std::size_t>(i) * kSlotBytes,
                                  headers[static_cast<std::size_t>(i)].msg_len),
                 arrival);
        }
        if (received < static_cast<int>(kBatch)) break;
      }
    }
#else
    std::vector<char> data(protocol::kMaxDatagramBytes);
    while (client.socket.is_open()) {
      auto [ec, size] = co_await client.socket.async_receive(asio::buffer(data), use_nothrow);
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) {
        on_error(ec);
        if (is_per_datagram_error(ec)) continue;
        co_return;
      }
      handle(client, std::string_view(data.data(), size), now_ns());
    }
#endif
  }

  // Every session's timers, looked at each tick: a thousand clients need no thousand timers.
  awaitable<void> timer_loop() {
    while (true) {
      tick.expires_after(kTick);
      auto [ec] = co_await tick.async_wait(use_nothrow);
      if (ec) co_return;
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
    while (!done() && core::Clock::now() < limit) {
      wake.expires_at(limit);
      co_await wake.async_wait(use_nothrow);
    }
  }

  // Sends lines [from, to) of one sender, in batches where the platform allows.
  awaitable<void> send_lines(Client& client, std::uint32_t sender, const core::Pacer& pacer,
                             std::uint64_t from, std::uint64_t to, std::uint64_t first_measured,
                             std::size_t size, std::vector<std::string>& lines) {
    while (from < to) {
      const std::size_t count = static_cast<std::size_t>(std::min<std::uint64_t>(to - from, kBatch));
      for (std::size_t i = 0; i < count; ++i) {
        const std::uint64_t n = from + i;
        protocol::BenchLine line;
        line.run = run;
        line.measured = n >= first_measured;
        line.sender = sender;
        line.sequence = line.measured ? n - first_measured : n;
        line.intended_ns = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(
                pacer.intended(n).time_since_epoch())
                .count());
        protocol::encode_bench_line(lines[i], line, size);
      }
      std::size_t done = 0;
#ifdef __linux__
      std::array<mmsghdr, kBatch> headers{};
      std::array<iovec, kBatch> vectors{};
      while (done < count) {
        const std::size_t batch = count - done;
        for (std::size_t i = 0; i < batch; ++i) {
          vectors[i] = {lines[done + i].data(), lines[done + i].size()};
          headers[i].msg_hdr = {};
          headers[i].msg_hdr.msg_iov = &vectors[i];
          headers[i].msg_hdr.msg_iovlen = 1;
        }
        const int sent = ::sendmmsg(client.socket.native_handle(), headers.data(),
                                    static_cast<unsigned>(batch), MSG_DONTWAIT);
        if (sent > 0) {
          done += static_cast<std::size_t>(sent);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          co_await client.socket.async_wait(udp::socket::wait_write, use_nothrow);
        } else {
          ++send_errors;  // e.g. refused: that line is lost, and counted as lost
          ++done;
        }
      }
#else
      for (; done < count; ++done) {
        while (true) {
          std::error_code ec;
          client.socket.send(asio::buffer(lines[done]), 0, ec);
          if (ec != asio::error::would_block) {
            if (ec) ++send_errors;
            break;
          }
          co_await client.socket.async_wait(udp::socket::wait_write, use_nothrow);
        }
      }
#endif
      from += count;
    }
  }
};

double BenchReport::lost_percent() const noexcept {
  return expected == 0 ? 0.0 : 100.0 * static_cast<double>(lost) / static_cast<double>(expected);
}
double BenchReport::deliveries_per_second() const noexcept {
  return seconds <= 0 ? 0.0 : static_cast<double>(delivered) / seconds;
}
double BenchReport::send_rate() const noexcept {
  return send_seconds <= 0 ? 0.0 : static_cast<double>(sent) / send_seconds;
}
double BenchReport::bytes_per_second() const noexcept {
  return seconds <= 0 ? 0.0 : static_cast<double>(bytes) / seconds;
}

BenchRunner::BenchRunner(asio::io_context& io) : state_(std::make_unique<State>(io)) {}

BenchRunner::~BenchRunner() {
  std::error_code ignored;
  state_->tick.cancel();
  for (auto& client : state_->clients) client->socket.close(ignored);
}

ServerKind BenchRunner::server() const noexcept { return state_->server; }

awaitable<std::optional<BenchRunner::Failure>> BenchRunner::connect(const BenchSettings& settings) {
  State& s = *state_;
  std::vector<udp::endpoint> servers;
  for (const auto& target : settings.targets) {
    const Resolved resolved = co_await resolve(target);
    if (resolved.error) {
      co_return Failure{ProbeStatus::unresolved,
                        fmt::format("cannot resolve '{}': {}", target.host, resolved.error.message())};
    }
    servers.push_back(resolved.endpoints.front());
  }
  // Nicks tell the clients apart in a named room; the suffix keeps two benches apart.
  const std::uint32_t suffix = randombytes_random() & 0xFFFFFF;
  for (int i = 0; i < settings.clients; ++i) {
    auto client = std::make_unique<Client>(s.io);
    client->node = static_cast<std::size_t>(i) % servers.size();
    client->config.room = settings.room;
    if (!settings.room.empty()) client->config.nick = fmt::format("b{}-{:06x}", i, suffix);
    client->config.hb_interval = settings.hb_interval;
    client->config.ping_token = make_ping_token();
    std::error_code ec;
    client->socket = connect_socket(s.io.get_executor(), servers[client->node], ec);
    if (ec) {
      co_return Failure{ProbeStatus::failed,
                        fmt::format("cannot open client socket {}: {}", i, ec.message())};
    }
    client->socket.set_option(asio::socket_base::receive_buffer_size(kReceiveBuffer), ec);
    client->socket.non_blocking(true, ec);
#ifdef __linux__
    const int on = 1;
    ::setsockopt(client->socket.native_handle(), SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on);
#endif
    s.clients.push_back(std::move(client));
  }
  for (auto& client : s.clients) asio::co_spawn(s.io, s.receive_loop(*client), asio::detached);
  asio::co_spawn(s.io, s.timer_loop(), asio::detached);

  // The first client tells what the server speaks (a cookie means udpchat, silence legacy);
  // the others are told, so that a cookie budget spent by a crowd is not taken for silence.
  Client& first = *s.clients.front();
  s.start_session(first, core::ServerHint::unknown);
  co_await s.wait_until(core::TimePoint::max(), [&] {
    return s.refused || first.session->is_udpchat() ||
           first.session->state() != core::SessionState::joining;
  });
  if (s.refused) {
    co_return Failure{ProbeStatus::refused,
                      fmt::format("{}: refused (nothing listening)", format_endpoint(servers.front()))};
  }
  const bool udpchat = first.session->is_udpchat();
  s.server = udpchat ? ServerKind::udpchat : ServerKind::legacy;
  for (std::size_t i = 1; i < s.clients.size(); ++i) {
    s.start_session(*s.clients[i], udpchat ? core::ServerHint::udpchat : core::ServerHint::legacy);
  }
  co_await s.wait_until(core::Clock::now() + kJoinLimit,
                        [&] { return s.joined >= s.clients.size() || s.full || s.closed; });
  if (s.joined < s.clients.size()) {
    co_return Failure{ProbeStatus::failed,
                      fmt::format("only {} of {} clients could join{}", s.joined, s.clients.size(),
                                  s.full ? ": the server is full (serve --max-clients)"
                                         : " within 10s (the server's cookie budget? serve "
                                           "--cookie-rate-limit)")};
  }
  co_return std::nullopt;
}

awaitable<BenchReport> BenchRunner::trial(const BenchSettings& settings) {
  State& s = *state_;
  const auto senders = static_cast<std::uint32_t>(
      std::clamp<int>(settings.senders, 1, static_cast<int>(s.clients.size())));
  const double per_sender = settings.rate / senders;
  const double seconds = std::chrono::duration<double>(settings.duration).count();
  const auto capacity = static_cast<std::uint64_t>(std::ceil(per_sender * seconds)) + 16;

  // A fresh run id: late acks of an earlier trial are not counted in this one.
  s.run = randombytes_random();
  s.senders = senders;
  s.delivered = 0;
  s.bytes = 0;
  s.send_errors = 0;
  s.latency.reset();
  s.cross_delivered = 0;
  s.cross_latency.reset();
  std::vector<std::uint32_t> drops_before;
  for (auto& client : s.clients) {
    client->streams.assign(senders, Stream(capacity));
    drops_before.push_back(client->kernel_drops);
  }

  // Senders are staggered by one line's spacing so that their lines interleave evenly.
  const auto start = core::Clock::now() + 10ms;
  const auto measure_from = start + settings.warmup;
  const auto measure_until = measure_from + settings.duration;
  std::vector<core::Pacer> pacers;
  std::vector<std::uint64_t> first_measured, last, next;
  for (std::uint32_t i = 0; i < senders; ++i) {
    pacers.emplace_back(per_sender, start + std::chrono::duration_cast<core::Duration>(
                                                std::chrono::duration<double>(i / settings.rate)));
    first_measured.push_back(pacers.back().due_by(measure_from - std::chrono::nanoseconds(1)));
    last.push_back(pacers.back().due_by(measure_until - std::chrono::nanoseconds(1)));
    next.push_back(0);
  }
  s.awaited = ~std::uint64_t{0};  // known once sending ends
  s.counting = true;

  std::vector<std::string> lines(kBatch);
  asio::steady_timer pace(s.io);
  // Sending stops at the end of the measured period even if the senders fell behind: lines
  // never sent are not counted, and send_rate shows the shortfall.
  while (core::Clock::now() < measure_until) {
    const auto now = core::Clock::now();
    bool more = false;
    core::TimePoint next_due = core::TimePoint::max();
    for (std::uint32_t i = 0; i < senders; ++i) {
      // Warm-up lines still unsent when measuring starts would only delay the measured ones.
      if (now >= measure_from) next[i] = std::max(next[i], first_measured[i]);
      // Bounded chunks, so that a sender far behind still looks at the clock.
      const auto due = std::min({pacers[i].due_by(now), last[i], next[i] + 4096});
      if (next[i] < due) {
        co_await s.send_lines(*s.clients[i], i, pacers[i], next[i], due, first_measured[i],
                              settings.size, lines);
        next[i] = due;
      }
      if (next[i] < last[i]) {
        more = true;
        next_due = std::min(next_due, pacers[i].intended(next[i]));
      }
    }
    if (!more || s.closed) break;
    pace.expires_at(next_due);
    co_await pace.async_wait(use_nothrow);
  }
  const auto sending_ended = core::Clock::now();
  std::vector<std::uint64_t> sent_by(senders);
  std::uint64_t sent = 0;
  for (std::uint32_t i = 0; i < senders; ++i) {
    sent_by[i] = std::max(next[i], first_measured[i]) - first_measured[i];
    sent += sent_by[i];
  }
  s.awaited = sent * s.clients.size();
  co_await s.wait_until(core::Clock::now() + settings.drain,
                        [&] { return s.delivered >= s.awaited || s.closed; });
  s.counting = false;

  BenchReport report;
  report.server = s.server;
  report.clients = static_cast<int>(s.clients.size());
  report.senders = static_cast<int>(senders);
  report.rate = settings.rate;
  report.size = settings.size;
  report.seconds = seconds;
  report.send_seconds = std::chrono::duration<double>(sending_ended - measure_from).count();
  report.sent = sent;
  report.expected = s.awaited;
  report.bytes = s.bytes;
  report.send_errors = s.send_errors;
  report.latency = s.latency;
  report.cross_delivered = s.cross_delivered;
  report.cross_latency = s.cross_latency;
  report.nodes = static_cast<int>(settings.targets.size());
  double jitter_sum = 0;
  std::uint64_t streams = 0;
  std::uint64_t drops = 0;
  for (std::size_t c = 0; c < s.clients.size(); ++c) {
    const Client& client = *s.clients[c];
    drops += static_cast<std::uint32_t>(client.kernel_drops - drops_before[c]);  // wraps safely
    for (std::uint32_t i = 0; i < senders; ++i) {
      const Stream& stream = client.streams[i];
      const std::uint64_t stream_sent = sent_by[i];
      report.delivered += std::min(stream.tracker.delivered(), stream_sent);
      report.lost += stream.tracker.lost(stream_sent);
      report.duplicates += stream.tracker.duplicates();
      report.out_of_order += stream.tracker.out_of_order();
      if (stream.has_transit) {
        jitter_sum += stream.jitter;
        ++streams;
      }
    }
  }
  report.jitter_ns = streams == 0 ? 0.0 : jitter_sum / static_cast<double>(streams);
#ifdef __linux__
  report.kernel_drops = drops;
#else
  (void)drops;
#endif
  co_return report;
}

void BenchRunner::leave() {
  for (auto& client : state_->clients) {
    if (!client->session) continue;
    client->session->leave();
    state_->pump(*client);
  }
}

}  // namespace udpchat::net
