// Attacks on learner scoping through the xAPI statements resource, against a
// real record server (real RocksDB, gRPC and xAPI on real ports) with
// authentication on. A learner's token may read only statements the learner
// is filed under (the actor, or a member of a Group actor), whatever filter
// the query names:
//   - related_agents=true matches the agent's identifier anywhere in a
//     statement's text, so it used to return other learners' statements:
//     those naming the caller as instructor (or in any other field), and,
//     since an account's name was matched as a bare substring, every
//     statement of a learner whose key contains the caller's (u00004 read
//     u000042's records);
//   - the StatementRef filter condition (xAPI 2.1.3) used to return other
//     learners' statements that refer to the caller's (and so let a learner
//     plant a statement in another learner's statement list);
// and regression guards for attacks that were already refused: another
// learner's statement by statementId / voidedStatementId, a `more` link
// replayed by another learner or with a forged position, another learner's
// State and Agent Profile documents, a teacher's query outside their courses.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/principal.h"
#include "services/domain/vocabulary.h"
#include "services/records/record_store.h"
#include "services/records/statement.h"
#include "services/records/test_statements.h"
#include "services/xapi/document_store.h"
#include "services/xapi/multipart.h"
#include "tests/testing/records_fixture.h"
#include "tests/testing/store_files.h"
#include "tests/testing/subprocess.h"

namespace lifelong {
namespace {

using auth::Principal;
using auth::Role;
using records::testing::MakeStatement;
using records::testing::StatementSpec;
using records::testing::TestUuid;

constexpr char kKey[] = "record-scoping-attacks-key-0123456789abcdef";

Principal Of(Role role, const std::string& subject) { return testing::TestPrincipal(role, subject); }

std::string Agent(const std::string& learner) {
  return nlohmann::json{{"account", {{"homePage", std::string(vocab::kDistrictIdp)}, {"name", learner}}}}.dump();
}

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::BytesToHexString(std::string(1, static_cast<char>(c))));
    }
  }
  return out;
}

class RecordScopingAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::TestRecordsServerOptions o;
    o.key = kKey;
    o.xapi_credentials = "feed:feed-secret-Zq3xV9 role=loader subject=svc-feed\n";
    dir_ = testing::FreshTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto server = testing::TestRecordsServer::Start(dir_, std::move(o));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  httplib::Result Call(const std::string& method, const std::string& path, const std::string& authorization,
                       const std::string& body = "") {
    httplib::Client c("127.0.0.1", server_->xapi_port());
    httplib::Headers h = {{"X-Experience-API-Version", "2.0.0"}, {"Authorization", authorization}};
    if (method == "POST") return c.Post(path.c_str(), h, body, "application/json");
    if (method == "PUT") return c.Put(path.c_str(), h, body, "application/json");
    if (method == "DELETE") return c.Delete(path.c_str(), h);
    return c.Get(path.c_str(), h);
  }
  std::string Bearer(const Principal& p) { return "Bearer " + server_->Token(p); }
  std::string Feed() { return "Basic " + absl::Base64Escape("feed:feed-secret-Zq3xV9"); }

  // Stores `json` through the trusted feed (loader).
  void Store(const std::string& json) {
    httplib::Result r = Call("POST", "/xapi/statements", Feed(), json);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }

  // GET /xapi/statements?query as `p`: the status and the statement ids.
  std::pair<int, std::set<std::string>> Query(const Principal& p, const std::string& query,
                                              std::string* more = nullptr) {
    httplib::Result r = Call("GET", "/xapi/statements?" + query, Bearer(p));
    if (!r) return {-1, {}};
    std::set<std::string> ids;
    if (r->status == 200) {
      nlohmann::json j = nlohmann::json::parse(r->body);
      for (const auto& s : j["statements"]) ids.insert(s["id"].get<std::string>());
      if (more != nullptr) *more = j["more"].get<std::string>();
    }
    return {r->status, ids};
  }

  std::string dir_;  // the server's data
  std::unique_ptr<testing::TestRecordsServer> server_;
};

TEST_F(RecordScopingAttackTest, RelatedAgentsReturnsOnlyTheCallersOwnStatements) {
  // The attacker u00004's own statement, u000042's statement (the attacker's
  // key is a prefix of the victim's), and u000043's statement naming the
  // attacker as its instructor.
  Store(MakeStatement({.id = TestUuid(1), .learner = "u00004"}));
  Store(MakeStatement({.id = TestUuid(2), .learner = "u000042", .verb = "passed", .credits = 3}));
  nlohmann::json with_instructor = nlohmann::json::parse(MakeStatement({.id = TestUuid(3), .learner = "u000043"}));
  with_instructor["context"]["instructor"] = nlohmann::json::parse(Agent("u00004"));
  Store(with_instructor.dump());

  const Principal attacker = Of(Role::kLearner, "u00004");
  auto [status, ids] = Query(attacker, "related_agents=true&agent=" + UrlEncode(Agent("u00004")));
  ASSERT_EQ(status, 200);
  EXPECT_EQ(ids, std::set<std::string>({TestUuid(1)}));
  // Pages are full of the caller's own statements, not cut short by others'.
  for (int i = 0; i < 5; ++i) {
    Store(MakeStatement({.id = TestUuid(200 + i), .learner = "u00004"}));
    Store(MakeStatement({.learner = "u000042"}));
    Store(MakeStatement({.learner = "u000042"}));
  }
  auto [status_page, page] = Query(attacker, "limit=3&related_agents=true&agent=" + UrlEncode(Agent("u00004")));
  ASSERT_EQ(status_page, 200);
  EXPECT_EQ(page, std::set<std::string>({TestUuid(202), TestUuid(203), TestUuid(204)}));
  // Without related_agents: the same.
  auto [status2, ids2] = Query(attacker, "limit=1&ascending=true&agent=" + UrlEncode(Agent("u00004")));
  ASSERT_EQ(status2, 200);
  EXPECT_EQ(ids2, std::set<std::string>({TestUuid(1)}));
  // The trusted feed (scope any) still gets what xAPI defines: the statement
  // naming u00004 as instructor is related to u00004.
  httplib::Result feed =
      Call("GET", "/xapi/statements?related_agents=true&agent=" + UrlEncode(Agent("u00004")), Feed());
  ASSERT_TRUE(feed);
  ASSERT_EQ(feed->status, 200);
  EXPECT_NE(feed->body.find(TestUuid(3)), std::string::npos);
}

