// The health check: `ping <token>` until `pong <token>` (or, from an original-protocol server,
// the `ack` echo of that ping) comes back.
#pragma once

#include <chrono>
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

struct ProbeRequest {
  HostPort target;
  core::Duration timeout = std::chrono::seconds(1);
  int count = 1;
  // Keep trying until an answer comes or this much time has passed.
  std::optional<core::Duration> wait;
};

struct ProbeReport {
  ProbeStatus status = ProbeStatus::timeout;
  ServerKind server = ServerKind::unknown;
  std::string endpoint;  // the address that answered, or the last one tried
  std::vector<core::Duration> rtts;
  int attempts = 0;
  std::string error;  // set unless status is answered
};

awaitable<ProbeReport> probe(ProbeRequest request);

// A fresh random `ping` token.
std::string make_ping_token();

}  // namespace udpchat::net
