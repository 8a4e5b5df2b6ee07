#include "services/common/bare_echo_server.h"

#include <grpcpp/generic/generic_stub.h>
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
        if (!s.ok())
          ++failures;
        else if (out != payload)
          ++mismatches;
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

// Misuse through the generic stub: a streaming call that half-closes
// without a message gets INVALID_ARGUMENT naming the request; raw bytes that
// are no protobuf at all come back unchanged (the bare server parses
// nothing); any method name is answered.
TEST(BareEchoServer, RawCallsWithoutAMessageAreInvalidArgument) {
  auto server = StartBareEchoServer(BareEchoOptions{});
  ASSERT_TRUE(server.ok()) << server.status();
  grpc::GenericStub stub(ChannelTo(**server));
  grpc::CompletionQueue cq;
  void* tag;
  bool ok;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto call = stub.PrepareCall(&ctx, "/no.such.Service/Anything", &cq);
    call->StartCall(reinterpret_cast<void*>(1));
    ASSERT_TRUE(cq.Next(&tag, &ok));
    ASSERT_TRUE(ok);
    call->WritesDone(reinterpret_cast<void*>(2));
    ASSERT_TRUE(cq.Next(&tag, &ok));
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(3));
    ASSERT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("request"), std::string::npos) << status.error_message();
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const std::string junk("\xff\xfe not a protobuf \x00", 22);
    grpc::Slice slice(junk);
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::Status status;
    auto call = stub.PrepareUnaryCall(&ctx, "/no.such.Service/Anything", request, &cq);
    call->StartCall();
    call->Finish(&response, &status, reinterpret_cast<void*>(4));
    ASSERT_TRUE(cq.Next(&tag, &ok));
    ASSERT_TRUE(status.ok()) << status.error_message();
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(response.Dump(&slices).ok());
    std::string back;
    for (const grpc::Slice& sl : slices) back.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    EXPECT_EQ(back, junk);
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
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
