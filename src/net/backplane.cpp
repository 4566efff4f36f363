// The NATS backplane. nats.c calls back on its own threads: connection state, the bounded
// inbound queue and its hand-over to the io thread share one lock and one set of rules, so
// they stay in one file.
#include "net/backplane.hpp"

#include "net/inbox.hpp"

#ifdef UDPCHAT_HAS_NATS

#include <nats/nats.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <random>
#include <unordered_map>

#include "core/backoff.hpp"
#include "protocol/envelope.hpp"

namespace udpchat::net {

namespace {

constexpr int64_t kWriteDeadlineMs = 100;
constexpr int64_t kConnectTimeoutMs = 2000;
// A dead engine that does not reset the connection is noticed within about 4 s.
constexpr int64_t kPingIntervalMs = 2000;
constexpr int kMaxPingsOut = 2;
// nats.c's own queue per subscription; ours (inbound_lines/bytes) bounds what waits for the
// io thread, and the callback only ever copies into it, so this one only absorbs the moments
// when nats.c's reader runs ahead of its callback thread. What it drops is counted too.
constexpr int kPendingMessages = 8192;
constexpr int kPendingBytes = 4 << 20;
// Lines handled per turn of the io thread before it looks at its sockets and signals again.
constexpr std::size_t kDrainBatch = 64;
constexpr int kCloseWaitMs = 2000;

// What nats.c dropped on one subscription (its pending limit reached).
std::uint64_t engine_dropped(natsSubscription* subscription) {
  int64_t messages = 0;
  if (natsSubscription_GetDropped(subscription, &messages) != NATS_OK || messages < 0) return 0;
  return static_cast<std::uint64_t>(messages);
}

class NatsBackplane final : public Backplane {
 public:
  NatsBackplane(asio::io_context& io, const Logger& log, LineHandler on_line,
                std::size_t inbound_lines, std::size_t inbound_bytes)
      : io_(io),
        log_(log),
        on_line_(std::move(on_line)),
        inbound_(io.get_executor(),
                 [this](std::vector<Line>& lines, bool recovered) { take(lines, recovered); },
                 {.items = inbound_lines, .bytes = inbound_bytes, .per_turn = kDrainBatch}) {}
  ~NatsBackplane() override { close(); }

  bool connect(const BackplaneConfig& config, std::string& error);
  void subscribe(std::string_view room) override;
  void unsubscribe(std::string_view room) override;
  bool publish(std::string_view room, std::string_view envelope) override;
  void close() override;
  // Ours (the inbound queue full) and nats.c's (a subscription's pending limit: a slow
  // consumer), so that no line from the engine is lost uncounted. On the io thread.
  std::uint64_t dropped() const override {
    std::uint64_t total = inbound_.dropped() + unsubscribed_dropped_;
    for (const auto& [room, subscription] : subscriptions_) total += engine_dropped(subscription);
    return total;
  }
  bool connected() const override { return connected_.load(std::memory_order_relaxed); }
  std::size_t queued() const override { return inbound_.size(); }

 private:
  struct Line {
    std::string room;
    std::string envelope;
  };

  // On the io thread: a turn's worth of lines from the engine (the inbox's drain).
  void take(std::vector<Line>& lines, bool recovered);
  enum class State { connecting, connected, disconnected, closed };

  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* self);
  static void on_connected(natsConnection* nc, void* self);
  static void on_reconnected(natsConnection* nc, void* self);
  static void on_disconnected(natsConnection*, void* self);
  static void on_closed(natsConnection*, void* self);
  static void on_error(natsConnection*, natsSubscription*, natsStatus status, void* self);
  static int64_t reconnect_delay_ms(natsConnection*, int rounds, void*);

  void post_state(State state, std::string url);
  void change_state(State state, const std::string& url);
  // Destroys a subscription, keeping what nats.c dropped on it in the count.
  void retire(natsSubscription* subscription);

