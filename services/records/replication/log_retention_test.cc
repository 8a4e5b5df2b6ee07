#include "services/records/replication/log_retention.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace lifelong::records::replication {
namespace {

constexpr int64_t kNow = 1'800'000'000'000'000;

NodePosition At(const std::string& node, uint64_t applied, std::optional<uint64_t> backup, int64_t age_us = 1'000'000) {
  return {node, applied, backup, kNow - age_us};
}

TEST(FirstSeqToKeep, BelowEveryNodesAppliedPositionAndOldestBackup) {
  // records-2 is behind; records-3's oldest backup is older still.
  std::vector<NodePosition> nodes = {At("records-1", 900, 500), At("records-2", 700, 600), At("records-3", 900, 400)};
  EXPECT_EQ(FirstSeqToKeep(nodes, kNow, absl::Hours(1)), 401u);
  nodes[2].oldest_backup_seq = 800;
  EXPECT_EQ(FirstSeqToKeep(nodes, kNow, absl::Hours(1)), 501u);
  nodes[0].oldest_backup_seq = 850;
  EXPECT_EQ(FirstSeqToKeep(nodes, kNow, absl::Hours(1)), 601u);
  nodes[1].oldest_backup_seq = 890;
  EXPECT_EQ(FirstSeqToKeep(nodes, kNow, absl::Hours(1)), 701u);  // records-2 has applied only 700
}

TEST(FirstSeqToKeep, NothingWhileANodeKeepsNoBackupOrNoNodeIsKnown) {
  EXPECT_EQ(FirstSeqToKeep({}, kNow, absl::Hours(1)), 1u);
  EXPECT_EQ(FirstSeqToKeep({At("records-1", 900, 500), At("records-2", 900, std::nullopt)}, kNow, absl::Hours(1)), 1u);
  // A backup taken before the first operation keeps the whole log.
  EXPECT_EQ(FirstSeqToKeep({At("records-1", 900, 0)}, kNow, absl::Hours(1)), 1u);
}

TEST(FirstSeqToKeep, ANodeSilentForTooLongNoLongerHoldsTheLogBack) {
  std::vector<NodePosition> nodes = {
      At("records-1", 900, 800), At("records-2", 900, 800),
      At("records-3", 100, std::nullopt, /*age_us=*/absl::ToInt64Microseconds(absl::Hours(25)))};
  EXPECT_EQ(FirstSeqToKeep(nodes, kNow, absl::Hours(24)), 801u);
  EXPECT_EQ(FirstSeqToKeep(nodes, kNow, absl::Hours(48)), 1u);
  // Every node forgotten: nothing is known, nothing is removed.
  EXPECT_EQ(FirstSeqToKeep(nodes, kNow, absl::Seconds(0)), 1u);
}

TEST(NodePosition, RoundTripsAndRefusesAnythingElse) {
  NodePosition p = At("records-2", 42, 17);
  absl::StatusOr<NodePosition> q = DecodeNodePosition("records-2", EncodeNodePosition(p));
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->node, "records-2");
  EXPECT_EQ(q->applied_seq, 42u);
  EXPECT_EQ(q->oldest_backup_seq, std::optional<uint64_t>(17));
  EXPECT_EQ(q->updated_us, p.updated_us);
  p.oldest_backup_seq.reset();
  q = DecodeNodePosition("records-2", EncodeNodePosition(p));
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_FALSE(q->oldest_backup_seq.has_value());

  for (const char* bad : {"", "[]", "{\"applied_seq\":-1,\"updated_us\":1,\"oldest_backup_seq\":null}",
                          "{\"applied_seq\":1,\"oldest_backup_seq\":null}", "{\"applied_seq\":1,\"updated_us\":1}",
                          "{\"applied_seq\":1,\"updated_us\":1,\"oldest_backup_seq\":\"7\"}"}) {
    absl::StatusOr<NodePosition> r = DecodeNodePosition("records-9", bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << bad;
    EXPECT_TRUE(absl::StrContains(r.status().message(), "records-9")) << r.status();
  }
}

}  // namespace
}  // namespace lifelong::records::replication
