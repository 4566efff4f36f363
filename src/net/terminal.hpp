// The interactive terminal: line editing through libedit's callback interface, and printing
// incoming lines above the line being typed without garbling it. Only used when stdin and stdout
// are both terminals and libedit is available (POSIX); otherwise chat runs in plain line mode.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "net/asio_compat.hpp"

namespace udpchat::net {

class Terminal {
 public:
  using LineHandler = std::function<void(std::optional<std::string>)>;

  // True when stdin and stdout are terminals and this build has libedit.
  static bool available();
  // True when a person types standard input (whether or not lines can be edited).
  static bool input_is_terminal();
  // True when standard error is a terminal: progress lines are for a person watching.
  static bool error_is_terminal();

  explicit Terminal(const asio::any_io_executor& executor);
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Starts editing; each finished line, then nullopt at end of input (Ctrl-D), goes to `handler`
  // on the io_context's thread.
  void start(LineHandler handler);

  // Prints `line` above the prompt and redraws the prompt and the partial input.
  void print_above(std::string_view line);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace udpchat::net
