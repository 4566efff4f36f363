#include "net/relay_server.hpp"

#include <algorithm>
#include <array>
#include <span>
#include <csignal>
#include <cstring>
#include <ranges>

#ifdef __linux__
#include <sys/socket.h>
#endif
#include <vector>

#include <fmt/format.h>

#include "net/address.hpp"
#include "net/socket.hpp"
#include "protocol/envelope.hpp"
#include "protocol/message.hpp"

namespace udpchat::net {

namespace {

nlohmann::ordered_json member_fields(const core::Member& member) {
  nlohmann::ordered_json fields = {{"peer", format_address(member.ip, member.peer.port)}};
  if (!member.nick.empty()) fields["nick"] = member.nick;
  if (member.room != nullptr) fields["room"] = member.room_name();
  return fields;
}

nlohmann::ordered_json drop_fields(const core::RelayStats& stats) {
  nlohmann::ordered_json fields = {{"dropped", stats.dropped()}};
  for (std::size_t i = 0; i < core::kDropReasonCount; ++i) {
    if (stats.drops[i] != 0) {
      fields[std::string(core::to_string(static_cast<core::DropReason>(i)))] = stats.drops[i];
    }
  }
  return fields;
}

}  // namespace

RelayServer::RelayServer(asio::io_context& io, udp::socket socket, core::RelayConfig config,
                         const Logger& log, core::Duration stats_interval)
    : io_(io),
      socket_(std::move(socket)),
      protocol_(socket_.local_endpoint().protocol()),
      sweep_timer_(io),
      signals_(io, SIGINT, SIGTERM),
      deadline_timer_(io),
      relay_(config, core::Clock::now()),
      log_(log),
      stats_interval_(stats_interval),
      stats_logged_at_(core::Clock::now()) {}

udp::endpoint RelayServer::local_endpoint() const { return socket_.local_endpoint(); }

void RelayServer::start(bool handle_signals) {
#ifdef SIGHUP
  // A closed terminal or a service manager's hang-up ends the relay as cleanly as SIGTERM.
  if (handle_signals) signals_.add(SIGHUP);
#endif
  asio::co_spawn(io_, receive_loop(), asio::detached);
  asio::co_spawn(io_, sweep_loop(), asio::detached);
  if (handle_signals) {
    asio::co_spawn(io_, signal_loop(), asio::detached);
  } else {
    std::error_code ignored;
    signals_.clear(ignored);
  }
}

void RelayServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  const std::size_t notified = relay_.members().size();
  broadcast_to_all(protocol::kEnd);
  log_.info("shutdown", {{"notified", notified}});
  log_stats("totals");
  std::error_code ignored;
  socket_.close(ignored);
  sweep_timer_.cancel();
  deadline_timer_.cancel();
  signals_.cancel(ignored);
}

void RelayServer::stop_after(core::Duration duration) {
  deadline_timer_.expires_after(duration);
  asio::co_spawn(io_, deadline_wait(), asio::detached);
}

awaitable<void> RelayServer::receive_loop() {
#ifdef __linux__
  // recvmmsg takes a burst of datagrams in one system call. Slots hold the largest datagram,
  // so nothing is truncated; memory is touched only as far as datagrams reach. The kernel
  // stamps each datagram with its arrival, which is how long a line waited is known.
  constexpr std::size_t kBatch = 32;
  // Batches read before the loop yields: a flood must not starve signals, timers or the
  // backplane's queue.
  constexpr int kBatchesPerTurn = 16;
  ReceiveBatch batch(kBatch, protocol::kMaxDatagramBytes);
  ReceiveBatch::enable_timestamps(socket_);
  while (!stopped_) {
    auto [wait_error] = co_await socket_.async_wait(udp::socket::wait_read, use_nothrow);
    if (stopped_) break;
    if (wait_error) {
      log_.warn("receive failed", {{"error", wait_error.message()}});
      failed_ = true;
      stop();
      break;
    }
    for (int turn = 0; turn < kBatchesPerTurn && !stopped_; ++turn) {
      std::error_code ec;
      const std::size_t received = batch.read(socket_, ec);
      if (ec) {
        if (ec == asio::error::would_block || ec == asio::error::try_again) break;
        if (survives(ec)) continue;
        co_return;
      }
      // One clock pair per batch turns kernel stamps (CLOCK_REALTIME) into steady time.
      const core::TimePoint read_at = core::Clock::now();
      const std::int64_t read_at_ns = realtime_ns();
      for (std::size_t i = 0; i < received && !stopped_; ++i) {
        const std::int64_t stamp = batch.received_ns(i);
        const core::TimePoint arrived =
            stamp == 0 ? read_at
                       : read_at - std::chrono::nanoseconds(std::max<std::int64_t>(0, read_at_ns - stamp));
        handle(batch.source(i), batch.datagram(i), arrived);
      }
      if (received < kBatch) break;
    }
  }
#else
  std::vector<char> buffer(protocol::kMaxDatagramBytes);
  udp::endpoint from;
  while (!stopped_) {
    auto [ec, size] = co_await socket_.async_receive_from(asio::buffer(buffer), from, use_nothrow);
    if (stopped_) break;
    if (ec) {
      if (survives(ec)) continue;
      break;
    }
    handle(from, std::string_view(buffer.data(), size), core::Clock::now());
  }
#endif
}

