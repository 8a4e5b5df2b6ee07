// Measures what the observability interceptors cost on the cheapest call:
// an in-process Echo server on 127.0.0.1:0 driven by the closed-loop driver,
// once without interceptors, once with metrics and request ids but no access
// log, then with everything: the access log synchronous (one write(2) per
// call), asynchronous (the services' default), and asynchronous sampled 1 in
// 100 (access log lines go to stderr: redirect it).
// Besides calls/s (noisy on a shared machine) it prints the process CPU time
// per call, client and server together: the difference between the runs is
// what the interceptors cost.
//
//   bazel run -c opt //services/common:interceptors_bench -- --seconds=3
//   2>/dev/null
#include <sys/resource.h>

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/bench_driver.h"
#include "services/common/interceptors.h"
#include "services/common/log.h"
#include "services/common/metrics.h"

ABSL_FLAG(double, seconds, 3, "duration of each run");
ABSL_FLAG(int, concurrency, 16, "outstanding calls");
ABSL_FLAG(int, max_pollers, 4, "server polling threads");

namespace lifelong {
namespace {

class EchoService final : public v1::LearningRecordService::Service {
  grpc::Status Echo(grpc::ServerContext*, const v1::EchoRequest* request, v1::EchoResponse* response) override {
    response->set_payload(request->payload());
    return grpc::Status::OK;
  }
};

double CpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

bench::LoadResult Run(const std::string& name, bool interceptors, bool access_log) {
  EchoService service;
  metrics::MetricsRegistry registry;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, absl::GetFlag(FLAGS_max_pollers));
  builder.RegisterService(&service);
  if (interceptors) {
    RpcObservabilityOptions options;
    options.registry = &registry;
    options.access_log = access_log;
    builder.experimental().SetInterceptorCreators(*MakeServerInterceptorFactories(options));
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = v1::LearningRecordService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  v1::EchoRequest request;
  request.set_payload("ping");
  const double cpu_before = CpuSeconds();
  bench::LoadResult result = bench::RunClosedLoop<v1::EchoResponse>(
      name, absl::GetFlag(FLAGS_concurrency), absl::GetFlag(FLAGS_seconds),
      [&](grpc::ClientContext* ctx, int64_t, grpc::CompletionQueue* cq) { return stub->AsyncEcho(ctx, request, cq); });
  const double cpu = CpuSeconds() - cpu_before;
  server->Shutdown();
  std::printf("  %s: CPU per call %.1f us\n", name.c_str(), 1e6 * cpu / std::max<int64_t>(1, result.calls));
  return result;
}

}  // namespace
}  // namespace lifelong

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using lifelong::Run;
  lifelong::bench::LoadResult base = Run("echo, no interceptors", false, false);
  lifelong::bench::PrintResult(base);
  lifelong::bench::LoadResult metrics = Run("echo, metrics + request id", true, false);
  lifelong::bench::PrintResult(metrics, 1, &base);
  lifelong::bench::LoadResult all = Run("echo, metrics + id + access log (synchronous)", true, true);
  lifelong::bench::PrintResult(all, 1, &base);
  // The services' default (--log_async): lines queued, written in batches.
  lifelong::LogConfig config;
  config.async = true;
  if (!lifelong::ConfigureLogging(config).ok()) return 1;
  lifelong::bench::LoadResult async = Run("echo, metrics + id + access log (asynchronous)", true, true);
  lifelong::bench::PrintResult(async, 1, &base);
  config.access_sample = 100;
  if (!lifelong::ConfigureLogging(config).ok()) return 1;
  lifelong::bench::LoadResult sampled = Run("echo, metrics + id + access log (async, 1 in 100)", true, true);
  lifelong::bench::PrintResult(sampled, 1, &base);
  lifelong::FlushLogs();
  return 0;
}
