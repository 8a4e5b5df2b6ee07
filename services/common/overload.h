// Overload refusals: what a caller sees when a server is at its limit of
// calls in progress (GrpcServerOptions::max_concurrent_calls, server.h).
//
// The limit itself is gRPC's sync-server thread quota
// (grpc::ResourceQuota::SetMaxThreads): when every handler thread is busy,
// the one thread left polling answers new calls at once with
// RESOURCE_EXHAUSTED — without running the handler — instead of letting them
// queue. gRPC sends that refusal as "Server Threadpool Exhausted" (or, in
// other versions, an empty message); the interceptor here
// rewrites it (on the way out, PRE_SEND_STATUS) to
//   RESOURCE_EXHAUSTED "server overloaded: every handler thread is busy
//   (limit of calls in progress reached); retry after 50 ms"
// plus the trailer `grpc-retry-pushback-ms: 50`, which gRPC clients with a
// retry policy honour. A RESOURCE_EXHAUSTED that a handler returns with its
// own message (oversized batch, per-principal limits) is left as it is.
// Calls refused this way never reach the handler.
//
// Thread-safety: everything here may be called from any thread.
#ifndef LIFELONG_SERVICES_COMMON_OVERLOAD_H_
#define LIFELONG_SERVICES_COMMON_OVERLOAD_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>

namespace lifelong {

inline constexpr char kRetryPushbackTrailer[] = "grpc-retry-pushback-ms";

// Sets the retry hint of every overload refusal in this process (default
// 50 ms; values below 1 are taken as 1). StartGrpcServer sets it from
// GrpcServerOptions::overload_retry_after_ms.
void SetOverloadRetryAfterMs(int ms);
int OverloadRetryAfterMs();

// The message of an overload refusal with a retry hint of `retry_after_ms`.
std::string OverloadRefusalMessage(int retry_after_ms);

// True for the refusal gRPC itself sends when its thread quota is spent
// (RESOURCE_EXHAUSTED, "Server Threadpool Exhausted" or an empty message).
bool IsThreadQuotaRefusal(const grpc::Status& status);

// The interceptor that turns gRPC's bare thread-quota refusal into the
// documented message and trailer. StartGrpcServer installs it; so does
// InstallServerObservability (interceptors.h), next to its own.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeOverloadRefusalInterceptorFactory();

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_OVERLOAD_H_
