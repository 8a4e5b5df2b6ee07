// InstallServerObservability changes every ServerBuilder of the process, so
// it is tested in its own binary.
#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/health_client.h"
#include "services/common/interceptors.h"
#include "services/common/metrics.h"
#include "services/common/overload.h"
#include "services/common/request_context.h"
#include "services/common/server.h"
#include "tests/testing/bounded_wait.h"

namespace lifelong {
namespace {

class EchoService final : public v1::LearningRecordService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext*, const v1::EchoRequest* request, v1::EchoResponse* response) override {
    absl::MutexLock lock(&mu_);
    last_id_ = CurrentRequestId();
    return grpc::Status::OK;
  }
  std::string last_id() {
    absl::MutexLock lock(&mu_);
    return last_id_;
  }

 private:
  absl::Mutex mu_;
  std::string last_id_ ABSL_GUARDED_BY(mu_);
};

TEST(InstallServerObservability, StartGrpcServerGetsInterceptors) {
  metrics::MetricsRegistry registry;
  absl::Mutex mu;
  std::vector<std::string> logged;
  RpcObservabilityOptions options;
  options.registry = &registry;
  options.access_log_sink = [&](const nlohmann::json& line) {
    absl::MutexLock lock(&mu);
    logged.push_back(line["method"].get<std::string>());
  };
  ASSERT_TRUE(InstallServerObservability(options).ok());
  InstallGlobalRequestIdPropagation();

  EchoService service;
  GrpcServerOptions server_options;
  auto server = StartGrpcServer(server_options, {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->SetServing(true);

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials());
  auto stub = v1::LearningRecordService::NewStub(channel);
  {
    // Global propagation: the caller's current id travels without any
    // per-call code.
    ScopedRequestId id("global-42");
    grpc::ClientContext ctx;
    v1::EchoRequest request;
    v1::EchoResponse response;
    ASSERT_TRUE(stub->Echo(&ctx, request, &response).ok());
  }
  EXPECT_EQ(service.last_id(), "global-42");
  absl::StatusOr<HealthState> health = CheckHealth(channel, "", std::chrono::seconds(5));
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, HealthState::kServing);

  const std::string text = registry.Render();
  EXPECT_TRUE(absl::StrContains(text,
                                "lifelong_grpc_requests_total{service=\"lifelong.v1."
                                "LearningRecordService\",method=\"Echo\",code=\"OK\"} 1\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text,
                                "lifelong_grpc_requests_total{service=\"grpc."
                                "health.v1.Health\",method=\"Check\","
                                "code=\"OK\"} 1\n"))
      << text;
  absl::MutexLock lock(&mu);
  // Health checks are counted but not access-logged.
  EXPECT_EQ(logged, std::vector<std::string>{"/lifelong.v1.LearningRecordService/Echo"});
}

// Echo blocks until released: holds the server's only handler thread.
class BlockingEcho final : public v1::LearningRecordService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext*, const v1::EchoRequest*, v1::EchoResponse*) override {
    absl::MutexLock lock(&mu_);
    entered_ = true;
    ::lifelong::testing::AwaitOrFail(&mu_, &released_, "the test to release Echo");
    return grpc::Status::OK;
  }
  void AwaitEntered() {
    absl::MutexLock lock(&mu_);
    ::lifelong::testing::AwaitOrFail(&mu_, &entered_, "Echo to be entered");
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }

 private:
  absl::Mutex mu_;
  bool entered_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

// With the observability interceptors installed (which replace the builder's
// interceptor list), overload refusals still carry the retry hint, and are
// counted as RESOURCE_EXHAUSTED.
TEST(InstallServerObservability, OverloadRefusalsKeepTheirRetryHint) {
  metrics::MetricsRegistry registry;
  RpcObservabilityOptions options;
  options.registry = &registry;
  options.access_log_sink = [](const nlohmann::json&) {};
  ASSERT_TRUE(InstallServerObservability(options).ok());

  BlockingEcho service;
  GrpcServerOptions server_options;
  server_options.max_pollers = 1;
  server_options.max_concurrent_calls = 1;
  server_options.overload_retry_after_ms = 70;
  auto server = StartGrpcServer(server_options, {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials());
  auto stub = v1::LearningRecordService::NewStub(channel);
  grpc::Status first_status;
  std::thread first([&] {
    grpc::ClientContext ctx;
    v1::EchoRequest request;
    v1::EchoResponse response;
    first_status = stub->Echo(&ctx, request, &response);
  });
  service.AwaitEntered();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::EchoRequest request;
  v1::EchoResponse response;
  grpc::Status refused = stub->Echo(&ctx, request, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(refused.error_message(), OverloadRefusalMessage(70));
  auto trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find(kRetryPushbackTrailer);
  ASSERT_NE(it, trailers.end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "70");
  service.Release();
  first.join();
  EXPECT_TRUE(first_status.ok()) << first_status.error_message();
  EXPECT_TRUE(absl::StrContains(registry.Render(),
                                "lifelong_grpc_requests_total{service=\"lifelong.v1."
                                "LearningRecordService\",method=\"Echo\",code=\"RESOURCE_EXHAUSTED\"} 1\n"))
      << registry.Render();
}

}  // namespace
}  // namespace lifelong
