// One serve node: its shards (one relay and socket each, on their own threads), the in-process
// bus between them, the backplane hand-over and the node-wide loops (signals, stats,
// metrics, --duration). Over 300 lines because the bus and the backplane share the node's
// publish numbering and room subscriptions.
#include "net/relay_node.hpp"

#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/node_gaps.hpp"
#include "net/address.hpp"
#include "net/inbox.hpp"
#include "net/metrics.hpp"
#include "net/relay_server.hpp"
#include "net/socket.hpp"
#include "protocol/envelope.hpp"

namespace udpchat::net {

namespace {

constexpr int kSocketBufferBytes = 4 << 20;

// The shards' figures added up: the node's (`rooms`: rooms on any shard).
NodeFigures add_up(const std::vector<ShardSnapshot>& shards) {
  NodeFigures f;
  std::set<std::string> rooms;
  for (const auto& shard : shards) {
    f.relay += shard.relay;
    f.members += shard.members;
    rooms.insert(shard.rooms.begin(), shard.rooms.end());
    f.receive_errors += shard.receive_errors;
    f.send_errors += shard.send_errors;
  }
  f.rooms = rooms.size();
  f.shards = shards.size();
  return f;
}

// The figures as log fields: what stats and totals lines say.
nlohmann::ordered_json log_fields(const NodeFigures& f) {
  const core::RelayStats& total = f.relay;
  nlohmann::ordered_json fields = {{"members", f.members},
                                   {"datagrams", total.datagrams},
                                   {"joins", total.joins},
                                   {"leaves", total.leaves},
                                   {"expiries", total.expiries},
                                   {"lines", total.lines},
                                   {"deliveries", total.deliveries},
                                   {"rooms", f.rooms},
                                   {"history_bytes", f.history_bytes},
                                   {"kept_rooms", f.kept_rooms},
                                   {"receive_errors", f.receive_errors},
                                   {"send_errors", f.send_errors}};
  if (total.repaired + total.missed > 0) {
    fields["repaired"] = total.repaired;
    fields["missed"] = total.missed;
  }
  if (total.credit_skipped > 0) fields["credit_skipped"] = total.credit_skipped;
  if (f.backplane) {
    fields["remote_lines"] = f.remote_lines;
    fields["remote_unrouted"] = f.remote_unrouted;
    fields["remote_missed"] = f.remote_missed;
    fields["backplane_published"] = f.backplane_published;
    fields["backplane_publish_dropped"] = f.backplane_publish_dropped;
    fields["backplane_dropped"] = f.backplane_dropped;
    fields["backplane_received"] = f.backplane_received;
    fields["backplane_own"] = f.backplane_own;
    fields["backplane_malformed"] = f.backplane_malformed;
    fields["backplane_gaps"] = f.backplane_gaps;
  }
  fields["dropped"] = total.dropped();
  for (std::size_t i = 0; i < core::kDropReasonCount; ++i) {
    if (total.drops[i] != 0) {
      fields[std::string(core::to_string(static_cast<core::DropReason>(i)))] = total.drops[i];
    }
  }
  if (f.shards > 1) fields["shards"] = f.shards;
  return fields;
}

}  // namespace

bool can_shard() noexcept {
#ifdef __linux__
  return true;
#else
  return false;
#endif
}

struct RelayNode::Impl final : ShardLinks {
  Impl(asio::io_context& io, NodeConfig node_config, const Logger& logger)
      : main_io(io),
        config(std::move(node_config)),
        log(logger),
        signals(io, SIGINT, SIGTERM),
        deadline(io),
        stats_timer(io),
        metrics_timer(io) {}

  asio::io_context& main_io;
  NodeConfig config;
  const Logger& log;
  std::vector<std::unique_ptr<asio::io_context>> ios;  // shard t > 0 runs on ios[t]
  std::vector<std::unique_ptr<RelayServer>> servers;
  std::vector<std::unique_ptr<Inbox<core::NodeLine>>> inboxes;  // inboxes[t]: lines for shard t
  std::vector<std::vector<core::NodeLine>> pending;  // pending[t]: only shard t's thread touches it
  std::vector<std::thread> threads;
  std::string node_id = "node";
  std::unique_ptr<Backplane> backplane;
  std::unique_ptr<MetricsEndpoint> metrics;
  // Publishing is one critical section, so that the engine sees a node's lines for a room in
  // the order they are numbered, whichever shard sent them.
  std::mutex publish_mutex;
  std::unordered_map<std::string, std::uint64_t> published;
  std::string publish_buffer;
  std::uint64_t published_count = 0;
  std::uint64_t publish_dropped = 0;
  // The engine's side, on the main thread only: rooms listened to, other nodes' numbering,
  // and what came.
  std::unordered_map<std::string, int> room_refs;
  core::NodeGaps gaps;
  std::string engine_scratch;
  std::uint64_t engine_received = 0;
  std::uint64_t engine_own = 0;
  std::uint64_t engine_malformed = 0;
  std::uint64_t engine_gaps = 0;
  std::uint64_t remote_lines = 0;
  std::uint64_t remote_unrouted = 0;
  std::uint64_t remote_missed = 0;
  asio::signal_set signals;
  asio::steady_timer deadline;
  asio::steady_timer stats_timer;
  asio::steady_timer metrics_timer;
  std::atomic<std::size_t> notified{0};
  std::atomic<std::size_t> quiet{0};  // shards that stopped receiving
  bool stopping = false;
  std::uint64_t datagrams_logged = 0;

