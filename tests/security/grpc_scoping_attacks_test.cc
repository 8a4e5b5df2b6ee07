// A learner's (or a service's, or a kiosk session's) token against every
// record-reaching method of the gRPC LearningRecordService, aimed at another
// learner, against a real record server (gRPC on a real port, real RocksDB)
// with authentication on. Regression guards: each of these attacks was
// already refused when written; the victim's records must come out
// untouched. (tests/auth/access_matrix_test covers the role x method table
// with each caller's own records; this file aims every method at someone
// else's, under several spellings of their learner key.)
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/principal.h"
#include "services/auth/token.h"
#include "services/records/test_statements.h"
#include "tests/testing/records_fixture.h"
#include "tests/testing/subprocess.h"

namespace lifelong {
namespace {

using auth::Principal;
using auth::Role;
using records::testing::MakeStatement;
using records::testing::StatementSpec;
using records::testing::TestUuid;

constexpr char kKey[] = "grpc-scoping-attacks-key-0123456789abcdef";
constexpr char kVenue[] = "和平里社区学校";

Principal Of(Role role, const std::string& subject) { return testing::TestPrincipal(role, subject); }

// The victim's key as written by an attacker: bare, and as district accounts.
const std::vector<std::string> kVictimSpellings = {"u2", "account:https://id.dongcheng.gov.cn|u2",
                                                   "account:https://id.dongcheng.gov.cn/|u2"};

class GrpcScopingAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::TestRecordsServerOptions o;
    o.key = kKey;
    auto server = testing::TestRecordsServer::Start(
        testing::FreshTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name()), std::move(o));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    rec_ = &server_->stub();
    // The victim's records, from the trusted feed: a verified pass.
    for (const StatementSpec& s : {StatementSpec{.id = TestUuid(1), .learner = "u2", .verb = "passed", .credits = 2},
                                   StatementSpec{.id = TestUuid(2), .learner = "u2"}}) {
      ASSERT_EQ(Record(Of(Role::kLoader, "svc-feed"), MakeStatement(s)), grpc::StatusCode::OK);
    }
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const Principal& p) { return server_->Context(p); }

  grpc::StatusCode Record(const Principal& p, const std::string& json) {
    v1::RecordStatementRequest r;
    r.set_statement_json(json);
    v1::Statement out;
    return rec_->RecordStatement(Ctx(p).get(), r, &out).error_code();
  }

  // The codes of every record-reaching method called by `ctx()` for `learner`.
  template <typename MakeCtx>
  std::vector<grpc::StatusCode> Everything(MakeCtx ctx, const std::string& learner) {
    std::vector<grpc::StatusCode> out;
    v1::ListStatementsRequest list;
    list.set_learner(learner);
    v1::ListStatementsResponse lr;
    out.push_back(rec_->ListStatements(ctx().get(), list, &lr).error_code());
    v1::GetTranscriptRequest tr;
    tr.set_learner(learner);
    v1::Transcript t;
    out.push_back(rec_->GetTranscript(ctx().get(), tr, &t).error_code());
    v1::ExportLearnerRequest ex;
    ex.set_learner(learner);
    auto c = ctx();
    auto reader = rec_->ExportLearner(c.get(), ex);
    v1::Statement st;
    int streamed = 0;
    while (reader->Read(&st)) ++streamed;
    out.push_back(reader->Finish().error_code());
    EXPECT_EQ(streamed, 0) << learner;
    v1::EraseLearnerRequest er;
    er.set_learner(learner);
    v1::EraseLearnerResponse eo;
    out.push_back(rec_->EraseLearner(ctx().get(), er, &eo).error_code());
    return out;
  }

  // The victim's records are all there, unvoided, and still earn credits.
  void ExpectVictimUntouched() {
    v1::ListStatementsRequest list;
    list.set_learner("u2");
    v1::ListStatementsResponse lr;
    ASSERT_TRUE(rec_->ListStatements(Ctx(Of(Role::kLearner, "u2")).get(), list, &lr).ok());
    ASSERT_EQ(lr.statements_size(), 2);
    for (const v1::Statement& s : lr.statements()) EXPECT_FALSE(s.voided()) << s.id();
    v1::GetTranscriptRequest tr;
    tr.set_learner("u2");
    v1::Transcript t;
    ASSERT_TRUE(rec_->GetTranscript(Ctx(Of(Role::kLearner, "u2")).get(), tr, &t).ok());
    EXPECT_EQ(t.credits(), 2);
  }

  std::unique_ptr<testing::TestRecordsServer> server_;
  v1::LearningRecordService::Stub* rec_ = nullptr;
};

