// InstallServerObservability changes every ServerBuilder of the process, so
// it is tested in its own binary.
#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/health_client.h"
#include "services/common/interceptors.h"
#include "services/common/metrics.h"
#include "services/common/request_context.h"
#include "services/common/server.h"

namespace lifelong {
namespace {

class EchoService final : public v1::LearningRecordService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext*, const v1::EchoRequest* request,
                    v1::EchoResponse* response) override {
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

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
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

}  // namespace
}  // namespace lifelong
