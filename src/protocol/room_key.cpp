#include "protocol/room_key.hpp"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace udpchat::protocol::room_key {

namespace {

namespace noise = protocol::noise;

constexpr int kBase64 = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;

void ensure_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::string base64(const std::uint8_t* data, std::size_t size) {
  std::string out(sodium_base64_ENCODED_LEN(size, kBase64), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, kBase64);
  out.pop_back();  // the terminating NUL
  return out;
}

std::optional<std::vector<std::uint8_t>> unbase64(std::string_view text) {
  std::vector<std::uint8_t> out(text.size() * 3 / 4 + 1);
  std::size_t length = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &length, nullptr,
                        kBase64) != 0) {
    return std::nullopt;
  }
  out.resize(length);
  return out;
}

// A subkey of `key` for one purpose and one room: keyed BLAKE2b over both, each ended by a NUL
// (a room name holds none), so that no two (purpose, room) pairs hash the same input.
void derive(const noise::Secret& key, std::string_view purpose, std::string_view room,
            std::uint8_t* out, std::size_t size) {
  crypto_generichash_state state;
  crypto_generichash_init(&state, key.data(), noise::kKeyBytes, size);
  const std::uint8_t nul = 0;
  crypto_generichash_update(&state, reinterpret_cast<const std::uint8_t*>(purpose.data()),
                            purpose.size());
  crypto_generichash_update(&state, &nul, 1);
  crypto_generichash_update(&state, reinterpret_cast<const std::uint8_t*>(room.data()),
                            room.size());
  crypto_generichash_update(&state, &nul, 1);
  crypto_generichash_final(&state, out, size);
  sodium_memzero(&state, sizeof state);
}

// What a sealed line is bound to: the room, the key's id, the sender and its number.
std::string associated(std::string_view id, std::string_view room, std::string_view nick,
                       std::uint64_t seq) {
  std::string ad("udpchat room line 1");
  for (const std::string_view part : {id, room, nick}) {
    ad.push_back('\0');
    ad.append(part);
  }
  ad.push_back('\0');
  for (int i = 0; i < 8; ++i) ad.push_back(static_cast<char>(seq >> (8 * i)));
  return ad;
}

// What a join's signature covers (and a handover's: its last part is the next verifier).
std::string join_statement(std::string_view purpose, std::string_view room, std::string_view cookie,
                           std::string_view last) {
  std::string statement(purpose);
  for (const std::string_view part : {room, cookie, last}) {
    statement.push_back('\0');
    statement.append(part);
  }
  return statement;
}

bool is_base64url(std::string_view text) noexcept {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

}  // namespace

RoomKey RoomKey::generate() {
  ensure_sodium();
  RoomKey key;
  randombytes_buf(key.key_.data(), noise::kKeyBytes);
  return key;
}

std::optional<RoomKey> RoomKey::parse(std::string_view text) {
  ensure_sodium();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  if (!text.starts_with(kKeyPrefix)) return std::nullopt;
  const auto bytes = unbase64(text.substr(kKeyPrefix.size()));
  if (!bytes || bytes->size() != noise::kKeyBytes) return std::nullopt;
  RoomKey key;
  key.key_ = noise::Secret(*bytes);
  return key;
}

std::optional<RoomKey> RoomKey::from_passphrase(std::string_view passphrase,
                                                std::string_view room) {
  ensure_sodium();
  std::array<std::uint8_t, crypto_pwhash_SALTBYTES> salt{};
  crypto_generichash(salt.data(), salt.size(), reinterpret_cast<const std::uint8_t*>(room.data()),
                     room.size(), reinterpret_cast<const std::uint8_t*>("udpchat room salt 1"), 19);
  RoomKey key;
  if (crypto_pwhash(key.key_.data(), noise::kKeyBytes, passphrase.data(), passphrase.size(),
                    salt.data(), crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE,
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return std::nullopt;  // out of memory
  }
  return key;
}

std::string RoomKey::format() const {
  return std::string(kKeyPrefix) + base64(key_.data(), noise::kKeyBytes);
}

RoomKeys RoomKey::for_room(std::string_view room) const {
  RoomKeys keys;
  std::array<std::uint8_t, 8> id{};
  // The id depends on the key alone: members in every room see the same one for the same key.
  derive(key_, "udpchat room key id 1", {}, id.data(), id.size());
  keys.id = base64(id.data(), id.size());
  derive(key_, "udpchat room line key 1", room, keys.line.data(), noise::kKeyBytes);
  std::array<std::uint8_t, crypto_sign_SEEDBYTES> seed{};
  derive(key_, "udpchat room sign key 1", room, seed.data(), seed.size());
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> verifier{};
  crypto_sign_seed_keypair(verifier.data(), keys.signer.data(), seed.data());
  sodium_memzero(seed.data(), seed.size());
  keys.verifier = base64(verifier.data(), verifier.size());
  return keys;
}

std::string seal_line(const RoomKeys& keys, std::string_view room, std::string_view nick,
                      std::uint64_t seq, std::string_view text) {
  const std::string ad = associated(keys.id, room, nick, seq);
  std::vector<std::uint8_t> sealed(kNonceBytes + text.size() + kTagBytes);
  randombytes_buf(sealed.data(), kNonceBytes);
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      sealed.data() + kNonceBytes, nullptr, reinterpret_cast<const std::uint8_t*>(text.data()),
      text.size(), reinterpret_cast<const std::uint8_t*>(ad.data()), ad.size(), nullptr,
      sealed.data(), keys.line.data());
  std::string out(kLinePrefix);
  out += keys.id;
  out += ' ';
  out += base64(sealed.data(), sealed.size());
  return out;
}

