// Authorization of the recommendation service over a real gRPC connection:
// every method for every role (a granted call may still fail for want of a
// model, never with PERMISSION_DENIED), learners only for themselves, kiosks
// only for the learner who identified, no credential -> UNAUTHENTICATED.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/auth/permissions.h"
#include "services/auth/token.h"
#include "services/recommend/recommend_server.h"

namespace lifelong {
namespace {

using auth::Principal;
using auth::Role;

constexpr char kKey[] = "recommend-access-test-key-0123456789abcd";

class RecommendAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/recommend_access";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir + "/models");
    auth::AuthOptions o;
    o.enabled = true;
    o.token.key = kKey;
    authorizer_ = std::make_unique<auth::Authorizer>(o);
    recommend::RecommendServerOptions ro;
    ro.model_dir = dir + "/models";  // no model: granted calls answer UNAVAILABLE
    ro.records_target = "127.0.0.1:1";
    ro.catalog_target = "127.0.0.1:1";
    ro.authorizer = authorizer_.get();
    auto server = recommend::RecommendServer::Start(ro);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = v1::RecommendationService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(); }

  Principal Of(Role role) {
    Principal p;
    p.role = role;
    p.subject = role == Role::kLearner ? "u1" : absl::StrCat("who-", auth::RoleName(role));
    if (role == Role::kKiosk) {
      p.venue = "和平里社区学校";
      p.learner = "u1";  // a session after u1 identified at the kiosk
    }
    return p;
  }

  grpc::Status Call(const std::string& method, const Principal& p, const std::string& learner = "u1") {
    grpc::ClientContext ctx;
    auth::TokenOptions o;
    o.key = kKey;
    ctx.AddMetadata("authorization", "Bearer " + *auth::MintToken(p, absl::Minutes(5), o));
    if (method == "Recommend") {
      v1::RecommendRequest r;
      r.set_learner(learner);
      r.set_k(5);
      v1::RecommendResponse out;
      return stub_->Recommend(&ctx, r, &out);
    }
    if (method == "SimilarCourses") {
      v1::SimilarCoursesRequest r;
      r.set_course_id("c1");
      r.set_k(5);
      v1::SimilarCoursesResponse out;
      return stub_->SimilarCourses(&ctx, r, &out);
    }
    if (method == "GetModelStatus") {
      v1::ModelStatus out;
      return stub_->GetModelStatus(&ctx, v1::GetModelStatusRequest(), &out);
    }
    if (method == "PinModelVersion") {
      v1::PinModelVersionRequest r;
      r.set_version(1);
      v1::ModelStatus out;
      return stub_->PinModelVersion(&ctx, r, &out);
    }
    if (method == "PlanPath") {
      v1::PlanPathRequest r;
      r.set_learner(learner);
      r.set_category("书法");
      v1::PlanPathResponse out;
      return stub_->PlanPath(&ctx, r, &out);
    }
    if (method == "UnpinModelVersion") {
      v1::ModelStatus out;
      return stub_->UnpinModelVersion(&ctx, v1::UnpinModelVersionRequest(), &out);
    }
    v1::EchoResponse out;
    return stub_->Echo(&ctx, v1::EchoRequest(), &out);
  }

  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<recommend::RecommendServer> server_;
  std::unique_ptr<v1::RecommendationService::Stub> stub_;
};

TEST_F(RecommendAccessTest, EveryRoleAndEveryMethod) {
  for (const char* method :
       {"Recommend", "SimilarCourses", "GetModelStatus", "PinModelVersion", "UnpinModelVersion", "Echo", "PlanPath"}) {
    std::string op = absl::StrCat("/lifelong.v1.RecommendationService/", method);
    for (Role role : auth::AllRoles()) {
      grpc::Status s = Call(method, Of(role));
      SCOPED_TRACE(absl::StrCat(op, " as ", auth::RoleName(role), ": ", s.error_code(), " ", s.error_message()));
      EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
      if (auth::GrantOf(op, role) == auth::Scope::kDenied) {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
      } else {
        EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
      }
    }
  }
}

TEST_F(RecommendAccessTest, LearnersForThemselvesKiosksForTheIdentifiedLearner) {
  EXPECT_EQ(Call("Recommend", Of(Role::kLearner), "u2").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Call("Recommend", Of(Role::kKiosk), "u2").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  Principal plain_kiosk = Of(Role::kKiosk);
  plain_kiosk.learner.clear();  // no one identified
  EXPECT_EQ(Call("Recommend", plain_kiosk, "u1").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Anonymous cold start at a kiosk reads nobody's records: allowed.
  EXPECT_NE(Call("Recommend", plain_kiosk, "").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(Call("Recommend", Of(Role::kOperator), "u2").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A plan is as personal as a recommendation.
  EXPECT_EQ(Call("PlanPath", Of(Role::kLearner), "u2").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Call("PlanPath", Of(Role::kKiosk), "u2").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(Call("PlanPath", Of(Role::kLearner), "u1").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext none;
  v1::RecommendResponse out;
  v1::RecommendRequest r;
  r.set_learner("u1");
  r.set_k(5);
  EXPECT_EQ(stub_->Recommend(&none, r, &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace lifelong
