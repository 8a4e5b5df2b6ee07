// The request gate of CatalogService (catalog_service.h, class comment): no
// request is parsed before its caller has proved who they are, nor past its
// method's size bound. A real server on a real port, authentication on. Its
// own binary, so that the peak-memory figure of the first test is not hidden
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
#include "absl/time/time.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/auth/token.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/catalog_store.h"
#include "services/catalog/course_validation.h"
#include "services/catalog/test_courses.h"
#include "services/common/server.h"
#include "tests/testing/junk_requests.h"
#include "tests/testing/subprocess.h"

namespace lifelong::catalog {
namespace {

using ::lifelong::testing::PeakRssMb;
using ::lifelong::testing::UnknownEmptyFields;

constexpr char kService[] = "lifelong.v1.CourseCatalogService";

class CatalogRequestGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ao_.enabled = true;
    ao_.token.key = "catalog-request-gate-test-key-0123456789";
    ao_.limits.requests_per_second = 1000;
    ao_.limits.burst = 1000;
    authorizer_ = std::make_unique<auth::Authorizer>(ao_);
    auto store = CatalogStore::Open(lifelong::testing::FreshTempDir("catalog_request_gate"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    service_ = std::make_unique<CatalogService>(store_.get(), authorizer_.get());
    GrpcServerOptions so;
    so.max_receive_bytes = kCatalogMaxReceiveBytes;  // as catalog_server
    auto server = StartGrpcServer(so, {service_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials());
    auth::Principal op;
    op.subject = "operator-1";
    op.role = auth::Role::kOperator;
    token_ = *auth::MintToken(op, absl::Minutes(5), ao_.token);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    if (store_) {
      EXPECT_TRUE(store_->Close().ok());
    }
  }

  // One call of `method` with `bytes` as its request, as they are.
  std::future<grpc::Status> Start(absl::string_view method, const std::string& bytes, bool with_token) {
    return lifelong::testing::StartRawCall(channel_, absl::StrCat("/", kService, "/", method), bytes,
                                           with_token ? token_ : "");
  }
  grpc::Status Send(absl::string_view method, const std::string& bytes, bool with_token) {
    return Start(method, bytes, with_token).get();
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    ctx->AddMetadata("authorization", "Bearer " + token_);
    return ctx;
  }

  auth::AuthOptions ao_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<CatalogStore> store_;
  std::unique_ptr<CatalogService> service_;
  std::unique_ptr<RunningGrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string token_;
};

// `n` characters of U+20000 (4 bytes each in UTF-8): the most bytes a
// character limit lets through.
std::string Wide(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "\xF0\xA0\x80\x80";
  return out;
}

// Eight concurrent calls without credentials, each 1 MB of unknown fields
// (just under kCatalogMaxReceiveBytes): parsed before the handler looked at
// the credentials, each cost some 20 MB. Now: the bytes only.
TEST_F(CatalogRequestGateTest, JunkCostsItsBytesNotAParse) {
  const std::string junk = UnknownEmptyFields(kCatalogMaxReceiveBytes / 3 - 100);
  constexpr int kCalls = 8;
  const long before = PeakRssMb();
  std::vector<std::future<grpc::Status>> calls;
  const char* methods[] = {"ListCourses", "CreateCourse", "Echo", "GetCatalogInfo"};
  for (int i = 0; i < kCalls; ++i) calls.push_back(Start(methods[i % 4], junk, /*with_token=*/false));
  for (std::future<grpc::Status>& call : calls) {
    grpc::Status s = call.get();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  }
  // The requests, their copies in slices and gRPC's buffers on both sides.
  std::printf("peak memory: +%ld MB for %d concurrent %zu-byte requests without credentials\n", PeakRssMb() - before,
              kCalls, junk.size());
  EXPECT_LT(PeakRssMb() - before, 60) << "MB more at the peak";
}

// Every method of the service, so that a method added later cannot skip the
// gate: without credentials UNAUTHENTICATED; with them, bytes over the
// method's bound RESOURCE_EXHAUSTED naming the method and its bound, and
// bytes that are no request INVALID_ARGUMENT, both before the method looks
// at its request.
TEST_F(CatalogRequestGateTest, EveryMethodAuthenticatesThenBoundsThenParses) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(kService);
  ASSERT_NE(service, nullptr);
  for (int i = 0; i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* m = service->method(i);
    const std::string method = m->name();
    ASSERT_FALSE(m->client_streaming() || m->server_streaming()) << "the gate serves unary methods only";
    const size_t bound = CatalogService::MaxRequestBytes(method);
    // Under the transport's limit, so that the gate answers, naming the method.
    ASSERT_LT(bound + 3, static_cast<size_t>(kCatalogMaxReceiveBytes));
    lifelong::testing::ExpectGated(channel_, *m, bound, token_);
  }
  EXPECT_EQ(CatalogService::MaxRequestBytes("CreateCourse"), kMaxCatalogWriteRequestBytes);
  EXPECT_EQ(CatalogService::MaxRequestBytes("UpdateCourse"), kMaxCatalogWriteRequestBytes);
  EXPECT_EQ(CatalogService::MaxRequestBytes("PutProgramme"), kMaxCatalogWriteRequestBytes);
  EXPECT_EQ(CatalogService::MaxRequestBytes("BatchGetCourses"), kMaxBatchGetRequestBytes);
  EXPECT_EQ(CatalogService::MaxRequestBytes("GetCourse"), kMaxCatalogQueryRequestBytes);
}

// Under the bounds the methods answer as before, the largest valid writes
// and batches and newer clients' unknown fields included.
TEST_F(CatalogRequestGateTest, RequestsUnderTheBoundsAreServed) {
  auto stub = v1::CourseCatalogService::NewStub(channel_);

  // The largest course validation accepts: every capped field at its cap, in
  // 4-byte characters where characters are counted.
  ASSERT_TRUE(store_->CreateCourse(testing::ValidCourse("c-prereq")).ok());
  v1::CreateCourseRequest create;
  v1::Course* c = create.mutable_course();
  *c = testing::ValidCourse("c-largest");
  c->set_title(Wide(kMaxTitleChars));
  c->set_description(Wide(kMaxDescriptionChars));
  c->set_category(Wide(kMaxCategoryChars));
  for (int i = 0; i < kMaxTags; ++i) c->add_tags(Wide(kMaxTagChars - 2) + std::to_string(10 + i));
  c->mutable_provider()->set_name(Wide(kMaxProviderNameChars));
  c->mutable_venue()->set_name(Wide(kMaxVenueNameChars));
  c->mutable_venue()->set_address(Wide(kMaxAddressChars));
  c->mutable_venue()->set_xuequ(Wide(kMaxAreaChars));
  c->mutable_venue()->set_jiedao(Wide(kMaxAreaChars));
  for (int i = 0; i < kMaxSessions; ++i) {
    v1::Session* session = c->add_sessions();
    session->mutable_start_time()->set_seconds(1800000000 + i * 7200);
    session->mutable_end_time()->set_seconds(1800000000 + i * 7200 + 3600);
    session->set_room(Wide(kMaxRoomChars));
  }
  c->set_url("https://example.org/" + std::string(kMaxUrlBytes - 20, 'a'));
  c->add_prerequisite_ids("c-prereq");
  std::printf("largest valid CreateCourse: %zu bytes\n", create.ByteSizeLong());
  ASSERT_LT(create.ByteSizeLong(), kMaxCatalogWriteRequestBytes / 2) << "keep the headroom documented";
  v1::Course created;
  grpc::Status s = stub->CreateCourse(Ctx().get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message().substr(0, 300);
  EXPECT_EQ(created.sessions_size(), kMaxSessions);

  v1::UpdateCourseRequest update;
  *update.mutable_course() = created;
  update.mutable_course()->set_title(Wide(kMaxTitleChars - 1) + "x");
  update.mutable_update_mask()->add_paths("title");
  v1::Course updated;
  s = stub->UpdateCourse(Ctx().get(), update, &updated);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message().substr(0, 300);

  // The largest valid programme.
  v1::PutProgrammeRequest put;
  v1::Programme* p = put.mutable_programme();
  p->set_id("p-largest");
  p->set_name(Wide(200));
  p->set_description(Wide(20000));
  p->set_issuer(Wide(128));
  p->set_credits(1000);
  for (int i = 0; i < kMaxProgrammeRules; ++i) {
    v1::Programme::CreditRequirement* r = p->add_by_category();
    r->set_category(Wide(kMaxCategoryChars - 2) + std::to_string(10 + i));
    r->set_credits(1);
  }
  p->add_required_course_ids("c-largest");
  std::printf("largest valid PutProgramme: %zu bytes\n", put.ByteSizeLong());
  ASSERT_LT(put.ByteSizeLong(), kMaxCatalogWriteRequestBytes / 2);
  v1::Programme stored;
  s = stub->PutProgramme(Ctx().get(), put, &stored);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message().substr(0, 300);

  // The largest batch: kMaxBatchGet ids of 64 bytes.
  const std::string long_id(64, 'b');
  ASSERT_TRUE(store_->CreateCourse(testing::ValidCourse(long_id)).ok());
  v1::BatchGetCoursesRequest batch;
  for (int i = 0; i < kMaxBatchGet; ++i) batch.add_ids(long_id);
  ASSERT_GT(batch.ByteSizeLong(), kMaxCatalogQueryRequestBytes);
  ASSERT_LE(batch.ByteSizeLong(), kMaxBatchGetRequestBytes);
  v1::BatchGetCoursesResponse got;
  s = stub->BatchGetCourses(Ctx().get(), batch, &got);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message().substr(0, 300);
  EXPECT_EQ(got.courses_size(), kMaxBatchGet);

  // Reads, one with fields a newer client might send.
  v1::GetCourseRequest get;
  get.set_id("c-largest");
  const std::string get_bytes = get.SerializeAsString() + UnknownEmptyFields(3);
  s = Send("GetCourse", get_bytes, /*with_token=*/true);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  v1::ListCoursesRequest list;
  list.set_page_size(kMaxPageSize);
  v1::ListCoursesResponse page;
  s = stub->ListCourses(Ctx().get(), list, &page);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  EXPECT_EQ(page.courses_size(), 3);
  v1::CatalogInfo info;
  s = stub->GetCatalogInfo(Ctx().get(), {}, &info);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  EXPECT_EQ(info.course_count(), 3);
  v1::EchoRequest echo;
  echo.set_payload(std::string(60000, 'x'));
  v1::EchoResponse echoed;
  s = stub->Echo(Ctx().get(), echo, &echoed);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  EXPECT_EQ(echoed.payload(), echo.payload());

  // Authorization stays the handlers': a learner's valid write is refused
  // for its role, not its size.
  auth::Principal learner;
  learner.subject = "u000001";
  learner.role = auth::Role::kLearner;
  grpc::ClientContext learner_ctx;
  learner_ctx.AddMetadata("authorization", "Bearer " + *auth::MintToken(learner, absl::Minutes(5), ao_.token));
  s = stub->PutProgramme(&learner_ctx, put, &stored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  const std::string denied = s.error_message();

  // A role the method is not granted to is refused before the request is
  // parsed: junk gets the same refusal, not INVALID_ARGUMENT.
  const std::string learner_token = *auth::MintToken(learner, absl::Minutes(5), ao_.token);
  auto as_learner = [&](absl::string_view method, const std::string& bytes) {
    return lifelong::testing::StartRawCall(channel_, absl::StrCat("/", kService, "/", method), bytes, learner_token)
        .get();
  };
  s = as_learner("PutProgramme", std::string("\x0a\x05") + "ab");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_EQ(s.error_message(), denied);
  s = as_learner("CreateCourse", UnknownEmptyFields(kMaxCatalogWriteRequestBytes / 3));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  // A role that may call it still gets its request parsed and checked.
  s = as_learner("GetCourse", std::string("\x0a\x05") + "ab");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
}

}  // namespace
}  // namespace lifelong::catalog
