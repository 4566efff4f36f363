// Standard output and error written by a thread of their own, so that a reader that stops
// reading (a full pipe) blocks that thread and never the io_context: the chat session keeps its
// heartbeats and its seat. The caller watches the backlog and holds what it shows meanwhile.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "net/asio_compat.hpp"

namespace udpchat::net {

class OutputQueue {
 public:
  explicit OutputQueue(const asio::any_io_executor& executor);
  // Stops the writer; what it could not write by then is dropped (flush() first).
  ~OutputQueue();
  OutputQueue(const OutputQueue&) = delete;
  OutputQueue& operator=(const OutputQueue&) = delete;

  // Queues `text` for `stream` (stdout or stderr), after everything queued before, for either.
  void write(std::FILE* stream, std::string text);
  // Bytes queued and not yet written.
  std::size_t backlog() const;
  // `drained` runs on the io_context's thread each time the backlog, having passed `high`, is
  // back to `low` or less.
  void watch(std::size_t high, std::size_t low, std::function<void()> drained);
  // Blocks until everything is written, or until nothing was for `patience` (a reader that has
  // stopped for good). True when everything was written.
  bool flush(std::chrono::milliseconds patience);

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace udpchat::net
