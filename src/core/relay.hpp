// The relay's state machine: membership, expiry and what to send in answer to each datagram.
// Pure: no sockets and no clock. The I/O layer feeds it datagrams and the time, and sends what
// it answers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/cookie.hpp"
#include "core/history.hpp"
#include "core/node_line.hpp"
#include "core/node_share.hpp"
#include "core/peer.hpp"
#include "core/rate_limiter.hpp"
#include "core/relay_config.hpp"
#include "core/relay_stats.hpp"
#include "core/sealed_session.hpp"
#include "core/seen_hellos.hpp"
#include "core/time.hpp"
#include "protocol/message.hpp"

namespace udpchat::core {

struct Room;

struct HeldLine {
  std::uint64_t seq = 0;
  std::string text;  // empty: the sender withdrew the number
  TimePoint received{};
};

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
  std::size_t unheard_bytes = 0;  // fanned out to it since its last heartbeat or line (unvalidated)
  // +r1: its lines come numbered; the next one expected, and the room lines its last few
  // became, so that a resend is answered (`got`) instead of relayed twice.
  bool repair = false;
  bool timed = false;  // +r2: lines sent again from the window say when they were received
  std::uint64_t next_seq = 1;
  std::array<std::pair<std::uint64_t, std::uint64_t>, 8> recent{};
  std::uint8_t recent_at = 0;
  // Lines that came ahead of a gap in its numbering (one lost on the way, or shed as stale),
  // held until the gap is filled so that they are relayed in its order instead of thrown away.
  std::vector<HeldLine> held;
  std::uint64_t wanted = 0;  // what its last `want` asked for, and when
  TimePoint wanted_at{};
  // Spoken in the sealed dialect: every datagram both ways is sealed, and a text datagram from
  // its address is a forgery. Null for a text member.
  std::unique_ptr<SealedSession> sealed;
  // Taking new keys (core::Rekey): the session its hello made, which takes over once a datagram
  // opens under it, and the one before, which still opens what was sent under it.
  std::unique_ptr<SealedSession> sealed_next;
  std::unique_ptr<SealedSession> sealed_before;  // until kBeforeFor after the change
  TimePoint rekeyed_at{};
  // A sealed member's lines name this random address (fd75:6463::/32) and port instead of its
  // own, in the original `ack:` to text members, in the window and across nodes: its address
  // is the relay's business. Empty for a text member.
  std::string alias_ip;
  std::uint16_t alias_port = 0;
  // The room's key epoch when it entered (History::epoch): once the room moves to a new key, a
  // member of an earlier epoch is told, and heard no more.
  std::uint32_t room_epoch = 0;

  std::string_view room_name() const noexcept;
  std::string_view room_topic() const noexcept;  // Room::topic
  std::string_view shown_ip() const noexcept { return alias_ip.empty() ? ip : alias_ip; }
  std::uint16_t shown_port() const noexcept { return alias_ip.empty() ? peer.port : alias_port; }
};

// A room as one shard sees it: its members here. Its numbering and window are the node's
// (History), shared by every shard with members in it.
struct Room {
  std::string name;
  std::vector<std::uint32_t> members;  // indices into Relay::members()
  std::uint32_t unvalidated = 0;       // members here admitted without a cookie
  std::uint32_t repair = 0;            // members here that get numbered acks (+r1)
  std::uint32_t sealed = 0;            // members here that get every line sealed
  History::Room* window = nullptr;
  std::string topic;  // on the engine (History::topic): what the node subscribes and publishes
  std::uint32_t epoch = 0;  // the room's key epoch that `topic` names
};

struct RoomChange {
  std::string room;     // its topic (protocol/envelope.hpp): a private room's names its verifier
  bool opened = false;  // first member joined; false: last member left
};

