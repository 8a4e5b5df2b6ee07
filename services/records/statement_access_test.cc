#include "services/records/statement_access.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_replace.h"
#include "services/common/status_macros.h"
#include "services/domain/vocabulary.h"
#include "services/records/issuer.h"
#include "services/records/record_store.h"
#include "services/records/test_statements.h"

namespace lifelong::records {
namespace {

using auth::Principal;
using auth::Role;
using testing::MakeStatement;
using testing::StatementSpec;

constexpr char kRecordStatement[] = "/lifelong.v1.LearningRecordService/RecordStatement";

class StatementAccessTest : public ::testing::Test {
 protected:
  StatementAccessTest()
      : authorizer_([] {
          auth::AuthOptions o;
          o.enabled = true;
          o.token.key = "statement-access-test-key-0123456789abcdef";
          return o;
        }()) {}

  auth::AccessGrant Grant(Role role, const std::string& subject) {
    Principal p;
    p.role = role;
    p.subject = subject;
    if (role == Role::kTeacher) p.courses = {"c1"};
    if (role == Role::kKiosk) p.venue = "和平里社区学校";
    absl::StatusOr<auth::AccessGrant> g = authorizer_.AuthorizePrincipal(p, kRecordStatement);
    EXPECT_TRUE(g.ok()) << g.status();
    return std::move(*g);
  }

  static ParsedStatement Parse(const StatementSpec& spec) {
    absl::StatusOr<ParsedStatement> p = ParseStatement(MakeStatement(spec));
    EXPECT_TRUE(p.ok()) << p.status();
    return *p;
  }

  auth::Authorizer authorizer_;
};

TEST_F(StatementAccessTest, LearnerWritesOnlyStatementsFiledUnderThemAlone) {
  auth::AccessGrant u1 = Grant(Role::kLearner, "u1");
  EXPECT_TRUE(CheckStatementWrite(u1, Parse({.learner = "u1"}), "statement").ok());
  // A group of u1 alone (identified by u1, member u1) is u1's own.
  EXPECT_TRUE(CheckStatementWrite(u1, Parse({.learner = "u1", .group = {"u1"}}), "statement").ok());
  EXPECT_TRUE(CheckStatementWrite(u1, Parse({.learner = "", .group = {"u1"}}), "statement").ok());

  // Another learner as the actor.
  absl::Status s = CheckStatementWrite(u1, Parse({.learner = "u2"}), "statement");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("statement.actor:"), std::string::npos) << s;
  // An identified group whose account is u1, with other members: refused,
  // naming the member.
  s = CheckStatementWrite(u1, Parse({.learner = "u1", .group = {"u2", "u3"}}), "statement");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("statement.actor.member"), std::string::npos) << s;
  EXPECT_NE(s.message().find("\"u2\""), std::string::npos) << s;
  // An anonymous group of u1 and u3, in either order.
  for (std::vector<std::string> members : {std::vector<std::string>{"u1", "u3"}, {"u3", "u1"}}) {
    s = CheckStatementWrite(u1, Parse({.learner = "", .group = members}), "statements[2]");
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_NE(s.message().find("statements[2].actor.member"), std::string::npos) << s;
    EXPECT_NE(s.message().find("\"u3\""), std::string::npos) << s;
  }
  // A group identified by another learner with u1 as a member.
  s = CheckStatementWrite(u1, Parse({.learner = "u3", .group = {"u1"}}), "statement");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("statement.actor:"), std::string::npos) << s;
}

TEST_F(StatementAccessTest, TrustedWritersMayRecordGroupStatements) {
  EXPECT_TRUE(
      CheckStatementWrite(Grant(Role::kLoader, "svc-loader"), Parse({.learner = "", .group = {"u1", "u3"}}), "s").ok());
  EXPECT_TRUE(CheckStatementWrite(Grant(Role::kTeacher, "teacher-li"),
                                  Parse({.learner = "", .course = "c1", .group = {"u1", "u3"}}), "s")
                  .ok());
  EXPECT_EQ(CheckStatementWrite(Grant(Role::kTeacher, "teacher-li"),
                                Parse({.learner = "", .course = "c2", .group = {"u1", "u3"}}), "s")
                .code(),
            absl::StatusCode::kPermissionDenied);
}