  asio::io_context& io_;
  const Logger& log_;
  LineHandler on_line_;
  natsOptions* options_ = nullptr;
  natsConnection* connection_ = nullptr;
  std::unordered_map<std::string, natsSubscription*> subscriptions_;
  std::uint64_t unsubscribed_dropped_ = 0;  // nats.c's drops on subscriptions since destroyed
  State state_ = State::connecting;
  bool open_ = false;  // io thread only
  // Lines from the engine, put on nats.c's threads and taken on the io thread, a few per turn
  // (a flood neither starves local members nor delays a signal); bounded, drops counted.
  Inbox<Line> inbound_;
  std::atomic<bool> connected_{false};
  std::string subject_;
  std::string last_error_;
};

std::string connected_url(natsConnection* nc) {
  char url[256] = {};
  if (natsConnection_GetConnectedUrl(nc, url, sizeof url) != NATS_OK) return {};
  return url;
}

bool NatsBackplane::connect(const BackplaneConfig& config, std::string& error) {
  auto check = [&](natsStatus status, std::string_view what) {
    if (status == NATS_OK) return true;
    error = std::string(what) + ": " + natsStatus_GetText(status);
    return false;
  };
  std::vector<const char*> servers;
  for (const auto& server : config.servers) servers.push_back(server.c_str());
  const std::string name = "udpchat serve " + config.node_id;
  if (!check(natsOptions_Create(&options_), "cannot set up the NATS client") ||
      !check(natsOptions_SetServers(options_, servers.data(), static_cast<int>(servers.size())),
             "bad --backplane server list") ||
      !check(natsOptions_SetName(options_, name.c_str()), "NATS name") ||
      // The engine must not hand a node back its own lines (the node id check stays too).
      !check(natsOptions_SetNoEcho(options_, true), "NATS no-echo") ||
      // Serve locally at once; connect in the background, forever, with backoff and jitter.
      !check(natsOptions_SetRetryOnFailedConnect(options_, true, &on_connected, this),
             "NATS retry") ||
      !check(natsOptions_SetMaxReconnect(options_, -1), "NATS reconnect") ||
      !check(natsOptions_SetCustomReconnectDelay(options_, &reconnect_delay_ms, nullptr),
             "NATS reconnect delay") ||
      !check(natsOptions_SetReconnectBufSize(options_, config.buffer_bytes), "NATS buffer") ||
      !check(natsOptions_SetTimeout(options_, kConnectTimeoutMs), "NATS timeout") ||
      !check(natsOptions_SetPingInterval(options_, kPingIntervalMs), "NATS ping interval") ||
      !check(natsOptions_SetMaxPingsOut(options_, kMaxPingsOut), "NATS pings") ||
      !check(natsOptions_SetMaxPendingMsgs(options_, kPendingMessages), "NATS pending") ||
      !check(natsOptions_SetDisconnectedCB(options_, &on_disconnected, this), "NATS callback") ||
      !check(natsOptions_SetReconnectedCB(options_, &on_reconnected, this), "NATS callback") ||
      !check(natsOptions_SetClosedCB(options_, &on_closed, this), "NATS callback") ||
      !check(natsOptions_SetErrorHandler(options_, &on_error, this), "NATS callback")) {
    return false;
  }
  // In either mode a publish may write to the socket on the io thread (at once, or when
  // nats.c's buffer fills): a stalled engine must not hold that thread for long.
  if (!check(natsOptions_SetSendAsap(options_, config.send_asap), "NATS send-asap") ||
      !check(natsOptions_SetWriteDeadline(options_, kWriteDeadlineMs), "NATS write deadline")) {
    return false;
  }
  open_ = true;
  std::string list;
  for (const auto& server : config.servers) list += (list.empty() ? "" : ",") + server;
  log_.info("backplane connecting", {{"servers", list}, {"node", config.node_id}});
  const natsStatus status = natsConnection_Connect(&connection_, options_);
  if (status == NATS_OK) {
    change_state(State::connected, connected_url(connection_));
  } else if (status != NATS_NOT_YET_CONNECTED) {
    open_ = false;
    return check(status, "cannot start the NATS connection");
  }
  return true;
}

void NatsBackplane::subscribe(std::string_view room) {
  if (!open_ || subscriptions_.contains(std::string(room))) return;
  natsSubscription* subscription = nullptr;
  const std::string subject = protocol::room_subject(room);
  const natsStatus status =
      natsConnection_Subscribe(&subscription, connection_, subject.c_str(), &on_message, this);
  if (status != NATS_OK) {
    log_.warn("backplane subscribe failed",
              {{"room", std::string(room)}, {"error", natsStatus_GetText(status)}});
    return;
  }
  natsSubscription_SetPendingLimits(subscription, kPendingMessages, kPendingBytes);
  subscriptions_.emplace(std::string(room), subscription);
}

void NatsBackplane::retire(natsSubscription* subscription) {
  unsubscribed_dropped_ += engine_dropped(subscription);
  natsSubscription_Destroy(subscription);
}

void NatsBackplane::unsubscribe(std::string_view room) {
  const auto it = subscriptions_.find(std::string(room));
  if (it == subscriptions_.end()) return;
  natsSubscription_Unsubscribe(it->second);
  retire(it->second);
  subscriptions_.erase(it);
}

bool NatsBackplane::publish(std::string_view room, std::string_view envelope) {
  if (!open_) return false;
  subject_.assign(protocol::kRoomSubjectPrefix);
  subject_.append(room);
  return natsConnection_Publish(connection_, subject_.c_str(), envelope.data(),
                                static_cast<int>(envelope.size())) == NATS_OK;
}

void NatsBackplane::close() {
  if (options_ == nullptr) return;
  open_ = false;
  // The connection is closed before its subscriptions are destroyed: destroying one while the
  // reader thread still delivers to it (a burst from the engine at shutdown) crashed nats.c 3.4
  // in natsConn_processMsg (a freed subscription's mutex; seen under ASan, and under TSan as a
  // node that did not exit 0). What the engine dropped is counted while the count can be read.
  for (auto& [room, subscription] : subscriptions_) {
    unsubscribed_dropped_ += engine_dropped(subscription);
  }
  if (connection_ != nullptr) natsConnection_Close(connection_);
  for (auto& [room, subscription] : subscriptions_) natsSubscription_Destroy(subscription);
  subscriptions_.clear();
  if (connection_ != nullptr) {
    natsConnection_Destroy(connection_);
    connection_ = nullptr;
  }
  natsOptions_Destroy(options_);
  options_ = nullptr;
  // Waits for nats.c's threads, so that no callback can run once this object is gone. One
  // backplane per process, which is what serve has.
  nats_CloseAndWait(kCloseWaitMs);
  change_state(State::closed, {});
}

void NatsBackplane::on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
  auto* backplane = static_cast<NatsBackplane*>(self);
  const std::string_view room = protocol::subject_room(natsMsg_GetSubject(msg));
  const auto size = static_cast<std::size_t>(natsMsg_GetDataLength(msg));
  // A subject not of ours: nothing to queue.
  const auto offered =
      room.empty() ? Inbox<Line>::Offer::queued
                   : backplane->inbound_.offer(
                         Line{std::string(room), std::string(natsMsg_GetData(msg), size)}, size);
  natsMsg_Destroy(msg);
  if (offered == Inbox<Line>::Offer::first_dropped) {
    asio::post(backplane->io_, [backplane] {
      if (!backplane->open_) return;
      backplane->log_.warn("backplane inbound queue full",
                           {{"note", "dropping lines from the engine until the node catches up"},
                            {"dropped", backplane->dropped()}});
    });
  }
}

