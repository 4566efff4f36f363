// Noise_NK_25519_ChaChaPoly_BLAKE2b and Noise_NK_25519_AESGCM_BLAKE2b (the Noise Protocol
// Framework, revision 34): the handshake that gives a client and the relay session keys, the
// client knowing the relay's static public key beforehand. Built from libsodium's X25519,
// ChaCha20-Poly1305 (IETF), AES-256-GCM and BLAKE2b; HMAC and HKDF are the framework's own
// constructions over BLAKE2b. AES-GCM is the cheaper cipher where the CPU has AES instructions
// (three times cheaper per small datagram here), and libsodium offers it only there.
//
//   NK:
//     <- s
//     ...
//     -> e, es
//     <- e, ee
//
// Pure: no sockets and no clock; ephemeral keys come from the caller (random in use, fixed in
// the published test vectors). Transport messages carry their counter in the datagram (as
// WireGuard's do) and use it as the Noise nonce, so that loss and reordering do not desynchronise
// the two sides; replay is the receiver's business (replay_window.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace udpchat::protocol::noise {

inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kHashBytes = 64;
inline constexpr std::size_t kTagBytes = 16;

enum class Cipher : std::uint8_t { chacha_poly, aes_gcm };

std::string_view protocol_name(Cipher cipher) noexcept;
// Whether this machine can use `cipher` (AES-GCM needs the CPU's AES and CLMUL instructions).
bool available(Cipher cipher) noexcept;
// AES-GCM where available, else ChaChaPoly.
Cipher fastest_cipher() noexcept;

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Datagrams are text-typed (std::string) and keys byte-typed: the same bytes, seen either way.
inline ByteView as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_text(const Bytes& b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// 32 bytes that are wiped when they go: keys and what keys are made of.
class Secret {
 public:
  Secret() = default;
  explicit Secret(ByteView bytes);
  Secret(const Secret& other) = default;
  Secret& operator=(const Secret& other) = default;
  ~Secret();

  std::uint8_t* data() noexcept { return bytes_.data(); }
  const std::uint8_t* data() const noexcept { return bytes_.data(); }
  ByteView view() const noexcept { return bytes_; }

 private:
  std::array<std::uint8_t, kKeyBytes> bytes_{};
};

using PublicKey = std::array<std::uint8_t, kKeyBytes>;

struct KeyPair {
  Secret secret;
  PublicKey public_key{};

  static KeyPair generate();
  // The public half of a Curve25519 secret (clamped by X25519 itself, as Noise specifies).
  static KeyPair from_secret(ByteView secret);
};

struct AesGcmState;

// One direction's transport key. The nonce is the datagram's counter.
class TransportKey {
 public:
  TransportKey() = default;
  TransportKey(Cipher cipher, const Secret& key);

  // Writes plain.size() + kTagBytes bytes to `out`.
  void seal(std::uint64_t counter, ByteView associated, ByteView plain, std::uint8_t* out) const;
  // Writes cipher.size() - kTagBytes bytes to `out`; false (out untouched) when it does not open.
  bool open(std::uint64_t counter, ByteView associated, ByteView cipher, std::uint8_t* out) const;

 private:
  Cipher cipher_ = Cipher::chacha_poly;
  Secret key_;
  // AES's key schedule, expanded once per key rather than once per datagram.
  std::shared_ptr<const AesGcmState> aes_;
};

// What a completed handshake gives each side.
struct Session {
  TransportKey send;
  TransportKey receive;
  std::array<std::uint8_t, kHashBytes> handshake_hash{};  // the same on both sides
};

// The handshake's shared state (the framework's SymmetricState and its one CipherState).
class Symmetric {
 public:
  Symmetric(Cipher cipher, ByteView prologue);

  void mix_hash(ByteView data);
  void mix_key(ByteView input_key_material);
  // Appends the sealed payload (or the payload itself before any key) to `out`, and hashes it.
  void encrypt_and_hash(ByteView plain, Bytes& out);
  bool decrypt_and_hash(ByteView cipher, Bytes& plain);
  // The two transport keys: initiator to responder, then responder to initiator.
  std::pair<TransportKey, TransportKey> split() const;
  const std::array<std::uint8_t, kHashBytes>& hash() const noexcept { return h_; }

 private:
  Cipher cipher_;
  std::array<std::uint8_t, kHashBytes> h_{};
  std::array<std::uint8_t, kHashBytes> ck_{};
  std::optional<Secret> k_;
  std::uint64_t n_ = 0;
};

// The client's side: it knows the relay's static public key.
class Initiator {
 public:
  Initiator(Cipher cipher, const PublicKey& responder_static, ByteView prologue, KeyPair ephemeral);

  // -> e, es, payload: the first message, 32 + payload + 16 bytes.
  Bytes write_first(ByteView payload);
  // <- e, ee, payload: the session, and the payload in `payload`; nothing when it does not open.
  std::optional<Session> read_second(ByteView message, Bytes& payload);

 private:
  Symmetric state_;
  PublicKey remote_static_;
  KeyPair ephemeral_;
};

// The relay's side, one per handshake; its static key pair is the relay's identity.
class Responder {
 public:
  Responder(Cipher cipher, const KeyPair& static_keys, ByteView prologue);

  // -> e, es, payload: false when it does not open (nothing learnt, nothing to answer).
  bool read_first(ByteView message, Bytes& payload);
  // <- e, ee, payload: the second message in `out`, and the session.
  Session write_second(const KeyPair& ephemeral, ByteView payload, Bytes& out);

 private:
  Symmetric state_;
  KeyPair static_;
  PublicKey remote_ephemeral_{};
};

// Size of the first and second messages for a payload of `payload` bytes.
constexpr std::size_t handshake_message_bytes(std::size_t payload) {
  return kKeyBytes + payload + kTagBytes;
}

}  // namespace udpchat::protocol::noise
