// What a relay counts: why it dropped datagrams, and its counters. Each kind has one table, from
// which the node's log lines, totals and /metrics are all made: to add a drop reason or a
// counter, add it to the enum or struct and to its table here, then count it where it happens.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace udpchat::core {

enum class DropReason : std::uint8_t {
  empty,
  too_long,
  invalid_utf8,
  control_character,
  format_character,
  not_member,
  unpadded_reg,
  bad_cookie,
  server_full,
  nick_taken,
  room_private,
  room_open,
  bad_proof,
  old_key,
  reply_too_big,
  rate_limited,
  cookie_rate_limited,
  egress_limited,
  stale,
  unnumbered,
  out_of_sequence,
  resent,
  unsealed,
  bad_frame,
  unknown_session,
  unopened,
  unpadded_hello,
  sealed_off,
  cipher_off,
  replayed_hello,
  hello_outside_session,
  count,  // not a reason: how many there are
};

struct DropReasonInfo {
  DropReason reason;
  std::string_view name;  // the log field and the /metrics label
  std::string_view help;
};

inline constexpr DropReasonInfo kDropReasons[] = {
    {DropReason::empty, "empty", "an empty datagram or line"},
    {DropReason::too_long, "too_long", "a line over the protocol's length"},
    {DropReason::invalid_utf8, "invalid_utf8", "text that is not UTF-8"},
    {DropReason::control_character, "control_character", "a control character in text"},
    {DropReason::format_character, "format_character",
     "a bidi override or isolate, or a line or paragraph separator"},
    {DropReason::not_member, "not_member",
     "a heartbeat, quit, nack or line from an address that has not joined"},
    {DropReason::unpadded_reg, "unpadded_reg", "a bare reg in validated mode: too short"},
    {DropReason::bad_cookie, "bad_cookie", "a cookie forged, expired or issued to another address"},
    {DropReason::server_full, "server_full", "a join refused by --max-clients"},
    {DropReason::nick_taken, "nick_taken", "a join naming a nick another member of the room holds"},
    {DropReason::room_private, "room_private",
     "a join to a private room without proof of its key, or with another key's"},
    {DropReason::room_open, "room_open",
     "a join proving a room key, to a room others share here without one"},
    {DropReason::bad_proof, "bad_proof", "a join whose proof of a room key does not verify"},
    {DropReason::old_key, "old_key",
     "a join or datagram on the key a private room had before its current one"},
    {DropReason::reply_too_big, "reply_too_big",
     "an answer to an unproven address would exceed its datagram"},
    {DropReason::rate_limited, "rate_limited", "the source's datagram budget is spent"},
    {DropReason::cookie_rate_limited, "cookie_rate_limited",
     "the source's cookie-request budget is spent"},
    {DropReason::egress_limited, "egress_limited", "the fan-out would exceed --max-egress"},
    {DropReason::stale, "stale", "a line that waited longer than --max-queue-delay"},
    {DropReason::unnumbered, "unnumbered", "a +r1 member's line without its number"},
    {DropReason::out_of_sequence, "out_of_sequence",
     "a +r1 member's line too far ahead of a gap in its numbering to hold (want answers)"},
    {DropReason::resent, "resent", "a +r1 member's line relayed already (got answers)"},
    {DropReason::unsealed, "unsealed",
     "a text datagram from a sealed member's address: a forgery or a stray"},
    {DropReason::bad_frame, "bad_frame", "a sealed-dialect frame of the wrong shape or kind"},
    {DropReason::unknown_session, "unknown_session",
     "a sealed datagram naming no session of its source address"},
    {DropReason::unopened, "unopened",
     "a sealed datagram or hello that did not open: forged, altered or replayed"},
    {DropReason::unpadded_hello, "unpadded_hello", "a hello too short to be answered"},
    {DropReason::sealed_off, "sealed_off", "a hello to a relay without a key"},
    {DropReason::cipher_off, "cipher_off", "a hello in a suite this relay does not offer"},
    {DropReason::replayed_hello, "replayed_hello",
     "a hello answered already (its ephemeral key seen within its cookie's life): a replay"},
    {DropReason::hello_outside_session, "hello_outside_session",
     "a hello in the clear from a sealed member's address whose session is confirmed"},
};

inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::count);
static_assert(std::size(kDropReasons) == kDropReasonCount, "every drop reason has its row");
static_assert(
    [] {
      for (std::size_t i = 0; i < kDropReasonCount; ++i) {
        if (static_cast<std::size_t>(kDropReasons[i].reason) != i) return false;
      }
      return true;
    }(),
    "kDropReasons is in the enum's order");

constexpr std::string_view to_string(DropReason reason) noexcept {
  const auto i = static_cast<std::size_t>(reason);
  return i < kDropReasonCount ? kDropReasons[i].name : std::string_view("unknown");
}

struct RelayStats {
  std::uint64_t datagrams = 0;
  std::uint64_t joins = 0;
  std::uint64_t leaves = 0;
  std::uint64_t expiries = 0;
  std::uint64_t lines = 0;
  std::uint64_t deliveries = 0;
  std::uint64_t credit_skipped = 0;
  std::uint64_t repaired = 0;
  std::uint64_t missed = 0;
  std::uint64_t rekeys = 0;
  std::uint64_t held = 0;
  std::array<std::uint64_t, kDropReasonCount> drops{};

  std::uint64_t dropped() const noexcept;
  // Adds up shards' figures into a node's.
  RelayStats& operator+=(const RelayStats& other) noexcept;
};

struct RelayCounter {
  std::uint64_t RelayStats::*field;
  std::string_view name;    // the log field
  std::string_view metric;  // the /metrics counter
  std::string_view help;
  bool logged_when_zero = true;  // false: the log says it only once it counts something
};

inline constexpr RelayCounter kRelayCounters[] = {
    {&RelayStats::datagrams, "datagrams", "udpchat_datagrams_total", "Datagrams received"},
    {&RelayStats::joins, "joins", "udpchat_joins_total", "Members that joined"},
    {&RelayStats::leaves, "leaves", "udpchat_leaves_total", "Members that left with quit"},
    {&RelayStats::expiries, "expiries", "udpchat_expiries_total", "Members expired for silence"},
    {&RelayStats::lines, "lines", "udpchat_lines_total", "Chat lines relayed from local members"},
    {&RelayStats::deliveries, "deliveries", "udpchat_deliveries_total",
     "Datagrams sent for lines (one per member reached)"},
    {&RelayStats::credit_skipped, "credit_skipped", "udpchat_credit_skipped_total",
     "Deliveries withheld from legacy members over credit", false},
    {&RelayStats::repaired, "repaired", "udpchat_repaired_total",
     "Lines sent again to members that asked (+r1)", false},
    {&RelayStats::missed, "missed", "udpchat_missed_total",
     "Lines asked for that had left the window", false},
    {&RelayStats::rekeys, "rekeys", "udpchat_rekeys_total",
     "Sealed sessions given new keys by a new handshake", false},
    {&RelayStats::held, "held", "udpchat_held_total",
     "Numbered lines held ahead of a gap in their sender's numbering, relayed once it filled",
     false},
};

// A counter added to RelayStats and not to its table fails here.
static_assert(sizeof(RelayStats) ==
                  sizeof(std::uint64_t) * (std::size(kRelayCounters) + kDropReasonCount),
              "every counter of RelayStats has its row in kRelayCounters");

}  // namespace udpchat::core
