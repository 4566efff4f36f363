// udpchat's sealed dialect (docs/protocol.md, "Sealed sessions"): the frames around the Noise
// handshake and the transport datagrams that carry the text protocol inside. Each frame starts
// with a byte that never starts valid UTF-8 (0xF5 to 0xF7), so an original-protocol peer or a
// text decoder drops it as invalid instead of reading it as chat.
//
//   hello    F5 'u' suite | sender u32 | cookie length u8 | cookie | Noise message 1
//   welcome  F6 'u' suite | receiver u32 | sender u32 | Noise message 2
//   sealed   F7 | receiver u32 | counter u64 | AEAD(text datagram), the 13 bytes before it its AD
//
// Integers are little-endian. `sender` is the index its sender will know the session by;
// `receiver` the index the other side gave. A hello is padded (inside its Noise payload) to at
// least kHelloBytes, so that the welcome, never longer, obeys the reflection rule. The suite
// names the Noise cipher: 1 ChaChaPoly, 2 AESGCM (what the relay's cookie offered: `+s1=` or
// `+s2=`); a relay answers in the suite of the hello.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/noise.hpp"

namespace udpchat::protocol::sealed {

inline constexpr std::uint8_t kHello = 0xF5;
inline constexpr std::uint8_t kWelcome = 0xF6;
inline constexpr std::uint8_t kSealed = 0xF7;
inline constexpr std::uint8_t kSuiteChaChaPoly = 1;
inline constexpr std::uint8_t kSuiteAesGcm = 2;
inline constexpr std::size_t kHelloHeaderBytes = 7;          // type, 'u', suite, sender
inline constexpr std::size_t kWelcomeHeaderBytes = 11;       // type, 'u', suite, receiver, sender
inline constexpr std::size_t kSealedHeaderBytes = 13;        // type, receiver, counter
inline constexpr std::size_t kNoiseOverheadBytes = 32 + 16;  // an ephemeral key and a tag
inline constexpr std::size_t kTagBytes = 16;
// What sealing adds to a text datagram.
inline constexpr std::size_t kOverheadBytes = kSealedHeaderBytes + kTagBytes;
// The smallest hello: a welcome (its header, Noise's overhead and a welcome text) fits in it.
inline constexpr std::size_t kHelloBytes = 320;
// The prologue both sides mix in first: it binds the handshake to this dialect and version.
inline constexpr std::string_view kPrologue = "udpchat sealed 1";

struct Hello {
  protocol::noise::Cipher cipher = protocol::noise::Cipher::chacha_poly;
  std::uint32_t sender = 0;
  std::string_view cookie;  // as the relay issued it, checked before any key work
  std::string_view noise;   // Noise message 1
  std::string_view header;  // everything before `noise`, mixed into the handshake after kPrologue
};

struct Welcome {
  protocol::noise::Cipher cipher = protocol::noise::Cipher::chacha_poly;
  std::uint32_t receiver = 0;
  std::uint32_t sender = 0;
  std::string_view noise;  // Noise message 2
  std::string_view header;
};

struct Sealed {
  std::uint32_t receiver = 0;
  std::uint64_t counter = 0;
  std::string_view header;  // the associated data
  std::string_view cipher;  // the text datagram, sealed, with its tag
};

// Not a sealed frame, or a frame whose shape is wrong; the text decoder handles the first.
struct NotSealed {};
struct BadFrame {};

using Frame = std::variant<NotSealed, BadFrame, Hello, Welcome, Sealed>;

// Pure and total: any bytes give one of the alternatives, views into `datagram`.
Frame decode(std::string_view datagram) noexcept;

// Whether a datagram is a frame of this dialect at all (its first byte).
bool is_sealed_dialect(std::string_view datagram) noexcept;

// What both ends of a handshake mix in first: kPrologue, then the hello's header (its sender
// index and cookie), so that neither can be changed on the way without the handshake failing.
std::vector<std::uint8_t> prologue(std::string_view hello_header);

// The suite byte that names `cipher`, and back (nothing for an unknown suite).
std::uint8_t suite_of(protocol::noise::Cipher cipher) noexcept;
std::optional<protocol::noise::Cipher> cipher_of(std::uint8_t suite) noexcept;
// The cipher of a hello: the suite the cookie offered, never beyond the one the client asked
// for (a cipher its CPU may not have); ChaChaPoly when the offer names none.
protocol::noise::Cipher hello_cipher(std::uint8_t offered, std::uint8_t asked) noexcept;

// Writes a hello's header (the Noise message follows it).
void encode_hello_header(std::string& out, protocol::noise::Cipher cipher, std::uint32_t sender,
                         std::string_view cookie);
void encode_welcome_header(std::string& out, protocol::noise::Cipher cipher, std::uint32_t receiver,
                           std::uint32_t sender);
// A whole hello in `suite`'s cipher to the relay key `relay`: the header, then Noise's first
// message over `payload` (a text join, or `ping <token>` to have the relay prove its key),
// padded with spaces to kHelloBytes. The handshake goes on with `handshake`.
struct HelloOut {
  std::string datagram;
  protocol::noise::Initiator handshake;
};
HelloOut encode_hello(protocol::noise::Cipher cipher, const protocol::noise::PublicKey& relay,
                      std::uint32_t sender, std::string_view cookie, std::string payload);

// A transport frame's header; the sealed text follows it.
void encode_sealed_header(std::string& out, std::uint32_t receiver, std::uint64_t counter);

// A relay's public key as people and files write it: 43 characters of URL-safe base64 (what
// `serve --show-key` prints, `--server-key` takes and known_servers holds).
std::string format_key(std::span<const std::uint8_t, 32> key);
bool parse_key(std::string_view text, std::span<std::uint8_t, 32> key) noexcept;

}  // namespace udpchat::protocol::sealed
