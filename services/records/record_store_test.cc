#include "services/records/record_store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "services/domain/vocabulary.h"
#include "services/records/column_families.h"
#include "services/records/test_statements.h"
#include "tests/testing/bounded_wait.h"
#include "tests/testing/store_files.h"

namespace lifelong::records {
namespace {

using ::lifelong::testing::AwaitOrFail;
using testing::MakeStatement;
using testing::StatementSpec;
using testing::TestUuid;

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

// The store's write pipeline held at chosen points (RecordStoreOptions::
// WriteHooks): Arm() makes the next group Write wait until Release(), which
// also sets what that Write returns (a non-OK status: the write fails);
// counts of built batches and erasures waiting can be awaited.
class WritePipelineGate {
 public:
  RecordStoreOptions::WriteHooks Hooks() {
    RecordStoreOptions::WriteHooks hooks;
    hooks.before_write = [this] {
      absl::MutexLock lock(&mu_);
      if (!armed_) return absl::OkStatus();
      armed_ = false;
      held_ = true;
      if (!AwaitOrFail(
              &mu_, [this] { return !held_; }, "the test to release the held Write"))
        held_ = false;
      return result_;
    };
    hooks.built = [this] { Bump(&built_); };
    hooks.erase_waiting = [this] { Bump(&erase_waiting_); };
    return hooks;
  }
  void Arm() {
    absl::MutexLock lock(&mu_);
    armed_ = true;
  }
  // Blocks until the armed Write is held.
  void AwaitHeld() {
    absl::MutexLock lock(&mu_);
    AwaitOrFail(&mu_, &held_, "the armed Write to be held");
  }
  void Release(absl::Status result) {
    absl::MutexLock lock(&mu_);
    result_ = std::move(result);
    held_ = false;
  }
  void AwaitBuilt(int n) { AwaitCount(&built_, n); }
  void AwaitEraseWaiting(int n) { AwaitCount(&erase_waiting_, n); }
  int built() {
    absl::MutexLock lock(&mu_);
    return built_;
  }

 private:
  void Bump(int* counter) {
    absl::MutexLock lock(&mu_);
    ++*counter;
  }
  void AwaitCount(int* counter, int n) {
    absl::MutexLock lock(&mu_);
    AwaitOrFail(
        &mu_, [counter, n] { return *counter >= n; }, "a count of " + std::to_string(n));
  }
  absl::Mutex mu_;
  bool armed_ = false, held_ = false;
  absl::Status result_;
  int built_ = 0, erase_waiting_ = 0;
};

class RecordStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(true); }

  void Reopen(bool wipe) {
    store_.reset();
    if (wipe) dir_ = TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    RecordStoreOptions options;
    options.now_micros = [this] { return clock_.fetch_add(1000); };
    options.build_ahead = build_ahead_;
    options.test_hooks = hooks_;
    options.max_scanned_per_page = max_scanned_per_page_;
    options.purge_retry_delay = purge_retry_delay_;
    auto s = RecordStore::Open(dir_, options);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }

  // Records statement 1 of u1 titled `marker` and statement 2 of u2, and
  // flushes them into table files (where an erasure's purge must reach them,
  // as after a while).
  void PutMarkedStatements(const std::string& marker) {
    ASSERT_TRUE(Put({{.id = TestUuid(1), .learner = "u1", .course = "c1", .title = marker},
                     {.id = TestUuid(2), .learner = "u2", .course = "c1"}})
                    .ok());
    ASSERT_TRUE(store_->WaitForBackgroundWork().ok());
  }

  absl::StatusOr<std::vector<StoredStatement>> Put(const std::vector<StatementSpec>& specs) {
    std::vector<ParsedStatement> batch;
    for (const StatementSpec& spec : specs) {
      absl::StatusOr<ParsedStatement> p = ParseStatement(MakeStatement(spec));
      if (!p.ok()) return p.status();
      batch.push_back(std::move(*p));
    }
    return store_->Record(std::move(batch));
  }

  // Stores a statement by `learner` whose object is a StatementRef to `target`.
  absl::Status PutRef(const std::string& id, const std::string& learner, const std::string& target) {
    std::string json =
        absl::StrCat(R"({"id":")", id, R"(","actor":{"objectType":"Agent","account":{"homePage":")",
                     vocab::kDistrictIdp, R"(","name":")", learner,
                     R"("}},"verb":{"id":"http://id.tincanapi.com/verb/rated","display":{"en-US":"rated"}},)",
                     R"("object":{"objectType":"StatementRef","id":")", target, R"("}})");
    absl::StatusOr<ParsedStatement> p = ParseStatement(json);
    if (!p.ok()) return p.status();
    std::vector<ParsedStatement> batch;
    batch.push_back(std::move(*p));
    return store_->Record(std::move(batch)).status();
  }

  // Stores `batches` x `per_batch` statements by `learner` (no ids: the store
  // assigns them) whose object is a StatementRef to `target`.
  void PlantReferences(const std::string& learner, const std::string& target, int batches, int per_batch) {
    for (int b = 0; b < batches; ++b) {
      std::vector<ParsedStatement> batch;
      for (int i = 0; i < per_batch; ++i) {
        std::string json = absl::StrCat(
            R"({"actor":{"objectType":"Agent","account":{"homePage":")", vocab::kDistrictIdp, R"(","name":")", learner,
            R"("}},"verb":{"id":"http://adlnet.gov/expapi/verbs/commented","display":{"en-US":"c"}},)",
            R"("object":{"objectType":"StatementRef","id":")", target, R"("}})");
        absl::StatusOr<ParsedStatement> p = ParseStatement(json);
        ASSERT_TRUE(p.ok()) << p.status();
        batch.push_back(std::move(*p));
      }
      ASSERT_TRUE(store_->Record(std::move(batch)).ok());
    }
  }

  std::vector<std::string> ListAll(StatementQuery q) {
    std::vector<std::string> out;
    q.page_size = 1;
    for (int pages = 0; pages < 100; ++pages) {
      absl::StatusOr<StatementPage> page = store_->List(q);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (auto& id : Ids(*page)) out.push_back(id);
      if (page->next_page_token.empty()) break;
      q.page_token = page->next_page_token;
    }
    return out;
  }

  std::vector<std::string> Ids(const StatementPage& page) {
    std::vector<std::string> out;
    for (const StoredStatement& s : page.statements) out.push_back(FormatUuid(s.id));
    return out;
  }

  std::atomic<int64_t> clock_{1'800'000'000'000'000};
  bool build_ahead_ = true;
  RecordStoreOptions::WriteHooks hooks_;                  // for the next Reopen
  int max_scanned_per_page_ = 20000;                      // for the next Reopen
  absl::Duration purge_retry_delay_ = absl::Seconds(30);  // for the next Reopen
  std::string dir_;
  std::unique_ptr<RecordStore> store_;
};

// Open() and bench_records' RocksDB-alone phase both rely on this: one
// descriptor per registered family, in id order, all sharing one block cache.
TEST(RecordStoreRocksConfigTest, OneDescriptorPerFamilyInRegistryOrder) {
  RecordStoreRocksConfig config = MakeRecordStoreRocksConfig(size_t{8} << 20);
  ASSERT_EQ(config.families.size(), static_cast<size_t>(kNumColumnFamilies));
  EXPECT_TRUE(config.db.create_missing_column_families);
  std::shared_ptr<rocksdb::Cache> cache;
  for (int i = 0; i < kNumColumnFamilies; ++i) {
    EXPECT_EQ(config.families[i].name, kColumnFamilies[i].name);
    auto* table = config.families[i].options.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
    ASSERT_NE(table, nullptr);
    ASSERT_NE(table->block_cache, nullptr);
    if (i == 0) cache = table->block_cache;
    EXPECT_EQ(table->block_cache, cache) << kColumnFamilies[i].name;
  }
  EXPECT_EQ(cache->GetCapacity(), size_t{8} << 20);
}

TEST_F(RecordStoreTest, RecordThenGetReturnsStoredJsonWithLrsFields) {
  auto r = Put({{.id = TestUuid(1), .learner = "u1", .verb = "completed", .course = "c1"}});
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<StoredStatement> got = store_->Get(*ParseUuid(TestUuid(1)));
  ASSERT_TRUE(got.ok());
  nlohmann::json j = nlohmann::json::parse(got->record.json);
  EXPECT_EQ(j["id"], TestUuid(1));
  EXPECT_TRUE(j.contains("stored"));
  EXPECT_EQ(j["timestamp"], j["stored"]);  // assigned when absent
  EXPECT_EQ(j["authority"]["account"]["name"], "lifelong-records");
  EXPECT_EQ(j["version"], "2.0.0");
  EXPECT_EQ(got->record.learners, std::vector<std::string>{"u1"});
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(2))).status().code(), absl::StatusCode::kNotFound);
}

void ExpectSameRecord(const StoredStatement& a, const StoredStatement& b) {
  EXPECT_EQ(FormatUuid(a.id), FormatUuid(b.id));
  EXPECT_EQ(a.record.flags, b.record.flags);
  EXPECT_EQ(a.record.stored_seq, b.record.stored_seq);
  EXPECT_EQ(a.record.timestamp_us, b.record.timestamp_us);
  EXPECT_EQ(FormatUuid(a.record.voided_by), FormatUuid(b.record.voided_by));
  EXPECT_EQ(FormatUuid(a.record.registration), FormatUuid(b.record.registration));
  EXPECT_EQ(a.record.learners, b.record.learners);
  EXPECT_EQ(a.record.verb, b.record.verb);
  EXPECT_EQ(a.record.activity, b.record.activity);
  EXPECT_EQ(a.record.json, b.record.json);
}

// Record() builds its answer from the prepared record and value rather than
// decoding what it wrote: every field must still equal what Get() reads back.
TEST_F(RecordStoreTest, RecordReturnsExactlyWhatGetReadsBack) {
  auto r = Put({{.id = TestUuid(1), .learner = "u1", .course = "c1"},
                {.id = TestUuid(2),
                 .learner = "u2",
                 .verb = "attended",
                 .course = "c2",
                 .timestamp = "2026-01-01T08:00:00+08:00",
                 .registration = TestUuid(900)},
                {.id = TestUuid(3), .learner = "g1", .course = "c3", .group = {"u3", "u4"}},
                {.learner = "u5", .course = "c5"}});  // no id: one is assigned
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_TRUE(r->at(0).record.Has(RecordFlag::kTimestampAssigned));
  EXPECT_EQ(r->at(0).record.timestamp_us, static_cast<int64_t>(r->at(0).record.stored_seq));
  EXPECT_TRUE(r->at(1).record.Has(RecordFlag::kHasRegistration));
  EXPECT_EQ(r->at(2).record.learners.size(), 3u);
  for (const StoredStatement& s : *r) {
    absl::StatusOr<StoredStatement> got = store_->Get(s.id);
    ASSERT_TRUE(got.ok()) << got.status();
    ExpectSameRecord(s, *got);
  }
  // A replay returns the record as stored before, in its place in the batch.
  auto again = Put({{.id = TestUuid(6), .course = "c6"}, {.id = TestUuid(1), .learner = "u1", .course = "c1"}});
  ASSERT_TRUE(again.ok()) << again.status();
  ExpectSameRecord(again->at(1), r->at(0));
  ExpectSameRecord(again->at(0), *store_->Get(*ParseUuid(TestUuid(6))));
}

// Replicated-log operation `seq` carrying `specs`, stamped at a fixed time
// after `seq` (for ApplyLoggedRecords).
LoggedRecord LoggedOp(uint64_t seq, const std::vector<StatementSpec>& specs) {
  LoggedRecord r;
  r.seq = seq;
  r.now_us = 1'800'000'000'000'000 + static_cast<int64_t>(seq);
  for (const StatementSpec& spec : specs) r.statements.push_back(*ParseStatement(MakeStatement(spec)));
  return r;
}

// Several writers committed in one group (ApplyLoggedRecords commits
// consecutive operations together): a writer that fails leaves nothing behind
// for the writers after it, and what one writer stored the next one sees.
TEST_F(RecordStoreTest, FailedWriterInAGroupLeavesNothingToTheNext) {
  ASSERT_TRUE(Put({{.id = TestUuid(1), .course = "c1"}, {.id = TestUuid(2), .course = "c2"}}).ok());
  auto op = LoggedOp;
  std::vector<LoggedRecord> ops;
  // 1: a new statement, then a conflict: fails as a whole.
  ops.push_back(op(1, {{.id = TestUuid(10), .course = "c10"}, {.id = TestUuid(1), .course = "other"}}));
  // 2: the same new statement: stored now (not a replay of 1's).
  ops.push_back(op(2, {{.id = TestUuid(10), .course = "c10"}}));
  // 3: again: a replay of 2's.
  ops.push_back(op(3, {{.id = TestUuid(10), .course = "c10"}}));
  // 4: voids statement 2, then conflicts: fails, so 2 stays unvoided ...
  ops.push_back(
      op(4, {{.id = TestUuid(20), .verb = "voided", .course = TestUuid(2)}, {.id = TestUuid(1), .course = "other"}}));
  // 5: ... and this voiding of 2 finds it unvoided and marks it.
  ops.push_back(op(5, {{.id = TestUuid(21), .verb = "voided", .course = TestUuid(2)}}));
  ASSERT_TRUE(store_->ApplyLoggedRecords(&ops).ok());
  EXPECT_EQ(ops[0].result.status().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(ops[1].result.ok()) << ops[1].result.status();
  ASSERT_TRUE(ops[2].result.ok()) << ops[2].result.status();
  EXPECT_EQ(ops[2].result->front().record.stored_seq, ops[1].result->front().record.stored_seq);
  absl::StatusOr<StoredStatement> stored = store_->Get(*ParseUuid(TestUuid(10)));
  ASSERT_TRUE(stored.ok()) << stored.status();  // written by 2, not taken for 1's leftover
  ExpectSameRecord(ops[1].result->front(), *stored);
  EXPECT_EQ(ops[3].result.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(20))).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(ops[4].result.ok()) << ops[4].result.status();
  absl::StatusOr<StoredStatement> voided = store_->Get(*ParseUuid(TestUuid(2)));
  ASSERT_TRUE(voided.ok());
  EXPECT_TRUE(voided->record.Has(RecordFlag::kVoided));
  EXPECT_EQ(FormatUuid(voided->record.voided_by), TestUuid(21));
  EXPECT_EQ(store_->stats().statements_written, 4u);  // 1, 2, 10, 21
}

