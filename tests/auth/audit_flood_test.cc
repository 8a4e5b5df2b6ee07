// The audit log under misuse, over a real gRPC connection: a flood of
// garbage credentials is counted and sampled rather than written row by row
// and is slowed down per client address; refused calls of a verified
// principal (wrong role, over its rate) keep its subject and role.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/auth/token.h"
#include "services/common/server.h"
#include "services/records/record_store.h"
#include "services/records/records_service.h"
#include "services/xapi/credentials.h"
#include "services/xapi/document_store.h"
#include "services/xapi/xapi_handler.h"
#include "services/xapi/xapi_http_server.h"

namespace lifelong {
namespace {

using auth::Principal;
using auth::Role;

constexpr char kKey[] = "audit-flood-test-key-0123456789abcdef012";

Principal Of(Role role, const std::string& subject) {
  Principal p;
  p.role = role;
  p.subject = subject;
  p.token_id = "jti-" + subject;
  if (role == Role::kKiosk) p.venue = "和平里社区学校";  // kiosk tokens are bound to a venue
  return p;
}

class AuditFloodTest : public ::testing::Test {
 protected:
  void Start(double rate_per_second, double burst) {
    std::string dir =
        std::string(std::getenv("TEST_TMPDIR")) + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir);
    auth::AuthOptions o;
    o.enabled = true;
    o.token.key = kKey;
    o.limits.requests_per_second = rate_per_second;
    o.limits.burst = burst;
    authorizer_ = std::make_unique<auth::Authorizer>(o);
    store_ = std::move(*records::RecordStore::Open(dir));
    records::RecordsService::Options ro;
    ro.authorizer = authorizer_.get();
    ro.audit.sampled_per_window = 10;
    ro.audit.unauthenticated_burst = 50;
    ro.audit.unauthenticated_per_second = 5;
    service_ = std::make_unique<records::RecordsService>(store_.get(), ro);
    auto server = StartGrpcServer(GrpcServerOptions{}, {service_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = v1::LearningRecordService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& authorization) {
    auto c = std::make_unique<grpc::ClientContext>();
    if (!authorization.empty()) c->AddMetadata("authorization", authorization);
    return c;
  }
  std::string Bearer(const Principal& p) {
    auth::TokenOptions o;
    o.key = kKey;
    return "Bearer " + *auth::MintToken(p, absl::Minutes(5), o);
  }

  std::vector<v1::AuditEvent> Audit() {
    std::vector<v1::AuditEvent> out;
    v1::ListAuditEventsRequest req;
    req.set_page_size(1000);
    v1::ListAuditEventsResponse resp;
    grpc::Status s = stub_->ListAuditEvents(Ctx(Bearer(Of(Role::kOperator, "operator-wang"))).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    out.assign(resp.events().begin(), resp.events().end());
    return out;
  }

  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<records::RecordStore> store_;
  std::unique_ptr<records::RecordsService> service_;
  std::unique_ptr<RunningGrpcServer> server_;
  std::unique_ptr<v1::LearningRecordService::Stub> stub_;
};

TEST_F(AuditFloodTest, GarbageTokensAreCountedSampledAndSlowedPerAddress) {
  Start(1000, 1000);
  int unauthenticated = 0, exhausted = 0;
  for (int i = 0; i < 2000; ++i) {
    v1::GetTranscriptRequest req;
    req.set_learner("u1");
    v1::Transcript out;
    grpc::Status s = stub_->GetTranscript(Ctx(absl::StrCat("Bearer garbage-", i)).get(), req, &out);
    unauthenticated += s.error_code() == grpc::StatusCode::UNAUTHENTICATED;
    exhausted += s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
  }
  EXPECT_EQ(unauthenticated + exhausted, 2000);
  EXPECT_GE(exhausted, 1800) << "past its burst, the address is refused without a credential check";
  EXPECT_LE(unauthenticated, 200);

  // A valid credential from the same address is not slowed down.
  std::vector<v1::AuditEvent> rows = Audit();
  EXPECT_LE(rows.size(), 12u) << "2000 garbage calls must not write 2000 rows";
  int sampled = 0;
  const v1::AuditEvent* summary = nullptr;
  for (const v1::AuditEvent& e : rows) {
    EXPECT_EQ(e.subject(), records::kUnauthenticatedSubject);
    if (e.operation() == records::kSampledOperation) {
      summary = &e;
    } else {
      ++sampled;
      EXPECT_EQ(e.operation(), "/lifelong.v1.LearningRecordService/GetTranscript");
      EXPECT_TRUE(absl::StartsWith(e.detail(), "from 127.0.0.1: ")) << e.detail();
    }
  }
  EXPECT_EQ(sampled, 10);
  ASSERT_NE(summary, nullptr);
  EXPECT_TRUE(absl::StartsWith(summary->detail(), "1990 more refused calls")) << summary->detail();
  EXPECT_NE(summary->detail().find("127.0.0.1 (1990)"), std::string::npos) << summary->detail();
  EXPECT_EQ(service_->audit_log().stats().unauthenticated, 2000u);
}

TEST_F(AuditFloodTest, RefusedCallsKeepTheVerifiedSubjectAndRole) {
  Start(1000, 1000);
  // A learner asking for another learner's records (refused in the handler).
  v1::ExportLearnerRequest other;
  other.set_learner("u2");
  auto ctx = Ctx(Bearer(Of(Role::kLearner, "u1")));
  auto reader = stub_->ExportLearner(ctx.get(), other);
  v1::Statement st;
  while (reader->Read(&st)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A kiosk calling a method its role may not call (refused by the role table).
  v1::ListAuditEventsRequest audit;
  v1::ListAuditEventsResponse out;
  EXPECT_EQ(stub_->ListAuditEvents(Ctx(Bearer(Of(Role::kKiosk, "kiosk-hepingli-01"))).get(), audit, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  bool learner_row = false, kiosk_row = false;
  for (const v1::AuditEvent& e : Audit()) {
    if (e.outcome() != "PERMISSION_DENIED") continue;
    learner_row |= e.subject() == "u1" && e.role() == "learner" &&
                   e.operation() == "/lifelong.v1.LearningRecordService/ExportLearner" && e.learner() == "u2";
    kiosk_row |= e.subject() == "kiosk-hepingli-01" && e.role() == "kiosk" &&
                 e.operation() == "/lifelong.v1.LearningRecordService/ListAuditEvents";
  }
  EXPECT_TRUE(learner_row);
  EXPECT_TRUE(kiosk_row);
}

TEST_F(AuditFloodTest, RateLimitedCallsKeepTheSubjectAndAreSampled) {
  Start(/*rate_per_second=*/1, /*burst=*/3);
  int exhausted = 0;
  for (int i = 0; i < 300; ++i) {
    v1::GetTranscriptRequest req;
    req.set_learner("u1");
    v1::Transcript out;
    exhausted += stub_->GetTranscript(Ctx(Bearer(Of(Role::kLearner, "u1"))).get(), req, &out).error_code() ==
                 grpc::StatusCode::RESOURCE_EXHAUSTED;
  }
  EXPECT_GE(exhausted, 290);
  int limited_rows = 0, summaries = 0;
  for (const v1::AuditEvent& e : Audit()) {
    if (e.outcome() != "RESOURCE_EXHAUSTED") continue;
    EXPECT_EQ(e.subject(), "u1");
    EXPECT_EQ(e.role(), "learner");
    if (e.operation() == records::kSampledOperation) {
      ++summaries;
    } else {
      ++limited_rows;
    }
  }
  EXPECT_EQ(limited_rows, 10);
  EXPECT_EQ(summaries, 1);
}

// xAPI Basic passwords: wrong guesses back off per user name and per client
// address (the address comes from the HTTP connection).
TEST(XapiBasicBackoff, WrongPasswordsGet429AndSlowDown) {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/xapi_backoff";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = std::move(*records::RecordStore::Open(dir + "/records"));
  auto docs = std::move(*xapi::DocumentStore::Open(dir + "/docs"));
  xapi::Credentials credentials = *xapi::Credentials::Parse("feed:feed-secret role=loader\n");
  credentials.SetBackoff({.free_failures = 3, .base_delay = absl::Seconds(30)});
  xapi::XapiHandler handler(store.get(), docs.get(), &credentials, "/xapi", "2.0.0", nullptr);
  xapi::XapiHttpOptions xo;
  xo.port = 0;
  auto http = std::move(*xapi::XapiHttpServer::Start(xo, &handler));
  int calls = 0;
  auto get = [&](const std::string& user_pass) {
    httplib::Client c("127.0.0.1", http->port());
    // A forged address header, different on every call, must not win over
    // the connection's address (or the address backoff below never starts).
    httplib::Headers h = {{"X-Experience-API-Version", "2.0.0"},
                          {"Authorization", "Basic " + absl::Base64Escape(user_pass)},
                          {"REMOTE_ADDR", absl::StrCat("10.9.9.", ++calls)}};
    httplib::Result r = c.Get("/xapi/statements", h);
    return r ? r->status : -1;
  };
  EXPECT_EQ(get("feed:feed-secret"), 200);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get("feed:guess"), 401) << i;
  EXPECT_EQ(get("feed:feed-secret"), 429) << "the right password waits too";
  // Other user names from the same address: 4 x 3 failures in all, then the
  // address itself backs off (so the address must be the real peer).
  for (int i = 0; i < 9; ++i) EXPECT_EQ(get(absl::StrCat("user", i, ":x")), 401) << i;
  EXPECT_EQ(get("user99:x"), 429);
}

// Invalid bearer tokens over xAPI (authentication on) share the client
// address's budget with wrong passwords: after 4 x free_failures of them the
// address waits (429), even with a valid token.
TEST(XapiBearerBackoff, InvalidTokensFromOneAddressGet429) {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/xapi_bearer_backoff";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = std::move(*records::RecordStore::Open(dir + "/records"));
  auto docs = std::move(*xapi::DocumentStore::Open(dir + "/docs"));
  xapi::Credentials credentials = *xapi::Credentials::Parse("feed:feed-secret role=loader\n");
  credentials.SetBackoff({.free_failures = 2, .base_delay = absl::Seconds(30)});
  auth::AuthOptions ao;
  ao.enabled = true;
  ao.token.key = kKey;
  auth::Authorizer authorizer(ao);
  xapi::XapiHandler handler(store.get(), docs.get(), &credentials, "/xapi", "2.0.0", &authorizer);
  xapi::XapiHttpOptions xo;
  xo.port = 0;
  auto http = std::move(*xapi::XapiHttpServer::Start(xo, &handler));
  auth::TokenOptions to;
  to.key = kKey;
  const std::string good = "Bearer " + *auth::MintToken(Of(Role::kLoader, "feed-2"), absl::Minutes(5), to);
  auto get = [&](const char* host, const std::string& authorization) {
    httplib::Client c(host, http->port());
    httplib::Result r =
        c.Get("/xapi/statements?limit=1", {{"X-Experience-API-Version", "2.0.0"}, {"Authorization", authorization}});
    return r ? r->status : -1;
  };
  EXPECT_EQ(get("127.0.0.1", good), 200);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(get("127.0.0.1", absl::StrCat("Bearer garbage.", i, ".x")), 401) << i;
  EXPECT_EQ(get("127.0.0.1", "Bearer garbage.9.x"), 429);
  EXPECT_EQ(get("127.0.0.1", good), 429) << "the address waits, whatever it sends";
}

}  // namespace
}  // namespace lifelong
