// Failover drill (issue #15): writers record statements through the single
// client address (HAProxy) while the leading records node is killed with
// SIGKILL, again and again. After every kill writes must resume within 10 s;
// at the end every acknowledged statement must be readable from the leader,
// listed exactly once through the learner index, and on every replica.
//
// Prints the distribution of write-resumption times (kill -> first write
// acknowledged that was sent after the kill).
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/testing/subprocess.h"

namespace lifelong::cluster_testing {
namespace {

constexpr int kKills = 10;
constexpr double kMaxResumeSeconds = 10.0;

TEST(ClusterFailover, SigkillOfTheLeaderUnderLoadLosesAndDuplicatesNothing) {
  const std::string dir = testing::FreshTempDir("failover");
  absl::StatusOr<std::unique_ptr<Cluster>> cluster_or = Cluster::Start(dir);
  ASSERT_TRUE(cluster_or.ok()) << cluster_or.status();
  Cluster& cluster = **cluster_or;

  LoadWriters::Options wo;
  wo.writers = 6;
  LoadWriters writers(cluster.Channel(), wo);
  writers.Start();
  ASSERT_TRUE(writers.WaitForMoreAcks(200, std::chrono::seconds(60))) << "no writes through " << cluster.Address();

  std::vector<double> resume_seconds;
  std::vector<double> routed_seconds;  // kill -> HAProxy routes to another node
  std::vector<std::string> killed;
  for (int k = 0; k < kKills; ++k) {
    absl::StatusOr<int> leader = cluster.WaitForLeader(std::chrono::seconds(30));
    ASSERT_TRUE(leader.ok()) << leader.status();
    // Writes flow through this leader before it dies.
    ASSERT_TRUE(writers.WaitForMoreAcks(100, std::chrono::seconds(30))) << "kill " << k;
    const Clock::time_point killed_at = Clock::now();
    ASSERT_TRUE(cluster.KillNode(*leader).ok());
    killed.push_back(absl::StrCat("records-", *leader));
    // Resumption: the first acknowledged write whose successful attempt began
    // after the kill.
    std::optional<double> resumed, routed;
    while (!resumed && Clock::now() - killed_at < std::chrono::seconds(30)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (!routed) {
        std::optional<int> to = cluster.RoutedNode();
        if (to && *to != *leader) routed = std::chrono::duration<double>(Clock::now() - killed_at).count();
      }
      for (const Ack& a : writers.Acks()) {
        if (a.attempt_start < killed_at) continue;
        const double s = std::chrono::duration<double>(a.acked - killed_at).count();
        if (!resumed || s < *resumed) resumed = s;
      }
    }
    ASSERT_TRUE(resumed.has_value()) << "writes did not resume within 30 s of killing records-" << *leader;
    resume_seconds.push_back(*resumed);
    routed_seconds.push_back(routed.value_or(-1));
    EXPECT_LE(*resumed, kMaxResumeSeconds) << "kill " << k << " (records-" << *leader << ")";
    // The killed node comes back on its data directory and catches up.
    ASSERT_TRUE(cluster.StartNode(*leader).ok()) << cluster.NodeLogTail(*leader);
  }
  ASSERT_TRUE(writers.WaitForMoreAcks(100, std::chrono::seconds(30)));
  writers.Stop();

  std::printf("\nfailover: %d SIGKILLs of the leader (%s)\n", kKills, absl::StrJoin(killed, " ").c_str());
  std::printf("write resumption after the kill, seconds:");
  for (double s : resume_seconds) std::printf(" %.2f", s);
  std::printf("\nHAProxy routing to the new leader after the kill, seconds:");
  for (double s : routed_seconds) std::printf(" %.2f", s);
  std::printf("\n  resumption min %.2f  p50 %.2f  p90 %.2f  max %.2f\n", Percentile(resume_seconds, 0),
              Percentile(resume_seconds, 50), Percentile(resume_seconds, 90), Percentile(resume_seconds, 100));

  const std::vector<Ack> acks = writers.Acks();
  std::set<std::string> acked;
  int retried = 0;
  for (const Ack& a : acks) {
    acked.insert(a.ids.begin(), a.ids.end());
    if (a.attempts > 1) ++retried;
  }
  std::printf("acknowledged statements %zu (%zu writes, %d of them retried); failed writes %zu\n", acked.size(),
              acks.size(), retried, writers.Failures().size());
  for (const auto& [ids, error] : writers.Failures()) ADD_FAILURE() << "write of " << ids[0] << " failed: " << error;

  absl::StatusOr<uint64_t> seq = cluster.WaitConverged(std::chrono::seconds(60));
  ASSERT_TRUE(seq.ok()) << seq.status();

  // Every acknowledged statement is readable from the leader (through the
  // client address) ...
  auto stub = v1::LearningRecordService::NewStub(cluster.Channel());
  int64_t missing = 0;
  for (const std::string& id : acked) {
    grpc::ClientContext ctx;
    v1::GetStatementRequest req;
    req.set_id(id);
    v1::Statement st;
    grpc::Status s = stub->GetStatement(&ctx, req, &st);
    if (!s.ok()) {
      if (++missing <= 10) ADD_FAILURE() << "acknowledged " << id << " not readable: " << s.error_message();
    }
  }
  EXPECT_EQ(missing, 0) << "acknowledged statements lost";

  // ... listed once through the learner index on every replica, and the
  // replicas list the same statements.
  std::vector<std::set<std::string>> listed(Cluster::kNodes);
  for (int n = 1; n <= Cluster::kNodes; ++n) {
    auto node_stub = v1::LearningRecordService::NewStub(cluster.NodeChannel(n));
    std::map<std::string, int> count;
    for (int l = 0; l < writers.learners(); ++l) {
      absl::StatusOr<std::vector<std::string>> ids = ListLearnerIds(node_stub.get(), absl::StrCat("w", l));
      ASSERT_TRUE(ids.ok()) << "records-" << n << ": " << ids.status();
      for (const std::string& id : *ids) ++count[id];
    }
    int64_t duplicated = 0;
    for (const auto& [id, c] : count) {
      if (c != 1 && ++duplicated <= 10) ADD_FAILURE() << "records-" << n << " lists " << id << " " << c << " times";
      listed[n - 1].insert(id);
    }
    EXPECT_EQ(duplicated, 0);
    for (const std::string& id : acked) {
      if (!listed[n - 1].count(id)) {
        ADD_FAILURE() << "records-" << n << " does not list acknowledged " << id;
        break;
      }
    }
    // Nothing appears that no writer sent.
    const std::set<std::string> attempted = writers.Attempted();
    for (const std::string& id : listed[n - 1]) EXPECT_TRUE(attempted.count(id)) << id;
  }
  EXPECT_EQ(listed[0], listed[1]);
  EXPECT_EQ(listed[0], listed[2]);
  std::printf(
      "every replica lists %zu statements (acknowledged %zu; the rest were sent, unanswered, and landed); "
      "log position %llu\n",
      listed[0].size(), acked.size(), static_cast<unsigned long long>(*seq));
}

}  // namespace
}  // namespace lifelong::cluster_testing
