// The engine that carries rooms across serve nodes: NATS, through nats.c. This is transport
// only; what a line means is decided by RelayServer and core::Relay on the io thread.
//
// Threads: nats.c calls back on its own threads. Lines from the engine wait in a bounded queue
// (beyond it they are dropped and counted) that the io thread drains in small batches, between
// its own datagrams and signals; state changes are posted. Nothing else crosses threads.
// close() returns once nats.c's threads have finished, so nothing calls back afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/asio_compat.hpp"
#include "net/log.hpp"

namespace udpchat::net {

struct BackplaneConfig {
  std::vector<std::string> servers;  // nats://host:port, tried in order
  std::string node_id;
  // Write each publish to the socket at once instead of waiting for nats.c's flusher (about
  // 1 ms). Either way a full socket blocks the io thread for at most a 100 ms write deadline.
  bool send_asap = true;
  // Lines published while the engine is away are held up to this many bytes, then dropped.
  int buffer_bytes = 1'000'000;
  // Lines from the engine waiting for the io thread, at most (count and bytes): an engine
  // that floods a node costs it bounded memory, and what does not fit is counted.
  std::size_t inbound_lines = 16384;
  std::size_t inbound_bytes = 8 << 20;
};

class Backplane {
 public:
  // Runs on the io thread with the room (from the subject) and the envelope bytes.
  using LineHandler = std::function<void(std::string_view room, std::string_view envelope)>;

  virtual ~Backplane() = default;
  virtual void subscribe(std::string_view room) = 0;
  virtual void unsubscribe(std::string_view room) = 0;
  // False when the line was dropped (engine away and the buffer full, or closed).
  virtual bool publish(std::string_view room, std::string_view envelope) = 0;
  // Closes the connection; call before the io_context ends. Idempotent.
  virtual void close() = 0;
  // Lines from the engine dropped because the inbound queue (or nats.c's own) was full.
  virtual std::uint64_t dropped() const = 0;
  // Any thread: connected to the engine now, and lines from it waiting for the io thread.
  virtual bool connected() const = 0;
  virtual std::size_t queued() const = 0;
};

// Starts connecting in the background and returns at once: the node serves its local members
// whether or not the engine is reachable. Null, with `error` set, only for a bad
// configuration (a malformed server URL) or a build without NATS.
std::unique_ptr<Backplane> start_backplane(asio::io_context& io, const BackplaneConfig& config,
                                           const Logger& log, Backplane::LineHandler on_line,
                                           std::string& error);

}  // namespace udpchat::net
