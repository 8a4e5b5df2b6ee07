// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-28T10:00:00.123Z","level":"info","svc":"records",
//    "event":"listening","port":7001}
// Thread-safe; each line is written with a single write(2).
#ifndef LIFELONG_SERVICES_COMMON_LOG_H_
#define LIFELONG_SERVICES_COMMON_LOG_H_

#include <nlohmann/json.hpp>

#include <string>

namespace lifelong {

// Sets the "svc" field of every later line.
void SetLogService(const std::string& service);

// Writes one line with `level`, `event` and the members of `fields` (an object).
void Log(const char* level, const std::string& event,
         const nlohmann::json& fields = nlohmann::json::object());

inline void LogInfo(const std::string& event,
                    const nlohmann::json& fields = nlohmann::json::object()) {
  Log("info", event, fields);
}
inline void LogWarn(const std::string& event,
                    const nlohmann::json& fields = nlohmann::json::object()) {
  Log("warn", event, fields);
}
inline void LogError(const std::string& event,
                     const nlohmann::json& fields = nlohmann::json::object()) {
  Log("error", event, fields);
}

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_LOG_H_
