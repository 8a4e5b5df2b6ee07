#include "services/common/bare_echo_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "proto/lifelong/v1/records.grpc.pb.h"

namespace lifelong {
namespace {

std::shared_ptr<grpc::Channel> ChannelTo(const BareEchoServer& server) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()), grpc::InsecureChannelCredentials());
}

template <typename Stub>
grpc::Status CallEcho(Stub* stub, const std::string& payload, std::string* out) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::EchoRequest req;
  req.set_payload(payload);
  v1::EchoResponse resp;
  grpc::Status status = stub->Echo(&ctx, req, &resp);
  *out = resp.payload();
  return status;
}

TEST(BareEchoServer, EchoesTheTypedEchoOfEveryService) {
  auto server = StartBareEchoServer(BareEchoOptions{});
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = ChannelTo(**server);
  auto records = v1::LearningRecordService::NewStub(channel);
  auto catalog = v1::CourseCatalogService::NewStub(channel);
  auto recommend = v1::RecommendationService::NewStub(channel);
  std::string out;
  ASSERT_TRUE(CallEcho(records.get(), "学习记录", &out).ok());
  EXPECT_EQ(out, "学习记录");
  ASSERT_TRUE(CallEcho(catalog.get(), "课程目录", &out).ok());
  EXPECT_EQ(out, "课程目录");
  ASSERT_TRUE(CallEcho(recommend.get(), std::string("\0binary\xff", 8), &out).ok());
  EXPECT_EQ(out, std::string("\0binary\xff", 8));
  // An empty payload is an empty message: zero bytes come back, still OK.
  ASSERT_TRUE(CallEcho(records.get(), "", &out).ok());
  EXPECT_EQ(out, "");
  EXPECT_EQ((*server)->echoed(), 4);
}

TEST(BareEchoServer, ConcurrentCallsEachGetTheirOwnBytesBack) {
  auto server = StartBareEchoServer(BareEchoOptions{});
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = ChannelTo(**server);
  constexpr int kThreads = 16, kCalls = 200;
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread uses one of the three stubs; all share the connection.
      auto records = v1::LearningRecordService::NewStub(channel);
      auto catalog = v1::CourseCatalogService::NewStub(channel);
      auto recommend = v1::RecommendationService::NewStub(channel);
      for (int i = 0; i < kCalls; ++i) {
        std::string payload = "t" + std::to_string(t) + "-" + std::to_string(i) + std::string(i % 7 * 100, 'x');
        std::string out;
        grpc::Status s = t % 3 == 0   ? CallEcho(records.get(), payload, &out)
                         : t % 3 == 1 ? CallEcho(catalog.get(), payload, &out)
                                      : CallEcho(recommend.get(), payload, &out);
        if (!s.ok()) ++failures;
        else if (out != payload) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ((*server)->echoed(), kThreads * kCalls);
}

TEST(BareEchoServer, OversizedRequestIsResourceExhausted) {
  BareEchoOptions options;
  options.max_receive_bytes = 1024;
  auto server = StartBareEchoServer(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::LearningRecordService::NewStub(ChannelTo(**server));
  std::string out;
  EXPECT_EQ(CallEcho(stub.get(), std::string(4096, 'a'), &out).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ((*server)->echoed(), 0);
  // The server still answers afterwards.
  ASSERT_TRUE(CallEcho(stub.get(), "ok", &out).ok());
  EXPECT_EQ(out, "ok");
}

TEST(BareEchoServer, ATakenPortIsUnavailable) {
  auto first = StartBareEchoServer(BareEchoOptions{});
  ASSERT_TRUE(first.ok());
  BareEchoOptions same;
  same.address = "127.0.0.1:" + std::to_string((*first)->port());
  EXPECT_EQ(StartBareEchoServer(same).status().code(), absl::StatusCode::kUnavailable);
}

TEST(BareEchoServer, ShutdownStopsAnswering) {
  auto server = StartBareEchoServer(BareEchoOptions{});
  ASSERT_TRUE(server.ok());
  auto stub = v1::LearningRecordService::NewStub(ChannelTo(**server));
  std::string out;
  ASSERT_TRUE(CallEcho(stub.get(), "a", &out).ok());
  (*server)->Shutdown(std::chrono::milliseconds(100));
  (*server)->Shutdown();  // idempotent
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  v1::EchoRequest req;
  v1::EchoResponse resp;
  EXPECT_FALSE(stub->Echo(&ctx, req, &resp).ok());
}

}  // namespace
}  // namespace lifelong