TEST_F(RecordScopingAttackTest, RelatedAgentsOfALearnerReadsTheirIndexNotTheWholeStore) {
  // The learner's statement, then 20,100 of another learner's: a scan of the
  // whole store stops after 20,000 entries a page, and found nothing.
  Store(MakeStatement({.id = TestUuid(300), .learner = "u7"}));
  for (int b = 0; b < 21; ++b) {
    std::vector<records::ParsedStatement> batch;
    for (int i = 0; i < (b < 20 ? 1000 : 100); ++i) {
      absl::StatusOr<records::ParsedStatement> p = records::ParseStatement(MakeStatement({.learner = "u8"}));
      ASSERT_TRUE(p.ok()) << p.status();
      batch.push_back(*std::move(p));
    }
    ASSERT_TRUE(server_->store().Record(std::move(batch)).ok());
  }
  auto [status, ids] = Query(Of(Role::kLearner, "u7"), "limit=1&related_agents=true&agent=" + UrlEncode(Agent("u7")));
  ASSERT_EQ(status, 200);
  EXPECT_EQ(ids, std::set<std::string>({TestUuid(300)}));
}

TEST_F(RecordScopingAttackTest, RelatedActivitiesOfATeacherReadsTheCoursesIndexNotTheWholeStore) {
  // A statement about the teacher's course c1, then 20,100 about course c3:
  // a scan of the whole store stops after 20,000 entries a page, and found
  // nothing (a teacher could keep the server scanning at will).
  Store(MakeStatement({.id = TestUuid(310), .learner = "u2", .course = "c1"}));
  for (int b = 0; b < 21; ++b) {
    std::vector<records::ParsedStatement> batch;
    for (int i = 0; i < (b < 20 ? 1000 : 100); ++i) {
      absl::StatusOr<records::ParsedStatement> p =
          records::ParseStatement(MakeStatement({.learner = "u8", .course = "c3"}));
      ASSERT_TRUE(p.ok()) << p.status();
      batch.push_back(*std::move(p));
    }
    ASSERT_TRUE(server_->store().Record(std::move(batch)).ok());
  }
  auto [status, ids] =
      Query(Of(Role::kTeacher, "t1"), "limit=1&related_activities=true&activity=" + UrlEncode(vocab::CourseIri("c1")));
  ASSERT_EQ(status, 200);
  EXPECT_EQ(ids, std::set<std::string>({TestUuid(310)}));
}

TEST_F(RecordScopingAttackTest, StatementRefsDoNotCrossLearners) {
  // The victim u2's statement, and the attacker u1's own.
  Store(MakeStatement({.id = TestUuid(10), .learner = "u2", .verb = "passed", .credits = 2}));
  Store(MakeStatement({.id = TestUuid(11), .learner = "u1"}));
  // The attacker plants a statement of their own that refers to the victim's
  // (a learner may write it: its only learner is the attacker).
  nlohmann::json planted = nlohmann::json::parse(MakeStatement({.id = TestUuid(12), .learner = "u1"}));
  planted["verb"] = {{"id", "http://adlnet.gov/expapi/verbs/commented"}};
  planted["object"] = {{"objectType", "StatementRef"}, {"id", TestUuid(10)}};
  httplib::Result w = Call("POST", "/xapi/statements", Bearer(Of(Role::kLearner, "u1")), planted.dump());
  ASSERT_TRUE(w);
  ASSERT_EQ(w->status, 200) << w->body;
  // Another learner (u2) refers to the attacker's statement.
  nlohmann::json reply = nlohmann::json::parse(MakeStatement({.id = TestUuid(13), .learner = "u2"}));
  reply["verb"] = {{"id", "http://adlnet.gov/expapi/verbs/commented"}};
  reply["object"] = {{"objectType", "StatementRef"}, {"id", TestUuid(11)}};
  Store(reply.dump());

  // The victim's list holds their own statements only, not the planted one.
  auto [s2, victim_ids] = Query(Of(Role::kLearner, "u2"), "agent=" + UrlEncode(Agent("u2")));
  ASSERT_EQ(s2, 200);
  EXPECT_EQ(victim_ids, std::set<std::string>({TestUuid(10), TestUuid(13)}));
  // The attacker does not read u2's statement through the reference either.
  auto [s1, attacker_ids] = Query(Of(Role::kLearner, "u1"), "agent=" + UrlEncode(Agent("u1")));
  ASSERT_EQ(s1, 200);
  EXPECT_EQ(attacker_ids, std::set<std::string>({TestUuid(11), TestUuid(12)}));
  // By id it was already refused.
  httplib::Result by_id = Call("GET", "/xapi/statements?statementId=" + TestUuid(13), Bearer(Of(Role::kLearner, "u1")));
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->status, 404);
  // The feed still gets the StatementRef filter condition of xAPI.
  httplib::Result feed = Call("GET", "/xapi/statements?agent=" + UrlEncode(Agent("u1")), Feed());
  ASSERT_TRUE(feed);
  EXPECT_NE(feed->body.find(TestUuid(13)), std::string::npos);
}

