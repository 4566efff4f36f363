// The relay's state machine: membership, expiry and what to send in answer to each datagram.
// Pure: no sockets and no clock. The I/O layer feeds it datagrams and the time, and sends what
// it answers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/cookie.hpp"
#include "core/node_share.hpp"
#include "core/peer.hpp"
#include "core/rate_limiter.hpp"
#include "core/time.hpp"
#include "protocol/message.hpp"

namespace udpchat::core {

// Members silent for longer than this are expired; clients must beat more often.
inline constexpr Duration kDefaultHbTimeout = std::chrono::seconds(10);
// Below this a member could not get a heartbeat through a busy network in time.
inline constexpr Duration kMinHbTimeout = std::chrono::seconds(1);

struct RelayConfig {
  // Original open semantics: any datagram from an unknown address makes it a member.
  bool legacy = false;
  Duration hb_timeout = kDefaultHbTimeout;
  std::size_t max_clients = 4096;
  PeerFormatter format_ip = nullptr;
  // Per-source budgets (an IPv4 address or IPv6 /64); a rate of 0 turns one off.
  TokenBucket datagram_limit{200, 400};
  TokenBucket cookie_limit{10, 20};
  std::size_t limiter_slots = 65536;
  // Bytes per second of fan-out, all members together; 0 means unlimited.
  double max_egress = 0;
  // Record when a room gains its first member or loses its last (take_room_changes): what a
  // backplane subscribes by. Off, nothing is recorded.
  bool report_room_changes = false;
  // A chat line that waited longer than this between the kernel and the relay is dropped as
  // stale: under overload the relay spends itself on fresh lines. Zero: never.
  Duration max_queue_delay = std::chrono::milliseconds(100);
  // Bytes fanned out to a member admitted without a cookie (--legacy) since it last sent
  // anything: a spoofed one-byte join cannot make the relay flood its victim. Zero: no cap.
  std::size_t legacy_credit = 64'000;
  // Numbered lines each room keeps for repair and history (+r1): at most this many, this many
  // bytes per room, and this many bytes in all rooms together (the room adding a line gives
  // up its oldest when the total is reached). Zero lines: no numbering, +r1 is not offered.
  std::size_t history_lines = 1024;
  std::size_t history_room_bytes = 256'000;
  std::size_t history_total_bytes = 64'000'000;
  // How long a room that lost its last member keeps its window (and its numbering), so that a
  // post can be read later with --history. When the total is reached, the rooms kept longest
  // without members give theirs up first. Zero: a room goes with its last member.
  Duration history_ttl = std::chrono::hours(1);
  // Wall-clock time minus the time passed in (system_clock - steady_clock): what turns `now`
  // into the Unix time a +r2 member is told a line was received. The I/O layer sets it.
  Duration wall_offset{};
  // The shards of one node share this (serve --threads); a relay on its own has none, and
  // keeps its cookies, member count, nicks and budgets to itself.
  std::shared_ptr<NodeShare> share;
};

// What the window counts for one line besides its bytes (the entry and the string).
inline constexpr std::size_t kHistoryEntryOverhead = 48;

struct Room;

struct Member {
  Peer peer;
  std::string ip;    // as written in `ack` and `welcome`
  std::string nick;  // empty when the member has none
  TimePoint last_seen;
  Room* room = nullptr;         // null once the member has left
  std::uint32_t room_slot = 0;  // position in room->members
  // Its own datagram budget: a flood forged from its IP on other ports costs it nothing.
  BucketState budget;
  bool validated = true;  // joined with a cookie; false: admitted by --legacy on any datagram
  std::size_t unheard_bytes = 0;  // fanned out to it since it last sent anything (unvalidated)
  // +r1: its lines come numbered; the next one expected, and the room lines its last few
  // became, so that a resend is answered (`got`) instead of relayed twice.
  bool repair = false;
  bool timed = false;  // +r2: lines sent again from the window say when they were received
  std::uint64_t next_seq = 1;
  std::array<std::pair<std::uint64_t, std::uint64_t>, 8> recent{};
  std::uint8_t recent_at = 0;

