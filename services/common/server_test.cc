#include "services/common/server.h"

#include <gtest/gtest.h>

#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/health_client.h"

namespace lifelong {
namespace {

class EchoOnly final : public v1::LearningRecordService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext*, const v1::EchoRequest* req, v1::EchoResponse* resp) override {
    resp->set_payload(req->payload());
    return grpc::Status::OK;
  }
};

TEST(Server, HealthFollowsSetServingAndShutdown) {
  EchoOnly service;
  auto server = StartGrpcServer(GrpcServerOptions{}, {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()), grpc::InsecureChannelCredentials());
  EXPECT_EQ(*CheckHealth(channel, ""), HealthState::kNotServing);
  (*server)->SetServing(true);
  EXPECT_EQ(*CheckHealth(channel, ""), HealthState::kServing);
  EXPECT_EQ(CheckHealth(channel, "no.such.Service").status().code(), absl::StatusCode::kNotFound);

  auto stub = v1::LearningRecordService::NewStub(channel);
  grpc::ClientContext ctx;
  v1::EchoRequest req;
  req.set_payload("ping");
  v1::EchoResponse resp;
  ASSERT_TRUE(stub->Echo(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.payload(), "ping");

  (*server)->Shutdown(std::chrono::milliseconds(100));
  EXPECT_FALSE(CheckHealth(channel, "", std::chrono::milliseconds(300)).ok());
}

TEST(Server, BindingATakenPortIsUnavailable) {
  EchoOnly a, b;
  auto first = StartGrpcServer(GrpcServerOptions{}, {&a});
  ASSERT_TRUE(first.ok());
  GrpcServerOptions same;
  same.address = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = StartGrpcServer(same, {&b});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace lifelong
