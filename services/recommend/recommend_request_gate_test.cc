// The request gate of RecommendService (recommend_service.h, class comment):
// no request of a synchronous method is parsed before its caller has proved
// who they are, nor past its method's size bound. A real recommend server on
// a real port, authentication on, fake record and catalog services. Its own
// binary, so that the peak-memory figure of the first test is not hidden
// under an earlier test's peak.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/auth/permissions.h"
#include "services/auth/token.h"
#include "services/recommend/recommend_server.h"
#include "services/recommend/recommend_service.h"
#include "services/recommend/request_validation.h"
#include "services/recommend/test_support.h"
#include "tests/testing/junk_requests.h"

namespace lifelong::recommend {
namespace {

using ::lifelong::testing::PeakRssMb;
using ::lifelong::testing::UnknownEmptyFields;

constexpr char kService[] = "lifelong.v1.RecommendationService";

class RecommendRequestGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = absl::Now();
    for (const v1::Course& c : testing::TestCatalog(now_)) catalog_.Put(c);
    records_server_ = testing::StartFake(&records_);
    catalog_server_ = testing::StartFake(&catalog_);
    const std::string model_dir = testing::NewTempDir("models");
    ASSERT_TRUE(testing::WriteTestModel(model_dir).ok());

    ao_.enabled = true;
    ao_.token.key = "recommend-request-gate-test-key-0123456789";
    ao_.limits.requests_per_second = 1000;
    ao_.limits.burst = 1000;
    authorizer_ = std::make_unique<auth::Authorizer>(ao_);

    RecommendServerOptions o;
    o.model_dir = model_dir;
    o.records_target = absl::StrCat("127.0.0.1:", records_server_->port());
    o.catalog_target = absl::StrCat("127.0.0.1:", catalog_server_->port());
    o.model_poll = absl::Hours(1);
    o.catalog_refresh = absl::Milliseconds(100);
    o.records_deadline = absl::Milliseconds(300);
    o.authorizer = authorizer_.get();  // max_receive_bytes: kRecommendMaxReceiveBytes, as recommend_server
    auto server = RecommendServer::Start(std::move(o));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    // Ready without calls (they need credentials): a model and the catalog.
    const absl::Time until = absl::Now() + absl::Seconds(60);
    while ((server_->models().Current() == nullptr || !server_->catalog().Current().ok()) && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_NE(server_->models().Current(), nullptr);
    ASSERT_TRUE(server_->catalog().Current().ok());
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials());
    operator_token_ = Token("operator-1", auth::Role::kOperator);
    learner_token_ = Token("u1", auth::Role::kLearner);
  }

  std::string Token(const std::string& subject, auth::Role role) {
    auth::Principal p;
    p.subject = subject;
    p.role = role;
    if (role == auth::Role::kKiosk) p.venue = "venue-1";
    if (role == auth::Role::kTeacher) p.courses = {"course-1"};
    absl::StatusOr<std::string> token = auth::MintToken(p, absl::Minutes(5), ao_.token);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? *token : std::string();
  }

  // One call of `method` with `bytes` as its request, as they are; `token`
  // "": none.
  std::future<grpc::Status> Start(absl::string_view method, const std::string& bytes, const std::string& token) {
    return lifelong::testing::StartRawCall(channel_, absl::StrCat("/", kService, "/", method), bytes, token);
  }
  grpc::Status Send(absl::string_view method, const std::string& bytes, const std::string& token) {
    return Start(method, bytes, token).get();
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    ctx->AddMetadata("authorization", "Bearer " + token);
    return ctx;
  }

  absl::Time now_;
  testing::FakeRecords records_;
  testing::FakeCatalog catalog_;
  std::unique_ptr<RunningGrpcServer> records_server_;
  std::unique_ptr<RunningGrpcServer> catalog_server_;
  auth::AuthOptions ao_;
  std::unique_ptr<auth::Authorizer> authorizer_;  // outlives server_
  std::unique_ptr<RecommendServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string operator_token_;
  std::string learner_token_;
};

// Eight concurrent calls without credentials, each some 256 KB of unknown
// fields (just under kRecommendMaxReceiveBytes): parsed before the handler
// looked at the credentials, each cost several MB. Now: the bytes only.
TEST_F(RecommendRequestGateTest, JunkCostsItsBytesNotAParse) {
  const std::string junk = UnknownEmptyFields(kRecommendMaxReceiveBytes / 3 - 100);
  constexpr int kCalls = 8;
  const long before = PeakRssMb();
  std::vector<std::future<grpc::Status>> calls;
  const char* methods[] = {"PlanPath", "SimilarCourses", "Echo", "GetModelStatus", "Recommend"};
  for (int i = 0; i < kCalls; ++i) calls.push_back(Start(methods[i % 5], junk, /*token=*/""));
  for (std::future<grpc::Status>& call : calls) {
    grpc::Status s = call.get();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  }
  // The requests, their copies in slices and gRPC's buffers on both sides.
  std::printf("peak memory: +%ld MB for %d concurrent %zu-byte requests without credentials\n", PeakRssMb() - before,
              kCalls, junk.size());
  EXPECT_LT(PeakRssMb() - before, 20) << "MB more at the peak";
}

