#include "services/domain/xapi_time.h"

#include <gtest/gtest.h>

namespace lifelong::domain {
namespace {

TEST(XapiTime, ParsesRfc3339WithOffsetsAndFractions) {
  absl::StatusOr<int64_t> t = ParseTimestampMicros("2026-11-28T10:00:00.123+08:00");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(FormatTimestampMicros(*t), "2026-11-28T02:00:00.123000Z");
  EXPECT_EQ(*ParseTimestampMicros("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseTimestampMicros("1970-01-01t00:00:01z"), 1000000);
  EXPECT_EQ(FormatTimestampMicros(-1), "1969-12-31T23:59:59.999999Z");
}

TEST(XapiTime, RefusesOtherForms) {
  for (absl::string_view bad :
       {"", "2026-11-28", "2026-11-28 10:00:00Z", "2026-11-28T10:00:00", "2026-11-28T10:00:00-00:00",
        "2026-11-28T10:00:00-0000", "2026-13-28T10:00:00Z", "10000-01-01T00:00:00Z"}) {
    EXPECT_EQ(ParseTimestampMicros(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(XapiTime, Durations) {
  EXPECT_DOUBLE_EQ(*ParseIsoDurationSeconds("PT1H30M"), 5400);
  EXPECT_DOUBLE_EQ(*ParseIsoDurationSeconds("P1DT2.5S"), 86402.5);
  EXPECT_DOUBLE_EQ(*ParseIsoDurationSeconds("PT0,5S"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseIsoDurationSeconds("P2W"), 14 * 86400.0);
  for (absl::string_view bad : {"", "P", "PT", "-PT1H", "PT1H1H", "PT1S1M", "P1WT1H", "PT1", "1H", "PTxS"}) {
    EXPECT_EQ(ParseIsoDurationSeconds(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace lifelong::domain
