#include "services/storage/backup_engine.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "services/storage/backup_scheduler.h"
#include "services/storage/restore_swap.h"

namespace lifelong::storage {
namespace {

namespace fs = std::filesystem;

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/backup_engine_test/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::unique_ptr<rocksdb::DB> OpenDb(const std::string& dir) {
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  EXPECT_TRUE(rocksdb::DB::Open(o, dir, &db).ok());
  return std::unique_ptr<rocksdb::DB>(db);
}

std::string Get(rocksdb::DB* db, const std::string& key) {
  std::string v;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), key, &v);
  return s.ok() ? v : s.ToString();
}

TEST(DefaultBackupDir, BesideTheDataDirectory) {
  EXPECT_EQ(DefaultBackupDir("var/catalog"), "var/catalog-backups");
  EXPECT_EQ(DefaultBackupDir("var/catalog/"), "var/catalog-backups");
  EXPECT_EQ(DefaultBackupDir("/srv/catalog"), "/srv/catalog-backups");
}

TEST(BackupEngine, MetadataEnvelopeListsOldestFirst) {
  const std::string root = TempDir("metadata");
  std::unique_ptr<rocksdb::DB> db = OpenDb(root + "/db");
  auto engine = OpenBackupEngine(root + "/backups");
  ASSERT_TRUE(engine.ok()) << engine.status();
  for (int i = 1; i <= 2; ++i) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", std::to_string(i)).ok());
    nlohmann::ordered_json fields;
    fields["items"] = i * 10;
    rocksdb::CreateBackupOptions co;
    co.flush_before_backup = true;
    ASSERT_TRUE(
        (*engine)->CreateNewBackupWithMetadata(co, db.get(), EncodeBackupMetadata(1000 + i, fields), nullptr).ok());
  }
  // A backup whose metadata is not ours still lists.
  ASSERT_TRUE((*engine)->CreateNewBackupWithMetadata(rocksdb::CreateBackupOptions(), db.get(), "not json").ok());
  std::vector<EngineBackup> all = ListEngineBackups(**engine);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, 1u);
  EXPECT_EQ(all[0].created_us, 1001);
  EXPECT_EQ(MetadataU64(all[0].metadata, "items"), 10u);
  EXPECT_EQ(all[1].created_us, 1002);
  EXPECT_EQ(MetadataU64(all[1].metadata, "items"), 20u);
  EXPECT_TRUE(all[2].metadata.is_null());
  EXPECT_EQ(MetadataU64(all[2].metadata, "items"), 0u);
  EXPECT_GT(all[2].created_us, 1'000'000'000'000'000);  // the engine's own timestamp
  EXPECT_TRUE(VerifyEngineBackup(**engine, 1, "test").ok());
  absl::Status missing = VerifyEngineBackup(**engine, 9, "test");
  EXPECT_EQ(missing.code(), absl::StatusCode::kDataLoss) << missing;
  EXPECT_NE(missing.message().find("backup 9 (test)"), std::string::npos) << missing;
}

TEST(BackupDirLock, OneHolderPerDirectory) {
  const std::string root = TempDir("lock");
  auto first = BackupDirLock::Acquire(root + "/backups", "catalog", "catalog_server");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(fs::is_directory(root + "/backups/catalog"));
  auto second = BackupDirLock::Acquire(root + "/backups", "", "catalog_server");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("one catalog_server per backup directory"), std::string::npos);
  first->reset();
  EXPECT_TRUE(BackupDirLock::Acquire(root + "/backups", "", "catalog_server").ok());
}

TEST(BackupCounters, CountOutcomesAndKeepTheNewestStart) {
  BackupCounters c;
  c.SetLastSuccess(5);
  c.Record(int64_t{7});
  c.Record(absl::UnavailableError("disk"));
  BackupStats s = c.stats();
  EXPECT_EQ(s.created, 1u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.last_success_us, 7);
}

struct Info {
  uint32_t id;
};

TEST(PickBackup, NewestOrByIdOrNotFound) {
  std::vector<Info> all = {{1}, {3}};
  EXPECT_EQ(PickBackup(all, 0, "d")->id, 3u);
  EXPECT_EQ(PickBackup(all, 1, "d")->id, 1u);
  EXPECT_EQ(PickBackup(all, 2, "d").status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(PickBackup(all, 2, "d").status().message().find("backup_id"), std::string::npos);
  EXPECT_EQ(PickBackup(std::vector<Info>{}, 0, "d").status().code(), absl::StatusCode::kNotFound);
}

// RestoreIntoPlace: the check sees the restored copy before the swap; a
// failing check or swap step leaves the target as it was.
TEST(RestoreIntoPlace, ChecksThenSwapsAndLeavesTheTargetOnFailure) {
  const std::string root = TempDir("restore");
  auto engine = OpenBackupEngine(root + "/backups");
  ASSERT_TRUE(engine.ok());
  {
    std::unique_ptr<rocksdb::DB> db = OpenDb(root + "/source");
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "backed-up").ok());
    ASSERT_TRUE((*engine)->CreateNewBackup(db.get(), /*flush_before_backup=*/true).ok());
  }
  const std::string target = root + "/target";
  {
    std::unique_ptr<rocksdb::DB> live = OpenDb(target);
    ASSERT_TRUE(live->Put(rocksdb::WriteOptions(), "k", "live").ok());
    // Held open: refused even when forced.
    auto held = RestoreIntoPlace({{root + "/backups", 1, target, "data_dir"}}, true, nullptr, nullptr);
    EXPECT_EQ(held.status().code(), absl::StatusCode::kFailedPrecondition) << held.status();
  }
  auto unforced = RestoreIntoPlace({{root + "/backups", 1, target, "data_dir"}}, false, nullptr, nullptr);
  EXPECT_EQ(unforced.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(unforced.status().message().find("--force"), std::string::npos);

  auto failing_check = [](const std::vector<std::string>&) { return absl::DataLossError("check failed"); };
  auto r = RestoreIntoPlace({{root + "/backups", 1, target, "data_dir"}}, true, failing_check, nullptr);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  auto fault = [](RestoreSwapStep step, const std::string&) {
    return step == RestoreSwapStep::kMoveIntoPlace ? absl::UnavailableError("injected") : absl::OkStatus();
  };
  r = RestoreIntoPlace({{root + "/backups", 1, target, "data_dir"}}, true, nullptr, fault);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Get(OpenDb(target).get(), "k"), "live");
  EXPECT_TRUE(RestoreLeftovers(target).empty());

  std::string seen;
  r = RestoreIntoPlace(
      {{root + "/backups", 1, target, "data_dir"}}, true,
      [&](const std::vector<std::string>& restored) {
        seen = Get(OpenDb(restored[0]).get(), "k");
        return absl::OkStatus();
      },
      nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(seen, "backed-up");
  EXPECT_EQ(Get(OpenDb(target).get(), "k"), "backed-up");
  EXPECT_TRUE(RestoreLeftovers(target).empty());
}

TEST(BackupLoop, RunsAtOnceWithoutABackupAndStops) {
  std::atomic<int> rounds{0};
  absl::Notification first;
  BackupLoop loop(
      absl::Hours(1), [] { return int64_t{0}; },
      [&] {
        if (++rounds == 1) first.Notify();
      });
  loop.Start();
  ASSERT_TRUE(first.WaitForNotificationWithTimeout(absl::Seconds(30)));
  loop.Stop();
  EXPECT_EQ(rounds.load(), 1);
}

}  // namespace
}  // namespace lifelong::storage
