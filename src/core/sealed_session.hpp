// One end of a sealed session (the sealed dialect, protocol/sealed.hpp): the keys a Noise
// handshake gave, the two indices that name the session, the counter of what this end sends and
// the replay window of what it received. The relay holds one per sealed member, a client one
// for its relay.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/replay_window.hpp"
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

 private:
  std::uint32_t local_;
  std::uint32_t remote_;
  protocol::noise::Session keys_;
  std::uint64_t next_counter_ = 0;
  ReplayWindow received_;
};

}  // namespace udpchat::core
