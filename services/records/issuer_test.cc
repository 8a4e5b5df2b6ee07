#include "services/records/issuer.h"

#include <gtest/gtest.h>

namespace lifelong::records {
namespace {

using Json = nlohmann::json;

Json WithAuthority(const std::string& authority_json) {
  Json s = {{"id", "x"}};
  s["authority"] = Json::parse(authority_json);
  return s;
}

TEST(Issuer, AuthorityRoundTripsRoleAndSubject) {
  std::string a = IssuerAuthorityJson("teacher", "teacher-li");
  EXPECT_EQ(a, R"({"account":{"homePage":"https://id.dongcheng.gov.cn/roles/teacher","name":"teacher-li"},)"
               R"("objectType":"Agent"})");
  Issuer i = IssuerOfStatement(WithAuthority(a));
  EXPECT_EQ(i.role, "teacher");
  EXPECT_EQ(i.subject, "teacher-li");
  EXPECT_EQ(i.Label(), "teacher:teacher-li");
}

// The per-thread cache of the last authority never hands one caller's
// authority to another: callers alternate, each gets their own.
TEST(Issuer, EachCallerGetsTheirOwnAuthorityWhateverCameBefore) {
  const std::pair<const char*, const char*> callers[] = {{"teacher", "t1"}, {"teacher", "t1"}, {"loader", "t1"},
                                                         {"teacher", "t2"}, {"teacher", "t1"}, {"teache", "rt1"},
                                                         {"learner", "u1"}, {"learner", "u1"}, {"teacher", "t1"}};
  for (const auto& [role, subject] : callers) {
    Issuer i = IssuerOfStatement(WithAuthority(IssuerAuthorityJson(role, subject)));
    EXPECT_EQ(i.role, role);
    EXPECT_EQ(i.subject, subject);
  }
}

TEST(Issuer, SubjectsWithQuotesAndColonsStayIntact) {
  Issuer i = IssuerOfStatement(WithAuthority(IssuerAuthorityJson("loader", "feed:\"x\"")));
  EXPECT_EQ(i.role, "loader");
  EXPECT_EQ(i.subject, "feed:\"x\"");
}

TEST(Issuer, StoreDefaultAndForeignAuthoritiesHaveNoRole) {
  // The store's default authority (statements stored without an issuer).
  Issuer legacy = IssuerOfStatement(WithAuthority(
      R"({"objectType":"Agent","account":{"homePage":"https://id.dongcheng.gov.cn","name":"lifelong-records"}})"));
  EXPECT_EQ(legacy.role, "");
  EXPECT_EQ(legacy.Label(), "lifelong-records");
  // A look-alike homePage, an empty role, an mbox authority, a Group, none.
  EXPECT_EQ(
      IssuerOfStatement(
          WithAuthority(R"({"account":{"homePage":"https://id.dongcheng.gov.cn.evil.cn/roles/operator","name":"x"}})"))
          .role,
      "");
  EXPECT_EQ(
      IssuerOfStatement(WithAuthority(R"({"account":{"homePage":"https://id.dongcheng.gov.cn/roles/","name":"x"}})"))
          .role,
      "");
  EXPECT_EQ(IssuerOfStatement(WithAuthority(R"({"mbox":"mailto:a@b.cn"})")).role, "");
  EXPECT_EQ(IssuerOfStatement(WithAuthority(R"({"objectType":"Group","member":[]})")).role, "");
  EXPECT_EQ(IssuerOfStatement(Json{{"id", "x"}}).role, "");
  EXPECT_EQ(IssuerOfStatement(Json::array()).role, "");
}

TEST(Issuer, OnlyOperatorsLoadersAndTeachersAwardCredits) {
  for (const char* role : {"operator", "loader", "teacher"}) EXPECT_TRUE(IssuerMayAwardCredits(role)) << role;
  for (const char* role : {"learner", "kiosk", "trainer", "recommender", "", "Operator"}) {
    EXPECT_FALSE(IssuerMayAwardCredits(role)) << role;
  }
}

}  // namespace
}  // namespace lifelong::records
