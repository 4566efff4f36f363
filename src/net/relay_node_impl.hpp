// The inside of a serve node (net::RelayNode): its shards, the bus between them, the engine's
// side of the backplane, the node-wide loops and the two-step shutdown. Private to
// relay_node.cpp, which builds and runs it.
#pragma once

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
#include "net/inbox.hpp"
#include "net/metrics.hpp"
#include "net/relay_node.hpp"
#include "net/relay_server.hpp"
#include "protocol/envelope.hpp"

namespace udpchat::net {

// The shards' figures added up into the node's (`rooms`: rooms on any shard).
inline NodeFigures add_up(NodeFigures f, const std::vector<ShardSnapshot>& shards) {
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
  NodeFigures engine;  // only its backplane_* and remote_* figures are counted here
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
      line.ip = sender.shown_ip();  // a sealed sender's alias: its address is this relay's alone
      line.port = sender.shown_port();
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
    const std::string_view room = said.sender->room_topic();
    std::lock_guard lock(publish_mutex);
    // Numbered whether or not the engine takes it: a line dropped here shows as a gap there.
    const std::uint64_t seq = ++published[std::string(room)];
    // Only a private room's members need the sender's number (their seal binds it), and only
    // nodes that know private rooms subscribe their topics.
    const bool private_room = room.find('.') != std::string_view::npos;
    protocol::encode_envelope(
        publish_buffer, {node_id, said.sender->shown_ip(), said.sender->shown_port(),
                         said.sender->nick, said.text, seq, private_room ? said.sender_seq : 0});
    if (backplane->publish(room, publish_buffer)) {
      ++published_count;
    } else {
      ++publish_dropped;
    }
  }

  // On the main thread: an envelope from the engine is decoded and checked once, numbered in
  // the node's room, and handed to every shard as a value. `topic`: the room's, on the engine.
  void on_engine_line(std::string_view topic, std::string_view envelope) {
    if (stopping) return;
    const auto parsed = protocol::parse_room_topic(topic);
    if (!parsed) return;  // the backplane hands over only topics it subscribed
    const std::string_view room = parsed->room;
    ++engine.backplane_received;
    const auto decoded = protocol::decode_envelope(envelope);
    if (!decoded) {
      ++engine.backplane_malformed;
      return;
    }
    if (decoded->node == node_id) {  // no-echo should make this 0
      ++engine.backplane_own;
      return;
    }
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    if (const std::uint64_t lost = gaps.on_line(topic, decoded->node, decoded->seq); lost > 0) {
      ++engine.backplane_gaps;
      engine.remote_missed += lost;
      if (const auto seq = history().append_gap(topic, lost, engine_scratch); seq) {
        core::NodeLine gap;
        gap.room = room;
        gap.seq = *seq;
        gap.missed = lost;
        hand_to_shards(gap);
      }
    }
    const protocol::Ack ack{.ip = decoded->ip,
                            .port = decoded->port,
                            .nick = decoded->nick,
                            .text = decoded->text,
                            .sender_seq = decoded->sender_seq};
    const auto seq = history().append(topic, ack, now_ms, engine_scratch);
    if (!seq) {
      // The subscription was just dropped, or the envelope crossed it on the way.
      ++engine.remote_unrouted;
      return;
    }
    ++engine.remote_lines;
    core::NodeLine line;
    line.room = room;
    line.seq = *seq;
    line.ip = decoded->ip;
    line.port = decoded->port;
    line.nick = decoded->nick;
    line.text = decoded->text;
    line.sender_seq = decoded->sender_seq;
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
    NodeFigures f = add_up(engine, snapshots);
    f.history_bytes = history().bytes();
    f.kept_rooms = history().kept_rooms();
    if (backplane) {
      f.backplane = 1;
      f.backplane_connected = backplane->connected() ? 1 : 0;
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
        inboxes[t]->drain_all();
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

}  // namespace udpchat::net