TEST_F(RecordStoreTest, SameIdSameContentIsIdempotentDifferentContentConflicts) {
  StatementSpec spec{.id = TestUuid(1), .course = "c1", .timestamp = "2026-01-01T00:00:00Z"};
  auto first = Put({spec});
  ASSERT_TRUE(first.ok());
  auto again = Put({spec});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->front().record.stored_seq, first->front().record.stored_seq);
  // Without a timestamp the store assigns one; a replay without one still matches.
  StatementSpec no_ts{.id = TestUuid(2), .course = "c1"};
  ASSERT_TRUE(Put({no_ts}).ok());
  EXPECT_TRUE(Put({no_ts}).ok());
  StatementSpec changed = spec;
  changed.course = "c2";
  EXPECT_EQ(Put({changed}).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->stats().statements_written, 2u);
}

// A group reads the stored copies of all its ids at once (one MultiGet) and
// its own earlier statements from what it has written so far: replays of
// stored statements, of the group's own, and conflicts come out as with a
// read per statement.
TEST_F(RecordStoreTest, GroupIdempotencyCheckSeesStoredAndOwnStatements) {
  auto first = Put({{.id = TestUuid(1), .course = "c1"}, {.id = TestUuid(2), .course = "c2"}});
  ASSERT_TRUE(first.ok()) << first.status();
  auto op = LoggedOp;
  std::vector<LoggedRecord> ops;  // one group
  // 1: a stored statement again (a replay), a new one, the new one again.
  ops.push_back(op(
      1,
      {{.id = TestUuid(1), .course = "c1"}, {.id = TestUuid(3), .course = "c3"}, {.id = TestUuid(3), .course = "c3"}}));
  // 2: a stored id with other content: a conflict.
  ops.push_back(op(2, {{.id = TestUuid(2), .course = "other"}}));
  // 3: 1's new statement with other content: a conflict with the group's own.
  ops.push_back(op(3, {{.id = TestUuid(3), .course = "other"}}));
  // 4: a new statement and a replay of a stored one.
  ops.push_back(op(4, {{.id = TestUuid(4), .course = "c4"}, {.id = TestUuid(2), .course = "c2"}}));
  ASSERT_TRUE(store_->ApplyLoggedRecords(&ops).ok());
  ASSERT_TRUE(ops[0].result.ok()) << ops[0].result.status();
  EXPECT_EQ((*ops[0].result)[0].record.stored_seq, (*first)[0].record.stored_seq);
  EXPECT_GT((*ops[0].result)[1].record.stored_seq, (*first)[1].record.stored_seq);
  EXPECT_EQ((*ops[0].result)[2].record.stored_seq, (*ops[0].result)[1].record.stored_seq);
  EXPECT_EQ(ops[1].result.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ops[2].result.status().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(ops[3].result.ok()) << ops[3].result.status();
  EXPECT_EQ((*ops[3].result)[1].record.stored_seq, (*first)[1].record.stored_seq);
  EXPECT_EQ(store_->stats().statements_written, 4u);  // 1, 2, then 3 and 4
  for (int id : {1, 2, 3, 4}) EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(id))).ok()) << id;
  // Through the queue: the same id twice in one batch is written once.
  auto twice = Put({{.id = TestUuid(5), .course = "c5"}, {.id = TestUuid(5), .course = "c5"}});
  ASSERT_TRUE(twice.ok()) << twice.status();
  EXPECT_EQ((*twice)[0].record.stored_seq, (*twice)[1].record.stored_seq);
  EXPECT_EQ(store_->stats().statements_written, 5u);
}

// Build ahead: the group built while the one before it is still in
// RocksDB's Write sees that group's statements, which the store does not
// hold yet: the same id with the same content is a replay answered with the
// first group's record (and only once that group's Write succeeded), other
// content is a conflict, and a voiding statement of the first group cannot
// be voided.
TEST_F(RecordStoreTest, GroupIdempotencyCheckSeesTheGroupStillBeingWritten) {
  WritePipelineGate gate;
  hooks_ = gate.Hooks();
  Reopen(false);
  ASSERT_TRUE(Put({{.id = TestUuid(1), .course = "c1"}}).ok());
  gate.Arm();
  absl::StatusOr<std::vector<StoredStatement>> first, replay, conflict, void_void;
  std::atomic<bool> replay_answered{false};
  // Group N: two new statements and a voiding one, its Write held.
  std::thread n([&] {
    first = Put({{.id = TestUuid(10), .course = "c10"},
                 {.id = TestUuid(11), .course = "c11"},
                 {.id = TestUuid(12), .verb = "voided", .course = TestUuid(1)}});
  });
  gate.AwaitHeld();
  const int built_before = gate.built();
  // Group N+1, built while N's Write is held: a replay of N's statement and
  // a new one; then, joining the same group, a conflict with N's other
  // statement and a voiding of N's voiding statement.
  std::thread a([&] {
    replay = Put({{.id = TestUuid(10), .course = "c10"}, {.id = TestUuid(13), .course = "c13"}});
    replay_answered = true;
  });
  gate.AwaitBuilt(built_before + 1);
  std::thread b([&] { conflict = Put({{.id = TestUuid(11), .course = "other"}}); });
  gate.AwaitBuilt(built_before + 2);
  std::thread c([&] { void_void = Put({{.id = TestUuid(14), .verb = "voided", .course = TestUuid(12)}}); });
  gate.AwaitBuilt(built_before + 3);
  // Built, not answered: N's Write has not returned.
  EXPECT_FALSE(replay_answered.load());
  gate.Release(absl::OkStatus());
  for (std::thread* t : {&n, &a, &b, &c}) t->join();

  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ((*replay)[0].record.stored_seq, (*first)[0].record.stored_seq);
  EXPECT_EQ((*replay)[0].record.json, (*first)[0].record.json);
  EXPECT_GT((*replay)[1].record.stored_seq, (*first)[2].record.stored_seq);
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(conflict.status().message().find("statement.id: " + TestUuid(11)), std::string::npos) << conflict.status();
  EXPECT_EQ(void_void.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(void_void.status().message().find("statement.object.id: " + TestUuid(12)), std::string::npos)
      << void_void.status();
  EXPECT_EQ(store_->stats().statements_written, 5u);  // 1, N's three, 13
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(1)))->record.Has(RecordFlag::kVoided));
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(14))).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FormatUuid(store_->Get(*ParseUuid(TestUuid(11)))->id), TestUuid(11));
  EXPECT_NE(store_->Get(*ParseUuid(TestUuid(11)))->record.json.find("c11"), std::string::npos);
}

// Build ahead: a group built while the Write before it runs is written by
// the store's write slot thread as soon as that Write returns, not by its own
// leader (no thread is woken between the two Writes); a group with nothing in
// flight is written by its leader. RocksDB's split of each Write (WAL and
// memtable inserts) is counted and lies within the Write's time.
TEST_F(RecordStoreTest, GroupBuiltAheadIsWrittenByTheWriteSlotThread) {
  absl::Mutex mu;
  std::vector<std::thread::id> write_threads;  // the thread of each Write, in order
  bool hold = true;
  int built = 0;
  hooks_.before_write = [&]() -> absl::Status {
    absl::MutexLock lock(&mu);
    write_threads.push_back(std::this_thread::get_id());
    if (write_threads.size() == 1)
      AwaitOrFail(
          &mu, [&] { return !hold; }, "the test to release the first Write");
    return absl::OkStatus();
  };
  hooks_.built = [&] {
    absl::MutexLock lock(&mu);
    ++built;
  };
  Reopen(false);
  const RecordStoreStats before = store_->stats();
  std::thread::id first_caller, second_caller;
  std::vector<StatementSpec> first_batch;
  for (int i = 0; i < 100; ++i) first_batch.push_back({.id = TestUuid(100 + i), .course = absl::StrCat("c", i)});
  std::thread n([&] {
    first_caller = std::this_thread::get_id();
    EXPECT_TRUE(Put(first_batch).ok());
  });
  {
    absl::MutexLock lock(&mu);
    AwaitOrFail(
        &mu, [&] { return !write_threads.empty(); }, "the first Write");
  }
  std::thread m([&] {
    second_caller = std::this_thread::get_id();
    EXPECT_TRUE(Put({{.id = TestUuid(1), .course = "c1"}}).ok());
  });
  {
    absl::MutexLock lock(&mu);
    AwaitOrFail(
        &mu, [&] { return built >= 2; }, "both groups built");
    hold = false;
  }
  n.join();
  m.join();
  ASSERT_EQ(write_threads.size(), 2u);
  EXPECT_EQ(write_threads[0], first_caller);   // nothing in flight: its own leader writes
  EXPECT_NE(write_threads[1], second_caller);  // built ahead: the write slot's thread
  EXPECT_NE(write_threads[1], first_caller);
  const RecordStoreStats after = store_->stats();
  EXPECT_EQ(after.statements_written - before.statements_written, 101u);
  const uint64_t wal = after.commit_wal_micros - before.commit_wal_micros;
  const uint64_t memtable = after.commit_memtable_micros - before.commit_memtable_micros;
  EXPECT_GT(wal, 0u);
  EXPECT_GT(memtable, 0u);
  EXPECT_LE(wal + memtable, after.commit_write_micros - before.commit_write_micros);
}

// When a group's Write fails, the group built ahead on its statements is not
// written: its writers get the same error (a replay of a statement that was
// never stored, a new statement, a conflict that is none), nothing of it is
// stored, and the store goes on.
TEST_F(RecordStoreTest, GroupBuiltAheadOfAFailedWriteIsNotWritten) {
  WritePipelineGate gate;
  hooks_ = gate.Hooks();
  Reopen(false);
  gate.Arm();
  absl::StatusOr<std::vector<StoredStatement>> first, second, third;
  std::thread n([&] { first = Put({{.id = TestUuid(1), .course = "c1"}, {.id = TestUuid(2), .course = "c2"}}); });
  gate.AwaitHeld();
  const int built_before = gate.built();
  std::thread a([&] { second = Put({{.id = TestUuid(1), .course = "c1"}, {.id = TestUuid(3), .course = "c3"}}); });
  gate.AwaitBuilt(built_before + 1);
  std::thread b([&] { third = Put({{.id = TestUuid(2), .course = "other"}}); });
  gate.AwaitBuilt(built_before + 2);
  gate.Release(absl::UnavailableError("commit statements: IO error: injected: disk gone"));
  for (std::thread* t : {&n, &a, &b}) t->join();
  for (auto* r : {&first, &second, &third}) {
    EXPECT_EQ(r->status().code(), absl::StatusCode::kUnavailable) << r->status();
    EXPECT_NE(r->status().message().find("injected: disk gone"), std::string::npos) << r->status();
  }
  for (int id : {1, 2, 3}) {
    EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(id))).status().code(), absl::StatusCode::kNotFound) << id;
  }
  EXPECT_EQ(store_->stats().statements_written, 0u);
  // Nothing was stored: the same statements are new, and the store writes.
  auto again = Put({{.id = TestUuid(1), .course = "c1"}, {.id = TestUuid(3), .course = "c3"}});
  ASSERT_TRUE(again.ok()) << again.status();
  auto other = Put({{.id = TestUuid(2), .course = "other"}});
  ASSERT_TRUE(other.ok()) << other.status();
  Reopen(false);
  for (int id : {1, 2, 3}) EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(id))).ok()) << id;
  EXPECT_NE(store_->Get(*ParseUuid(TestUuid(2)))->record.json.find("other"), std::string::npos);
}