// Errors about one datagram or one peer are counted and the loop goes on; anything else means
// the socket itself is unusable, and the relay stops rather than spin.
bool RelayServer::survives(const std::error_code& ec) {
  if (is_per_datagram_error(ec)) {
    ++receive_errors_;
    return true;
  }
  log_.warn("receive failed", {{"error", ec.message()}});
  failed_ = true;
  stop();
  return false;
}

awaitable<void> RelayServer::sweep_loop() {
  const auto period =
      std::max<core::Duration>(relay_.config().hb_timeout / 4, std::chrono::milliseconds(1));
  while (!stopped_) {
    sweep_timer_.expires_after(period);
    auto [ec] = co_await sweep_timer_.async_wait(use_nothrow);
    if (ec || stopped_) break;
    for (const auto& member : relay_.expire(core::Clock::now())) {
      log_.info("expired", member_fields(member));
    }
    if (backplane_ != nullptr) sync_subscriptions();
    log_stats_if_due();
  }
}

awaitable<void> RelayServer::signal_loop() {
  auto [ec, signal] = co_await signals_.async_wait(use_nothrow);
  if (ec) co_return;
  std::string_view name = signal == SIGINT ? "SIGINT" : "SIGTERM";
#ifdef SIGHUP
  if (signal == SIGHUP) name = "SIGHUP";
#endif
  log_.info("signal", {{"signal", name}});
  stop();
}

awaitable<void> RelayServer::deadline_wait() {
  auto [ec] = co_await deadline_timer_.async_wait(use_nothrow);
  if (ec || stopped_) co_return;
  log_.info("duration reached");
  stop();
}

void RelayServer::handle(const udp::endpoint& from, std::string_view datagram,
                         core::TimePoint arrived) {
  const core::TimePoint now = core::Clock::now();
  const core::Outcome outcome = relay_.on_datagram(to_peer(from), datagram, now, now - arrived);
  deliver(outcome, from);
  switch (outcome.event) {
    case core::Event::joined: log_.info("joined", member_fields(*outcome.member)); break;
    case core::Event::moved: log_.info("moved", member_fields(*outcome.member)); break;
    case core::Event::left: log_.info("left", member_fields(*outcome.member)); break;
    case core::Event::none:
    case core::Event::dropped: break;
  }
  if (backplane_ != nullptr) {
    // Local members first: they never wait on, or depend on, the engine.
    if (outcome.sender != nullptr) publish(*outcome.sender, outcome.text);
    sync_subscriptions();
  }
}

void RelayServer::deliver(const core::Outcome& outcome, const udp::endpoint& from) {
  switch (outcome.audience) {
    case core::Audience::nobody: break;
    case core::Audience::sender:
      if (outcome.replies.empty()) {
        send(outcome.payload, from);
      } else {
        for (const auto reply : outcome.replies) send(reply, from);
      }
      break;
    case core::Audience::room:
      // Members with and without numbering each get their own form of the line.
      if (!outcome.recipients.empty()) broadcast(outcome.payload, outcome.recipients);
      if (!outcome.numbered_recipients.empty()) {
        broadcast(outcome.numbered_payload, outcome.numbered_recipients);
      }
      break;
  }
}

void RelayServer::attach(Backplane& backplane, std::string node_id) {
  backplane_ = &backplane;
  node_id_ = std::move(node_id);
  sync_subscriptions();
}

void RelayServer::publish(const core::Member& sender, std::string_view text) {
  // Numbered whether or not the engine takes it: a line dropped here shows as a gap there.
  const std::uint64_t seq = ++published_[std::string(sender.room_name())];
  protocol::encode_envelope(envelope_,
                            {node_id_, sender.ip, sender.peer.port, sender.nick, text, seq});
  if (backplane_->publish(sender.room_name(), envelope_)) {
    ++backplane_counts_.published;
  } else {
    ++backplane_counts_.publish_dropped;
  }
}

