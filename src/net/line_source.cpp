#include "net/line_source.hpp"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace udpchat::net {

namespace {
// Lines read ahead of the chat loop; the reader waits beyond this, so memory stays bounded
// however fast a pipe delivers.
constexpr std::size_t kReadAhead = 256;
}  // namespace

struct LineSource::Shared {
  std::mutex mutex;
  std::condition_variable space;
  std::deque<std::string> lines;
  bool end_of_input = false;
  bool stopped = false;
  bool interrupted = false;      // stop_reading(): no more lines are handed over
  std::function<void()> notify;  // cleared on stop, so the reader never touches a dead executor
};

LineSource::LineSource(const asio::any_io_executor& executor, std::istream& in, Terminal* terminal)
    : shared_(std::make_shared<Shared>()), wake_(std::make_shared<asio::steady_timer>(executor)) {
  shared_->notify = [executor, wake = std::weak_ptr<asio::steady_timer>(wake_)] {
    asio::post(executor, [wake] {
      if (auto timer = wake.lock()) timer->cancel();
    });
  };
  if (terminal != nullptr) {
    // The terminal calls back on the io_context's thread: no read-ahead bound is needed for
    // what a person types.
    terminal->start([shared = shared_](std::optional<std::string> line) {
      std::lock_guard lock(shared->mutex);
      if (line) {
        shared->lines.push_back(std::move(*line));
      } else {
        shared->end_of_input = true;
      }
      if (shared->notify) shared->notify();
    });
    return;
  }
  std::thread([shared = shared_, &in] {
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::unique_lock lock(shared->mutex);
      shared->space.wait(lock,
                         [&] { return shared->lines.size() < kReadAhead || shared->stopped; });
      if (shared->stopped) return;
      shared->lines.push_back(std::move(line));
      shared->notify();
    }
    std::lock_guard lock(shared->mutex);
    shared->end_of_input = true;
    if (!shared->stopped) shared->notify();
  }).detach();
}

LineSource::LineSource(const asio::any_io_executor& executor, std::vector<std::string> lines)
    : shared_(std::make_shared<Shared>()), wake_(std::make_shared<asio::steady_timer>(executor)) {
  shared_->lines.assign(std::make_move_iterator(lines.begin()),
                        std::make_move_iterator(lines.end()));
  shared_->end_of_input = true;
}

LineSource::~LineSource() {
  std::lock_guard lock(shared_->mutex);
  shared_->stopped = true;
  shared_->notify = nullptr;
  shared_->space.notify_all();
}

std::size_t LineSource::unread() const {
  std::lock_guard lock(shared_->mutex);
  std::size_t count = 0;
  for (const auto& line : shared_->lines) count += line.empty() ? 0 : 1;
  return count;
}

std::vector<std::string> LineSource::take_unread() {
  std::lock_guard lock(shared_->mutex);
  std::vector<std::string> taken;
  for (auto& line : shared_->lines) {
    if (!line.empty()) taken.push_back(std::move(line));
  }
  shared_->lines.clear();
  shared_->space.notify_one();
  return taken;
}

void LineSource::stop_reading() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->interrupted = true;
  }
  wake_->cancel();
}

awaitable<std::optional<std::string>> LineSource::next() {
  while (true) {
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->interrupted) co_return std::nullopt;
      if (!shared_->lines.empty()) {
        std::string line = std::move(shared_->lines.front());
        shared_->lines.pop_front();
        shared_->space.notify_one();
        co_return line;
      }
      if (shared_->end_of_input) co_return std::nullopt;
    }
    // The reader cancels this wait (through the io_context) after each line it hands over.
    wake_->expires_at(asio::steady_timer::time_point::max());
    co_await wake_->async_wait(use_nothrow);
  }
}

}  // namespace udpchat::net