OpenedLine open_line(const RoomKeys& keys, std::string_view room, std::string_view nick,
                     std::uint64_t seq, std::string_view line) {
  OpenedLine out;
  if (!line.starts_with(kLinePrefix) || line.size() < kLinePrefix.size() + kIdChars + 1 ||
      line[kLinePrefix.size() + kIdChars] != ' ') {
    return out;
  }
  const std::string_view id = line.substr(kLinePrefix.size(), kIdChars);
  if (id != keys.id) {
    out.what = Opened::other_key;
    return out;
  }
  out.what = Opened::forged;
  const auto sealed = unbase64(line.substr(kLinePrefix.size() + kIdChars + 1));
  if (!sealed || sealed->size() < kNonceBytes + kTagBytes) return out;
  const std::string ad = associated(keys.id, room, nick, seq);
  std::string text(sealed->size() - kNonceBytes - kTagBytes, '\0');
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<std::uint8_t*>(text.data()), nullptr, nullptr,
          sealed->data() + kNonceBytes, sealed->size() - kNonceBytes,
          reinterpret_cast<const std::uint8_t*>(ad.data()), ad.size(), sealed->data(),
          keys.line.data()) != 0) {
    return out;
  }
  out.what = Opened::ok;
  out.text = std::move(text);
  return out;
}

namespace {

std::string signed_field(std::string_view prefix, const RoomKeys& keys,
                         std::string_view statement) {
  std::array<std::uint8_t, crypto_sign_BYTES> signature{};
  crypto_sign_detached(signature.data(), nullptr,
                       reinterpret_cast<const std::uint8_t*>(statement.data()), statement.size(),
                       keys.signer.data());
  std::string out(prefix);
  out += keys.verifier;
  out += '.';
  out += base64(signature.data(), signature.size());
  return out;
}

std::optional<JoinProof> parse_signed(std::string_view prefix, std::string_view field) noexcept {
  if (field.size() != kProofChars || !field.starts_with(prefix) ||
      field[prefix.size() + kVerifierChars] != '.') {
    return std::nullopt;
  }
  JoinProof proof{field.substr(prefix.size(), kVerifierChars),
                  field.substr(prefix.size() + kVerifierChars + 1)};
  if (!is_base64url(proof.verifier) || !is_base64url(proof.signature)) return std::nullopt;
  return proof;
}

bool check_signed(const JoinProof& proof, std::string_view statement) {
  const auto verifier = unbase64(proof.verifier);
  const auto signature = unbase64(proof.signature);
  if (!verifier || verifier->size() != crypto_sign_PUBLICKEYBYTES || !signature ||
      signature->size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(signature->data(),
                                     reinterpret_cast<const std::uint8_t*>(statement.data()),
                                     statement.size(), verifier->data()) == 0;
}

}  // namespace

std::string join_proof(const RoomKeys& keys, std::string_view room, std::string_view cookie,
                       std::string_view nick) {
  return signed_field(kProofPrefix, keys,
                      join_statement("udpchat room join 1", room, cookie, nick));
}

std::optional<JoinProof> parse_join_proof(std::string_view field) noexcept {
  return parse_signed(kProofPrefix, field);
}

bool check_join_proof(const JoinProof& proof, std::string_view room, std::string_view cookie,
                      std::string_view nick) {
  return check_signed(proof, join_statement("udpchat room join 1", room, cookie, nick));
}

std::string handover(const RoomKeys& previous, std::string_view room, std::string_view cookie,
                     std::string_view next) {
  return signed_field(kHandoverPrefix, previous,
                      join_statement("udpchat room handover 1", room, cookie, next));
}

std::optional<JoinProof> parse_handover(std::string_view field) noexcept {
  return parse_signed(kHandoverPrefix, field);
}

bool check_handover(const JoinProof& handover, std::string_view room, std::string_view cookie,
                    std::string_view next) {
  return check_signed(handover, join_statement("udpchat room handover 1", room, cookie, next));
}

}  // namespace udpchat::protocol::room_key