// A local member's chat line as relayed here (not one from another shard or node): what the
// node hands to its other shards and the backplane.
struct SaidLine {
  const Member* sender = nullptr;
  std::string_view text;
  std::uint64_t sender_seq = 0;  // its number from a +r1 member; 0 otherwise
  std::uint64_t room_seq = 0;    // the number the room gave it; 0: rooms are not numbered
  std::int64_t said_ms = 0;      // when the relay received it (Unix ms)
};

// What an outcome sends. Views are valid until the next call on the relay.
// Datagrams back to the sender: an answer, or several (the repair of a NACK).
struct ToSender {
  std::span<const std::string_view> datagrams;
};
// One form of a line and the members that get it (indices into Relay::members()).
struct Delivery {
  std::string_view payload;
  std::span<const std::uint32_t> recipients;
};
// A datagram sealed for one member (recipient: an index into Relay::members()).
struct SealedDelivery {
  std::uint32_t recipient;
  std::string_view datagram;
};
// A line to the members of its room here, each in the form it negotiated.
struct ToRoom {
  Delivery plain;                          // the original `ack`
  Delivery numbered;                       // +r1 members
  std::span<const SealedDelivery> sealed;  // sealed members, each its own datagram
  std::optional<SaidLine> said;  // a local member's line, for the other shards and the engine
};
using Sends = std::variant<std::monostate, ToSender, ToRoom>;

// What became of a membership. The member is valid until the next call on the relay.
struct Joined {
  static constexpr std::string_view kName = "joined";
  const Member* member;
};
struct Moved {
  static constexpr std::string_view kName = "moved";
  const Member* member;
};
struct Left {
  static constexpr std::string_view kName = "left";
  const Member* member;
};
using MemberChange = std::variant<std::monostate, Joined, Moved, Left>;

// The answer to one datagram: each part on its own, so none is read in the wrong case. A
// datagram can be dropped and still be answered (`got`, `want`, `nick`) or admit its sender
// (--legacy).
struct Outcome {
  Sends sends;
  MemberChange change;
  std::optional<DropReason> dropped;  // counted in RelayStats::drops
};

class Relay {
 public:
  Relay(RelayConfig config, TimePoint now);

  // `queued`: how long the datagram waited between the kernel and this call.
  Outcome on_datagram(const Peer& from, std::string_view datagram, TimePoint now,
                      Duration queued = {});

  // A line the node numbered already (another shard's member said it, or another node through
  // the engine), for this shard's members of its room: `ack` bytes built exactly as its own
  // shard built them. A gap (`missed`) is told to +r1 members in order.
  Outcome on_node_line(const NodeLine& line, TimePoint now);

  // After on_datagram: the next line its datagram released (lines held behind a gap it filled),
  // relayed now, in the sender's order; nullopt when none is left. Call until nullopt before
  // the next datagram.
  std::optional<Outcome> next_released(TimePoint now);

  // `text` to every member here (the relay's `end`): as it is to text members, sealed to
  // sealed ones.
  Sends to_everyone(std::string_view text);

  // Removes members silent for longer than hb_timeout and returns them (valid until the next
  // call). Calling it every hb_timeout / 4 bounds how late an expiry can be.
  std::span<const Member> expire(TimePoint now);

  std::span<const Member> members() const noexcept { return members_; }
  const Member* find(const Peer& peer) const noexcept;
  const RelayStats& stats() const noexcept { return stats_; }
  // Rooms with members here.
  std::size_t room_count() const noexcept { return rooms_.size(); }
  std::vector<std::string> room_names() const;
  // The node's rooms without members that keep their window for history_ttl.
  std::size_t kept_rooms() const { return share_->history().kept_rooms(); }
  // The clocks drift apart (NTP steps the wall clock): the I/O layer says so now and then.
  void set_wall_offset(Duration offset) noexcept { config_.wall_offset = offset; }
  // Bytes the node's windows hold (with kHistoryEntryOverhead per line).
  std::size_t history_bytes() const { return share_->history().bytes(); }
  // Rooms opened and closed since the last call, oldest first (report_room_changes).
  std::vector<RoomChange> take_room_changes();
  const RelayConfig& config() const noexcept { return config_; }

