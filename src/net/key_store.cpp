#include "net/key_store.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#ifndef _WIN32
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "protocol/sealed.hpp"

namespace udpchat::net {

namespace fs = std::filesystem;
namespace noise = protocol::noise;

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string{} : std::string(value);
}

// The base directory of a kind (state or config), per platform, with udpchat's folder in it.
std::string user_dir(const char* xdg, const char* fallback) {
#ifdef _WIN32
  (void)xdg;
  (void)fallback;
  const std::string local = env("LOCALAPPDATA");
  return local.empty() ? std::string{} : (fs::path(local) / "udpchat").string();
#else
  if (const std::string dir = env(xdg); !dir.empty()) return (fs::path(dir) / "udpchat").string();
  const std::string home = env("HOME");
  if (home.empty()) return {};
  return (fs::path(home) / fallback / "udpchat").string();
#endif
}

bool make_parent(const std::string& path, std::string& error) {
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return true;
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) {
    error = "cannot create " + parent.string() + ": " + ec.message();
    return false;
  }
  return true;
}

// Created only if it does not exist, readable by its owner alone from the first byte.
bool write_secret_file(const std::string& path, const std::string& content, std::string& error) {
#ifdef _WIN32
  if (fs::exists(path)) {
    error = path + " appeared while it was being created";
    return false;
  }
  std::ofstream out(path, std::ios::binary);
  out << content;
  out.close();
  if (!out) {
    error = "cannot write " + path;
    return false;
  }
  return true;
#else
  // Written whole under a name of its own, then linked into place: a relay starting beside
  // this one reads a complete key or none, and one of the two keys wins.
  const std::string temporary = path + ".new." + std::to_string(::getpid());
  // A stale or planted file of that name is not written through (nor a link followed).
  ::unlink(temporary.c_str());
  const int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot create " + temporary + ": " + std::generic_category().message(errno);
    return false;
  }
  const bool ok =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  const bool linked = ok && ::link(temporary.c_str(), path.c_str()) == 0;
  const int link_errno = errno;
  ::unlink(temporary.c_str());
  if (!linked) {
    error = "cannot write " + path + (ok ? ": " + std::generic_category().message(link_errno) : "");
    return false;
  }
  return true;
#endif
}

}  // namespace

std::string default_key_path() {
  if (const std::string state = env("STATE_DIRECTORY"); !state.empty()) {
    // systemd may list several, separated by colons: the first is the unit's own.
    return (fs::path(state.substr(0, state.find(':'))) / "relay.key").string();
  }
  const std::string dir = user_dir("XDG_STATE_HOME", ".local/state");
  return dir.empty() ? std::string{} : (fs::path(dir) / "relay.key").string();
}

std::string default_known_servers_path() {
  const std::string dir = user_dir("XDG_CONFIG_HOME", ".config");
  return dir.empty() ? std::string{} : (fs::path(dir) / "known_servers").string();
}

namespace {

enum class Read { ok, missing, failed };

Read read_key(const std::string& path, std::optional<noise::KeyPair>& keys, std::string& error) {
  if (!fs::exists(path)) return Read::missing;
  std::optional<std::string> text = read_secret(path, error);
  if (!text) return Read::failed;
  std::istringstream in(*text);
  std::fill(text->begin(), text->end(), '\0');
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    noise::PublicKey secret{};
    if (!protocol::sealed::parse_key(line, secret)) break;
    keys = noise::KeyPair::from_secret(secret);
    std::fill(secret.begin(), secret.end(), std::uint8_t{0});
    std::fill(line.begin(), line.end(), '\0');
    return Read::ok;
  }
  error = path + " holds no udpchat key (a line of 43 characters of URL-safe base64)";
  return Read::failed;
}

}  // namespace

std::optional<std::string> read_secret(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path;
    return std::nullopt;
  }
#ifndef _WIN32
  // As ssh refuses a private key others can read: a key anyone may have copied is no secret.
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && (info.st_mode & 077) != 0) {
    error = fmt::format("{} can be read by others (mode {:04o}): chmod 600 {}", path,
                        info.st_mode & 07777, path);
    return std::nullopt;
  }
#endif
  constexpr std::size_t kMostBytes = 64 * 1024;  // a key is one line; a big file is not one
  std::string text(kMostBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMostBytes) {
    error = path + " is too big to hold a key";
    return std::nullopt;
  }
  return text;
}

bool write_secret(const std::string& path, const std::string& content, std::string& error) {
  if (!make_parent(path, error)) return false;
  if (fs::exists(path)) {
    error = path + " exists already: not written over (a key others hold would be lost)";
    return false;
  }
  return write_secret_file(path, content, error);
}

std::optional<noise::KeyPair> load_or_create_key(const std::string& path, bool& created,
                                                 std::string& error) {
  created = false;
  std::optional<noise::KeyPair> keys;
  const Read read = read_key(path, keys, error);
  if (read == Read::ok) return keys;
  if (read == Read::failed) return std::nullopt;
  if (!make_parent(path, error)) return std::nullopt;
  keys = noise::KeyPair::generate();
  std::string content =
      "# udpchat relay key: secret. Its public half (udpchat serve --show-key): " +
      protocol::sealed::format_key(keys->public_key) + "\n" +
      protocol::sealed::format_key(
          std::span<const std::uint8_t, 32>(keys->secret.data(), noise::kKeyBytes)) +
      "\n";
  const bool written = write_secret_file(path, content, error);
  std::fill(content.begin(), content.end(), '\0');
  if (written) {
    created = true;
    return keys;
  }
  // Another relay starting beside this one created it first: that key is the one.
  keys.reset();
  std::string again;
  if (fs::exists(path) && read_key(path, keys, again) == Read::ok) return keys;
  return std::nullopt;
}

std::optional<std::string> pinned_key(const std::string& path, std::string_view server) {
  std::ifstream in(path);
  std::string line;
  while (in && std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    std::string key;
    if (fields >> name >> key && name.front() != '#' && name == server) return key;
  }
  return std::nullopt;
}

bool pin_key(const std::string& path, std::string_view server, std::string_view key,
             std::string& error) {
  if (!make_parent(path, error)) return false;
  std::ofstream out(path, std::ios::app);
  out << server << ' ' << key << '\n';
  out.close();
  if (!out) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace udpchat::net
