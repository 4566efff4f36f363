#include "net/probe_client.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <functional>
#include <tuple>
#include <variant>

#include "core/units.hpp"
#include "net/socket.hpp"
#include "protocol/message.hpp"
#include "protocol/sealed.hpp"

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

// Receives until `accept` takes a datagram (no error), the deadline passes (timed_out) or the
// socket fails (its error).
awaitable<std::error_code> receive_until(udp::socket& socket, core::TimePoint deadline,
                                         const std::function<bool(std::string_view)>& accept) {
  asio::steady_timer timer(socket.get_executor());
  timer.expires_at(deadline);
  std::vector<char> buffer(protocol::kMaxDatagramBytes);
  while (true) {
    auto result = co_await (socket.async_receive(asio::buffer(buffer), use_nothrow) ||
                            timer.async_wait(use_nothrow));
    if (result.index() == 1) co_return asio::error::timed_out;
    auto [ec, size] = std::get<0>(result);
    if (ec == asio::error::message_size) continue;
    if (ec) co_return ec;
    if (accept(std::string_view(buffer.data(), size))) co_return std::error_code{};
  }
}

awaitable<Attempt> ping_once(udp::socket& socket, core::TimePoint deadline) {
  const std::string token = make_ping_token();
  const std::string ping = protocol::encode_ping(token);
  const auto sent_at = core::Clock::now();
  auto [send_error, sent] = co_await socket.async_send(asio::buffer(ping), use_nothrow);
  if (send_error) co_return failure(send_error);
  Attempt attempt;
  const std::error_code ec = co_await receive_until(socket, deadline, [&](std::string_view d) {
    const auto message = protocol::decode_server(d);
    const auto* pong = std::get_if<protocol::Pong>(&message);
    // An original-protocol server relays the ping as chat, which also made us a member there.
    const auto* ack = std::get_if<protocol::Ack>(&message);
    if ((pong == nullptr || pong->token != token) && (ack == nullptr || ack->text != ping)) {
      return false;
    }
    attempt = {ProbeStatus::answered,
               pong ? ServerKind::udpchat : ServerKind::legacy,
               core::Clock::now() - sent_at,
               {}};
    return true;
  });
  if (ec == asio::error::timed_out) co_return Attempt{};
  if (ec) co_return failure(ec);
  if (attempt.server == ServerKind::legacy) {
    std::error_code ignored;
    socket.send(asio::buffer(protocol::kQuit), 0, ignored);
  }
  co_return attempt;
}

// The key a udpchat relay offers in answer to a sealed cookie request (empty when it offers
// none), then proven: a hello carrying a ping to that key, which only the holder of its private
// half can answer (the relay keeps nothing of it). Nothing when no cookie came in time.
awaitable<std::optional<RelayKey>> ask_key(udp::socket& socket, core::Duration timeout) {
  namespace sealed = protocol::sealed;
  namespace noise = protocol::noise;
  const noise::Cipher asked = noise::fastest_cipher();
  const std::string request = protocol::encode_sealed_cookie_request(sealed::suite_of(asked));
  auto [send_error, sent] = co_await socket.async_send(asio::buffer(request), use_nothrow);
  if (send_error) co_return std::nullopt;
  std::optional<RelayKey> offer;
  std::string cookie;
  noise::Cipher cipher = noise::Cipher::chacha_poly;
  std::error_code ec =
      co_await receive_until(socket, core::Clock::now() + timeout, [&](std::string_view d) {
        const auto message = protocol::decode_server(d);
        const auto* answer = std::get_if<protocol::Cookie>(&message);
        if (answer == nullptr) return false;
        offer = RelayKey{std::string(answer->sealed_key), false};
        cookie = answer->token;
        cipher = sealed::hello_cipher(answer->sealed_suite, sealed::suite_of(asked));
        return true;
      });
  noise::PublicKey key{};
  if (ec || !sealed::parse_key(offer->key, key)) co_return offer;

  const std::string token = make_ping_token();
  const std::uint32_t sender = randombytes_random();
  sealed::HelloOut hello =
      sealed::encode_hello(cipher, key, sender, cookie, protocol::encode_ping(token));
  std::tie(send_error, sent) =
      co_await socket.async_send(asio::buffer(hello.datagram), use_nothrow);
  if (send_error) co_return offer;
  ec = co_await receive_until(socket, core::Clock::now() + timeout, [&](std::string_view d) {
    const sealed::Frame frame = sealed::decode(d);
    const auto* welcome = std::get_if<sealed::Welcome>(&frame);
    noise::Bytes said;
    if (welcome == nullptr || welcome->receiver != sender ||
        !hello.handshake.read_second(noise::as_bytes(welcome->noise), said)) {
      return false;
    }
    const auto message = protocol::decode_server(noise::as_text(said));
    const auto* pong = std::get_if<protocol::Pong>(&message);
    offer->proven = pong != nullptr && pong->token == token;
    return true;
  });
  co_return offer;
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
  // A cookie or welcome lost on the way is not an impostor: asked again, kProbeKeyTries times
  // or while --wait lasts.
  if (request.ask_key && report.server == ServerKind::udpchat) {
    for (int i = 1;; ++i) {
      if (auto answer = co_await ask_key(*reached, request.timeout)) report.key = std::move(answer);
      report.key_tries = i;
      const bool settled = report.key && (report.key->proven || report.key->key.empty());
      const bool again = i < kProbeKeyTries || (request.wait && core::Clock::now() < give_up);
      if (settled || !again) break;
    }
  }
  co_return report;
}

}  // namespace udpchat::net