// An erasure runs alone: it waits for the group whose Write is running and
// for the group built ahead of it, and erases what both wrote; a group
// queued after it is built and written after it.
TEST_F(RecordStoreTest, ErasureWaitsForGroupsInFlightAndRunsAlone) {
  WritePipelineGate gate;
  hooks_ = gate.Hooks();
  Reopen(false);
  gate.Arm();
  absl::StatusOr<std::vector<StoredStatement>> first, second, after;
  absl::StatusOr<int64_t> erased;
  std::thread n([&] { first = Put({{.id = TestUuid(1), .learner = "u1"}, {.id = TestUuid(2), .learner = "u2"}}); });
  gate.AwaitHeld();
  const int built_before = gate.built();
  std::thread a([&] { second = Put({{.id = TestUuid(3), .learner = "u1"}}); });
  gate.AwaitBuilt(built_before + 1);
  // Queued behind the group built ahead: waits for both groups' Writes.
  std::thread e([&] { erased = store_->EraseLearner("u1"); });
  // Not yet: the erasure leads only once the built group has left the
  // queue, i.e. once N's Write returned. Release it, then the erasure waits
  // for the built group's Write (held again) before it runs.
  gate.Arm();
  gate.Release(absl::OkStatus());
  gate.AwaitHeld();  // the built group's Write
  gate.AwaitEraseWaiting(1);
  std::thread z([&] { after = Put({{.id = TestUuid(4), .learner = "u1"}}); });
  gate.Release(absl::OkStatus());
  for (std::thread* t : {&n, &a, &e, &z}) t->join();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(erased.ok()) << erased.status();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*erased, 2);  // 1 and 3: both groups were written before it
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(1))).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(3))).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(2))).ok());
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(4))).ok());  // queued after the erasure
  EXPECT_EQ(*store_->CountLearnerIndexEntries("u1"), 1);
}

TEST_F(RecordStoreTest, BatchIsAllOrNothing) {
  ASSERT_TRUE(Put({{.id = TestUuid(1), .course = "c1"}}).ok());
  // The third statement conflicts: none of the batch may be stored.
  auto r = Put({{.id = TestUuid(2), .course = "c2"},
                {.id = TestUuid(3), .course = "c3"},
                {.id = TestUuid(1), .course = "other"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(2))).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(3))).status().code(), absl::StatusCode::kNotFound);
  StatementQuery q;
  q.learner = "u1";
  EXPECT_EQ(store_->List(q)->statements.size(), 1u);
}

TEST_F(RecordStoreTest, ListFiltersAndOrders) {
  ASSERT_TRUE(Put({{.id = TestUuid(1), .learner = "u1", .verb = "registered", .course = "c1"},
                   {.id = TestUuid(2), .learner = "u1", .verb = "completed", .course = "c1"},
                   {.id = TestUuid(3), .learner = "u2", .verb = "completed", .course = "c1"},
                   {.id = TestUuid(4), .learner = "u10", .verb = "completed", .course = "c2"}})
                  .ok());
  StatementQuery q;
  q.learner = "u1";
  EXPECT_EQ(Ids(*store_->List(q)), (std::vector<std::string>{TestUuid(2), TestUuid(1)}));
  q.ascending = true;
  EXPECT_EQ(Ids(*store_->List(q)), (std::vector<std::string>{TestUuid(1), TestUuid(2)}));
  q = {};
  q.verb = std::string(vocab::kCompleted);
  q.ascending = true;
  EXPECT_EQ(Ids(*store_->List(q)), (std::vector<std::string>{TestUuid(2), TestUuid(3), TestUuid(4)}));
  q.activity = vocab::CourseIri("c1");
  EXPECT_EQ(Ids(*store_->List(q)), (std::vector<std::string>{TestUuid(2), TestUuid(3)}));
  q = {};
  q.activity = vocab::CourseIri("c2");
  EXPECT_EQ(Ids(*store_->List(q)), (std::vector<std::string>{TestUuid(4)}));
  // since/until bound stored time.
  int64_t t2 = static_cast<int64_t>(store_->Get(*ParseUuid(TestUuid(2)))->record.stored_seq);
  q = {};
  q.since_us = t2;
  q.ascending = true;
  EXPECT_EQ(Ids(*store_->List(q)), (std::vector<std::string>{TestUuid(3), TestUuid(4)}));
  q = {};
  q.until_us = t2;
  q.ascending = true;
  EXPECT_EQ(Ids(*store_->List(q)), (std::vector<std::string>{TestUuid(1), TestUuid(2)}));
}

TEST_F(RecordStoreTest, RegistrationFilter) {
  std::string reg = "ec531277-b57b-4c15-8d91-d292c5b2b8f7";
  ASSERT_TRUE(Put({{.id = TestUuid(1), .registration = reg}, {.id = TestUuid(2)}}).ok());
  StatementQuery q;
  q.registration = *ParseUuid(reg);
  EXPECT_EQ(Ids(*store_->List(q)), (std::vector<std::string>{TestUuid(1)}));
}

TEST_F(RecordStoreTest, PaginationIsStableUnderConcurrentWrites) {
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(Put({{.id = TestUuid(i), .learner = "u1"}}).ok());
  StatementQuery q;
  q.learner = "u1";
  q.page_size = 10;
  std::vector<std::string> seen;
  for (int page = 0; page < 10; ++page) {
    auto p = store_->List(q);
    ASSERT_TRUE(p.ok()) << p.status();
    for (auto& id : Ids(*p)) seen.push_back(id);
    // New writes between pages must not shift or repeat entries.
    ASSERT_TRUE(Put({{.id = TestUuid(1000 + page), .learner = "u1"}}).ok());
    if (p->next_page_token.empty()) break;
    q.page_token = p->next_page_token;
  }
  std::vector<std::string> want;
  for (int i = 24; i >= 0; --i) want.push_back(TestUuid(i));
  EXPECT_EQ(seen, want);
}

// A page is bounded in bytes as well as statements: 1,000 of the largest
// statements would be 1 GiB built for one call. Every statement still comes
// back once, in order, over the pages; by the learner index (covering
// copies) and by the stored-order index (read by id), both directions.
TEST_F(RecordStoreTest, PagesOfLargeStatementsStopAtTheByteBudget) {
  const std::string big(700 << 10, 'x');  // 700 KiB titles: about 4 a 3 MiB page
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(Put({{.id = TestUuid(i), .learner = i % 3 == 0 ? "u2" : "u1", .title = big}}).ok());
  }
  for (int i = 12; i < 15; ++i) ASSERT_TRUE(Put({{.id = TestUuid(i), .learner = "u1"}}).ok());
  for (const std::string& learner : {std::string("u1"), std::string()}) {
    for (bool ascending : {false, true}) {
      StatementQuery q;
      q.learner = learner;
      q.ascending = ascending;
      q.page_size = 1000;
      std::vector<std::string> seen;
      int pages = 0;
      while (pages < 20) {
        absl::StatusOr<StatementPage> p = store_->List(q);
        ++pages;
        ASSERT_TRUE(p.ok()) << p.status();
        size_t bytes = 0;
        for (const StoredStatement& st : p->statements) bytes += st.record.json.size();
        EXPECT_TRUE(p->statements.size() == 1 || bytes <= kMaxPageJsonBytes) << bytes << " bytes of JSON";
        for (auto& id : Ids(*p)) seen.push_back(id);
        if (p->next_page_token.empty()) break;
        q.page_token = p->next_page_token;
      }
      std::vector<std::string> want;
      for (int i = 0; i < 15; ++i) {
        if (learner.empty() || i >= 12 || i % 3 != 0) want.push_back(TestUuid(i));
      }
      if (!ascending) std::reverse(want.begin(), want.end());
      EXPECT_EQ(seen, want) << "learner '" << learner << "' ascending " << ascending;
      EXPECT_GE(pages, learner.empty() ? 3 : 2) << "the budget split the statements over pages";
    }
  }
  // Without the budget, one page.
  StatementQuery all;
  all.page_size = 1000;
  all.max_page_json_bytes = 0;
  absl::StatusOr<StatementPage> one = store_->List(all);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->statements.size(), 15u);
  EXPECT_TRUE(one->next_page_token.empty());
}

// A page without the JSON (the BASIC view: the recommender's history reads)
// keeps none of the statements' bytes, however large they are, and the byte
// budget does not split it; the filters still see the JSON.
TEST_F(RecordStoreTest, PageWithoutJsonHoldsNoneOfTheStatementsBytes) {
  const std::string big(kMaxStatementBytes / 2, 'x');
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(Put({{.id = TestUuid(i), .learner = "u1", .course = absl::StrCat("c", i), .title = big}}).ok());
  }
  StatementQuery q;
  q.learner = "u1";
  q.page_size = 1000;
  q.with_json = false;
  q.extra_filter = [](const StatementRecord& r) { return r.json.find("xxxx") != std::string::npos; };
  q.extra_filter_id = "has-title";
  absl::StatusOr<StatementPage> page = store_->List(q);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->statements.size(), 12u);
  EXPECT_TRUE(page->next_page_token.empty());
  for (const StoredStatement& st : page->statements) {
    EXPECT_TRUE(st.record.json.empty());
    EXPECT_EQ(st.record.json.capacity(), std::string().capacity()) << "the JSON's buffer is kept";
    EXPECT_FALSE(st.record.activity.empty());
  }
}

TEST_F(RecordStoreTest, PageTokenBoundToFilters) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Put({{.id = TestUuid(i), .learner = "u1"}}).ok());
  StatementQuery q;
  q.learner = "u1";
  q.page_size = 2;
  std::string token = store_->List(q)->next_page_token;
  ASSERT_FALSE(token.empty());
  q.learner = "u2";
  q.page_token = token;
  EXPECT_EQ(store_->List(q).status().code(), absl::StatusCode::kInvalidArgument);
  q.learner = "u1";
  q.page_token = "garbage";
  EXPECT_EQ(store_->List(q).status().code(), absl::StatusCode::kInvalidArgument);
  q.page_token = "";
  q.page_size = 1001;
  EXPECT_EQ(store_->List(q).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RecordStoreTest, VoidingHidesTargetButGetStillReturnsIt) {
  ASSERT_TRUE(Put({{.id = TestUuid(1), .learner = "u1"}}).ok());
  ASSERT_TRUE(Put({{.id = TestUuid(2), .learner = "u1", .verb = "voided", .course = TestUuid(1)}}).ok());
  StatementQuery q;
  q.learner = "u1";
  EXPECT_EQ(Ids(*store_->List(q)), (std::vector<std::string>{TestUuid(2)}));
  auto got = store_->Get(*ParseUuid(TestUuid(1)));
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->record.Has(RecordFlag::kVoided));
  EXPECT_EQ(FormatUuid(got->record.voided_by), TestUuid(2));
  // The learner's full export (the covering learner index) shows the flag too.
  bool seen_voided = false;
  ASSERT_TRUE(store_
                  ->ForEachOfLearner("u1",
                                     [&](const StoredStatement& s) {
                                       if (FormatUuid(s.id) == TestUuid(1))
                                         seen_voided = s.record.Has(RecordFlag::kVoided);
                                       return true;
                                     })
                  .ok());
  EXPECT_TRUE(seen_voided);
  // A voiding statement cannot be voided.
  EXPECT_EQ(Put({{.id = TestUuid(3), .verb = "voided", .course = TestUuid(2)}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Voiding inside the same batch as the target works too.
  ASSERT_TRUE(Put({{.id = TestUuid(4), .learner = "u1"},
                   {.id = TestUuid(5), .learner = "u1", .verb = "voided", .course = TestUuid(4)}})
                  .ok());
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(4)))->record.Has(RecordFlag::kVoided));
}

// xAPI "filter conditions for StatementRefs": statements referring to a
// statement that matches the filters come back too, even when it is voided.
TEST_F(RecordStoreTest, ReferenceQueriesReturnStatementsReferringToMatches) {
  ASSERT_TRUE(Put({{.id = TestUuid(1), .learner = "u1", .verb = "completed", .course = "c1"}}).ok());
  ASSERT_TRUE(Put({{.id = TestUuid(2), .learner = "u9", .verb = "voided", .course = TestUuid(1)}}).ok());
  ASSERT_TRUE(PutRef(TestUuid(3), "u2", TestUuid(1)).ok());
  ASSERT_TRUE(Put({{.id = TestUuid(4), .learner = "u3", .verb = "passed", .course = "c2"}}).ok());
  ASSERT_TRUE(PutRef(TestUuid(5), "u4", TestUuid(3)).ok());  // a chain: 5 -> 3 -> 1

  StatementQuery verb{.verb = std::string(vocab::kCompleted)};
  EXPECT_TRUE(ListAll(verb).empty()) << "plain queries ignore references";
  verb.include_references = true;
  std::vector<std::string> expected = {TestUuid(5), TestUuid(3), TestUuid(2)};
  EXPECT_EQ(ListAll(verb), expected);
  StatementQuery activity{.activity = vocab::CourseIri("c1"), .include_references = true};
  EXPECT_EQ(ListAll(activity), expected);
  StatementQuery learner{.learner = "u1", .include_references = true};
  EXPECT_EQ(ListAll(learner), expected);
  learner.ascending = true;
  EXPECT_EQ(ListAll(learner), (std::vector<std::string>{TestUuid(2), TestUuid(3), TestUuid(5)}));
  // Time filters apply to the returned statements, not to the target.
  StatementQuery since = verb;
  since.since_us = store_->Get(*ParseUuid(TestUuid(2)))->record.stored_seq;
  EXPECT_EQ(ListAll(since), (std::vector<std::string>{TestUuid(5), TestUuid(3)}));
  // A learner's own history holds only their statements.
  std::vector<std::string> own;
  ASSERT_TRUE(store_
                  ->ForEachOfLearner("u1",
                                     [&](const StoredStatement& s) {
                                       own.push_back(FormatUuid(s.id));
                                       return true;
                                     })
                  .ok());
  EXPECT_EQ(own, (std::vector<std::string>{TestUuid(1)}));
  // A statement matching both itself and through its target is listed once.
  ASSERT_TRUE(Put({{.id = TestUuid(6), .learner = "u5", .verb = "completed", .course = "c1"}}).ok());
  ASSERT_TRUE(PutRef(TestUuid(7), "u5", TestUuid(6)).ok());
  StatementQuery u5{.learner = "u5", .include_references = true};
  EXPECT_EQ(ListAll(u5), (std::vector<std::string>{TestUuid(7), TestUuid(6)}));
}