TEST_F(GrpcScopingAttackTest, ALearnerReachesNoOtherLearnersRecordsByAnyMethod) {
  const Principal attacker = Of(Role::kLearner, "u1");
  auto ctx = [&] { return Ctx(attacker); };
  for (const std::string& victim : kVictimSpellings) {
    for (grpc::StatusCode code : Everything(ctx, victim))
      EXPECT_EQ(code, grpc::StatusCode::PERMISSION_DENIED) << victim;
  }
  // By statement id: as if absent.
  for (int id : {1, 2}) {
    v1::GetStatementRequest g;
    g.set_id(TestUuid(id));
    v1::Statement st;
    EXPECT_EQ(rec_->GetStatement(ctx().get(), g, &st).error_code(), grpc::StatusCode::NOT_FOUND);
    v1::VoidStatementRequest v;
    v.set_id(TestUuid(id));
    EXPECT_EQ(rec_->VoidStatement(ctx().get(), v, &st).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // A voiding statement of the attacker's own aimed at the victim's pass.
  EXPECT_EQ(Record(attacker, MakeStatement({.learner = "u1", .verb = "voided", .course = TestUuid(1)})),
            grpc::StatusCode::PERMISSION_DENIED);
  // A batch with one statement of the attacker's and one of the victim's:
  // refused whole.
  v1::RecordStatementsRequest batch;
  batch.add_statement_json(MakeStatement({.id = TestUuid(10), .learner = "u1"}));
  batch.add_statement_json(MakeStatement({.id = TestUuid(11), .learner = "u2", .verb = "passed", .credits = 9}));
  v1::RecordStatementsResponse br;
  EXPECT_EQ(rec_->RecordStatements(ctx().get(), batch, &br).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::GetStatementRequest own;
  own.set_id(TestUuid(10));
  v1::Statement st;
  EXPECT_EQ(rec_->GetStatement(ctx().get(), own, &st).error_code(), grpc::StatusCode::NOT_FOUND) << "not half-stored";
  ExpectVictimUntouched();
}

TEST_F(GrpcScopingAttackTest, ServiceRolesAndKioskSessionsReachNoLearnersRecordsBeyondTheirScope) {
  // Internal service roles: their grants are for other methods. (Operators
  // may erase anyone on request, so they are not asked here.)
  for (Role role : {Role::kTrainer, Role::kRecommender, Role::kLoader}) {
    auto ctx = [&] { return Ctx(Of(role, "svc")); };
    std::vector<grpc::StatusCode> codes = Everything(ctx, "u2");
    EXPECT_EQ(codes[1], grpc::StatusCode::PERMISSION_DENIED) << auth::RoleName(role) << " GetTranscript";
    EXPECT_EQ(codes[2], grpc::StatusCode::PERMISSION_DENIED) << auth::RoleName(role) << " ExportLearner";
    EXPECT_EQ(codes[3], grpc::StatusCode::PERMISSION_DENIED) << auth::RoleName(role) << " EraseLearner";
  }
  // A kiosk session for u1: u2's records are not the bound learner's.
  Principal session = Of(Role::kKiosk, "kiosk-hepingli-01");
  session.learner = "u1";
  auto sctx = [&] { return Ctx(session); };
  for (const std::string& victim : kVictimSpellings) {
    for (grpc::StatusCode code : Everything(sctx, victim))
      EXPECT_EQ(code, grpc::StatusCode::PERMISSION_DENIED) << victim;
  }
  // A kiosk records attendance only, never a pass.
  StatementSpec pass{.learner = "u2", .verb = "passed", .credits = 9, .venue = kVenue};
  EXPECT_EQ(Record(session, MakeStatement(pass)), grpc::StatusCode::PERMISSION_DENIED);
  // The session lives in the kiosk's page, where whoever stands at the kiosk
  // can take it and call this port directly: it records attendance for u1
  // alone, not for u2 (who would find a course "in progress" they never
  // joined), nor in a Group with u2, nor in a batch with one of u1's.
  StatementSpec attended_u2{.learner = "u2", .verb = "attended", .venue = kVenue};
  EXPECT_EQ(Record(session, MakeStatement(attended_u2)), grpc::StatusCode::PERMISSION_DENIED);
  StatementSpec registered_u2{.learner = "u2", .verb = "registered", .course = "c9", .venue = kVenue};
  EXPECT_EQ(Record(session, MakeStatement(registered_u2)), grpc::StatusCode::PERMISSION_DENIED);
  for (std::vector<std::string> members : {std::vector<std::string>{"u1", "u2"}, {"u2", "u1"}}) {
    StatementSpec group{.learner = "", .verb = "attended", .venue = kVenue, .group = members};
    EXPECT_EQ(Record(session, MakeStatement(group)), grpc::StatusCode::PERMISSION_DENIED);
  }
  StatementSpec identified{.learner = "u1", .verb = "attended", .venue = kVenue, .group = {"u2"}};
  EXPECT_EQ(Record(session, MakeStatement(identified)), grpc::StatusCode::PERMISSION_DENIED);
  v1::RecordStatementsRequest batch;
  batch.add_statement_json(MakeStatement({.id = TestUuid(20), .learner = "u1", .verb = "attended", .venue = kVenue}));
  batch.add_statement_json(MakeStatement({.id = TestUuid(21), .learner = "u2", .verb = "attended", .venue = kVenue}));
  v1::RecordStatementsResponse br;
  grpc::Status bs = rec_->RecordStatements(sctx().get(), batch, &br);
  EXPECT_EQ(bs.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(bs.error_message().find("a kiosk session records only for its learner \"u1\""), std::string::npos)
      << bs.error_message();
  v1::GetStatementRequest half;
  half.set_id(TestUuid(20));
  v1::Statement st;
  EXPECT_EQ(rec_->GetStatement(Ctx(Of(Role::kLearner, "u1")).get(), half, &st).error_code(),
            grpc::StatusCode::NOT_FOUND)
      << "not half-stored";
  ExpectVictimUntouched();
  // Its own learner's attendance it records; the kiosk's own token (held by
  // the web gateway, no learner bound) records for any learner at its venue.
  StatementSpec attended_u1{.learner = "u1", .verb = "attended", .venue = kVenue};
  EXPECT_EQ(Record(session, MakeStatement(attended_u1)), grpc::StatusCode::OK);
  StatementSpec elsewhere{.learner = "u1", .verb = "attended", .venue = "东四社区学校"};
  EXPECT_EQ(Record(session, MakeStatement(elsewhere)), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Record(Of(Role::kKiosk, "kiosk-hepingli-01"),
                   MakeStatement({.learner = "u3", .verb = "attended", .course = "c7", .venue = kVenue})),
            grpc::StatusCode::OK);
}

// A teacher may void a statement of a course they run, in their own name
// only: naming another actor filed "u3 voided ..." under u3, who never did,
// or made the victim appear to void their own completion.
TEST_F(GrpcScopingAttackTest, ATeacherVoidsOnlyInTheirOwnName) {
  const Principal teacher = Of(Role::kTeacher, "t1");  // runs c1, the victim's course
  v1::VoidStatementRequest v;
  v.set_id(TestUuid(2));
  for (const std::string& actor : {std::string("u3"), std::string("u2"), kVictimSpellings[1]}) {
    v.set_actor(actor);
    v1::Statement out;
    grpc::Status s = rec_->VoidStatement(Ctx(teacher).get(), v, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << actor;
    EXPECT_THAT(s.error_message(), ::testing::HasSubstr("actor")) << actor;
  }
  ExpectVictimUntouched();
  v1::ListStatementsRequest list;
  list.set_learner("u3");
  v1::ListStatementsResponse lr;
  ASSERT_TRUE(rec_->ListStatements(Ctx(Of(Role::kLearner, "u3")).get(), list, &lr).ok());
  EXPECT_EQ(lr.statements_size(), 0) << "a voiding statement filed under a bystander";
  // In the teacher's own name (named, or by default): the voiding statement is theirs.
  v.set_actor("t1");
  v1::Statement out;
  ASSERT_TRUE(rec_->VoidStatement(Ctx(teacher).get(), v, &out).ok());
  EXPECT_THAT(out.learner(), ::testing::HasSubstr("t1"));
}

TEST_F(GrpcScopingAttackTest, ForgedTokensAreUnauthenticated) {
  auto code = [&](const std::string& token) {
    v1::ListStatementsRequest list;
    list.set_learner("u2");
    v1::ListStatementsResponse lr;
    return rec_->ListStatements(testing::TestRecordsServer::BearerContext(token).get(), list, &lr).error_code();
  };
  const std::string real = server_->Token(Of(Role::kLearner, "u2"));
  ASSERT_EQ(code(real), grpc::StatusCode::OK);
  auto parts = [](const std::string& t) {
    std::vector<std::string> p;
    size_t a = t.find('.'), b = t.rfind('.');
    p = {t.substr(0, a), t.substr(a + 1, b - a - 1), t.substr(b + 1)};
    return p;
  };
  const std::vector<std::string> p = parts(real);
  std::string payload;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(p[1], &payload));
  // alg none, with and without the signature.
  const std::string none = absl::WebSafeBase64Escape(R"({"alg":"none","typ":"JWT"})");
  EXPECT_EQ(code(none + "." + p[1] + "."), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(code(none + "." + p[1] + "." + p[2]), grpc::StatusCode::UNAUTHENTICATED);
  // The victim's token with the attacker's subject swapped in, signature kept.
  std::string swapped = payload;
  swapped.replace(swapped.find("\"u2\""), 4, "\"u1\"");
  EXPECT_EQ(code(p[0] + "." + absl::WebSafeBase64Escape(swapped) + "." + p[2]), grpc::StatusCode::UNAUTHENTICATED);
  // Not valid yet (beyond the clock skew); an unknown role.
  auth::TokenOptions later;
  later.key = kKey;
  later.now = [] { return absl::Now() + absl::Hours(2); };
  EXPECT_EQ(code(*auth::MintToken(Of(Role::kLearner, "u2"), absl::Minutes(5), later)),
            grpc::StatusCode::UNAUTHENTICATED);
  std::string admin = payload;
  admin.replace(admin.find("\"learner\""), 9, "\"admin\"");
  EXPECT_EQ(code(p[0] + "." + absl::WebSafeBase64Escape(admin) + "." + p[2]), grpc::StatusCode::UNAUTHENTICATED);
  // Two tokens in one header; a Basic header.
  EXPECT_EQ(code(real + " " + real), grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext basic;
  basic.AddMetadata("authorization", "Basic " + absl::Base64Escape("feed:feed"));
  v1::ListStatementsRequest list;
  list.set_learner("u2");
  v1::ListStatementsResponse lr;
  EXPECT_EQ(rec_->ListStatements(&basic, list, &lr).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(GrpcScopingAttackTest, ALearnerErasesTheirRecordsAtMostOnceAMinute) {
  // Each erasure flushes every column family and compacts what it touched:
  // a learner writing and erasing in a loop kept the whole store flushing.
  const Principal me = Of(Role::kLearner, "u3");
  auto erase = [&](const Principal& who) {
    v1::EraseLearnerRequest er;
    er.set_learner("u3");
    v1::EraseLearnerResponse eo;
    return rec_->EraseLearner(Ctx(who).get(), er, &eo);
  };
  ASSERT_EQ(Record(me, MakeStatement({.learner = "u3"})), grpc::StatusCode::OK);
  ASSERT_TRUE(erase(me).ok());
  ASSERT_EQ(Record(me, MakeStatement({.id = TestUuid(30), .learner = "u3"})), grpc::StatusCode::OK);
  grpc::Status again = erase(me);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << again.error_message();
  EXPECT_NE(again.error_message().find("learner:"), std::string::npos) << again.error_message();
  v1::GetStatementRequest g;
  g.set_id(TestUuid(30));
  v1::Statement st;
  EXPECT_TRUE(rec_->GetStatement(Ctx(me).get(), g, &st).ok()) << "nothing erased by the refused call";
  // An operator erasing on the learner's request is not limited.
  EXPECT_TRUE(erase(Of(Role::kOperator, "operator-wang")).ok());
  EXPECT_EQ(rec_->GetStatement(Ctx(me).get(), g, &st).error_code(), grpc::StatusCode::NOT_FOUND);
}

// Only an erasure that happened counts against the interval: one that failed
// (a full disk, say) may be retried at once.
TEST(GrpcScopingLimits, AFailedErasureMayBeRetriedAtOnce) {
  testing::TestRecordsServerOptions o;
  o.key = kKey;
  auto failures = std::make_shared<std::atomic<int>>(1);
  o.service.erase_hook = [failures](const std::string&) -> absl::StatusOr<int64_t> {
    if (failures->fetch_sub(1) > 0) return absl::UnavailableError("no space left on device");
    return int64_t{0};
  };
  auto server = testing::TestRecordsServer::Start(testing::FreshTempDir("failed_erasure_retried"), std::move(o));
  ASSERT_TRUE(server.ok()) << server.status();
  const Principal me = Of(Role::kLearner, "u3");
  auto erase = [&]() {
    v1::EraseLearnerRequest er;
    er.set_learner("u3");
    v1::EraseLearnerResponse eo;
    return (*server)->stub().EraseLearner((*server)->Context(me).get(), er, &eo);
  };
  EXPECT_EQ(erase().error_code(), grpc::StatusCode::UNAVAILABLE);
  grpc::Status retried = erase();
  EXPECT_TRUE(retried.ok()) << retried.error_message();
  EXPECT_EQ(erase().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << "a completed erasure counts";
}

}  // namespace
}  // namespace lifelong
