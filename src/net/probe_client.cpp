#include "net/probe_client.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <variant>

#include "core/units.hpp"
#include "net/socket.hpp"
#include "protocol/message.hpp"

namespace udpchat::net {

namespace {

using namespace asio::experimental::awaitable_operators;

// After a refusal or a failed resolution, --wait retries this often rather than spinning.
constexpr core::Duration kRetryPause = std::chrono::milliseconds(100);

struct Attempt {
  ProbeStatus status = ProbeStatus::timeout;
  ServerKind server = ServerKind::unknown;
  core::Duration rtt{};
  std::string error;
};

Attempt failure(const std::error_code& ec) {
  if (ec == asio::error::connection_refused || ec == asio::error::connection_reset) {
    return {ProbeStatus::refused, ServerKind::unknown, {}, "refused (nothing listening)"};
  }
  return {ProbeStatus::failed, ServerKind::unknown, {}, ec.message()};
}

awaitable<Attempt> ping_once(udp::socket& socket, core::TimePoint deadline) {
  const std::string token = make_ping_token();
  const std::string ping = protocol::encode_ping(token);
  const auto sent_at = core::Clock::now();
  auto [send_error, sent] = co_await socket.async_send(asio::buffer(ping), use_nothrow);
  if (send_error) co_return failure(send_error);

  asio::steady_timer timer(socket.get_executor());
  timer.expires_at(deadline);
  std::vector<char> buffer(protocol::kMaxDatagramBytes);
  while (true) {
    auto result = co_await (socket.async_receive(asio::buffer(buffer), use_nothrow) ||
                            timer.async_wait(use_nothrow));
    if (result.index() == 1) co_return Attempt{};
    auto [ec, size] = std::get<0>(result);
    if (ec == asio::error::message_size) continue;
    if (ec) co_return failure(ec);
    const auto rtt = core::Clock::now() - sent_at;
    const auto message = protocol::decode_server(std::string_view(buffer.data(), size));
    if (const auto* pong = std::get_if<protocol::Pong>(&message); pong && pong->token == token) {
      co_return Attempt{ProbeStatus::answered, ServerKind::udpchat, rtt, {}};
    }
    // An original-protocol server relays the ping as chat, which also made us a member there.
    if (const auto* ack = std::get_if<protocol::Ack>(&message); ack && ack->text == ping) {
      std::error_code ignored;
      socket.send(asio::buffer(protocol::kQuit), 0, ignored);
      co_return Attempt{ProbeStatus::answered, ServerKind::legacy, rtt, {}};
    }
  }
}

// The key a udpchat relay offers in answer to a sealed cookie request: empty when it offers
// none, nothing when no cookie came in time.
awaitable<std::optional<std::string>> ask_key(udp::socket& socket, core::TimePoint deadline) {
  const std::string request = protocol::encode_sealed_cookie_request();
  auto [send_error, sent] = co_await socket.async_send(asio::buffer(request), use_nothrow);
  if (send_error) co_return std::nullopt;
  asio::steady_timer timer(socket.get_executor());
  timer.expires_at(deadline);
  std::vector<char> buffer(protocol::kMaxDatagramBytes);
  while (true) {
    auto result = co_await (socket.async_receive(asio::buffer(buffer), use_nothrow) ||
                            timer.async_wait(use_nothrow));
    if (result.index() == 1) co_return std::nullopt;
    auto [ec, size] = std::get<0>(result);
    if (ec == asio::error::message_size) continue;
    if (ec) co_return std::nullopt;
    const auto message = protocol::decode_server(std::string_view(buffer.data(), size));
    if (const auto* cookie = std::get_if<protocol::Cookie>(&message)) {
      co_return std::string(cookie->sealed_key);
    }
  }
}

}  // namespace

std::string make_ping_token() {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  if (sodium_init() < 0) std::abort();
  std::string token(16, ' ');
  for (char& c : token) {
    c = kAlphabet[randombytes_uniform(static_cast<std::uint32_t>(kAlphabet.size()))];
  }
  return token;
}

awaitable<ProbeReport> probe(ProbeRequest request) {
  const auto executor = co_await asio::this_coro::executor;
  const auto started = core::Clock::now();
  const auto give_up = started + request.wait.value_or(core::Duration::zero());
  auto attempt_deadline = [&] {
    const auto deadline = core::Clock::now() + request.timeout;
    return request.wait ? std::min(deadline, std::max(give_up, core::Clock::now())) : deadline;
  };
  ProbeReport report;
  asio::steady_timer pause(executor);

  // First reach the server: every resolved address in turn, again until --wait runs out.
  // Without --wait a ping lost on the way is one of --count, not the end of the probe.
  std::optional<udp::socket> reached;
  int lost = 0;
  while (!reached) {
    const Resolved resolved = co_await resolve(request.target);
    if (resolved.error) {
      report.status = ProbeStatus::unresolved;
      report.error =
          fmt::format("cannot resolve '{}': {}", request.target.host, resolved.error.message());
    }
    bool timed_out = false;
    Attempt refusal;
    for (const auto& endpoint : resolved.endpoints) {
      report.endpoint = format_endpoint(endpoint);
      std::error_code ec;
      udp::socket socket = connect_socket(executor, endpoint, ec);
      Attempt attempt = failure(ec);
      if (!ec) attempt = co_await ping_once(socket, attempt_deadline());
      ++report.attempts;
      if (attempt.status == ProbeStatus::answered) {
        report = ProbeReport{attempt.status, attempt.server,  report.endpoint,
                             {attempt.rtt},  report.attempts, {},
                             std::nullopt};
        reached.emplace(std::move(socket));
        break;
      }
      if (attempt.status == ProbeStatus::timeout) {
        timed_out = true;
        // Without --wait, --count bounds the pings however many addresses the host has.
        if (++lost >= request.count && !request.wait) break;
      } else {
        refusal = attempt;
      }
    }
    // A timeout on one address of the host says more than a refusal from another.
    if (!reached && !resolved.error) {
      report.status = timed_out ? ProbeStatus::timeout : refusal.status;
      report.error =
          !timed_out ? refusal.error
          : lost > 1 ? fmt::format("no answer to {} pings within {} each", lost,
                                   core::format_duration(request.timeout))
                     : fmt::format("no answer within {}", core::format_duration(request.timeout));
    }
    // Again while --wait lasts; without it, while a silent server has had fewer than --count.
    const bool again =
        request.wait ? core::Clock::now() < give_up : timed_out && lost < request.count;
    if (reached || !again) break;
    if (request.progress) {
      request.progress(ProbeProgress{report.status, report.error, core::Clock::now() - started});
    }
    if (!timed_out) {
      pause.expires_after(kRetryPause);
      co_await pause.async_wait(use_nothrow);
    }
  }
  if (!reached) co_return report;

  // Then the rest of --count on the address that answered.
  for (int i = 1 + (request.wait ? 0 : lost); i < request.count; ++i) {
    Attempt attempt = co_await ping_once(*reached, core::Clock::now() + request.timeout);
    ++report.attempts;
    if (attempt.status == ProbeStatus::answered) report.rtts.push_back(attempt.rtt);
  }
  // Which key it says it holds, once (a cookie request spends the source's cookie budget).
  if (request.ask_key && report.server == ServerKind::udpchat) {
    report.key = co_await ask_key(*reached, core::Clock::now() + request.timeout);
  }
  co_return report;
}

}  // namespace udpchat::net
