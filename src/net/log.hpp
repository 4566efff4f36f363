// Event log on stderr: one line per event, as text or as JSON lines.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace udpchat::net {

enum class LogFormat { text, json };

// Now, in UTC with milliseconds (2026-11-26T22:59:07.123Z): log lines and JSON events.
std::string utc_timestamp();
// The same for a time in milliseconds since the Unix epoch.
std::string utc_timestamp(std::int64_t unix_ms);

class Logger {
 public:
  Logger(LogFormat format, bool quiet) : format_(format), quiet_(quiet) {}

  // Routine events (joins, leaves, expiries); --quiet silences them.
  void info(std::string_view event,
            const nlohmann::ordered_json& fields = nlohmann::ordered_json::object()) const;
  // Conditions an operator must see whatever --quiet says.
  void warn(std::string_view event,
            const nlohmann::ordered_json& fields = nlohmann::ordered_json::object()) const;

 private:
  void write(std::string_view level, std::string_view event,
             const nlohmann::ordered_json& fields) const;

  LogFormat format_;
  bool quiet_;
};

}  // namespace udpchat::net
