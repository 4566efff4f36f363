// Values handed from any thread to one io_context's thread: put() appends under a lock and
// wakes the receiving thread once for all that waits; there `drain` takes what waits in one go
// (or `per_turn` at most, the rest on the next turn, so that a flood does not starve that
// thread's other work). An inbox may be bounded: what does not fit is dropped and counted.
// What every hand-over between threads goes through (the shards' lines, the engine's).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "net/asio_compat.hpp"

namespace udpchat::net {

template <class T>
class Inbox {
 public:
  // `recovered`: the inbox had dropped and is empty again (said once per episode).
  using Drain = std::function<void(std::vector<T>& items, bool recovered)>;

  struct Limits {
    std::size_t items = std::numeric_limits<std::size_t>::max();
    std::size_t bytes = std::numeric_limits<std::size_t>::max();
    std::size_t per_turn = std::numeric_limits<std::size_t>::max();
  };

  enum class Offer : std::uint8_t { queued, dropped, first_dropped };

  // The inbox must outlive the io_context's handlers (it is woken by posting to it).
  Inbox(asio::any_io_executor executor, Drain drain, Limits limits = {})
      : executor_(std::move(executor)), drain_(std::move(drain)), limits_(limits) {}
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Unbounded: for lines the node has taken already (another shard's).
  void put(std::span<const T> items) {
    if (items.empty()) return;
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      for (const T& item : items) items_.push_back({item, 0});
      wake = !std::exchange(posted_, true);
    }
    if (wake) post_drain();
  }

  void put(T item) {
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      items_.push_back({std::move(item), 0});
      wake = !std::exchange(posted_, true);
    }
    if (wake) post_drain();
  }

  // Bounded by the limits: `bytes` is what the item counts against Limits::bytes.
  Offer offer(T item, std::size_t bytes) {
    bool wake = false;
    Offer result = Offer::queued;
    {
      std::lock_guard lock(mutex_);
      if (items_.size() >= limits_.items || bytes_ + bytes > limits_.bytes) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        result = dropping_ ? Offer::dropped : Offer::first_dropped;
        dropping_ = true;
      } else {
        items_.push_back({std::move(item), bytes});
        bytes_ += bytes;
        wake = !std::exchange(posted_, true);
      }
    }
    if (wake) post_drain();
    return result;
  }

  // On the receiving thread: takes what waits now (a turn's worth), and asks for another turn
  // when more waits. Also what a last drain before stopping calls.
  void drain_now() {
    bool more = false;
    bool recovered = false;
    {
      std::lock_guard lock(mutex_);
      while (!items_.empty() && taken_.size() < limits_.per_turn) {
        bytes_ -= items_.front().bytes;
        taken_.push_back(std::move(items_.front().item));
        items_.pop_front();
      }
      more = !items_.empty();
      posted_ = more;
      if (!more && dropping_) {
        dropping_ = false;
        recovered = true;
      }
    }
    if (!taken_.empty() || recovered) drain_(taken_, recovered);
    taken_.clear();
    if (more) post_drain();
  }

  // Everything that waits, in turns: for the end, when nothing else runs on the thread.
  void drain_all() {
    while (size() > 0) drain_now();
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    T item;
    std::size_t bytes;
  };

  void post_drain() {
    asio::post(executor_, [this] { drain_now(); });
  }

  asio::any_io_executor executor_;
  Drain drain_;
  const Limits limits_;
  mutable std::mutex mutex_;
  std::deque<Entry> items_;
  std::size_t bytes_ = 0;
  bool posted_ = false;
  bool dropping_ = false;  // said once until the inbox is empty again
  std::atomic<std::uint64_t> dropped_{0};
  std::vector<T> taken_;  // only the receiving thread touches it
};

}  // namespace udpchat::net
