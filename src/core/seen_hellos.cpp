#include "core/seen_hellos.hpp"

#include <sodium.h>

namespace udpchat::core {

SeenHellos::SeenHellos()
    : keys_(0, [] {
        Hash hash;
        if (sodium_init() >= 0) randombytes_buf(hash.key.data(), hash.key.size());
        return hash;
      }()) {}

std::size_t SeenHellos::Hash::operator()(const Ephemeral& ephemeral) const noexcept {
  std::uint64_t h = 0;
  static_assert(crypto_shorthash_BYTES == sizeof h && crypto_shorthash_KEYBYTES == 16);
  crypto_shorthash(reinterpret_cast<unsigned char*>(&h), ephemeral.data(), ephemeral.size(),
                   key.data());
  return static_cast<std::size_t>(h);
}

void SeenHellos::forget_before(TimePoint now) {
  while (!order_.empty() && now - order_.front().at > kKeep) {
    keys_.erase(order_.front().key);
    order_.pop_front();
  }
}

bool SeenHellos::seen(const Ephemeral& ephemeral, TimePoint now) {
  forget_before(now);
  return keys_.contains(ephemeral);
}

void SeenHellos::remember(const Ephemeral& ephemeral, TimePoint now) {
  forget_before(now);
  if (!keys_.insert(ephemeral).second) return;
  order_.push_back(Entry{now, ephemeral});
  if (order_.size() > kCapacity) {
    keys_.erase(order_.front().key);
    order_.pop_front();
  }
}

}  // namespace udpchat::core
