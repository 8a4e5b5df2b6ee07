#include "services/records/transcript.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "services/records/test_statements.h"

namespace lifelong::records {
namespace {

using testing::MakeStatement;
using testing::StatementSpec;

StoredStatement Stored(const StatementSpec& spec, bool voided = false) {
  ParsedStatement p = *ParseStatement(MakeStatement(spec));
  StoredStatement s;
  s.id = p.id;
  s.record.learners = p.learners;
  s.record.verb = p.verb;
  s.record.activity = p.activity;
  s.record.timestamp_us = p.timestamp_us.value_or(0);
  s.record.json = p.text;
  s.record.Set(RecordFlag::kVoided, voided);
  return s;
}

TEST(Transcript, OneEntryPerCourseWithTotalsByModeAndXuequ) {
  std::vector<StoredStatement> all = {
      Stored({.verb = "registered", .course = "c1", .timestamp = "2026-01-01T00:00:00Z"}),
      Stored({.verb = "completed", .course = "c1", .title = "书法入门", .timestamp = "2026-02-01T00:00:00Z",
              .credits = 2, .hours = 16, .mode = "offline", .xuequ = "和平里学区"}),
      Stored({.verb = "passed", .course = "c1", .timestamp = "2026-02-02T00:00:00Z", .credits = 2,
              .hours = 16, .mode = "offline", .xuequ = "和平里学区"}),
      Stored({.verb = "completed", .course = "c2", .title = "智能手机入门",
              .timestamp = "2026-03-01T00:00:00Z", .credits = 1, .hours = 8, .mode = "online"}),
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
}

TEST(Transcript, KioskPlatformMeansOfflineAndDurationGivesHours) {
  std::string json = MakeStatement({.verb = "completed", .course = "c9", .platform = "kiosk"});
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(json);
  j["result"] = {{"duration", "PT1H30M"}};
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
