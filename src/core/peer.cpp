#include "core/peer.hpp"

#include <sodium.h>

#include <cstring>

namespace udpchat::core {

namespace {

struct HashKey {
  unsigned char bytes[crypto_shorthash_KEYBYTES];
  HashKey() {
    if (sodium_init() < 0) std::abort();
    crypto_shorthash_keygen(bytes);
  }
};

}  // namespace

bool Peer::is_v4_mapped() const noexcept {
  static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  return std::memcmp(address.data(), kPrefix, sizeof kPrefix) == 0;
}

Peer Peer::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d,
              std::uint16_t port) noexcept {
  Peer peer;
  peer.address[10] = 0xFF;
  peer.address[11] = 0xFF;
  peer.address[12] = a;
  peer.address[13] = b;
  peer.address[14] = c;
  peer.address[15] = d;
  peer.port = port;
  return peer;
}

std::size_t PeerHash::operator()(const Peer& peer) const noexcept {
  static const HashKey key;
  unsigned char input[18];
  std::memcpy(input, peer.address.data(), 16);
  input[16] = static_cast<unsigned char>(peer.port >> 8);
  input[17] = static_cast<unsigned char>(peer.port & 0xFF);
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, input, sizeof input, key.bytes);
  std::size_t hash = 0;
  std::memcpy(&hash, out, sizeof hash);
  return hash;
}

}  // namespace udpchat::core
