// bench_overload: a server at 10x its sustainable load, three ways —
//   none:     no limit (a sync-server thread per call; calls queue),
//   quota:    GrpcServerOptions::max_concurrent_calls (gRPC's thread quota;
//             excess calls refused by gRPC before any handler runs),
//   handler:  the same limit counted inside the handler (as the authorizer's
//             per-principal limit does): excess calls get a thread and a
//             handler, which refuses them.
// The handler holds one of --cores units of a scarce resource for --work_ms
// (waiting when all are taken, as a CPU-bound handler waits for a core), so
// the sustainable concurrency is --cores and the sustainable rate
// cores / work_ms. --clients blocking client threads call back to back; a
// refused client pauses --backoff_ms before its next call. Prints figures;
// not a test (services/common:server_overload_test is).
//
//   bazel run //services/common:bench_overload -- --clients=40 --cores=4
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/server.h"

ABSL_FLAG(int, cores, 4, "units of the handlers' scarce resource: the sustainable concurrency");
ABSL_FLAG(int, work_ms, 10, "how long a call holds one unit");
ABSL_FLAG(int, clients, 40, "concurrent client threads (10x --cores: 10x the sustainable load)");
ABSL_FLAG(int, limit, 8, "calls in progress admitted (quota and handler modes)");
ABSL_FLAG(int, backoff_ms, 5, "a refused client's pause before its next call");
ABSL_FLAG(double, seconds, 3, "duration of each mode");

namespace lifelong {
namespace {

using Clock = std::chrono::steady_clock;

int ProcessThreads() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

class SlowEcho final : public v1::LearningRecordService::Service {
 public:
  SlowEcho(int cores, int work_ms, int handler_limit)
      : free_(cores), work_ms_(work_ms), handler_limit_(handler_limit) {}

  grpc::Status Echo(grpc::ServerContext*, const v1::EchoRequest* req, v1::EchoResponse* resp) override {
    const int now = ++running_;
    struct Leave {
      std::atomic<int>* n;
      ~Leave() { --*n; }
    } leave{&running_};
    if (handler_limit_ > 0 && now > handler_limit_) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "server overloaded (handler limit); retry later");
    }
    int seen = max_threads_.load();
    int threads = ProcessThreads();
    while (threads > seen && !max_threads_.compare_exchange_weak(seen, threads)) {
    }
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](int* f) { return *f > 0; }, &free_));
      --free_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(work_ms_));
    {
      absl::MutexLock lock(&mu_);
      ++free_;
    }
    resp->set_payload(req->payload());
    return grpc::Status::OK;
  }
  int max_threads() const { return max_threads_.load(); }

 private:
  absl::Mutex mu_;
  int free_ ABSL_GUARDED_BY(mu_);
  const int work_ms_, handler_limit_;
  std::atomic<int> running_{0};
  std::atomic<int> max_threads_{0};
};

struct Pcts {
  double p50 = 0, p99 = 0, max = 0;
};
Pcts Percentiles(std::vector<double> v) {
  Pcts p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  p.p50 = v[v.size() / 2];
  p.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  p.max = v.back();
  return p;
}

void RunMode(const char* mode, int max_concurrent_calls, int handler_limit) {
  SlowEcho service(absl::GetFlag(FLAGS_cores), absl::GetFlag(FLAGS_work_ms), handler_limit);
  GrpcServerOptions options;
  options.max_pollers = std::min(4, std::max(1, max_concurrent_calls > 0 ? max_concurrent_calls : 4));
  options.max_concurrent_calls = max_concurrent_calls;
  auto server = StartGrpcServer(options, {&service});
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    std::exit(1);
  }
  auto stub = v1::LearningRecordService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()), grpc::InsecureChannelCredentials()));
  absl::Mutex mu;
  std::vector<double> ok_ms, refused_ms;
  int64_t other = 0;
  std::string first_refusal;
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const auto stop_at = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < absl::GetFlag(FLAGS_clients); ++t) {
    threads.emplace_back([&] {
      while (Clock::now() < stop_at) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        v1::EchoRequest req;
        req.set_payload("p");
        v1::EchoResponse resp;
        const auto t0 = Clock::now();
        grpc::Status s = stub->Echo(&ctx, req, &resp);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        bool refused = false;
        {
          absl::MutexLock lock(&mu);
          if (s.ok()) {
            ok_ms.push_back(ms);
          } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
            refused_ms.push_back(ms);
            refused = true;
            if (first_refusal.empty()) first_refusal = s.error_message();
          } else {
            ++other;
          }
        }
        if (refused) std::this_thread::sleep_for(std::chrono::milliseconds(absl::GetFlag(FLAGS_backoff_ms)));
      }
    });
  }
  for (auto& th : threads) th.join();
  const Pcts ok = Percentiles(ok_ms), no = Percentiles(refused_ms);
  std::printf(
      "%-8s admitted %6.0f/s p50 %7.1f ms p99 %7.1f ms max %7.1f ms | refused %7.0f/s p50 %5.2f ms "
      "p99 %5.2f ms | other errors %lld | process threads (peak) %d\n",
      mode, ok_ms.size() / seconds, ok.p50, ok.p99, ok.max, refused_ms.size() / seconds, no.p50, no.p99,
      static_cast<long long>(other), service.max_threads());
  if (!first_refusal.empty()) std::printf("         refusal: \"%s\"\n", first_refusal.c_str());
  std::fflush(stdout);
}

}  // namespace
}  // namespace lifelong

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int cores = absl::GetFlag(FLAGS_cores), work_ms = absl::GetFlag(FLAGS_work_ms);
  const int limit = absl::GetFlag(FLAGS_limit);
  std::printf("bench_overload: sustainable %d calls in progress, %.0f calls/s; %d clients; limit %d; %.0f s each\n",
              cores, 1000.0 * cores / work_ms, absl::GetFlag(FLAGS_clients), limit, absl::GetFlag(FLAGS_seconds));
  lifelong::RunMode("none", 0, 0);
  lifelong::RunMode("quota", limit, 0);
  lifelong::RunMode("handler", 0, limit);
  return 0;
}