  asio::io_context& io_of(std::size_t shard) { return shard == 0 ? main_io : *ios[shard]; }
  core::History& history() { return config.relay.share->history(); }

  void on_local_line(std::size_t shard, const core::SaidLine& said) override {
    if (servers.size() > 1) {
      const core::Member& sender = *said.sender;
      core::NodeLine& line = pending[shard].emplace_back();
      line.room = sender.room_name();
      line.seq = said.room_seq;
      line.ip = sender.ip;
      line.port = sender.peer.port;
      line.nick = sender.nick;
      line.text = said.text;
      line.sender_seq = said.sender_seq;
      line.said_ms = said.said_ms;
    }
    if (backplane) publish(said);
  }

  void on_room_change(std::size_t, const core::RoomChange& change) override {
    if (!backplane) return;
    // A node listens to a room's subject while any of its shards has members there.
    asio::post(main_io, [this, change] {
      int& refs = room_refs[change.room];
      refs += change.opened ? 1 : -1;
      if (change.opened && refs == 1) backplane->subscribe(change.room);
      if (!change.opened && refs == 0) {
        backplane->unsubscribe(change.room);
        room_refs.erase(change.room);
        gaps.forget(change.room);
        std::lock_guard lock(publish_mutex);
        published.erase(change.room);
      }
    });
  }

  void on_failure(std::size_t) override {
    asio::post(main_io, [this] { stop(); });
  }

  // One lock per batch and target; the target's thread is woken once for all that waits.
  void on_batch_end(std::size_t shard) override {
    if (pending[shard].empty()) return;
    for (std::size_t target = 0; target < servers.size(); ++target) {
      if (target != shard) inboxes[target]->put(pending[shard]);
    }
    pending[shard].clear();
  }

  void publish(const core::SaidLine& said) {
    const std::string_view room = said.sender->room_name();
    std::lock_guard lock(publish_mutex);
    // Numbered whether or not the engine takes it: a line dropped here shows as a gap there.
    const std::uint64_t seq = ++published[std::string(room)];
    protocol::encode_envelope(publish_buffer, {node_id, said.sender->ip, said.sender->peer.port,
                                               said.sender->nick, said.text, seq});
    if (backplane->publish(room, publish_buffer)) {
      ++published_count;
    } else {
      ++publish_dropped;
    }
  }

  // On the main thread: an envelope from the engine is decoded and checked once, numbered in
  // the node's room, and handed to every shard as a value.
  void on_engine_line(std::string_view room, std::string_view envelope) {
    if (stopping) return;
    ++engine_received;
    const auto decoded = protocol::decode_envelope(envelope);
    if (!decoded) {
      ++engine_malformed;
      return;
    }
    if (decoded->node == node_id) {  // no-echo should make this 0
      ++engine_own;
      return;
    }
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    if (const std::uint64_t lost = gaps.on_line(room, decoded->node, decoded->seq); lost > 0) {
      ++engine_gaps;
      remote_missed += lost;
      if (const auto seq = history().append_gap(room, lost, engine_scratch); seq) {
        core::NodeLine gap;
        gap.room = room;
        gap.seq = *seq;
        gap.missed = lost;
        hand_to_shards(gap);
      }
    }
    const protocol::Ack ack{
        .ip = decoded->ip, .port = decoded->port, .nick = decoded->nick, .text = decoded->text};
    const auto seq = history().append(room, ack, now_ms, engine_scratch);
    if (!seq) {
      // The subscription was just dropped, or the envelope crossed it on the way.
      ++remote_unrouted;
      return;
    }
    ++remote_lines;
    core::NodeLine line;
    line.room = room;
    line.seq = *seq;
    line.ip = decoded->ip;
    line.port = decoded->port;
    line.nick = decoded->nick;
    line.text = decoded->text;
    line.said_ms = now_ms;
    hand_to_shards(line);
  }

  void hand_to_shards(const core::NodeLine& line) {
    servers[0]->on_node_line(line);
    for (std::size_t target = 1; target < servers.size(); ++target) inboxes[target]->put(line);
  }

