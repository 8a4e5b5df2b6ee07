#include "services/common/interceptors.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/log.h"
#include "services/common/metrics.h"
#include "services/common/request_context.h"

namespace lifelong {
namespace {

using v1::EchoRequest;
using v1::EchoResponse;
using v1::LearningRecordService;

// Echo: payload "missing" answers NOT_FOUND, "slow" sleeps 300 ms; payload
// "forward" calls Echo on `downstream` (if set) and answers OK. Records what
// each call saw.
class TestService final : public LearningRecordService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* ctx, const EchoRequest* request, EchoResponse* response) override {
    {
      absl::MutexLock lock(&mu_);
      seen_ids_.push_back(CurrentRequestId());
      auto it = ctx->client_metadata().find(kRequestIdMetadataKey);
      seen_metadata_.push_back(it == ctx->client_metadata().end() ? "<none>"
                                                                  : std::string(it->second.data(), it->second.size()));
    }
    if (request->payload() == "missing") return grpc::Status(grpc::NOT_FOUND, "no such thing");
    if (request->payload() == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(300));
    if (request->payload() == "forward" && downstream_ != nullptr) {
      grpc::ClientContext client;
      EchoRequest inner;
      inner.set_payload("inner");
      EchoResponse ignored;
      grpc::Status status = downstream_->Echo(&client, inner, &ignored);
      if (!status.ok()) return status;
    }
    response->set_payload(request->payload());
    return grpc::Status::OK;
  }

  grpc::Status ExportLearner(grpc::ServerContext*, const v1::ExportLearnerRequest*,
                             grpc::ServerWriter<v1::Statement>* writer) override {
    {
      absl::MutexLock lock(&mu_);
      seen_ids_.push_back(CurrentRequestId());
    }
    v1::Statement statement;
    writer->Write(statement);
    writer->Write(statement);
    return grpc::Status::OK;
  }

  void set_downstream(std::unique_ptr<LearningRecordService::Stub> stub) { downstream_ = std::move(stub); }
  std::vector<std::string> seen_ids() {
    absl::MutexLock lock(&mu_);
    return seen_ids_;
  }
  std::vector<std::string> seen_metadata() {
    absl::MutexLock lock(&mu_);
    return seen_metadata_;
  }

 private:
  std::unique_ptr<LearningRecordService::Stub> downstream_;
  absl::Mutex mu_;
  std::vector<std::string> seen_ids_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> seen_metadata_ ABSL_GUARDED_BY(mu_);
};

// Collects access log lines.
class LogSink {
 public:
  void Add(const nlohmann::json& line) {
    absl::MutexLock lock(&mu_);
    lines_.push_back(line);
  }
  std::vector<nlohmann::json> lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

 private:
  absl::Mutex mu_;
  std::vector<nlohmann::json> lines_ ABSL_GUARDED_BY(mu_);
};

// A server on 127.0.0.1:0 with the observability interceptors.
struct TestServer {
  TestService service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  void Start(RpcObservabilityOptions options) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    auto creators = MakeServerInterceptorFactories(std::move(options));
    ASSERT_TRUE(creators.ok()) << creators.status();
    builder.experimental().SetInterceptorCreators(std::move(*creators));
    server = builder.BuildAndStart();
    ASSERT_NE(server, nullptr);
    ASSERT_GT(port, 0);
  }
  std::unique_ptr<LearningRecordService::Stub> Stub(bool propagate = false) {
    const std::string target = absl::StrCat("127.0.0.1:", port);
    auto channel = propagate ? CreateChannelWithRequestId(target, grpc::InsecureChannelCredentials())
                             : grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    return LearningRecordService::NewStub(channel);
  }
  ~TestServer() {
    if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
};

