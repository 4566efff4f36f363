// Values handed from any thread to one io_context's thread: put() appends under a lock and
// wakes the receiving thread once for all that waits; there `drain` takes everything in one
// go. What every hand-over between threads goes through (shards, the backplane's callbacks).
#pragma once

#include <functional>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "net/asio_compat.hpp"

namespace udpchat::net {

template <class T>
class Inbox {
 public:
  using Drain = std::function<void(std::vector<T>&)>;

  // The inbox must outlive the io_context's handlers (it is woken by posting to it).
  Inbox(asio::any_io_executor executor, Drain drain)
      : executor_(std::move(executor)), drain_(std::move(drain)) {}
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  void put(std::span<const T> items) {
    if (items.empty()) return;
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      items_.insert(items_.end(), items.begin(), items.end());
      wake = !posted_;
      posted_ = true;
    }
    if (wake) asio::post(executor_, [this] { drain_now(); });
  }

  void put(T item) {
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(item));
      wake = !posted_;
      posted_ = true;
    }
    if (wake) asio::post(executor_, [this] { drain_now(); });
  }

  // On the receiving thread: takes what waits now (also what a last drain before stopping does).
  void drain_now() {
    {
      std::lock_guard lock(mutex_);
      taken_.swap(items_);
      posted_ = false;
    }
    if (!taken_.empty()) drain_(taken_);
    taken_.clear();
  }

  // Items waiting, for figures.
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

 private:
  asio::any_io_executor executor_;
  Drain drain_;
  mutable std::mutex mutex_;
  std::vector<T> items_;
  std::vector<T> taken_;  // only the receiving thread touches it
  bool posted_ = false;
};

}  // namespace udpchat::net