 private:
  enum class JoinResult : std::uint8_t {
    joined,
    moved,
    refreshed,
    full,
    nick_taken,
    room_private,
    room_open,
    old_key
  };

  History& history() noexcept { return share_->history(); }
  void release_nick(std::string_view room, const Member& member);

  Outcome drop(DropReason reason);
  // A datagram of the text protocol, from `member` (null: a stranger): a sealed member's after
  // it opened.
  Outcome on_text(Member* member, const Peer& from, std::string_view datagram, TimePoint now,
                  Duration queued);
  // A join whose cookie proved its address.
  Outcome accept_join(const Peer& from, const protocol::Join& join, Member*& member, TimePoint now);
  // The sealed dialect (relay_sealed.cpp).
  Outcome on_sealed(Member* member, const Peer& from, std::string_view datagram, TimePoint now,
                    Duration queued);
  Outcome on_hello(Member* member, const Peer& from, const protocol::sealed::Hello& hello,
                   std::size_t datagram_bytes, TimePoint now, bool in_session);
  // Answers to a sealed member sealed; to one that left meanwhile, none.
  Outcome welcome(const protocol::sealed::Hello& hello, std::uint32_t index,
                  std::size_t datagram_bytes, Outcome out);
  Outcome seal_answers(Outcome out, const Peer& to);
  Outcome install_session(Member& member, const Peer& from, const protocol::sealed::Hello& hello,
                          protocol::noise::Responder& responder, std::string_view answer,
                          std::size_t datagram_bytes, Outcome out, bool next);
  void forget_sessions(Member& member);
  // `text` sealed for each recipient, into sealed_out_.
  std::span<const SealedDelivery> seal_for(std::span<const std::uint32_t> recipients,
                                           std::string_view text);
  // A room line for sealed recipients: the form that names no address (numbered for +r1
  // members when `seq` is not 0; `@me` for `sender`), each sealed for its member.
  std::span<const SealedDelivery> seal_line(std::span<const std::uint32_t> recipients,
                                            const protocol::Ack& line, std::uint64_t seq,
                                            const Member* sender);
  // A line of the window (a numbered ack) as a sealed member gets it: no address.
  std::string_view without_address(std::string_view stored, const Member& to);
  std::uint32_t new_session_index();
  // `datagram` back to the sender, besides what `out` holds.
  Outcome answer(std::string_view datagram, Outcome out = {});
  Outcome reply_to_stranger(std::string_view datagram);
  Outcome tell_not_member(const Peer& from, std::string_view datagram, TimePoint now);
  Member* find_mutable(const Peer& peer) noexcept;
  // `verifier`: the room key the join proved (its verifier), or empty; `handover_from`: the
  // room's current verifier, when the join carried its key's handover to `verifier`.
  Member* join(const Peer& peer, std::string_view nick, std::string_view room, TimePoint now,
               bool validated, std::string_view verifier, std::string_view handover_from,
               JoinResult& result);
  void enter_room(std::size_t index, std::string_view name, History::Room* window);
  void leave_room(std::size_t index, TimePoint now);
  Member take(std::size_t index, TimePoint now);
  void refresh(std::size_t index, TimePoint now);
  void link_newest(std::size_t index);
  void unlink(std::size_t index);
  // `received`: when the line reached the relay (now, less the time it queued).
  Outcome broadcast(const Member& sender, std::string_view text, std::uint64_t sender_seq,
                    TimePoint now, TimePoint received);
  // `line` is written once in each form the room's members need. `numbered_as`: its number
  // when the node gave it one elsewhere (0: rooms are not numbered); none: the node's history
  // numbers and keeps it here.
  Outcome fan_out(Room& room, const protocol::Ack& line, TimePoint now, std::int64_t said_ms,
                  std::optional<std::uint64_t> numbered_as, const Member* sender);
  std::int64_t unix_ms(TimePoint at) const noexcept;
  Outcome numbered_line(Member& member, std::uint64_t seq, std::string_view text, Duration queued,
                        TimePoint now);
  Outcome take_line(Member& member, std::uint64_t seq, std::string_view text, TimePoint received,
                    TimePoint now);
  Outcome hold(Member& member, std::uint64_t seq, std::string_view text, TimePoint received,
               TimePoint now);
  void forget_held(Member& member) noexcept;
  void forget_stale_held(Member& member, TimePoint now) noexcept;
  void want(Member& member, std::uint64_t seq, TimePoint now);
  bool gap_asked_lately(const Member& member, TimePoint now) const noexcept;
  Outcome repair(Member& member, std::uint64_t from, std::uint64_t to, TimePoint now);
  void set_repair(Member& member, bool repair);