TEST_F(RecordStoreTest, ReferenceToLaterTargetIsFiledWhenTargetArrives) {
  ASSERT_TRUE(PutRef(TestUuid(1), "u2", TestUuid(2)).ok());  // target not stored yet
  ASSERT_TRUE(Put({{.id = TestUuid(2), .learner = "u1", .verb = "completed", .course = "c9"}}).ok());
  StatementQuery q{.activity = vocab::CourseIri("c9"), .include_references = true};
  EXPECT_EQ(ListAll(q), (std::vector<std::string>{TestUuid(2), TestUuid(1)}));
  Reopen(false);
  EXPECT_EQ(ListAll(q), (std::vector<std::string>{TestUuid(2), TestUuid(1)}));
}

TEST_F(RecordStoreTest, EraseRemovesReferenceEntriesBothWays) {
  ASSERT_TRUE(Put({{.id = TestUuid(1), .learner = "u1", .verb = "completed", .course = "c1"}}).ok());
  ASSERT_TRUE(PutRef(TestUuid(2), "u2", TestUuid(1)).ok());  // u2 refers to u1's statement
  ASSERT_TRUE(PutRef(TestUuid(3), "u1", TestUuid(2)).ok());  // u1 refers to u2's statement
  // Own 1 and 3; references 2 (-> 1) and 3 (-> 2 -> 1).
  EXPECT_EQ(*store_->CountLearnerIndexEntries("u1"), 4);
  ASSERT_EQ(*store_->EraseLearner("u1"), 2);
  EXPECT_EQ(*store_->CountLearnerIndexEntries("u1"), 0);
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(2))).ok()) << "another learner's statement stays";
  StatementQuery c1{.activity = vocab::CourseIri("c1"), .include_references = true};
  EXPECT_TRUE(ListAll(c1).empty()) << "nothing is filed under the erased statement's keys";
  StatementQuery u2{.learner = "u2", .include_references = true};
  EXPECT_EQ(ListAll(u2), (std::vector<std::string>{TestUuid(2)}));
  // The referrer list of u2's statement no longer names u1's: a new statement
  // by u1 with that id is not filed under u2's keys.
  ASSERT_EQ(*store_->EraseLearner("u2"), 1);
  StatementQuery all;
  EXPECT_TRUE(ListAll(all).empty());
}

// Every key and value of the closed store's `family` (key_codec.h).
std::map<std::string, std::string> FamilyOf(const std::string& path, Cf family) {
  RecordStoreRocksConfig config = MakeRecordStoreRocksConfig(8 << 20);
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(config.db, path, config.families, &handles, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::map<std::string, std::string> out;
  if (!s.ok()) return out;
  std::unique_ptr<rocksdb::DB> db(raw);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[static_cast<int>(family)]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) out[it->key().ToString()] = it->value().ToString();
  EXPECT_TRUE(it->status().ok());
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  return out;
}

std::map<std::string, std::string> ByTargetOf(const std::string& path) { return FamilyOf(path, Cf::kByTarget); }

// Runs `fn` on the closed store at `path`, opened read-write with every
// column family of this release (handles indexed by Cf).
void WithClosedStore(const std::string& path,
                     const std::function<void(rocksdb::DB*, const std::vector<rocksdb::ColumnFamilyHandle*>&)>& fn) {
  RecordStoreRocksConfig config = MakeRecordStoreRocksConfig(8 << 20);
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::Open(config.db, path, config.families, &handles, &raw);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<rocksdb::DB> db(raw);
  fn(db.get(), handles);
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
}

// Applies `edits` (a value puts, none deletes) to the closed store's family.
void EditClosedStore(const std::string& path, Cf family,
                     const std::vector<std::pair<std::string, std::optional<std::string>>>& edits) {
  WithClosedStore(path, [&](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
    rocksdb::WriteBatch batch;
    for (const auto& [key, value] : edits) {
      if (value) {
        batch.Put(handles[static_cast<int>(family)], key, *value);
      } else {
        batch.Delete(handles[static_cast<int>(family)], key);
      }
    }
    ASSERT_TRUE(db->Write(rocksdb::WriteOptions(), &batch).ok());
  });
}

// The schema version stored in the open store's meta family
// (kMetaSchemaVersion): its raw bytes, a big-endian u32; "" when none is
// stored. The errors of ForEachMeta.
absl::StatusOr<std::string> SchemaVersion(const RecordStore& store) {
  std::string version;
  absl::Status s = store.ForEachMeta(kMetaSchemaVersion, [&](absl::string_view, absl::string_view value) {
    version = std::string(value);
    return false;
  });
  if (!s.ok()) return s;
  return version;
}

// Each reference to a statement is one small key (schema 2), not a rewrite
// of one growing list: 3,000 references to one statement leave an empty
// marker and 3,000 keys of 32 bytes. (Before, the list was rewritten whole
// on each: 25,000 references took 99 s to write.)
TEST_F(RecordStoreTest, EachReferenceToAStatementIsOneSmallKey) {
  ASSERT_TRUE(Put({{.id = TestUuid(1), .learner = "u1", .verb = "completed", .course = "c1"}}).ok());
  ASSERT_NO_FATAL_FAILURE(PlantReferences("u2", TestUuid(1), 3, 1000));
  store_.reset();
  std::map<std::string, std::string> by_target = ByTargetOf(dir_);
  const std::string marker = EncodeTargetKey(*ParseUuid(TestUuid(1)));
  ASSERT_EQ(by_target.size(), 3001u);
  EXPECT_EQ(by_target.at(marker), "") << "the marker holds no list";
  for (const auto& [key, value] : by_target) {
    if (key == marker) continue;
    EXPECT_EQ(key.size(), 32u);
    EXPECT_EQ(key.substr(0, 16), marker);
    EXPECT_TRUE(value.empty());
  }
  Reopen(false);
  StatementQuery q{.learner = "u1", .page_size = 1000, .include_references = true};
  absl::StatusOr<StatementPage> page = store_->List(q);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->statements.size(), 1000u);
  // Erasing the referring learner removes every key, the marker with the last.
  ASSERT_EQ(*store_->EraseLearner("u2"), 3000);
  store_.reset();
  EXPECT_TRUE(ByTargetOf(dir_).empty());
  Reopen(false);
}

// A store written by schema 1 (a target's referrers as one listed value, no
// per-referrer keys) is read as it is, marked schema 2, and its lists keep
// working for filing, new references and erasure. A store marked with a newer
// schema is refused.
TEST_F(RecordStoreTest, SchemaOneReferrerListsAreReadAndANewerSchemaIsRefused) {
  // u2's 1 and 2 refer to 9, which is not stored yet.
  ASSERT_TRUE(PutRef(TestUuid(1), "u2", TestUuid(9)).ok());
  ASSERT_TRUE(PutRef(TestUuid(2), "u2", TestUuid(9)).ok());
  store_.reset();
  // Rewrite what schema 2 wrote as schema 1 would have: one list, no keys.
  const Uuid target = *ParseUuid(TestUuid(9));
  const Uuid r1 = *ParseUuid(TestUuid(1)), r2 = *ParseUuid(TestUuid(2));
  std::string version1;
  PutU32(&version1, 1);
  EditClosedStore(dir_, Cf::kByTarget,
                  {{EncodeReferrerKey(target, r1), std::nullopt},
                   {EncodeReferrerKey(target, r2), std::nullopt},
                   {EncodeTargetKey(target), EncodeTargetKey(r1) + EncodeTargetKey(r2)}});
  EditClosedStore(dir_, Cf::kMeta, {{kMetaSchemaVersion, version1}});
  ASSERT_EQ(ByTargetOf(dir_).size(), 1u);

  Reopen(false);
  // The target arrives: both listed referrers are filed under its keys.
  ASSERT_TRUE(Put({{.id = TestUuid(9), .learner = "u1", .verb = "completed", .course = "c9"}}).ok());
  StatementQuery c9{.activity = vocab::CourseIri("c9"), .include_references = true};
  EXPECT_EQ(ListAll(c9), (std::vector<std::string>{TestUuid(9), TestUuid(2), TestUuid(1)}));
  // A new reference is a key of its own next to the list.
  ASSERT_TRUE(PutRef(TestUuid(3), "u3", TestUuid(9)).ok());
  EXPECT_EQ(ListAll(c9), (std::vector<std::string>{TestUuid(3), TestUuid(9), TestUuid(2), TestUuid(1)}));
  // Erasing u2 takes 1 and 2 out of the list; the list is rewritten without
  // them and u3's key stays.
  ASSERT_EQ(*store_->EraseLearner("u2"), 2);
  EXPECT_EQ(ListAll(c9), (std::vector<std::string>{TestUuid(3), TestUuid(9)}));
  store_.reset();
  std::map<std::string, std::string> by_target = ByTargetOf(dir_);
  EXPECT_EQ(by_target.size(), 2u);
  EXPECT_EQ(by_target[EncodeTargetKey(target)], "");
  EXPECT_EQ(by_target.count(EncodeReferrerKey(target, *ParseUuid(TestUuid(3)))), 1u);

  // Opening marked the store current (schema 2 and after).
  Reopen(false);
  absl::StatusOr<std::string> version = SchemaVersion(*store_);
  ASSERT_TRUE(version.ok()) << version.status();
  std::string current;
  PutU32(&current, kSchemaVersion);
  EXPECT_EQ(*version, current);

  // A newer schema: refused, naming the versions.
  store_.reset();
  std::string newer_version;
  PutU32(&newer_version, kSchemaVersion + 1);
  EditClosedStore(dir_, Cf::kMeta, {{kMetaSchemaVersion, newer_version}});
  RecordStoreOptions options;
  absl::StatusOr<std::unique_ptr<RecordStore>> newer = RecordStore::Open(dir_, options);
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition) << newer.status();
  EXPECT_NE(newer.status().message().find(absl::StrCat("schema version ", kSchemaVersion + 1)), std::string::npos)
      << newer.status();
  EditClosedStore(dir_, Cf::kMeta, {{kMetaSchemaVersion, current}});
  Reopen(false);
}

TEST_F(RecordStoreTest, EraseRemovesEveryStatementAndIndexEntry) {
  std::string reg = "ec531277-b57b-4c15-8d91-d292c5b2b8f7";
  ASSERT_TRUE(Put({{.id = TestUuid(1), .learner = "u1", .course = "c1", .registration = reg},
                   {.id = TestUuid(2), .learner = "u1", .verb = "attended", .course = "c2"},
                   {.id = TestUuid(3), .learner = "u2", .course = "c1"}})
                  .ok());
  absl::StatusOr<int64_t> n = store_->EraseLearner("u1");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(1))).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*store_->CountLearnerIndexEntries("u1"), 0);
  // No index of any kind still points at u1's statements.
  for (auto q :
       {StatementQuery{.activity = vocab::CourseIri("c1")}, StatementQuery{.verb = std::string(vocab::kAttended)},
        StatementQuery{.registration = *ParseUuid(reg)}, StatementQuery{}}) {
    auto page = store_->List(q);
    ASSERT_TRUE(page.ok());
    for (auto& id : Ids(*page)) EXPECT_EQ(id, TestUuid(3));
  }
  int exported = 0;
  ASSERT_TRUE(store_->ForEachAfter(0, 0, [&](const StoredStatement&) { return ++exported, true; }).ok());
  EXPECT_EQ(exported, 1);
  EXPECT_EQ(*store_->EraseLearner("u1"), 0);
  // Survives reopen.
  Reopen(false);
  EXPECT_EQ(*store_->CountLearnerIndexEntries("u1"), 0);
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(3))).ok());
}

// A purge held on its thread (the before_purge hook blocks until released).
class PurgeGate {
 public:
  std::function<absl::Status()> Hook() {
    return [this]() -> absl::Status {
      absl::MutexLock lock(&mu_);
      ++started_;
      AwaitOrFail(&mu_, &released_, "the test to release the held purge");
      return absl::OkStatus();
    };
  }
  void AwaitStarted() {
    absl::MutexLock lock(&mu_);
    AwaitOrFail(
        &mu_, [this] { return started_ > 0; }, "the purge to start");
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }

 private:
  absl::Mutex mu_;
  int started_ = 0;
  bool released_ = false;
};