TEST_F(RecordScopingAttackTest, PlantedStatementRefsDoNotCrowdOutTheVictimsOwnStatements) {
  // The victim's statements, then 300 statements of the attacker's own that
  // refer to one of them (each is filed in the victim's learner index as a
  // reference): the victim's first page must still be their statements.
  for (int i = 0; i < 3; ++i) Store(MakeStatement({.id = TestUuid(100 + i), .learner = "u2"}));
  nlohmann::json batch = nlohmann::json::array();
  for (int i = 0; i < 300; ++i) {
    nlohmann::json ref = nlohmann::json::parse(MakeStatement({.learner = "u1"}));
    ref["verb"] = {{"id", "http://adlnet.gov/expapi/verbs/commented"}};
    ref["object"] = {{"objectType", "StatementRef"}, {"id", TestUuid(100)}};
    batch.push_back(ref);
  }
  httplib::Result w = Call("POST", "/xapi/statements", Bearer(Of(Role::kLearner, "u1")), batch.dump());
  ASSERT_TRUE(w);
  ASSERT_EQ(w->status, 200) << w->body.substr(0, 200);
  auto [status, ids] = Query(Of(Role::kLearner, "u2"), "limit=10&agent=" + UrlEncode(Agent("u2")));
  ASSERT_EQ(status, 200);
  EXPECT_EQ(ids, std::set<std::string>({TestUuid(100), TestUuid(101), TestUuid(102)}));
}

TEST_F(RecordScopingAttackTest, OtherLearnersStatementsByIdAreAbsent) {
  Store(MakeStatement({.id = TestUuid(20), .learner = "u2"}));
  Store(MakeStatement({.id = TestUuid(21), .learner = "u2", .verb = "voided", .course = TestUuid(20)}));
  const std::string attacker = Bearer(Of(Role::kLearner, "u1"));
  httplib::Result voided = Call("GET", "/xapi/statements?voidedStatementId=" + TestUuid(20), attacker);
  ASSERT_TRUE(voided);
  EXPECT_EQ(voided->status, 404);
  httplib::Result voiding = Call("GET", "/xapi/statements?statementId=" + TestUuid(21), attacker);
  ASSERT_TRUE(voiding);
  EXPECT_EQ(voiding->status, 404);
  // The owner reads both.
  httplib::Result own =
      Call("GET", "/xapi/statements?voidedStatementId=" + TestUuid(20), Bearer(Of(Role::kLearner, "u2")));
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 200);
  // Queries without agent=self, or naming another learner, are refused.
  EXPECT_EQ(Query(Of(Role::kLearner, "u1"), "agent=" + UrlEncode(Agent("u2"))).first, 403);
  EXPECT_EQ(Query(Of(Role::kLearner, "u1"), "registration=" + TestUuid(99)).first, 403);
  EXPECT_EQ(Query(Of(Role::kLearner, "u1"), "related_agents=true").first, 403);
}

TEST_F(RecordScopingAttackTest, MoreLinksAreBoundToTheirQuery) {
  for (int i = 0; i < 4; ++i) Store(MakeStatement({.id = TestUuid(30 + i), .learner = "u2"}));
  std::string more;
  auto [status, ids] = Query(Of(Role::kLearner, "u2"), "limit=1&agent=" + UrlEncode(Agent("u2")), &more);
  ASSERT_EQ(status, 200);
  ASSERT_EQ(ids.size(), 1u);
  ASSERT_FALSE(more.empty());
  const std::string token = more.substr(more.find("more=") + 5);
  // Another learner replays the link as is: refused for its agent.
  EXPECT_EQ(Query(Of(Role::kLearner, "u1"), more.substr(more.find('?') + 1)).first, 403);
  // ... or with their own agent: the token is bound to the victim's query.
  EXPECT_EQ(Query(Of(Role::kLearner, "u1"), "limit=1&agent=" + UrlEncode(Agent("u1")) + "&more=" + token).first, 400);
  // A forged token.
  std::string forged = token;
  forged[forged.size() / 2] = forged[forged.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Query(Of(Role::kLearner, "u2"), "limit=1&agent=" + UrlEncode(Agent("u2")) + "&more=" + forged).first, 400);
}