// A node listens to a room's subject exactly while it has members in that room.
void RelayServer::sync_subscriptions() {
  for (const auto& change : relay_.take_room_changes()) {
    if (change.opened) {
      backplane_->subscribe(change.room);
    } else {
      backplane_->unsubscribe(change.room);
      published_.erase(change.room);
      std::erase_if(heard_, [&](const auto& entry) { return entry.first.starts_with(change.room + '\n'); });
    }
  }
}

void RelayServer::on_backplane_line(std::string_view room, std::string_view envelope) {
  if (stopped_) return;
  ++backplane_counts_.received;
  const auto line = protocol::decode_envelope(envelope);
  if (!line) {
    ++backplane_counts_.malformed;
    return;
  }
  if (line->node == node_id_) {
    ++backplane_counts_.own;
    return;
  }
  if (line->seq != 0) {
    std::string key(room);
    key.push_back('\n');
    key.append(line->node);
    auto [heard, first] = heard_.try_emplace(std::move(key), line->seq);
    // A number that goes back is a node that started again: counting starts again too.
    if (!first && line->seq > heard->second + 1) {
      ++backplane_counts_.gaps;
      deliver(relay_.on_remote_gap(room, line->seq - heard->second - 1, core::Clock::now()), {});
    }
    heard->second = line->seq;
  }
  const core::Outcome outcome =
      relay_.on_remote_line(room, line->ip, line->port, line->nick, line->text, core::Clock::now());
  deliver(outcome, {});
}

void RelayServer::send(std::string_view payload, const udp::endpoint& to) {
  // A failed send concerns one member; the broadcast goes on to the others.
  if (send_datagram(socket_, payload, to)) ++send_errors_;
}

void RelayServer::broadcast(std::string_view payload, std::span<const std::uint32_t> recipients) {
  const auto members = relay_.members();
  send_errors_ += send_in_batches(
      payload, recipients | std::views::transform([&](std::uint32_t i) { return members[i].peer; }));
}

void RelayServer::broadcast_to_all(std::string_view payload) {
  send_errors_ += send_in_batches(payload, relay_.members() | std::views::transform(&core::Member::peer));
}

// Batched so that a fan-out costs one system call per batch of members, not one each. A failed
// send concerns one member; the others still get theirs.
template <class Peers>
std::uint64_t RelayServer::send_in_batches(std::string_view payload, Peers&& peers) {
  std::array<udp::endpoint, 64> batch;
  std::size_t count = 0;
  std::uint64_t errors = 0;
  for (const core::Peer& peer : peers) {
    batch[count++] = to_endpoint(peer, protocol_);
    if (count == batch.size()) {
      errors += send_to_each(socket_, payload, std::span(batch.data(), count));
      count = 0;
    }
  }
  if (count != 0) errors += send_to_each(socket_, payload, std::span(batch.data(), count));
  return errors;
}

// Counters go to the log every stats interval, and only when traffic came in: a flood must
// not become a flood of log lines, and an idle relay stays quiet.
void RelayServer::log_stats_if_due() {
  const auto now = core::Clock::now();
  if (now - stats_logged_at_ < stats_interval_) return;
  stats_logged_at_ = now;
  if (relay_.stats().datagrams == datagrams_logged_) return;
  datagrams_logged_ = relay_.stats().datagrams;
  log_stats("stats");
}

void RelayServer::log_stats(std::string_view event) const {
  const auto& stats = relay_.stats();
  nlohmann::ordered_json fields = {{"members", relay_.members().size()},
                                   {"datagrams", stats.datagrams},
                                   {"joins", stats.joins},
                                   {"leaves", stats.leaves},
                                   {"expiries", stats.expiries},
                                   {"lines", stats.lines},
                                   {"deliveries", stats.deliveries},
                                   {"rooms", relay_.room_count()},
                                   {"receive_errors", receive_errors_},
                                   {"send_errors", send_errors_}};
  if (relay_.config().legacy) fields["credit_skipped"] = stats.credit_skipped;
  if (backplane_ != nullptr) {
    fields["remote_lines"] = stats.remote_lines;
    fields["remote_unrouted"] = stats.remote_unrouted;
    fields["backplane_published"] = backplane_counts_.published;
    fields["backplane_publish_dropped"] = backplane_counts_.publish_dropped;
    fields["backplane_dropped"] = backplane_->dropped();
    fields["backplane_received"] = backplane_counts_.received;
    fields["backplane_own"] = backplane_counts_.own;
    fields["backplane_malformed"] = backplane_counts_.malformed;
    fields["backplane_gaps"] = backplane_counts_.gaps;
    fields["remote_missed"] = stats.remote_missed;
  }
  const nlohmann::ordered_json drops = drop_fields(stats);  // kept alive for the loop
  for (const auto& [key, value] : drops.items()) fields[key] = value;
  log_.info(event, fields);
}

}  // namespace udpchat::net
