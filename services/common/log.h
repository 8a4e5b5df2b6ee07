// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-28T10:00:00.123Z","level":"info","svc":"records",
//    "event":"listening","port":7001}
// Thread-safe; each line is written with a single write(2).
#ifndef LIFELONG_SERVICES_COMMON_LOG_H_
#define LIFELONG_SERVICES_COMMON_LOG_H_

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace lifelong {

// Sets the "svc" field of every later line.
void SetLogService(const std::string& service);

// Writes one line with `level`, `event` and the members of `fields` (an object).
void Log(const char* level, const std::string& event,
         const nlohmann::json& fields = nlohmann::json::object());

// The access log's line for one call ("event":"rpc", level info), the same
// JSON object as LogInfo("rpc", {...}) would write (keys in the same order),
// formatted directly instead of through nlohmann::json: it is written for
// every call, and building the JSON objects was the largest part of the
// access log's cost (docs/benchmarks.md, issue 16).
void LogRpc(std::string_view method, std::string_view code, double duration_ms, std::string_view request_id,
            std::string_view peer);

// `text` as a JSON string literal, quotes included (control characters and
// invalid UTF-8 bytes escaped as \u00XX), as the log lines write strings.
std::string JsonQuote(std::string_view text);

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
