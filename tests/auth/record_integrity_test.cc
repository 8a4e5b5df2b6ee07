// Record integrity with authentication on, over real gRPC and xAPI HTTP
// connections to one record store (issue #13, items 1 and 2):
//  - a principal writes only statements whose every filed learner it may
//    write for: a learner cannot reach other learners' records through a
//    Group actor (identified or anonymous), over RecordStatement,
//    RecordStatements, xAPI POST and PUT /statements;
//  - erasing a learner leaves statements other learners share to them;
//  - credits are not self-asserted: the transcript counts hours and credits
//    only from entitled issuers and shows each entry's issuer.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/principal.h"
#include "services/domain/vocabulary.h"
#include "services/records/key_codec.h"
#include "services/records/record_store.h"
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

constexpr char kKey[] = "record-integrity-test-key-0123456789abcdef";

Principal Of(Role role, const std::string& subject) { return testing::TestPrincipal(role, subject); }

Principal Learner(const std::string& subject) { return Of(Role::kLearner, subject); }

class RecordIntegrityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // An xAPI Basic user mapped to learner u000001, and a feed (loader).
    testing::TestRecordsServerOptions o;
    o.key = kKey;
    o.xapi_credentials =
        "u1app:u1-secret role=learner subject=u000001\nfeed:feed-secret role=loader subject=svc-feed\n";
    auto server = testing::TestRecordsServer::Start(
        testing::FreshTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name()), std::move(o));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    store_ = &server_->store();
    rec_ = &server_->stub();
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const Principal& p) { return server_->Context(p); }

  grpc::Status Record(const Principal& p, const StatementSpec& spec) {
    v1::RecordStatementRequest req;
    req.set_statement_json(MakeStatement(spec));
    v1::Statement out;
    return rec_->RecordStatement(Ctx(p).get(), req, &out);
  }

  grpc::Status RecordBatch(const Principal& p, const std::vector<StatementSpec>& specs) {
    v1::RecordStatementsRequest req;
    for (const StatementSpec& s : specs) req.add_statement_json(MakeStatement(s));
    v1::RecordStatementsResponse out;
    return rec_->RecordStatements(Ctx(p).get(), req, &out);
  }

  httplib::Result Xapi(const std::string& method, const std::string& path, const std::string& user,
                       const std::string& pass, const std::string& body) {
    httplib::Client c("127.0.0.1", server_->xapi_port());
    httplib::Headers h = {{"X-Experience-API-Version", "2.0.0"},
                          {"Authorization", "Basic " + absl::Base64Escape(user + ":" + pass)}};
    if (method == "PUT") return c.Put(path.c_str(), h, body, "application/json");
    return c.Post(path.c_str(), h, body, "application/json");
  }

  v1::Transcript Transcript(const std::string& learner) {
    v1::GetTranscriptRequest req;
    req.set_learner(learner);
    v1::Transcript t;
    grpc::Status s = rec_->GetTranscript(Ctx(Learner(learner)).get(), req, &t);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return t;
  }

  // Every statement id in `learner`'s records (voided included).
  std::vector<std::string> Ids(const std::string& learner) {
    std::vector<std::string> out;
    EXPECT_TRUE(store_
                    ->ForEachOfLearner(learner,
                                       [&](const records::StoredStatement& s) {
                                         out.push_back(records::FormatUuid(s.id));
                                         return true;
                                       })
                    .ok());
    return out;
  }

  std::unique_ptr<testing::TestRecordsServer> server_;
  records::RecordStore* store_ = nullptr;
  v1::LearningRecordService::Stub* rec_ = nullptr;
};

// The attacks of the issue: learner u000001 records a `passed` with 99
// credits whose actor is a Group that includes other learners.
std::vector<StatementSpec> GroupAttacks() {
  return {
      // An identified group whose account is u000001, members u000002/u000003.
      {.id = TestUuid(1),
       .learner = "u000001",
       .verb = "passed",
       .course = "c1",
       .credits = 99,
       .group = {"u000002", "u000003"}},
      // An anonymous group of u000001 and u000003.
      {.id = TestUuid(2),
       .learner = "",
       .verb = "passed",
       .course = "c1",
       .credits = 99,
       .group = {"u000001", "u000003"}},
      // The other way round.
      {.id = TestUuid(3),
       .learner = "",
       .verb = "passed",
       .course = "c1",
       .credits = 99,
       .group = {"u000003", "u000001"}},
  };
}

