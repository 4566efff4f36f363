// The client side of the protocol as a state machine: joining (cookie handshake with backoff,
// legacy detection), membership and its loss, heartbeats and liveness, room moves, and every
// chat line from the moment it is typed until the server has echoed it. Pure, like core::Relay:
// datagrams, input and the time go in; datagrams to send and events for the person come out.
// net::ChatClient and net::BenchRunner are its I/O shells.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/rate_limiter.hpp"
#include "core/room_stream.hpp"
#include "core/sealed_session.hpp"
#include "core/session_events.hpp"
#include "core/status.hpp"
#include "core/time.hpp"
#include "protocol/message.hpp"

namespace udpchat::core {

inline constexpr Duration kDefaultHbInterval = std::chrono::seconds(5);
// More often than this, heartbeats are load, not liveness.
inline constexpr Duration kMinHbInterval = std::chrono::milliseconds(100);

// What a join does when the nick is held by another member of the room.
enum class NickPolicy : std::uint8_t {
  exact,      // the session ends (chat --nick-exact)
  alternate,  // it takes the next free one, nick2, nick3, ... as IRC clients do (scripts)
  // A first join ends, so that the person picks a name; a rejoin (after a restart, say) takes the
  // next free one rather than lose what waits to be sent.
  alternate_on_rejoin,
};

struct SessionConfig {
  std::string nick;
  NickPolicy nick_policy = NickPolicy::alternate_on_rejoin;
  // `end` from the server: keep joining (backing off up to 30 s) until it is back, keeping every
  // line (chat); or end the session (bench).
  bool rejoin_after_end = false;
  std::string room;  // empty: the server's default room (lobby); needs a nick otherwise
  Duration hb_interval = kDefaultHbInterval;
  std::string ping_token = "p";  // the I/O layer picks a random one
  // Lines held until the server echoes them (sent or waiting to be); beyond, send_line refuses.
  std::size_t max_waiting = 1000;
  // Chat lines sent at most, below serve's default per-source budget (200/s, burst 400): a
  // pasted or piped burst is paced rather than dropped by the server.
  TokenBucket send_budget{100, 200};
  // What the client knows of the server beforehand (bench learns it once, for all its clients).
  ServerKind hint = ServerKind::unknown;
  // Numbered lines with repair when the server offers them (+r1, docs/protocol.md): a lost line
  // is sent again, a line lost on the way to us is asked for. Off: the client never asks, and
  // every byte is as without it.
  bool repair = true;
  // With repair: the room's last lines to fetch on joining, shown as history.
  std::size_t history = 0;
  // With repair: lines sent and not yet acknowledged, at most. The window in use is smaller
  // while the relay sheds or lines are lost: it grows with acknowledgements and halves at a
  // loss or shed (AIMD, as RFC 8085 asks of UDP applications), so that repair never storms.
  std::size_t max_in_flight = 32;
  // With repair: a line not yet taken by the relay this long after it was handed over is given
  // up and said (event::LinesUnsent, Unsent::overloaded), never resent past it. Zero: never
  // (chat keeps every line while it runs); bench bounds its lines' latency under overload.
  Duration give_up_after{};
  // The sealed dialect (docs/protocol.md): asked for, and spoken whenever the relay offers it.
  // A relay that offers another key than `server_key` (pinned in known_servers, or given with
  // --server-key), or none while one is expected, ends the session (EndReason::key_changed).
  // Empty: the first key offered is taken (and pinned by the caller). Suite 2 (AESGCM, cheaper
  // for the relay) is asked for too where the CPU has AES instructions.
  bool seal = true;
  std::string server_key;
  bool aes_gcm = protocol::noise::available(protocol::noise::Cipher::aes_gcm);
  Duration rekey_after = std::chrono::minutes(2);  // new keys this often (Rekey)
  // A private room: every line said in `room` is sealed with this key end to end, and a line
  // that does not open is counted and said (event::LinesUnreadable), never shown. The caller
  // refuses moves to another room (the key is the room's).
  std::shared_ptr<const protocol::room_key::RoomKey> room_key;
  // The room's key before this one: the join hands the room over to room_key (a new epoch,
  // which tells members still on this one), and lines sealed under it still open.
  std::shared_ptr<const protocol::room_key::RoomKey> previous_room_key;
};

// What became of a line handed to send_line.
enum class LineVerdict : std::uint8_t {
  accepted,           // queued or sent; split into parts if it was longer than a datagram
  empty,              // nothing to send
  invalid_utf8,       // refused, never sent
  control_character,  // refused, never sent
  format_character,   // refused: a bidi override or isolate, or a line separator
  // refused: it reads as a command (quit, reg, ^hb^, ping x) and this server numbers no lines
  needs_numbering,
  too_many_waiting,  // refused: max_waiting lines wait for the server already
};

class ClientSession {
 public:
  // Starts joining: the first cookie request is waiting in take_datagrams().
  ClientSession(SessionConfig config, TimePoint now);

