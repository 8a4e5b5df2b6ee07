// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-28T10:00:00.123Z","level":"info","svc":"records",
//    "event":"listening","port":7001}
// Thread-safe. Lines of one thread appear in the order that thread wrote
// them, and a line is never interleaved with another.
//
// Two ways of writing, chosen once per process with ConfigureLogging():
//   - synchronous (the default until ConfigureLogging is called: tests and
//     tools): each line is written with its own write(2) before Log returns;
//   - asynchronous (the services' default, flag --log_async): an access-log
//     line (LogRpc) is appended to a bounded in-memory queue and a writer
//     thread writes what has gathered in one write(2) per batch (at most
//     every kLogBatchDelay, or as soon as kLogBatchBytes are waiting): the
//     call never waits for the disk or the pipe behind stderr. Event lines
//     (Log, LogInfo, ...: rare, and someone may be waiting for one, e.g. a
//     "serving" line) go through the same queue, after the lines before
//     them, but Log returns only once its line is written. When the queue is
//     full the line is dropped and counted (LogStatistics().dropped_lines,
//     exported as lifelong_log_lines_dropped_total): the access log's
//     ordinary lines (OK and fast) may fill three quarters of the queue, the
//     rest is kept for error and slow calls and for every other line.
//     Queued lines are written at process exit (an atexit handler, after
//     main returns or exit() is called) and by FlushLogs(); a crash or
//     _exit() loses at most the last batch (kLogBatchDelay of lines).
//
// The access log (one line per gRPC call, interceptors.h) can also be
// sampled: JudgeAccessLog() says whether a call's line is written.
#ifndef LIFELONG_SERVICES_COMMON_LOG_H_
#define LIFELONG_SERVICES_COMMON_LOG_H_

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace lifelong {

// The asynchronous writer's batching: it writes when this many bytes are
// waiting, or this long after the first line of a batch was queued.
inline constexpr size_t kLogBatchBytes = 64 * 1024;
inline constexpr absl::Duration kLogBatchDelay = absl::Milliseconds(20);

struct LogConfig {
  // Asynchronous writer thread (see above) instead of one write(2) per line.
  bool async = false;
  // Asynchronous only: bytes of lines the queue holds before it drops lines.
  // At least 4 KiB.
  size_t queue_bytes = 4 << 20;
  // Access log: write one line of every `access_sample` calls that end OK
  // within `access_slow_ms` (1: every call; 0: none of them). Calls that end
  // with any other code, or that take `access_slow_ms` or longer, are always
  // written. Sampling counts calls per thread.
  int access_sample = 1;
  double access_slow_ms = 250;
  // Rotation of the log file, when stderr is one (a service started with
  // `2>>FILE`, as ops/stack.sh and ops/cluster.sh start them; a pipe, socket
  // or terminal is left alone): once `rotate_bytes` have gone into FILE (its
  // size at configuration counts), FILE becomes FILE.1, FILE.1 becomes
  // FILE.2, ... up to FILE.<rotate_keep> (the oldest beyond it is dropped),
  // and a new FILE (mode 0600) takes over stderr, and stdout when that was
  // the same file. A file may pass `rotate_bytes` by one write (an
  // asynchronous batch: at most kLogBatchBytes). 0: never rotated.
  int64_t rotate_bytes = 0;
  int rotate_keep = 4;
};

// Applies `config` to every later line of the process: starts the writer
// thread when `async` and none runs yet; switching to synchronous first
// writes what is queued. INVALID_ARGUMENT, naming the field, for
// queue_bytes < 4096, access_sample < 0, access_slow_ms < 0, rotate_bytes
// < 0 or rotate_keep outside 1..100 (nothing is changed then).
absl::Status ConfigureLogging(const LogConfig& config);

// Blocks until every line queued before the call has been handed to
// write(2) (or dropped on a write error). Returns at once in synchronous mode.
void FlushLogs();

struct LogStats {
  uint64_t written_lines = 0;  // handed to write(2) successfully
  uint64_t rotations = 0;      // times the log file was rotated
  uint64_t dropped_lines = 0;  // queue full, or write(2) failed
  uint64_t sampled_out = 0;    // access-log lines not written by sampling
};
// Totals since the process started (both modes).
LogStats LogStatistics();

// Sets the "svc" field of every later line.
void SetLogService(const std::string& service);

// Writes one line with `level`, `event` and the members of `fields` (an object).
void Log(const char* level, const std::string& event, const nlohmann::json& fields = nlohmann::json::object());

// What becomes of the access-log line of a call that ended `ok` (status OK)
// after `duration_ms`, under the configured sampling: errors and slow calls
// are always written (kWriteImportant), other calls one in access_sample
// (kWrite; the others kSkip, counted as sampled out). Call once per call,
// before building the line.
enum class AccessLogVerdict { kSkip, kWrite, kWriteImportant };
AccessLogVerdict JudgeAccessLog(bool ok, double duration_ms);

// The access log's line for one call ("event":"rpc", level info), the same
// JSON object as LogInfo("rpc", {...}) would write (keys in the same order),
// formatted directly instead of through nlohmann::json: it is written for
// every call, and building the JSON objects was the largest part of the
// access log's cost (docs/benchmarks.md, issue 16). `important` (an error or
// slow call) lets the line use the part of the queue kept for such lines.
// Does not sample: callers ask JudgeAccessLog first.
void LogRpc(std::string_view method, std::string_view code, double duration_ms, std::string_view request_id,
            std::string_view peer, bool important = true);

// `text` as a JSON string literal, quotes included, as the log lines write
// strings: '"', '\\', \n, \r and \t escaped as such; every other byte below
// 0x20 and every byte from 0x80 up (valid UTF-8 included: it is not decoded)
// escaped on its own as \u00XX, so the literal is plain ASCII.
std::string JsonQuote(std::string_view text);
// The same, appended to `out`.
void AppendJsonQuoted(std::string* out, std::string_view text);

inline void LogInfo(const std::string& event, const nlohmann::json& fields = nlohmann::json::object()) {
  Log("info", event, fields);
}
inline void LogWarn(const std::string& event, const nlohmann::json& fields = nlohmann::json::object()) {
  Log("warn", event, fields);
}
inline void LogError(const std::string& event, const nlohmann::json& fields = nlohmann::json::object()) {
  Log("error", event, fields);
}

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_LOG_H_