TEST_F(RecordScopingAttackTest, OtherLearnersDocumentsAreRefused) {
  const std::string activity = UrlEncode(vocab::CourseIri("c1"));
  const std::string victim = Bearer(Of(Role::kLearner, "u2"));
  const std::string attacker = Bearer(Of(Role::kLearner, "u1"));
  const std::string state = "/xapi/activities/state?activityId=" + activity + "&agent=" + UrlEncode(Agent("u2"));
  httplib::Result put = Call("PUT", state + "&stateId=progress", victim, R"({"page":7})");
  ASSERT_TRUE(put);
  ASSERT_EQ(put->status, 204) << put->body;
  for (const char* method : {"GET", "PUT", "POST", "DELETE"}) {
    httplib::Result r = Call(method, state + "&stateId=progress", attacker, R"({"page":1})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << method << " " << r->body;
  }
  // The id list, and the agent given as a Group identified by the victim.
  EXPECT_EQ(Call("GET", state, attacker)->status, 403);
  std::string group = nlohmann::json{{"objectType", "Group"},
                                     {"account", {{"homePage", std::string(vocab::kDistrictIdp)}, {"name", "u2"}}},
                                     {"member", {nlohmann::json::parse(Agent("u1"))}}}
                          .dump();
  EXPECT_EQ(
      Call("GET", "/xapi/activities/state?activityId=" + activity + "&agent=" + UrlEncode(group) + "&stateId=progress",
           attacker)
          ->status,
      403);
  const std::string profile = "/xapi/agents/profile?agent=" + UrlEncode(Agent("u2")) + "&profileId=prefs";
  EXPECT_EQ(Call("GET", profile, attacker)->status, 403);
  EXPECT_EQ(Call("PUT", profile, attacker, R"({"x":1})")->status, 403);
  EXPECT_EQ(Call("GET", "/xapi/agents?agent=" + UrlEncode(Agent("u2")), attacker)->status, 403);
  // The victim's document is unchanged.
  httplib::Result still = Call("GET", state + "&stateId=progress", victim);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->body, R"({"page":7})");
}

// The attachments member of a statement: one text/plain certificate of
// `length` bytes named by `sha2`; with `file_url`, that fileUrl too.
nlohmann::json CertificateAttachment(const std::string& sha2, size_t length, const std::string& file_url = "") {
  nlohmann::json a = {{"usageType", "http://id.tincanapi.com/attachment/certificate-of-completion"},
                      {"display", {{"zh-CN", "结业证书"}}},
                      {"contentType", "text/plain"},
                      {"length", length},
                      {"sha2", sha2}};
  if (!file_url.empty()) a["fileUrl"] = file_url;
  return nlohmann::json::array({a});
}

// A statement with one attachment (text/plain, `sha2`) as multipart/mixed,
// the part carrying `content` under the hash header `sha2`.
// A statement with one attachment sent as a part; with `file_url`, the
// attachment names that fileUrl too (xAPI allows both).
std::string MultipartStatement(const std::string& id, const std::string& learner, const std::string& sha2,
                               const std::string& content, const std::string& file_url = "",
                               const std::string& course = "c1") {
  nlohmann::json st = nlohmann::json::parse(MakeStatement({.id = id, .learner = learner, .course = course}));
  st["attachments"] = CertificateAttachment(sha2, content.size(), file_url);
  return absl::StrCat("--b0undary\r\nContent-Type: application/json\r\n\r\n", st.dump(),
                      "\r\n--b0undary\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n"
                      "X-Experience-API-Hash: ",
                      sha2, "\r\n\r\n", content, "\r\n--b0undary--\r\n");
}

TEST_F(RecordScopingAttackTest, AttachmentContentMustMatchItsHash) {
  // Attachments are stored by their SHA-256, shared by every statement that
  // names it. The victim's certificate:
  const std::string certificate = "结业证书: u2, 书法入门, 2 学分";
  const std::string sha2 = xapi::Sha256Hex(certificate);
  httplib::Client c("127.0.0.1", server_->xapi_port());
  httplib::Headers victim = {{"X-Experience-API-Version", "2.0.0"},
                             {"Authorization", Bearer(Of(Role::kLearner, "u2"))}};
  httplib::Result ok = c.Post("/xapi/statements", victim, MultipartStatement(TestUuid(50), "u2", sha2, certificate),
                              "multipart/mixed; boundary=b0undary");
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body;
  // The attacker sends other bytes under that hash, with a statement of
  // their own: refused, naming the part.
  httplib::Headers attacker = {{"X-Experience-API-Version", "2.0.0"},
                               {"Authorization", Bearer(Of(Role::kLearner, "u1"))}};
  httplib::Result forged =
      c.Post("/xapi/statements", attacker, MultipartStatement(TestUuid(51), "u1", sha2, "伪造的证书: u2, 0 学分"),
             "multipart/mixed; boundary=b0undary");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 400) << forged->body;
  EXPECT_NE(forged->body.find("X-Experience-API-Hash"), std::string::npos) << forged->body;
  // The victim's attachment is unchanged.
  httplib::Result read = c.Get(("/xapi/statements?attachments=true&statementId=" + TestUuid(50)).c_str(), victim);
  ASSERT_TRUE(read);
  ASSERT_EQ(read->status, 200) << read->body;
  EXPECT_NE(read->body.find(certificate), std::string::npos);
  EXPECT_EQ(read->body.find("伪造"), std::string::npos);
}

TEST_F(RecordScopingAttackTest, AMultipartBodyOfTinyPartsIsRefused) {
  // 15 MiB of LF-separated empty parts (1.7 million): parsing used to take
  // time quadratic in the body, many minutes of a worker per request.
  std::string body = "--b\n";
  while (body.size() < (15u << 20)) body += "\n\nx\n--b\n";
  body += "\n\nx\n--b--";
  httplib::Client c("127.0.0.1", server_->xapi_port());
  c.set_read_timeout(60, 0);
  httplib::Headers h = {{"X-Experience-API-Version", "2.0.0"}, {"Authorization", Bearer(Of(Role::kLearner, "u1"))}};
  httplib::Result r = c.Post("/xapi/statements", h, body, "multipart/mixed; boundary=b");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("more than 1001 parts"), std::string::npos) << r->body;
}

