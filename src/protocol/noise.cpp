#include "protocol/noise.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace udpchat::protocol::noise {

namespace {

constexpr std::size_t kBlockBytes = 128;  // BLAKE2b's block: HMAC pads its key to it

using Digest = std::array<std::uint8_t, kHashBytes>;

void ensure_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

Digest blake2b(std::initializer_list<ByteView> parts) {
  crypto_generichash_blake2b_state state;
  crypto_generichash_blake2b_init(&state, nullptr, 0, kHashBytes);
  for (const ByteView part : parts) {
    crypto_generichash_blake2b_update(&state, part.data(), part.size());
  }
  Digest out{};
  crypto_generichash_blake2b_final(&state, out.data(), out.size());
  sodium_memzero(&state, sizeof state);
  return out;
}

// HMAC (RFC 2104) over BLAKE2b-512, as Noise defines it; `key` is at most one block.
Digest hmac(ByteView key, std::initializer_list<ByteView> data) {
  std::array<std::uint8_t, kBlockBytes> inner_pad{};
  std::array<std::uint8_t, kBlockBytes> outer_pad{};
  std::copy(key.begin(), key.end(), inner_pad.begin());
  std::copy(key.begin(), key.end(), outer_pad.begin());
  for (auto& b : inner_pad) b ^= 0x36;
  for (auto& b : outer_pad) b ^= 0x5c;
  crypto_generichash_blake2b_state state;
  crypto_generichash_blake2b_init(&state, nullptr, 0, kHashBytes);
  crypto_generichash_blake2b_update(&state, inner_pad.data(), inner_pad.size());
  for (const ByteView part : data) {
    crypto_generichash_blake2b_update(&state, part.data(), part.size());
  }
  Digest inner{};
  crypto_generichash_blake2b_final(&state, inner.data(), inner.size());
  Digest out = blake2b({outer_pad, inner});
  sodium_memzero(inner_pad.data(), inner_pad.size());
  sodium_memzero(outer_pad.data(), outer_pad.size());
  sodium_memzero(inner.data(), inner.size());
  sodium_memzero(&state, sizeof state);
  return out;
}

// HKDF with two outputs, as Noise's HKDF(chaining_key, input_key_material, 2).
std::pair<Digest, Digest> hkdf(ByteView chaining_key, ByteView input_key_material) {
  Digest temp = hmac(chaining_key, {input_key_material});
  constexpr std::uint8_t one = 1;
  constexpr std::uint8_t two = 2;
  Digest first = hmac(temp, {ByteView(&one, 1)});
  Digest second = hmac(temp, {first, ByteView(&two, 1)});
  sodium_memzero(temp.data(), temp.size());
  return {first, second};
}

Secret truncate(Digest& digest) {
  Secret key(ByteView(digest.data(), kKeyBytes));
  sodium_memzero(digest.data(), digest.size());
  return key;
}

// X25519; false for a low-order point (an all-zero result), which Noise lets a party refuse.
bool dh(const Secret& secret, const PublicKey& remote, Secret& shared) {
  return crypto_scalarmult(shared.data(), secret.data(), remote.data()) == 0;
}

static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12);
static_assert(crypto_aead_aes256gcm_NPUBBYTES == 12);
static_assert(crypto_aead_aes256gcm_ABYTES == kTagBytes);

// 32 bits of zeros, then the counter: little-endian for ChaChaPoly, big-endian for AESGCM.
std::array<std::uint8_t, 12> nonce_of(Cipher cipher, std::uint64_t n) {
  std::array<std::uint8_t, 12> nonce{};
  for (int i = 0; i < 8; ++i) {
    const int at = cipher == Cipher::chacha_poly ? 4 + i : 11 - i;
    nonce[static_cast<std::size_t>(at)] = static_cast<std::uint8_t>(n >> (8 * i));
  }
  return nonce;
}

}  // namespace

struct AesGcmState {
  crypto_aead_aes256gcm_state state;
  ~AesGcmState() { sodium_memzero(&state, sizeof state); }
};