// An erasure answers once the statements are gone from every read; their
// purge from the store's files runs on its own thread, and neither the
// answer nor later writes wait for it. WaitForPurge waits for it, and then
// no file holds the erased values.
TEST_F(RecordStoreTest, ErasureAnswersBeforeItsPurgeWhichFollowsInTheBackground) {
  auto gate = std::make_shared<PurgeGate>();
  hooks_.before_purge = gate->Hook();
  Reopen(false);
  const std::string marker = "擦除标记-u1-secret-5c1d";
  PutMarkedStatements(marker);
  ASSERT_TRUE(lifelong::testing::AnyFileContains(dir_, marker));
  absl::StatusOr<int64_t> erased = store_->EraseLearner("u1");  // answered while the purge is held
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(*erased, 1);
  gate->AwaitStarted();
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(1))).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*store_->CountLearnerIndexEntries("u1"), 0);
  EXPECT_EQ(store_->GetErasureEpoch()->epoch, 1u);
  RecordStore::PurgeStatus held = store_->GetPurgeStatus();
  EXPECT_TRUE(held.pending);
  EXPECT_GT(held.pending_since_us, 0);
  absl::StatusOr<std::string> pending = store_->GetMeta(kMetaPurgePending);
  ASSERT_TRUE(pending.ok()) << "kept until purged, for a restart";
  EXPECT_EQ(pending->find("u1"), std::string::npos) << "names the learner: " << *pending;
  EXPECT_TRUE(lifelong::testing::AnyFileContains(dir_, marker)) << "(the purge is held)";
  // Writes go on meanwhile.
  ASSERT_TRUE(Put({{.id = TestUuid(3), .learner = "u2", .course = "c2"}}).ok());
  EXPECT_EQ(store_->WaitForPurge(absl::Now() + absl::Milliseconds(50)).code(), absl::StatusCode::kDeadlineExceeded);
  gate->Release();
  absl::Status purged = store_->WaitForPurge();
  ASSERT_TRUE(purged.ok()) << purged;
  EXPECT_FALSE(lifelong::testing::AnyFileContains(dir_, marker))
      << "the erased statement is still in the store's files";
  RecordStore::PurgeStatus done = store_->GetPurgeStatus();
  EXPECT_FALSE(done.pending);
  EXPECT_EQ(done.pending_since_us, 0);
  EXPECT_EQ(done.completed, 1u);
  EXPECT_EQ(store_->GetMeta(kMetaPurgePending).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(2))).ok());
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(3))).ok());
}

// A purge that fails (a full disk during the flush or compaction) does not
// undo the erasure: the learner's statements are gone and the epoch that
// retires models is bumped. WaitForPurge reports the failure; the purge is
// kept and tried again after purge_retry_delay, after which no file holds the
// erased values.
TEST_F(RecordStoreTest, AFailedPurgeIsTriedAgain) {
  auto purge_failures = std::make_shared<std::atomic<int>>(1);
  auto purges = std::make_shared<std::atomic<int>>(0);
  hooks_.before_purge = [purge_failures, purges]() -> absl::Status {
    purges->fetch_add(1);
    if (purge_failures->fetch_sub(1) > 0) return absl::UnavailableError("no space left on device");
    return absl::OkStatus();
  };
  purge_retry_delay_ = absl::Milliseconds(300);
  Reopen(false);
  const std::string marker = "擦除标记-u1-secret-7f3a";
  PutMarkedStatements(marker);
  absl::StatusOr<int64_t> erased = store_->EraseLearner("u1");
  ASSERT_TRUE(erased.ok()) << erased.status();
  absl::Status first = store_->WaitForPurge();
  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(first.message().find("no space left on device"), absl::string_view::npos) << first;
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(1))).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetErasureEpoch()->epoch, 1u) << "the epoch goes with the erasure, not after its purge";
  RecordStore::PurgeStatus failed = store_->GetPurgeStatus();
  EXPECT_TRUE(failed.pending);
  EXPECT_EQ(failed.failed, 1u);
  EXPECT_EQ(failed.last_error, "no space left on device");
  EXPECT_TRUE(store_->GetMeta(kMetaPurgePending).ok()) << "the failed purge is kept";
  // Tried again by itself.
  for (int i = 0; i < 200 && store_->GetPurgeStatus().pending; ++i) absl::SleepFor(absl::Milliseconds(50));
  RecordStore::PurgeStatus retried = store_->GetPurgeStatus();
  EXPECT_FALSE(retried.pending);
  EXPECT_EQ(retried.completed, 1u);
  EXPECT_EQ(retried.last_error, "");
  EXPECT_EQ(purges->load(), 2);
  EXPECT_TRUE(store_->WaitForPurge().ok());
  EXPECT_EQ(store_->GetMeta(kMetaPurgePending).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(lifelong::testing::AnyFileContains(dir_, marker))
      << "the erased statement is still in the store's files";
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(2))).ok());
}

// After a failed purge, the next erasure's purge does not wait out the retry
// delay; and the age of what is pending is that of the oldest erasure not
// yet purged, not of one purged since.
TEST_F(RecordStoreTest, ANewErasureIsPurgedAtOnceAndPendingAgeFollowsTheOldest) {
  auto fail_first = std::make_shared<std::atomic<bool>>(true);
  auto retry = std::make_shared<PurgeGate>();
  hooks_.before_purge = [fail_first, retry]() -> absl::Status {
    if (fail_first->exchange(false)) return absl::UnavailableError("no space left on device");
    return retry->Hook()();
  };
  purge_retry_delay_ = absl::Hours(1);
  Reopen(false);
  ASSERT_TRUE(Put({{.id = TestUuid(1), .learner = "u1"}, {.id = TestUuid(2), .learner = "u2"}}).ok());
  ASSERT_TRUE(store_->EraseLearner("u1").ok());
  EXPECT_FALSE(store_->WaitForPurge().ok());
  const int64_t first = store_->GetPurgeStatus().pending_since_us;
  EXPECT_GT(first, 0);
  ASSERT_TRUE(store_->EraseLearner("u2").ok());
  retry->AwaitStarted();  // at once, not after the hour
  EXPECT_EQ(store_->GetPurgeStatus().pending_since_us, first) << "the oldest erasure not yet purged";
  retry->Release();
  absl::Status purged = store_->WaitForPurge(absl::Now() + absl::Seconds(30));
  EXPECT_TRUE(purged.ok()) << purged << " (waited for the retry delay?)";
  EXPECT_FALSE(store_->GetPurgeStatus().pending);
  EXPECT_EQ(store_->GetPurgeStatus().pending_since_us, 0);

  // Two purges in a row: while the second erasure waits behind the first
  // one's purge, the age is the first's; once that purge is done, the
  // second's.
  auto gate1 = std::make_shared<PurgeGate>(), gate2 = std::make_shared<PurgeGate>();
  auto calls = std::make_shared<std::atomic<int>>(0);
  hooks_.before_purge = [gate1, gate2, calls]() -> absl::Status {
    return calls->fetch_add(1) == 0 ? gate1->Hook()() : gate2->Hook()();
  };
  Reopen(false);
  ASSERT_TRUE(Put({{.id = TestUuid(3), .learner = "u3"}, {.id = TestUuid(4), .learner = "u4"}}).ok());
  ASSERT_TRUE(store_->EraseLearner("u3").ok());
  gate1->AwaitStarted();
  const int64_t third = store_->GetPurgeStatus().pending_since_us;
  ASSERT_TRUE(store_->EraseLearner("u4").ok());
  EXPECT_EQ(store_->GetPurgeStatus().pending_since_us, third);
  gate1->Release();
  gate2->AwaitStarted();
  const int64_t fourth = store_->GetPurgeStatus().pending_since_us;
  EXPECT_GT(fourth, third) << "still the age of an erasure already purged";
  gate2->Release();
  EXPECT_TRUE(store_->WaitForPurge().ok());
  EXPECT_EQ(store_->GetPurgeStatus().completed, 2u);
}

// A pending record that cannot be read purges every family at Open rather
// than refusing to open the store.
TEST_F(RecordStoreTest, AnUnreadablePendingPurgePurgesEveryFamilyAtOpen) {
  const std::string marker = "擦除标记-u1-secret-c0de";
  PutMarkedStatements(marker);
  hooks_.before_purge = [] { return absl::UnavailableError("no space left on device"); };
  purge_retry_delay_ = absl::Hours(1);
  Reopen(false);
  ASSERT_TRUE(store_->EraseLearner("u1").ok());
  EXPECT_FALSE(store_->WaitForPurge().ok());
  // The record names no family that can be read.
  ASSERT_TRUE(store_->WriteMeta({{kMetaPurgePending, std::string("families=x")}}).ok());
  hooks_.before_purge = nullptr;
  Reopen(false);
  ASSERT_TRUE(store_->WaitForPurge().ok());
  EXPECT_EQ(store_->GetPurgeStatus().completed, 1u);
  EXPECT_EQ(store_->GetMeta(kMetaPurgePending).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(lifelong::testing::AnyFileContains(dir_, marker));
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(2))).ok());
}

// A pending purge written by the release before 2026-12-05 (key ranges,
// after a failed purge) is read as its families, purged whole at Open.
TEST_F(RecordStoreTest, APendingPurgeOfTheEarlierFormatRunsAtOpen) {
  const std::string marker = "擦除标记-u1-secret-0a4e";
  ASSERT_TRUE(Put({{.id = TestUuid(1), .learner = "u1", .course = "c1", .title = marker}}).ok());
  ASSERT_TRUE(store_->WaitForBackgroundWork().ok());
  // Erased with the purge failing for good, then the pending record
  // replaced by the earlier format's: a key range in each family that
  // holds the statement (not the erased keys' ranges: the families are
  // purged whole anyway).
  hooks_.before_purge = [] { return absl::UnavailableError("no space left on device"); };
  purge_retry_delay_ = absl::Hours(1);
  Reopen(false);
  ASSERT_TRUE(store_->EraseLearner("u1").ok());
  EXPECT_FALSE(store_->WaitForPurge().ok());
  std::string old;
  auto put_bytes = [&old](const std::string& b) {
    PutU64(&old, b.size());
    old += b;
  };
  for (const ColumnFamilySpec& family : kColumnFamilies) {
    PutU64(&old, static_cast<uint64_t>(family.id));
    put_bytes(std::string(16, '\x01'));
    put_bytes(std::string(16, '\x02'));
  }
  ASSERT_TRUE(store_->WriteMeta({{kMetaPurgePending, old}}).ok());
  hooks_.before_purge = nullptr;
  Reopen(false);
  ASSERT_TRUE(store_->WaitForPurge().ok());
  EXPECT_EQ(store_->GetMeta(kMetaPurgePending).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(lifelong::testing::AnyFileContains(dir_, marker));
}

// A purge cut by a stop (or a crash) runs when the store opens again.
TEST_F(RecordStoreTest, APurgeCutByAStopRunsAtTheNextOpen) {
  hooks_.before_purge = [] { return absl::UnavailableError("no space left on device"); };
  purge_retry_delay_ = absl::Hours(1);
  Reopen(false);
  const std::string marker = "擦除标记-u1-secret-91be";
  PutMarkedStatements(marker);
  ASSERT_TRUE(store_->EraseLearner("u1").ok());
  EXPECT_FALSE(store_->WaitForPurge().ok());
  const int64_t since = store_->GetPurgeStatus().pending_since_us;
  EXPECT_GT(since, 0);
  auto gate = std::make_shared<PurgeGate>();
  hooks_.before_purge = gate->Hook();
  Reopen(false);
  gate->AwaitStarted();
  EXPECT_EQ(store_->GetPurgeStatus().pending_since_us, since) << "the erasure's own time, not the restart's";
  gate->Release();
  absl::Status purged = store_->WaitForPurge();
  ASSERT_TRUE(purged.ok()) << purged;
  EXPECT_EQ(store_->GetPurgeStatus().completed, 1u);
  EXPECT_EQ(store_->GetMeta(kMetaPurgePending).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(lifelong::testing::AnyFileContains(dir_, marker));
  // An erasure that found nothing purges too (the learner's kiosk pass or
  // card may have been there), and finds nothing to delete.
  absl::StatusOr<int64_t> again = store_->EraseLearner("u1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, 0);
  EXPECT_TRUE(store_->WaitForPurge().ok());
  EXPECT_EQ(store_->GetPurgeStatus().completed, 2u);
  EXPECT_EQ(store_->GetErasureEpoch()->epoch, 1u) << "an erasure that found nothing retires no model";
}

// Anyone who knows a statement's id can file StatementRefs to it, and each is
// entered in the learner index of every learner of the target. More of them
// than a page's scan budget (20,000 entries on a server; 200 here, so that
// the test is quick) must not hide the victim's own statements from their
// first page: reference entries passed over are counted apart.
TEST_F(RecordStoreTest, PlantedReferencesBeyondTheScanBudgetDoNotEmptyTheVictimsFirstPage) {
  max_scanned_per_page_ = 200;
  Reopen(false);
  ASSERT_TRUE(Put({{.id = TestUuid(1), .learner = "u2"}, {.id = TestUuid(2), .learner = "u2"}}).ok());
  ASSERT_NO_FATAL_FAILURE(PlantReferences("u1", TestUuid(1), 5, 100));
  StatementQuery q;
  q.learner = "u2";
  q.page_size = 10;
  absl::StatusOr<StatementPage> page = store_->List(q);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Ids(*page), (std::vector<std::string>{TestUuid(2), TestUuid(1)}));
  EXPECT_TRUE(page->next_page_token.empty());
  // With references asked for, they are there (a page of them).
  q.include_references = true;
  EXPECT_EQ(store_->List(q)->statements.size(), 10u);
}

// Erasing one learner never deletes a statement another learner also owns:
// the erased learner leaves it (index entry and identifier gone), the others
// keep it, with their covering copies rewritten.
TEST_F(RecordStoreTest, EraseLeavesSharedStatementsToTheOtherLearners) {
  ASSERT_TRUE(Put({{.id = TestUuid(1), .learner = "u1", .verb = "passed", .course = "c1", .group = {"u2", "u3"}},
                   {.id = TestUuid(2), .learner = "", .verb = "completed", .course = "c2", .group = {"u1", "u3"}},
                   {.id = TestUuid(3), .learner = "u3", .verb = "completed", .course = "c3"}})
                  .ok());
  ASSERT_TRUE(PutRef(TestUuid(4), "u5", TestUuid(2)).ok());  // u5 refers to the shared statement
  EXPECT_EQ(*store_->CountLearnerIndexEntries("u3"), 4);     // own 1, 2, 3; reference 4
  ASSERT_EQ(*store_->EraseLearner("u3"), 3);
  EXPECT_EQ(*store_->CountLearnerIndexEntries("u3"), 0);
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(3))).status().code(), absl::StatusCode::kNotFound);
  for (int n : {1, 2}) {
    absl::StatusOr<StoredStatement> s = store_->Get(*ParseUuid(TestUuid(n)));
    ASSERT_TRUE(s.ok()) << n;
    EXPECT_EQ(s->record.json.find("\"u3\""), std::string::npos) << s->record.json;
    EXPECT_TRUE(ParseStatement(s->record.json).ok()) << s->record.json;
    EXPECT_EQ(std::find(s->record.learners.begin(), s->record.learners.end(), "u3"), s->record.learners.end());
  }
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(1)))->record.learners, (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(2)))->record.learners, (std::vector<std::string>{"u1"}));
  // The other learners still list them, from the rewritten covering copies.
  EXPECT_EQ(ListAll({.learner = "u1"}), (std::vector<std::string>{TestUuid(2), TestUuid(1)}));
  EXPECT_EQ(ListAll({.learner = "u2"}), (std::vector<std::string>{TestUuid(1)}));
  std::vector<std::string> u1_json;
  ASSERT_TRUE(store_
                  ->ForEachOfLearner("u1",
                                     [&](const StoredStatement& s) {
                                       u1_json.push_back(s.record.json);
                                       return true;
                                     })
                  .ok());
  ASSERT_EQ(u1_json.size(), 2u);
  for (const std::string& j : u1_json) EXPECT_EQ(j.find("\"u3\""), std::string::npos) << j;
  // Activity, verb and stored-order indexes and references still find them.
  EXPECT_EQ(ListAll({.activity = vocab::CourseIri("c1")}), (std::vector<std::string>{TestUuid(1)}));
  EXPECT_EQ(ListAll({.learner = "u1", .include_references = true}),
            (std::vector<std::string>{TestUuid(4), TestUuid(2), TestUuid(1)}));
  // Erasing the last learner of a formerly shared statement deletes it.
  ASSERT_EQ(*store_->EraseLearner("u1"), 2);
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(2))).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(1)))->record.learners, (std::vector<std::string>{"u2"}));
  Reopen(false);
  EXPECT_EQ(ListAll({.learner = "u2"}), (std::vector<std::string>{TestUuid(1)}));
  EXPECT_EQ(*store_->CountLearnerIndexEntries("u3"), 0);
}