  // Every shard's figures: shard 0 on this thread, the others each on its own, waited for.
  std::vector<ShardSnapshot> gather() {
    std::vector<ShardSnapshot> snapshots(servers.size());
    snapshots[0] = servers[0]->snapshot();
    std::vector<std::future<ShardSnapshot>> others;
    for (std::size_t t = 1; t < servers.size(); ++t) {
      auto task = std::make_shared<std::packaged_task<ShardSnapshot()>>(
          [this, t] { return servers[t]->snapshot(); });
      others.push_back(task->get_future());
      asio::post(io_of(t), [task] { (*task)(); });
    }
    for (std::size_t t = 1; t < servers.size(); ++t) snapshots[t] = others[t - 1].get();
    return snapshots;
  }

  NodeFigures figures(const std::vector<ShardSnapshot>& snapshots) {
    NodeFigures f = add_up(snapshots);
    f.history_bytes = history().bytes();
    f.kept_rooms = history().kept_rooms();
    if (backplane) {
      f.backplane = true;
      f.backplane_received = engine_received;
      f.backplane_own = engine_own;
      f.backplane_malformed = engine_malformed;
      f.backplane_gaps = engine_gaps;
      f.remote_lines = remote_lines;
      f.remote_unrouted = remote_unrouted;
      f.remote_missed = remote_missed;
      f.backplane_connected = backplane->connected();
      f.backplane_queue = backplane->queued();
      f.backplane_dropped = backplane->dropped();
      std::lock_guard lock(publish_mutex);
      f.backplane_published = published_count;
      f.backplane_publish_dropped = publish_dropped;
    }
    return f;
  }

  void log_figures(std::string_view event, const std::vector<ShardSnapshot>& snapshots) {
    log.info(event, log_fields(figures(snapshots)));
  }

  // Scrapes read what was gathered here last: never older than a second.
  awaitable<void> metrics_loop() {
    while (!stopping) {
      metrics->update(figures(gather()));
      metrics_timer.expires_after(std::chrono::seconds(1));
      auto [ec] = co_await metrics_timer.async_wait(use_nothrow);
      if (ec || stopping) co_return;
    }
  }

  // In two steps, so that every line a shard took reaches every shard's members before `end`:
  // each shard stops reading (what it said is handed over by then); once all have, each takes
  // what waits for it, then tells its members `end`.
  void stop() {
    if (stopping) return;
    stopping = true;
    for (std::size_t t = 0; t < servers.size(); ++t) {
      asio::post(io_of(t), [this, t] {
        servers[t]->stop_receiving();
        if (++quiet == servers.size()) asio::post(main_io, [this] { end_shards(); });
      });
    }
    std::error_code ignored;
    signals.cancel(ignored);
    deadline.cancel();
    stats_timer.cancel();
    metrics_timer.cancel();
  }

  void end_shards() {
    for (std::size_t t = 0; t < servers.size(); ++t) {
      asio::post(io_of(t), [this, t] {
        inboxes[t]->drain_now();
        notified += servers[t]->stop();
      });
    }
  }

  awaitable<void> signal_loop() {
    auto [ec, signal] = co_await signals.async_wait(use_nothrow);
    if (ec) co_return;
    std::string_view name = signal == SIGINT ? "SIGINT" : "SIGTERM";
#ifdef SIGHUP
    if (signal == SIGHUP) name = "SIGHUP";
#endif
    log.info("signal", {{"signal", name}});
    stop();
  }

  awaitable<void> deadline_wait() {
    deadline.expires_after(config.duration);
    auto [ec] = co_await deadline.async_wait(use_nothrow);
    if (ec || stopping) co_return;
    log.info("duration reached");
    stop();
  }