grpc::Status CallEcho(LearningRecordService::Stub* stub, const std::string& payload, const std::string& request_id = "",
                      std::string* echoed_id = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!request_id.empty()) ctx.AddMetadata(kRequestIdMetadataKey, request_id);
  EchoRequest request;
  request.set_payload(payload);
  EchoResponse response;
  grpc::Status status = stub->Echo(&ctx, request, &response);
  if (echoed_id != nullptr) {
    auto it = ctx.GetServerInitialMetadata().find(kRequestIdMetadataKey);
    *echoed_id =
        it == ctx.GetServerInitialMetadata().end() ? "<none>" : std::string(it->second.data(), it->second.size());
  }
  return status;
}

class InterceptorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RpcObservabilityOptions options;
    options.registry = &registry_;
    options.access_log_sink = [this](const nlohmann::json& line) { log_.Add(line); };
    server_.Start(options);
  }

  metrics::MetricsRegistry registry_;
  LogSink log_;
  TestServer server_;
};

constexpr char kEchoLabels[] = "service=\"lifelong.v1.LearningRecordService\",method=\"Echo\"";

TEST_F(InterceptorsTest, CountsCallsByMethodAndCode) {
  auto stub = server_.Stub();
  EXPECT_EQ(CallEcho(stub.get(), "a").error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(CallEcho(stub.get(), "b").error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(CallEcho(stub.get(), "missing").error_code(), grpc::StatusCode::NOT_FOUND);

  const std::string text = registry_.Render();
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat("lifelong_grpc_requests_total{", kEchoLabels, ",code=\"OK\"} 2\n")))
      << text;
  EXPECT_TRUE(
      absl::StrContains(text, absl::StrCat("lifelong_grpc_requests_total{", kEchoLabels, ",code=\"NOT_FOUND\"} 1\n")))
      << text;
  EXPECT_TRUE(
      absl::StrContains(text, absl::StrCat("lifelong_grpc_request_duration_seconds_count{", kEchoLabels, "} 3\n")))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, absl::StrCat("lifelong_grpc_request_duration_seconds_bucket{", kEchoLabels, ",le=\"+Inf\"} 3\n")));
  // In-flight drops back to 0 once gRPC releases the finished calls.
  const std::string idle = absl::StrCat("lifelong_grpc_requests_in_flight{", kEchoLabels, "} 0\n");
  for (int i = 0; i < 100 && !absl::StrContains(registry_.Render(), idle); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(absl::StrContains(registry_.Render(), idle)) << registry_.Render();
}

TEST_F(InterceptorsTest, SampledAccessLogKeepsErrorsAndSlowCallsAndCountsTheRest) {
  LogConfig config;
  config.access_sample = 0;  // no ordinary call is logged
  config.access_slow_ms = 200;
  ASSERT_TRUE(ConfigureLogging(config).ok());
  const uint64_t sampled_before = LogStatistics().sampled_out;
  auto stub = server_.Stub();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(CallEcho(stub.get(), "fast").ok());
  EXPECT_EQ(CallEcho(stub.get(), "missing").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(CallEcho(stub.get(), "slow").ok());  // 300 ms
  ASSERT_TRUE(ConfigureLogging(LogConfig()).ok());
  std::vector<nlohmann::json> lines = log_.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["code"], "NOT_FOUND");
  EXPECT_EQ(lines[1]["code"], "OK");
  EXPECT_GE(lines[1]["duration_ms"].get<double>(), 200);
  EXPECT_EQ(LogStatistics().sampled_out - sampled_before, 5u);
  // Still counted in the metrics, with the log's own counters beside them.
  const std::string text = registry_.Render();
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat("lifelong_grpc_requests_total{", kEchoLabels, ",code=\"OK\"} 6\n")))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "\nlifelong_access_log_sampled_out_total ")) << text;
  EXPECT_TRUE(absl::StrContains(text, "\nlifelong_log_lines_dropped_total ")) << text;
  EXPECT_TRUE(absl::StrContains(text, "\nlifelong_log_lines_written_total ")) << text;
  EXPECT_TRUE(absl::StrContains(text, "\nlifelong_log_rotations_total ")) << text;
}