TEST_F(RecordIntegrityTest, LearnerCannotWriteIntoOtherLearnersRecordsOverGrpc) {
  ASSERT_TRUE(
      Record(Of(Role::kLoader, "svc-loader"), {.learner = "u000003", .verb = "passed", .course = "c7", .credits = 3})
          .ok());
  for (const StatementSpec& attack : GroupAttacks()) {
    SCOPED_TRACE(MakeStatement(attack));
    grpc::Status s = Record(Learner("u000001"), attack);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_NE(s.error_message().find("statement.actor.member"), std::string::npos) << s.error_message();
    // In a batch too, after a statement of their own.
    s = RecordBatch(Learner("u000001"), {{.learner = "u000001", .course = "c2"}, attack});
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_NE(s.error_message().find("statement_json[1].actor.member"), std::string::npos) << s.error_message();
  }
  // Nothing reached u000003's (or anyone's) records; u000003's total is 3.
  EXPECT_EQ(Ids("u000003").size(), 1u);
  EXPECT_TRUE(Ids("u000002").empty());
  EXPECT_TRUE(Ids("u000001").empty());
  v1::Transcript t = Transcript("u000003");
  EXPECT_EQ(t.entries_size(), 1);
  EXPECT_DOUBLE_EQ(t.credits(), 3);
  // A group of u000001 alone is still theirs to record.
  EXPECT_TRUE(Record(Learner("u000001"), {.learner = "", .verb = "completed", .group = {"u000001"}}).ok());
}

