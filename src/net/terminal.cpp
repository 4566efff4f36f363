#include "net/terminal.hpp"

#include <cstdio>

#ifdef UDPCHAT_HAVE_LIBEDIT
#include <poll.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <editline/readline.h>
#endif

namespace udpchat::net {

#ifdef UDPCHAT_HAVE_LIBEDIT

namespace {
constexpr const char* kPrompt = "> ";
}  // namespace

// libedit keeps its state in globals and calls back a plain function: one terminal at a time.
struct Terminal::Impl : std::enable_shared_from_this<Terminal::Impl> {
  asio::any_io_executor executor;
  LineHandler handler;
  std::mutex mutex;
  std::condition_variable consumed;
  bool busy = false;  // a read is posted and not yet done; the watcher must not post another
  bool stopped = false;
  bool ended = false;
  std::thread watcher;

  static inline Impl* active = nullptr;

  static void on_line(char* text) {
    if (active == nullptr) return;
    if (text == nullptr) {
      active->ended = true;
      active->handler(std::nullopt);
      return;
    }
    std::string line(text);
    std::free(text);
    active->handler(std::move(line));
    // libedit leaves unbuffered mode before calling back and does not return to it (the next
    // read would block for a whole line); installing again resets the buffer and the prompt.
    rl_callback_handler_install(kPrompt, &on_line);
  }

  // Waits on its own thread until stdin is readable and lets the io_context's thread read it,
  // so that libedit only ever runs on that thread.
  void watch() {
    pollfd fd{STDIN_FILENO, POLLIN, 0};
    while (true) {
      {
        std::unique_lock lock(mutex);
        consumed.wait(lock, [&] { return !busy || stopped; });
        if (stopped || ended) return;
      }
      fd.revents = 0;
      if (::poll(&fd, 1, 100) <= 0) continue;
      std::lock_guard lock(mutex);
      if (stopped) return;
      busy = true;
      asio::post(executor, [self = shared_from_this()] {
        if (!self->stopped) rl_callback_read_char();
        std::lock_guard done(self->mutex);
        self->busy = false;
        self->consumed.notify_all();
      });
    }
  }
};

bool Terminal::available() { return ::isatty(STDIN_FILENO) == 1 && ::isatty(STDOUT_FILENO) == 1; }

Terminal::Terminal(const asio::any_io_executor& executor) : impl_(std::make_shared<Impl>()) {
  impl_->executor = executor;
}

Terminal::~Terminal() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopped = true;
    impl_->consumed.notify_all();
  }
  // The watcher wakes from poll() within 100 ms and sees `stopped`.
  if (impl_->watcher.joinable()) impl_->watcher.join();
  if (Impl::active == impl_.get()) {
    rl_callback_handler_remove();
    Impl::active = nullptr;
    std::fputs("\n", stdout);
    std::fflush(stdout);
  }
}

void Terminal::start(LineHandler handler) {
  impl_->handler = std::move(handler);
  Impl::active = impl_.get();
  rl_callback_handler_install(kPrompt, &Impl::on_line);
  impl_->watcher = std::thread([impl = impl_] { impl->watch(); });
}

void Terminal::print_above(std::string_view line) {
  if (Impl::active != impl_.get() || impl_->ended) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputs("\n", stdout);
    std::fflush(stdout);
    return;
  }
  // Carriage return and erase-line wipe the prompt and partial input; libedit redraws both.
  std::fputs("\r\x1b[2K", stdout);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputs("\n", stdout);
  std::fflush(stdout);
  rl_forced_update_display();
}

#else  // no libedit: plain line mode everywhere

struct Terminal::Impl {};

bool Terminal::available() { return false; }
Terminal::Terminal(const asio::any_io_executor&) : impl_(std::make_shared<Impl>()) {}
Terminal::~Terminal() = default;
void Terminal::start(LineHandler) {}
void Terminal::print_above(std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputs("\n", stdout);
  std::fflush(stdout);
}

#endif

}  // namespace udpchat::net
