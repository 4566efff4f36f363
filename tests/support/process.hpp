// Runs the built udpchat binary as a child process (POSIX), with its output captured in files.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace udpchat::test {

class Process {
 public:
  // Runs udpchat with `args`; stdin holds `input`.
  explicit Process(std::vector<std::string> args, const std::string& input = {});
  // Runs udpchat with stdin on a pipe that the test writes to and closes.
  struct InputPipe {};
  Process(std::vector<std::string> args, InputPipe);
  // Runs udpchat with stdin holding `input` and stdout on a pipe that nobody reads until out()
  // is first called: a reader that has stopped reading.
  struct OutputPipe {};
  Process(std::vector<std::string> args, const std::string& input, OutputPipe);
  // Runs another program (a nats-server the test starts, say); stdin is empty.
  struct Program {
    std::string path;
  };
  Process(Program program, std::vector<std::string> args);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void signal(int number);
  pid_t pid() const noexcept { return pid_; }
  // The exit code (128 + signal if killed), or nullopt if still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::string out() const;
  std::string err() const;
  void write_input(const std::string& text);
  void close_input();
  // Polls stdout until it holds `needle`.
  bool wait_for_output(const std::string& needle,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // Polls stderr (the log) until it holds `needle` `count` times.
  bool wait_for_log(std::string_view needle, std::size_t count = 1,
                    std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

 private:
  void spawn(std::string program, std::vector<std::string> args, int input_fd, int output_fd = -1);

  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int input_ = -1;
  int output_ = -1;                // OutputPipe: the read end
  mutable std::string piped_out_;  // what has been read from it
  std::optional<int> exit_code_;
};

// A fresh, empty folder of this test process's own, named after `name` (key files, pins).
std::filesystem::path scratch_dir(const std::string& name);

// How many times `needle` stands in `text`.
std::size_t count_in(std::string_view text, std::string_view needle);

// The number in the last ` key=N` of a log (the totals line at exit, say); -1 when absent.
long logged_number(std::string_view log, std::string_view key);

// The process's resident memory in KiB (Linux: /proc), or -1.
long resident_kib(const Process& process);

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs udpchat to completion (killed after `timeout`).
Result run_udpchat(std::vector<std::string> args,
                   std::chrono::milliseconds timeout = std::chrono::seconds(20));

// `udpchat serve --bind <bind> --port-file ...` plus `extra`, started and listening.
class Server {
 public:
  explicit Server(std::vector<std::string> extra = {}, std::string bind = "127.0.0.1:0");
  std::uint16_t port() const { return port_; }
  std::string address() const;
  Process& process() { return *process_; }

 private:
  std::string bind_;
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
};

}  // namespace udpchat::test
