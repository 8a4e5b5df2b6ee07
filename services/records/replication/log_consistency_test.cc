#include "services/records/replication/log_consistency.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace lifelong::records::replication {
namespace {

TEST(CheckLogAgainstStore, AStoreAtOrBehindTheLogsEndApplies) {
  EXPECT_EQ(CheckLogAgainstStore(0, 0), LogVerdict::kInStep);
  EXPECT_EQ(CheckLogAgainstStore(0, 17), LogVerdict::kInStep);   // a new node: applies the whole log
  EXPECT_EQ(CheckLogAgainstStore(16, 17), LogVerdict::kInStep);  // catching up
  EXPECT_EQ(CheckLogAgainstStore(17, 17), LogVerdict::kInStep);  // caught up
  EXPECT_EQ(CheckLogAgainstStore(UINT64_MAX, UINT64_MAX), LogVerdict::kInStep);
}

TEST(CheckLogAgainstStore, OnlyAnEmptyStoreCreatesAMissingLog) {
  EXPECT_EQ(CheckLogAgainstStore(0, std::nullopt), LogVerdict::kCreateLog);
  // A store that applied anything never re-creates the log it came from.
  EXPECT_EQ(CheckLogAgainstStore(1, std::nullopt), LogVerdict::kBehindStore);
  EXPECT_EQ(CheckLogAgainstStore(2347, std::nullopt), LogVerdict::kBehindStore);
}

TEST(CheckLogAgainstStore, AStoreAheadOfTheLogsEndStops) {
  EXPECT_EQ(CheckLogAgainstStore(18, 17), LogVerdict::kBehindStore);   // the log lost its tail
  EXPECT_EQ(CheckLogAgainstStore(2347, 0), LogVerdict::kBehindStore);  // re-created empty
  EXPECT_EQ(CheckLogAgainstStore(UINT64_MAX, UINT64_MAX - 1), LogVerdict::kBehindStore);
}

TEST(LogBehindStoreMessage, NamesBothPositionsAndWhatToDo) {
  const std::string m = LogBehindStoreMessage("records-2", "LIFELONG_RECORDS", 2347, 17);
  EXPECT_TRUE(absl::StrContains(m, "records-2 has applied log position 2347")) << m;
  EXPECT_TRUE(absl::StrContains(m, "the log (stream LIFELONG_RECORDS) ends at 17")) << m;
  EXPECT_TRUE(absl::StrContains(m, "neither applies the log nor leads")) << m;
  EXPECT_TRUE(absl::StrContains(m, "from a backup at log position 17 or below")) << m;
  EXPECT_TRUE(absl::StrContains(m, "lifelong backup restore")) << m;
  EXPECT_TRUE(absl::StrContains(m, "docs/replication.md, \"A log behind the store\"")) << m;
  const std::string gone = LogBehindStoreMessage("records-1", "LIFELONG_RECORDS", 5, std::nullopt);
  EXPECT_TRUE(absl::StrContains(gone, "the log (stream LIFELONG_RECORDS) does not exist")) << gone;
  EXPECT_TRUE(absl::StrContains(gone, "records-1 has applied log position 5")) << gone;
}

}  // namespace
}  // namespace lifelong::records::replication
