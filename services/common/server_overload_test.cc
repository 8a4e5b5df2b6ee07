// Overload behaviour of StartGrpcServer with max_concurrent_calls: a real
// server on port 0 whose handler holds one of two "cores" for 20 ms, driven
// by many more concurrent clients than it sustains.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/health_client.h"
#include "services/common/overload.h"
#include "services/common/server.h"

namespace lifelong {
namespace {

using Clock = std::chrono::steady_clock;

// Echo takes 20 ms of one of `cores` units of a scarce resource (waiting for
// one when all are taken, as a CPU-bound handler waits for a core): it
// sustains cores / 20 ms calls per second at a concurrency of `cores`.
class SlowEcho final : public v1::LearningRecordService::Service {
 public:
  explicit SlowEcho(int cores) : free_(cores) {}

  grpc::Status Echo(grpc::ServerContext*, const v1::EchoRequest* req, v1::EchoResponse* resp) override {
    int now = ++running_;
    int seen = max_running_.load();
    while (now > seen && !max_running_.compare_exchange_weak(seen, now)) {
    }
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](int* f) { return *f > 0; }, &free_));
      --free_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    {
      absl::MutexLock lock(&mu_);
      ++free_;
    }
    --running_;
    resp->set_payload(req->payload());
    return grpc::Status::OK;
  }

  int max_running() const { return max_running_.load(); }

 private:
  absl::Mutex mu_;
  int free_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> running_{0};
  std::atomic<int> max_running_{0};
};

struct Outcome {
  std::vector<double> ok_ms, refused_ms;
  int64_t other = 0;
  std::string refusal_message, first_other;
  std::string pushback;
};

double P99(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, v.size() * 99 / 100)];
}

// `clients` threads, each calling Echo back to back for `seconds`.
Outcome Drive(int port, int clients, double seconds) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  auto stub = v1::LearningRecordService::NewStub(channel);
  absl::Mutex mu;
  Outcome out;
  std::vector<std::thread> threads;
  const auto stop_at = Clock::now() + std::chrono::duration<double>(seconds);
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&] {
      while (Clock::now() < stop_at) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
        v1::EchoRequest req;
        req.set_payload("p");
        v1::EchoResponse resp;
        auto t0 = Clock::now();
        grpc::Status s = stub->Echo(&ctx, req, &resp);
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        bool back_off = false;
        {
          absl::MutexLock lock(&mu);
          if (s.ok() && resp.payload() == "p") {
            out.ok_ms.push_back(ms);
          } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
            out.refused_ms.push_back(ms);
            if (out.refusal_message.empty()) {
              out.refusal_message = s.error_message();
              auto md = ctx.GetServerTrailingMetadata();
              auto it = md.find(kRetryPushbackTrailer);
              if (it != md.end()) out.pushback.assign(it->second.data(), it->second.size());
            }
            back_off = true;
          } else {
            ++out.other;
            if (out.first_other.empty()) out.first_other = s.error_message();
          }
        }
        // A refused client pauses briefly before trying again, as a client
        // that honours the hint would (shorter, to keep the pressure on).
        if (back_off) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  for (auto& th : threads) th.join();
  return out;
}

TEST(ServerOverload, ExcessCallsAreRefusedQuicklyAndAdmittedOnesKeepTheirLatency) {
  SlowEcho service(/*cores=*/2);
  GrpcServerOptions options;
  options.max_pollers = 2;
  options.max_concurrent_calls = 4;  // sustainable concurrency is 2; a little queueing allowed
  options.overload_retry_after_ms = 30;
  auto server = StartGrpcServer(options, {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->SetServing(true);

  // 40 clients: 20x the sustainable concurrency (10x the limit). Health
  // checks (callback API) are not counted against the limit: they answer
  // during the overload.
  auto health_channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()), grpc::InsecureChannelCredentials());
  absl::StatusOr<HealthState> health_during = absl::UnknownError("not checked");
  std::thread checker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    health_during = CheckHealth(health_channel, "", std::chrono::seconds(2));
  });
  Outcome out = Drive((*server)->port(), 40, 2.0);
  checker.join();
  ASSERT_TRUE(health_during.ok()) << health_during.status();
  EXPECT_EQ(*health_during, HealthState::kServing);
  ASSERT_EQ(out.other, 0) << out.first_other;
  ASSERT_FALSE(out.ok_ms.empty());
  ASSERT_FALSE(out.refused_ms.empty());
  EXPECT_LE(service.max_running(), 4);
  // Unlimited, a call would wait for ~19 others at 10 ms each: ~200 ms.
  // Admitted: at most 3 others ahead, ~20-40 ms; refusals at once.
  EXPECT_LT(P99(out.ok_ms), 150) << out.ok_ms.size() << " admitted";
  EXPECT_LT(P99(out.refused_ms), 50) << out.refused_ms.size() << " refused";
  EXPECT_EQ(out.refusal_message, OverloadRefusalMessage(30));
  EXPECT_EQ(out.pushback, "30");
}

TEST(ServerOverload, WithoutALimitEveryCallQueues) {
  // The same load on the default (no limit): nothing is refused, every call
  // waits its turn, and the p99 grows with the queue. The contrast the
  // limit is for; also guards the default against refusing anything.
  SlowEcho service(/*cores=*/2);
  GrpcServerOptions options;
  options.max_pollers = 2;
  auto server = StartGrpcServer(options, {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  Outcome out = Drive((*server)->port(), 40, 2.0);
  ASSERT_EQ(out.other, 0) << out.first_other;
  EXPECT_TRUE(out.refused_ms.empty());
  EXPECT_GT(service.max_running(), 4);
  EXPECT_GT(P99(out.ok_ms), 150);
}

TEST(ServerOverload, BadLimitsAreInvalidArgument) {
  SlowEcho service(1);
  GrpcServerOptions negative;
  negative.max_concurrent_calls = -1;
  auto s = StartGrpcServer(negative, {&service});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("max_concurrent_calls"), absl::string_view::npos);
  GrpcServerOptions below_pollers;
  below_pollers.max_pollers = 8;
  below_pollers.max_concurrent_calls = 4;
  s = StartGrpcServer(below_pollers, {&service});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("max_pollers"), absl::string_view::npos);
}

TEST(ServerOverload, HandlerResourceExhaustedKeepsItsMessage) {
  EXPECT_FALSE(IsThreadQuotaRefusal(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "batch: 2000 > 1000")));
  EXPECT_TRUE(IsThreadQuotaRefusal(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "")));
  EXPECT_TRUE(IsThreadQuotaRefusal(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "Server Threadpool Exhausted")));
  EXPECT_FALSE(IsThreadQuotaRefusal(grpc::Status(grpc::StatusCode::UNAVAILABLE, "")));
}

}  // namespace
}  // namespace lifelong
