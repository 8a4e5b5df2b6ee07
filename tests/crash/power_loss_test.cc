// Power-loss test: many concurrent writers record statements into a
// RecordStore whose files go through PowerLossFileSystem; while writes and
// memtable flushes are in flight the "power is cut" (every later write is
// refused, and after the store is closed each file is cut back to the bytes
// that were fsynced, files whose directory was never fsynced vanish). The
// store reopened on what is left must hold every acknowledged statement with
// all of its index entries, and no index entry may point at a missing
// statement. Unlike kill -9 (tests/crash/records_crash_test.cc), this loses
// the page cache too, so it checks that acknowledgement waits for fsync.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/domain/vocabulary.h"
#include "services/records/column_families.h"
#include "services/records/key_codec.h"
#include "services/records/record_store.h"
#include "services/records/test_statements.h"
#include "tests/crash/power_loss_fs.h"
#include "tests/testing/subprocess.h"

namespace lifelong {
namespace {

using records::Cf;
using records::RecordStore;
using records::testing::MakeStatement;
using records::testing::TestUuid;

struct Outcome {
  size_t acked = 0;
  size_t lost = 0;        // acknowledged, missing after the power cut
  size_t dangling = 0;    // index entries whose statement is missing
  size_t incomplete = 0;  // statements missing some of their index entries
  size_t survived = 0;    // statements in the store after the power cut
  int flushes = 0;        // memtable flushes finished before the cut
  testing::PowerLossFileSystem::Dropped dropped;
};

// Scans the raw database: every index entry's statement exists, and every
// statement has exactly the index entries its record calls for.
void CheckIndexes(const std::string& path, Outcome* out) {
  records::RecordStoreRocksConfig config = records::MakeRecordStoreRocksConfig(8 << 20);
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(config.db, path, config.families, &handles, &raw);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<rocksdb::DB> db(raw);
  std::map<std::string, int> expected, seen;  // statement id -> index entries
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions(), handles[static_cast<int>(Cf::kStatements)]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      absl::StatusOr<records::StatementRecord> r =
          records::DecodeStatementRecord(absl::string_view(it->value().data(), it->value().size()));
      ASSERT_TRUE(r.ok()) << r.status();
      int n = static_cast<int>(r->learners.size()) + (r->activity.empty() ? 0 : 1) + 1 /*verb*/ +
              (r->Has(records::RecordFlag::kHasRegistration) ? 1 : 0) + 1 /*stored*/;
      expected[it->key().ToString()] = n;
    }
    ASSERT_TRUE(it->status().ok());
  }
  for (Cf family : {Cf::kByLearner, Cf::kByActivity, Cf::kByVerb, Cf::kByRegistration, Cf::kByStored}) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[static_cast<int>(family)]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      rocksdb::Slice k = it->key();
      ASSERT_GE(k.size(), 24u);
      std::string id(k.data() + k.size() - 16, 16);  // no StatementRefs here: every entry is an own one
      if (expected.count(id) == 0) {
        ++out->dangling;
      } else {
        ++seen[id];
      }
    }
    ASSERT_TRUE(it->status().ok());
  }
  for (const auto& [id, n] : expected) {
    if (seen[id] != n) ++out->incomplete;
  }
  out->survived = expected.size();
  for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
}