  // A datagram from the server. on_message takes one already decoded (bench decodes once and
  // counts acks itself).
  void on_datagram(std::string_view datagram, TimePoint now);
  void on_message(const protocol::ServerMessage& message, TimePoint now);
  // The server was heard from by a datagram the caller handled itself (the bench counts plain
  // acks on its hot path): proof of life, so a member whose pongs were lost is not taken as gone.
  void heard_from_server(TimePoint now) noexcept {
    if (now > last_heard_) last_heard_ = now;
  }
  TimePoint last_heard() const noexcept { return last_heard_; }
  // Asks the server for a sign of life now (a heartbeat, which a udpchat server answers): the
  // client wonders whether lines that do not move wait on a server that is gone.
  void check_alive();
  // Timers: join retries, heartbeats, liveness, pacing. Call at deadline() or later.
  void on_timer(TimePoint now);
  TimePoint deadline() const noexcept;

  // A chat line from the person or the script, longer ones split at character boundaries. Any
  // text goes, `quit` and `/x` included: numbered (+r1), it cannot be taken for a command.
  LineVerdict send_line(std::string_view text, TimePoint now);
  // Moves to `room` once every line typed before is sent; lines typed after wait for the
  // server's welcome into it. The caller has checked the name (protocol::is_room) and the nick.
  void move_to(std::string_view room, TimePoint now);
  void leave();  // sends `quit` and ends the session

  // What to send (in order) and what to show, since the last call.
  std::vector<std::string> take_datagrams();
  std::vector<SessionEvent> take_events();

  SessionState state() const noexcept { return state_; }
  EndReason end_reason() const noexcept { return end_; }
  bool is_member() const noexcept {
    return state_ == SessionState::joined || state_ == SessionState::legacy;
  }
  bool is_udpchat() const noexcept { return cookie_seen_; }
  bool ever_joined() const noexcept { return ever_joined_; }
  // The last join was refused as full; retrying.
  bool waiting_for_seat() const noexcept { return full_; }
  // The room the server last confirmed ("lobby" when none was named).
  const std::string& room() const noexcept { return room_; }
  // Lines not yet echoed by the server, and room moves not yet confirmed.
  std::size_t waiting() const noexcept { return lines_.size(); }
  // Of those, the lines not sent yet: paced at the send budget, or held while joining.
  std::size_t queued() const noexcept { return lines_.size() - sent_; }
  // The first `most` of the lines still waiting, oldest first: named when they never arrive.
  std::vector<std::string> waiting_texts(std::size_t most) const;
  // Nothing of ours waits, and every room line known to exist has been shown.
  bool settled() const noexcept {
    return lines_.empty() && moves_.empty() && (!repair_ || stream_.caught_up());
  }
  // Lines given up: meant for a room that refused or was left, or unsendable to this server.
  std::uint64_t unsent() const noexcept { return unsent_; }
  // The nick held (or asked for, while joining).
  const std::string& nick() const noexcept { return nick_; }
  // `end` came and the session is joining again (rejoin_after_end).
  bool server_closed() const noexcept { return closed_; }
  // Every datagram both ways is sealed (the relay offered the dialect and the handshake held).
  bool sealed() const noexcept { return sealed_ != nullptr; }
  // The key the relay's last cookie offered (empty: none): what a caller pins, or names.
  const std::string& offered_key() const noexcept { return offered_key_; }
  // Datagrams not the relay's: text while sealed, or sealed ones that did not open.
  std::uint64_t forged() const noexcept { return forged_; }
  // Lines of the private room that did not open here (another key, altered, in the clear).
  std::uint64_t unreadable() const noexcept { return unreadable_; }
  std::uint64_t echoed() const noexcept { return echoed_; }
  std::uint64_t malformed() const noexcept { return malformed_; }
  // +r1 in effect: lines numbered and repaired.
  bool repairing() const noexcept { return repair_; }
  std::uint64_t resent() const noexcept { return resent_; }
  // Lines given up past give_up_after (each said in an event::LinesUnsent).
  std::uint64_t given_up() const noexcept { return given_up_; }
  double congestion_window() const noexcept { return cwnd_; }
  std::uint64_t missed() const noexcept { return stream_.missed(); }
  // Fetches the room's last `count` lines (as history), as on joining with --history; asked
  // while a /join is under way, the last lines of the room it goes to.
  void fetch_history(std::uint64_t count, TimePoint now);
  // The reader is not keeping up (a blocked stdout): room lines stop being shown. With repair
  // they wait (a bounded number) or are left in the relay's window and fetched once released;
  // without, they are counted and said. The session goes on meanwhile: heartbeats, lines sent.
  void hold_lines(bool hold, TimePoint now);
  bool holding_lines() const noexcept { return holding_; }

