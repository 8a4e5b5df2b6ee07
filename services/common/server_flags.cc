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
ABSL_FLAG(bool, log_async, true,
          "queue log lines for a writer thread that writes them in batches (false: one write(2) per line on the "
          "logging thread)");
ABSL_FLAG(int, log_queue_kib, 4096, "size of the asynchronous log's queue; lines beyond it are dropped and counted");
ABSL_FLAG(int, access_log_sample, 1,
          "write the access-log line of one in N calls that end OK and fast (1: every call, 0: none)");
ABSL_FLAG(double, access_log_slow_ms, 250,
          "calls taking this long or longer are always access-logged, like calls ending with an error");

namespace lifelong {

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
  absl::StatusOr<LogConfig> log = LogConfigFromFlags();
  if (!log.ok()) return log.status();
  if (absl::Status s = ConfigureLogging(*log); !s.ok()) return s;
  options->max_concurrent_calls = limit == 0 ? 0 : std::max(limit, options->max_pollers);
  options->overload_retry_after_ms = retry_ms;
  options->memory_quota_bytes = int64_t{quota_mb} << 20;
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
  return config;
}

absl::Status ApplyLogFlags() {
  absl::StatusOr<LogConfig> config = LogConfigFromFlags();
  if (!config.ok()) return config.status();
  return ConfigureLogging(*config);
}

}  // namespace lifelong
