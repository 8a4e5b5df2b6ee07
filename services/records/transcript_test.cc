#include "services/records/transcript.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "services/domain/vocabulary.h"
#include "services/records/test_statements.h"

namespace lifelong::records {
namespace {

using testing::MakeStatement;
using testing::StatementSpec;

// A stored statement issued by `role` `subject` (its recorded authority,
// issuer.h); role "" leaves the authority out.
StoredStatement Stored(const StatementSpec& spec, bool voided = false, const std::string& role = "loader",
                       const std::string& subject = "svc-loader") {
  ParsedStatement p = *ParseStatement(MakeStatement(spec));
  StoredStatement s;
  s.id = p.id;
  s.record.learners = p.learners;
  s.record.verb = p.verb;
  s.record.activity = p.activity;
  s.record.timestamp_us = p.timestamp_us.value_or(0);
  nlohmann::json j = nlohmann::json::parse(p.text);
  if (!role.empty()) j["authority"] = nlohmann::json::parse(IssuerAuthorityJson(role, subject));
  s.record.json = j.dump();
  s.record.Set(RecordFlag::kVoided, voided);
  return s;
}

StoredStatement ByLearner(const StatementSpec& spec) { return Stored(spec, false, "learner", spec.learner); }

TEST(Transcript, OneEntryPerCourseWithTotalsByModeAndXuequ) {
  std::vector<StoredStatement> all = {
      Stored({.verb = "registered", .course = "c1", .timestamp = "2026-01-01T00:00:00Z"}),
      Stored({.verb = "completed",
              .course = "c1",
              .title = "书法入门",
              .timestamp = "2026-02-01T00:00:00Z",
              .credits = 2,
              .hours = 16,
              .mode = "offline",
              .xuequ = "和平里学区"}),
      Stored({.verb = "passed",
              .course = "c1",
              .timestamp = "2026-02-02T00:00:00Z",
              .credits = 2,
              .hours = 16,
              .mode = "offline",
              .xuequ = "和平里学区"}),
      Stored({.verb = "completed",
              .course = "c2",
              .title = "智能手机入门",
              .timestamp = "2026-03-01T00:00:00Z",
              .credits = 1,
              .hours = 8,
              .mode = "online"}),
      Stored({.verb = "failed", .course = "c3", .timestamp = "2026-03-02T00:00:00Z", .credits = 5}),
      Stored({.verb = "completed", .course = "c4", .timestamp = "2026-03-03T00:00:00Z", .credits = 9}, true),
  };
  TranscriptData t = BuildTranscript(all);
  ASSERT_EQ(t.lines.size(), 2u);
  EXPECT_EQ(t.lines[0].title, "书法入门");
  EXPECT_EQ(t.lines[0].outcome, "passed");
  EXPECT_EQ(t.lines[0].achieved_us, *ParseTimestampMicros("2026-02-01T00:00:00Z"));
  EXPECT_EQ(t.lines[0].xuequ, "和平里学区");
  EXPECT_EQ(t.lines[1].outcome, "completed");
  EXPECT_EQ(t.total.courses, 2);
  EXPECT_DOUBLE_EQ(t.total.credits, 3);
  EXPECT_DOUBLE_EQ(t.total.hours, 24);
  EXPECT_EQ(t.by_mode["offline"].courses, 1);
  EXPECT_DOUBLE_EQ(t.by_mode["online"].credits, 1);
  EXPECT_EQ(t.by_xuequ["和平里学区"].courses, 1);
  EXPECT_TRUE(t.lines[0].verified);
  EXPECT_EQ(t.lines[0].issuer, "loader:svc-loader");
  EXPECT_EQ(t.total.unverified_courses, 0);
}

// Credits are not self-asserted: a learner's own completion or pass is shown
// but earns no hours or credits, whatever it claims.
TEST(Transcript, SelfReportedLearningIsShownButEarnsNothing) {
  TranscriptData t = BuildTranscript({
      ByLearner({.learner = "u1",
                 .verb = "passed",
                 .course = "c1",
                 .timestamp = "2026-02-01T00:00:00Z",
                 .credits = 50,
                 .hours = 100}),
      Stored({.learner = "u1",
              .verb = "completed",
              .course = "c2",
              .timestamp = "2026-03-01T00:00:00Z",
              .credits = 1,
              .hours = 8}),
  });
  ASSERT_EQ(t.lines.size(), 2u);
  const TranscriptLine& self = t.lines[0];
  EXPECT_EQ(self.activity, vocab::CourseIri("c1"));
  EXPECT_EQ(self.outcome, "passed");
  EXPECT_FALSE(self.verified);
  EXPECT_EQ(self.issuer, "learner:u1");
  EXPECT_DOUBLE_EQ(self.credits, 0);
  EXPECT_DOUBLE_EQ(self.hours, 0);
  EXPECT_DOUBLE_EQ(self.claimed_credits, 50);
  EXPECT_DOUBLE_EQ(self.claimed_hours, 100);
  EXPECT_TRUE(t.lines[1].verified);
  EXPECT_EQ(t.total.courses, 2);
  EXPECT_EQ(t.total.unverified_courses, 1);
  EXPECT_DOUBLE_EQ(t.total.credits, 1);
  EXPECT_DOUBLE_EQ(t.total.hours, 8);
  EXPECT_DOUBLE_EQ(t.by_mode["online"].credits, 1);
}

// A course with a verified completion is built from the verified statements
// alone: a self-reported pass with more credits changes nothing.
TEST(Transcript, VerifiedStatementsAloneMakeAVerifiedEntry) {
  TranscriptData t = BuildTranscript({
      ByLearner(
          {.learner = "u1", .verb = "passed", .course = "c1", .timestamp = "2026-01-01T00:00:00Z", .credits = 99}),
      Stored({.learner = "u1",
              .verb = "completed",
              .course = "c1",
              .timestamp = "2026-02-01T00:00:00Z",
              .credits = 2,
              .hours = 16},
             false, "teacher", "teacher-li"),
  });
  ASSERT_EQ(t.lines.size(), 1u);
  EXPECT_TRUE(t.lines[0].verified);
  EXPECT_EQ(t.lines[0].outcome, "completed");
  EXPECT_EQ(t.lines[0].issuer, "teacher:teacher-li");
  EXPECT_EQ(t.lines[0].achieved_us, *ParseTimestampMicros("2026-02-01T00:00:00Z"));
  EXPECT_DOUBLE_EQ(t.lines[0].credits, 2);
  EXPECT_DOUBLE_EQ(t.total.credits, 2);
  EXPECT_EQ(t.total.unverified_courses, 0);
}

// Kiosks, the model services and statements stored without an issuer (the
// store's default authority) award nothing either.
TEST(Transcript, KioskServiceAndUnknownIssuersAreUnverified) {
  for (const char* role : {"kiosk", "recommender", "trainer", ""}) {
    TranscriptData t = BuildTranscript({Stored({.verb = "passed", .course = "c1", .credits = 3}, false, role, "x")});
    ASSERT_EQ(t.lines.size(), 1u) << role;
    EXPECT_FALSE(t.lines[0].verified) << role;
    EXPECT_DOUBLE_EQ(t.total.credits, 0) << role;
  }
  TranscriptData op =
      BuildTranscript({Stored({.verb = "passed", .course = "c1", .credits = 3}, false, "operator", "anonymous")});
  EXPECT_DOUBLE_EQ(op.total.credits, 3);
}

TEST(Transcript, KioskPlatformMeansOfflineAndDurationGivesHours) {
  std::string json = MakeStatement({.verb = "completed", .course = "c9", .platform = "kiosk"});
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(json);
  j["result"] = {{"duration", "PT1H30M"}};
  j["authority"] = nlohmann::ordered_json::parse(IssuerAuthorityJson("loader", "svc-loader"));
  StoredStatement s = Stored({.verb = "completed", .course = "c9"});
  s.record.json = j.dump();
  TranscriptData t = BuildTranscript({s});
  ASSERT_EQ(t.lines.size(), 1u);
  EXPECT_EQ(t.lines[0].mode, "offline");
  EXPECT_DOUBLE_EQ(t.lines[0].hours, 1.5);
}

TEST(Transcript, EmptyHistoryGivesEmptyTranscript) {
  TranscriptData t = BuildTranscript({});
  EXPECT_TRUE(t.lines.empty());
  EXPECT_EQ(t.total.courses, 0);
}

}  // namespace
}  // namespace lifelong::records
