// A closed-loop gRPC load generator for benchmark programs: keeps
// `concurrency` unary calls outstanding on one completion queue for
// `seconds`, and reports calls/s and latency percentiles. Benchmarks run the
// same driver against a trivial Echo call as their baseline, and against the
// bare gRPC echo server (services/common/bare_echo_server.h) as the ceiling.
#ifndef LIFELONG_SERVICES_COMMON_BENCH_DRIVER_H_
#define LIFELONG_SERVICES_COMMON_BENCH_DRIVER_H_

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lifelong::bench {

struct LoadResult {
  std::string name;
  int concurrency = 0;
  double seconds = 0;
  int64_t calls = 0;
  int64_t errors = 0;
  double calls_per_sec = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  std::string first_error;
};

// `start(ctx, i, cq)` starts call number i and returns its reader.
template <typename Resp>
using StartFn = std::function<std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>>(grpc::ClientContext*, int64_t,
                                                                                     grpc::CompletionQueue*)>;

// Fills calls_per_sec and the percentiles of `r` from its calls, seconds and
// `latencies` (milliseconds; sorted in place).
inline void Summarize(LoadResult* r, std::vector<double>* latencies) {
  r->calls_per_sec = r->seconds > 0 ? r->calls / r->seconds : 0;
  if (!latencies->empty()) {
    std::sort(latencies->begin(), latencies->end());
    r->p50_ms = (*latencies)[latencies->size() / 2];
    r->p99_ms = (*latencies)[std::min(latencies->size() - 1, latencies->size() * 99 / 100)];
  }
}

// `all_latencies`, when set, also receives every call's latency (ms).
template <typename Resp>
LoadResult RunClosedLoop(const std::string& name, int concurrency, double seconds, StartFn<Resp> start,
                         std::vector<double>* all_latencies = nullptr) {
  struct Slot {
    std::unique_ptr<grpc::ClientContext> ctx;
    Resp resp;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> reader;
    std::chrono::steady_clock::time_point began;
  };
  grpc::CompletionQueue cq;
  std::vector<Slot> slots(concurrency);
  int64_t next = 0;
  auto issue = [&](int s) {
    Slot& slot = slots[s];
    slot.ctx = std::make_unique<grpc::ClientContext>();
    slot.ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    slot.began = std::chrono::steady_clock::now();
    slot.reader = start(slot.ctx.get(), next++, &cq);
    slot.reader->Finish(&slot.resp, &slot.status, reinterpret_cast<void*>(static_cast<intptr_t>(s)));
  };
  LoadResult r;
  r.name = name;
  r.concurrency = concurrency;
  std::vector<double> latencies;
  latencies.reserve(1 << 20);
  auto t0 = std::chrono::steady_clock::now();
  auto stop_at = t0 + std::chrono::duration<double>(seconds);
  for (int s = 0; s < concurrency; ++s) issue(s);
  int outstanding = concurrency;
  bool stopping = false;
  while (outstanding > 0) {
    void* tag;
    bool ok;
    if (!cq.Next(&tag, &ok)) break;
    int s = static_cast<int>(reinterpret_cast<intptr_t>(tag));
    auto now = std::chrono::steady_clock::now();
    --outstanding;
    if (!stopping) {
      latencies.push_back(std::chrono::duration<double, std::milli>(now - slots[s].began).count());
      ++r.calls;
      if (!slots[s].status.ok()) {
        ++r.errors;
        if (r.first_error.empty()) r.first_error = slots[s].status.error_message();
      }
    }
    if (now >= stop_at) stopping = true;
    if (!stopping) {
      issue(s);
      ++outstanding;
    }
  }
  r.seconds = std::chrono::duration<double>(stop_at - t0).count();
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  if (all_latencies != nullptr) all_latencies->insert(all_latencies->end(), latencies.begin(), latencies.end());
  Summarize(&r, &latencies);
  return r;
}

// Runs call A (the baseline) and call B alternately, `rounds` slices of each,
// `seconds` in all per call: both see the same stretch of a shared, noisy
// machine, so B's rate over A's is steadier than from two back-to-back runs.
// For calls that leave no background work behind (reads): a write's
// flushes would otherwise slow the baseline's next slice.
template <typename RespA, typename RespB>
std::pair<LoadResult, LoadResult> RunInterleaved(const std::string& name_a, StartFn<RespA> start_a,
                                                 const std::string& name_b, StartFn<RespB> start_b, int concurrency,
                                                 double seconds, int rounds) {
  LoadResult a, b;
  a.name = name_a;
  b.name = name_b;
  a.concurrency = b.concurrency = concurrency;
  std::vector<double> lat_a, lat_b;
  for (int i = 0; i < rounds; ++i) {
    for (int which = 0; which < 2; ++which) {
      LoadResult& total = which == 0 ? a : b;
      LoadResult slice = which == 0 ? RunClosedLoop<RespA>(name_a, concurrency, seconds / rounds, start_a, &lat_a)
                                    : RunClosedLoop<RespB>(name_b, concurrency, seconds / rounds, start_b, &lat_b);
      total.calls += slice.calls;
      total.errors += slice.errors;
      total.seconds += slice.seconds;
      if (total.first_error.empty()) total.first_error = slice.first_error;
    }
  }
  Summarize(&a, &lat_a);
  Summarize(&b, &lat_b);
  return {a, b};
}

// `baseline`: the service's own Echo, printed as "(N% of echo)"; `bare`: the
// bare gRPC echo server measured the same way, printed as "(N% of bare)".
inline void PrintResult(const LoadResult& r, double items_per_call = 1, const LoadResult* baseline = nullptr,
                        const LoadResult* bare = nullptr) {
  std::printf("%-34s conc=%-4d calls/s=%9.0f items/s=%10.0f p50=%7.2fms p99=%7.2fms errors=%lld", r.name.c_str(),
              r.concurrency, r.calls_per_sec, r.calls_per_sec * items_per_call, r.p50_ms, r.p99_ms,
              static_cast<long long>(r.errors));
  if (baseline != nullptr && baseline->calls_per_sec > 0) {
    std::printf("  (%.0f%% of echo)", 100.0 * r.calls_per_sec / baseline->calls_per_sec);
  }
  if (bare != nullptr && bare->calls_per_sec > 0) {
    std::printf("  (%.0f%% of bare)", 100.0 * r.calls_per_sec / bare->calls_per_sec);
  }
  if (!r.first_error.empty()) std::printf("  first error: %s", r.first_error.c_str());
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace lifelong::bench

#endif  // LIFELONG_SERVICES_COMMON_BENCH_DRIVER_H_
