// Rolling restart (issue #15): under a steady write load through the client
// address, each of the three records nodes in turn is stopped with SIGTERM
// (as an upgrade would), started again on its data directory and left to
// catch up before the next. Writers retry UNAVAILABLE as the CLI and the
// services do, and CANCELLED, which a node stopping on SIGTERM answers to
// calls it accepted but never started (gRPC's graceful shutdown; counted and
// printed: the CLI does not retry it yet). No write may fail, and every
// acknowledged statement must be on every replica afterwards.
#include <gtest/gtest.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/testing/subprocess.h"

namespace lifelong::cluster_testing {
namespace {

// Waits until node n reports itself caught up to within `max_lag` of the log.
absl::Status WaitCaughtUp(Cluster& cluster, int n, int64_t max_lag, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string last;
  while (Clock::now() < deadline) {
    absl::StatusOr<ReplicationInfo> info = cluster.Replication(n);
    if (info.ok()) {
      last = absl::StrCat(info->role, " applied ", info->applied_seq, " lag ", info->lag);
      if ((info->role == "follower" || info->role == "leader") && info->lag <= max_lag) return absl::OkStatus();
    } else {
      last = info.status().ToString();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat("records-", n, " not caught up: ", last));
}

TEST(ClusterRollingRestart, EveryNodeRestartedUnderLoadWithoutAFailedWrite) {
  const std::string dir = testing::FreshTempDir("rolling");
  absl::StatusOr<std::unique_ptr<Cluster>> cluster_or = Cluster::Start(dir);
  ASSERT_TRUE(cluster_or.ok()) << cluster_or.status();
  Cluster& cluster = **cluster_or;

  LoadWriters::Options wo;
  wo.writers = 4;
  wo.id_base = 100000000;
  wo.retry_cancelled = true;
  LoadWriters writers(cluster.Channel(), wo);
  writers.Start();
  ASSERT_TRUE(writers.WaitForMoreAcks(200, std::chrono::seconds(60)));

  // Followers first, the leader last, as an operator would roll them; every
  // node is restarted once.
  absl::StatusOr<int> leader = cluster.WaitForLeader(std::chrono::seconds(30));
  ASSERT_TRUE(leader.ok()) << leader.status();
  std::vector<int> order;
  for (int n = 1; n <= Cluster::kNodes; ++n) {
    if (n != *leader) order.push_back(n);
  }
  order.push_back(*leader);
  for (int n : order) {
    const auto t0 = Clock::now();
    ASSERT_TRUE(cluster.StopNode(n).ok()) << "records-" << n << ": " << cluster.NodeLogTail(n);
    ASSERT_TRUE(cluster.StartNode(n).ok()) << cluster.NodeLogTail(n);
    absl::Status caught_up = WaitCaughtUp(cluster, n, 1000, std::chrono::seconds(60));
    ASSERT_TRUE(caught_up.ok()) << caught_up << "\n" << cluster.NodeLogTail(n);
    ASSERT_TRUE(cluster.WaitForLeader(std::chrono::seconds(30)).ok());
    ASSERT_TRUE(writers.WaitForMoreAcks(100, std::chrono::seconds(30)))
        << "writes stalled after restarting records-" << n;
    std::printf("rolling restart: records-%d%s restarted and caught up in %.1f s\n", n,
                n == *leader ? " (the leader)" : "", std::chrono::duration<double>(Clock::now() - t0).count());
  }
  writers.Stop();

  for (const auto& [ids, error] : writers.Failures()) ADD_FAILURE() << "write of " << ids[0] << " failed: " << error;
  EXPECT_TRUE(writers.Failures().empty());
  std::set<std::string> acked;
  int retried = 0;
  for (const Ack& a : writers.Acks()) {
    acked.insert(a.ids.begin(), a.ids.end());
    if (a.attempts > 1) ++retried;
  }
  std::printf(
      "rolling restart: %zu statements acknowledged, %d writes retried (%lld calls answered CANCELLED by a "
      "stopping node), %zu failed\n",
      acked.size(), retried, static_cast<long long>(writers.CancelledRetries()), writers.Failures().size());

  ASSERT_TRUE(cluster.WaitConverged(std::chrono::seconds(60)).ok());
  for (int n = 1; n <= Cluster::kNodes; ++n) {
    auto stub = v1::LearningRecordService::NewStub(cluster.NodeChannel(n));
    std::set<std::string> listed;
    for (int l = 0; l < writers.learners(); ++l) {
      absl::StatusOr<std::vector<std::string>> ids = ListLearnerIds(stub.get(), absl::StrCat("w", l));
      ASSERT_TRUE(ids.ok()) << ids.status();
      listed.insert(ids->begin(), ids->end());
    }
    int64_t missing = 0;
    for (const std::string& id : acked) missing += listed.count(id) ? 0 : 1;
    EXPECT_EQ(missing, 0) << "records-" << n << " lacks acknowledged statements";
  }
}

}  // namespace
}  // namespace lifelong::cluster_testing
