#include "services/cli/statement_builder.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "gtest/gtest.h"
#include "services/domain/vocabulary.h"

namespace lifelong::cli {
namespace {

TEST(VerbIri, MapsShortNamesAndPassesIris) {
  EXPECT_EQ(*VerbIri("completed"), vocab::kCompleted);
  EXPECT_EQ(*VerbIri("rated"), vocab::kRated);
  EXPECT_EQ(*VerbIri("https://example.org/verbs/x"), "https://example.org/verbs/x");
  EXPECT_EQ(VerbIri("finished").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerbShortName(vocab::kPassed), "passed");
}

TEST(ActorFromLearnerKey, HandlesEveryKeyForm) {
  auto a = ActorFromLearnerKey("u000001");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)["account"]["homePage"], std::string(vocab::kDistrictIdp));
  EXPECT_EQ((*a)["account"]["name"], "u000001");
  EXPECT_EQ((*ActorFromLearnerKey("mailto:a@b.cn"))["mbox"], "mailto:a@b.cn");
  auto other = ActorFromLearnerKey("account:https://idp.example|x9");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)["account"]["homePage"], "https://idp.example");
  EXPECT_EQ((*other)["account"]["name"], "x9");
  EXPECT_EQ(ActorFromLearnerKey("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ActorFromLearnerKey("account:nobar").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ActorFromLearnerKey("u 1").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BuildStatementJson, BuildsDistrictStatementWithStableId) {
  StatementFields f;
  f.learner = "u000042";
  f.verb = "completed";
  f.course = "c00007";
  f.title = "太极拳入门（线上）";
  f.mode = "online";
  f.xuequ = "和平里学区";
  f.credits = 1.5;
  f.hours = 8;
  f.platform = "app";
  f.timestamp = "2026-11-28T10:00:00+08:00";
  auto json = BuildStatementJson(f);
  ASSERT_TRUE(json.ok()) << json.status();
  auto j = nlohmann::json::parse(*json);
  EXPECT_EQ(j["verb"]["id"], std::string(vocab::kCompleted));
  EXPECT_EQ(j["object"]["id"], vocab::CourseIri("c00007"));
  EXPECT_EQ(j["object"]["definition"]["name"]["zh-CN"], "太极拳入门（线上）");
  EXPECT_EQ(j["context"]["extensions"][std::string(vocab::kExtXuequ)], "和平里学区");
  EXPECT_EQ(j["context"]["extensions"][std::string(vocab::kExtCredits)], 1.5);
  EXPECT_EQ(j["context"]["platform"], "app");
  EXPECT_EQ(j["timestamp"], "2026-11-28T10:00:00+08:00");
  // Same fields, same id; another time, another id.
  EXPECT_EQ(nlohmann::json::parse(*BuildStatementJson(f))["id"], j["id"]);
  f.timestamp = "2026-11-29T10:00:00+08:00";
  EXPECT_NE(nlohmann::json::parse(*BuildStatementJson(f))["id"], j["id"]);
}

TEST(BuildStatementJson, NamesMissingField) {
  StatementFields f;
  f.learner = "u1";
  f.verb = "completed";
  auto r = BuildStatementJson(f);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "course: must not be empty");
}

TEST(FirstInvalidUtf8Byte, FindsBadBytes) {
  EXPECT_EQ(FirstInvalidUtf8Byte("书法 abc"), -1);
  EXPECT_EQ(FirstInvalidUtf8Byte("\xF0\x9F\x98\x80"), -1);  // U+1F600
  EXPECT_EQ(FirstInvalidUtf8Byte("ab\xca\xe9"), 2);         // GBK 书
  EXPECT_EQ(FirstInvalidUtf8Byte("\xC0\xAF"), 0);           // overlong '/'
  EXPECT_EQ(FirstInvalidUtf8Byte("\xED\xA0\x80"), 0);       // surrogate
  EXPECT_EQ(FirstInvalidUtf8Byte("\xF4\x90\x80\x80"), 0);   // above U+10FFFF
  EXPECT_EQ(FirstInvalidUtf8Byte("x\xE4\xB9"), 1);          // truncated
}

// Audit t7: `lifelong record --title $'\xca\xe9'` aborted: dump() threw
// type_error.316 and nothing caught it. Now INVALID_ARGUMENT naming the field.
TEST(BuildStatementJson, NonUtf8FieldIsRefusedNotThrown) {
  StatementFields f;
  f.learner = "u1";
  f.verb = "completed";
  f.course = "c1";
  f.title = "\xca\xe9";
  absl::StatusOr<std::string> r;
  EXPECT_NO_THROW(r = BuildStatementJson(f));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("title: not valid UTF-8", 0), 0u) << r.status();
  f.title = "书法";
  f.venue = "\xff";
  EXPECT_NO_THROW(r = BuildStatementJson(f));
  EXPECT_EQ(r.status().message().rfind("venue: not valid UTF-8", 0), 0u) << r.status();
}

// Audit: `record --credits nan` stored "credits": null, `--credits -5` counted
// as 0.
TEST(BuildStatementJson, RefusesNonFiniteAndNegativeNumbers) {
  StatementFields f;
  f.learner = "u1";
  f.verb = "completed";
  f.course = "c1";
  f.credits = std::nan("");
  EXPECT_EQ(BuildStatementJson(f).status().message().rfind("credits: not a finite number", 0), 0u);
  f.credits = -5;
  auto neg = BuildStatementJson(f);
  EXPECT_EQ(neg.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(neg.status().message(), "credits: must not be negative, got -5");
  f.credits = 0;
  f.hours = -HUGE_VAL;
  EXPECT_EQ(BuildStatementJson(f).status().message().rfind("hours: not a finite number", 0), 0u);
  f.hours = -0.5;
  EXPECT_EQ(BuildStatementJson(f).status().message().rfind("hours: must not be negative", 0), 0u);
  f.hours = 2;
  EXPECT_TRUE(BuildStatementJson(f).ok());
}

}  // namespace
}  // namespace lifelong::cli
