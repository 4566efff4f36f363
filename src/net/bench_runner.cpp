// bench's clients over real sockets: joining and trials (what runs inside, the loops and the
// paced sender, is in bench_runner_impl.hpp); the counting is in core/bench_tally and the
// protocol in core/client_session.
#include "net/bench_runner.hpp"

#include "net/bench_runner_impl.hpp"

namespace udpchat::net {

BenchRunner::BenchRunner(asio::io_context& io) : impl_(std::make_unique<Impl>(io)) {}

BenchRunner::~BenchRunner() {
  close();
}

core::ServerKind BenchRunner::server() const noexcept {
  return impl_->server;
}

void BenchRunner::close() {
  Impl& s = *impl_;
  for (auto& client : s.clients) {
    if (client->session && client->session->state() != core::SessionState::ended) {
      client->session->leave();
      s.pump(*client);
    }
  }
  std::error_code ignored;
  s.stopped = true;
  s.tick.cancel();
  s.wake.cancel();
  for (auto& client : s.clients) client->socket.close(ignored);
}

awaitable<std::optional<BenchRunner::Failure>> BenchRunner::connect(const BenchSettings& settings) {
  Impl& s = *impl_;
  std::vector<udp::endpoint> servers;
  for (const auto& target : settings.targets) {
    const Resolved resolved = co_await resolve(target);
    if (resolved.error) {
      co_return Failure{
          core::ProbeStatus::unresolved,
          fmt::format("cannot resolve '{}': {}", target.host, resolved.error.message())};
    }
    servers.push_back(resolved.endpoints.front());
  }
  // Nicks tell the clients apart in a named room; the suffix keeps two benches apart.
  const std::uint32_t suffix = randombytes_random() & 0xFFFFFF;
  for (int i = 0; i < settings.clients; ++i) {
    auto client = std::make_unique<Client>(s.io);
    client->index = static_cast<std::size_t>(i);
    client->node = client->index % servers.size();
    client->config.room = settings.room;
    if (!settings.room.empty()) client->config.nick = fmt::format("b{}-{:06x}", i, suffix);
    client->config.hb_interval = settings.hb_interval;
    // Without repair the bench sends its lines itself, unnumbered; with it, through the session,
    // unpaced (the offered rate is the bench's to set) and with a window for the whole burst.
    client->config.repair = settings.repair;
    client->config.seal = settings.seal;
    client->config.aes_gcm = settings.aes_gcm;
    client->config.room_key = settings.room_key;
    client->config.server_key = settings.server_key;
    client->config.send_budget = {0, 0};
    client->config.max_in_flight = 64;
    client->config.give_up_after = settings.give_up;
    client->config.max_waiting = 1 << 20;
    client->config.ping_token = make_ping_token();
    std::error_code ec;
    client->socket = connect_socket(s.io.get_executor(), servers[client->node], ec);
    if (ec) {
      co_return Failure{core::ProbeStatus::failed,
                        fmt::format("cannot open client socket {}: {}", i, ec.message())};
    }
    client->socket.set_option(asio::socket_base::receive_buffer_size(kReceiveBuffer), ec);
    client->socket.non_blocking(true, ec);
    ReceiveBatch::enable_drop_count(client->socket);
    s.clients.push_back(std::move(client));
  }
  for (auto& client : s.clients) asio::co_spawn(s.io, s.receive_loop(*client), asio::detached);
  asio::co_spawn(s.io, s.timer_loop(), asio::detached);

  // The first client tells what the server speaks (a cookie means udpchat, silence legacy);
  // the others are told, so that a cookie budget spent by a crowd is not taken for silence.
  Client& first = *s.clients.front();
  s.start_session(first, core::ServerKind::unknown);
  co_await s.wait_until(core::TimePoint::max(), [&] {
    return s.refused || first.session->is_udpchat() ||
           first.session->state() != core::SessionState::joining;
  });
  if (s.refused) {
    co_return Failure{core::ProbeStatus::refused, fmt::format("{}: refused (nothing listening)",
                                                              format_endpoint(servers.front()))};
  }
  const bool udpchat = first.session->is_udpchat();
  s.server = udpchat ? core::ServerKind::udpchat : core::ServerKind::legacy;
  for (std::size_t i = 1; i < s.clients.size(); ++i) {
    s.start_session(*s.clients[i], udpchat ? core::ServerKind::udpchat : core::ServerKind::legacy);
  }
  co_await s.wait_until(core::Clock::now() + kJoinLimit, [&] {
    return s.joined >= s.clients.size() || s.full || s.closed || s.not_admitted;
  });
  if (s.not_admitted) {
    co_return Failure{core::ProbeStatus::not_admitted,
                      fmt::format("not admitted to room {}: {}", settings.room,
                                  core::info(*s.not_admitted).says)};
  }
  if (s.joined < s.clients.size()) {
    co_return Failure{core::ProbeStatus::failed,
                      fmt::format("only {} of {} clients could join{}", s.joined, s.clients.size(),
                                  s.full ? ": the server is full (serve --max-clients)"
                                         : " within 10s (the server's cookie budget? serve "
                                           "--cookie-rate-limit)")};
  }
  co_return std::nullopt;
}

awaitable<core::BenchReport> BenchRunner::trial(const BenchSettings& settings,
                                                std::function<void(const BenchProgress&)> progress,
                                                core::Duration interval) {
  Impl& s = *impl_;
  const auto senders = static_cast<std::uint32_t>(
      std::clamp<int>(settings.senders, 1, static_cast<int>(s.clients.size())));
  const double per_sender = settings.rate / senders;
  const double seconds = std::chrono::duration<double>(settings.duration).count();
  const auto capacity = static_cast<std::uint64_t>(std::ceil(per_sender * seconds)) + 16;

  // A fresh run id: late acks of an earlier trial are not counted in this one.
  std::vector<std::size_t> nodes;
  std::vector<std::uint32_t> drops_before;
  for (const auto& client : s.clients) {
    nodes.push_back(client->node);
    drops_before.push_back(client->kernel_drops);
  }
  s.tally.emplace(randombytes_random(), std::move(nodes), senders, capacity);
  s.send_errors = 0;
  s.given_up.clear();

  // Senders are staggered by one line's spacing so that their lines interleave evenly.
  const auto start = core::Clock::now() + 10ms;
  const auto measure_from = start + settings.warmup;
  const auto measure_until = measure_from + settings.duration;
  std::vector<Schedule> schedules;
  for (std::uint32_t i = 0; i < senders; ++i) {
    core::Pacer pacer(per_sender, start + std::chrono::duration_cast<core::Duration>(
                                              std::chrono::duration<double>(i / settings.rate)));
    const auto first_measured = pacer.due_by(measure_from - std::chrono::nanoseconds(1));
    const auto last = pacer.due_by(measure_until - std::chrono::nanoseconds(1));
    schedules.push_back(Schedule{pacer, first_measured, last, 0});
  }
  co_await s.pace(schedules, measure_from, measure_until, settings.size, progress, interval);
  const auto sending_ended = core::Clock::now();

  std::vector<std::uint64_t> sent_by;
  std::uint64_t sent = 0;
  for (const auto& schedule : schedules) {
    sent_by.push_back(std::max(schedule.next, schedule.first_measured) - schedule.first_measured);
    sent += sent_by.back();
  }
  // Every delivery, or the whole drain: a line given up may still come (it was in the relay's
  // queue), and one not given up may still be on its way.
  co_await s.wait_until(core::Clock::now() + settings.drain, [&] {
    return s.tally->delivered() >= sent * s.clients.size() || s.closed;
  });

  core::BenchReport report;
  report.server = s.server;
  report.clients = static_cast<int>(s.clients.size());
  report.senders = static_cast<int>(senders);
  report.rate = settings.rate;
  report.size = settings.size;
  report.seconds = seconds;
  report.send_seconds = std::chrono::duration<double>(sending_ended - measure_from).count();
  report.send_errors = s.send_errors;
  report.nodes = static_cast<int>(settings.targets.size());
  s.tally->fill(report, sent_by, s.given_up);
  s.tally.reset();
#ifdef __linux__
  std::uint64_t drops = 0;
  for (std::size_t c = 0; c < s.clients.size(); ++c) {
    drops +=
        static_cast<std::uint32_t>(s.clients[c]->kernel_drops - drops_before[c]);  // wraps safely
  }
  report.kernel_drops = drops;
#endif
  co_return report;
}

}  // namespace udpchat::net