  std::string_view room_name() const noexcept;
};

// Members are indices into Relay::members(); a line goes to its sender's room only.
struct Room {
  std::string name;
  std::vector<std::uint32_t> members;
  std::unordered_set<std::string> nicks;  // held by members here: one member per nick
  std::uint32_t unvalidated = 0;          // members here admitted without a cookie
  std::uint32_t repair = 0;               // members here that get numbered acks (+r1)
  // Numbered lines: which numbering (random, new each time the room opens), the next number,
  // and the last lines fanned out (as +r1 members got them).
  std::uint32_t stream = 0;
  std::uint64_t next_seq = 1;
  struct Line {
    std::uint64_t seq;
    std::string payload;
    std::int64_t said_ms = 0;  // when the relay received it (Unix ms); 0 for a gap
  };
  std::deque<Line> history;
  std::size_t history_bytes = 0;
  // Kept without members (history_ttl): since when, and its place in the relay's list.
  TimePoint idle_since{};
  std::list<Room*>::iterator idle_at{};
  bool idle = false;
};

struct RoomChange {
  std::string room;
  bool opened = false;  // first member joined; false: last member left
};

enum class DropReason : std::uint8_t {
  empty,
  too_long,
  invalid_utf8,
  control_character,
  format_character,     // a bidi override or isolate, or a line or paragraph separator
  not_member,           // heartbeat, quit, nack or chat line from an address that has not joined
  unpadded_reg,         // bare `reg` in validated mode: too short to earn a cookie
  bad_cookie,           // forged, expired or issued to another address
  server_full,          // join refused by max_clients
  nick_taken,           // join naming a nick that another member of the room holds
  reply_too_big,        // an answer to an unvalidated address would exceed the datagram
  rate_limited,         // the source's datagram budget is spent
  cookie_rate_limited,  // the source's cookie-request budget is spent
  egress_limited,       // the fan-out would exceed --max-egress
  stale,                // a chat line that waited longer than max_queue_delay
  unnumbered,           // a +r1 member's chat line without its number
  out_of_sequence,      // a +r1 member's line ahead of the next one expected (`want` answers)
  resent,               // a +r1 member's line relayed already (`got` answers)
};
inline constexpr std::size_t kDropReasonCount = 18;

std::string_view to_string(DropReason reason) noexcept;

struct RelayStats {
  std::uint64_t datagrams = 0;
  std::uint64_t joins = 0;
  std::uint64_t leaves = 0;
  std::uint64_t expiries = 0;
  std::uint64_t lines = 0;
  std::uint64_t deliveries = 0;
  std::uint64_t remote_lines = 0;     // lines from other nodes delivered to a local room
  std::uint64_t remote_unrouted = 0;  // lines from other nodes for a room with no member here
  std::uint64_t credit_skipped = 0;   // deliveries withheld from legacy members over credit
  std::uint64_t remote_missed = 0;    // lines from other nodes lost on the way (gaps seen)
  std::uint64_t repaired = 0;         // lines sent again for a NACK (or as history)
  std::uint64_t missed = 0;           // lines asked for that had left the window
  std::array<std::uint64_t, kDropReasonCount> drops{};

  std::uint64_t dropped() const noexcept;
  // Adds up shards' figures into a node's.
  RelayStats& operator+=(const RelayStats& other) noexcept;
};

// Who gets the outcome's payload.
enum class Audience : std::uint8_t { nobody, sender, room };

enum class Event : std::uint8_t { none, joined, moved, left, dropped };

// Views and pointers are valid until the next call on the relay.
struct Outcome {
  Audience audience = Audience::nobody;
  std::string_view payload;
  std::span<const std::uint32_t> recipients;  // Audience::room: indices into members()
  // Audience::room: the numbered ack, for the members that negotiated +r1 (not in recipients).
  std::string_view numbered_payload;
  std::span<const std::uint32_t> numbered_recipients;
  // Audience::sender: several datagrams instead of one payload (repair of a NACK).
  std::span<const std::string_view> replies;
  Event event = Event::none;
  DropReason drop = DropReason::empty;  // when event == dropped
  const Member* member = nullptr;       // when event is joined, moved or left
  // A local member's chat line (not one from another node): what a backplane publishes.
  const Member* sender = nullptr;
  std::string_view text;
};

class Relay {
 public:
  Relay(RelayConfig config, TimePoint now);

  // `queued`: how long the datagram waited between the kernel and this call.
  Outcome on_datagram(const Peer& from, std::string_view datagram, TimePoint now,
                      Duration queued = {});

  // A chat line another node relayed: `ack` bytes built exactly as that node built them, for
  // this node's members of `room`.
  Outcome on_remote_line(std::string_view room, std::string_view ip, std::uint16_t port,
                         std::string_view nick, std::string_view text, TimePoint now);
  // `count` lines for `room` were lost on the way from another node: +r1 members are told in
  // order (`gap`), as a line of the room's numbering.
  Outcome on_remote_gap(std::string_view room, std::uint64_t count, TimePoint now);

  // Removes members silent for longer than hb_timeout and returns them (valid until the next
  // call). Calling it every hb_timeout / 4 bounds how late an expiry can be.
  std::span<const Member> expire(TimePoint now);