TEST_F(RecordScopingAttackTest, APostCarriesAtMostAThousandStatements) {
  // As gRPC RecordStatements: 1,001 small statements are refused whole.
  auto batch = [](int n, int first) {
    nlohmann::json a = nlohmann::json::array();
    for (int i = 0; i < n; ++i)
      a.push_back(nlohmann::json::parse(MakeStatement({.id = TestUuid(first + i), .learner = "u1"})));
    return a.dump();
  };
  const std::string self = Bearer(Of(Role::kLearner, "u1"));
  httplib::Result big = Call("POST", "/xapi/statements", self, batch(1001, 5000));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 400);
  EXPECT_NE(big->body.find("statements: at most 1000"), std::string::npos) << big->body;
  EXPECT_EQ(Call("GET", "/xapi/statements?statementId=" + TestUuid(5000), self)->status, 404);
  httplib::Result ok = Call("POST", "/xapi/statements", self, batch(1000, 7000));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(RecordScopingAttackTest, APageWithAttachmentsHoldsAtMostTenStatements) {
  // Each statement's attachments come with it (up to 16 MiB a request): a
  // page of 500 such statements was built in memory whole.
  httplib::Client c("127.0.0.1", server_->xapi_port());
  httplib::Headers self = {{"X-Experience-API-Version", "2.0.0"}, {"Authorization", Bearer(Of(Role::kLearner, "u1"))}};
  for (int i = 0; i < 12; ++i) {
    const std::string content = absl::StrCat("附件 ", i);
    httplib::Result w =
        c.Post("/xapi/statements", self, MultipartStatement(TestUuid(400 + i), "u1", xapi::Sha256Hex(content), content),
               "multipart/mixed; boundary=b0undary");
    ASSERT_TRUE(w);
    ASSERT_EQ(w->status, 200) << w->body;
  }
  httplib::Result r =
      c.Get(("/xapi/statements?attachments=true&limit=500&agent=" + UrlEncode(Agent("u1"))).c_str(), self);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body.substr(0, 200);
  absl::StatusOr<std::string> boundary = xapi::MultipartBoundary(r->get_header_value("Content-Type"));
  ASSERT_TRUE(boundary.ok()) << boundary.status();
  absl::StatusOr<std::vector<xapi::MultipartPart>> parts = xapi::ParseMultipart(*boundary, r->body);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 11u);  // the statements, and ten attachments
  nlohmann::json page = nlohmann::json::parse((*parts)[0].body);
  EXPECT_EQ(page["statements"].size(), 10u);
  EXPECT_FALSE(page["more"].get<std::string>().empty());
}

TEST_F(RecordScopingAttackTest, AttachmentsAreNotReadableByNamingTheirHash) {
  // The victim's certificate, whose text an attacker can guess (so its hash).
  const std::string certificate = "结业证书: u2, 书法入门, 2 学分";
  const std::string sha2 = xapi::Sha256Hex(certificate);
  httplib::Client c("127.0.0.1", server_->xapi_port());
  httplib::Headers victim = {{"X-Experience-API-Version", "2.0.0"},
                             {"Authorization", Bearer(Of(Role::kLearner, "u2"))}};
  httplib::Result ok = c.Post("/xapi/statements", victim, MultipartStatement(TestUuid(60), "u2", sha2, certificate),
                              "multipart/mixed; boundary=b0undary");
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body;
  // The attacker's own statement names the hash with a fileUrl (no part
  // needed), then asks for its attachments.
  nlohmann::json st = nlohmann::json::parse(MakeStatement({.id = TestUuid(61), .learner = "u1"}));
  st["attachments"] = CertificateAttachment(sha2, certificate.size(), "https://example.org/certificate.txt");
  const std::string attacker = Bearer(Of(Role::kLearner, "u1"));
  httplib::Result w = Call("POST", "/xapi/statements", attacker, st.dump());
  ASSERT_TRUE(w);
  ASSERT_EQ(w->status, 200) << w->body;
  for (const std::string& query :
       {"attachments=true&statementId=" + TestUuid(61), "attachments=true&agent=" + UrlEncode(Agent("u1"))}) {
    httplib::Result r = Call("GET", "/xapi/statements?" + query, attacker);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->body.find(certificate), std::string::npos) << query;
  }
  // The owner still gets it.
  httplib::Result own = c.Get(("/xapi/statements?attachments=true&statementId=" + TestUuid(60)).c_str(), victim);
  ASSERT_TRUE(own);
  EXPECT_NE(own->body.find(certificate), std::string::npos);
  // A statement that names a fileUrl and also carries the part (xAPI allows
  // both; the ADL conformance suite does it) gets its attachment back, and
  // only that statement: the attacker's fileUrl-only statement still reads
  // nothing though the bytes are now stored for the other one too.
  const std::string transcript = "成绩单: u2, 书法入门, 合格";
  const std::string transcript_sha2 = xapi::Sha256Hex(transcript);
  httplib::Result both =
      c.Post("/xapi/statements", victim,
             MultipartStatement(TestUuid(62), "u2", transcript_sha2, transcript, "https://example.org/transcript.txt"),
             "multipart/mixed; boundary=b0undary");
  ASSERT_TRUE(both);
  ASSERT_EQ(both->status, 200) << both->body;
  httplib::Result carried = c.Get(("/xapi/statements?attachments=true&statementId=" + TestUuid(62)).c_str(), victim);
  ASSERT_TRUE(carried);
  ASSERT_EQ(carried->status, 200) << carried->body;
  EXPECT_NE(carried->body.find(transcript), std::string::npos) << carried->body;
  st["id"] = TestUuid(63);
  st["attachments"][0]["sha2"] = transcript_sha2;
  httplib::Result w2 = Call("POST", "/xapi/statements", attacker, st.dump());
  ASSERT_TRUE(w2);
  ASSERT_EQ(w2->status, 200) << w2->body;
  httplib::Result r2 = Call("GET", "/xapi/statements?attachments=true&statementId=" + TestUuid(63), attacker);
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->status, 200) << r2->body;
  EXPECT_EQ(r2->body.find(transcript), std::string::npos);
}

