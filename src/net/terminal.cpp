#include "net/terminal.hpp"

#include <algorithm>
#include <cstdio>

#ifdef _WIN32
#include <io.h>
#else
#include <unistd.h>
#endif

#ifdef UDPCHAT_HAVE_LIBEDIT
#include <editline/readline.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <cwchar>
#include <mutex>
#include <string>
#include <thread>
#endif

namespace udpchat::net {

bool Terminal::input_is_terminal() {
#ifdef _WIN32
  return ::_isatty(::_fileno(stdin)) != 0;
#else
  return ::isatty(STDIN_FILENO) == 1;
#endif
}

bool Terminal::error_is_terminal() {
#ifdef _WIN32
  return ::_isatty(::_fileno(stderr)) != 0;
#else
  return ::isatty(STDERR_FILENO) == 1;
#endif
}

#ifdef UDPCHAT_HAVE_LIBEDIT

namespace {
constexpr const char* kPrompt = "> ";

// Screen columns `text` takes: two for a CJK character, none for a combining mark (wcwidth, under
// the UTF-8 locale chat sets); a byte that does not decode takes one, as the editor shows it.
int columns(std::string_view text) {
  std::mbstate_t state{};
  int width = 0;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    wchar_t wide = 0;
    const std::size_t length = std::mbrtowc(&wide, p, static_cast<std::size_t>(end - p), &state);
    if (length == static_cast<std::size_t>(-1) || length == static_cast<std::size_t>(-2)) {
      state = {};
      ++width;
      ++p;
      continue;
    }
    const int cells = ::wcwidth(wide);
    width += cells < 0 ? 2 : cells;  // a control character shows as ^X
    p += length == 0 ? 1 : length;
  }
  return width;
}

int screen_columns() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return 80;
  return size.ws_col;
}
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

bool Terminal::available() {
  return ::isatty(STDIN_FILENO) == 1 && ::isatty(STDOUT_FILENO) == 1;
}

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
  // Up to the prompt's first row (a long or wide line wraps; width counts columns, not bytes),
  // then erase to the end of the screen; libedit redraws the prompt and the partial input below.
  std::string before_cursor(kPrompt);
  if (rl_line_buffer != nullptr)
    before_cursor.append(rl_line_buffer, static_cast<std::size_t>(std::max(rl_point, 0)));
  const int rows_up = columns(before_cursor) / screen_columns();
  if (rows_up > 0) std::fprintf(stdout, "\x1b[%dA", rows_up);
  std::fputs("\r\x1b[J", stdout);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputs("\n", stdout);
  std::fflush(stdout);
  rl_forced_update_display();
}

#else  // no libedit: plain line mode everywhere

struct Terminal::Impl {};

bool Terminal::available() {
  return false;
}
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
