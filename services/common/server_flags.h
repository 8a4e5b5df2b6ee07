// Command-line flags shared by every service's main() for its gRPC server
// (services/common/server.h):
//   --max_concurrent_calls  calls in progress admitted at once; beyond it
//                           calls are refused at once with RESOURCE_EXHAUSTED
//                           and a retry hint (0: no limit). Default 256: the
//                           record service's durable writes gain little
//                           throughput past 64 calls in progress while their
//                           latency grows with the queue (docs/benchmarks.md,
//                           "Overload"), so 4x that knee.
//   --overload_retry_after_ms  the retry hint of those refusals (default 50).
#ifndef LIFELONG_SERVICES_COMMON_SERVER_FLAGS_H_
#define LIFELONG_SERVICES_COMMON_SERVER_FLAGS_H_

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "services/common/server.h"

ABSL_DECLARE_FLAG(int, max_concurrent_calls);
ABSL_DECLARE_FLAG(int, overload_retry_after_ms);

namespace lifelong {

inline constexpr int kDefaultMaxConcurrentCalls = 256;

// Copies the flags into `options`; call after setting options->max_pollers.
// A limit below max_pollers is raised to it (gRPC needs a thread per
// poller). INVALID_ARGUMENT, naming the flag, for a negative limit or a
// retry hint below 1 ms.
absl::Status ApplyServerFlags(GrpcServerOptions* options);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_SERVER_FLAGS_H_
