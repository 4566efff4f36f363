// One end of a sealed session (the sealed dialect, protocol/sealed.hpp): the keys a Noise
// handshake gave, the two indices that name the session, the counter of what this end sends and
// the replay window of what it received. The relay holds one per sealed member, a client one
// for its relay.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/replay_window.hpp"
#include "core/time.hpp"
#include "protocol/noise.hpp"
#include "protocol/sealed.hpp"

namespace udpchat::core {

class SealedSession {
 public:
  // `local`: the index frames to this end carry; `remote`: the one this end writes.
  SealedSession(std::uint32_t local, std::uint32_t remote, protocol::noise::Session keys)
      : local_(local), remote_(remote), keys_(std::move(keys)) {}

  std::uint32_t local() const noexcept { return local_; }
  std::uint32_t remote() const noexcept { return remote_; }

  // `text` as one sealed frame in `out` (its storage reused: no allocation once grown).
  void seal(std::string_view text, std::string& out);
  // A frame's text in `out`. False, with nothing changed, when the frame is a replay, too old,
  // or does not open under this session's key: a forgery moves neither the window nor anything
  // the caller keeps.
  bool open(const protocol::sealed::Sealed& frame, std::string& out);
  // Something opened under it: the other end holds these keys (a relay's session before that
  // may still be one whose welcome was lost).
  bool confirmed() const noexcept { return !received_.empty(); }

 private:
  std::uint32_t local_;
  std::uint32_t remote_;
  protocol::noise::Session keys_;
  std::uint64_t next_counter_ = 0;
  ReplayWindow received_;
};

// A client's session taking new keys: every `after` (WireGuard rekeys every 2 minutes) it asks,
// sealed, for a cookie and sends a hello whose payload is a heartbeat, while the session goes on.
// The relay keeps sending under the old keys until a datagram opens under the new ones; the old
// session is kept to open what was sent under it meanwhile.
struct Rekey {
  static constexpr Duration kRetry = std::chrono::seconds(5);  // a lost cookie or welcome
  std::optional<protocol::noise::Initiator> handshake;
  std::uint32_t index = 0;  // the new session's, as the hello gave it
  TimePoint due = TimePoint::max();
  bool asked = false;  // a cookie was asked for it
  int tries = 0;
  std::unique_ptr<SealedSession> previous;
};

}  // namespace udpchat::core
