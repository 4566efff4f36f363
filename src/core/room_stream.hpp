// A room's numbered lines as a +r1 member receives them: each shown once and in order; a gap
// is asked for again (NACK) after a short wait for reordering, with backoff and one request
// out at a time, so that a burst of loss does not become a burst of requests; what cannot come
// any more is given up and counted as missed, never left as a silent hole. Pure: the session
// feeds it lines and the time, and sends the NACKs it asks for.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "protocol/room_key.hpp"

namespace udpchat::core {

// One room line in order: a chat line, or a count of lines that will never come.
struct RoomLine {
  std::uint64_t seq = 0;
  std::string ip;
  std::uint16_t port = 0;
  std::string nick;
  std::string text;
  std::uint64_t sender_seq = 0;
  std::uint64_t missed = 0;  // not a chat line: this many lines were lost
  bool history = false;      // fetched on joining, not new
  std::int64_t said_ms = 0;  // when the relay received it, if it says (+r2); else 0
  bool own = false;          // the relay said so (the sealed form names no address)
  // A private room's line this member could not open (text empty): said, never shown.
  protocol::room_key::Opened opened = protocol::room_key::Opened::ok;
};

struct NackRange {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
};

class RoomStream {
 public:
  // Lines held ahead of a gap, at most; beyond, the gap is given up.
  static constexpr std::size_t kMaxHeld = 1024;
  // Requests for one gap before it is given up as missed.
  static constexpr int kMaxTries = 6;
  // Gaps asked for in one round: the first blocks what is shown, the others are asked for at
  // the same time, so that a burst of loss is repaired in one round trip, not one per gap.
  static constexpr std::size_t kMaxRangesPerRound = 8;
  // How long a gap may be reordering before it is asked for.
  static constexpr Duration kReorderWait = std::chrono::milliseconds(10);

  // A (re)join: the room's latest line is `head`, the next to show `next` (lines from there
  // to head are fetched), and lines up to `history_until` are shown as history. Lines held
  // from an earlier numbering are dropped.
  void reset(std::uint64_t next, std::uint64_t head, std::uint64_t history_until, TimePoint now);
  bool active() const noexcept { return next_ != 0; }

  // A line with its number; `ready` gets whatever can now be shown, in order.
  void on_line(RoomLine line, TimePoint now, std::vector<RoomLine>& ready);
  // The server says the room has got up to `head`: anything after what came is missing.
  void on_head(std::uint64_t head, TimePoint now);
  // Lines from..to have left the server's window.
  void on_missed(std::uint64_t from, std::uint64_t to, TimePoint now, std::vector<RoomLine>& ready);

  // The NACKs to send now, if a round is due (`rto`: the current retransmission timeout).
  std::vector<NackRange> nack_due(TimePoint now, Duration rto, std::vector<RoomLine>& ready);

  // While held (the reader is not keeping up), nothing is handed over: lines wait here up to
  // kMaxHeld, and later ones are left in the relay's window, to be asked for once released.
  void hold(bool on, TimePoint now, std::vector<RoomLine>& ready);
  bool holding() const noexcept { return holding_; }
  TimePoint deadline() const noexcept { return holding_ ? TimePoint::max() : nack_at_; }

  std::uint64_t next() const noexcept { return next_; }
  // The latest line known to exist (lines up to it may still be on their way).
  std::uint64_t head() const noexcept { return head_; }
  // Everything known to exist has been shown (or given up).
  bool caught_up() const noexcept { return !active() || next_ > head_; }
  std::uint64_t missed() const noexcept { return missed_; }

 private:
  void release(std::vector<RoomLine>& ready);
  void give_up(std::uint64_t to, std::vector<RoomLine>& ready);
  void look_for_gap(TimePoint now);

  std::uint64_t next_ = 0;           // the next line to show; 0 before the first join
  std::uint64_t head_ = 0;           // the latest line known to exist
  std::uint64_t history_until_ = 0;  // lines up to here are history
  std::map<std::uint64_t, RoomLine> held_;
  TimePoint nack_at_ = TimePoint::max();
  std::uint64_t gap_at_ = 0;  // where the gap being asked for starts
  int tries_ = 0;
  std::uint64_t missed_ = 0;
  bool holding_ = false;
};

}  // namespace udpchat::core