 private:
  // Resending (+r1): the timeout before a round trip is measured, its bounds, how often a line
  // goes before it is given up; how long after the last numbered line the tail probe goes.
  static constexpr Duration kInitialRto = std::chrono::milliseconds(300);
  static constexpr Duration kMinRto = std::chrono::milliseconds(100);
  static constexpr Duration kMaxRto = std::chrono::seconds(3);
  static constexpr Duration kTailProbe = std::chrono::milliseconds(200);
  // How long a sealed session waits for the relay's sealed answer to a `reg?` in the clear.
  static constexpr Duration kVerifyWait = std::chrono::milliseconds(500);
  static constexpr int kKeyMismatches = 3;  // cookies in a row offering another key: the end
  static constexpr Duration kCookieFresh = std::chrono::seconds(20);  // still opens a hello

  struct Line {
    std::string text;           // as the server will echo it (stripped)
    std::uint32_t epoch;        // the room move it follows: lines go only to their own room
    bool needs_number = false;  // reads as a protocol command unless numbered
    std::uint64_t seq = 0;      // with repair: its number, given when first sent
    TimePoint offered{};        // when it was handed to the session
    TimePoint sent_at{};
    int tries = 0;
  };
  struct Move {
    std::uint32_t epoch;
    std::string room;
    std::uint64_t history = 0;  // a /history asked after this /join: the new room's lines
  };

  void start_joining(JoinTrouble why, TimePoint now, Duration first_in = Duration::zero());
  void request_cookie(TimePoint now);
  void on_cookie(const protocol::Cookie& cookie);
  void on_welcome(const protocol::Welcome& welcome, TimePoint now);
  void show_history(std::uint64_t count, TimePoint now);
  void on_ack(const protocol::Ack& ack, TimePoint now);
  void on_numbered_ack(const protocol::Ack& ack, TimePoint now);
  void on_plain_ack(const protocol::Ack& ack);
  // A private room's line opened into `text`; the verdict (ok, or why not).
  protocol::room_key::Opened open_private(const protocol::Ack& ack, std::string& text) const;
  void show(std::vector<RoomLine>& ready);
  void show(event::Message message);
  void acknowledged(std::uint64_t seq, TimePoint now, bool by_echo);
  void on_want(std::uint64_t seq, TimePoint now);
  void resend_due(TimePoint now);
  Duration resend_wait(const Line& line) const noexcept;  // its timeout, backed off per try
  // A line lost or shed: the window halves, once per round trip; after a timeout it restarts
  // from its least.
  void congestion(TimePoint now, bool timeout);
  std::size_t window() const noexcept;
  bool overdue(const Line& line, TimePoint now) const noexcept;
  // Lines past give_up_after: said, and their numbers withdrawn so that the relay goes on.
  void give_up_overdue(TimePoint now);
  // Sends line `index` of the sent ones again, or gives it up when it is overdue; false when
  // the send budget has no token.
  bool resend(std::size_t index, TimePoint now);
  void send_line_datagram(Line& line, TimePoint now);
  // One datagram of the send budget, first sends and resends alike (a resend storm would only
  // meet the relay's per-member budget): false, and token_at_ set, when none is left.
  bool spend_token(TimePoint now);
  std::string join_datagram(std::string_view token, std::string_view room) const;
  // The sealed dialect (client_session_sealed.cpp): emit seals every datagram after the handshake.
  void emit(std::string datagram);
  void send_join(std::string_view token, std::string_view room);
  void send_hello(std::string_view token, std::string_view room);
  std::optional<protocol::sealed::HelloOut> make_hello(std::uint32_t index, std::string_view token,
                                                       std::string payload) const;
  bool accept_offer(const protocol::Cookie& cookie);
  void on_frame(std::string_view datagram, TimePoint now);
  void on_clear_while_sealed(std::string_view datagram, TimePoint now);
  void rekey_due(TimePoint now);
  bool expects_sealed() const noexcept;
  std::uint8_t sealed_suite_asked() const noexcept;
  void ask_stale_session();
  Duration rto() const noexcept;
  Duration repair_timeout() const noexcept;
  void on_full(TimePoint now);
  void on_refusal(Refusal why, TimePoint now);
  void on_end(TimePoint now);
  bool take_next_nick();
  void lost_membership(JoinTrouble why, TimePoint now);
  void become_legacy(TimePoint now);
  void flush(TimePoint now);
  // Unsent lines (from sent_ on) that `drop` picks are given up, said once with their texts.
  void drop_waiting(const std::function<bool(const Line&)>& drop, Unsent why);
  void drop_lines_of(std::uint32_t epoch, Unsent why);
  void drop_unsendable();
  std::uint32_t typing_epoch() const noexcept;
  void end(EndReason why);
  std::string own_address() const;
  Duration silence_limit() const noexcept;