  std::span<const Member> members() const noexcept { return members_; }
  const Member* find(const Peer& peer) const noexcept;
  const RelayStats& stats() const noexcept { return stats_; }
  // Rooms with members.
  std::size_t room_count() const noexcept { return rooms_.size() - idle_rooms_.size(); }
  std::vector<std::string> room_names() const;
  // Rooms without members that keep their window for history_ttl.
  std::size_t kept_rooms() const noexcept { return idle_rooms_.size(); }
  // The clocks drift apart (NTP steps the wall clock): the I/O layer says so now and then.
  void set_wall_offset(Duration offset) noexcept { config_.wall_offset = offset; }
  // Bytes the rooms' windows hold (with kHistoryEntryOverhead per line).
  std::size_t history_bytes() const noexcept { return history_bytes_; }
  // Rooms opened and closed since the last call, oldest first (report_room_changes).
  std::vector<RoomChange> take_room_changes();
  const RelayConfig& config() const noexcept { return config_; }

 private:
  enum class JoinResult : std::uint8_t { joined, moved, refreshed, full, nick_taken };

  // Budgets, from the node's share when there is one.
  bool limits_on() const noexcept;
  bool allow_stranger(const Peer& from, TimePoint now);
  bool allow_cookie(const Peer& from, TimePoint now);
  bool allow_egress(double bytes, TimePoint now);
  bool claim_nick(std::string_view room, std::string_view nick, const Peer& peer);
  void release_nick(std::string_view room, const Member& member);

  Outcome drop(DropReason reason);
  Outcome reply_to_stranger(std::string_view datagram);
  Outcome tell_not_member(const Peer& from, std::string_view datagram, TimePoint now);
  Member* find_mutable(const Peer& peer) noexcept;
  Member* join(const Peer& peer, std::string_view nick, std::string_view room, TimePoint now,
               bool validated, JoinResult& result);
  void enter_room(std::size_t index, std::string_view name);
  void leave_room(std::size_t index, TimePoint now);
  Member take(std::size_t index, TimePoint now);
  void refresh(std::size_t index, TimePoint now);
  void link_newest(std::size_t index);
  void unlink(std::size_t index);
  // `received`: when the line reached the relay (now, less the time it queued).
  Outcome broadcast(const Member& sender, std::string_view text, std::uint64_t sender_seq,
                    TimePoint now, TimePoint received);
  // `line` is written once in each form the room's members need; the room numbers it.
  Outcome fan_out(Room& room, const protocol::Ack& line, TimePoint now, TimePoint received);
  void remember(Room& room, std::uint64_t seq, std::int64_t said_ms);
  // Frees the window of the room kept longest without members; false when there is none.
  bool evict_kept_room();
  std::int64_t unix_ms(TimePoint at) const noexcept;
  Outcome numbered_line(Member& member, std::uint64_t seq, std::string_view text, Duration queued,
                        TimePoint now);
  Outcome repair(Member& member, std::uint64_t from, std::uint64_t to, TimePoint now);
  void set_repair(Member& member, bool repair);

  RelayConfig config_;
  CookieJar cookies_;
  std::optional<RateLimiter> limiter_;
  std::optional<EgressBudget> egress_;
  // Contiguous so that a broadcast walks memory in order; the index maps a peer to its slot.
  std::vector<Member> members_;
  std::unordered_map<Peer, std::size_t, PeerHash> index_;
  // Node-based: a Member's Room* stays valid while other rooms come and go.
  std::unordered_map<std::string, Room> rooms_;
  std::vector<RoomChange> room_changes_;
  std::list<Room*> idle_rooms_;  // rooms kept without members, longest first
  // Members in the order they were last heard from, oldest first, as links parallel to
  // members_: expiry pops from the old end, so a sweep costs what expires.
  struct Links {
    std::uint32_t older;
    std::uint32_t newer;
  };
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  std::vector<Links> links_;
  std::uint32_t oldest_ = kNone;
  std::uint32_t newest_ = kNone;
  std::vector<Member> expired_;
  Member departed_;
  std::string buffer_;
  std::string numbered_;                            // the +r1 form of the line in buffer_
  std::vector<std::uint32_t> recipients_;           // plain members within their credit
  std::vector<std::uint32_t> numbered_recipients_;  // +r1 members, in a room with both kinds
  std::vector<std::string_view> replies_;
  std::vector<std::string> timed_replies_;  // +r2: the window's lines with `at <ms>` in front
  std::size_t history_bytes_ = 0;
  RelayStats stats_;
};

}  // namespace udpchat::core
