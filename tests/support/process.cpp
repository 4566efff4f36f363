#include "support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace udpchat::test {

namespace {

std::filesystem::path make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "udpchat-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Process::Process(std::vector<std::string> args, const std::string& input) : dir_(make_temp_dir()) {
  const auto in_path = dir_ / "stdin";
  std::ofstream(in_path, std::ios::binary) << input;
  const int fd = ::open(in_path.c_str(), O_RDONLY);
  spawn(UDPCHAT_BINARY, std::move(args), fd);
  ::close(fd);
}

Process::Process(Program program, std::vector<std::string> args) : dir_(make_temp_dir()) {
  const int fd = ::open("/dev/null", O_RDONLY);
  spawn(std::move(program.path), std::move(args), fd);
  ::close(fd);
}

Process::Process(std::vector<std::string> args, InputPipe) : dir_(make_temp_dir()) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  ::fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  spawn(UDPCHAT_BINARY, std::move(args), fds[0]);
  ::close(fds[0]);
  input_ = fds[1];
}

Process::Process(std::vector<std::string> args, const std::string& input, OutputPipe)
    : dir_(make_temp_dir()) {
  const auto in_path = dir_ / "stdin";
  std::ofstream(in_path, std::ios::binary) << input;
  const int fd = ::open(in_path.c_str(), O_RDONLY);
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  ::fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  spawn(UDPCHAT_BINARY, std::move(args), fd, fds[1]);
  ::close(fd);
  ::close(fds[1]);
  output_ = fds[0];
}

namespace {

// The relay's key and the clients' pins of every process a test starts live in a folder of
// the tests' own, not in the home of whoever runs them: one key for all test relays (created by
// the first); pins per test process, since test ports come and go (a pin left by another
// test's relay would rightly refuse an original-protocol server given the same port later).
void use_test_home() {
  static const bool done = [] {
    const auto home = std::filesystem::temp_directory_path() / "udpchat-test-home";
    static const auto pins = home / ("config-" + std::to_string(::getpid()));
    ::setenv("XDG_STATE_HOME", (home / "state").c_str(), 1);
    ::setenv("XDG_CONFIG_HOME", pins.c_str(), 1);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(pins, ignored);
    });
    ::unsetenv("STATE_DIRECTORY");
    return true;
  }();
  (void)done;
}

}  // namespace

void Process::spawn(std::string program, std::vector<std::string> args, int input_fd,
                    int output_fd) {
  ::signal(SIGPIPE, SIG_IGN);  // a child that has exited must not kill the test writing to it
  args.insert(args.begin(), std::move(program));
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  use_test_home();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, input_fd, 0);
  if (output_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, output_fd, 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, (dir_ / "stdout").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
  }
  posix_spawn_file_actions_addopen(&actions, 2, (dir_ / "stderr").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
}

void Process::write_input(const std::string& text) {
  if (input_ < 0) throw std::logic_error("stdin is not a pipe");
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(input_, text.data() + done, text.size() - done);
    if (n <= 0) throw std::runtime_error("write to stdin failed");
    done += static_cast<std::size_t>(n);
  }
}

void Process::close_input() {
  if (input_ >= 0) ::close(input_);
  input_ = -1;
}

bool Process::wait_for_output(const std::string& needle, std::chrono::milliseconds timeout) const {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (out().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return out().find(needle) != std::string::npos;
}

std::filesystem::path scratch_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("udpchat-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::size_t count_in(std::string_view text, std::string_view needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

long logged_number(std::string_view log, std::string_view key) {
  const std::string field = " " + std::string(key) + "=";
  const auto at = log.rfind(field);
  if (at == std::string_view::npos) return -1;
  return std::stol(std::string(log.substr(at + field.size(), 20)));
}

long resident_kib(const Process& process) {
  std::ifstream status("/proc/" + std::to_string(process.pid()) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  }
  return -1;
}

bool Process::wait_for_log(std::string_view needle, std::size_t count,
                           std::chrono::milliseconds timeout) const {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (count_in(err(), needle) >= count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return count_in(err(), needle) >= count;
}

Process::~Process() {
  close_input();
  if (output_ >= 0) ::close(output_);
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void Process::signal(int number) {
  if (!exit_code_) ::kill(pid_, number);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!exit_code_) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return exit_code_;
}

std::string Process::out() const {
  if (output_ < 0) return read_file(dir_ / "stdout");
  char buffer[65536];
  ssize_t n = 0;
  while ((n = ::read(output_, buffer, sizeof buffer)) > 0)
    piped_out_.append(buffer, static_cast<std::size_t>(n));
  return piped_out_;
}
std::string Process::err() const {
  return read_file(dir_ / "stderr");
}

Result run_udpchat(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  Process process(std::move(args));
  const auto code = process.wait(timeout);
  return Result{code.value_or(-1), process.out(), process.err()};
}

Server::Server(std::vector<std::string> extra, std::string bind) : bind_(std::move(bind)) {
  const auto port_file = make_temp_dir() / "port";
  std::vector<std::string> args = {"serve", "--bind", bind_, "--port-file", port_file.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  process_ = std::make_unique<Process>(std::move(args));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    const std::string text = read_file(port_file);
    if (!text.empty() && text.back() == '\n') {
      port_ = static_cast<std::uint16_t>(std::stoi(text));
      std::filesystem::remove_all(port_file.parent_path());
      return;
    }
    if (process_->wait(std::chrono::milliseconds(5))) break;
  }
  throw std::runtime_error("serve did not start: " + process_->err());
}

std::string Server::address() const {
  const bool v6 = bind_.front() == '[';
  return (v6 ? "[::1]:" : "127.0.0.1:") + std::to_string(port_);
}

}  // namespace udpchat::test