  // Counters go to the log every stats interval, and only when traffic came in: a flood must
  // not become a flood of log lines, and an idle relay stays quiet.
  awaitable<void> stats_loop() {
    while (!stopping) {
      stats_timer.expires_after(config.stats_interval);
      auto [ec] = co_await stats_timer.async_wait(use_nothrow);
      if (ec || stopping) co_return;
      const auto snapshots = gather();
      std::uint64_t datagrams = 0;
      for (const auto& s : snapshots) datagrams += s.relay.datagrams;
      if (datagrams == datagrams_logged) continue;
      datagrams_logged = datagrams;
      log_figures("stats", snapshots);
    }
  }
};

RelayNode::RelayNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RelayNode::~RelayNode() {
  if (!impl_) return;
  for (auto& io : impl_->ios) {
    if (io) io->stop();
  }
  for (auto& thread : impl_->threads) {
    if (thread.joinable()) thread.join();
  }
}

std::unique_ptr<RelayNode> RelayNode::bind(asio::io_context& io, const udp::endpoint& local,
                                           NodeConfig config, const Logger& log,
                                           std::string& error) {
  std::size_t shards = std::max<std::size_t>(1, config.threads);
  if (shards > 1 && !can_shard()) {
    log.warn("threads", {{"note",
                          "this platform cannot spread datagrams over sockets: running "
                          "one shard"}});
    shards = 1;
  }
  auto impl = std::make_unique<Impl>(io, std::move(config), log);
  Impl& node = *impl;
  if (node.config.backplane) node.node_id = node.config.backplane->node_id;
  node.config.relay.report_room_changes = node.config.backplane.has_value();
  // The node's share, whatever the number of shards: its history is where the engine's lines
  // are numbered too.
  node.config.relay.share =
      std::make_shared<core::NodeShare>(node.config.relay, core::Clock::now());

  udp::endpoint address = local;
  std::error_code ec;
  if (shards > 1) {
    // A socket of our own first: "address in use" stays an error, and port 0 becomes one port
    // that every shard then shares.
    udp::socket probe = bind_socket(io.get_executor(), address, ec);
    if (ec) {
      error = fmt::format("cannot bind {}: {}", format_endpoint(address), ec.message());
      return nullptr;
    }
    address = probe.local_endpoint();
  }
  node.ios.resize(shards);
  for (std::size_t t = 0; t < shards; ++t) {
    if (t > 0) node.ios[t] = std::make_unique<asio::io_context>(1);
    udp::socket socket = bind_socket(node.io_of(t).get_executor(), address, ec, shards > 1);
    if (ec) {
      error = fmt::format("cannot bind {}: {}", format_endpoint(address), ec.message());
      return nullptr;
    }
    // Big buffers absorb bursts: a full receive buffer drops lines before the relay sees them.
    const BufferSizes buffers = set_buffer_sizes(socket, kSocketBufferBytes);
    if (t == 0) log.info("socket buffers", {{"receive", buffers.receive}, {"send", buffers.send}});
    node.servers.push_back(
        std::make_unique<RelayServer>(node.io_of(t), std::move(socket), node.config.relay, log));
    node.inboxes.push_back(std::make_unique<Inbox<core::NodeLine>>(
        node.io_of(t).get_executor(), [&node, t](std::vector<core::NodeLine>& lines) {
          for (const auto& line : lines) node.servers[t]->on_node_line(line);
        }));
  }
  node.pending.resize(shards);
  for (std::size_t t = 0; t < shards; ++t) node.servers[t]->link(node, t, shards);
  return std::unique_ptr<RelayNode>(new RelayNode(std::move(impl)));
}

udp::endpoint RelayNode::local_endpoint() const {
  return impl_->servers[0]->local_endpoint();
}

std::size_t RelayNode::shards() const noexcept {
  return impl_->servers.size();
}

bool RelayNode::start_backplane(std::string& error) {
  Impl& node = *impl_;
  if (!node.config.backplane) return true;
  node.backplane = net::start_backplane(
      node.main_io, *node.config.backplane, node.log,
      [&node](std::string_view room, std::string_view envelope) {
        node.on_engine_line(room, envelope);
      },
      error);
  return node.backplane != nullptr;
}

bool RelayNode::start_metrics(std::string& error) {
  Impl& node = *impl_;
  if (node.config.metrics.empty()) return true;
  node.metrics = net::start_metrics(node.config.metrics, error);
  if (!node.metrics) return false;
  node.log.info("metrics", {{"address", node.metrics->address()}, {"path", "/metrics"}});
  return true;
}

bool RelayNode::run() {
  Impl& node = *impl_;
#ifdef SIGHUP
  // A closed terminal or a service manager's hang-up ends the relay as cleanly as SIGTERM.
  node.signals.add(SIGHUP);
#endif
  for (auto& server : node.servers) server->start();
  for (std::size_t t = 1; t < node.servers.size(); ++t) {
    node.threads.emplace_back([io = node.ios[t].get()] { io->run(); });
  }
  asio::co_spawn(node.main_io, node.signal_loop(), asio::detached);
  asio::co_spawn(node.main_io, node.stats_loop(), asio::detached);
  if (node.config.duration > core::Duration::zero()) {
    asio::co_spawn(node.main_io, node.deadline_wait(), asio::detached);
  }
  if (node.metrics) asio::co_spawn(node.main_io, node.metrics_loop(), asio::detached);
  node.main_io.run();
  for (auto& thread : node.threads) thread.join();
  node.threads.clear();
  node.log.info("shutdown", {{"notified", node.notified.load()}});
  std::vector<ShardSnapshot> snapshots;
  bool failed = false;
  for (const auto& server : node.servers) {
    snapshots.push_back(server->snapshot());
    failed = failed || server->failed();
  }
  node.log_figures("totals", snapshots);
  if (node.metrics) node.metrics->update(node.figures(snapshots));
  if (node.backplane) node.backplane->close();
  return !failed;
}

}  // namespace udpchat::net