// A statement serves only the bytes sent with it. A teacher may write about
// any learner of their course, so a teacher's statement naming the hash of a
// learner's certificate from another course read it; and a statement written
// over gRPC (no parts there) read bytes an earlier version had stored by hash
// alone. Bytes of earlier versions are served only to the statement they came
// with (stored within a minute after them).
TEST_F(RecordScopingAttackTest, AttachmentsAreServedOnlyWithTheStatementTheyCameWith) {
  const std::string certificate = "结业证书: u2, 太极拳, 1 学分";
  const std::string sha2 = xapi::Sha256Hex(certificate);
  httplib::Client c("127.0.0.1", server_->xapi_port());
  httplib::Headers victim = {{"X-Experience-API-Version", "2.0.0"},
                             {"Authorization", Bearer(Of(Role::kLearner, "u2"))}};
  httplib::Result ok =
      c.Post("/xapi/statements", victim, MultipartStatement(TestUuid(70), "u2", sha2, certificate, "", /*course=*/"c2"),
             "multipart/mixed; boundary=b0undary");
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body;
  // Teacher t1 runs c1, not c2: a statement about u2 on c1 naming the hash.
  nlohmann::json st = nlohmann::json::parse(MakeStatement({.id = TestUuid(71), .learner = "u2", .course = "c1"}));
  st["attachments"] = CertificateAttachment(sha2, certificate.size(), "https://example.org/certificate.txt");
  const std::string teacher = Bearer(Of(Role::kTeacher, "t1"));
  httplib::Result w = Call("POST", "/xapi/statements", teacher, st.dump());
  ASSERT_TRUE(w);
  ASSERT_EQ(w->status, 200) << w->body;
  httplib::Result r = Call("GET", "/xapi/statements?attachments=true&statementId=" + TestUuid(71), teacher);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body.find(certificate), std::string::npos) << "a teacher read a certificate of another course";
  // The owner still gets it with the statement it came with.
  httplib::Result own = c.Get(("/xapi/statements?attachments=true&statementId=" + TestUuid(70)).c_str(), victim);
  ASSERT_TRUE(own);
  EXPECT_NE(own->body.find(certificate), std::string::npos) << own->body;

  // Bytes an earlier version stored by hash alone, an hour ago; u1 names
  // the hash in a statement of their own over gRPC (no part, no fileUrl).
  const std::string old = "成绩单: u3, 书法入门, 优秀";
  const std::string old_sha2 = xapi::Sha256Hex(old);
  const int64_t now_us = absl::ToUnixMicros(absl::Now());
  ASSERT_TRUE(server_->server()
                  .documents()
                  ->Put(xapi::DocKey{xapi::DocKind::kAttachment, "", "", "", old_sha2}, "text/plain", old, {},
                        now_us - 3'600'000'000)
                  .ok());
  st = nlohmann::json::parse(MakeStatement({.id = TestUuid(72), .learner = "u1"}));
  st["attachments"] = CertificateAttachment(old_sha2, old.size());
  v1::RecordStatementRequest rr;
  rr.set_statement_json(st.dump());
  v1::Statement out;
  ASSERT_TRUE(server_->stub().RecordStatement(server_->Context(Of(Role::kLearner, "u1")).get(), rr, &out).ok());
  const std::string attacker = Bearer(Of(Role::kLearner, "u1"));
  httplib::Result r2 = Call("GET", "/xapi/statements?attachments=true&statementId=" + TestUuid(72), attacker);
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->status, 200) << r2->body;
  EXPECT_EQ(r2->body.find(old), std::string::npos) << "old bytes stored by hash read by a new statement";
  // Bytes stored the earlier way just before their statement (a learner's
  // own, under the learner and hash) are still served with it.
  const std::string legacy = "结业证书: u1, 剪纸, 1 学分";
  const std::string legacy_sha2 = xapi::Sha256Hex(legacy);
  ASSERT_TRUE(server_->server()
                  .documents()
                  ->Put(xapi::DocKey{xapi::DocKind::kLearnerAttachment, "", "u1", "", legacy_sha2}, "text/plain",
                        legacy, {}, absl::ToUnixMicros(absl::Now()))
                  .ok());
  st["id"] = TestUuid(73);
  st["attachments"][0]["sha2"] = legacy_sha2;
  st["attachments"][0]["length"] = legacy.size();
  rr.set_statement_json(st.dump());
  ASSERT_TRUE(server_->stub().RecordStatement(server_->Context(Of(Role::kLearner, "u1")).get(), rr, &out).ok());
  httplib::Result r3 = Call("GET", "/xapi/statements?attachments=true&statementId=" + TestUuid(73), attacker);
  ASSERT_TRUE(r3);
  EXPECT_NE(r3->body.find(legacy), std::string::npos) << r3->body;
}

