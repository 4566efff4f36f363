// The load generator's I/O behind `udpchat bench`: N clients joined through the shared client
// session, S of them sending paced bench lines, every client's acks counted by a core::BenchTally.
// It only schedules and moves bytes; what the figures mean is the tally's.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/bench_tally.hpp"
#include "core/client_session.hpp"
#include "core/status.hpp"
#include "core/time.hpp"
#include "net/address.hpp"
#include "net/asio_compat.hpp"

namespace udpchat::net {

struct BenchSettings {
  // Client i joins targets[i % targets.size()]: one target, or the nodes of a cluster.
  std::vector<HostPort> targets;
  std::string room;  // empty: the server's default room
  // A private room: every line sealed end to end by its sender's session (needs sealing or
  // repair: the session sends the lines).
  std::shared_ptr<const protocol::room_key::RoomKey> room_key;
  int clients = 10;
  int senders = 1;
  double rate = 1000;     // lines per second, all senders together
  std::size_t size = 64;  // bytes per chat line
  core::Duration duration = std::chrono::seconds(5);
  core::Duration warmup = std::chrono::seconds(1);
  // After the last line, how long to wait for stragglers before counting.
  core::Duration drain = std::chrono::milliseconds(500);
  // Every client heartbeats this often, so that no member expires during a long run.
  core::Duration hb_interval = std::chrono::seconds(2);
  // Numbered lines with repair (+r1): lines go out through each sender's client session, which
  // resends what is lost, and every member's session asks for what it lacks and hands lines
  // over in order. Off: the raw path, one sendmmsg per batch and acks counted as they come.
  bool repair = false;
  // With repair: a line the relay has not taken this long after its time is given up by its
  // sender's session and said (counted in BenchReport::given_up). Zero: never.
  core::Duration give_up{};
  // The sealed dialect when the relay offers it (every line sealed per member by the relay);
  // off: the original text protocol, what its cost is measured against (--no-seal).
  bool seal = true;
  // Suite 2 (AESGCM) asked for where the CPU has it; off: suite 1 (ChaChaPoly) only.
  bool aes_gcm = protocol::noise::available(protocol::noise::Cipher::aes_gcm);
  // The relay key expected (pinned or --server-key); empty: the first one offered.
  std::string server_key;
};

// A trial so far, for a progress line.
struct BenchProgress {
  double seconds = 0;           // since measuring began; negative during the warm-up
  std::uint64_t sent = 0;       // measured lines sent
  std::uint64_t delivered = 0;  // their deliveries counted
  std::uint64_t lost = 0;       // deliveries of lines sent a while ago that have not come
  std::uint64_t p99_ns = 0;     // latency so far
};

class BenchRunner {
 public:
  explicit BenchRunner(asio::io_context& io);
  ~BenchRunner();

  struct Failure {
    core::ProbeStatus status;  // refused, unresolved or failed: the same exit codes as probe
    std::string message;       // one line
  };
  // Resolves the targets and joins every client.
  awaitable<std::optional<Failure>> connect(const BenchSettings& settings);
  // One measured trial at settings.rate with the joined clients; `progress`, if set, is called
  // every `interval` while lines are sent.
  awaitable<core::BenchReport> trial(const BenchSettings& settings,
                                     std::function<void(const BenchProgress&)> progress = {},
                                     core::Duration interval = std::chrono::seconds(1));
  // Every client says `quit`; sockets and timers close, so io.run() returns.
  void close();

  core::ServerKind server() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace udpchat::net
