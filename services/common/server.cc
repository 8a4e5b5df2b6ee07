#include "services/common/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <sys/resource.h>
#include <ucontext.h>
#include <unwind.h>

#include <cstdint>
#include <cstdio>

#include "absl/debugging/failure_signal_handler.h"
#include "absl/debugging/stacktrace.h"
#include "absl/debugging/symbolize.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/overload.h"

namespace lifelong {

RunningGrpcServer::~RunningGrpcServer() { Shutdown(std::chrono::seconds(5)); }

void RunningGrpcServer::SetServing(bool serving) {
  if (auto* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(serving);
  }
}

void RunningGrpcServer::SetServiceServing(const std::string& service, bool serving) {
  if (auto* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(service, serving);
  }
}

void RunningGrpcServer::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  SetServing(false);
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
}

absl::StatusOr<std::unique_ptr<RunningGrpcServer>> StartGrpcServer(const GrpcServerOptions& options,
                                                                   const std::vector<grpc::Service*>& services) {
  if (options.max_concurrent_calls < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_concurrent_calls: ", options.max_concurrent_calls, " is negative (0: no limit)"));
  }
  if (options.max_concurrent_calls > 0 && options.max_concurrent_calls < options.max_pollers) {
    return absl::InvalidArgumentError(absl::StrCat("max_concurrent_calls: ", options.max_concurrent_calls,
                                                   " is below max_pollers (", options.max_pollers, ")"));
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(
      options.address, options.credentials != nullptr ? options.credentials : grpc::InsecureServerCredentials(), &port);
  // Without this, gRPC sets SO_REUSEPORT and a second server on the same port
  // would silently share it instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options.max_receive_bytes);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, options.min_pollers);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, options.max_pollers);
  if (options.memory_quota_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("memory_quota_bytes: ", options.memory_quota_bytes, " is negative (0: no bound)"));
  }
  if (options.max_connection_idle_ms < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_connection_idle_ms: ", options.max_connection_idle_ms, " is negative (0: never)"));
  }
  if (options.handshake_timeout_ms < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("handshake_timeout_ms: ", options.handshake_timeout_ms, " is negative (0: gRPC's default)"));
  }
  if (options.max_connection_idle_ms > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, options.max_connection_idle_ms);
  }
  if (options.handshake_timeout_ms > 0) {
    builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, options.handshake_timeout_ms);
  }
  if (options.max_concurrent_calls > 0 || options.memory_quota_bytes > 0) {
    grpc::ResourceQuota quota("lifelong-server");
    if (options.max_concurrent_calls > 0) quota.SetMaxThreads(options.max_concurrent_calls + 1);
    if (options.memory_quota_bytes > 0) quota.Resize(static_cast<size_t>(options.memory_quota_bytes));
    builder.SetResourceQuota(quota);
  }
  SetOverloadRetryAfterMs(options.overload_retry_after_ms);
  {
    // Replaced by InstallServerObservability's own list (which includes this
    // one) when that is installed.
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(MakeOverloadRefusalInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address, " (address in use?)"));
  }
  auto running = std::unique_ptr<RunningGrpcServer>(new RunningGrpcServer(std::move(server), port));
  if (auto* health = running->server()->GetHealthCheckService()) {
    for (const std::string& name : options.health_service_names) health->SetServingStatus(name, false);
  }
  running->SetServing(false);
  return running;
}

void WritePortFile(const std::string& path, int port) {
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fprintf(f, "%d\n", port);
    std::fclose(f);
    std::rename(tmp.c_str(), path.c_str());
  }
}

namespace {

// What EhFrameUnwinder collects, frame by frame.
struct Unwinding {
  void** pcs;
  int max_depth;
  int depth = 0;
  int dropped = 0;
  uintptr_t start_pc = 0;  // the interrupted instruction; 0: skip `skip` frames
  int skip = 0;
  bool started = false;
};

_Unwind_Reason_Code CollectFrame(_Unwind_Context* context, void* arg) {
  auto* u = static_cast<Unwinding*>(arg);
  int before_insn = 0;
  const uintptr_t pc = _Unwind_GetIPInfo(context, &before_insn);
  if (pc == 0) return _URC_END_OF_STACK;
  if (!u->started) {
    // The handler's own frames, up to the signal's frame: the interrupted
    // instruction, which the handler prints as "PC" before the stack.
    if (u->start_pc != 0) {
      u->started = pc == u->start_pc;
      return _URC_NO_REASON;
    }
    if (u->skip > 0) {
      --u->skip;
      return _URC_NO_REASON;
    }
    u->started = true;
  }
  if (u->depth < u->max_depth) {
    u->pcs[u->depth++] = reinterpret_cast<void*>(pc);
  } else {
    ++u->dropped;
  }
  return _URC_NO_REASON;
}

// Abseil's x86-64 unwinder follows frame pointers, which Debian's glibc does
// not keep: from a signal raised by abort() (every gRPC assertion) it lost
// the trail at the first frame ("@ 0x31 (unknown)"). libgcc's unwinder reads
// the .eh_frame tables that every library carries, the signal frame's
// included, as glibc's backtrace() does. Return addresses, as Abseil's.
int EhFrameUnwinder(void** pcs, int* sizes, int max_depth, int skip_count, const void* uc, int* min_dropped_frames) {
  Unwinding u{pcs, max_depth};
  if (uc != nullptr) {
    u.start_pc = static_cast<uintptr_t>(static_cast<const ucontext_t*>(uc)->uc_mcontext.gregs[REG_RIP]);
  }
  u.skip = skip_count + 1;  // and this function
  _Unwind_Backtrace(&CollectFrame, &u);
  if (!u.started && u.start_pc != 0) {  // the signal's frame not found: from here
    u = Unwinding{pcs, max_depth};
    u.skip = skip_count + 1;
    _Unwind_Backtrace(&CollectFrame, &u);
  }
  if (sizes != nullptr) {
    for (int i = 0; i < u.depth; ++i) sizes[i] = 0;  // not known
  }
  if (min_dropped_frames != nullptr) *min_dropped_frames = u.dropped;
  return u.depth;
}

}  // namespace

void InstallFailureStackTraces(const char* argv0) {
  absl::InitializeSymbolizer(argv0);
  absl::SetStackUnwinder(&EhFrameUnwinder);
  // Abseil's handler takes SIGTERM too (there is no option to leave it out):
  // put back what was there, so that SIGTERM still reaches
  // WaitForTerminationSignal. SIGINT it does not touch.
  struct sigaction term {};
  sigaction(SIGTERM, nullptr, &term);
  absl::InstallFailureSignalHandler(absl::FailureSignalHandlerOptions());
  sigaction(SIGTERM, &term, nullptr);
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    LogWarn("open_file_limit", {{"error", "getrlimit failed"}});
    return;
  }
  const rlim_t before = limit.rlim_cur;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) limit.rlim_cur = before;
  }
  auto number = [](rlim_t v) { return v == RLIM_INFINITY ? int64_t{-1} : static_cast<int64_t>(v); };
  nlohmann::json fields = {{"soft", number(limit.rlim_cur)}, {"hard", number(limit.rlim_max)}, {"was", number(before)}};
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < 4096) {
    fields["effect"] = "few connections and table files fit: raise the hard limit (LimitNOFILE, ulimit -Hn)";
    LogWarn("open_file_limit", fields);
  } else {
    LogInfo("open_file_limit", fields);
  }
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace lifelong
