#include "core/cookie.hpp"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

namespace udpchat::core {

namespace {

constexpr std::size_t kStampBytes = 8;
constexpr std::size_t kMacBytes = 16;
constexpr std::size_t kTokenBytes = kStampBytes + kMacBytes;
constexpr int kBase64 = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

void compute_mac(unsigned char* mac, const unsigned char* stamp, const Peer& peer,
                 const unsigned char* key) {
  unsigned char input[kStampBytes + 16 + 2];
  std::memcpy(input, stamp, kStampBytes);
  std::memcpy(input + kStampBytes, peer.address.data(), 16);
  input[kStampBytes + 16] = static_cast<unsigned char>(peer.port >> 8);
  input[kStampBytes + 17] = static_cast<unsigned char>(peer.port & 0xFF);
  crypto_generichash(mac, kMacBytes, input, sizeof input, key, 32);
}

}  // namespace

CookieJar::CookieJar(TimePoint now) : epoch_(now) {
  if (sodium_init() < 0) std::abort();  // no usable randomness: nothing is safe to run
  randombytes_buf(secret_.data(), secret_.size());
  current_ = derive(0);
  previous_ = derive(-1);
}

CookieJar::CookieJar(TimePoint epoch, const Secret& secret) : epoch_(epoch), secret_(secret) {
  if (sodium_init() < 0) std::abort();
  current_ = derive(0);
  previous_ = derive(-1);
}

// Each generation's key is a keyed hash of its number: nothing but the secret to share, and a
// key from two generations ago cannot be recomputed without it.
CookieJar::Key CookieJar::derive(std::int64_t generation) const {
  Key key{};
  unsigned char number[8];
  for (int i = 0; i < 8; ++i) {
    number[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(generation) >> (8 * (7 - i)));
  }
  crypto_generichash(key.data(), key.size(), number, sizeof number, secret_.data(), secret_.size());
  return key;
}

void CookieJar::rotate_keys(TimePoint now) {
  const auto generation = (now - epoch_) / kRotation;
  if (generation <= generation_) return;
  current_ = derive(generation);
  previous_ = derive(generation - 1);
  generation_ = generation;
}

std::uint64_t CookieJar::millis_since_epoch(TimePoint now) const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - epoch_).count();
  return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}

std::string CookieJar::issue(const Peer& peer, TimePoint now) {
  rotate_keys(now);
  unsigned char raw[kTokenBytes];
  const std::uint64_t stamp = millis_since_epoch(now);
  for (std::size_t i = 0; i < kStampBytes; ++i) {
    raw[i] = static_cast<unsigned char>(stamp >> (8 * (kStampBytes - 1 - i)));
  }
  compute_mac(raw + kStampBytes, raw, peer, current_.data());
  char text[sodium_base64_ENCODED_LEN(kTokenBytes, kBase64)];
  sodium_bin2base64(text, sizeof text, raw, sizeof raw, kBase64);
  return std::string(text);
}

bool CookieJar::verify(std::string_view token, const Peer& peer, TimePoint now) {
  rotate_keys(now);
  unsigned char raw[kTokenBytes];
  std::size_t length = 0;
  if (token.size() != sodium_base64_ENCODED_LEN(kTokenBytes, kBase64) - 1 ||
      sodium_base642bin(raw, sizeof raw, token.data(), token.size(), nullptr, &length, nullptr,
                        kBase64) != 0 ||
      length != kTokenBytes) {
    return false;
  }
  std::uint64_t stamp = 0;
  for (std::size_t i = 0; i < kStampBytes; ++i) stamp = (stamp << 8) | raw[i];
  const std::uint64_t now_ms = millis_since_epoch(now);
  const auto lifetime_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(kLifetime).count());
  if (stamp > now_ms || now_ms - stamp > lifetime_ms) return false;

  unsigned char expected[kMacBytes];
  compute_mac(expected, raw, peer, current_.data());
  // Both keys are always checked so that timing does not tell which one matched.
  const bool current_ok = crypto_verify_16(expected, raw + kStampBytes) == 0;
  compute_mac(expected, raw, peer, previous_.data());
  const bool previous_ok = crypto_verify_16(expected, raw + kStampBytes) == 0;
  return current_ok | previous_ok;
}

}  // namespace udpchat::core