// A teacher who is also a learner of the district, named in other learners'
// statements (as instructor, team member, context agent, the object of a
// statement, a SubStatement's actor), known by an e-mail address and a name.
constexpr char kMentionedMbox[] = "mailto:teacher-secret-7f3a@example.org";
constexpr char kMentionedName[] = "王老师-secret-7f3a";

nlohmann::json MentionedAgent() {
  return {{"objectType", "Agent"}, {"mbox", kMentionedMbox}, {"name", kMentionedName}};
}
nlohmann::json DistrictAgent(const std::string& learner) {
  return {{"objectType", "Agent"}, {"account", {{"homePage", std::string(vocab::kDistrictIdp)}, {"name", learner}}}};
}

// A statement by `spec`, edited by `edit` (as JSON) before it is parsed.
absl::StatusOr<ParsedStatement> EditedStatement(const StatementSpec& spec,
                                                const std::function<void(nlohmann::json*)>& edit) {
  nlohmann::json j = nlohmann::json::parse(MakeStatement(spec));
  edit(&j);
  return ParseStatement(j.dump());
}

// The statements of other learners that name the teacher, and one of the
// teacher's own: ids 1-5 name them, 6 is the teacher's, 7 names someone else.
absl::Status PutMentioningStatements(RecordStore* store) {
  std::vector<absl::StatusOr<ParsedStatement>> parsed;
  parsed.push_back(EditedStatement({.id = TestUuid(1), .learner = "u2"}, [](nlohmann::json* j) {
    (*j)["context"]["instructor"] = MentionedAgent();
    (*j)["context"]["team"] = {{"objectType", "Group"}, {"member", {MentionedAgent(), DistrictAgent("u3")}}};
    (*j)["context"]["contextAgents"] = {{{"objectType", "contextAgent"}, {"agent", MentionedAgent()}}};
  }));
  parsed.push_back(EditedStatement({.id = TestUuid(2), .learner = "u3"}, [](nlohmann::json* j) {
    (*j)["verb"] = {{"id", "http://id.tincanapi.com/verb/mentored"}};
    (*j)["object"] = MentionedAgent();
  }));
  parsed.push_back(EditedStatement({.id = TestUuid(3), .learner = "u4"}, [](nlohmann::json* j) {
    nlohmann::json sub = {{"objectType", "SubStatement"},
                          {"actor", MentionedAgent()},
                          {"verb", (*j)["verb"]},
                          {"object", (*j)["object"]}};
    (*j)["object"] = sub;
  }));
  // Shared by u2 and the teacher, who is also its instructor.
  parsed.push_back(EditedStatement({.id = TestUuid(4), .learner = "", .group = {"u2"}}, [](nlohmann::json* j) {
    (*j)["actor"]["member"].push_back(MentionedAgent());
    (*j)["context"]["instructor"] = MentionedAgent();
  }));
  parsed.push_back(EditedStatement({.id = TestUuid(5), .learner = "u5"}, [](nlohmann::json* j) {
    (*j)["context"]["contextGroups"] = {
        {{"objectType", "contextGroup"},
         {"group", {{"objectType", "Group"}, {"mbox", kMentionedMbox}, {"member", {DistrictAgent("u6")}}}}}};
  }));
  parsed.push_back(EditedStatement({.id = TestUuid(6), .learner = "u6"},
                                   [](nlohmann::json* j) { (*j)["actor"] = MentionedAgent(); }));
  parsed.push_back(EditedStatement({.id = TestUuid(7), .learner = "u5"},
                                   [](nlohmann::json* j) { (*j)["context"]["instructor"] = DistrictAgent("u9"); }));
  std::vector<ParsedStatement> batch;
  for (auto& p : parsed) {
    if (!p.ok()) return p.status();
    batch.push_back(*std::move(p));
  }
  return store->Record(std::move(batch)).status();
}

// Erasing a learner also takes them out of other learners' statements that
// name them outside the actor: their identifier and name are replaced by the
// erased placeholder in the record and in every covering copy, the statements
// stay valid and their own learners keep them, and after the purge no file
// holds the teacher's address or name. (Before: only statements filed under
// the learner were touched; these kept the teacher's identity for ever.)
TEST_F(RecordStoreTest, ErasureScrubsTheLearnerFromOtherLearnersStatements) {
  ASSERT_TRUE(PutMentioningStatements(store_.get()).ok());
  const std::string untouched = store_->Get(*ParseUuid(TestUuid(7)))->record.json;
  ASSERT_TRUE(store_->WaitForBackgroundWork().ok());
  ASSERT_TRUE(lifelong::testing::AnyTableEntryContains(dir_, "teacher-secret-7f3a"));
  const uint64_t epoch = store_->GetErasureEpoch()->epoch;

  absl::StatusOr<int64_t> erased = store_->EraseLearner(kMentionedMbox);
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(*erased, 2);  // their own 6, and 4 which they shared
  EXPECT_EQ(store_->GetErasureEpoch()->epoch, epoch + 1);
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(6))).status().code(), absl::StatusCode::kNotFound);
  const std::map<int, std::vector<std::string>> learners = {
      {1, {"u2"}}, {2, {"u3"}}, {3, {"u4"}}, {4, {"u2"}}, {5, {"u5"}}};
  for (const auto& [n, of] : learners) {
    absl::StatusOr<StoredStatement> s = store_->Get(*ParseUuid(TestUuid(n)));
    ASSERT_TRUE(s.ok()) << n << ": " << s.status();
    EXPECT_EQ(s->record.json.find("teacher-secret-7f3a"), std::string::npos) << n << ": " << s->record.json;
    EXPECT_NE(s->record.json.find(kErasedAgentHomePage), std::string::npos) << n << ": " << s->record.json;
    EXPECT_TRUE(ParseStatement(s->record.json).ok()) << n << ": " << s->record.json;
    EXPECT_EQ(s->record.learners, of) << n;
  }
  // The other members of the team stay as they were.
  nlohmann::json one = nlohmann::json::parse(store_->Get(*ParseUuid(TestUuid(1)))->record.json);
  EXPECT_EQ(one["context"]["team"]["member"][1], DistrictAgent("u3"));
  EXPECT_EQ(one["context"]["team"]["member"][0]["objectType"], "Agent");
  EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(7)))->record.json, untouched);
  // The learners' own lists hold the scrubbed copies.
  for (const char* learner : {"u2", "u3", "u4", "u5"}) {
    ASSERT_TRUE(store_
                    ->ForEachOfLearner(learner,
                                       [&](const StoredStatement& s) {
                                         EXPECT_EQ(s.record.json.find("teacher-secret-7f3a"), std::string::npos)
                                             << learner << ": " << s.record.json;
                                         return true;
                                       })
                    .ok());
  }
  absl::Status purged = store_->WaitForPurge();
  ASSERT_TRUE(purged.ok()) << purged;
  // The name is in values only; the address also in keys, which RocksDB's
  // MANIFEST may keep as a file boundary until a restart (docs/security.md).
  EXPECT_FALSE(lifelong::testing::AnyFileContains(dir_, kMentionedName));
  EXPECT_FALSE(lifelong::testing::AnyTableEntryContains(dir_, "teacher-secret-7f3a"));
  EXPECT_FALSE(lifelong::testing::AnyTableEntryContains(dir_, kMentionedName));
  store_.reset();
  for (const auto& [key, value] : FamilyOf(dir_, Cf::kByMention)) {
    EXPECT_EQ(key.find("teacher-secret-7f3a"), std::string::npos) << "a mention entry is left";
  }
  EXPECT_EQ(FamilyOf(dir_, Cf::kByMention).size(), 3u);  // 1's team names u3, 5 names u6, 7 names u9
  Reopen(false);
  EXPECT_EQ(ListAll({.learner = "u2"}), (std::vector<std::string>{TestUuid(4), TestUuid(1)}));
}

// A statement's mention entries go with it when its own learner is erased,
// and a store of schema 2 (no mention index) gets one at its next Open, so
// that statements stored before the upgrade are scrubbed too.
TEST_F(RecordStoreTest, MentionEntriesFollowTheirStatementAndAnOlderStoreIsBackFilled) {
  ASSERT_TRUE(PutMentioningStatements(store_.get()).ok());
  ASSERT_TRUE(store_->EraseLearner("u3").ok());  // 2 goes, and u3's place in 1's team is scrubbed
  store_.reset();
  std::map<std::string, std::string> mentions = FamilyOf(dir_, Cf::kByMention);
  EXPECT_EQ(mentions.size(), 6u);  // 1, 3, 4, 5 name the teacher; 5 names u6 and 7 names u9

  // Make it a store of schema 2: no mention index, no flags.
  std::vector<std::pair<std::string, std::optional<std::string>>> drop_mentions, statements, copies;
  for (const auto& [key, value] : mentions) drop_mentions.push_back({key, std::nullopt});
  for (const auto& [key, value] : FamilyOf(dir_, Cf::kStatements)) {
    absl::StatusOr<StatementRecord> rec = DecodeStatementRecord(value);
    ASSERT_TRUE(rec.ok());
    Uuid id;
    std::memcpy(id.data(), key.data(), 16);
    rec->Set(RecordFlag::kNamesOthers, false);
    std::string old_value = *EncodeStatementRecord(*rec);
    statements.push_back({key, old_value});
    for (const std::string& l : rec->learners)
      copies.push_back({EncodeStringIndexKey(l, rec->stored_seq, id), old_value});
  }
  std::string version2;
  PutU32(&version2, 2);
  EditClosedStore(dir_, Cf::kByMention, drop_mentions);
  EditClosedStore(dir_, Cf::kStatements, statements);
  EditClosedStore(dir_, Cf::kByLearner, copies);
  EditClosedStore(dir_, Cf::kMeta, {{kMetaSchemaVersion, version2}});
  ASSERT_TRUE(FamilyOf(dir_, Cf::kByMention).empty());

  Reopen(false);  // back-fills
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(1)))->record.Has(RecordFlag::kNamesOthers));
  EXPECT_FALSE(store_->Get(*ParseUuid(TestUuid(6)))->record.Has(RecordFlag::kNamesOthers));
  absl::StatusOr<std::string> version = SchemaVersion(*store_);
  ASSERT_TRUE(version.ok()) << version.status();
  std::string current;
  PutU32(&current, kSchemaVersion);
  EXPECT_EQ(*version, current);
  ASSERT_TRUE(store_->EraseLearner(kMentionedMbox).ok());
  for (int n : {1, 3, 4, 5}) {
    EXPECT_EQ(store_->Get(*ParseUuid(TestUuid(n)))->record.json.find("teacher-secret-7f3a"), std::string::npos) << n;
  }
  store_.reset();
  EXPECT_EQ(FamilyOf(dir_, Cf::kByMention).size(), 2u);  // 5 names u6 and 7 names u9
  Reopen(false);
}

