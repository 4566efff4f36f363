// Words every command shares: what kind of server answered, how reaching one ended, and the
// exit codes those map to (documented in --help and the README).
#pragma once

#include <string_view>

namespace udpchat::core {

enum class ServerKind { unknown, udpchat, legacy };

constexpr std::string_view to_string(ServerKind kind) noexcept {
  switch (kind) {
    case ServerKind::unknown:
      return "unknown";
    case ServerKind::udpchat:
      return "udpchat";
    case ServerKind::legacy:
      return "legacy";
  }
  return "unknown";
}

// How reaching a relay ended: probe's answer, and how bench's or chat's connect failed.
enum class ProbeStatus {
  answered,
  timeout,
  refused,
  unresolved,
  failed,
  key_changed,
  not_admitted
};

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // no answer, or a run that did not succeed
inline constexpr int kExitUsage = 2;
inline constexpr int kExitRefused = 3;
inline constexpr int kExitUnresolved = 4;
inline constexpr int kExitNickTaken =
    5;  // chat: the nick is held in the room (--nick-exact, or typed)
inline constexpr int kExitTooMuchLoss = 6;  // bench: more lost than --max-loss
// chat, probe, bench: the relay's key is not the one pinned (or --server-key), or it stopped
// sealing.
inline constexpr int kExitKeyChanged = 7;
// chat, bench: a private room that this key (or none) does not open, or an open room that a
// key's holder stays out of.
inline constexpr int kExitNotAdmitted = 8;

constexpr int exit_code(ProbeStatus status) noexcept {
  switch (status) {
    case ProbeStatus::answered:
      return kExitOk;
    case ProbeStatus::refused:
      return kExitRefused;
    case ProbeStatus::unresolved:
      return kExitUnresolved;
    case ProbeStatus::key_changed:
      return kExitKeyChanged;
    case ProbeStatus::not_admitted:
      return kExitNotAdmitted;
    case ProbeStatus::timeout:
    case ProbeStatus::failed:
      return kExitFailure;
  }
  return kExitFailure;
}

}  // namespace udpchat::core