TEST_F(InterceptorsTest, RequestIdFromMetadataReachesHandlerLogAndResponse) {
  auto stub = server_.Stub();
  std::string echoed;
  ASSERT_TRUE(CallEcho(stub.get(), "x", "req-abc.123", &echoed).ok());
  EXPECT_EQ(server_.service.seen_ids(), std::vector<std::string>{"req-abc.123"});
  EXPECT_EQ(echoed, "req-abc.123");
  std::vector<nlohmann::json> lines = log_.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["request_id"], "req-abc.123");
  EXPECT_EQ(lines[0]["method"], "/lifelong.v1.LearningRecordService/Echo");
  EXPECT_EQ(lines[0]["code"], "OK");
  EXPECT_GE(lines[0]["duration_ms"].get<double>(), 0.0);
  EXPECT_TRUE(absl::StartsWith(lines[0]["peer"].get<std::string>(), "ipv4:127.0.0.1:")) << lines[0].dump();
}

TEST_F(InterceptorsTest, MissingOrInvalidIdIsReplacedByFreshOne) {
  auto stub = server_.Stub();
  std::string first, second;
  ASSERT_TRUE(CallEcho(stub.get(), "x", "", &first).ok());
  ASSERT_TRUE(CallEcho(stub.get(), "x", "bad id with spaces", &second).ok());
  std::vector<std::string> ids = server_.service.seen_ids();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0].size(), 32u);
  EXPECT_EQ(ids[1].size(), 32u);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_EQ(first, ids[0]);
  EXPECT_EQ(second, ids[1]);
  std::vector<nlohmann::json> lines = log_.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["request_id"], ids[0]);
  EXPECT_EQ(lines[1]["request_id"], ids[1]);
}

TEST_F(InterceptorsTest, ServerStreamingCallIsCountedAndSeesId) {
  auto stub = server_.Stub();
  grpc::ClientContext ctx;
  ctx.AddMetadata(kRequestIdMetadataKey, "stream-5");
  v1::ExportLearnerRequest request;
  auto reader = stub->ExportLearner(&ctx, request);
  v1::Statement statement;
  int received = 0;
  while (reader->Read(&statement)) ++received;
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(received, 2);
  EXPECT_EQ(server_.service.seen_ids(), std::vector<std::string>{"stream-5"});
  const std::string text = registry_.Render();
  EXPECT_TRUE(absl::StrContains(text,
                                "lifelong_grpc_requests_total{service="
                                "\"lifelong.v1.LearningRecordService\","
                                "method=\"ExportLearner\",code=\"OK\"} 1\n"))
      << text;
  ASSERT_EQ(log_.lines().size(), 1u);
  EXPECT_EQ(log_.lines()[0]["request_id"], "stream-5");
  EXPECT_EQ(log_.lines()[0]["method"], "/lifelong.v1.LearningRecordService/ExportLearner");
}

