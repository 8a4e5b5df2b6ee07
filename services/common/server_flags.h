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
//   --grpc_memory_quota_mb  memory gRPC may hold for connections and calls
//                           (GrpcServerOptions::memory_quota_bytes; default
//                           1024 MiB; 0: no bound): requests are read before
//                           authentication, so without it anonymous clients
//                           holding requests short of their end grew the
//                           process without limit (docs/security.md).
//   --grpc_max_connection_idle_seconds  a connection with no call in progress
//                           this long is closed (default 300; 0: never);
//                           gRPC clients reconnect on their next call. Idle
//                           connections, anonymous, otherwise held a file
//                           descriptor each until the client left.
//   --grpc_handshake_timeout_seconds  a connection that has not finished its
//                           TLS and HTTP/2 handshake this long is closed
//                           (default 20; gRPC's own is 120).
// and the process's logging (services/common/log.h, docs/observability.md):
//   --log_async             log lines are queued and written in batches by a
//                           writer thread (default true); false: one write(2)
//                           per line on the logging thread.
//   --log_queue_kib         the queue's size (default 4096 KiB); lines that do
//                           not fit are dropped and counted
//                           (lifelong_log_lines_dropped_total).
//   --access_log_sample     write the access-log line of one in N calls that
//                           end OK and fast (default 1: every call; 0: none).
//   --access_log_slow_ms    calls this slow or slower are always logged, as
//                           are calls ending with any code but OK (default 250).
//   --log_rotate_mb         when stderr is a file (ops/stack.sh and
//                           ops/cluster.sh start services with 2>>FILE): past
//                           this many MiB, FILE becomes FILE.1 and a new FILE
//                           is started (default 256; 0: never). Every call is
//                           access-logged by default and error lines are never
//                           sampled, so without it the file grew without end
//                           (anonymous refused calls included) until the disk
//                           was full.
//   --log_keep              rotated files kept, FILE.1 .. FILE.N (default 4).

#ifndef LIFELONG_SERVICES_COMMON_SERVER_FLAGS_H_
#define LIFELONG_SERVICES_COMMON_SERVER_FLAGS_H_

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/log.h"
#include "services/common/server.h"

ABSL_DECLARE_FLAG(int, max_concurrent_calls);
ABSL_DECLARE_FLAG(int, overload_retry_after_ms);
ABSL_DECLARE_FLAG(int, grpc_memory_quota_mb);
ABSL_DECLARE_FLAG(int, grpc_max_connection_idle_seconds);
ABSL_DECLARE_FLAG(int, grpc_handshake_timeout_seconds);
ABSL_DECLARE_FLAG(bool, log_async);
ABSL_DECLARE_FLAG(int, log_queue_kib);
ABSL_DECLARE_FLAG(int, access_log_sample);
ABSL_DECLARE_FLAG(double, access_log_slow_ms);
ABSL_DECLARE_FLAG(int, log_rotate_mb);
ABSL_DECLARE_FLAG(int, log_keep);

namespace lifelong {

inline constexpr int kDefaultMaxConcurrentCalls = 256;
// 64 records requests of the largest size (16 MiB), and room for the rest.
inline constexpr int kDefaultGrpcMemoryQuotaMb = 1024;
// Five minutes: a kiosk's or gateway's channel between bursts of calls stays
// open; a connection nobody uses goes.
inline constexpr int kDefaultGrpcMaxConnectionIdleSeconds = 300;
// A kiosk on a slow link finishes a TLS handshake in well under a second.
inline constexpr int kDefaultGrpcHandshakeTimeoutSeconds = 20;

// Copies the flags into `options`; call after setting options->max_pollers.
// A limit below max_pollers is raised to it (gRPC needs a thread per
// poller). Also applies the log flags (ApplyLogFlags). INVALID_ARGUMENT,
// naming the flag, for a negative limit, a retry hint below 1 ms, a
// connection timeout out of range, or a bad log flag (nothing is applied
// then).
absl::Status ApplyServerFlags(GrpcServerOptions* options);

// The log flags as a LogConfig; INVALID_ARGUMENT naming the flag for a queue
// below 4 KiB, a negative sample, slow threshold or rotation size, or a
// count of kept files outside 1..100.
absl::StatusOr<LogConfig> LogConfigFromFlags();
// ConfigureLogging(LogConfigFromFlags()).
absl::Status ApplyLogFlags();

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_SERVER_FLAGS_H_