// Activity profiles are one namespace (content metadata every caller reads):
// a teacher writes only the profiles of the courses they run.
TEST_F(RecordScopingAttackTest, TeachersWriteOnlyTheirCoursesActivityProfiles) {
  const std::string teacher = Bearer(Of(Role::kTeacher, "t1"));  // runs c1
  auto profile = [](const std::string& course) {
    return "/xapi/activities/profile?profileId=syllabus&activityId=" + UrlEncode(vocab::CourseIri(course));
  };
  httplib::Result own = Call("PUT", profile("c1"), teacher, R"({"weeks":8})");
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 204) << own->body;
  for (const char* method : {"PUT", "POST", "DELETE"}) {
    httplib::Result other = Call(method, profile("c2"), teacher, R"({"weeks":1,"note":"改到别处上课"})");
    ASSERT_TRUE(other);
    EXPECT_EQ(other->status, 403) << method << " " << other->body;
    EXPECT_NE(other->body.find("activityId"), std::string::npos) << other->body;
  }
  httplib::Result other_iri =
      Call("PUT", "/xapi/activities/profile?profileId=syllabus&activityId=" + UrlEncode("https://example.org/anything"),
           teacher, "{}");
  ASSERT_TRUE(other_iri);
  EXPECT_EQ(other_iri->status, 403) << other_iri->body;
  // Reading stays open to them (content metadata).
  httplib::Result read = Call("GET", profile("c1"), teacher);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200) << read->body;
  EXPECT_EQ(read->body, R"({"weeks":8})");
}

// A learner's erasure removes the attachment bytes their statements carried
// (a certificate is personal data), from every file of the store, and leaves
// another learner's copy of the same content readable.
TEST_F(RecordScopingAttackTest, ErasureRemovesTheLearnersAttachmentBytes) {
  const std::string certificate = "结业证书: u5, 书法入门, 2 学分, erased-attachment-4b1e9d";
  const std::string shared = "课程讲义: 书法入门 第一讲";
  httplib::Client c("127.0.0.1", server_->xapi_port());
  auto post = [&](const std::string& learner, int id, const std::string& content) {
    httplib::Headers h = {{"X-Experience-API-Version", "2.0.0"},
                          {"Authorization", Bearer(Of(Role::kLearner, learner))}};
    httplib::Result r =
        c.Post("/xapi/statements", h, MultipartStatement(TestUuid(id), learner, xapi::Sha256Hex(content), content),
               "multipart/mixed; boundary=b0undary");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  };
  post("u5", 70, certificate);
  post("u5", 71, shared);
  post("u6", 72, shared);
  // The check can fail: the bytes are on disk before the erasure.
  ASSERT_TRUE(testing::AnyFileContains(dir_, certificate));
  v1::EraseLearnerRequest er;
  er.set_learner("u5");
  er.set_wait_for_purge(true);
  v1::EraseLearnerResponse eo;
  grpc::Status erased =
      server_->stub().EraseLearner(server_->Context(Of(Role::kOperator, "operator-wang")).get(), er, &eo);
  ASSERT_TRUE(erased.ok()) << erased.error_message();
  EXPECT_TRUE(eo.purged());
  EXPECT_FALSE(testing::AnyFileContains(dir_, certificate)) << "logs, tables or manifests still hold the bytes";
  EXPECT_FALSE(testing::AnyTableEntryContains(dir_, certificate));
  httplib::Result kept =
      Call("GET", "/xapi/statements?attachments=true&statementId=" + TestUuid(72), Bearer(Of(Role::kLearner, "u6")));
  ASSERT_TRUE(kept);
  ASSERT_EQ(kept->status, 200) << kept->body;
  EXPECT_NE(kept->body.find(shared), std::string::npos) << "another learner's copy stays";
}

TEST_F(RecordScopingAttackTest, HugeDocumentKeysAreRefused) {
  // The alternate request syntax (xAPI 1.0.3) carries parameters in the form
  // body, which may be longer than a URL: a document key's strings are
  // stored with 16-bit lengths, and one of 64 KiB or more would be cut. The
  // form body is capped (cpp-httplib, 8 KiB): 413 before any look-up.
  const std::string attacker = Bearer(Of(Role::kLearner, "u1"));
  auto alternate = [&](const std::string& activity, const std::string& state_id, const std::string& content_type) {
    std::string form = absl::StrCat("Authorization=", UrlEncode(attacker), "&X-Experience-API-Version=1.0.3",
                                    "&Content-Type=", UrlEncode(content_type), "&activityId=", UrlEncode(activity),
                                    "&agent=", UrlEncode(Agent("u1")), "&stateId=", UrlEncode(state_id),
                                    "&content=", UrlEncode(R"({"page":1})"));
    httplib::Client c("127.0.0.1", server_->xapi_port());
    return c.Post("/xapi/activities/state?method=PUT", form, "application/x-www-form-urlencoded");
  };
  const std::string course = vocab::CourseIri("c1");
  httplib::Result fine = alternate(course, "progress", "application/json");
  ASSERT_TRUE(fine);
  ASSERT_EQ(fine->status, 204) << fine->body;
  httplib::Result long_id = alternate(course, std::string(70000, 'x'), "application/json");
  ASSERT_TRUE(long_id);
  EXPECT_EQ(long_id->status, 413) << long_id->body;
  httplib::Result long_activity = alternate(course + "/" + std::string(70000, 'a'), "progress", "application/json");
  ASSERT_TRUE(long_activity);
  EXPECT_EQ(long_activity->status, 413) << long_activity->body;
  httplib::Result long_type = alternate(course, "progress", "application/json;" + std::string(70000, 'p'));
  ASSERT_TRUE(long_type);
  EXPECT_EQ(long_type->status, 413) << long_type->body;
  // The state ids stored are exactly the one written.
  httplib::Result ids = Call(
      "GET", "/xapi/activities/state?activityId=" + UrlEncode(course) + "&agent=" + UrlEncode(Agent("u1")), attacker);
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->body, R"(["progress"])");
}