TEST_F(InterceptorsTest, CallPastItsDeadlineIsCountedAsDeadlineExceeded) {
  // The client gives up before the handler answers: the server records the
  // call once, with the client's code (not the OK the handler returned).
  auto stub = server_.Stub();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(50));
  v1::EchoRequest request;
  request.set_payload("slow");
  v1::EchoResponse response;
  EXPECT_EQ(stub->Echo(&ctx, request, &response).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  const std::string prefix =
      absl::StrCat("lifelong_grpc_requests_total{", kEchoLabels, ",code=\"DEADLINE_EXCEEDED\"} 1\n");
  for (int i = 0; i < 300 && !absl::StrContains(registry_.Render(), prefix); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(absl::StrContains(registry_.Render(), prefix)) << registry_.Render();
  ASSERT_EQ(log_.lines().size(), 1u);
  EXPECT_EQ(log_.lines()[0]["code"], "DEADLINE_EXCEEDED");
  EXPECT_FALSE(absl::StrContains(registry_.Render(), ",code=\"OK\"}"));
}

TEST_F(InterceptorsTest, OutgoingCallFromHandlerCarriesSameId) {
  LogSink downstream_log;  // must outlive the server
  TestServer downstream;
  RpcObservabilityOptions options;
  options.registry = &registry_;
  options.access_log_sink = [&downstream_log](const nlohmann::json& l) { downstream_log.Add(l); };
  downstream.Start(options);
  server_.service.set_downstream(downstream.Stub(/*propagate=*/true));

  auto stub = server_.Stub();
  ASSERT_TRUE(CallEcho(stub.get(), "forward", "trace-77").ok());
  EXPECT_EQ(server_.service.seen_ids(), std::vector<std::string>{"trace-77"});
  EXPECT_EQ(downstream.service.seen_metadata(), std::vector<std::string>{"trace-77"});
  EXPECT_EQ(downstream.service.seen_ids(), std::vector<std::string>{"trace-77"});
  ASSERT_EQ(downstream_log.lines().size(), 1u);
  EXPECT_EQ(downstream_log.lines()[0]["request_id"], "trace-77");

  // A generated id is propagated too.
  ASSERT_TRUE(CallEcho(stub.get(), "forward").ok());
  ASSERT_EQ(server_.service.seen_ids().size(), 2u);
  EXPECT_EQ(downstream.service.seen_ids().back(), server_.service.seen_ids().back());
}

TEST(RequestIdPropagation, AttachRequestIdAddsCurrentIdOnly) {
  {
    grpc::ClientContext ctx;
    AttachRequestId(&ctx);              // no current id: nothing to add
    metrics::MetricsRegistry registry;  // must outlive the server
    TestServer server;
    RpcObservabilityOptions options;
    options.registry = &registry;
    options.access_log = false;
    server.Start(options);
    auto stub = server.Stub();
    EchoRequest request;
    EchoResponse response;
    ASSERT_TRUE(stub->Echo(&ctx, request, &response).ok());
    grpc::ClientContext with_id;
    {
      ScopedRequestId scoped("attached-1");
      AttachRequestId(&with_id);
    }
    ASSERT_TRUE(stub->Echo(&with_id, request, &response).ok());
    std::vector<std::string> seen = server.service.seen_metadata();
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0], "<none>");
    EXPECT_EQ(seen[1], "attached-1");
  }
}

TEST(AccessLog, DefaultSinkWritesJsonLineToStderr) {
  const std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/stderr.log");
  const int file = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  ASSERT_GE(file, 0);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(file, STDERR_FILENO);
  {
    metrics::MetricsRegistry registry;
    RpcObservabilityOptions options;
    options.registry = &registry;
    TestServer server;
    server.Start(options);
    auto stub = server.Stub();
    ASSERT_TRUE(CallEcho(stub.get(), "missing", "stderr-id-9").error_code() == grpc::StatusCode::NOT_FOUND);
  }
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  std::string line;
  int found = 0;
  while (std::getline(in, line)) {
    if (!absl::StrContains(line, "stderr-id-9")) continue;
    nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_EQ(j["event"], "rpc");
    EXPECT_EQ(j["level"], "info");
    EXPECT_EQ(j["code"], "NOT_FOUND");
    EXPECT_EQ(j["method"], "/lifelong.v1.LearningRecordService/Echo");
    EXPECT_TRUE(j.contains("duration_ms"));
    EXPECT_TRUE(j.contains("peer"));
    ++found;
  }
  EXPECT_EQ(found, 1);
}

TEST(StatusCodeName, NamesEveryCode) {
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_STREQ(StatusCodeName(static_cast<grpc::StatusCode>(99)), "UNKNOWN");
}

TEST(MakeServerInterceptorFactories, RejectsBadBuckets) {
  metrics::MetricsRegistry registry;
  RpcObservabilityOptions options;
  options.registry = &registry;
  options.latency_buckets = {1, 0.5};
  EXPECT_EQ(MakeServerInterceptorFactories(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lifelong