std::string_view protocol_name(Cipher cipher) noexcept {
  return cipher == Cipher::aes_gcm ? "Noise_NK_25519_AESGCM_BLAKE2b"
                                   : "Noise_NK_25519_ChaChaPoly_BLAKE2b";
}

bool available(Cipher cipher) noexcept {
  if (cipher == Cipher::chacha_poly) return true;
  return sodium_init() >= 0 && crypto_aead_aes256gcm_is_available() == 1;
}

Cipher fastest_cipher() noexcept {
  return available(Cipher::aes_gcm) ? Cipher::aes_gcm : Cipher::chacha_poly;
}

Secret::Secret(ByteView bytes) {
  std::copy_n(bytes.begin(), std::min(bytes.size(), bytes_.size()), bytes_.begin());
}

Secret::~Secret() {
  sodium_memzero(bytes_.data(), bytes_.size());
}

KeyPair KeyPair::generate() {
  ensure_sodium();
  Secret secret;
  randombytes_buf(secret.data(), kKeyBytes);
  return from_secret(secret.view());
}

KeyPair KeyPair::from_secret(ByteView secret) {
  ensure_sodium();
  KeyPair pair;
  pair.secret = Secret(secret);
  crypto_scalarmult_base(pair.public_key.data(), pair.secret.data());
  return pair;
}

TransportKey::TransportKey(Cipher cipher, const Secret& key) : cipher_(cipher), key_(key) {
  if (cipher_ != Cipher::aes_gcm) return;
  if (!available(Cipher::aes_gcm)) throw std::runtime_error("AES-GCM is not available here");
  auto state = std::make_shared<AesGcmState>();
  crypto_aead_aes256gcm_beforenm(&state->state, key_.data());
  aes_ = std::move(state);
}

void TransportKey::seal(std::uint64_t counter, ByteView associated, ByteView plain,
                        std::uint8_t* out) const {
  const auto nonce = nonce_of(cipher_, counter);
  if (aes_) {
    crypto_aead_aes256gcm_encrypt_afternm(out, nullptr, plain.data(), plain.size(),
                                          associated.data(), associated.size(), nullptr,
                                          nonce.data(), &aes_->state);
  } else {
    crypto_aead_chacha20poly1305_ietf_encrypt(out, nullptr, plain.data(), plain.size(),
                                              associated.data(), associated.size(), nullptr,
                                              nonce.data(), key_.data());
  }
}

bool TransportKey::open(std::uint64_t counter, ByteView associated, ByteView cipher,
                        std::uint8_t* out) const {
  if (cipher.size() < kTagBytes) return false;
  const auto nonce = nonce_of(cipher_, counter);
  if (aes_) {
    return crypto_aead_aes256gcm_decrypt_afternm(
               out, nullptr, nullptr, cipher.data(), cipher.size(), associated.data(),
               associated.size(), nonce.data(), &aes_->state) == 0;
  }
  return crypto_aead_chacha20poly1305_ietf_decrypt(
             out, nullptr, nullptr, cipher.data(), cipher.size(), associated.data(),
             associated.size(), nonce.data(), key_.data()) == 0;
}

Symmetric::Symmetric(Cipher cipher, ByteView prologue) : cipher_(cipher) {
  ensure_sodium();
  // A protocol name within HASHLEN bytes is the initial hash, zero-padded.
  const std::string_view name = protocol_name(cipher_);
  std::copy(name.begin(), name.end(), h_.begin());
  ck_ = h_;
  mix_hash(prologue);
}

void Symmetric::mix_hash(ByteView data) {
  h_ = blake2b({h_, data});
}

void Symmetric::mix_key(ByteView input_key_material) {
  auto [chaining, key] = hkdf(ck_, input_key_material);
  ck_ = chaining;
  sodium_memzero(chaining.data(), chaining.size());
  k_ = truncate(key);
  n_ = 0;
}