// A voiding statement writes into its target's records: the caller must be
// allowed to write for every learner of the stored target.
TEST_F(StatementAccessTest, VoidingNeedsWriteAccessToEveryLearnerOfTheTarget) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/statement_access_voiding";
  std::filesystem::remove_all(dir);
  absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<ParsedStatement> batch;
  batch.push_back(Parse({.id = testing::TestUuid(1), .learner = "u1", .course = "c1"}));
  batch.push_back(Parse({.id = testing::TestUuid(2), .learner = "u2", .course = "c1"}));
  batch.push_back(Parse({.id = testing::TestUuid(3), .learner = "", .course = "c2", .group = {"u1", "u2"}}));
  ASSERT_TRUE((*store)->Record(std::move(batch)).ok());
  auto voiding = [](const std::string& target) { return Parse({.learner = "u1", .verb = "voided", .course = target}); };
  auto check = [&](const auth::AccessGrant& g, ParsedStatement p, absl::string_view field) {
    return CheckVoidingWrite(g, &p, **store, field);
  };
  auth::AccessGrant u1 = Grant(Role::kLearner, "u1");
  EXPECT_TRUE(check(u1, voiding(testing::TestUuid(1)), "statement.object.id").ok());
  EXPECT_TRUE(check(u1, voiding(testing::TestUuid(9)), "statement.object.id").ok())
      << "a target not stored voids nothing";
  EXPECT_TRUE(check(u1, Parse({.learner = "u1"}), "statement.object.id").ok()) << "not a voiding statement";
  for (int target : {2, 3}) {
    absl::Status s = check(u1, voiding(testing::TestUuid(target)), "statements[4].object.id");
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << target;
    EXPECT_NE(s.message().find("statements[4].object.id"), std::string::npos) << s;
  }
  // A teacher voids statements of their course only; a loader anything.
  auth::AccessGrant teacher = Grant(Role::kTeacher, "teacher-li");
  EXPECT_TRUE(check(teacher, voiding(testing::TestUuid(2)), "id").ok());
  EXPECT_EQ(check(teacher, voiding(testing::TestUuid(3)), "id").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(check(Grant(Role::kLoader, "svc-loader"), voiding(testing::TestUuid(3)), "id").ok());
}

// The race the commit-time check closes: a learner's voiding statement names
// an id that is not stored yet (it passes the front end's check: it voids
// nothing), and another learner's statement with that id is committed before
// the voiding statement is. The store refuses to void it; the issuer's own
// targets and a caller who may void anything are unaffected.
TEST_F(StatementAccessTest, ATargetCommittedAfterTheCheckIsHeldToTheVoidersRight) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/statement_access_voiding_race";
  std::filesystem::remove_all(dir);
  absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  auto voiding = [](const std::string& target, int id) {
    return Parse({.id = testing::TestUuid(id), .learner = "u1", .verb = "voided", .course = target});
  };
  auto uuid = [](const std::string& s) { return *ParseUuid(s); };
  const std::string victim = testing::TestUuid(1), own = testing::TestUuid(2), other = testing::TestUuid(3);

  ParsedStatement attack = voiding(victim, 11);
  ASSERT_TRUE(CheckVoidingWrite(Grant(Role::kLearner, "u1"), &attack, **store, "statement.object.id").ok());
  ASSERT_TRUE(attack.void_right.has_value()) << "a learner's voiding carries their right to the store";
  ParsedStatement mine = voiding(own, 12);
  ASSERT_TRUE(CheckVoidingWrite(Grant(Role::kLearner, "u1"), &mine, **store, "statement.object.id").ok());
  ParsedStatement loader = voiding(other, 13);
  ASSERT_TRUE(CheckVoidingWrite(Grant(Role::kLoader, "svc-loader"), &loader, **store, "statement.object.id").ok());
  EXPECT_FALSE(loader.void_right.has_value());

  // The targets are committed after the checks.
  std::vector<ParsedStatement> targets;
  targets.push_back(Parse({.id = victim, .learner = "u2", .course = "c1"}));
  targets.push_back(Parse({.id = own, .learner = "u1", .course = "c1"}));
  targets.push_back(Parse({.id = other, .learner = "u2", .course = "c1"}));
  ASSERT_TRUE((*store)->Record(std::move(targets)).ok());

  std::vector<ParsedStatement> batch;
  batch.push_back(std::move(attack));
  absl::StatusOr<std::vector<StoredStatement>> refused = (*store)->Record(std::move(batch));
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_NE(refused.status().message().find("statement.object.id"), std::string::npos) << refused.status();
  EXPECT_NE(refused.status().message().find("learner u1"), std::string::npos) << refused.status();
  absl::StatusOr<StoredStatement> v = (*store)->Get(uuid(victim));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->record.Has(RecordFlag::kVoided)) << "another learner's statement was voided";
  EXPECT_TRUE(absl::IsNotFound((*store)->Get(uuid(testing::TestUuid(11))).status()))
      << "nothing of the refused voiding statement is stored";

  for (ParsedStatement* p : {&mine, &loader}) {
    const Uuid target = p->void_target;
    std::vector<ParsedStatement> one;
    one.push_back(std::move(*p));
    ASSERT_TRUE((*store)->Record(std::move(one)).ok());
    absl::StatusOr<StoredStatement> t = (*store)->Get(target);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_TRUE(t->record.Has(RecordFlag::kVoided)) << FormatUuid(target);
  }
}