// Every method of the service, so that a method added later cannot skip the
// gate: without credentials UNAUTHENTICATED; with them, bytes over the
// method's bound RESOURCE_EXHAUSTED naming the method and its bound, and
// bytes that are no request INVALID_ARGUMENT, both before the method looks
// at its request.
TEST_F(RecommendRequestGateTest, EveryMethodAuthenticatesThenBoundsThenParses) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(kService);
  ASSERT_NE(service, nullptr);
  int gated = 0;
  int refused_roles = 0;
  for (int i = 0; i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* m = service->method(i);
    const std::string method = m->name();
    ASSERT_FALSE(m->client_streaming() || m->server_streaming()) << "the gate serves unary methods only";
    ++gated;
    const size_t bound = RecommendService::MaxRequestBytes(method);
    // Under the transport's limit, so that the gate answers, naming the method.
    ASSERT_LT(bound + 3, static_cast<size_t>(kRecommendMaxReceiveBytes));
    lifelong::testing::ExpectGated(channel_, *m, bound, operator_token_);
    // A role the method is not granted to: refused before the parse
    // (Recommend authorizes fully before it parses).
    const std::string op = absl::StrCat("/", kService, "/", method);
    for (auth::Role role : auth::AllRoles()) {
      if (auth::GrantOf(op, role) != auth::Scope::kDenied) continue;
      SCOPED_TRACE(auth::RoleName(role));
      lifelong::testing::ExpectRoleRefusedBeforeParse(channel_, *m, bound, Token("someone", role));
      ++refused_roles;
    }
  }
  EXPECT_EQ(gated, service->method_count());
  EXPECT_GE(refused_roles, 6 * 3);  // every role but the operator's on the model methods
  EXPECT_EQ(RecommendService::MaxRequestBytes("PlanPath"), kMaxPlanPathRequestBytes);
  EXPECT_EQ(RecommendService::MaxRequestBytes("SimilarCourses"), kMaxRecommendQueryRequestBytes);
  EXPECT_EQ(RecommendService::MaxRequestBytes("Echo"), kMaxRecommendQueryRequestBytes);
}

// Under the bounds the methods answer as before, newer clients' unknown
// fields included, and authorization stays the handlers'.
TEST_F(RecommendRequestGateTest, RequestsUnderTheBoundsAreServed) {
  auto stub = v1::RecommendationService::NewStub(channel_);

  v1::RecommendRequest recommend;
  recommend.set_learner("u1");
  recommend.set_k(5);
  v1::RecommendResponse recommended;
  grpc::Status s = stub->Recommend(Ctx(learner_token_).get(), recommend, &recommended);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  EXPECT_GT(recommended.recommendations_size(), 0);

  v1::SimilarCoursesRequest similar;
  similar.set_course_id("c_sf1");
  similar.set_k(5);
  // The largest filter validation accepts.
  for (int i = 0; i < kMaxListValues; ++i)
    similar.mutable_filter()->add_categories(std::string(60, 'a') + std::to_string(1000 + i));
  ASSERT_LT(similar.ByteSizeLong(), kMaxRecommendQueryRequestBytes / 2);
  const std::string similar_bytes = similar.SerializeAsString() + UnknownEmptyFields(3);
  s = Send("SimilarCourses", similar_bytes, learner_token_);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();

  v1::ModelStatus status;
  s = stub->GetModelStatus(Ctx(operator_token_).get(), {}, &status);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  EXPECT_EQ(status.version(), 1);

  v1::EchoRequest echo;
  echo.set_payload(std::string(60000, 'x'));
  v1::EchoResponse echoed;
  s = stub->Echo(Ctx(learner_token_).get(), echo, &echoed);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  EXPECT_EQ(echoed.payload(), echo.payload());

  v1::PlanPathRequest plan;
  plan.set_learner("u1");
  plan.set_course_id("c_sf1");
  v1::PlanPathResponse path;
  s = stub->PlanPath(Ctx(learner_token_).get(), plan, &path);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();

  // A learner passes the gate (authenticated) but may not operate models,
  // nor plan for another learner.
  s = stub->GetModelStatus(Ctx(learner_token_).get(), {}, &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  plan.set_learner("u2");
  s = stub->PlanPath(Ctx(learner_token_).get(), plan, &path);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
}

}  // namespace
}  // namespace lifelong::recommend
