// The health check: `ping <token>` until `pong <token>` (or, from an original-protocol server,
// the `ack` echo of that ping) comes back.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "core/time.hpp"
#include "net/address.hpp"
#include "net/asio_compat.hpp"

namespace udpchat::net {

using core::ProbeStatus;
using core::ServerKind;

// Why --wait is still waiting, after each round that was not answered.
struct ProbeProgress {
  ProbeStatus status = ProbeStatus::timeout;
  std::string error;        // what the round came to: refused, no answer, not resolved
  core::Duration waited{};  // since the probe started
};

struct ProbeRequest {
  HostPort target;
  core::Duration timeout = std::chrono::seconds(1);
  int count = 1;
  // Keep trying until an answer comes or this much time has passed.
  std::optional<core::Duration> wait;
  // With wait: told after each round that was not answered.
  std::function<void(const ProbeProgress&)> progress;
  // Ask a udpchat relay which key it offers (a sealed cookie request), and have it prove it (a
  // handshake): what the caller checks against its pin.
  bool ask_key = true;
};

// A cookie or welcome lost on the way is not an impostor: the key is asked for this many times
// at least (and again while --wait lasts).
inline constexpr int kProbeKeyTries = 3;

// What a udpchat relay said of its key.
struct RelayKey {
  std::string key;      // as its cookie offered it; empty: none, it does not seal
  bool proven = false;  // it answered a handshake to that key: it holds the private half
};

struct ProbeReport {
  ProbeStatus status = ProbeStatus::timeout;
  ServerKind server = ServerKind::unknown;
  std::string endpoint;  // the address that answered, or the last one tried
  std::vector<core::Duration> rtts;
  int attempts = 0;
  std::string error;  // set unless status is answered
  // The key the relay offered, and whether it proved it; asked only of a udpchat relay (nothing:
  // no cookie came), key_tries times.
  std::optional<RelayKey> key;
  int key_tries = 0;
};

awaitable<ProbeReport> probe(ProbeRequest request);

// A fresh random `ping` token.
std::string make_ping_token();

}  // namespace udpchat::net
