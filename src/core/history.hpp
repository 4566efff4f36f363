// The node's rooms as their members see them, whichever shard their datagrams reach: each
// room's numbering and window (RoomWindow), rooms kept without members for the TTL, and the
// bound on all windows together. One per node (NodeShare holds it; a lone relay owns its own).
// Thread-safe: one mutex, held by a line for its number and its copy into the window; a node of
// one shard, whose thread is the only one to touch it, says so and skips the mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/room_gate.hpp"
#include "core/room_window.hpp"
#include "core/time.hpp"
#include "protocol/message.hpp"

namespace udpchat::core {

struct HistoryLimits {
  // Lines each room keeps, at most; zero: rooms are not numbered and keep nothing.
  std::size_t lines = 1024;
  std::size_t room_bytes = 256'000;      // bytes each room's window may hold
  std::size_t total_bytes = 64'000'000;  // bytes all rooms' windows hold together
  // How long a room whose last member left keeps its numbering and window; zero: it goes.
  Duration ttl = std::chrono::hours(1);
};

class History {
 public:
  // A room of the node, valid from a shard's open() to its matching close().
  class Room;

  explicit History(HistoryLimits limits, std::shared_ptr<const RoomPins> pins = {});
  ~History();
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  bool numbering() const noexcept { return limits_.lines > 0; }
  // False while one thread alone uses it (a node of one shard): no locking. Set before use.
  void set_shared(bool shared) noexcept { shared_ = shared; }

  // A member enters the room `name` (made when new) showing `verifier` (what its join proved,
  // or empty), if the room's gate admits it (room_gate.hpp); else nullptr and why. A room lives
  // while it has members on any shard; then it is kept for the TTL if it holds lines (the same
  // numbering, and the same gate, when someone joins again), within the total bound.
  // A join that proved `verifier` and carried a handover signed by the room's current key
  // (`handover_from`) moves the room to `verifier`: a new epoch.
  Room* enter(std::string_view name, std::string_view verifier, std::string_view handover_from,
              Admission& admission);
  // Counts the room's key changes: a member that entered in an earlier epoch holds an old key.
  std::uint32_t epoch(const Room* room) const noexcept;
  void leave(Room* room, TimePoint now);

  // Set when the room opens, never changed while it has members: read without the lock.
  std::uint32_t stream(const Room* room) const noexcept;
  // The room's topic on the engine: its name, and its verifier when it is private.
  std::string topic(const Room* room) const;
  // The room's latest number.
  std::uint64_t head(const Room* room) const;

  // Numbers a chat line of `room`, writes its numbered form to `numbered` and keeps it.
  std::uint64_t append(Room* room, const protocol::Ack& line, std::int64_t said_ms,
                       std::string& numbered);
  // A line or a gap (lines lost on the way) from another node, for a room the engine names by
  // its topic (protocol/envelope.hpp): nullopt when no member of the node is in it, or the room
  // here is not private to the topic's key (or open, as the topic's); 0 when rooms are not
  // numbered.
  std::optional<std::uint64_t> append(std::string_view room, const protocol::Ack& line,
                                      std::int64_t said_ms, std::string& numbered);
  std::optional<std::uint64_t> append_gap(std::string_view room, std::uint64_t count,
                                          std::string& numbered);

  // `fn(const RoomWindow&)` with the window held still: what repair copies out.
  template <class Fn>
  decltype(auto) read(const Room* room, Fn&& fn) const {
    const Lock lock(*this);
    return fn(window(room));
  }

  // Gives up rooms kept without members for longer than the TTL.
  void expire(TimePoint now);

  // Bytes all windows hold (kHistoryEntryOverhead per line included).
  std::size_t bytes() const;
  std::size_t kept_rooms() const;

 private:
  // The mutex, when more than one thread uses the history.
  class Lock {
   public:
    explicit Lock(const History& history) : mutex_(history.shared_ ? &history.mutex_ : nullptr) {
      if (mutex_ != nullptr) mutex_->lock();
    }
    ~Lock() {
      if (mutex_ != nullptr) mutex_->unlock();
    }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

   private:
    std::mutex* mutex_;
  };

  // Rooms holding lines, the one holding the most first, and among equals the one idle longest:
  // the order in which the total bound takes lines back.
  struct ByMost {
    bool operator()(const Room* a, const Room* b) const noexcept;
  };

  static const RoomWindow& window(const Room* room) noexcept;
  Room* find_open(std::string_view topic) noexcept;
  std::uint64_t keep(Room& room, std::string_view numbered, std::int64_t said_ms);
  bool evict_kept_room();
  void erase(Room& room);

  HistoryLimits limits_;
  std::shared_ptr<const RoomPins> pins_;
  mutable std::mutex mutex_;
  bool shared_ = true;
  std::unordered_map<std::string, std::unique_ptr<Room>> rooms_;
  std::list<Room*> kept_;  // rooms without members, kept longest first
  std::set<Room*, ByMost> by_size_;
  std::uint64_t appends_ = 0;  // a clock of appends: which room was active last
  std::size_t bytes_ = 0;
};

}  // namespace udpchat::core
