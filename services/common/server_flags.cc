#include "services/common/server_flags.h"

#include <algorithm>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(int, max_concurrent_calls, lifelong::kDefaultMaxConcurrentCalls,
          "gRPC calls in progress admitted at once; more are refused at once with RESOURCE_EXHAUSTED and a "
          "retry hint (0: no limit, calls queue)");
ABSL_FLAG(int, overload_retry_after_ms, 50, "retry hint (ms) of calls refused for overload");

namespace lifelong {

absl::Status ApplyServerFlags(GrpcServerOptions* options) {
  const int limit = absl::GetFlag(FLAGS_max_concurrent_calls);
  if (limit < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_concurrent_calls: ", limit, " is negative (0: no limit)"));
  }
  const int retry_ms = absl::GetFlag(FLAGS_overload_retry_after_ms);
  if (retry_ms < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--overload_retry_after_ms: ", retry_ms, " is below 1"));
  }
  options->max_concurrent_calls = limit == 0 ? 0 : std::max(limit, options->max_pollers);
  options->overload_retry_after_ms = retry_ms;
  return absl::OkStatus();
}

}  // namespace lifelong
