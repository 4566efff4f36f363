#include "net/relay_server.hpp"

#include <algorithm>
#include <array>
#include <csignal>
#include <cstring>
#include <ranges>
#include <set>
#include <span>

#ifdef __linux__
#include <sys/socket.h>
#endif
#include <fmt/format.h>

#include <vector>

#include "core/overloaded.hpp"
#include "net/address.hpp"
#include "net/socket.hpp"
#include "protocol/message.hpp"

namespace udpchat::net {

namespace {

// What turns the relay's steady time into wall-clock time (history's timestamps).
core::Duration wall_offset() {
  return std::chrono::duration_cast<core::Duration>(
             std::chrono::system_clock::now().time_since_epoch()) -
         core::Clock::now().time_since_epoch();
}

}  // namespace

RelayServer::RelayServer(asio::io_context& io, udp::socket socket, core::RelayConfig config,
                         const Logger& log)
    : io_(io),
      socket_(std::move(socket)),
      protocol_(socket_.local_endpoint().protocol()),
      sweep_timer_(io),
      relay_(config, core::Clock::now()),
      log_(log) {
  relay_.set_wall_offset(wall_offset());
}

udp::endpoint RelayServer::local_endpoint() const {
  return socket_.local_endpoint();
}

void RelayServer::start() {
  asio::co_spawn(io_, receive_loop(), asio::detached);
  asio::co_spawn(io_, sweep_loop(), asio::detached);
}

void RelayServer::stop_receiving() {
  receiving_ = false;
  std::error_code ignored;
  socket_.cancel(ignored);
}

std::size_t RelayServer::stop() {
  if (stopped_) return 0;
  stopped_ = true;
  const std::size_t notified = relay_.members().size();
  deliver(relay_.to_everyone(protocol::kEnd), {});
  std::error_code ignored;
  socket_.close(ignored);
  sweep_timer_.cancel();
  return notified;
}

void RelayServer::link(ShardLinks& links, std::size_t index, std::size_t shards) {
  links_ = &links;
  index_ = index;
  shards_ = shards;
}

nlohmann::ordered_json RelayServer::member_fields(const core::Member& member) const {
  nlohmann::ordered_json fields = {{"peer", format_address(member.ip, member.peer.port)}};
  if (!member.nick.empty()) fields["nick"] = member.nick;
  if (member.room != nullptr) fields["room"] = member.room_name();
  if (shards_ > 1) fields["shard"] = index_;
  return fields;
}

awaitable<void> RelayServer::receive_loop() {
  // A burst of datagrams is read at once (on Linux in one system call). Slots hold the largest
  // datagram, so nothing is truncated; memory is touched only as far as datagrams reach. The
  // kernel stamps each datagram with its arrival, which is how long a line waited is known.
  constexpr std::size_t kBatch = 32;
  // Batches read before the loop yields: a flood must not starve signals, timers or the
  // backplane's queue.
  constexpr int kBatchesPerTurn = 16;
  ReceiveBatch batch(kBatch, protocol::kMaxDatagramBytes);
  ReceiveBatch::enable_timestamps(socket_);
  co_await receive_batches(
      socket_, batch, kBatchesPerTurn, [this] { return receiving_ && !stopped_; },
      [&](std::size_t received) {
        // One clock pair per batch turns kernel stamps (CLOCK_REALTIME) into steady time.
        const core::TimePoint read_at = core::Clock::now();
        const std::int64_t read_at_ns = realtime_ns();
        for (std::size_t i = 0; i < received && !stopped_; ++i) {
          const std::int64_t stamp = batch.received_ns(i);
          const core::TimePoint arrived =
              stamp == 0
                  ? read_at
                  : read_at -
                        std::chrono::nanoseconds(std::max<std::int64_t>(0, read_at_ns - stamp));
          handle(batch.source(i), batch.datagram(i), arrived);
        }
        if (links_ != nullptr) links_->on_batch_end(index_);
      },
      [this](const std::error_code& ec) { return survives(ec); });
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
  if (links_ != nullptr) links_->on_failure(index_);
  return false;
}

awaitable<void> RelayServer::sweep_loop() {
  const auto period =
      std::max<core::Duration>(relay_.config().hb_timeout / 4, std::chrono::milliseconds(1));
  while (!stopped_) {
    sweep_timer_.expires_after(period);
    auto [ec] = co_await sweep_timer_.async_wait(use_nothrow);
    if (ec || stopped_) break;
    relay_.set_wall_offset(wall_offset());
    for (const auto& member : relay_.expire(core::Clock::now())) {
      log_.info("expired", member_fields(member));
    }
    report_room_changes();
  }
}

void RelayServer::handle(const udp::endpoint& from, std::string_view datagram,
                         core::TimePoint arrived) {
  const core::TimePoint now = core::Clock::now();
  dispatch(relay_.on_datagram(to_peer(from), datagram, now, now - arrived), from);
  // Lines that waited behind a gap this datagram filled follow it, in their sender's order.
  while (auto released = relay_.next_released(now)) dispatch(*released, from);
}

void RelayServer::dispatch(const core::Outcome& outcome, const udp::endpoint& from) {
  deliver(outcome.sends, from);
  std::visit(core::Overloaded{[](std::monostate) {},
                              [&](const auto& change) {
                                log_.info(change.kName, member_fields(*change.member));
                              }},
             outcome.change);
  if (links_ != nullptr) {
    // Local members first: they never wait on, or depend on, other shards or the engine.
    const auto* to_room = std::get_if<core::ToRoom>(&outcome.sends);
    if (to_room != nullptr && to_room->said) links_->on_local_line(index_, *to_room->said);
    report_room_changes();
  }
}

void RelayServer::report_room_changes() {
  if (links_ == nullptr) return;
  for (const auto& change : relay_.take_room_changes()) links_->on_room_change(index_, change);
}

void RelayServer::deliver(const core::Sends& sends, const udp::endpoint& from) {
  std::visit(core::Overloaded{
                 [](std::monostate) {},
                 [&](const core::ToSender& answer) {
                   for (const auto datagram : answer.datagrams) send(datagram, from);
                 },
                 [&](const core::ToRoom& line) {
                   // Members with and without numbering each get their own form of the line.
                   if (!line.plain.recipients.empty()) {
                     broadcast(line.plain.payload, line.plain.recipients);
                   }
                   if (!line.numbered.recipients.empty()) {
                     broadcast(line.numbered.payload, line.numbered.recipients);
                   }
                   if (!line.sealed.empty()) send_sealed(line.sealed);
                 },
             },
             sends);
}

void RelayServer::on_node_line(const core::NodeLine& line) {
  if (stopped_) return;
  deliver(relay_.on_node_line(line, core::Clock::now()).sends, {});
}

ShardSnapshot RelayServer::snapshot() const {
  ShardSnapshot snapshot;
  snapshot.relay = relay_.stats();
  snapshot.members = relay_.members().size();
  snapshot.rooms = relay_.room_names();
  snapshot.receive_errors = receive_errors_;
  snapshot.send_errors = send_errors_;
  return snapshot;
}

void RelayServer::send(std::string_view payload, const udp::endpoint& to) {
  // A failed send concerns one member; the broadcast goes on to the others.
  if (send_datagram(socket_, payload, to)) ++send_errors_;
}

void RelayServer::broadcast(std::string_view payload, std::span<const std::uint32_t> recipients) {
  const auto members = relay_.members();
  send_errors_ +=
      send_in_batches(payload, recipients, [&](std::uint32_t i) { return members[i].peer; });
}

// Each sealed member its own datagram, still one system call per batch.
void RelayServer::send_sealed(std::span<const core::SealedDelivery> deliveries) {
  const auto members = relay_.members();
  std::array<Addressed, 64> batch;
  std::size_t count = 0;
  for (const auto& delivery : deliveries) {
    batch[count++] = {to_endpoint(members[delivery.recipient].peer, protocol_), delivery.datagram};
    if (count == batch.size()) {
      send_errors_ += send_each(socket_, std::span(batch.data(), count));
      count = 0;
    }
  }
  if (count != 0) send_errors_ += send_each(socket_, std::span(batch.data(), count));
}

// Batched so that a fan-out costs one system call per batch of members, not one each. A failed
// send concerns one member; the others still get theirs.
template <class Items, class ToPeer>
std::uint64_t RelayServer::send_in_batches(std::string_view payload, const Items& items,
                                           ToPeer to_peer) {
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

}  // namespace udpchat::net