// Removes `family` from the closed store at `path`: a store as an earlier
// release, which did not have it, left it.
void DropFamilyOfClosedStore(const std::string& path, Cf family) {
  WithClosedStore(path, [&](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
    ASSERT_TRUE(db->DropColumnFamily(handles[static_cast<int>(family)]).ok());
  });
}

// The store at `path` opened as a release whose column families are exactly
// `names` opens it (none created, none missing): its meta schema version's
// raw bytes and its number of statements.
void OpenAsRelease(const std::string& path, const std::vector<std::string>& names, std::string* version,
                   size_t* statements) {
  RecordStoreRocksConfig config = MakeRecordStoreRocksConfig(8 << 20);
  config.db.create_missing_column_families = false;
  config.db.create_if_missing = false;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& d : config.families) {
    if (std::find(names.begin(), names.end(), d.name) != names.end()) families.push_back(d);
  }
  ASSERT_EQ(families.size(), names.size());
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::Open(config.db, path, families, &handles, &raw);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<rocksdb::DB> db(raw);
  for (size_t i = 0; i < families.size(); ++i) {
    if (families[i].name == "meta") {
      ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), handles[i], kMetaSchemaVersion, version).ok());
    }
    if (families[i].name == "statements") {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
      *statements = 0;
      for (it->SeekToFirst(); it->Valid(); it->Next()) ++*statements;
    }
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
}

// A one-way schema upgrade leaves a checkpoint of the store as the previous
// release left it, which that release opens (its column families exactly,
// its schema version, its statements), and later writes do not reach.
TEST_F(RecordStoreTest, AnUpgradeLeavesACheckpointThePreviousReleaseOpens) {
  ASSERT_TRUE(PutMentioningStatements(store_.get()).ok());
  store_.reset();
  const size_t stored = FamilyOf(dir_, Cf::kStatements).size();
  ASSERT_GT(stored, 0u);
  // A store of schema 2 as that release wrote it: no mention family.
  std::string version2;
  PutU32(&version2, 2);
  EditClosedStore(dir_, Cf::kMeta, {{kMetaSchemaVersion, version2}});
  DropFamilyOfClosedStore(dir_, Cf::kByMention);
  std::vector<std::string> schema2_families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_, &schema2_families).ok());
  ASSERT_EQ(std::count(schema2_families.begin(), schema2_families.end(), "by_mention"), 0);

  Reopen(false);  // upgrades to the current schema
  absl::StatusOr<std::string> version = SchemaVersion(*store_);
  ASSERT_TRUE(version.ok()) << version.status();
  std::string current;
  PutU32(&current, kSchemaVersion);
  EXPECT_EQ(*version, current);
  const std::string checkpoint = absl::StrCat(dir_, ".before-schema-", kSchemaVersion);
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), checkpoint, &names).ok());
  std::sort(names.begin(), names.end());
  std::sort(schema2_families.begin(), schema2_families.end());
  EXPECT_EQ(names, schema2_families);
  EXPECT_FALSE(std::filesystem::exists(checkpoint + ".partial"));

  // Written after the upgrade: in the store, not in the checkpoint.
  ASSERT_TRUE(Put({{.id = TestUuid(90), .learner = "u90"}}).ok());
  ASSERT_TRUE(store_->Get(*ParseUuid(TestUuid(90))).ok());
  std::string checkpoint_version;
  size_t checkpoint_statements = 0;
  OpenAsRelease(checkpoint, schema2_families, &checkpoint_version, &checkpoint_statements);
  EXPECT_EQ(checkpoint_version, version2);
  EXPECT_EQ(checkpoint_statements, stored);

  // The next start has nothing to upgrade and leaves the checkpoint alone.
  Reopen(false);
  OpenAsRelease(checkpoint, schema2_families, &checkpoint_version, &checkpoint_statements);
  EXPECT_EQ(checkpoint_version, version2);
  EXPECT_EQ(checkpoint_statements, stored);
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(90))).ok());
}

// A statement's issuer (ParsedStatement::authority_json) is stored as its
// authority; without one the store's default is.
TEST_F(RecordStoreTest, IssuerIsStoredAsTheAuthority) {
  absl::StatusOr<ParsedStatement> p = ParseStatement(MakeStatement({.id = TestUuid(1)}));
  ASSERT_TRUE(p.ok());
  p->authority_json =
      R"({"objectType":"Agent","account":{"homePage":"https://id.dongcheng.gov.cn/roles/teacher","name":"t1"}})";
  std::vector<ParsedStatement> batch;
  batch.push_back(std::move(*p));
  ASSERT_TRUE(store_->Record(std::move(batch)).ok());
  nlohmann::json j = nlohmann::json::parse(store_->Get(*ParseUuid(TestUuid(1)))->record.json);
  EXPECT_EQ(j["authority"]["account"]["name"], "t1");
  EXPECT_EQ(j["authority"]["account"]["homePage"], "https://id.dongcheng.gov.cn/roles/teacher");
  EXPECT_FALSE(store_->Get(*ParseUuid(TestUuid(1)))->record.Has(RecordFlag::kVerifiedIssuer));
}

// The verified-issuer flag is stored with the issuer's authority (and only
// with one: the store's default authority is an unknown issuer).
TEST_F(RecordStoreTest, VerifiedIssuerFlagIsStoredWithTheAuthority) {
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<ParsedStatement> p = ParseStatement(MakeStatement({.id = TestUuid(10 + i)}));
    ASSERT_TRUE(p.ok());
    p->verified_issuer = true;
    if (i == 0) {
      p->authority_json =
          R"({"objectType":"Agent","account":{"homePage":"https://id.dongcheng.gov.cn/roles/loader","name":"feed"}})";
    }
    std::vector<ParsedStatement> batch;
    batch.push_back(std::move(*p));
    ASSERT_TRUE(store_->Record(std::move(batch)).ok());
  }
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(10)))->record.Has(RecordFlag::kVerifiedIssuer));
  EXPECT_FALSE(store_->Get(*ParseUuid(TestUuid(11)))->record.Has(RecordFlag::kVerifiedIssuer));
  Reopen(false);
  EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(10)))->record.Has(RecordFlag::kVerifiedIssuer));
}

TEST_F(RecordStoreTest, ExportAfterCursorInStoredOrderAcrossRestart) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Put({{.id = TestUuid(i)}}).ok());
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(store_
                  ->ForEachAfter(0, 4,
                                 [&](const StoredStatement& s) {
                                   seqs.push_back(s.record.stored_seq);
                                   return true;
                                 })
                  .ok());
  ASSERT_EQ(seqs.size(), 4u);
  Reopen(false);
  ASSERT_TRUE(Put({{.id = TestUuid(100)}}).ok());
  std::vector<std::string> rest;
  ASSERT_TRUE(store_
                  ->ForEachAfter(seqs.back(), 0,
                                 [&](const StoredStatement& s) {
                                   rest.push_back(FormatUuid(s.id));
                                   return true;
                                 })
                  .ok());
  std::vector<std::string> want;
  for (int i = 4; i < 10; ++i) want.push_back(TestUuid(i));
  want.push_back(TestUuid(100));
  EXPECT_EQ(rest, want);
}

TEST_F(RecordStoreTest, ConcurrentWritersShareSyncsAndLoseNothing) {
  constexpr int kThreads = 16, kEach = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!Put({{.id = TestUuid(t * 1000 + i), .learner = "u" + std::to_string(t)}}).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->stats().statements_written, static_cast<uint64_t>(kThreads * kEach));
  EXPECT_LT(store_->stats().groups_committed, static_cast<uint64_t>(kThreads * kEach));
  // Stored sequences are unique and follow commit order.
  std::set<uint64_t> seqs;
  uint64_t prev = 0;
  bool ordered = true;
  ASSERT_TRUE(store_
                  ->ForEachAfter(0, 0,
                                 [&](const StoredStatement& s) {
                                   ordered &= s.record.stored_seq > prev;
                                   prev = s.record.stored_seq;
                                   seqs.insert(s.record.stored_seq);
                                   return true;
                                 })
                  .ok());
  EXPECT_TRUE(ordered);
  EXPECT_EQ(seqs.size(), static_cast<size_t>(kThreads * kEach));
}

