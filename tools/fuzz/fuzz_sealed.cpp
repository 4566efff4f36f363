// libFuzzer target: the sealed dialect on raw bytes. The frame decoder, a relay with a key, the
// relay's and a client's handshake state and a session's opening, each on whatever comes.
// Invariants, not just "no crash": no bytes without the keys make a member or a session, open,
// or draw more than they are.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "core/relay.hpp"
#include "core/sealed_session.hpp"
#include "protocol/noise.hpp"
#include "protocol/sealed.hpp"

namespace core = udpchat::core;
namespace noise = udpchat::protocol::noise;
namespace sealed = udpchat::protocol::sealed;

namespace {

noise::KeyPair fixed_keys(std::uint8_t seed) {
  std::uint8_t secret[32];
  for (std::uint8_t& b : secret) b = seed;
  return noise::KeyPair::from_secret(secret);
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto identity = std::make_shared<const noise::KeyPair>(fixed_keys(7));
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // The decoder: total, and its views are the datagram's own bytes, in place.
  const sealed::Frame frame = sealed::decode(input);
  check(sealed::is_sealed_dialect(input) != std::holds_alternative<sealed::NotSealed>(frame));
  if (const auto* hello = std::get_if<sealed::Hello>(&frame)) {
    check(hello->header.size() + hello->noise.size() == input.size());
    check(!hello->cookie.empty() && hello->cookie.size() <= 64);
  } else if (const auto* s = std::get_if<sealed::Sealed>(&frame)) {
    check(s->header.size() == sealed::kSealedHeaderBytes && s->cipher.size() >= sealed::kTagBytes);
  }

  // A relay with a key: nothing the bytes say makes a member, and no answer is longer.
  core::RelayConfig config;
  config.identity = identity;
  config.format_ip = [](const core::Peer&) { return std::string("10.0.0.1"); };
  core::Relay relay(config, core::TimePoint{std::chrono::hours(1)});
  const core::Peer peer = core::Peer::v4(10, 0, 0, 1, 1000);
  const core::Outcome out = relay.on_datagram(peer, input, core::TimePoint{std::chrono::hours(1)});
  if (sealed::is_sealed_dialect(input)) {
    check(relay.members().empty());
    if (const auto* answer = std::get_if<core::ToSender>(&out.sends)) {
      for (const auto datagram : answer->datagrams) check(datagram.size() <= input.size());
    }
  }

  // Handshake states and a session on arbitrary bytes: nothing opens without the keys.
  // Both suites, as the input's length picks (AESGCM where this CPU has it).
  const noise::Cipher cipher =
      input.size() % 2 == 0 ? noise::fastest_cipher() : noise::Cipher::chacha_poly;
  noise::Responder responder(cipher, *identity, noise::as_bytes(input.substr(0, 16)));
  noise::Bytes payload;
  check(!responder.read_first(noise::as_bytes(input), payload));
  noise::Initiator initiator(cipher, identity->public_key, {}, fixed_keys(9));
  initiator.write_first({});
  check(!initiator.read_second(noise::as_bytes(input), payload));
  if (const auto* s = std::get_if<sealed::Sealed>(&frame)) {
    core::SealedSession session(s->receiver, 1, noise::Session{});
    std::string opened;
    check(!session.open(*s, opened));
  }
  return 0;
}
