#include "protocol/sealed.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace udpchat::protocol::sealed {

namespace noise = protocol::noise;

namespace {

std::uint8_t byte_at(std::string_view s, std::size_t i) noexcept {
  return static_cast<std::uint8_t>(s[i]);
}

template <class T>
T read_le(std::string_view s, std::size_t at) noexcept {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    value |= static_cast<T>(byte_at(s, at + i)) << (8 * i);
  return value;
}

template <class T>
void write_le(std::string& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>(value >> (8 * i)));
}

bool cookie_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

constexpr std::size_t kMaxCookieBytes = 64;

}  // namespace

bool is_sealed_dialect(std::string_view datagram) noexcept {
  if (datagram.empty()) return false;
  const std::uint8_t first = byte_at(datagram, 0);
  return first == kHello || first == kWelcome || first == kSealed;
}

Frame decode(std::string_view datagram) noexcept {
  if (!is_sealed_dialect(datagram)) return NotSealed{};
  const std::uint8_t type = byte_at(datagram, 0);
  if (type == kSealed) {
    if (datagram.size() < kSealedHeaderBytes + kTagBytes) return BadFrame{};
    return Sealed{.receiver = read_le<std::uint32_t>(datagram, 1),
                  .counter = read_le<std::uint64_t>(datagram, 5),
                  .header = datagram.substr(0, kSealedHeaderBytes),
                  .cipher = datagram.substr(kSealedHeaderBytes)};
  }
  if (datagram.size() < 3 || datagram[1] != 'u') return BadFrame{};
  const auto cipher = cipher_of(byte_at(datagram, 2));
  if (!cipher) return BadFrame{};
  if (type == kWelcome) {
    if (datagram.size() < kWelcomeHeaderBytes + kNoiseOverheadBytes) return BadFrame{};
    return Welcome{.cipher = *cipher,
                   .receiver = read_le<std::uint32_t>(datagram, 3),
                   .sender = read_le<std::uint32_t>(datagram, 7),
                   .noise = datagram.substr(kWelcomeHeaderBytes),
                   .header = datagram.substr(0, kWelcomeHeaderBytes)};
  }
  // A hello: its cookie is checked before anything costs a key operation.
  if (datagram.size() < kHelloHeaderBytes + 1) return BadFrame{};
  const std::size_t cookie_bytes = byte_at(datagram, kHelloHeaderBytes);
  const std::size_t noise_at = kHelloHeaderBytes + 1 + cookie_bytes;
  if (cookie_bytes == 0 || cookie_bytes > kMaxCookieBytes ||
      datagram.size() < noise_at + kNoiseOverheadBytes) {
    return BadFrame{};
  }
  const std::string_view cookie = datagram.substr(kHelloHeaderBytes + 1, cookie_bytes);
  for (const char c : cookie) {
    if (!cookie_char(c)) return BadFrame{};
  }
  return Hello{.cipher = *cipher,
               .sender = read_le<std::uint32_t>(datagram, 3),
               .cookie = cookie,
               .noise = datagram.substr(noise_at),
               .header = datagram.substr(0, noise_at)};
}

std::vector<std::uint8_t> prologue(std::string_view hello_header) {
  std::vector<std::uint8_t> out(kPrologue.size() + hello_header.size());
  std::memcpy(out.data(), kPrologue.data(), kPrologue.size());
  if (!hello_header.empty()) {
    std::memcpy(out.data() + kPrologue.size(), hello_header.data(), hello_header.size());
  }
  return out;
}

std::uint8_t suite_of(noise::Cipher cipher) noexcept {
  return cipher == noise::Cipher::aes_gcm ? kSuiteAesGcm : kSuiteChaChaPoly;
}

std::optional<noise::Cipher> cipher_of(std::uint8_t suite) noexcept {
  if (suite == kSuiteChaChaPoly) return noise::Cipher::chacha_poly;
  if (suite == kSuiteAesGcm) return noise::Cipher::aes_gcm;
  return std::nullopt;
}

noise::Cipher hello_cipher(std::uint8_t offered, std::uint8_t asked) noexcept {
  return cipher_of(std::min(offered, asked)).value_or(noise::Cipher::chacha_poly);
}

void encode_hello_header(std::string& out, noise::Cipher cipher, std::uint32_t sender,
                         std::string_view cookie) {
  out.clear();
  out.push_back(static_cast<char>(kHello));
  out.push_back('u');
  out.push_back(static_cast<char>(suite_of(cipher)));
  write_le(out, sender);
  out.push_back(static_cast<char>(cookie.size()));
  out.append(cookie);
}

HelloOut encode_hello(noise::Cipher cipher, const noise::PublicKey& relay, std::uint32_t sender,
                      std::string_view cookie, std::string payload) {
  std::string hello;
  encode_hello_header(hello, cipher, sender, cookie);
  const std::size_t fixed = hello.size() + kNoiseOverheadBytes;
  if (payload.size() + fixed < kHelloBytes) payload.resize(kHelloBytes - fixed, ' ');
  noise::Initiator handshake(cipher, relay, prologue(hello), noise::KeyPair::generate());
  hello += noise::as_text(handshake.write_first(noise::as_bytes(payload)));
  return {std::move(hello), std::move(handshake)};
}

void encode_welcome_header(std::string& out, noise::Cipher cipher, std::uint32_t receiver,
                           std::uint32_t sender) {
  out.clear();
  out.push_back(static_cast<char>(kWelcome));
  out.push_back('u');
  out.push_back(static_cast<char>(suite_of(cipher)));
  write_le(out, receiver);
  write_le(out, sender);
}

void encode_sealed_header(std::string& out, std::uint32_t receiver, std::uint64_t counter) {
  out.clear();
  out.push_back(static_cast<char>(kSealed));
  write_le(out, receiver);
  write_le(out, counter);
}

std::string format_key(std::span<const std::uint8_t, 32> key) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  char text[sodium_base64_ENCODED_LEN(32, kVariant)];
  sodium_bin2base64(text, sizeof text, key.data(), key.size(), kVariant);
  return text;
}

bool parse_key(std::string_view text, std::span<std::uint8_t, 32> key) noexcept {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  if (text.size() != sodium_base64_ENCODED_LEN(32, kVariant) - 1) return false;
  std::size_t length = 0;
  return sodium_base642bin(key.data(), key.size(), text.data(), text.size(), nullptr, &length,
                           nullptr, kVariant) == 0 &&
         length == key.size();
}

}  // namespace udpchat::protocol::sealed