// A voiding statement may arrive before its target (xAPI accepts it). One
// from a caller who may void anything voids the target when it is stored
// later, alone or in one batch with it, so its credits never count; one from a
// learner does not (their right cannot be checked against a target not yet
// there), nor does it void another learner's statement under that id.
TEST_F(StatementAccessTest, AVoidingStatementStoredFirstVoidsItsTargetWhenItsIssuerMayVoidAnything) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/statement_access_void_in_advance";
  std::filesystem::remove_all(dir);
  absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  auto record = [&](const auth::AccessGrant& g, std::vector<StatementSpec> specs) -> absl::Status {
    std::vector<ParsedStatement> batch;
    for (const StatementSpec& spec : specs) {
      ParsedStatement p = Parse(spec);
      LL_RETURN_IF_ERROR(CheckVoidingWrite(g, &p, **store, "statement.object.id"));
      batch.push_back(std::move(p));
    }
    return (*store)->Record(std::move(batch)).status();
  };
  auto voided_by = [&](int id) -> std::string {
    absl::StatusOr<StoredStatement> t = (*store)->Get(*ParseUuid(testing::TestUuid(id)));
    if (!t.ok()) return t.status().ToString();
    return t->record.Has(RecordFlag::kVoided) ? FormatUuid(t->record.voided_by) : "not voided";
  };
  const auth::AccessGrant loader = Grant(Role::kLoader, "svc-loader");
  const auth::AccessGrant u1 = Grant(Role::kLearner, "u1");
  using testing::TestUuid;

  // The loader's voiding statement first, its target later.
  ASSERT_TRUE(record(loader, {{.id = TestUuid(11), .learner = "u2", .verb = "voided", .course = TestUuid(1)}}).ok());
  ASSERT_TRUE(record(loader, {{.id = TestUuid(1), .learner = "u2", .course = "c1"}}).ok());
  EXPECT_EQ(voided_by(1), TestUuid(11));
  StatementQuery q;
  q.learner = "u2";
  absl::StatusOr<StatementPage> page = (*store)->List(q);
  ASSERT_TRUE(page.ok()) << page.status();
  for (const StoredStatement& s : page->statements) EXPECT_NE(FormatUuid(s.id), TestUuid(1)) << "listed as counted";

  // Both in one batch, the voiding statement first.
  ASSERT_TRUE(record(loader, {{.id = TestUuid(12), .learner = "u2", .verb = "voided", .course = TestUuid(2)},
                              {.id = TestUuid(2), .learner = "u2", .course = "c2"}})
                  .ok());
  EXPECT_EQ(voided_by(2), TestUuid(12));

  // Two such voiding statements: the earlier one is named.
  ASSERT_TRUE(record(loader, {{.id = TestUuid(13), .learner = "u2", .verb = "voided", .course = TestUuid(3)}}).ok());
  ASSERT_TRUE(record(loader, {{.id = TestUuid(14), .learner = "u2", .verb = "voided", .course = TestUuid(3)}}).ok());
  ASSERT_TRUE(record(loader, {{.id = TestUuid(3), .learner = "u2", .course = "c3"}}).ok());
  EXPECT_EQ(voided_by(3), TestUuid(13));

  // A learner's voiding statement first: neither another learner's statement
  // nor their own is voided when it arrives.
  ASSERT_TRUE(record(u1, {{.id = TestUuid(15), .learner = "u1", .verb = "voided", .course = TestUuid(4)}}).ok());
  ASSERT_TRUE(record(loader, {{.id = TestUuid(4), .learner = "u2", .course = "c4"}}).ok());
  EXPECT_EQ(voided_by(4), "not voided");
  ASSERT_TRUE(record(u1, {{.id = TestUuid(16), .learner = "u1", .verb = "voided", .course = TestUuid(5)}}).ok());
  ASSERT_TRUE(record(u1, {{.id = TestUuid(5), .learner = "u1", .course = "c5"}}).ok());
  EXPECT_EQ(voided_by(5), "not voided");

  // A statement that merely refers to a later one does not void it.
  {
    std::string json = MakeStatement({.id = TestUuid(17), .learner = "u2", .verb = "voided", .course = TestUuid(6)});
    absl::StrReplaceAll({{"http://adlnet.gov/expapi/verbs/voided", "http://id.tincanapi.com/verb/rated"}}, &json);
    absl::StatusOr<ParsedStatement> ref = ParseStatement(json);
    ASSERT_TRUE(ref.ok()) << ref.status();
    ASSERT_TRUE(ref->ref_target.has_value() && !ref->is_voiding) << json;
    std::vector<ParsedStatement> one;
    one.push_back(std::move(*ref));
    ASSERT_TRUE((*store)->Record(std::move(one)).ok());
  }
  ASSERT_TRUE(record(loader, {{.id = TestUuid(6), .learner = "u2", .course = "c6"}}).ok());
  EXPECT_EQ(voided_by(6), "not voided");

  // Voided in advance survives a reopen (the flag is stored).
  store->reset();
  store = RecordStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(record(loader, {{.id = TestUuid(18), .learner = "u2", .verb = "voided", .course = TestUuid(7)}}).ok());
  store->reset();
  store = RecordStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(record(loader, {{.id = TestUuid(7), .learner = "u2", .course = "c7"}}).ok());
  EXPECT_EQ(voided_by(7), TestUuid(18));
  EXPECT_EQ(voided_by(1), TestUuid(11));
}

