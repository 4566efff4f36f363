// A serve node's figures at one moment: its shards' added up, its history's, its backplane's.
// One table (kNodeFigures) names each figure for the log and for /metrics; with core's
// kRelayCounters and kDropReasons it is everything the stats and totals lines and /metrics say.
// To add a node figure: a field here, its row below, and the line in relay_node.cpp that sets it.
#pragma once

#include <cstdint>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/relay_stats.hpp"

namespace udpchat::net {

struct NodeFigures {
  core::RelayStats relay;
  std::uint64_t members = 0;
  std::uint64_t rooms = 0;
  std::uint64_t shards = 1;
  std::uint64_t history_bytes = 0;
  std::uint64_t kept_rooms = 0;
  std::uint64_t receive_errors = 0;
  std::uint64_t send_errors = 0;
  std::uint64_t backplane = 0;  // 1: the node has one (its figures are said)
  std::uint64_t backplane_connected = 0;
  std::uint64_t backplane_queue = 0;
  std::uint64_t backplane_published = 0;
  std::uint64_t backplane_publish_dropped = 0;
  std::uint64_t backplane_dropped = 0;
  std::uint64_t backplane_received = 0;
  std::uint64_t backplane_own = 0;
  std::uint64_t backplane_malformed = 0;
  std::uint64_t backplane_gaps = 0;
  std::uint64_t remote_lines = 0;
  std::uint64_t remote_unrouted = 0;
  std::uint64_t remote_missed = 0;
};

enum class FigureKind : std::uint8_t { counter, gauge };
// When a figure is said: always, only with a backplane, or (in the log) only above one.
enum class Shown : std::uint8_t { always, with_backplane, when_many };

struct NodeFigure {
  std::uint64_t NodeFigures::*field;
  std::string_view name;    // the log field
  std::string_view metric;  // the /metrics name (empty: the log only)
  std::string_view help;
  FigureKind kind;
  Shown shown = Shown::always;
};

inline constexpr NodeFigure kNodeFigures[] = {
    {&NodeFigures::members, "members", "udpchat_members", "Members now, all shards together",
     FigureKind::gauge},
    {&NodeFigures::rooms, "rooms", "udpchat_rooms", "Rooms with at least one member",
     FigureKind::gauge},
    {&NodeFigures::history_bytes, "history_bytes", "udpchat_history_bytes",
     "Bytes all rooms' history holds (within --history-memory)", FigureKind::gauge},
    {&NodeFigures::kept_rooms, "kept_rooms", "udpchat_kept_rooms",
     "Rooms without members keeping their history (--history-ttl)", FigureKind::gauge},
    {&NodeFigures::receive_errors, "receive_errors", "udpchat_receive_errors_total",
     "Receive errors survived", FigureKind::counter},
    {&NodeFigures::send_errors, "send_errors", "udpchat_send_errors_total", "Sends that failed",
     FigureKind::counter},
    {&NodeFigures::shards, "shards", "udpchat_shards",
     "Shards serving the node's address (serve --threads)", FigureKind::gauge, Shown::when_many},
    {&NodeFigures::backplane_connected, "backplane_connected", "udpchat_backplane_connected",
     "1 while the node is connected to its engine", FigureKind::gauge, Shown::with_backplane},
    {&NodeFigures::backplane_queue, "backplane_queue", "udpchat_backplane_queue",
     "Lines from the engine waiting for the node", FigureKind::gauge, Shown::with_backplane},
    {&NodeFigures::backplane_published, "backplane_published", "udpchat_backplane_published_total",
     "Lines published to the engine", FigureKind::counter, Shown::with_backplane},
    {&NodeFigures::backplane_publish_dropped, "backplane_publish_dropped",
     "udpchat_backplane_publish_dropped_total",
     "Lines not published: the engine away and the buffer full", FigureKind::counter,
     Shown::with_backplane},
    {&NodeFigures::backplane_dropped, "backplane_dropped", "udpchat_backplane_dropped_total",
     "Lines from the engine dropped: a queue full", FigureKind::counter, Shown::with_backplane},
    {&NodeFigures::backplane_received, "backplane_received", "udpchat_backplane_received_total",
     "Lines received from the engine", FigureKind::counter, Shown::with_backplane},
    {&NodeFigures::backplane_own, "backplane_own", "",
     "The node's own lines handed back by the engine", FigureKind::counter, Shown::with_backplane},
    {&NodeFigures::backplane_malformed, "backplane_malformed", "udpchat_backplane_malformed_total",
     "Envelopes from the engine that broke the rules", FigureKind::counter, Shown::with_backplane},
    {&NodeFigures::backplane_gaps, "backplane_gaps", "udpchat_backplane_gaps_total",
     "Jumps in another node's numbering (lines lost)", FigureKind::counter, Shown::with_backplane},
    {&NodeFigures::remote_lines, "remote_lines", "udpchat_remote_lines_total",
     "Lines from other nodes relayed to rooms here", FigureKind::counter, Shown::with_backplane},
    {&NodeFigures::remote_unrouted, "remote_unrouted", "",
     "Lines from other nodes for a room with no member here", FigureKind::counter,
     Shown::with_backplane},
    {&NodeFigures::remote_missed, "remote_missed", "udpchat_remote_missed_total",
     "Lines from other nodes lost on the way", FigureKind::counter, Shown::with_backplane},
};

// A field added to NodeFigures and not to the table fails here.
static_assert(sizeof(NodeFigures) ==
                  sizeof(core::RelayStats) + sizeof(std::uint64_t) * (std::size(kNodeFigures) + 1),
              "every field of NodeFigures but relay and backplane has its row in kNodeFigures");

// The figures as a stats or totals log line's fields: every table's, in table order.
nlohmann::ordered_json log_fields(const NodeFigures& figures);

}  // namespace udpchat::net
