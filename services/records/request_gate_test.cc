// The request gate of RecordsService (records_service.h, class comment): no
// request is parsed before its caller has proved who they are, nor past its
// method's size limit. Its own binary, so that the peak-memory figure of the
// first test is not hidden under an earlier test's peak.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include <google/protobuf/descriptor.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/auth/authorizer.h"
#include "services/auth/permissions.h"
#include "services/auth/token.h"
#include "services/common/server.h"
#include "services/records/records_service.h"
#include "services/records/test_statements.h"
#include "tests/testing/junk_requests.h"
#include "tests/testing/records_fixture.h"
#include "tests/testing/subprocess.h"

namespace lifelong::records {
namespace {

using ::lifelong::testing::PeakRssMb;
using ::lifelong::testing::UnknownEmptyFields;

using testing::MakeStatement;
using testing::TestUuid;

constexpr char kService[] = "lifelong.v1.LearningRecordService";

class RequestGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ao_.enabled = true;
    ao_.token.key = "request-gate-test-key-0123456789abcdef";
    authorizer_ = std::make_unique<auth::Authorizer>(ao_);
    store_ = std::move(*RecordStore::Open(lifelong::testing::FreshTempDir("request_gate")));
    RecordsService::Options o;
    o.authorizer = authorizer_.get();
    service_ = std::make_unique<RecordsService>(store_.get(), o);
    server_ = std::move(*StartGrpcServer(GrpcServerOptions{}, {service_.get()}));  // 64 MiB transport limit
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials());
    auth::Principal learner;
    learner.subject = "u000001";
    learner.role = auth::Role::kLearner;
    token_ = *auth::MintToken(learner, absl::Minutes(5), ao_.token);
  }
  void TearDown() override { server_->Shutdown(); }

  // A token of `role` (a kiosk at a venue, a teacher of one course).
  std::string TokenOf(auth::Role role) {
    const std::string subject = role == auth::Role::kLearner ? "u000001" : absl::StrCat(auth::RoleName(role), "-1");
    return *auth::MintToken(lifelong::testing::TestPrincipal(role, subject), absl::Minutes(5), ao_.token);
  }

  // One call of `method` with `bytes` as its request, as they are.
  grpc::Status Send(absl::string_view method, const std::string& bytes, bool with_token) {
    return lifelong::testing::StartRawCall(channel_, absl::StrCat("/", kService, "/", method), bytes,
                                           with_token ? token_ : "")
        .get();
  }

  auth::AuthOptions ao_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<RecordStore> store_;
  std::unique_ptr<RecordsService> service_;
  std::unique_ptr<RunningGrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string token_;
};

