// Disk-loss drill (issue #15): a follower's data directory is wiped while the
// cluster takes writes; the node is rebuilt, and must end up with a store
// equal to the others' byte for byte: the same digest over every statement
// and index family (ops/store_digest.h) at the same applied log position.
//
//   FromTheLogAlone           started on an empty directory, the node applies
//                             the whole log from the first position.
//   FromABackupPlusTheLog     `lifelong backup restore latest` of the leader's
//                             last backup (taken before the loss, through the
//                             client address), then the node applies the log
//                             from the backup's position.
//   AfterAnErasure            as FromTheLogAlone with a learner erased, whose
//                             statements the log no longer holds.
//   AfterTheLogIsTrimmed      every node backed up, the leader trims the log
//                             below the backups; a wiped follower started
//                             empty must stop and say "restore", never
//                             apply the trimmed log's rest; restored from a
//                             backup it equals the others.
//   FollowerBehindAnErasure   a follower paused (SIGSTOP) far behind the log
//                             while a learner is erased; resumed, it must
//                             apply everything after its position. (The
//                             JetStream filtered purge once made every
//                             lagging consumer jump to the log's end:
//                             docs/replication.md, "nats-server 2.9 purge".)
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ops/store_digest.h"
#include "services/records/test_statements.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/testing/subprocess.h"

