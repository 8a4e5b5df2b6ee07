// Shared gRPC server plumbing for every service's main(): standard health
// checking, server reflection, message size limits, and graceful shutdown on
// SIGTERM/SIGINT.
#ifndef LIFELONG_SERVICES_COMMON_SERVER_H_
#define LIFELONG_SERVICES_COMMON_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lifelong {

struct GrpcServerOptions {
  // "host:port"; port 0 picks a free port (tests).
  std::string address = "127.0.0.1:0";
  // Largest request accepted; larger ones fail with RESOURCE_EXHAUSTED.
  int max_receive_bytes = 64 << 20;
  // Sync-server polling threads: bounds the concurrency of blocking handlers.
  int min_pollers = 1;
  int max_pollers = 4;
  // Most calls of the sync services in progress at once (handlers running);
  // 0: no limit (a thread per call, as many as arrive). When the limit is
  // reached, further calls are refused at once with RESOURCE_EXHAUSTED, a
  // retry hint in the message and a `grpc-retry-pushback-ms` trailer
  // (overload.h), instead of queueing: admitted calls keep their latency
  // under 10x overload (docs/benchmarks.md, "Overload"). Implemented with
  // gRPC's thread quota (grpc::ResourceQuota::SetMaxThreads(limit + 1): one
  // thread keeps polling and refusing). Health checks (callback API) are not
  // counted. Must be at least max_pollers when set.
  int max_concurrent_calls = 0;
  // Memory gRPC may hold for the server's connections and calls (its
  // grpc::ResourceQuota; read buffers first of all); 0: no bound. Request
  // bytes are read before any handler runs, so before authentication: an
  // anonymous client opening many connections, each with a request short of
  // its end (up to max_receive_bytes), held that much memory each, for as
  // long as it liked. Past the bound gRPC shrinks its flow-control windows
  // and closes connections to get memory back (docs/security.md "gRPC
  // clients that send slowly").
  int64_t memory_quota_bytes = 0;
  // A connection with no call in progress for this long is closed (an HTTP/2
  // GOAWAY, then the socket); 0: never. gRPC clients reconnect on their next
  // call. Streams in progress (exports, change-feed watchers) keep their
  // connection open. Without it an idle connection, anonymous, held its file
  // descriptor and memory until the client closed it.
  int max_connection_idle_ms = 0;
  // A new connection that has not finished its handshake (TLS, then the
  // HTTP/2 preface and SETTINGS) within this long is closed; 0: gRPC's own
  // default (120 s).
  int handshake_timeout_ms = 0;
  // The retry hint of overload refusals (process-wide, see overload.h).
  int overload_retry_after_ms = 50;
  // Fully qualified names of the hosted services (e.g.
  // "lifelong.v1.LearningRecordService"), reported by the health service next
  // to the overall status "".
  std::vector<std::string> health_service_names;
  // How the port is secured: insecure when null (the default), else e.g.
  // ServerCredentialsFor(tls) from services/common/grpc_tls.h.
  std::shared_ptr<grpc::ServerCredentials> credentials;
};

// A started gRPC server. Thread-safe. Shutdown() is idempotent and also runs
// on destruction.
class RunningGrpcServer {
 public:
  ~RunningGrpcServer();

  int port() const { return port_; }

  // Sets the overall and per-service health status reported by
  // grpc.health.v1.Health.
  void SetServing(bool serving);
  void SetServiceServing(const std::string& service, bool serving);

  // Stops accepting calls, reports NOT_SERVING, lets in-flight calls finish
  // until `grace` passes, then cancels the rest.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10));

  grpc::Server* server() { return server_.get(); }

 private:
  friend absl::StatusOr<std::unique_ptr<RunningGrpcServer>> StartGrpcServer(const GrpcServerOptions&,
                                                                            const std::vector<grpc::Service*>&);
  RunningGrpcServer(std::unique_ptr<grpc::Server> server, int port) : server_(std::move(server)), port_(port) {}

  std::unique_ptr<grpc::Server> server_;
  int port_;
  bool shut_down_ = false;
};

// Builds and starts a server hosting `services` (not owned; they must outlive
// the server) plus health and reflection. Health starts as NOT_SERVING; the
// caller calls SetServing(true) once it is ready. UNAVAILABLE when the address
// cannot be bound.
absl::StatusOr<std::unique_ptr<RunningGrpcServer>> StartGrpcServer(const GrpcServerOptions& options,
                                                                   const std::vector<grpc::Service*>& services);

// Writes `port` and a newline to `path` (if non-empty) through a temporary
// file and a rename, so a reader never sees half a number. Tests and scripts
// start servers on port 0 and read the bound port from here.
void WritePortFile(const std::string& path, int port);

// Installs Abseil's failure signal handler: a process that dies of SIGSEGV,
// SIGILL, SIGFPE, SIGABRT, SIGBUS or SIGTRAP (a gRPC assertion aborts) first
// writes the signal and a symbolized stack trace of the failing thread to
// stderr, the server's log, then dies of the same signal as before (the
// stack unwound from the .eh_frame tables: glibc keeps no frame pointers,
// which Abseil's own unwinder follows). SIGTERM
// and SIGINT keep the disposition they had: they ask for a graceful shutdown
// (WaitForTerminationSignal), which Abseil's handler, left on SIGTERM, would
// turn into a stack dump and death. Call once, first thing in main();
// `argv0` is main's argv[0] (the symbolizer reads the binary's symbols).
void InstallFailureStackTraces(const char* argv0);

// Blocks SIGTERM and SIGINT in the calling thread and every thread it creates
// afterwards. Call first thing in main(), before any thread starts.
void BlockTerminationSignals();

// Raises the process's soft limit of open files to its hard limit, and logs
// both (event `open_file_limit`; a warning when the soft limit stays under
// 4096). Every server's main calls it first: each gRPC connection takes a
// file descriptor until the client closes it, and so does each of the
// store's table files; at a login shell's usual 1024, about a thousand idle
// connections (anonymous: a TCP connect is enough) made accept(2) fail for
// every new client, and a large store could not open its own files.
void RaiseOpenFileLimit();

// Waits until SIGTERM or SIGINT arrives (after BlockTerminationSignals()).
// Returns the signal number.
int WaitForTerminationSignal();

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_SERVER_H_