// 15 MB of them (under the 16 MiB transport limit) was ~320 MB parsed, before
// the handler looked at the caller. Now: the bytes only, with credentials or
// without.
TEST_F(RequestGateTest, JunkCostsItsBytesNotAParse) {
  const std::string junk = UnknownEmptyFields(5 * 1000 * 1000);
  const long before = PeakRssMb();
  grpc::Status s = Send("ListStatements", junk, /*with_token=*/false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  s = Send("ListStatements", junk, /*with_token=*/true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  s = Send("Echo", junk, /*with_token=*/true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  s = Send("ExportStatements", junk, /*with_token=*/true);  // not a learner's method
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  s = Send("RecordStatement", junk, /*with_token=*/true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  // The request, its copy in a slice and gRPC's buffers on both sides.
  std::printf("peak memory: +%ld MB for 15 MB requests\n", PeakRssMb() - before);
  EXPECT_LT(PeakRssMb() - before, 150) << "MB more at the peak";
}

// Every method of the service, so that a method added later cannot skip the
// gate: without credentials UNAUTHENTICATED; with them, a role the method is
// not granted to PERMISSION_DENIED (junk or not: before the parse), and for
// a granted role bytes over the method's limit RESOURCE_EXHAUSTED naming the
// limit, and bytes that are no request INVALID_ARGUMENT, both before the
// method looks at its request.
TEST_F(RequestGateTest, EveryMethodAuthenticatesThenBoundsThenParses) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(kService);
  ASSERT_NE(service, nullptr);
  const std::string over = UnknownEmptyFields(kMaxQueryRequestBytes / 3 + 1);
  const std::string truncated =
      "\x0a\x05"
      "ab";  // field 1: 5 bytes announced, 2 sent
  int checked = 0;
  int refused_roles = 0;
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string method = service->method(i)->name();
    SCOPED_TRACE(method);
    // Their own gate: a wire walk bounding statements and fields (below;
    // records_service_test, AHugeBatchIsRefusedBeforeItIsParsed).
    if (method == "RecordStatements" || method == "RecordStatement") continue;
    // A stream of acknowledgements, read by the method after Run has
    // admitted the caller; its first message is no request.
    if (method == "WatchLearnerChanges") continue;

    const std::string op = absl::StrCat("/", kService, "/", method);
    std::optional<auth::Role> granted;
    for (auth::Role role : auth::AllRoles()) {
      if (auth::GrantOf(op, role) == auth::Scope::kDenied) {
        SCOPED_TRACE(auth::RoleName(role));
        lifelong::testing::ExpectRoleRefusedBeforeParse(channel_, *service->method(i), kMaxQueryRequestBytes,
                                                        TokenOf(role));
        ++refused_roles;
      } else if (!granted) {
        granted = role;
      }
    }
    ASSERT_TRUE(granted.has_value()) << "no role may call it";
    lifelong::testing::ExpectGated(channel_, *service->method(i), kMaxQueryRequestBytes, TokenOf(*granted));
    ++checked;
  }
  EXPECT_EQ(checked, service->method_count() - 3);
  EXPECT_GT(refused_roles, 20);  // e.g. a learner's BindLearnerCard, a kiosk's EraseLearner

  // RecordStatement: at most 16 fields, counted on the wire; a statement
  // too big is named by its parse.
  grpc::Status s = Send("RecordStatement", over, /*with_token=*/false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  s = Send("RecordStatement", over, /*with_token=*/true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message(), "request: more than 16 fields");
  s = Send("RecordStatement", truncated, /*with_token=*/true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message(), "request: not a lifelong.v1.RecordStatementRequest");
}

// Under the limits the methods answer as before, unknown fields and all.
TEST_F(RequestGateTest, RequestsUnderTheLimitsAreServed) {
  v1::RecordStatementRequest write;
  write.set_statement_json(MakeStatement({.id = TestUuid(7), .learner = "u000001"}));
  write.set_view(v1::STATEMENT_VIEW_FULL);
  std::string bytes = write.SerializeAsString() + UnknownEmptyFields(3);  // newer clients' fields
  ASSERT_TRUE(Send("RecordStatement", bytes, true).ok());
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(7))).ok());

  auto stub = v1::LearningRecordService::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token_);
  v1::ListStatementsRequest list;
  list.set_learner("u000001");
  v1::ListStatementsResponse page;
  grpc::Status s = stub->ListStatements(&ctx, list, &page);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(page.statements_size(), 1);
  EXPECT_EQ(page.statements(0).id(), TestUuid(7));

  grpc::ClientContext echo_ctx;
  echo_ctx.AddMetadata("authorization", "Bearer " + token_);
  v1::EchoRequest echo;
  echo.set_payload(std::string(60000, 'x'));
  v1::EchoResponse echoed;
  s = stub->Echo(&echo_ctx, echo, &echoed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(echoed.payload(), echo.payload());

  grpc::ClientContext export_ctx;
  export_ctx.AddMetadata("authorization", "Bearer " + token_);
  v1::ExportLearnerRequest exp;
  exp.set_learner("u000001");
  auto reader = stub->ExportLearner(&export_ctx, exp);
  v1::Statement st;
  int n = 0;
  while (reader->Read(&st)) ++n;
  s = reader->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace lifelong::records