namespace lifelong::cluster_testing {
namespace {

ops::DigestOptions DigestOptions() {
  ops::DigestOptions o;
  o.exclude_families = {"meta", "audit"};  // as records_digest: bookkeeping, reads served
  o.exclude_keys = {"meta:page_token_key"};
  return o;
}

// Same store everywhere: digests of every statement and index family at
// the same position `seq`. `marked`: the node under test, so marked in the output.
void ExpectEqualStores(Cluster& cluster, const std::string& dir, uint64_t seq, int marked) {
  std::vector<ops::StoreDigest> digests;
  for (int n = 1; n <= Cluster::kNodes; ++n) {
    absl::StatusOr<ops::StoreDigest> d =
        ops::DigestStore(cluster.DataDir(n), absl::StrCat(dir, "/digest-scratch-", n), DigestOptions());
    ASSERT_TRUE(d.ok()) << d.status();
    std::printf("records-%d%s: total sha256 %s, %lld statements, applied %s\n", n,
                n == marked ? " (the node under test)" : "", d->total_sha256_hex.c_str(),
                static_cast<long long>(d->families["statements"].entries),
                d->meta_text["replication/applied_seq"].c_str());
    EXPECT_EQ(d->meta_text["replication/applied_seq"], std::to_string(seq)) << "records-" << n;
    digests.push_back(*d);
  }
  for (int n = 2; n <= Cluster::kNodes; ++n) {
    EXPECT_EQ(digests[n - 1].total_sha256_hex, digests[0].total_sha256_hex) << "records-" << n << " differs";
    for (const auto& [family, fd] : digests[0].families) {
      if (family == "meta" || family == "audit") continue;
      EXPECT_EQ(digests[n - 1].families[family].sha256_hex, fd.sha256_hex) << "records-" << n << " family " << family;
    }
  }
  EXPECT_GT(digests[0].families["statements"].entries, 0);
}

// Erases `learner` through `stub`, expecting `statements` erased.
void EraseLearner(v1::LearningRecordService::Stub* stub, const std::string& learner, int64_t statements) {
  grpc::ClientContext ctx;
  v1::EraseLearnerRequest req;
  req.set_learner(learner);
  v1::EraseLearnerResponse resp;
  grpc::Status s = stub->EraseLearner(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.erased_statements(), statements);
}

enum class Rebuild { kFromLog, kFromBackup };

// Runs the drill; `erase` adds a learner erased while the disk is gone.
void Drill(const std::string& name, Rebuild how, bool erase) {
  const std::string dir = testing::FreshTempDir(name);
  absl::StatusOr<std::unique_ptr<Cluster>> cluster_or = Cluster::Start(dir);
  ASSERT_TRUE(cluster_or.ok()) << cluster_or.status();
  Cluster& cluster = **cluster_or;
  auto stub = v1::LearningRecordService::NewStub(cluster.Channel());

  LoadWriters::Options wo;
  wo.writers = 4;
  wo.id_base = 200000000;
  LoadWriters writers(cluster.Channel(), wo);
  writers.Start();
  ASSERT_TRUE(writers.WaitForMoreAcks(500, std::chrono::seconds(60)));

  // A learner with statements who is then erased: the erasure is a
  // replicated operation, so the rebuilt node must not bring them back.
  if (erase) {
    for (int i = 0; i < 5; ++i) {
      grpc::ClientContext ctx;
      v1::RecordStatementRequest req;
      req.set_statement_json(records::testing::MakeStatement(
          {.id = records::testing::TestUuid(300000000 + i), .learner = "erase-me", .course = "c1"}));
      v1::Statement st;
      grpc::Status s = stub->RecordStatement(&ctx, req, &st);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }

  absl::StatusOr<int> leader = cluster.WaitForLeader(std::chrono::seconds(30));
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int victim = *leader % Cluster::kNodes + 1;  // a follower
  v1::Backup backup;
  if (how == Rebuild::kFromBackup) {
    // The last backup before the loss: the leader's (the client address).
    grpc::ClientContext ctx;
    grpc::Status s = stub->CreateBackup(&ctx, v1::CreateBackupRequest(), &backup);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_GT(backup.applied_seq(), 0u);
    ASSERT_TRUE(writers.WaitForMoreAcks(300, std::chrono::seconds(30)));  // the log goes on past it
  }
  ASSERT_TRUE(cluster.KillNode(victim).ok());
  std::error_code ec;
  std::filesystem::remove_all(cluster.DataDir(victim), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_FALSE(std::filesystem::exists(cluster.DataDir(victim)));

  // Writes (and the erasure) go on while the disk is gone.
  ASSERT_TRUE(writers.WaitForMoreAcks(300, std::chrono::seconds(30)));
  if (erase) EraseLearner(stub.get(), "erase-me", 5);

  const auto t0 = Clock::now();
  if (how == Rebuild::kFromBackup) {
    // Offline restore, as an operator runs it (docs/records.md, "Backups").
    absl::StatusOr<testing::Subprocess> restore = testing::Subprocess::Start(
        {testing::RunfilePath("services/cli/lifelong"), "backup", "restore", "latest",
         "--data_dir=" + cluster.DataDir(victim), "--backup_dir=" + cluster.DataDir(*leader) + "-backups"},
        dir + "/restore.log");
    ASSERT_TRUE(restore.ok()) << restore.status();
    absl::StatusOr<int> status = restore->Wait(std::chrono::seconds(120));
    ASSERT_TRUE(status.ok()) << status.status();
    ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "lifelong backup restore failed; log " << dir << "/restore.log";
  }
  ASSERT_TRUE(cluster.StartNode(victim).ok()) << cluster.NodeLogTail(victim);
  ASSERT_TRUE(writers.WaitForMoreAcks(300, std::chrono::seconds(30)));
  writers.Stop();
  for (const auto& [ids, error] : writers.Failures()) ADD_FAILURE() << "write of " << ids[0] << " failed: " << error;
  absl::StatusOr<uint64_t> seq = cluster.WaitConverged(std::chrono::seconds(120));
  ASSERT_TRUE(seq.ok()) << seq.status() << "\n" << cluster.NodeLogTail(victim);
  std::printf("disk loss: records-%d rebuilt from %s in %.1f s (log position %llu)\n", victim,
              how == Rebuild::kFromBackup ? absl::StrCat("backup ", backup.backup_id(), " at log position ",
                                                         backup.applied_seq(), " plus the log")
                                                .c_str()
                                          : "the log alone",
              std::chrono::duration<double>(Clock::now() - t0).count(), static_cast<unsigned long long>(*seq));

  if (erase) {
    // The erased learner is gone everywhere, the rebuilt node included.
    for (int n = 1; n <= Cluster::kNodes; ++n) {
      auto node_stub = v1::LearningRecordService::NewStub(cluster.NodeChannel(n));
      absl::StatusOr<std::vector<std::string>> ids = ListLearnerIds(node_stub.get(), "erase-me");
      ASSERT_TRUE(ids.ok()) << ids.status();
      EXPECT_TRUE(ids->empty()) << "records-" << n << " still lists the erased learner's statements";
    }
  }

  ExpectEqualStores(cluster, dir, *seq, victim);
}

TEST(ClusterDiskLoss, WipedFollowerRebuiltFromTheLogAloneEqualsTheOthers) {
  Drill("diskloss-log", Rebuild::kFromLog, /*erase=*/false);
}

TEST(ClusterDiskLoss, WipedFollowerRestoredFromABackupPlusTheLogEqualsTheOthers) {
  Drill("diskloss-backup", Rebuild::kFromBackup, /*erase=*/false);
}

// The erased learner's statements are gone from the log (docs/replication.md,
// "Erasure"); the rebuilt replica must equal the others all the same.
TEST(ClusterDiskLoss, WipedFollowerRebuiltAfterAnErasureEqualsTheOthers) {
  Drill("diskloss-erasure", Rebuild::kFromLog, /*erase=*/true);
}

void RecordBatch(v1::LearningRecordService::Stub* stub, int first_id, int count, const std::string& learner = "") {
  v1::RecordStatementsRequest req;
  for (int i = 0; i < count; ++i) {
    req.add_statement_json(
        records::testing::MakeStatement({.id = records::testing::TestUuid(first_id + i),
                                         .learner = learner.empty() ? absl::StrCat("l", (first_id + i) % 17) : learner,
                                         .course = absl::StrCat("c", i % 7)}));
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::RecordStatementsResponse resp;
  grpc::Status s = stub->RecordStatements(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

uint64_t BackUp(Cluster& cluster, int n) {
  auto stub = v1::LearningRecordService::NewStub(cluster.NodeChannel(n));
  grpc::ClientContext ctx;
  v1::Backup backup;
  grpc::Status s = stub->CreateBackup(&ctx, v1::CreateBackupRequest(), &backup);
  EXPECT_TRUE(s.ok()) << "records-" << n << ": " << s.error_message();
  return backup.applied_seq();
}

TEST(ClusterDiskLoss, AfterTheLogIsTrimmedAWipedFollowerIsRestoredFromABackup) {
  const std::string dir = testing::FreshTempDir("log-trim");
  ClusterOptions options;
  options.extra_node_flags = {"--replication_trim_interval=500ms", "--replication_position_interval=100ms"};
  absl::StatusOr<std::unique_ptr<Cluster>> cluster_or = Cluster::Start(dir, options);
  ASSERT_TRUE(cluster_or.ok()) << cluster_or.status();
  Cluster& cluster = **cluster_or;
  auto stub = v1::LearningRecordService::NewStub(cluster.Channel());
  absl::StatusOr<int> leader = cluster.WaitForLeader(std::chrono::seconds(30));
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int victim = *leader % Cluster::kNodes + 1;
  for (int b = 0; b < 20; ++b) RecordBatch(stub.get(), 600000000 + b * 50, 50);
  ASSERT_TRUE(cluster.WaitConverged(std::chrono::seconds(60)).ok());

  // Two of three nodes backed up: the third still needs the whole log.
  BackUp(cluster, 1);
  BackUp(cluster, 2);
  for (int b = 0; b < 5; ++b) RecordBatch(stub.get(), 610000000 + b * 50, 50);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // four trim rounds
  for (int n = 1; n <= Cluster::kNodes; ++n) {
    absl::StatusOr<ReplicationInfo> info = cluster.Replication(n);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->trimmed_below, 0u) << "records-" << n << " reports a trimmed log";
  }

  // Every node backed up: the leader trims below the oldest backup.
  const uint64_t oldest = BackUp(cluster, 3);
  ASSERT_GT(oldest, 1u);
  for (int b = 0; b < 5; ++b) RecordBatch(stub.get(), 620000000 + b * 50, 50);
  uint64_t trimmed = 0;
  for (auto until = Clock::now() + std::chrono::seconds(30); Clock::now() < until && trimmed == 0;) {
    absl::StatusOr<ReplicationInfo> info = cluster.Replication(*leader);
    if (info.ok()) trimmed = info->trimmed_below;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GT(trimmed, 1u) << "the log was not trimmed\n" << cluster.NodeLogTail(*leader);
  // Nodes 1 and 2 backed up before node 3: the oldest backup of all bounds it.
  EXPECT_LE(trimmed, oldest + 1);

  // A follower's disk is lost; started empty, it cannot apply a trimmed log.
  ASSERT_TRUE(cluster.KillNode(victim).ok());
  std::error_code ec;
  std::filesystem::remove_all(cluster.DataDir(victim), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(cluster.StartNode(victim).ok()) << cluster.NodeLogTail(victim);
  std::string error;
  for (auto until = Clock::now() + std::chrono::seconds(30); Clock::now() < until && error.empty();) {
    absl::StatusOr<ReplicationInfo> info = cluster.Replication(victim);
    if (info.ok()) error = info->applier_error;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(absl::StrContains(error, "trimmed below")) << error;
  EXPECT_TRUE(absl::StrContains(error, "restore the store from a backup")) << error;
  {
    // Clients are refused its reads, saying why; asked anyway (the
    // operator's recovery read), it holds nothing half-applied: the
    // statements of the first batches are not there.
    auto node_stub = v1::LearningRecordService::NewStub(cluster.NodeChannel(victim));
    absl::StatusOr<std::vector<std::string>> refused = ListLearnerIds(node_stub.get(), "l3");
    EXPECT_FALSE(refused.ok());
    EXPECT_TRUE(absl::StrContains(refused.status().message(), "does not apply the replicated log")) << refused.status();
    absl::StatusOr<std::vector<std::string>> ids = ListLearnerIds(node_stub.get(), "l3", /*allow_stale=*/true);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_TRUE(ids->empty()) << ids->size() << " statements applied from a trimmed log";
  }
  // Writes go on through the leader.
  for (int b = 0; b < 3; ++b) RecordBatch(stub.get(), 630000000 + b * 50, 50);

  // Restored from the leader's last backup, it catches up from there.
  ASSERT_TRUE(cluster.KillNode(victim).ok());
  absl::StatusOr<testing::Subprocess> restore = testing::Subprocess::Start(
      {testing::RunfilePath("services/cli/lifelong"), "backup", "restore", "latest", "--force",
       "--data_dir=" + cluster.DataDir(victim), "--backup_dir=" + cluster.DataDir(*leader) + "-backups"},
      dir + "/restore.log");
  ASSERT_TRUE(restore.ok()) << restore.status();
  absl::StatusOr<int> status = restore->Wait(std::chrono::seconds(120));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "restore failed; log " << dir << "/restore.log";
  ASSERT_TRUE(cluster.StartNode(victim).ok()) << cluster.NodeLogTail(victim);
  absl::StatusOr<uint64_t> seq = cluster.WaitConverged(std::chrono::seconds(120));
  ASSERT_TRUE(seq.ok()) << seq.status() << "\n" << cluster.NodeLogTail(victim);
  ExpectEqualStores(cluster, dir, *seq, victim);
}

// A follower that has not read the log for a while (paused) when a learner
// is erased: once resumed it applies every operation after its position,
// those before the erasure and those after it.
TEST(ClusterDiskLoss, FollowerBehindAnErasureAppliesEverythingAfterIt) {
  const std::string dir = testing::FreshTempDir("erasure-lag");
  absl::StatusOr<std::unique_ptr<Cluster>> cluster_or = Cluster::Start(dir);
  ASSERT_TRUE(cluster_or.ok()) << cluster_or.status();
  Cluster& cluster = **cluster_or;
  auto stub = v1::LearningRecordService::NewStub(cluster.Channel());
  absl::StatusOr<int> leader = cluster.WaitForLeader(std::chrono::seconds(30));
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int lagging = *leader % Cluster::kNodes + 1;

  RecordBatch(stub.get(), 300000000, 5, "erase-me");
  ASSERT_TRUE(cluster.WaitConverged(std::chrono::seconds(60)).ok());

  // Several MB of log behind the paused follower: more than a JetStream push
  // consumer sends ahead of a reader that does not read.
  ASSERT_TRUE(cluster.PauseNode(lagging).ok());
  for (int b = 0; b < 60; ++b) RecordBatch(stub.get(), 400000000 + b * 100, 100);
  EraseLearner(stub.get(), "erase-me", 5);
  for (int b = 0; b < 5; ++b) RecordBatch(stub.get(), 500000000 + b * 100, 100);
  ASSERT_TRUE(cluster.ResumeNode(lagging).ok());

  absl::StatusOr<uint64_t> seq = cluster.WaitConverged(std::chrono::seconds(120));
  ASSERT_TRUE(seq.ok()) << seq.status() << "\n" << cluster.NodeLogTail(lagging);
  ExpectEqualStores(cluster, dir, *seq, lagging);
  // Every statement of the other learners is there on the lagging node.
  auto node_stub = v1::LearningRecordService::NewStub(cluster.NodeChannel(lagging));
  absl::StatusOr<std::vector<std::string>> ids = ListLearnerIds(node_stub.get(), "l3");
  ASSERT_TRUE(ids.ok()) << ids.status();
  int expected = 0;
  for (int id = 400000000; id < 400006000; ++id) expected += id % 17 == 3;
  for (int id = 500000000; id < 500000500; ++id) expected += id % 17 == 3;
  EXPECT_EQ(static_cast<int>(ids->size()), expected);
}

}  // namespace
}  // namespace lifelong::cluster_testing