TEST_F(RecordIntegrityTest, LearnerCannotWriteIntoOtherLearnersRecordsOverXapi) {
  for (const StatementSpec& attack : GroupAttacks()) {
    SCOPED_TRACE(MakeStatement(attack));
    httplib::Result r = Xapi("POST", "/xapi/statements", "u1app", "u1-secret", MakeStatement(attack));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << r->body;
    EXPECT_NE(r->body.find("actor.member"), std::string::npos) << r->body;
    // As the second statement of an array.
    std::string batch =
        absl::StrCat("[", MakeStatement({.learner = "u000001", .course = "c2"}), ",", MakeStatement(attack), "]");
    r = Xapi("POST", "/xapi/statements", "u1app", "u1-secret", batch);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << r->body;
    EXPECT_NE(r->body.find("statements[1].actor.member"), std::string::npos) << r->body;
    // PUT with the id as a parameter.
    r = Xapi("PUT", "/xapi/statements?statementId=" + attack.id, "u1app", "u1-secret", MakeStatement(attack));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << r->body;
  }
  EXPECT_TRUE(Ids("u000001").empty());
  EXPECT_TRUE(Ids("u000002").empty());
  EXPECT_TRUE(Ids("u000003").empty());
  // The Basic user's own statement is accepted.
  httplib::Result ok = Xapi("POST", "/xapi/statements", "u1app", "u1-secret",
                            MakeStatement({.learner = "u000001", .verb = "experienced"}));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

// Voiding changes the target's records too: a learner cannot void another
// learner's statement, nor a group statement shared with others, over
// RecordStatement, VoidStatement or xAPI.
TEST_F(RecordIntegrityTest, LearnerCannotVoidOtherLearnersStatements) {
  Principal loader = Of(Role::kLoader, "svc-loader");
  ASSERT_TRUE(
      Record(loader, {.id = TestUuid(30), .learner = "u000003", .verb = "passed", .course = "c1", .credits = 2}).ok());
  ASSERT_TRUE(Record(loader, {.id = TestUuid(31),
                              .learner = "",
                              .verb = "passed",
                              .course = "c2",
                              .credits = 1,
                              .group = {"u000001", "u000003"}})
                  .ok());
  ASSERT_TRUE(Record(Learner("u000001"), {.id = TestUuid(32), .learner = "u000001", .course = "c3"}).ok());
  for (const std::string& target : {TestUuid(30), TestUuid(31)}) {
    SCOPED_TRACE(target);
    grpc::Status s = Record(Learner("u000001"), {.learner = "u000001", .verb = "voided", .course = target});
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_NE(s.error_message().find("statement.object.id"), std::string::npos) << s.error_message();
    httplib::Result r = Xapi("POST", "/xapi/statements", "u1app", "u1-secret",
                             MakeStatement({.learner = "u000001", .verb = "voided", .course = target}));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << r->body;
  }
  v1::VoidStatementRequest vreq;
  vreq.set_id(TestUuid(31));
  v1::Statement vout;
  EXPECT_EQ(rec_->VoidStatement(Ctx(Learner("u000001")).get(), vreq, &vout).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_DOUBLE_EQ(Transcript("u000003").credits(), 3);
  // Their own statement they may void, either way.
  EXPECT_TRUE(Record(Learner("u000001"), {.learner = "u000001", .verb = "voided", .course = TestUuid(32)}).ok());
  EXPECT_TRUE(store_->Get(*records::ParseUuid(TestUuid(32)))->record.Has(records::RecordFlag::kVoided));
}

// A team statement recorded by a trusted feed is filed under every member;
// when one member erases their records, the others keep it.
TEST_F(RecordIntegrityTest, ErasingOneLearnerKeepsSharedStatementsForTheOthers) {
  ASSERT_TRUE(Record(Of(Role::kLoader, "svc-loader"), {.id = TestUuid(10),
                                                       .learner = "",
                                                       .verb = "passed",
                                                       .course = "c1",
                                                       .credits = 2,
                                                       .group = {"u000001", "u000003"}})
                  .ok());
  ASSERT_TRUE(Record(Of(Role::kLoader, "svc-loader"), {.id = TestUuid(11), .learner = "u000003", .course = "c2"}).ok());
  EXPECT_DOUBLE_EQ(Transcript("u000001").credits(), 2);
  EXPECT_DOUBLE_EQ(Transcript("u000003").credits(), 2);

  v1::EraseLearnerRequest req;
  req.set_learner("u000003");
  v1::EraseLearnerResponse out;
  grpc::Status s = rec_->EraseLearner(Ctx(Learner("u000003")).get(), req, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.erased_statements(), 2);
  EXPECT_TRUE(Ids("u000003").empty());
  EXPECT_EQ(*store_->CountLearnerIndexEntries("u000003"), 0);
  // u000001 keeps the group statement and its credit; u000003's identity is
  // gone from it.
  EXPECT_EQ(Ids("u000001"), (std::vector<std::string>{TestUuid(10)}));
  v1::Transcript t = Transcript("u000001");
  ASSERT_EQ(t.entries_size(), 1);
  EXPECT_DOUBLE_EQ(t.credits(), 2);
  v1::GetStatementRequest get;
  get.set_id(TestUuid(10));
  v1::Statement st;
  ASSERT_TRUE(rec_->GetStatement(Ctx(Learner("u000001")).get(), get, &st).ok());
  EXPECT_EQ(st.json().find("u000003"), std::string::npos) << st.json();
  EXPECT_EQ(st.learner(), "u000001");
}

// Credits are not self-asserted. A learner's own `passed` with 50 credits is
// shown, unverified, and earns nothing; the teacher of the course and the
// institution's feed award credits; a teacher cannot for another course.
TEST_F(RecordIntegrityTest, TranscriptCountsCreditsOnlyFromEntitledIssuers) {
  ASSERT_TRUE(Record(Learner("u000001"), {.learner = "u000001",
                                          .verb = "passed",
                                          .course = "c9",
                                          .timestamp = "2026-01-01T00:00:00Z",
                                          .credits = 50,
                                          .hours = 40})
                  .ok());
  // Over xAPI as well (Basic user mapped to u000001).
  httplib::Result r = Xapi("POST", "/xapi/statements", "u1app", "u1-secret",
                           MakeStatement({.learner = "u000001",
                                          .verb = "completed",
                                          .course = "c8",
                                          .timestamp = "2026-01-02T00:00:00Z",
                                          .credits = 50}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  v1::Transcript t = Transcript("u000001");
  ASSERT_EQ(t.entries_size(), 2);
  for (const v1::TranscriptEntry& e : t.entries()) {
    SCOPED_TRACE(e.activity());
    EXPECT_FALSE(e.verified());
    EXPECT_EQ(e.issuer(), "learner:u000001");
    EXPECT_DOUBLE_EQ(e.credits(), 0);
    EXPECT_DOUBLE_EQ(e.hours(), 0);
    EXPECT_DOUBLE_EQ(e.claimed_credits(), 50);
  }
  EXPECT_DOUBLE_EQ(t.credits(), 0);
  EXPECT_EQ(t.courses(), 2);
  EXPECT_EQ(t.unverified_courses(), 2);

  // The teacher of c1 awards credits for c1, not for c9.
  Principal teacher = Of(Role::kTeacher, "teacher-li");
  ASSERT_TRUE(Record(teacher, {.learner = "u000001",
                               .verb = "passed",
                               .course = "c1",
                               .timestamp = "2026-02-01T00:00:00Z",
                               .credits = 2,
                               .hours = 16})
                  .ok());
  EXPECT_EQ(Record(teacher, {.learner = "u000001", .verb = "passed", .course = "c9", .credits = 5}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The providing institution's feed (a loader over xAPI) awards c8.
  r = Xapi("POST", "/xapi/statements", "feed", "feed-secret",
           MakeStatement({.learner = "u000001",
                          .verb = "completed",
                          .course = "c8",
                          .timestamp = "2026-02-02T00:00:00Z",
                          .credits = 1}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;

  t = Transcript("u000001");
  ASSERT_EQ(t.entries_size(), 3);
  std::map<std::string, v1::TranscriptEntry> by_course;
  for (const v1::TranscriptEntry& e : t.entries()) by_course[e.activity()] = e;
  const v1::TranscriptEntry& c1 = by_course[vocab::CourseIri("c1")];
  EXPECT_TRUE(c1.verified());
  EXPECT_EQ(c1.issuer(), "teacher:teacher-li");
  EXPECT_DOUBLE_EQ(c1.credits(), 2);
  const v1::TranscriptEntry& c8 = by_course[vocab::CourseIri("c8")];
  EXPECT_TRUE(c8.verified());
  EXPECT_EQ(c8.issuer(), "loader:svc-feed");
  EXPECT_DOUBLE_EQ(c8.credits(), 1);  // the feed's figure, not the learner's 50
  EXPECT_FALSE(by_course[vocab::CourseIri("c9")].verified());
  EXPECT_DOUBLE_EQ(t.credits(), 3);
  EXPECT_DOUBLE_EQ(t.hours(), 16);
  EXPECT_EQ(t.unverified_courses(), 1);

  // The stored authority is the issuer, whatever authority the client sent.
  std::string forged =
      MakeStatement({.id = TestUuid(20), .learner = "u000001", .verb = "passed", .course = "c5", .credits = 9});
  nlohmann::json j = nlohmann::json::parse(forged);
  j["authority"] = {{"objectType", "Agent"},
                    {"account", {{"homePage", "https://id.dongcheng.gov.cn/roles/operator"}, {"name", "x"}}}};
  v1::RecordStatementRequest req;
  req.set_statement_json(j.dump());
  req.set_view(v1::STATEMENT_VIEW_FULL);
  v1::Statement out;
  ASSERT_TRUE(rec_->RecordStatement(Ctx(Learner("u000001")).get(), req, &out).ok());
  nlohmann::json stored = nlohmann::json::parse(out.json());
  EXPECT_EQ(stored["authority"]["account"]["homePage"], "https://id.dongcheng.gov.cn/roles/learner");
  EXPECT_DOUBLE_EQ(Transcript("u000001").credits(), 3);

  // Listed statements say which completions are verified (what the
  // recommender's learning paths count as credits): the teacher's and the
  // feed's, not the learner's own.
  v1::ListStatementsRequest list;
  list.set_learner("u000001");
  v1::ListStatementsResponse listed;
  ASSERT_TRUE(rec_->ListStatements(Ctx(Learner("u000001")).get(), list, &listed).ok());
  std::map<std::string, int> verified_by_course, unverified_by_course;
  for (const v1::Statement& st : listed.statements()) {
    (st.verified() ? verified_by_course : unverified_by_course)[vocab::CourseIdFromIri(st.activity())]++;
  }
  EXPECT_EQ(verified_by_course, (std::map<std::string, int>{{"c1", 1}, {"c8", 1}}));
  EXPECT_EQ(unverified_by_course, (std::map<std::string, int>{{"c5", 1}, {"c8", 1}, {"c9", 1}}));
}

}  // namespace
}  // namespace lifelong
