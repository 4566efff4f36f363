#include "net/log.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace udpchat::net {

std::string utc_timestamp() {
  return utc_timestamp(std::chrono::floor<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
}

std::string utc_timestamp(std::int64_t unix_ms) {
  // fmt 9 prints whole seconds for a time point: the milliseconds are written apart.
  const std::chrono::sys_time<std::chrono::milliseconds> at{std::chrono::milliseconds(unix_ms)};
  const auto seconds = std::chrono::floor<std::chrono::seconds>(at);
  return fmt::format("{:%FT%H:%M:%S}.{:03}Z", seconds, (at - seconds).count());
}

void Logger::info(std::string_view event, const nlohmann::ordered_json& fields) const {
  if (!quiet_) write("info", event, fields);
}

void Logger::warn(std::string_view event, const nlohmann::ordered_json& fields) const {
  write("warn", event, fields);
}

void Logger::write(std::string_view level, std::string_view event,
                   const nlohmann::ordered_json& fields) const {
  const std::string time = utc_timestamp();
  std::string line;
  if (format_ == LogFormat::json) {
    nlohmann::ordered_json object = {{"time", time}, {"level", level}, {"event", event}};
    for (const auto& [key, value] : fields.items()) object[key] = value;
    line = object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  } else {
    line = fmt::format("{} {}", time, event);
    for (const auto& [key, value] : fields.items()) {
      const std::string text =
          value.is_string()
              ? value.get<std::string>()
              : value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
      line += fmt::format(" {}={}", key, text);
    }
  }
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace udpchat::net
