// Standard input as a stream of lines for a coroutine, without ever blocking the io_context.
// A blocking std::getline runs on its own thread and hands each line over; this works the same
// on every platform (a stream descriptor on fd 0 would leave O_NONBLOCK set on a terminal shared
// with the shell, and Windows consoles and pipes have no such descriptor).
#pragma once

#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/asio_compat.hpp"
#include "net/terminal.hpp"

namespace udpchat::net {

class LineSource {
 public:
  // Lines come from `terminal` when given (interactive editing), else from `in`.
  LineSource(const asio::any_io_executor& executor, std::istream& in, Terminal* terminal = nullptr);
  // These lines, then the end of input (chat -m).
  LineSource(const asio::any_io_executor& executor, std::vector<std::string> lines);
  // Stops handing lines over. A reader still blocked in getline is left to the process exit:
  // no portable call interrupts a blocking read, and it touches nothing but shared state.
  ~LineSource();
  LineSource(const LineSource&) = delete;
  LineSource& operator=(const LineSource&) = delete;

  // The next line without its line ending; nullopt at end of input.
  awaitable<std::optional<std::string>> next();
  // Lines read ahead and not taken yet, empty ones left out: what a sudden end leaves unsent.
  std::size_t unread() const;
  // Those lines, taken: the client names them when it stops before sending them.
  std::vector<std::string> take_unread();
  // next() returns the end of input from now on, at once if a call is waiting: the client
  // stopped taking lines. Call on the io_context's thread.
  void stop_reading();

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<asio::steady_timer> wake_;
};

}  // namespace udpchat::net
