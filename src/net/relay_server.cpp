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
  // so nothing is truncated; memory is touched only as far as datagrams reach.
  constexpr std::size_t kBatch = 32;
  std::vector<char> data(kBatch * protocol::kMaxDatagramBytes);
  std::array<mmsghdr, kBatch> headers{};
  std::array<iovec, kBatch> vectors{};
  std::array<sockaddr_storage, kBatch> sources{};
  while (!stopped_) {
    auto [wait_error] = co_await socket_.async_wait(udp::socket::wait_read, use_nothrow);
    if (stopped_) break;
    if (wait_error) {
      log_.warn("receive failed", {{"error", wait_error.message()}});
      failed_ = true;
      stop();
      break;
    }
    while (!stopped_) {
      for (std::size_t i = 0; i < kBatch; ++i) {
        vectors[i] = {data.data() + i * protocol::kMaxDatagramBytes, protocol::kMaxDatagramBytes};
        headers[i].msg_hdr = {};
        headers[i].msg_hdr.msg_name = &sources[i];
        headers[i].msg_hdr.msg_namelen = sizeof sources[i];
        headers[i].msg_hdr.msg_iov = &vectors[i];
        headers[i].msg_hdr.msg_iovlen = 1;
      }
      const int received =
          ::recvmmsg(socket_.native_handle(), headers.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (received < 0) {
        const std::error_code ec(errno, asio::error::get_system_category());
        if (ec == asio::error::would_block || ec == asio::error::try_again) break;
        if (survives(ec)) continue;
        co_return;
      }
      for (std::size_t i = 0; i < static_cast<std::size_t>(received) && !stopped_; ++i) {
        udp::endpoint from;
        std::memcpy(from.data(), &sources[i], headers[i].msg_hdr.msg_namelen);
        handle(from, std::string_view(data.data() + i * protocol::kMaxDatagramBytes,
                                      headers[i].msg_len));
      }
      if (received < static_cast<int>(kBatch)) break;
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
    handle(from, std::string_view(buffer.data(), size));
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
  log_.info("signal", {{"signal", signal == SIGINT ? "SIGINT" : "SIGTERM"}});
  stop();
}

awaitable<void> RelayServer::deadline_wait() {
  auto [ec] = co_await deadline_timer_.async_wait(use_nothrow);
  if (ec || stopped_) co_return;
  log_.info("duration reached");
  stop();
}

void RelayServer::handle(const udp::endpoint& from, std::string_view datagram) {
  const core::Outcome outcome = relay_.on_datagram(to_peer(from), datagram, core::Clock::now());
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
    case core::Audience::sender: send(outcome.payload, from); break;
    case core::Audience::room: broadcast(outcome.payload, outcome.recipients); break;
  }
}

void RelayServer::attach(Backplane& backplane, std::string node_id) {
  backplane_ = &backplane;
  node_id_ = std::move(node_id);
  sync_subscriptions();
}

void RelayServer::publish(const core::Member& sender, std::string_view text) {
  protocol::encode_envelope(envelope_, {node_id_, sender.ip, sender.peer.port, sender.nick, text});
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
  const core::Outcome outcome =
      relay_.on_remote_line(room, line->ip, line->port, line->nick, line->text, core::Clock::now());
  if (outcome.audience == core::Audience::room) broadcast(outcome.payload, outcome.recipients);
}

void RelayServer::send(std::string_view payload, const udp::endpoint& to) {
  // A failed send concerns one member; the broadcast goes on to the others.
  if (send_datagram(socket_, payload, to)) ++send_errors_;
}

void RelayServer::broadcast(std::string_view payload, std::span<const std::uint32_t> recipients) {
  const auto members = relay_.members();
  send_errors_ += send_in_batches(payload, recipients, [&](std::uint32_t i) { return members[i].peer; });
}

void RelayServer::broadcast_to_all(std::string_view payload) {
  send_errors_ += send_in_batches(payload, relay_.members(), [](const core::Member& m) { return m.peer; });
}

// Batched so that a fan-out costs one system call per batch of members, not one each. A failed
// send concerns one member; the others still get theirs.
template <class Items, class ToPeer>
std::uint64_t RelayServer::send_in_batches(std::string_view payload, const Items& items, ToPeer to_peer) {
  std::array<udp::endpoint, 64> batch;
  std::size_t count = 0;
  std::uint64_t errors = 0;
  for (const auto& item : items) {
    batch[count++] = to_endpoint(to_peer(item), protocol_);
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
  if (backplane_ != nullptr) {
    fields["remote_lines"] = stats.remote_lines;
    fields["remote_unrouted"] = stats.remote_unrouted;
    fields["backplane_published"] = backplane_counts_.published;
    fields["backplane_dropped"] = backplane_counts_.publish_dropped;
    fields["backplane_received"] = backplane_counts_.received;
    fields["backplane_own"] = backplane_counts_.own;
    fields["backplane_malformed"] = backplane_counts_.malformed;
  }
  const nlohmann::ordered_json drops = drop_fields(stats);  // kept alive for the loop
  for (const auto& [key, value] : drops.items()) fields[key] = value;
  log_.info(event, fields);
}

}  // namespace udpchat::net