  RelayConfig config_;
  std::shared_ptr<NodeShare> share_;
  CookieJar cookies_;
  std::string identity_text_;  // the relay's key as a cookie offers it; empty: none
  // Contiguous so that a broadcast walks memory in order; the index maps a peer to its slot.
  std::vector<Member> members_;
  std::unordered_map<Peer, std::size_t, PeerHash> index_;
  // Node-based: a Member's Room* stays valid while other rooms come and go.
  std::unordered_map<std::string, Room> rooms_;
  std::vector<RoomChange> room_changes_;
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
  static constexpr std::size_t kNoMember = ~std::size_t{0};
  // What a held line counts besides its text.
  static constexpr std::size_t kHeldOverhead = 64;
  // A gap is asked for (`want`) at most this often while lines wait behind it.
  static constexpr Duration kWantInterval = std::chrono::milliseconds(10);
  // Held lines older than this give way: the gap before them was never filled.
  static constexpr Duration kHeldFor = std::chrono::seconds(2);
  HeldLine released_;                  // the held line next_released relayed last
  std::size_t held_bytes_ = 0;         // of every member's held lines
  std::size_t releasing_ = kNoMember;  // the member whose gap the last datagram filled
  std::string buffer_;
  std::string numbered_;                            // the +r1 form of the line in buffer_
  std::vector<std::uint32_t> recipients_;           // plain members within their credit
  std::vector<std::uint32_t> numbered_recipients_;  // +r1 members, in a room with both kinds
  std::vector<std::uint32_t> sealed_recipients_;    // sealed members, either form
  // Sealed datagrams of one outcome: buffers kept and reused, so sealing allocates nothing once
  // they have grown to a room's size.
  std::vector<std::string> sealed_buffers_;
  std::vector<SealedDelivery> sealed_out_;
  std::array<std::string, 4> sealed_forms_;  // numbered or not, the sender's own or another's
  std::string unaddressed_;                  // a window line without its address
  std::vector<std::string_view> sealed_answers_;
  std::string opened_;  // a sealed datagram's text
  protocol::noise::Bytes hello_payload_;
  protocol::noise::Bytes welcome_noise_;
  std::string welcome_;
  // Sessions by the index their frames carry, each to its member's address.
  std::unordered_map<std::uint32_t, Peer> sessions_;
  // Addresses of sealed members that left, for kSealedGoneFor hb_timeouts: text from them is
  // forged, and draws no `reg?`.
  static constexpr int kSealedGoneFor = 10;
  // Late datagrams under a member's keys before its last rekey are opened this long after it.
  static constexpr Duration kBeforeFor = std::chrono::seconds(10);
  std::unordered_map<Peer, TimePoint, PeerHash> sealed_gone_;
  SeenHellos seen_hellos_;
  std::vector<std::string_view> answers_;
  std::vector<std::string> repair_copies_;  // the window's lines a repair sends, copied out
  RelayStats stats_;
};

}  // namespace udpchat::core