  SessionConfig config_;
  SessionState state_ = SessionState::joining;
  EndReason end_ = EndReason::none;
  bool cookie_seen_ = false;  // the server speaks udpchat
  bool ever_joined_ = false;
  std::string nick_;     // asked for, then held
  int nick_tries_ = 0;   // alternates tried since the last welcome
  std::string cookie_;   // the last cookie, to ask again at once for another nick
  bool closed_ = false;  // `end` came; rejoining since
  std::optional<std::pair<std::string, std::uint16_t>> own_;  // our address as the server sees it

  // Joining: cookie requests with backoff until a welcome.
  int attempts_ = 0;
  TimePoint next_attempt_{};
  bool full_ = false;  // the last join was refused as full

  // Membership and liveness.
  TimePoint next_heartbeat_{};
  std::uint64_t heartbeats_ = 0;
  TimePoint last_heard_{};

  // Lines and rooms.
  std::deque<Line> lines_;          // in the order typed; sent ones first
  std::size_t sent_ = 0;            // how many at the front of lines_ are sent
  std::deque<Move> moves_;          // /join requests not yet confirmed, oldest first
  bool moving_ = false;             // the front move's handshake is under way
  std::uint32_t epoch_ = 0;         // of the room we are in
  std::uint32_t latest_epoch_ = 0;  // numbers moves: each /join typed gets the next
  std::string room_;                // confirmed by the server
  std::string joined_room_;         // named in our joins ("" for the default room)
  TokenBucket budget_;
  double tokens_ = 0;
  TimePoint tokens_at_{};
  TimePoint token_at_{};  // when the next token comes, after spend_token found none
  TimePoint next_send_ = TimePoint::max();

  // Repair (+r1): numbering of our lines, the round-trip estimate (RFC 6298) that times their
  // resending, and the room's numbered lines as they come.
  bool repair_ = false;
  std::uint8_t offered_repair_ = 0;  // the repair version the last cookie offered
  std::uint64_t next_seq_ = 1;
  std::optional<Duration> srtt_;
  Duration rttvar_{};
  std::uint64_t last_want_ = 0;
  TimePoint last_want_at_{};
  // Congestion control of our lines (+r1): the window, its threshold, and until when a second
  // loss counts as the same one.
  static constexpr double kInitialWindow = 4;
  static constexpr double kLeastWindow = 2;
  static constexpr Duration kQueueTarget = std::chrono::milliseconds(20);
  double cwnd_ = kInitialWindow;
  Duration min_rtt_ = Duration::max();
  double ssthresh_ = 1e9;
  TimePoint recovery_until_{};
  std::uint64_t given_up_ = 0;
  RoomStream stream_;
  std::uint32_t stream_id_ = 0;  // the numbering stream_ follows
  // When lines stop, a heartbeat a little later asks where the room is (`head`): a lost last
  // line of a burst then shows as a gap at once, not at the next regular heartbeat.
  TimePoint tail_probe_at_ = TimePoint::max();
  std::vector<RoomLine> ready_;
  bool holding_ = false;       // hold_lines()
  std::uint64_t unshown_ = 0;  // lines without numbers received while holding

  std::uint64_t unsent_ = 0;
  std::uint64_t echoed_ = 0;
  std::uint64_t malformed_ = 0;
  std::uint64_t resent_ = 0;
  // The sealed dialect: the handshake under way, then the session; the key the relay offered.
  std::optional<protocol::noise::Initiator> handshake_;
  std::uint32_t hello_index_ = 0;
  TimePoint cookie_at_{};  // when cookie_ came
  std::unique_ptr<SealedSession> sealed_;
  std::unique_ptr<SealedSession> stale_;  // the last session, while joining again: cookies only
  Rekey rekey_;
  std::string offered_key_;
  std::uint8_t offered_suite_ = 0;  // and the suite
  int key_mismatches_ = 0;          // cookies offering another key than the expected one, in a row
  std::string opened_;
  std::uint64_t forged_ = 0;
  std::optional<protocol::room_key::RoomKeys> room_keys_;      // with config_.room_key
  std::optional<protocol::room_key::RoomKeys> previous_keys_;  // with config_.previous_room_key
  std::uint64_t unreadable_ = 0;
  // A `reg?` in the clear while sealed: anyone could have sent it, so the relay is asked, sealed;
  // only if nothing sealed comes back by this time is the membership taken as lost.
  TimePoint verify_by_ = TimePoint::max();

  std::vector<std::string> datagrams_;
  std::vector<SessionEvent> events_;
};

}  // namespace udpchat::core