TEST_F(RecordScopingAttackTest, LearnersCannotRewriteSharedActivityDefinitions) {
  // The district's definition of course c1, from the trusted feed.
  Store(MakeStatement({.id = TestUuid(70), .learner = "u2", .title = "书法入门"}));
  // A learner's own statement about c1, with a definition of their making
  // (newer, so it used to come first in GET /activities, for every caller).
  nlohmann::json mine = nlohmann::json::parse(MakeStatement({.id = TestUuid(71), .learner = "u1"}));
  mine["object"]["definition"] = {{"name", {{"zh-CN", "免费领奖 请访问 http://evil.example"}}},
                                  {"description", {{"en-US", "u2 failed this course"}}}};
  httplib::Result w = Call("POST", "/xapi/statements", Bearer(Of(Role::kLearner, "u1")), mine.dump());
  ASSERT_TRUE(w);
  ASSERT_EQ(w->status, 200) << w->body;
  httplib::Result r =
      Call("GET", "/xapi/activities?activityId=" + UrlEncode(vocab::CourseIri("c1")), Bearer(Of(Role::kLearner, "u3")));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  nlohmann::json activity = nlohmann::json::parse(r->body);
  EXPECT_EQ(activity["definition"]["name"], nlohmann::json({{"zh-CN", "书法入门"}})) << r->body;
  EXPECT_FALSE(activity["definition"].contains("description")) << r->body;

  // Nor can they bury it: 250 newer statements of their own about c1 (more
  // than the 200 the definition is merged from) left the course nameless.
  nlohmann::json flood = nlohmann::json::array();
  for (int i = 0; i < 250; ++i)
    flood.push_back(nlohmann::json::parse(MakeStatement({.id = TestUuid(1000 + i), .learner = "u1"})));
  w = Call("POST", "/xapi/statements", Bearer(Of(Role::kLearner, "u1")), flood.dump());
  ASSERT_TRUE(w);
  ASSERT_EQ(w->status, 200) << w->body.substr(0, 300);
  r = Call("GET", "/xapi/activities?activityId=" + UrlEncode(vocab::CourseIri("c1")), Bearer(Of(Role::kLearner, "u3")));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  activity = nlohmann::json::parse(r->body);
  EXPECT_EQ(activity["definition"]["name"], nlohmann::json({{"zh-CN", "书法入门"}})) << r->body;
}

TEST_F(RecordScopingAttackTest, DeeplyNestedDocumentsAreRefused) {
  // A learner's own State document, then JSON nested 200,000 deep (400 KB):
  // merging it into the stored one (POST) copied and serialised it
  // recursively, and the record server died of a stack overflow.
  const std::string self = Bearer(Of(Role::kLearner, "u1"));
  const std::string state = "/xapi/activities/state?activityId=" + UrlEncode(vocab::CourseIri("c1")) +
                            "&agent=" + UrlEncode(Agent("u1")) + "&stateId=progress";
  httplib::Result put = Call("PUT", state, self, R"({"page":7})");
  ASSERT_TRUE(put);
  ASSERT_EQ(put->status, 204) << put->body;
  const std::string deep = R"({"page":)" + std::string(200000, '[') + std::string(200000, ']') + "}";
  for (const char* method : {"POST", "PUT"}) {
    httplib::Result r = Call(method, state, self, deep);
    ASSERT_TRUE(r) << method << ": the server did not answer";
    EXPECT_EQ(r->status, 400) << method << " " << r->body.substr(0, 200);
    EXPECT_NE(r->body.find("document"), std::string::npos) << r->body.substr(0, 200);
  }
  // Nested as deep as the limit is fine; the server still serves.
  const std::string ok = R"({"page":)" + std::string(60, '[') + std::string(60, ']') + "}";
  httplib::Result merged = Call("POST", state, self, ok);
  ASSERT_TRUE(merged);
  EXPECT_EQ(merged->status, 204) << merged->body;
  httplib::Result get = Call("GET", state, self);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->body, ok);
}

TEST_F(RecordScopingAttackTest, TeachersReadOnlyTheirCourses) {
  Store(MakeStatement({.id = TestUuid(40), .learner = "u2", .course = "c2"}));
  // A statement about course c2 that names c1 as a parent activity.
  nlohmann::json child = nlohmann::json::parse(MakeStatement({.id = TestUuid(41), .learner = "u2", .course = "c2"}));
  child["context"]["contextActivities"]["parent"] = {{{"id", vocab::CourseIri("c1")}}};
  Store(child.dump());
  Store(MakeStatement({.id = TestUuid(42), .learner = "u2", .course = "c1"}));
  const Principal teacher = Of(Role::kTeacher, "t1");
  EXPECT_EQ(Query(teacher, "activity=" + UrlEncode(vocab::CourseIri("c2"))).first, 403);
  EXPECT_EQ(Query(teacher, "agent=" + UrlEncode(Agent("u2"))).first, 403);
  auto [status, ids] = Query(teacher, "related_activities=true&activity=" + UrlEncode(vocab::CourseIri("c1")));
  ASSERT_EQ(status, 200);
  EXPECT_EQ(ids, std::set<std::string>({TestUuid(42)}));
  httplib::Result by_id = Call("GET", "/xapi/statements?statementId=" + TestUuid(40), Bearer(teacher));
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->status, 404);
}

}  // namespace
}  // namespace lifelong
