// One serve node: binding its shards' sockets, starting its backplane and metrics, running it
// until a signal or --duration. What runs inside is in relay_node_impl.hpp.
#include "net/relay_node.hpp"

#include <fmt/format.h>

#include <thread>

#include "net/address.hpp"
#include "net/relay_node_impl.hpp"
#include "net/socket.hpp"

namespace udpchat::net {

namespace {

constexpr int kSocketBufferBytes = 4 << 20;

}  // namespace

bool can_shard() noexcept {
#ifdef __linux__
  return true;
#else
  return false;
#endif
}

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
  // One shard: the node's thread is the only one to touch the history (the engine's lines come
  // in on it too).
  node.config.relay.share->history().set_shared(shards > 1);

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
        node.io_of(t).get_executor(), [&node, t](std::vector<core::NodeLine>& lines, bool) {
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