void NatsBackplane::take(std::vector<Line>& lines, bool recovered) {
  if (!open_) return;
  for (const auto& line : lines) on_line_(line.room, line.envelope);
  if (recovered) log_.info("backplane inbound queue drained", {{"dropped", dropped()}});
}

void NatsBackplane::post_state(State state, std::string url) {
  asio::post(io_, [this, state, url = std::move(url)] {
    if (open_) change_state(state, url);
  });
}

void NatsBackplane::on_connected(natsConnection* nc, void* self) {
  static_cast<NatsBackplane*>(self)->post_state(State::connected, connected_url(nc));
}
void NatsBackplane::on_reconnected(natsConnection* nc, void* self) {
  static_cast<NatsBackplane*>(self)->post_state(State::connected, connected_url(nc));
}
void NatsBackplane::on_disconnected(natsConnection*, void* self) {
  static_cast<NatsBackplane*>(self)->post_state(State::disconnected, {});
}
void NatsBackplane::on_closed(natsConnection*, void* self) {
  static_cast<NatsBackplane*>(self)->post_state(State::closed, {});
}

void NatsBackplane::on_error(natsConnection*, natsSubscription*, natsStatus status, void* self) {
  auto* backplane = static_cast<NatsBackplane*>(self);
  std::string text = natsStatus_GetText(status);
  asio::post(backplane->io_, [backplane, text = std::move(text)] {
    // A slow consumer reports on every message it loses: say it once until something changes.
    if (!backplane->open_ || text == backplane->last_error_) return;
    backplane->last_error_ = text;
    backplane->log_.warn("backplane error", {{"error", text}});
  });
}

int64_t NatsBackplane::reconnect_delay_ms(natsConnection*, int rounds, void*) {
  thread_local std::mt19937 random{std::random_device{}()};
  const double unit = std::uniform_real_distribution<double>(0.0, 1.0)(random);
  const auto delay = core::reconnect_delay(core::Backoff{}, rounds, unit);
  return std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
}

// Each state change is logged once, however many times nats.c reports it.
void NatsBackplane::change_state(State state, const std::string& url) {
  if (state == state_) return;
  state_ = state;
  connected_.store(state == State::connected, std::memory_order_relaxed);
  last_error_.clear();
  switch (state) {
    case State::connected:
      log_.info("backplane connected", {{"url", url}});
      break;
    case State::disconnected:
      log_.warn("backplane disconnected", {{"note", "serving local members; reconnecting"}});
      break;
    case State::closed:
      log_.info("backplane closed");
      break;
    case State::connecting:
      break;
  }
}

}  // namespace

std::unique_ptr<Backplane> start_backplane(asio::io_context& io, const BackplaneConfig& config,
                                           const Logger& log, Backplane::LineHandler on_line,
                                           std::string& error) {
  auto backplane = std::make_unique<NatsBackplane>(io, log, std::move(on_line),
                                                   config.inbound_lines, config.inbound_bytes);
  if (!backplane->connect(config, error)) return nullptr;
  return backplane;
}

}  // namespace udpchat::net

#else  // a build without nats.c

namespace udpchat::net {

std::unique_ptr<Backplane> start_backplane(asio::io_context&, const BackplaneConfig&, const Logger&,
                                           Backplane::LineHandler, std::string& error) {
  error = "this udpchat was built without NATS support (configure with -DUDPCHAT_NATS=ON)";
  return nullptr;
}

}  // namespace udpchat::net

#endif