TEST_F(StatementAccessTest, SetIssuerRecordsTheCallersRoleAndSubject) {
  ParsedStatement p = Parse({.learner = "u1"});
  SetIssuer(Grant(Role::kLearner, "u1"), &p);
  nlohmann::json j = {{"authority", nlohmann::json::parse(p.authority_json)}};
  Issuer i = IssuerOfStatement(j);
  EXPECT_EQ(i.role, "learner");
  EXPECT_EQ(i.subject, "u1");

  SetIssuer(Grant(Role::kTeacher, "teacher-li"), &p);
  i = IssuerOfStatement({{"authority", nlohmann::json::parse(p.authority_json)}});
  EXPECT_EQ(i.Label(), "teacher:teacher-li");
  EXPECT_TRUE(IssuerMayAwardCredits(i.role));
}

TEST_F(StatementAccessTest, KeepReadableDropsWhatTheCallerMayNotRead) {
  auto stored = [](std::vector<std::string> learners, const std::string& course) {
    StoredStatement s;
    s.record.learners = std::move(learners);
    s.record.activity = vocab::CourseIri(course);
    return s;
  };
  StatementPage page;
  page.statements = {stored({"u1"}, "c1"), stored({"u000042"}, "c1"), stored({"u2", "u1"}, "c2"), stored({"u2"}, "c2")};
  page.next_page_token = "next";
  StatementPage learner = page;
  KeepReadable(Grant(Role::kLearner, "u1"), &learner);
  ASSERT_EQ(learner.statements.size(), 2u);
  EXPECT_EQ(learner.statements[0].record.learners, std::vector<std::string>({"u1"}));
  EXPECT_EQ(learner.statements[1].record.learners, std::vector<std::string>({"u2", "u1"}));
  EXPECT_EQ(learner.next_page_token, "next");
  StatementPage teacher = page;
  KeepReadable(Grant(Role::kTeacher, "teacher-li"), &teacher);
  ASSERT_EQ(teacher.statements.size(), 2u);
  EXPECT_EQ(teacher.statements[1].record.learners, std::vector<std::string>({"u000042"}));
  StatementPage loader = page;
  KeepReadable(Grant(Role::kLoader, "feed"), &loader);
  EXPECT_EQ(loader.statements.size(), 4u);
}

}  // namespace
}  // namespace lifelong::records
