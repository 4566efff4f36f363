#include "core/seen_hellos.hpp"

namespace udpchat::core {

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

bool SeenHellos::remember(const Ephemeral& ephemeral, TimePoint now) {
  forget_before(now);
  if (order_.size() >= kCapacity) return false;
  if (keys_.insert(ephemeral).second) order_.push_back(Entry{now, ephemeral});
  return true;
}

}  // namespace udpchat::core
