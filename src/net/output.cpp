#include "net/output.hpp"

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>

#ifdef _WIN32
#include <io.h>
#else
#include <unistd.h>
#endif

namespace udpchat::net {

namespace {

// The descriptor itself, not the FILE: a writer blocked on a reader that stopped holds no
// stdio lock that the exit, or the last error line, would wait for.
void write_all(std::FILE* stream, std::string_view text) {
#ifdef _WIN32
  const int fd = ::_fileno(stream);
#else
  const int fd = ::fileno(stream);
#endif
  while (!text.empty()) {
#ifdef _WIN32
    const int n = ::_write(fd, text.data(), static_cast<unsigned>(text.size()));
#else
    const ssize_t n = ::write(fd, text.data(), text.size());
#endif
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the reader is gone: nothing more can be shown
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

struct OutputQueue::Shared {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::pair<std::FILE*, std::string>> chunks;
  std::size_t backlog = 0;  // bytes in chunks, and in the chunk being written
  std::uint64_t written = 0;
  bool writing = false;
  bool stopped = false;
  std::size_t high = 0;
  std::size_t low = 0;
  bool above = false;             // the backlog passed `high` since it was last at `low`
  std::function<void()> drained;  // posted to the io_context; cleared on stop
  asio::any_io_executor executor;

  void run() {
    std::unique_lock lock(mutex);
    while (true) {
      changed.wait(lock, [&] { return stopped || !chunks.empty(); });
      if (stopped) return;
      auto [stream, text] = std::move(chunks.front());
      chunks.pop_front();
      writing = true;
      lock.unlock();
      // The only place that blocks on a slow reader.
      write_all(stream, text);
      lock.lock();
      writing = false;
      backlog -= text.size();
      written += text.size();
      if (above && backlog <= low && drained) {
        above = false;
        asio::post(executor, drained);
      }
      changed.notify_all();
    }
  }
};

OutputQueue::OutputQueue(const asio::any_io_executor& executor)
    : shared_(std::make_shared<Shared>()) {
  shared_->executor = executor;
  // Detached: a writer blocked for good on a reader that never reads must not hold up the exit.
  std::thread([shared = shared_] { shared->run(); }).detach();
}

OutputQueue::~OutputQueue() {
  std::lock_guard lock(shared_->mutex);
  shared_->stopped = true;
  shared_->drained = nullptr;
  shared_->changed.notify_all();
}

void OutputQueue::write(std::FILE* stream, std::string text) {
  std::lock_guard lock(shared_->mutex);
  shared_->backlog += text.size();
  if (shared_->high > 0 && shared_->backlog > shared_->high) shared_->above = true;
  shared_->chunks.emplace_back(stream, std::move(text));
  shared_->changed.notify_all();
}

std::size_t OutputQueue::backlog() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->backlog;
}

void OutputQueue::watch(std::size_t high, std::size_t low, std::function<void()> drained) {
  std::lock_guard lock(shared_->mutex);
  shared_->high = high;
  shared_->low = low;
  shared_->drained = std::move(drained);
}

bool OutputQueue::flush(std::chrono::milliseconds patience) {
  std::unique_lock lock(shared_->mutex);
  while (shared_->backlog > 0) {
    const std::uint64_t before = shared_->written;
    shared_->changed.wait_for(lock, patience,
                              [&] { return shared_->backlog == 0 || shared_->written != before; });
    if (shared_->backlog > 0 && shared_->written == before) return false;
  }
  return true;
}

}  // namespace udpchat::net
