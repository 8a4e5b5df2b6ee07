#include "services/common/server_flags.h"

#include <algorithm>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(int, max_concurrent_calls, lifelong::kDefaultMaxConcurrentCalls,
          "gRPC calls in progress admitted at once; more are refused at once with RESOURCE_EXHAUSTED and a "
          "retry hint (0: no limit, calls queue)");
ABSL_FLAG(int, overload_retry_after_ms, 50, "retry hint (ms) of calls refused for overload");
ABSL_FLAG(int, grpc_memory_quota_mb, lifelong::kDefaultGrpcMemoryQuotaMb,
          "MiB of memory gRPC may hold for the server's connections and calls (request bytes are read before "
          "authentication); past it gRPC shrinks its windows and closes connections (0: no bound)");
ABSL_FLAG(int, grpc_max_connection_idle_seconds, lifelong::kDefaultGrpcMaxConnectionIdleSeconds,
          "close a client's connection after this many seconds with no call in progress; clients reconnect on their "
          "next call (0: never)");
ABSL_FLAG(int, grpc_handshake_timeout_seconds, lifelong::kDefaultGrpcHandshakeTimeoutSeconds,
          "close a new connection that has not finished its TLS and HTTP/2 handshake within this many seconds");
ABSL_FLAG(bool, log_async, true,
          "queue log lines for a writer thread that writes them in batches (false: one write(2) per line on the "
          "logging thread)");
ABSL_FLAG(int, log_queue_kib, 4096, "size of the asynchronous log's queue; lines beyond it are dropped and counted");
ABSL_FLAG(int, access_log_sample, 1,
          "write the access-log line of one in N calls that end OK and fast (1: every call, 0: none)");
ABSL_FLAG(int, log_rotate_mb, 256,
          "when stderr is a file (2>>FILE): past this many MiB it becomes FILE.1 (FILE.1 becomes FILE.2, ...) and a "
          "new FILE is started (0: never)");
ABSL_FLAG(int, log_keep, 4, "rotated log files kept (FILE.1 .. FILE.N; 1..100)");
ABSL_FLAG(double, access_log_slow_ms, 250,
          "calls taking this long or longer are always access-logged, like calls ending with an error");

namespace lifelong {
namespace {
// A day: the largest connection timeout accepted (and far from int overflow in ms).
constexpr int kMaxTimeoutSeconds = 86400;
}  // namespace

absl::Status ApplyServerFlags(GrpcServerOptions* options) {
  const int limit = absl::GetFlag(FLAGS_max_concurrent_calls);
  if (limit < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--max_concurrent_calls: ", limit, " is negative (0: no limit)"));
  }
  const int retry_ms = absl::GetFlag(FLAGS_overload_retry_after_ms);
  if (retry_ms < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--overload_retry_after_ms: ", retry_ms, " is below 1"));
  }
  const int quota_mb = absl::GetFlag(FLAGS_grpc_memory_quota_mb);
  if (quota_mb < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--grpc_memory_quota_mb: ", quota_mb, " is negative (0: no bound)"));
  }
  const int idle_s = absl::GetFlag(FLAGS_grpc_max_connection_idle_seconds);
  if (idle_s < 0 || idle_s > kMaxTimeoutSeconds) {
    return absl::InvalidArgumentError(absl::StrCat("--grpc_max_connection_idle_seconds: ", idle_s, " is outside 0..",
                                                   kMaxTimeoutSeconds, " (0: never)"));
  }
  const int handshake_s = absl::GetFlag(FLAGS_grpc_handshake_timeout_seconds);
  if (handshake_s < 1 || handshake_s > kMaxTimeoutSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("--grpc_handshake_timeout_seconds: ", handshake_s, " is outside 1..", kMaxTimeoutSeconds));
  }
  absl::StatusOr<LogConfig> log = LogConfigFromFlags();
  if (!log.ok()) return log.status();
  if (absl::Status s = ConfigureLogging(*log); !s.ok()) return s;
  options->max_concurrent_calls = limit == 0 ? 0 : std::max(limit, options->max_pollers);
  options->overload_retry_after_ms = retry_ms;
  options->memory_quota_bytes = int64_t{quota_mb} << 20;
  options->max_connection_idle_ms = idle_s * 1000;
  options->handshake_timeout_ms = handshake_s * 1000;
  return absl::OkStatus();
}

absl::StatusOr<LogConfig> LogConfigFromFlags() {
  LogConfig config;
  config.async = absl::GetFlag(FLAGS_log_async);
  const int kib = absl::GetFlag(FLAGS_log_queue_kib);
  if (kib < 4) return absl::InvalidArgumentError(absl::StrCat("--log_queue_kib: ", kib, " is below 4"));
  config.queue_bytes = static_cast<size_t>(kib) * 1024;
  config.access_sample = absl::GetFlag(FLAGS_access_log_sample);
  if (config.access_sample < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--access_log_sample: ", config.access_sample, " is negative (1: every call, 0: none)"));
  }
  config.access_slow_ms = absl::GetFlag(FLAGS_access_log_slow_ms);
  if (!(config.access_slow_ms >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--access_log_slow_ms: ", config.access_slow_ms, " is negative"));
  }
  const int rotate_mb = absl::GetFlag(FLAGS_log_rotate_mb);
  if (rotate_mb < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--log_rotate_mb: ", rotate_mb, " is negative (0: never)"));
  }
  config.rotate_bytes = int64_t{rotate_mb} << 20;
  config.rotate_keep = absl::GetFlag(FLAGS_log_keep);
  if (config.rotate_keep < 1 || config.rotate_keep > 100) {
    return absl::InvalidArgumentError(absl::StrCat("--log_keep: ", config.rotate_keep, " is outside 1..100"));
  }
  return config;
}

absl::Status ApplyLogFlags() {
  absl::StatusOr<LogConfig> config = LogConfigFromFlags();
  if (!config.ok()) return config.status();
  return ConfigureLogging(*config);
}

}  // namespace lifelong