void Symmetric::encrypt_and_hash(ByteView plain, Bytes& out) {
  const std::size_t at = out.size();
  if (!k_) {
    out.insert(out.end(), plain.begin(), plain.end());
  } else {
    out.resize(at + plain.size() + kTagBytes);
    TransportKey(cipher_, *k_).seal(n_++, h_, plain, out.data() + at);
  }
  mix_hash(ByteView(out).subspan(at));
}

bool Symmetric::decrypt_and_hash(ByteView cipher, Bytes& plain) {
  if (!k_) {
    plain.assign(cipher.begin(), cipher.end());
  } else {
    if (cipher.size() < kTagBytes) return false;
    plain.resize(cipher.size() - kTagBytes);
    if (!TransportKey(cipher_, *k_).open(n_, h_, cipher, plain.data())) {
      plain.clear();
      return false;
    }
    ++n_;
  }
  mix_hash(cipher);
  return true;
}

std::pair<TransportKey, TransportKey> Symmetric::split() const {
  auto [first, second] = hkdf(ck_, {});
  return {TransportKey(cipher_, truncate(first)), TransportKey(cipher_, truncate(second))};
}

Initiator::Initiator(Cipher cipher, const PublicKey& responder_static, ByteView prologue,
                     KeyPair ephemeral)
    : state_(cipher, prologue), remote_static_(responder_static), ephemeral_(std::move(ephemeral)) {
  state_.mix_hash(remote_static_);  // <- s
}

Bytes Initiator::write_first(ByteView payload) {
  Bytes message(ephemeral_.public_key.begin(), ephemeral_.public_key.end());  // e
  state_.mix_hash(ephemeral_.public_key);
  Secret shared;
  if (!dh(ephemeral_.secret, remote_static_, shared)) return {};  // es
  state_.mix_key(shared.view());
  state_.encrypt_and_hash(payload, message);
  return message;
}

std::optional<Session> Initiator::read_second(ByteView message, Bytes& payload) {
  if (message.size() < kKeyBytes + kTagBytes) return std::nullopt;
  PublicKey remote_ephemeral{};
  std::copy_n(message.begin(), kKeyBytes, remote_ephemeral.begin());  // e
  Symmetric state = state_;  // a message that does not open leaves the handshake as it was
  state.mix_hash(remote_ephemeral);
  Secret shared;
  if (!dh(ephemeral_.secret, remote_ephemeral, shared)) return std::nullopt;  // ee
  state.mix_key(shared.view());
  if (!state.decrypt_and_hash(message.subspan(kKeyBytes), payload)) return std::nullopt;
  state_ = state;
  auto [to_responder, to_initiator] = state_.split();
  return Session{to_responder, to_initiator, state_.hash()};
}

Responder::Responder(Cipher cipher, const KeyPair& static_keys, ByteView prologue)
    : state_(cipher, prologue), static_(static_keys) {
  state_.mix_hash(static_.public_key);  // <- s
}

bool Responder::read_first(ByteView message, Bytes& payload) {
  if (message.size() < kKeyBytes + kTagBytes) return false;
  std::copy_n(message.begin(), kKeyBytes, remote_ephemeral_.begin());  // e
  state_.mix_hash(remote_ephemeral_);
  Secret shared;
  if (!dh(static_.secret, remote_ephemeral_, shared)) return false;  // es
  state_.mix_key(shared.view());
  return state_.decrypt_and_hash(message.subspan(kKeyBytes), payload);
}

Session Responder::write_second(const KeyPair& ephemeral, ByteView payload, Bytes& out) {
  out.assign(ephemeral.public_key.begin(), ephemeral.public_key.end());  // e
  state_.mix_hash(ephemeral.public_key);
  Secret shared;
  dh(ephemeral.secret, remote_ephemeral_, shared);  // ee: remote_ephemeral_ passed es already
  state_.mix_key(shared.view());
  state_.encrypt_and_hash(payload, out);
  auto [to_responder, to_initiator] = state_.split();
  return Session{to_initiator, to_responder, state_.hash()};
}

}  // namespace udpchat::protocol::noise
