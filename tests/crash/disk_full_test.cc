// Full-disk test: a RecordStore whose file system runs out of space, and one
// whose fsync fails (DiskFullFileSystem). A district's data disk fills up
// sooner or later; the record service must then keep every acknowledged
// statement, refuse new writes with UNAVAILABLE naming the cause (never
// acknowledge one that is not durable, never abort), go on answering reads,
// and take writes again by itself once space is freed, without a restart.
// (On a real full tmpfs, records_server behaves the same:
// docs/observability.md, "RocksDB's own log, and a full disk".)
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/records/record_store.h"
#include "services/records/test_statements.h"
#include "tests/crash/disk_full_fs.h"
#include "tests/testing/subprocess.h"

namespace lifelong {
namespace {

using records::RecordStore;
using records::testing::MakeStatement;
using records::testing::TestUuid;
using testing::DiskFullFileSystem;

using Stored = absl::StatusOr<std::vector<records::StoredStatement>>;

std::vector<records::ParsedStatement> Batch(const std::vector<int>& ns) {
  std::vector<records::ParsedStatement> batch;
  for (int n : ns) {
    absl::StatusOr<records::ParsedStatement> p = records::ParseStatement(
        MakeStatement({.id = TestUuid(n), .learner = absl::StrCat("u", n % 5), .course = absl::StrCat("c", n % 7)}));
    EXPECT_TRUE(p.ok()) << p.status();
    if (p.ok()) batch.push_back(std::move(*p));
  }
  return batch;
}

Stored RecordAsyncAndWait(RecordStore& store, std::vector<records::ParsedStatement> batch) {
  std::promise<Stored> answer;
  std::future<Stored> answered = answer.get_future();
  store.RecordAsync(std::move(batch), [&answer](Stored result) { answer.set_value(std::move(result)); });
  return answered.get();
}

bool Has(const RecordStore& store, int n) {
  absl::StatusOr<records::Uuid> id = records::ParseUuid(TestUuid(n));
  return id.ok() && store.Get(*id).ok();
}

records::RecordStoreOptions OptionsOn(rocksdb::Env* env) {
  records::RecordStoreOptions options;
  options.env = env;
  options.block_cache_bytes = 8 << 20;
  return options;
}

TEST(DiskFull, RefusesWritesKeepsWhatWasAcknowledgedAndResumesWhenSpaceIsFreed) {
  const std::string path = testing::FreshTempDir("disk_full") + "/db";
  std::shared_ptr<DiskFullFileSystem> fs;
  std::unique_ptr<rocksdb::Env> env = testing::NewDiskFullEnv(&fs);
  std::vector<int> acked;
  {
    absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(path, OptionsOn(env.get()));
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->stats().write_failures, 0u);
    for (int i = 0; i < 40; i += 4) {
      std::vector<int> ns = {i, i + 1, i + 2, i + 3};
      ASSERT_TRUE((*store)->Record(Batch(ns)).ok());
      acked.insert(acked.end(), ns.begin(), ns.end());
    }

    // The disk is full: a write, synchronous or not, is refused with
    // UNAVAILABLE naming the cause, and nothing of it becomes readable.
    fs->SetFreeBytes(0);
    Stored refused = (*store)->Record(Batch({1000, 1001}));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
    EXPECT_TRUE(absl::StrContains(refused.status().message(), "No space left on device")) << refused.status();
    EXPECT_GT(fs->refused_appends(), 0);
    EXPECT_GT((*store)->stats().write_failures, 0u);  // lifelong_store_write_failures_total
    Stored refused_async = RecordAsyncAndWait(**store, Batch({1002}));
    ASSERT_FALSE(refused_async.ok());
    EXPECT_EQ(refused_async.status().code(), absl::StatusCode::kUnavailable) << refused_async.status();
    EXPECT_FALSE(Has(**store, 1000));
    EXPECT_FALSE(Has(**store, 1001));
    EXPECT_FALSE(Has(**store, 1002));
    // Reads go on: every acknowledged statement is there.
    for (int n : acked) EXPECT_TRUE(Has(**store, n)) << n;

    // Space is freed: the store takes writes again by itself (RocksDB's
    // recovery polls the free space), with no restart.
    fs->SetFreeBytes(DiskFullFileSystem::kUnlimited);
    Stored resumed = absl::UnavailableError("not tried");
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    for (int attempt = 0; std::chrono::steady_clock::now() < give_up; ++attempt) {
      resumed = (*store)->Record(Batch({2000 + attempt}));
      if (resumed.ok()) {
        acked.push_back(2000 + attempt);
        break;
      }
      EXPECT_EQ(resumed.status().code(), absl::StatusCode::kUnavailable) << resumed.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ASSERT_TRUE(resumed.ok()) << "no write accepted 90 s after space was freed: " << resumed.status();
    // The clients whose writes were refused retry them now.
    ASSERT_TRUE((*store)->Record(Batch({1000, 1001})).ok());
    ASSERT_TRUE(RecordAsyncAndWait(**store, Batch({1002})).ok());
    acked.insert(acked.end(), {1000, 1001, 1002});
    for (int n : acked) EXPECT_TRUE(Has(**store, n)) << n;
  }
  // And all of it is on disk: reopened without the simulated disk.
  absl::StatusOr<std::unique_ptr<RecordStore>> reopened = RecordStore::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  for (int n : acked) EXPECT_TRUE(Has(**reopened, n)) << n;
}

TEST(DiskFull, AFailedFsyncAcknowledgesNothingAndLosesNothingAcknowledged) {
  const std::string path = testing::FreshTempDir("failed_fsync") + "/db";
  std::shared_ptr<DiskFullFileSystem> fs;
  std::unique_ptr<rocksdb::Env> env = testing::NewDiskFullEnv(&fs);
  std::vector<int> acked;
  {
    absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(path, OptionsOn(env.get()));
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE((*store)->Record(Batch({i})).ok());
      acked.push_back(i);
    }
    fs->FailSyncs(true);
    // While fsync fails no write is acknowledged, synchronous or not.
    for (int i = 0; i < 5; ++i) {
      Stored r = (*store)->Record(Batch({100 + i}));
      ASSERT_FALSE(r.ok()) << "acknowledged a statement whose fsync failed";
      EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
      Stored a = RecordAsyncAndWait(**store, Batch({200 + i}));
      ASSERT_FALSE(a.ok()) << "acknowledged a statement whose fsync failed";
      EXPECT_EQ(a.status().code(), absl::StatusCode::kUnavailable) << a.status();
    }
    EXPECT_GT(fs->failed_syncs(), 0);
    EXPECT_EQ((*store)->stats().write_failures, 10u);  // each write above was its own group
    for (int n : acked) EXPECT_TRUE(Has(**store, n)) << n;
    fs->FailSyncs(false);
  }
  // After a restart every acknowledged statement is there, and the store
  // takes writes again.
  absl::StatusOr<std::unique_ptr<RecordStore>> reopened = RecordStore::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  for (int n : acked) EXPECT_TRUE(Has(**reopened, n)) << n;
  EXPECT_TRUE((*reopened)->Record(Batch({300})).ok());
}

}  // namespace
}  // namespace lifelong