// Many writers (Record and RecordAsync, batches with ids other writers also
// send, the same content) and a reader following stored order with a cursor
// while they write, with build ahead on and off: the cursor never skips a
// statement (no group becomes visible before the one before it), sequences
// only grow, every learner of an acknowledged statement was announced to the
// change listener before the answer, and after a reopen every acknowledged
// statement is there, with the sequence it was acknowledged with, and
// nothing else.
TEST_F(RecordStoreTest, ConcurrentBatchesWithRepeatedIdsKeepStoredOrderAndLoseNothing) {
  for (bool build_ahead : {true, false}) {
    SCOPED_TRACE(build_ahead ? "build ahead" : "one group at a time");
    build_ahead_ = build_ahead;
    Reopen(true);
    constexpr int kThreads = 8, kBatches = 25, kPerBatch = 8;
    absl::Mutex mu;
    std::set<std::string> announced;        // learners the change listener heard of
    std::map<std::string, uint64_t> acked;  // id -> stored sequence
    int errors = 0, unannounced = 0, seq_mismatch = 0;
    store_->SetChangeListener([&](const std::vector<std::string>& learners) {
      absl::MutexLock lock(&mu);
      announced.insert(learners.begin(), learners.end());
    });
    auto take = [&](const absl::StatusOr<std::vector<StoredStatement>>& r) {
      absl::MutexLock lock(&mu);
      if (!r.ok()) {
        ++errors;
        ADD_FAILURE() << r.status();
        return;
      }
      for (const StoredStatement& st : *r) {
        for (const std::string& l : st.record.learners) unannounced += announced.count(l) == 0;
        auto [it, fresh] = acked.try_emplace(FormatUuid(st.id), st.record.stored_seq);
        seq_mismatch += !fresh && it->second != st.record.stored_seq;
      }
    };
    auto batch_of = [](int t, int b) {
      std::vector<ParsedStatement> batch;
      for (int k = 0; k < kPerBatch; ++k) {
        // Every fourth statement is one of a few ids all writers send.
        const int n = k % 4 == 0 ? 900000 + (b * 2 + k / 4) % 12 : t * 10000 + b * kPerBatch + k;
        const std::string learner = k % 4 == 0 ? "shared" + std::to_string(n % 3) : "u" + std::to_string(t);
        batch.push_back(*ParseStatement(MakeStatement({.id = TestUuid(n), .learner = learner})));
      }
      return batch;
    };
    std::atomic<bool> writing{true};
    std::atomic<int> pending_async{0};
    // The cursor reader: stored order, from where it stopped.
    std::vector<std::pair<uint64_t, std::string>> followed;
    bool cursor_ordered = true;
    std::thread reader([&] {
      uint64_t cursor = 0;
      auto pass = [&] {
        ASSERT_TRUE(store_
                        ->ForEachAfter(cursor, 0,
                                       [&](const StoredStatement& st) {
                                         cursor_ordered &= st.record.stored_seq > cursor;
                                         cursor = st.record.stored_seq;
                                         followed.emplace_back(st.record.stored_seq, FormatUuid(st.id));
                                         return true;
                                       })
                        .ok());
      };
      while (writing) pass();
      pass();
    });
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int b = 0; b < kBatches; ++b) {
          if (t % 2 == 0) {
            take(store_->Record(batch_of(t, b)));
          } else {
            ++pending_async;
            store_->RecordAsync(batch_of(t, b), [&](absl::StatusOr<std::vector<StoredStatement>> r) {
              take(r);
              --pending_async;
            });
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    while (pending_async > 0) std::this_thread::yield();
    writing = false;
    reader.join();
    EXPECT_EQ(errors, 0);
    EXPECT_EQ(unannounced, 0);
    EXPECT_EQ(seq_mismatch, 0);
    EXPECT_TRUE(cursor_ordered);
    // 12 shared ids, and each writer's own 6 of every 8.
    EXPECT_EQ(acked.size(), static_cast<size_t>(12 + kThreads * kBatches * kPerBatch * 3 / 4));
    std::map<std::string, uint64_t> seen;
    for (const auto& [seq, id] : followed) seen.emplace(id, seq);
    EXPECT_EQ(seen.size(), followed.size());  // none twice
    EXPECT_EQ(seen, acked);                   // the cursor skipped nothing and saw nothing unacknowledged

    Reopen(false);
    std::map<std::string, uint64_t> stored;
    uint64_t prev = 0;
    bool ordered = true;
    ASSERT_TRUE(store_
                    ->ForEachAfter(0, 0,
                                   [&](const StoredStatement& st) {
                                     ordered &= st.record.stored_seq > prev;
                                     prev = st.record.stored_seq;
                                     stored.emplace(FormatUuid(st.id), st.record.stored_seq);
                                     return true;
                                   })
                    .ok());
    EXPECT_TRUE(ordered);
    EXPECT_EQ(stored, acked);
    for (const auto& [id, seq] : acked) {
      absl::StatusOr<StoredStatement> got = store_->Get(*ParseUuid(id));
      ASSERT_TRUE(got.ok()) << id << ": " << got.status();
      EXPECT_EQ(got->record.stored_seq, seq) << id;
    }
  }
}

// RecordAsync: the callers never wait for the group commit (every callback
// runs on the committing thread, not the caller's), each call is answered once
// with what Record() would return, after the write is visible, and mixed with
// Record() callers (who may lead groups holding asynchronous writers) nothing
// is lost or answered twice.
TEST_F(RecordStoreTest, RecordAsyncAnswersOnTheCommittingThreadAndMixesWithRecord) {
  constexpr int kAsync = 400, kSyncThreads = 4, kSyncEach = 25;
  absl::Mutex mu;
  std::map<int, int> answers;  // call -> times answered
  int wrong = 0;
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::thread> sync_threads;
  std::atomic<int> sync_failures{0};
  for (int t = 0; t < kSyncThreads; ++t) {
    sync_threads.emplace_back([&, t] {
      for (int i = 0; i < kSyncEach; ++i) {
        if (!Put({{.id = TestUuid(100000 + t * 1000 + i), .learner = "s" + std::to_string(t)}}).ok()) ++sync_failures;
      }
    });
  }
  for (int i = 0; i < kAsync; ++i) {
    std::vector<ParsedStatement> batch;
    batch.push_back(*ParseStatement(MakeStatement({.id = TestUuid(i), .learner = "u" + std::to_string(i % 7)})));
    store_->RecordAsync(std::move(batch), [&, i](absl::StatusOr<std::vector<StoredStatement>> r) {
      // Visible (committed) before the answer.
      bool ok = r.ok() && r->size() == 1 && r->front().id == *ParseUuid(TestUuid(i)) &&
                store_->Get(r->front().id).ok() && std::this_thread::get_id() != caller;
      absl::MutexLock lock(&mu);
      ++answers[i];
      if (!ok) ++wrong;
    });
  }
  for (auto& th : sync_threads) th.join();
  {
    absl::MutexLock lock(&mu);
    auto all_answered = [&] { return answers.size() == static_cast<size_t>(kAsync); };
    mu.Await(absl::Condition(&all_answered));
    EXPECT_EQ(wrong, 0);
    for (const auto& [call, times] : answers) EXPECT_EQ(times, 1) << "call " << call;
  }
  EXPECT_EQ(sync_failures.load(), 0);
  EXPECT_EQ(store_->stats().statements_written, static_cast<uint64_t>(kAsync + kSyncThreads * kSyncEach));
  EXPECT_LT(store_->stats().groups_committed, static_cast<uint64_t>(kAsync));  // they share syncs
}

TEST_F(RecordStoreTest, RecordAsyncReportsConflictsAndRejectsNothingElseOfTheGroup) {
  ASSERT_TRUE(Put({{.id = TestUuid(1), .course = "c1"}}).ok());
  absl::Mutex mu;
  std::vector<absl::StatusCode> codes(3, absl::StatusCode::kUnknown);
  int answered = 0;
  auto record = [&](int slot, const StatementSpec& spec) {
    std::vector<ParsedStatement> batch;
    batch.push_back(*ParseStatement(MakeStatement(spec)));
    store_->RecordAsync(std::move(batch), [&, slot](absl::StatusOr<std::vector<StoredStatement>> r) {
      absl::MutexLock lock(&mu);
      codes[slot] = r.status().code();
      ++answered;
    });
  };
  record(0, {.id = TestUuid(1), .course = "c2"});  // same id, other content
  record(1, {.id = TestUuid(1), .course = "c1"});  // an idempotent replay
  record(2, {.id = TestUuid(2)});
  absl::MutexLock lock(&mu);
  auto done = [&] { return answered == 3; };
  mu.Await(absl::Condition(&done));
  EXPECT_EQ(codes[0], absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(codes[1], absl::StatusCode::kOk);
  EXPECT_EQ(codes[2], absl::StatusCode::kOk);
}

// A refusal of one statement of a batch carries that statement's index in
// the caller's batch (RefusedStatementIndex), whichever refusal it is and
// however the batch came (Record, RecordAsync, log mode's apply); a failure
// of no one statement carries none.
TEST_F(RecordStoreTest, ARefusalCarriesTheRefusedStatementsIndex) {
  ASSERT_TRUE(
      Put({{.id = TestUuid(1), .course = "c1"}, {.id = TestUuid(2), .verb = "voided", .course = TestUuid(1)}}).ok());
  // An id sent twice with other content: the second copy is the one refused.
  absl::Status twice =
      Put({{.id = TestUuid(3), .course = "c3"}, {.id = TestUuid(4)}, {.id = TestUuid(3), .course = "other"}}).status();
  EXPECT_EQ(twice.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(RefusedStatementIndex(twice), std::optional<size_t>(2)) << twice;
  // A voiding statement whose target is a voiding statement.
  absl::Status voids_voiding =
      Put({{.id = TestUuid(5)}, {.id = TestUuid(6), .verb = "voided", .course = TestUuid(2)}}).status();
  EXPECT_EQ(voids_voiding.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RefusedStatementIndex(voids_voiding), std::optional<size_t>(1)) << voids_voiding;
  // A voiding statement its issuer's right does not cover (CheckVoidRight).
  std::vector<ParsedStatement> batch;
  batch.push_back(*ParseStatement(MakeStatement({.id = TestUuid(7)})));
  batch.push_back(*ParseStatement(MakeStatement({.id = TestUuid(8)})));
  batch.push_back(*ParseStatement(MakeStatement({.id = TestUuid(9), .verb = "voided", .course = TestUuid(1)})));
  batch.back().void_right = VoidRight{.holder = "learner u9", .learner = "u9"};
  absl::Status no_right = store_->Record(std::move(batch)).status();
  EXPECT_EQ(no_right.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(RefusedStatementIndex(no_right), std::optional<size_t>(2)) << no_right;
  // RecordAsync.
  absl::Notification answered;
  absl::Status async;
  batch.clear();
  batch.push_back(*ParseStatement(MakeStatement({.id = TestUuid(10)})));
  batch.push_back(*ParseStatement(MakeStatement({.id = TestUuid(1), .course = "other"})));
  store_->RecordAsync(std::move(batch), [&](absl::StatusOr<std::vector<StoredStatement>> r) {
    async = r.status();
    answered.Notify();
  });
  ASSERT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(async.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(RefusedStatementIndex(async), std::optional<size_t>(1)) << async;
  // Log mode's apply: each operation's result names its own statement.
  std::vector<LoggedRecord> ops;
  ops.push_back(LoggedOp(1, {{.id = TestUuid(11)}, {.id = TestUuid(12)}, {.id = TestUuid(1), .course = "other"}}));
  ops.push_back(LoggedOp(2, {{.id = TestUuid(13), .verb = "voided", .course = TestUuid(2)}}));
  ASSERT_TRUE(store_->ApplyLoggedRecords(&ops).ok());
  EXPECT_EQ(ops[0].result.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(RefusedStatementIndex(ops[0].result.status()), std::optional<size_t>(2)) << ops[0].result.status();
  EXPECT_EQ(ops[1].result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RefusedStatementIndex(ops[1].result.status()), std::optional<size_t>(0)) << ops[1].result.status();
  // Nothing refused, or a failure of the whole call: no index.
  absl::StatusOr<std::vector<StoredStatement>> stored = Put({{.id = TestUuid(14)}});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(RefusedStatementIndex(stored.status()), std::nullopt);
  EXPECT_EQ(RefusedStatementIndex(absl::UnavailableError("write failed")), std::nullopt);
}

// Closing the store answers every queued asynchronous write first, with the
// write made: none is dropped, none answered after the store is gone.
TEST_F(RecordStoreTest, RecordAsyncCallsQueuedAtCloseAreWrittenAndAnswered) {
  std::atomic<int> ok{0}, answered{0};
  constexpr int kCalls = 200;
  for (int i = 0; i < kCalls; ++i) {
    std::vector<ParsedStatement> batch;
    batch.push_back(*ParseStatement(MakeStatement({.id = TestUuid(i)})));
    store_->RecordAsync(std::move(batch), [&](absl::StatusOr<std::vector<StoredStatement>> r) {
      if (r.ok()) ++ok;
      ++answered;
    });
  }
  Reopen(false);  // destroys the store with the writes (perhaps) still queued
  EXPECT_EQ(answered.load(), kCalls);
  EXPECT_EQ(ok.load(), kCalls);
  for (int i = 0; i < kCalls; ++i) EXPECT_TRUE(store_->Get(*ParseUuid(TestUuid(i))).ok()) << i;
}

TEST_F(RecordStoreTest, SecondOpenOfSameDirectoryIsUnavailable) {
  auto second = RecordStore::Open(dir_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

// xAPI's `agent` filter: "the Actor or Object". With learner_as_object the
// learner index and the mention index are read together: u2's own
// statements (1, 5, and 7 of a Group actor whose object is also u2: once),
// and other learners' statements whose object is u2's Agent (2) or a Group
// naming u2 (4); not one naming u2 as instructor only (3), nor one about
// another learner (6). (Before: own statements only.)
TEST_F(RecordStoreTest, LearnerAsObjectMergesTheMentionIndexInOrder) {
  std::vector<absl::StatusOr<ParsedStatement>> parsed;
  parsed.push_back(ParseStatement(MakeStatement({.id = TestUuid(1), .learner = "u2"})));
  parsed.push_back(EditedStatement({.id = TestUuid(2), .learner = "t1"}, [](nlohmann::json* j) {
    (*j)["verb"] = {{"id", "http://id.tincanapi.com/verb/mentored"}};
    (*j)["object"] = DistrictAgent("u2");
  }));
  parsed.push_back(EditedStatement({.id = TestUuid(3), .learner = "t1"},
                                   [](nlohmann::json* j) { (*j)["context"]["instructor"] = DistrictAgent("u2"); }));
  parsed.push_back(EditedStatement({.id = TestUuid(4), .learner = "t1"}, [](nlohmann::json* j) {
    (*j)["verb"] = {{"id", "http://id.tincanapi.com/verb/mentored"}};
    (*j)["object"] = {{"objectType", "Group"}, {"member", {DistrictAgent("u7"), DistrictAgent("u2")}}};
  }));
  parsed.push_back(ParseStatement(MakeStatement({.id = TestUuid(5), .learner = "u2"})));
  parsed.push_back(EditedStatement({.id = TestUuid(6), .learner = "t1"}, [](nlohmann::json* j) {
    (*j)["verb"] = {{"id", "http://id.tincanapi.com/verb/mentored"}};
    (*j)["object"] = DistrictAgent("u3");
  }));
  parsed.push_back(EditedStatement({.id = TestUuid(7), .learner = "", .group = {"u2", "u8"}}, [](nlohmann::json* j) {
    (*j)["verb"] = {{"id", "http://id.tincanapi.com/verb/mentored"}};
    (*j)["object"] = DistrictAgent("u2");
  }));
  for (auto& p : parsed) {
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_TRUE(store_->Record({*std::move(p)}).ok());
  }
  auto seq = [&](int i) { return static_cast<int64_t>(store_->Get(*ParseUuid(TestUuid(i)))->record.stored_seq); };
  auto ids = [](std::vector<int> v) {
    std::vector<std::string> out;
    for (int i : v) out.push_back(TestUuid(i));
    return out;
  };

  StatementQuery q;
  q.learner = "u2";
  q.ascending = true;
  EXPECT_EQ(Ids(*store_->List(q)), ids({1, 5, 7}));  // own statements only, as before
  q.learner_as_object = true;
  EXPECT_EQ(Ids(*store_->List(q)), ids({1, 2, 4, 5, 7}));
  EXPECT_EQ(ListAll(q), ids({1, 2, 4, 5, 7}));  // one a page: no repeats, no gaps
  q.ascending = false;
  EXPECT_EQ(Ids(*store_->List(q)), ids({7, 5, 4, 2, 1}));
  EXPECT_EQ(ListAll(q), ids({7, 5, 4, 2, 1}));

  // since (strictly after) and until (at or before) bound both indexes.
  q.since_us = seq(1);
  q.until_us = seq(5);
  EXPECT_EQ(Ids(*store_->List(q)), ids({5, 4, 2}));
  EXPECT_EQ(ListAll(q), ids({5, 4, 2}));
  q.ascending = true;
  EXPECT_EQ(ListAll(q), ids({2, 4, 5}));
  q.since_us = seq(4);
  q.until_us.reset();
  EXPECT_EQ(ListAll(q), ids({5, 7}));

  // Page tokens are bound to the flag.
  q = {};
  q.learner = "u2";
  q.learner_as_object = true;
  q.page_size = 1;
  std::string token = store_->List(q)->next_page_token;
  ASSERT_FALSE(token.empty());
  q.learner_as_object = false;
  q.page_token = token;
  EXPECT_EQ(store_->List(q).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lifelong::records
