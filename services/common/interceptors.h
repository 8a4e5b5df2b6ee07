// gRPC interceptors for observability.
//
// Server side, for every RPC (health and reflection calls included):
//   lifelong_grpc_requests_total{service,method,code}        counter
//   lifelong_grpc_request_duration_seconds{service,method}   histogram
//   lifelong_grpc_requests_in_flight{service,method}          gauge
// where service is the fully qualified gRPC service
// ("lifelong.v1.LearningRecordService"), method the bare method name
// ("RecordStatement") and code the status name ("OK", "NOT_FOUND", ...).
// The duration runs from the moment gRPC hands the call to the server until
// its status is sent. A call answered after its deadline is counted as
// DEADLINE_EXCEEDED whatever the handler returned (a call the client
// cancelled explicitly keeps the handler's code). The interceptor also
//   - takes the request id from the `x-request-id` metadata, or makes a new
//     one when it is absent or invalid (request_context.h), makes it the
//     current request id of the handler's thread while the handler runs
//     (sync API: the handler runs on the thread that runs the interceptor),
//     and echoes it in the response's initial metadata;
//   - writes one access log line per RPC through log.h:
//     {"event":"rpc","method":"/pkg.Svc/Method","code":"OK",
//      "duration_ms":1.25,"request_id":"...","peer":"ipv4:127.0.0.1:5555"}
//     (health checks and reflection are counted but not logged by default).
//     Errors (any code but OK) and slow calls are always logged; other calls
//     may be sampled, and lines are queued for a writer thread when the
//     process configured asynchronous logging (log.h, ConfigureLogging);
//     the log's counters are registered with the RPC metrics:
//       lifelong_log_lines_written_total, lifelong_log_lines_dropped_total,
//       lifelong_access_log_sampled_out_total.
//
// Client side, the request-id interceptor copies the current request id of
// the thread that creates the call onto the call's metadata, so a handler's
// outgoing calls carry the id of the call it serves.
//
// Wiring: StartGrpcServer (server.h) builds its own ServerBuilder, so the
// interceptors are installed process-wide with InstallServerObservability()
// before the server starts; code that owns a ServerBuilder may instead pass
// MakeServerInterceptorFactories() to builder.experimental()
// .SetInterceptorCreators().
//
// Thread-safety: everything here may be called from any thread.
#ifndef LIFELONG_SERVICES_COMMON_INTERCEPTORS_H_
#define LIFELONG_SERVICES_COMMON_INTERCEPTORS_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/server_interceptor.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/metrics.h"

namespace lifelong {

struct RpcObservabilityOptions {
  // Where the RPC metrics go (not owned; must outlive every server built with
  // these options). Null means metrics::DefaultRegistry().
  metrics::MetricsRegistry* registry = nullptr;
  std::vector<double> latency_buckets = metrics::DefaultLatencyBuckets();
  bool access_log = true;
  // Methods whose full name starts with one of these are not access-logged
  // (they are still counted).
  std::vector<std::string> quiet_method_prefixes = {"/grpc.health.v1.Health/", "/grpc.reflection."};
  // Receives each access log line's fields; empty means LogInfo("rpc", ...).
  std::function<void(const nlohmann::json&)> access_log_sink;
};

// The server interceptor factories to hand to a ServerBuilder. INVALID_ARGUMENT
// or ALREADY_EXISTS when the metric families cannot be registered (bad
// buckets, or the names are taken with another definition).
absl::StatusOr<std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>>
MakeServerInterceptorFactories(RpcObservabilityOptions options);

// Makes every grpc::ServerBuilder whose BuildAndStart() runs after this call
// (in this process) install the server interceptors with `options`,
// replacing interceptor creators set on the builder. Call in main() before
// starting servers; a later call replaces the options for servers built
// after it. Errors as MakeServerInterceptorFactories.
absl::Status InstallServerObservability(RpcObservabilityOptions options);

// A client interceptor factory that adds the current request id (if any, and
// if the call does not already carry one) as `x-request-id`.
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeRequestIdClientInterceptorFactory();

// Registers the request-id client interceptor for every channel of the
// process (gRPC's global client interceptor), for services whose channels
// are created in code that cannot take MakeRequestIdClientInterceptorFactory.
// Call once in main() before any call is made; later calls do nothing.
void InstallGlobalRequestIdPropagation();

// grpc::CreateCustomChannel with the request-id client interceptor.
std::shared_ptr<grpc::Channel> CreateChannelWithRequestId(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& args = grpc::ChannelArguments());

// For calls on channels made elsewhere: adds the current request id (if any)
// to `context` as `x-request-id`. Call once per ClientContext, before the
// call starts.
void AttachRequestId(grpc::ClientContext* context);

// "OK", "CANCELLED", ..., "UNAUTHENTICATED"; "UNKNOWN" for out-of-range codes.
const char* StatusCodeName(grpc::StatusCode code);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_INTERCEPTORS_H_