// Writes from `kWriters` threads until `kAcked` statements are acknowledged,
// cuts the power, and checks what is left.
// With `async`, every other writer uses RecordStore::RecordAsync (as
// records_server's RecordStatement does) and counts a statement acknowledged
// when its callback reports it stored.
Outcome RunPowerCut(bool sync, const std::string& name, bool async = false) {
  constexpr int kWriters = 12;
  constexpr size_t kAcked = 2000;
  Outcome out;
  std::string dir = testing::FreshTempDir(name);
  std::string path = dir + "/db";
  std::shared_ptr<testing::PowerLossFileSystem> fs;
  std::unique_ptr<rocksdb::Env> env = testing::NewPowerLossEnv(&fs);

  std::mutex mu;
  std::set<std::string> acked;
  std::atomic<int> flushes{0};
  {
    records::RecordStoreOptions options;
    options.env = env.get();
    options.sync = sync;
    options.block_cache_bytes = 8 << 20;
    absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(path, options);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return out;
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kWriters; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; !stop.load(); ++i) {
          int n = t * 1000000 + i * 3;
          std::vector<std::string> ids = {TestUuid(n)};
          if (i % 4 == 3) ids = {TestUuid(n), TestUuid(n + 1), TestUuid(n + 2)};  // a batch
          std::vector<records::ParsedStatement> batch;
          for (const std::string& id : ids) {
            absl::StatusOr<records::ParsedStatement> p = records::ParseStatement(
                MakeStatement({.id = id,
                               .learner = absl::StrCat("u", n % 9),
                               .course = absl::StrCat("c", n % 7),
                               .registration = (n % 5 == 0) ? TestUuid(900000000 + n % 11) : ""}));
            ASSERT_TRUE(p.ok()) << p.status();
            batch.push_back(std::move(*p));
          }
          absl::StatusOr<std::vector<records::StoredStatement>> r = absl::UnknownError("not answered");
          if (async && t % 2 == 1) {
            std::promise<absl::StatusOr<std::vector<records::StoredStatement>>> answer;
            std::future<absl::StatusOr<std::vector<records::StoredStatement>>> answered = answer.get_future();
            (*store)->RecordAsync(std::move(batch),
                                  [&answer](absl::StatusOr<std::vector<records::StoredStatement>> result) {
                                    answer.set_value(std::move(result));
                                  });
            r = answered.get();
          } else {
            r = (*store)->Record(std::move(batch));
          }
          if (!r.ok()) {
            EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
            return;  // the disk is gone
          }
          {
            std::lock_guard<std::mutex> lock(mu);
            acked.insert(ids.begin(), ids.end());
          }
          // Pace the writers alike with and without fsync (a few thousand
          // statements a second), so both runs stay small.
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
      });
    }
    // Memtable flushes during the run: new tables, a new log, manifest edits
    // and directory syncs happen while statements are acknowledged.
    std::atomic<bool> stop_flusher{false};
    std::atomic<bool> flusher_done{false};
    threads.emplace_back([&] {
      while (!stop.load() && !stop_flusher.load() && !fs->crashed()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
        if ((*store)->WaitForBackgroundWork().ok() && !fs->crashed()) ++flushes;
      }
      flusher_done = true;
    });
    while (true) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      std::lock_guard<std::mutex> lock(mu);
      if (acked.size() >= kAcked && flushes.load() >= 2) break;
    }
    if (sync) {
      // The flusher starts its next flush about now: cut the power into it.
      std::this_thread::sleep_for(std::chrono::milliseconds(45));
    } else {
      // The negative control must cut while acknowledged statements are
      // unsynced: a flush syncs the WAL it closes, so one that just ended on
      // a loaded machine (writers starved meanwhile) could leave nothing to
      // lose. Stop the flusher, then cut once 100 more are acknowledged.
      stop_flusher = true;
      while (!flusher_done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      size_t base = 0;
      {
        std::lock_guard<std::mutex> lock(mu);
        base = acked.size();
      }
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        std::lock_guard<std::mutex> lock(mu);
        if (acked.size() >= base + 100) break;
      }
    }
    fs->Crash();
    stop = true;
    for (std::thread& t : threads) t.join();
    // Groups whose fsync finished before the cut may be answered just after
    // it; they count as acknowledged (and must survive).
    out.acked = acked.size();
    out.flushes = flushes.load();
  }  // the store closes on the dead disk
  absl::StatusOr<testing::PowerLossFileSystem::Dropped> dropped = fs->DropUnsyncedData();
  EXPECT_TRUE(dropped.ok()) << dropped.status();
  if (dropped.ok()) out.dropped = *dropped;

  // Power back on: a plain store on what the disk kept.
  {
    absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(path);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return out;
    for (const std::string& id : acked) {
      absl::StatusOr<records::Uuid> u = records::ParseUuid(id);
      if (!(*store)->Get(*u).ok()) ++out.lost;
    }
  }
  CheckIndexes(path, &out);
  return out;
}

TEST(RecordsPowerLoss, AcknowledgedStatementsSurviveAPowerCut) {
  Outcome o = RunPowerCut(/*sync=*/true, "power_loss_synced");
  std::cout << "power cut (synced store): acknowledged " << o.acked << ", lost " << o.lost
            << ", dangling index entries " << o.dangling << ", incomplete statements " << o.incomplete
            << ", statements left " << o.survived << "; dropped " << o.dropped.bytes << " unsynced bytes ("
            << o.dropped.files_truncated << " files cut, " << o.dropped.files_removed << " removed); " << o.flushes
            << " flushes before the cut\n";
  EXPECT_GE(o.acked, 2000u);
  EXPECT_EQ(o.lost, 0u);
  EXPECT_EQ(o.dangling, 0u);
  EXPECT_EQ(o.incomplete, 0u);
  EXPECT_GE(o.survived, o.acked);
}

// The same with half the writers on RecordAsync: its callback, too, reports a
// statement stored only once its group is synced.
TEST(RecordsPowerLoss, AcknowledgedAsyncStatementsSurviveAPowerCut) {
  Outcome o = RunPowerCut(/*sync=*/true, "power_loss_async", /*async=*/true);
  std::cout << "power cut (synced store, RecordAsync writers): acknowledged " << o.acked << ", lost " << o.lost
            << ", dangling index entries " << o.dangling << ", incomplete statements " << o.incomplete
            << ", statements left " << o.survived << "; dropped " << o.dropped.bytes << " unsynced bytes; " << o.flushes
            << " flushes before the cut\n";
  EXPECT_GE(o.acked, 2000u);
  EXPECT_EQ(o.lost, 0u);
  EXPECT_EQ(o.dangling, 0u);
  EXPECT_EQ(o.incomplete, 0u);
  EXPECT_GE(o.survived, o.acked);
}

// The same run against a store that acknowledges before fsync: the power cut
// loses acknowledged statements, so the test above can fail.
TEST(RecordsPowerLoss, UnsyncedStoreLosesAcknowledgedStatements) {
  Outcome o = RunPowerCut(/*sync=*/false, "power_loss_unsynced");
  std::cout << "power cut (unsynced store): acknowledged " << o.acked << ", lost " << o.lost
            << ", dangling index entries " << o.dangling << "; dropped " << o.dropped.bytes << " unsynced bytes; "
            << o.flushes << " flushes before the cut\n";
  EXPECT_GT(o.lost, 0u);
  EXPECT_GT(o.dropped.bytes, 0u);
  // Atomicity holds even without fsync: the WAL is cut at a record boundary
  // or its torn tail is dropped, never half a batch.
  EXPECT_EQ(o.dangling, 0u);
  EXPECT_EQ(o.incomplete, 0u);
}

}  // namespace
}  // namespace lifelong
