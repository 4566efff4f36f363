#include "core/history.hpp"

#include <sodium.h>

#include <atomic>
#include <functional>

#include "protocol/envelope.hpp"

namespace udpchat::core {

namespace proto = udpchat::protocol;

class History::Room {
 public:
  Room(std::string room_name, std::uint32_t stream) : name(std::move(room_name)), window(stream) {}

  std::string name;
  RoomWindow window;
  std::string verifier;  // empty: the room is open
  std::string previous;  // the verifier before the last key change
  std::atomic<std::uint32_t> epoch{0};
  std::uint64_t active = 0;  // History::appends_ at its latest line
  std::size_t members = 0;   // on every shard
  bool kept = false;
  TimePoint kept_since{};
  std::list<Room*>::iterator kept_at{};
};

bool History::ByMost::operator()(const Room* a, const Room* b) const noexcept {
  if (a->window.bytes() != b->window.bytes()) return a->window.bytes() > b->window.bytes();
  if (a->active != b->active) return a->active < b->active;
  return std::less<const Room*>()(a, b);
}

History::History(HistoryLimits limits, std::shared_ptr<const RoomPins> pins)
    : limits_(limits), pins_(std::move(pins)) {}

History::~History() = default;

const RoomWindow& History::window(const Room* room) noexcept {
  return room->window;
}

History::Room* History::enter(std::string_view name, std::string_view verifier,
                              std::string_view handover_from, Admission& admission) {
  const Lock lock(*this);
  const RoomPin* pin = nullptr;
  if (pins_) {
    const auto pinned = pins_->find(name);
    if (pinned != pins_->end()) pin = &pinned->second;
  }
  auto it = rooms_.find(std::string(name));
  // A room kept open without members is anyone's to make private: its lines were plain anyway.
  Gate gate;
  if (it != rooms_.end() && (it->second->members > 0 || !it->second->verifier.empty())) {
    gate = {it->second->verifier, it->second->previous};
  }
  admission = admit(pin, gate, verifier, handover_from);
  if (admission != Admission::admitted && admission != Admission::handed_over) return nullptr;
  if (it == rooms_.end()) {
    it = rooms_
             .emplace(std::string(name),
                      std::make_unique<Room>(std::string(name), randombytes_random()))
             .first;
  }
  Room& room = *it->second;
  if (room.kept) {
    // Back within the TTL: the same numbering and window, so members fetch what was said.
    kept_.erase(room.kept_at);
    room.kept = false;
  }
  if (admission == Admission::handed_over) {
    room.previous = std::move(room.verifier);
    room.epoch.fetch_add(1, std::memory_order_relaxed);
  }
  if (!gate.current || admission == Admission::handed_over) room.verifier.assign(verifier);
  ++room.members;
  return &room;
}

void History::leave(Room* room, TimePoint now) {
  const Lock lock(*this);
  if (--room->members > 0) return;
  if (!room->window.empty() && limits_.ttl > Duration::zero()) {
    room->kept = true;
    room->kept_since = now;
    room->kept_at = kept_.insert(kept_.end(), room);
    return;
  }
  erase(*room);
}

std::uint32_t History::stream(const Room* room) const noexcept {
  return room->window.stream();
}

std::uint64_t History::head(const Room* room) const {
  const Lock lock(*this);
  return room->window.head();
}

History::Room* History::find_open(std::string_view topic) noexcept {
  const auto parsed = proto::parse_room_topic(topic);
  if (!parsed) return nullptr;
  const auto it = rooms_.find(std::string(parsed->room));
  if (it == rooms_.end() || it->second->kept || it->second->verifier != parsed->verifier) {
    return nullptr;
  }
  return it->second.get();
}

std::uint32_t History::epoch(const Room* room) const noexcept {
  return room->epoch.load(std::memory_order_relaxed);
}

std::string History::topic(const Room* room) const {
  const Lock lock(*this);
  return proto::room_topic(room->name, room->verifier);
}

// Over its own bounds a room gives up its oldest lines. Over the total, the room holding the most
// gives up its oldest line (among equals, the one idle longest), until the total fits: a room
// holding no more than its share (the total over the rooms holding lines) never loses a line to
// a larger one, and a room kept without members goes when its last line does.
std::uint64_t History::keep(Room& room, std::string_view numbered, std::int64_t said_ms) {
  const std::uint64_t seq = room.window.head();
  RoomWindow& window = room.window;
  by_size_.erase(&room);  // its key changes
  bytes_ += window.push(seq, numbered, said_ms);
  room.active = ++appends_;
  while (!window.empty() &&
         (window.size() > limits_.lines || window.bytes() > limits_.room_bytes)) {
    bytes_ -= window.pop_oldest();
  }
  if (!window.empty()) by_size_.insert(&room);
  while (bytes_ > limits_.total_bytes && !by_size_.empty()) {
    Room& most = **by_size_.begin();
    by_size_.erase(by_size_.begin());
    bytes_ -= most.window.pop_oldest();
    if (!most.window.empty()) {
      by_size_.insert(&most);
    } else if (most.kept) {
      kept_.erase(most.kept_at);
      erase(most);
    }
  }
  return seq;
}

std::uint64_t History::append(Room* room, const proto::Ack& line, std::int64_t said_ms,
                              std::string& numbered) {
  const Lock lock(*this);
  const std::uint64_t seq = room->window.take_number();
  proto::encode_numbered_ack(numbered, seq, line.sender_seq, line.ip, line.port, line.nick,
                             line.text);
  return keep(*room, numbered, said_ms);
}

std::optional<std::uint64_t> History::append(std::string_view name, const proto::Ack& line,
                                             std::int64_t said_ms, std::string& numbered) {
  const Lock lock(*this);
  Room* room = find_open(name);
  if (room == nullptr) return std::nullopt;
  if (!numbering()) return 0;
  const std::uint64_t seq = room->window.take_number();
  proto::encode_numbered_ack(numbered, seq, line.sender_seq, line.ip, line.port, line.nick,
                             line.text);
  return keep(*room, numbered, said_ms);
}

std::optional<std::uint64_t> History::append_gap(std::string_view name, std::uint64_t count,
                                                 std::string& numbered) {
  const Lock lock(*this);
  Room* room = find_open(name);
  if (room == nullptr) return std::nullopt;
  if (!numbering()) return 0;
  const std::uint64_t seq = room->window.take_number();
  proto::encode_gap(numbered, seq, count);
  return keep(*room, numbered, 0);
}

bool History::evict_kept_room() {
  if (kept_.empty()) return false;
  Room& room = *kept_.front();
  kept_.pop_front();
  erase(room);
  return true;
}

void History::erase(Room& room) {
  by_size_.erase(&room);
  bytes_ -= room.window.bytes();
  rooms_.erase(rooms_.find(room.name));
}

void History::expire(TimePoint now) {
  const Lock lock(*this);
  // Rooms left longest ago come first: the sweep costs what goes.
  while (!kept_.empty() && now - kept_.front()->kept_since > limits_.ttl) evict_kept_room();
}

std::size_t History::bytes() const {
  const Lock lock(*this);
  return bytes_;
}

std::size_t History::kept_rooms() const {
  const Lock lock(*this);
  return kept_.size();
}

}  // namespace udpchat::core
