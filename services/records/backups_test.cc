#include "services/records/backups.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "services/domain/vocabulary.h"
#include "services/records/key_codec.h"
#include "services/records/kiosk_passes.h"
#include "services/records/learner_cards.h"
#include "services/records/test_statements.h"
#include "services/storage/backup_testing.h"
#include "services/xapi/document_store.h"
#include "tests/testing/bounded_wait.h"
#include "tests/testing/store_files.h"

namespace lifelong::records {
namespace {

namespace fs = std::filesystem;
using testing::MakeStatement;
using testing::StatementSpec;
using testing::TestUuid;

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/backups_test/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Everything a reader can see of a store: every statement as stored, and the
// answers of the indexed queries.
struct StoreView {
  std::map<std::string, std::string> statements;  // id -> flags|seq|json
  std::map<std::string, std::vector<std::string>> queries;
  bool operator==(const StoreView& o) const { return statements == o.statements && queries == o.queries; }
};

StoreView ViewOf(const RecordStore& store) {
  StoreView v;
  EXPECT_TRUE(store
                  .ForEachAfter(0, 0,
                                [&](const StoredStatement& s) {
                                  v.statements[FormatUuid(s.id)] =
                                      absl::StrCat(s.record.flags, "|", s.record.stored_seq, "|", s.record.json);
                                  return true;
                                })
                  .ok());
  auto run = [&](const std::string& name, StatementQuery q) {
    q.page_size = 500;
    absl::StatusOr<StatementPage> page = store.List(q);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const StoredStatement& s : page->statements) v.queries[name].push_back(FormatUuid(s.id));
  };
  for (const char* l : {"u1", "u2", "u3", "u-erased", "u-keep"}) {
    StatementQuery q;
    q.learner = l;
    run(absl::StrCat("learner ", l), q);
  }
  for (const char* c : {"c0", "c1", "c2"}) {
    StatementQuery q;
    q.activity = vocab::CourseIri(c);
    run(absl::StrCat("activity ", c), q);
  }
  StatementQuery verb;
  verb.verb = std::string(vocab::kCompleted);
  run("verb completed", verb);
  run("all", StatementQuery{});
  return v;
}

class BackupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    Open(root_ + "/records");
  }

  void Open(const std::string& dir) {
    manager_.reset();
    store_.reset();
    RecordStoreOptions o;
    o.now_micros = [this] { return clock_.fetch_add(1000); };
    o.block_cache_bytes = 8 << 20;
    o.test_hooks = hooks_;
    o.purge_retry_delay = absl::Hours(1);
    auto s = RecordStore::Open(dir, o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    BackupManagerOptions bo;
    bo.backup_dir = root_ + "/backups";
    bo.now_micros = [this] { return clock_.load(); };
    if (docs_) bo.documents_db = [this] { return docs_->rocks_for_backup(); };
    auto m = BackupManager::Open(store_.get(), bo);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }

  void Put(const std::vector<StatementSpec>& specs) {
    std::vector<ParsedStatement> batch;
    for (const StatementSpec& spec : specs) {
      absl::StatusOr<ParsedStatement> p = ParseStatement(MakeStatement(spec));
      ASSERT_TRUE(p.ok()) << p.status();
      batch.push_back(std::move(*p));
    }
    ASSERT_TRUE(store_->Record(std::move(batch)).ok());
  }

  // Erases as records_server does: the store, then the ledger.
  void Erase(const std::string& learner) {
    ASSERT_TRUE(store_->EraseLearner(learner).ok());
    auto ledger = ErasureLedger::Open(root_ + "/backups/" + kErasureLedgerFile);
    ASSERT_TRUE(ledger.ok());
    ASSERT_TRUE((*ledger)->Append(learner, clock_.fetch_add(1000)).ok());
  }

  absl::StatusOr<RestoreResult> Restore(uint32_t id, const std::string& dir, bool force = false,
                                        const std::string& docs_dir = "") {
    RestoreRequest r;
    r.backup_dir = root_ + "/backups";
    r.backup_id = id;
    r.data_dir = dir;
    r.documents_dir = docs_dir;
    r.force = force;
    r.now_micros = [this] { return clock_.fetch_add(1000); };
    return RestoreBackup(r);
  }

  std::unique_ptr<RecordStore> OpenAt(const std::string& dir) {
    auto s = RecordStore::Open(dir);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  std::string root_;
  RecordStoreOptions::WriteHooks hooks_;  // for the next Open
  std::atomic<int64_t> clock_{1'700'000'000'000'000};
  std::unique_ptr<xapi::DocumentStore> docs_;
  std::unique_ptr<RecordStore> store_;
  std::unique_ptr<BackupManager> manager_;
};

TEST_F(BackupsTest, RestoreHoldsExactlyTheBackedUpStatementsIndexesAndPosition) {
  for (int i = 0; i < 60; ++i) {
    Put({{.id = TestUuid(i), .learner = absl::StrCat("u", 1 + i % 3), .course = absl::StrCat("c", i % 3)}});
  }
  Put({{.id = TestUuid(100), .learner = "u1", .verb = "voided", .course = TestUuid(0)}});
  ASSERT_TRUE(store_->WriteMeta({{kMetaAppliedLogSeq, "42"}}).ok());
  const StoreView at_backup = ViewOf(*store_);
  ASSERT_EQ(at_backup.statements.size(), 61u);

  absl::StatusOr<BackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->id, 1u);
  EXPECT_EQ(b->applied_seq, 42u);
  EXPECT_EQ(b->statements, 61u);
  EXPECT_GT(b->size_bytes, 0u);
  EXPECT_GT(b->created_us, 0);

  // More writes after the backup: new statements, a voiding, a newer position.
  for (int i = 200; i < 230; ++i) Put({{.id = TestUuid(i), .learner = "u2", .course = "c1"}});
  Put({{.id = TestUuid(300), .learner = "u2", .verb = "voided", .course = TestUuid(1)}});
  ASSERT_TRUE(store_->WriteMeta({{kMetaAppliedLogSeq, "99"}}).ok());
  ASSERT_FALSE(ViewOf(*store_) == at_backup);

  absl::StatusOr<std::vector<BackupInfo>> listed = manager_->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].statements, 61u);

  const std::string target = root_ + "/restored";
  absl::StatusOr<RestoreResult> r = Restore(b->id, target);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->statements, 61u);
  EXPECT_EQ(r->applied_seq, 42u);
  EXPECT_EQ(r->reerased_learners, 0);
  std::unique_ptr<RecordStore> restored = OpenAt(target);
  ASSERT_NE(restored, nullptr);
  EXPECT_TRUE(ViewOf(*restored) == at_backup);
  EXPECT_EQ(*restored->GetMeta(kMetaAppliedLogSeq), "42");
  // The restored store takes writes (its sequence continues after the backup's).
  std::vector<ParsedStatement> one;
  one.push_back(*ParseStatement(MakeStatement({.id = TestUuid(400), .learner = "u3"})));
  ASSERT_TRUE(restored->Record(std::move(one)).ok());
  // No temporary directory is left beside the target.
  for (const auto& e : fs::directory_iterator(root_)) {
    EXPECT_EQ(e.path().filename().string().find(".restoring-"), std::string::npos) << e.path();
  }
}

TEST_F(BackupsTest, AppliedPositionIsZeroWhenAbsent) {
  Put({{.id = TestUuid(1)}});
  absl::StatusOr<BackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->applied_seq, 0u);
  EXPECT_EQ(b->statements, 1u);
}

TEST_F(BackupsTest, VerifyDetectsACorruptedBackupFileAndRestoreRefusesIt) {
  for (int i = 0; i < 40; ++i) Put({{.id = TestUuid(i), .learner = absl::StrCat("u", i % 3)}});
  absl::StatusOr<BackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  absl::StatusOr<BackupInfo> v = manager_->Verify(b->id);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(manager_->Verify(77).status().code(), absl::StatusCode::kNotFound);

  // Flip one byte in the middle of the largest table file (same size).
  ASSERT_FALSE(storage::testing::FlipByteInLargestTable(root_ + "/backups/records").empty());
  v = manager_->Verify(b->id);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss) << v.status();
  // A fresh engine (another process: the CLI) sees it too.
  manager_.reset();
  BackupManagerOptions bo;
  bo.backup_dir = root_ + "/backups";
  auto fresh = BackupManager::Open(store_.get(), bo);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ((*fresh)->Verify(b->id).status().code(), absl::StatusCode::kDataLoss);
  // Restoring it fails and leaves the target empty.
  const std::string target = root_ + "/restored";
  absl::StatusOr<RestoreResult> r = Restore(b->id, target);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(fs::exists(target) && !fs::is_empty(target));
}

TEST_F(BackupsTest, RestoreRefusesANonEmptyTargetUnlessForcedAndALiveStoreAlways) {
  Put({{.id = TestUuid(1)}});
  absl::StatusOr<BackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok());
  const std::string target = root_ + "/occupied";
  fs::create_directories(target);
  std::ofstream(target + "/precious.txt") << "keep me";
  absl::StatusOr<RestoreResult> r = Restore(b->id, target);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("--force"), std::string::npos) << r.status();
  EXPECT_TRUE(fs::exists(target + "/precious.txt"));
  // The live store's directory: refused even with --force (its lock is held).
  r = Restore(b->id, root_ + "/records", /*force=*/true);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("lock"), std::string::npos) << r.status();
  // Unknown backup, missing fields.
  EXPECT_EQ(Restore(9, root_ + "/empty").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Restore(b->id, "").status().code(), absl::StatusCode::kInvalidArgument);
  // Forced: replaced.
  r = Restore(b->id, target, /*force=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(fs::exists(target + "/precious.txt"));
  EXPECT_EQ(r->statements, 1u);
  // A target named with a trailing slash restores beside it, not into it.
  r = Restore(b->id, root_ + "/slashed/", false);
  ASSERT_TRUE(r.ok()) << r.status();
  for (const auto& e : fs::directory_iterator(root_ + "/slashed")) {
    EXPECT_EQ(e.path().filename().string().find(".restoring-"), std::string::npos) << e.path();
  }
  EXPECT_TRUE(OpenAt(root_ + "/slashed") != nullptr);
}

// Restore's swap (RestoreBackup's contract): the live directory is renamed
// aside, never deleted before the restored copy is in place.
class RestoreSwapTest : public BackupsTest {
 protected:
  void SetUp() override {
    BackupsTest::SetUp();
    Put({{.id = TestUuid(1), .learner = "u1"}});
    absl::StatusOr<BackupInfo> b = manager_->Create();
    ASSERT_TRUE(b.ok()) << b.status();
    backup_id_ = b->id;
    backed_up_ = ViewOf(*store_);
    // The store a forced restore replaces: other statements.
    live_ = root_ + "/live";
    std::unique_ptr<RecordStore> live = OpenAt(live_);
    ASSERT_NE(live, nullptr);
    std::vector<ParsedStatement> batch;
    for (int i : {7, 8}) batch.push_back(*ParseStatement(MakeStatement({.id = TestUuid(i), .learner = "u2"})));
    ASSERT_TRUE(live->Record(std::move(batch)).ok());
    live_view_ = ViewOf(*live);
    ASSERT_FALSE(live_view_ == backed_up_);
  }

  absl::StatusOr<RestoreResult> ForcedRestore(
      std::function<absl::Status(RestoreSwapStep, const std::string&)> fault = nullptr,
      const std::string& docs_dir = "") {
    RestoreRequest r;
    r.backup_dir = root_ + "/backups";
    r.backup_id = backup_id_;
    r.data_dir = live_;
    r.documents_dir = docs_dir;
    r.force = true;
    r.discard_newer = true;  // the live store holds statements 7 and 8 the backup lacks
    r.now_micros = [this] { return clock_.fetch_add(1000); };
    r.swap_fault = std::move(fault);
    return RestoreBackup(r);
  }

  // The view of the store at `dir` (opened and closed again).
  StoreView ViewAt(const std::string& dir) {
    std::unique_ptr<RecordStore> s = OpenAt(dir);
    return s ? ViewOf(*s) : StoreView();
  }

  // Entries of root_ that a restore leaves beside its targets.
  std::vector<std::string> Siblings() { return storage::testing::RestoreSiblingsIn(root_); }

  uint32_t backup_id_ = 0;
  StoreView backed_up_;
  std::string live_;
  StoreView live_view_;
};

TEST_F(RestoreSwapTest, AFailedStepLeavesTheLiveStoreIntactAndOpenable) {
  for (RestoreSwapStep failing : {RestoreSwapStep::kMoveAside, RestoreSwapStep::kMoveIntoPlace}) {
    SCOPED_TRACE(static_cast<int>(failing));
    absl::StatusOr<RestoreResult> r = ForcedRestore([&](RestoreSwapStep step, const std::string&) {
      return step == failing ? absl::UnavailableError("injected fault") : absl::OkStatus();
    });
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
    EXPECT_NE(r.status().message().find("injected fault"), std::string::npos) << r.status();
    EXPECT_TRUE(ViewAt(live_) == live_view_);
    EXPECT_TRUE(Siblings().empty()) << ::testing::PrintToString(Siblings());
  }
}

TEST_F(RestoreSwapTest, AFailureAfterOneTargetIsInPlaceMovesItBack) {
  // Two targets: the record store and an earlier version's document store.
  docs_ = std::move(*xapi::DocumentStore::Open(root_ + "/docs"));
  Open(root_ + "/records");
  xapi::DocKey state{xapi::DocKind::kState, "https://courses.dongcheng.gov.cn/course/c1", "u1", "", "进度"};
  ASSERT_TRUE(docs_->Put(state, "application/json", "{}", {}, 1).ok());
  absl::StatusOr<BackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_NE(b->documents_backup_id, 0u);
  backup_id_ = b->id;
  const std::string live_docs = root_ + "/live-docs";
  {
    auto d = xapi::DocumentStore::Open(live_docs);
    ASSERT_TRUE(d.ok()) << d.status();
  }
  std::vector<std::string> order;
  absl::StatusOr<RestoreResult> r = ForcedRestore(
      [&](RestoreSwapStep step, const std::string& dir) {
        order.push_back(absl::StrCat(static_cast<int>(step), " ", fs::path(dir).filename().string()));
        return step == RestoreSwapStep::kMoveIntoPlace && dir == live_docs ? absl::UnavailableError("injected fault")
                                                                           : absl::OkStatus();
      },
      live_docs);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  // Both aside, the records in place, then the documents failed.
  EXPECT_EQ(order, (std::vector<std::string>{"0 live", "0 live-docs", "1 live", "1 live-docs"}));
  EXPECT_TRUE(ViewAt(live_) == live_view_);
  auto d = xapi::DocumentStore::Open(live_docs);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->Get(state).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Siblings().empty()) << ::testing::PrintToString(Siblings());
}

TEST_F(RestoreSwapTest, BetweenTheRenamesBothCopiesAreCompleteOnDisk) {
  // What a crash between the two renames leaves: no DIR, the previous store
  // in DIR.replaced-<time>, the restored one in DIR.restoring-<time>; each
  // is a complete store (the operator moves one of them to DIR).
  bool checked = false;
  absl::StatusOr<RestoreResult> r = ForcedRestore([&](RestoreSwapStep step, const std::string&) {
    if (step != RestoreSwapStep::kMoveIntoPlace) return absl::OkStatus();
    EXPECT_FALSE(fs::exists(live_));
    std::vector<std::string> siblings = Siblings();
    EXPECT_EQ(siblings.size(), 2u) << ::testing::PrintToString(siblings);
    for (const std::string& f : siblings) {
      const bool replaced = f.find("live.replaced-") == 0;
      EXPECT_TRUE(replaced || f.find("live.restoring-") == 0) << f;
      EXPECT_TRUE(ViewAt(root_ + "/" + f) == (replaced ? live_view_ : backed_up_)) << f;
    }
    checked = true;
    return absl::OkStatus();
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(checked);
  EXPECT_TRUE(ViewAt(live_) == backed_up_);
}

TEST_F(RestoreSwapTest, ASuccessfulRestoreLeavesNoReplacedDirectory) {
  absl::StatusOr<RestoreResult> r = ForcedRestore();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(ViewAt(live_) == backed_up_);
  EXPECT_TRUE(r->not_removed.empty());
  EXPECT_TRUE(r->leftovers.empty());
  EXPECT_TRUE(Siblings().empty()) << ::testing::PrintToString(Siblings());
}

TEST_F(RestoreSwapTest, AReplacedDirectoryNotDeletedIsReportedAndListedByTheNextRestore) {
  absl::StatusOr<RestoreResult> r = ForcedRestore([](RestoreSwapStep step, const std::string&) {
    return step == RestoreSwapStep::kRemoveReplaced ? absl::UnavailableError("injected fault") : absl::OkStatus();
  });
  ASSERT_TRUE(r.ok()) << r.status();  // the restored store is in place
  EXPECT_TRUE(ViewAt(live_) == backed_up_);
  ASSERT_EQ(r->not_removed.size(), 1u);
  const std::string replaced = r->not_removed[0];
  EXPECT_EQ(fs::path(replaced).filename().string().find("live.replaced-"), 0u) << replaced;
  EXPECT_TRUE(ViewAt(replaced) == live_view_);
  // A later restore names it and leaves it alone.
  r = ForcedRestore();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->leftovers, std::vector<std::string>{replaced});
  EXPECT_TRUE(fs::exists(replaced));
  EXPECT_TRUE(r->not_removed.empty());
}

// A backup taken while an erasure's purge runs waits for it: the backup's
// files hold none of the erased bytes.
TEST_F(BackupsTest, ABackupWaitsForThePendingErasurePurge) {
  const std::string marker = "擦除标记-backup-3d71";
  Put({{.id = TestUuid(1), .learner = "u-erased", .course = "c1", .title = marker},
       {.id = TestUuid(2), .learner = "u-keep", .course = "c1"}});
  ASSERT_TRUE(store_->WaitForBackgroundWork().ok());  // the marker in a table file
  absl::Notification purge_started, release;
  hooks_.before_purge = [&]() -> absl::Status {
    purge_started.Notify();
    ::lifelong::testing::WaitOrFail(release, "the test to release the held purge");
    return absl::OkStatus();
  };
  Open(root_ + "/records");
  Erase("u-erased");
  ::lifelong::testing::WaitOrFail(purge_started, "the purge to start");
  absl::StatusOr<BackupInfo> b;
  absl::Notification backed_up;
  std::thread backup([&] {
    b = manager_->Create();
    backed_up.Notify();
  });
  EXPECT_FALSE(backed_up.WaitForNotificationWithTimeout(absl::Milliseconds(300))) << "did not wait for the purge";
  release.Notify();
  backup.join();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(lifelong::testing::AnyFileContains(root_ + "/backups", marker)) << "the backup holds erased bytes";
}

// A purge that keeps failing does not stop backups (they are what a lost
// disk is restored from); the erased statements stay unreadable in them.
TEST_F(BackupsTest, AFailingErasurePurgeDoesNotStopBackups) {
  hooks_.before_purge = [] { return absl::UnavailableError("no space left on device"); };
  Open(root_ + "/records");
  Put({{.id = TestUuid(1), .learner = "u-erased", .course = "c1"}, {.id = TestUuid(2), .learner = "u-keep"}});
  Erase("u-erased");
  absl::StatusOr<BackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  hooks_.before_purge = nullptr;
  absl::StatusOr<RestoreResult> r = Restore(b->id, root_ + "/restored");
  ASSERT_TRUE(r.ok()) << r.status();
  auto restored = RecordStore::Open(root_ + "/restored");
  ASSERT_TRUE(restored.ok()) << restored.status();
  StatementQuery q;
  q.learner = "u-erased";
  EXPECT_TRUE((*restored)->List(q)->statements.empty());
  EXPECT_EQ((*restored)->Get(*ParseUuid(TestUuid(1))).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*restored)->Get(*ParseUuid(TestUuid(2))).ok());
}

TEST_F(BackupsTest, RestoreReappliesErasuresMadeAfterTheBackup) {
  docs_ = std::move(*xapi::DocumentStore::Open(root_ + "/docs"));
  Open(root_ + "/records");
  // Erased and re-enrolled before the backup: the new records stay.
  Put({{.id = TestUuid(1), .learner = "u-keep", .course = "c1"}});
  Put({{.id = TestUuid(2), .learner = "u1", .course = "c1"}});
  Erase("u1");
  Put({{.id = TestUuid(3), .learner = "u1", .course = "c2"}});
  // Erased after the backup: gone again at restore, documents too.
  Put({{.id = TestUuid(4), .learner = "u-erased", .course = "c1"},
       {.id = TestUuid(5), .learner = "u-erased", .course = "c2"},
       {.id = TestUuid(6), .learner = "", .course = "c0", .group = {"u-erased", "u-keep"}}});
  // Live kiosk passes in the backup: the erased learner's, and one of a
  // learner known only by their pass (erased after the backup too).
  KioskPasses passes(store_.get());
  ASSERT_TRUE(passes.Create("u-erased").ok());
  ASSERT_TRUE(passes.Create("u-pass-only").ok());
  xapi::DocKey profile{xapi::DocKind::kAgentProfile, "", "u-erased", "", "prefs"};
  ASSERT_TRUE(docs_->Put(profile, "application/json", R"({"字体":"大"})", {}, 1).ok());
  absl::StatusOr<BackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_NE(b->documents_backup_id, 0u);
  ASSERT_TRUE(passes.EraseLearner("u-erased").ok());
  Erase("u-erased");
  ASSERT_TRUE(docs_->EraseLearner("u-erased").ok());
  ASSERT_TRUE(passes.EraseLearner("u-pass-only").ok());
  Erase("u-pass-only");

  const std::string target = root_ + "/restored";
  absl::StatusOr<RestoreResult> r = Restore(b->id, target, false, root_ + "/restored-docs");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->documents_restored);
  EXPECT_EQ(r->reerased_learners, 2);
  EXPECT_EQ(r->reerased_statements, 3);  // two alone, one group statement
  EXPECT_EQ(r->reerased_documents, 1);
  {
    std::unique_ptr<RecordStore> restored = OpenAt(target);
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(*restored->CountLearnerIndexEntries("u-erased"), 0);
    for (const char* l : {"u-erased", "u-pass-only"}) {
      EXPECT_EQ(restored->GetMeta(absl::StrCat(kMetaKioskPassOfPrefix, l)).status().code(), absl::StatusCode::kNotFound)
          << l << "'s kiosk pass came back";
    }
    EXPECT_EQ(*restored->CountLearnerIndexEntries("u1"), 1);      // re-enrolled after the earlier erasure
    EXPECT_EQ(*restored->CountLearnerIndexEntries("u-keep"), 2);  // own + the group statement
    EXPECT_TRUE(restored->Get(*ParseUuid(TestUuid(3))).ok());
    EXPECT_EQ(restored->Get(*ParseUuid(TestUuid(4))).status().code(), absl::StatusCode::kNotFound);
    // The group statement stays u-keep's, without u-erased in it.
    absl::StatusOr<StoredStatement> group = restored->Get(*ParseUuid(TestUuid(6)));
    ASSERT_TRUE(group.ok());
    EXPECT_EQ(group->record.json.find("u-erased"), std::string::npos);
    // u-erased enrols again on the restored store; a backup of it then keeps
    // that at its own restore (the ledger entry is marked held).
    std::vector<ParsedStatement> again;
    again.push_back(*ParseStatement(MakeStatement({.id = TestUuid(7), .learner = "u-erased"})));
    ASSERT_TRUE(restored->Record(std::move(again)).ok());
    BackupManagerOptions bo;
    bo.backup_dir = root_ + "/backups";
    // One manager per backup directory: the first still holds it.
    EXPECT_EQ(BackupManager::Open(restored.get(), bo).status().code(), absl::StatusCode::kFailedPrecondition);
    manager_.reset();
    auto m = BackupManager::Open(restored.get(), bo);
    ASSERT_TRUE(m.ok()) << m.status();
    absl::StatusOr<BackupInfo> b2 = (*m)->Create();
    ASSERT_TRUE(b2.ok()) << b2.status();
    m->reset();
    restored.reset();
    absl::StatusOr<RestoreResult> r2 = Restore(b2->id, root_ + "/restored-2");
    ASSERT_TRUE(r2.ok()) << r2.status();
    EXPECT_EQ(r2->reerased_learners, 0);
    std::unique_ptr<RecordStore> second = OpenAt(root_ + "/restored-2");
    EXPECT_EQ(*second->CountLearnerIndexEntries("u-erased"), 1);
  }
  auto docs = xapi::DocumentStore::Open(root_ + "/restored-docs");
  ASSERT_TRUE(docs.ok());
  EXPECT_EQ((*docs)->Get(profile).status().code(), absl::StatusCode::kNotFound);
}

// Learner cards bound before the backup, of learners erased after it: the
// restore erases the cards again (binding and PIN hash), also of a learner
// whose only data is the card, so the card and PIN do not sign them in at a
// kiosk. Another learner's card stays. (Before, the restore re-erased kiosk
// passes, statements and documents, but not learner cards.)
TEST_F(BackupsTest, RestoreReerasesLearnerCardsOfLearnersErasedAfterTheBackup) {
  auto card = [](const std::string& first11) { return first11 + LearnerCards::LuhnDigit(first11); };
  const std::string erased_card = card("10000000001");
  const std::string card_only_card = card("10000000002");
  const std::string kept_card = card("10000000003");
  Put({{.id = TestUuid(1), .learner = "u-erased", .course = "c1"},
       {.id = TestUuid(2), .learner = "u-keep", .course = "c1"}});
  LearnerCardOptions co;
  co.pbkdf2_iterations = 1;
  {
    LearnerCards cards(store_.get(), co);
    ASSERT_TRUE(cards.Bind(erased_card, "u-erased", "2580").ok());
    ASSERT_TRUE(cards.Bind(card_only_card, "u-card-only", "3691").ok());
    ASSERT_TRUE(cards.Bind(kept_card, "u-keep", "4827").ok());
  }
  absl::StatusOr<BackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  {
    // As RecordsService::EraseLearner: the card, then the store and ledger.
    LearnerCards cards(store_.get(), co);
    for (const char* l : {"u-erased", "u-card-only"}) {
      ASSERT_TRUE(cards.EraseLearner(l).ok());
      Erase(l);
    }
  }

  const std::string target = root_ + "/restored";
  absl::StatusOr<RestoreResult> r = Restore(b->id, target);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->reerased_learners, 2);
  EXPECT_EQ(r->reerased_statements, 1);
  std::unique_ptr<RecordStore> restored = OpenAt(target);
  ASSERT_NE(restored, nullptr);
  LearnerCards cards(restored.get(), co);
  for (const auto& [learner, number] :
       std::map<std::string, std::string>{{"u-erased", erased_card}, {"u-card-only", card_only_card}}) {
    EXPECT_EQ(cards.Get(number).status().code(), absl::StatusCode::kNotFound) << learner << "'s card came back";
    EXPECT_EQ(cards.OfLearner(learner).status().code(), absl::StatusCode::kNotFound) << learner;
    EXPECT_EQ(restored->GetMeta(absl::StrCat(kMetaLearnerCardPrefix, number)).status().code(),
              absl::StatusCode::kNotFound)
        << learner;
    EXPECT_EQ(restored->GetMeta(absl::StrCat(kMetaLearnerCardOfPrefix, learner)).status().code(),
              absl::StatusCode::kNotFound)
        << learner;
  }
  EXPECT_EQ(cards.Redeem("kiosk-1", erased_card, "2580").status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<LearnerCardStatus> kept = cards.Get(kept_card);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->learner, "u-keep");
  absl::StatusOr<std::string> signed_in = cards.Redeem("kiosk-1", kept_card, "4827");
  ASSERT_TRUE(signed_in.ok()) << signed_in.status();
  EXPECT_EQ(*signed_in, "u-keep");
}

// A learner the backup knows only as named in others' statements (their
// instructor), erased after the backup: the restore scrubs them from those
// statements again, as their erasure did on the live store. (Before, the
// restore looked for erased learners among the statements' actors only.)
TEST_F(BackupsTest, RestoreScrubsALearnerNamedOnlyInOthersStatements) {
  std::string text = MakeStatement({.id = TestUuid(1), .learner = "u-keep", .course = "c1"});
  text.insert(text.size() - 1,
              R"(,"context":{"instructor":{"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u-teacher"}}})");
  std::vector<ParsedStatement> batch;
  absl::StatusOr<ParsedStatement> p = ParseStatement(text);
  ASSERT_TRUE(p.ok()) << p.status();
  batch.push_back(*std::move(p));
  ASSERT_TRUE(store_->Record(std::move(batch)).ok());
  absl::StatusOr<BackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  Erase("u-teacher");
  ASSERT_EQ(store_->Get(*ParseUuid(TestUuid(1)))->record.json.find("u-teacher"), std::string::npos);

  const std::string target = root_ + "/restored";
  absl::StatusOr<RestoreResult> r = Restore(b->id, target);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->reerased_learners, 1);
  EXPECT_EQ(r->reerased_statements, 0);  // none of their own
  std::unique_ptr<RecordStore> restored = OpenAt(target);
  ASSERT_NE(restored, nullptr);
  absl::StatusOr<StoredStatement> kept = restored->Get(*ParseUuid(TestUuid(1)));
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->record.json.find("u-teacher"), std::string::npos) << kept->record.json;
  EXPECT_EQ(kept->record.learners, std::vector<std::string>{"u-keep"});
}

// A forced restore over a single node's stopped store that holds statements
// recorded after the backup refuses to lose them unless told to, naming how
// many; told to, it reports them. (Before, --force deleted them silently.)
TEST_F(BackupsTest, AForcedRestoreDoesNotSilentlyDropNewerStatements) {
  Put({{.id = TestUuid(1)}, {.id = TestUuid(2), .learner = "u2"}});
  absl::StatusOr<BackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  Put({{.id = TestUuid(3), .learner = "u3"}});
  manager_.reset();
  store_.reset();
  const std::string live = root_ + "/records";
  absl::StatusOr<RestoreResult> r = Restore(b->id, live, /*force=*/true);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find("1 statement(s) recorded after backup"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("--discard_newer"), std::string::npos) << r.status();
  {
    std::unique_ptr<RecordStore> untouched = OpenAt(live);
    ASSERT_NE(untouched, nullptr);
    EXPECT_TRUE(untouched->Get(*ParseUuid(TestUuid(3))).ok()) << "the refused restore changed the store";
  }
  RestoreRequest discard;
  discard.backup_dir = root_ + "/backups";
  discard.backup_id = b->id;
  discard.data_dir = live;
  discard.force = true;
  discard.discard_newer = true;
  r = RestoreBackup(discard);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->discarded_statements, 1u);
  EXPECT_EQ(r->statements, 2u);
  // Nothing newer: a forced restore goes ahead and discards nothing.
  r = Restore(b->id, live, /*force=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->discarded_statements, 0u);
  std::unique_ptr<RecordStore> restored = OpenAt(live);
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->Get(*ParseUuid(TestUuid(3))).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(BackupsTest, DocumentsAreBackedUpAndRestored) {
  docs_ = std::move(*xapi::DocumentStore::Open(root_ + "/docs"));
  Open(root_ + "/records");
  xapi::DocKey state{xapi::DocKind::kState, "https://courses.dongcheng.gov.cn/course/c1", "u1", "", "进度"};
  ASSERT_TRUE(docs_->Put(state, "application/json", R"({"页":12})", {}, 1).ok());
  absl::StatusOr<BackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(docs_->Delete(state, {}).ok());
  ASSERT_TRUE(manager_->Verify(b->id).ok());
  // Without a documents directory the documents are not restored.
  absl::StatusOr<RestoreResult> r = Restore(b->id, root_ + "/r1");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->documents_restored);
  r = Restore(b->id, root_ + "/r2", false, root_ + "/r2-docs");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->documents_restored);
  auto docs = xapi::DocumentStore::Open(root_ + "/r2-docs");
  ASSERT_TRUE(docs.ok());
  absl::StatusOr<xapi::Document> d = (*docs)->Get(state);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->content, R"({"页":12})");
}

// As the service keeps them: the documents a family of the record database,
// so in its backup, and an erasure after the backup re-applied at restore
// takes the learner's documents in the same batch.
TEST_F(BackupsTest, DocumentsInTheRecordDatabaseAreInItsBackupAndReErasedAtRestore) {
  std::unique_ptr<xapi::DocumentStore> docs =
      xapi::DocumentStore::InDatabase(store_->rocks_for_documents(), store_->documents_family());
  store_->SetEraseExtension([&docs](const std::string& learner, rocksdb::WriteBatch* batch) {
    return docs->EraseLearnerInto(learner, batch);
  });
  Put({{.id = TestUuid(1), .learner = "u-keep", .course = "c1"},
       {.id = TestUuid(2), .learner = "u-erased", .course = "c1"}});
  xapi::DocKey kept{xapi::DocKind::kAgentProfile, "", "u-keep", "", "prefs"};
  xapi::DocKey erased{xapi::DocKind::kAgentProfile, "", "u-erased", "", "prefs"};
  ASSERT_TRUE(docs->Put(kept, "application/json", R"({"字体":"大"})", {}, 1).ok());
  ASSERT_TRUE(docs->Put(erased, "application/json", R"({"字体":"小"})", {}, 1).ok());
  absl::StatusOr<BackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->documents_in_records);
  EXPECT_EQ(b->documents_backup_id, 0u);
  Erase("u-erased");
  EXPECT_EQ(docs->Get(erased).status().code(), absl::StatusCode::kNotFound) << "erased with the statements";

  const std::string target = root_ + "/restored";
  absl::StatusOr<RestoreResult> r = Restore(b->id, target);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->documents_restored);
  EXPECT_EQ(r->reerased_learners, 1);
  EXPECT_EQ(r->reerased_statements, 1);
  EXPECT_EQ(r->reerased_documents, 1);
  std::unique_ptr<RecordStore> restored = OpenAt(target);
  ASSERT_NE(restored, nullptr);
  std::unique_ptr<xapi::DocumentStore> restored_docs =
      xapi::DocumentStore::InDatabase(restored->rocks_for_documents(), restored->documents_family());
  absl::StatusOr<xapi::Document> d = restored_docs->Get(kept);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->content, R"({"字体":"大"})");
  EXPECT_EQ(restored_docs->Get(erased).status().code(), absl::StatusCode::kNotFound) << "the erasure came back";
}

TEST_F(BackupsTest, PurgeKeepsTheNewestAndTheirDocuments) {
  docs_ = std::move(*xapi::DocumentStore::Open(root_ + "/docs"));
  Open(root_ + "/records");
  for (int i = 0; i < 4; ++i) {
    Put({{.id = TestUuid(i)}});
    ASSERT_TRUE(manager_->Create().ok());
  }
  EXPECT_EQ(manager_->Purge(0).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<int> purged = manager_->Purge(2);
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 2);
  absl::StatusOr<std::vector<BackupInfo>> left = manager_->List();
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[0].id, 3u);
  EXPECT_EQ((*left)[1].id, 4u);
  EXPECT_EQ((*left)[1].statements, 4u);
  for (const BackupInfo& b : *left) EXPECT_TRUE(manager_->Verify(b.id).ok());
  absl::StatusOr<RestoreResult> r = Restore(3, root_ + "/r", false, root_ + "/r-docs");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->statements, 3u);
}

TEST_F(BackupsTest, SchedulerTakesBackupsAtItsIntervalAndKeepsN) {
  Put({{.id = TestUuid(1)}});
  std::atomic<int> ok{0}, failed{0};
  absl::Notification four;
  BackupSchedulerOptions o;
  o.interval = absl::Milliseconds(20);
  o.keep = 2;
  o.on_result = [&](const absl::StatusOr<BackupInfo>& b) {
    (b.ok() ? ok : failed)++;
    if (ok.load() == 4) four.Notify();
  };
  BackupScheduler scheduler(manager_.get(), o);
  scheduler.Start();
  // Writers go on meanwhile.
  for (int i = 10; i < 40; ++i) Put({{.id = TestUuid(i)}});
  ASSERT_TRUE(four.WaitForNotificationWithTimeout(absl::Seconds(120)));
  scheduler.Stop();
  EXPECT_EQ(failed.load(), 0);
  absl::StatusOr<std::vector<BackupInfo>> left = manager_->List();
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 2u);
  const int taken = ok.load();
  EXPECT_EQ(left->back().id, static_cast<uint32_t>(taken));
  // Stopped: no more backups.
  EXPECT_EQ(ok.load(), taken);
  // RunOnce: one round on the caller's thread.
  BackupScheduler manual(manager_.get(), o);
  absl::StatusOr<BackupInfo> b = manual.RunOnce();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->id, static_cast<uint32_t>(taken + 1));
  EXPECT_EQ(manager_->List()->size(), 2u);
}

// The schedule follows the newest backup in the directory, not the start:
// none, or one older than the interval, means a backup at once.
TEST_F(BackupsTest, SchedulerBacksUpAtOnceWhenTheNewestBackupIsOverdue) {
  Put({{.id = TestUuid(1)}});
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "no backup yet" : "the newest is two hours old");
    if (round == 1) {
      clock_ = absl::ToUnixMicros(absl::Now() - absl::Hours(2));
      ASSERT_TRUE(manager_->Create().ok());
      clock_ = absl::ToUnixMicros(absl::Now());
    }
    const size_t before = manager_->List()->size();
    absl::Notification done;
    BackupSchedulerOptions o;
    o.interval = absl::Hours(1);
    o.keep = 5;
    o.on_result = [&](const absl::StatusOr<BackupInfo>& b) {
      EXPECT_TRUE(b.ok()) << b.status();
      if (!done.HasBeenNotified()) done.Notify();
    };
    BackupScheduler scheduler(manager_.get(), o);
    scheduler.Start();
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(60)));
    scheduler.Stop();
    EXPECT_EQ(manager_->List()->size(), before + 1);
  }
}

// A crash between a restore's renames leaves DIR missing and the previous
// store in DIR.replaced-*: a server must not start there (it would create an
// empty store); with DIR present (the swap finished) it may.
TEST(CheckNoInterruptedRestore, RefusesAMissingStoreWithAReplacedSibling) {
  const std::string root = TempDir("interrupted_restore");
  const std::string dir = root + "/records";
  EXPECT_TRUE(CheckNoInterruptedRestore(dir).ok()) << "a fresh directory";
  std::filesystem::create_directories(dir + ".replaced-1764000000000000");
  absl::Status s = CheckNoInterruptedRestore(dir);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("records.replaced-1764000000000000"), std::string::npos) << s;
  EXPECT_EQ(CheckNoInterruptedRestore(dir + "/").code(), absl::StatusCode::kFailedPrecondition);
  std::filesystem::create_directories(dir);
  EXPECT_TRUE(CheckNoInterruptedRestore(dir).ok()) << "the swap finished; the old copy is only to delete";
}

TEST(DefaultBackupDir, BesideTheDataDirectory) {
  EXPECT_EQ(DefaultBackupDir("var/records"), "var/records-backups");
  EXPECT_EQ(DefaultBackupDir("var/records/"), "var/records-backups");
  EXPECT_EQ(DefaultBackupDir("/srv/cluster/records-2"), "/srv/cluster/records-2-backups");
  EXPECT_EQ(DefaultBackupDir("records"), "records-backups");
}

TEST(ErasureLedger, AppendsReadsAndToleratesOnlyATornLastLine) {
  const std::string dir = TempDir("ledger");
  const std::string path = dir + "/erasure-ledger.jsonl";
  EXPECT_TRUE(ErasureLedger::ReadAll(path)->empty());  // absent: empty
  {
    auto ledger = ErasureLedger::Open(path);
    ASSERT_TRUE(ledger.ok());
    ASSERT_TRUE((*ledger)->Append("u1", 10).ok());
    ASSERT_TRUE((*ledger)->Append("u2", 20).ok());
  }
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("u1"), std::string::npos) << "the ledger names learners by digest only";
  auto entries = ErasureLedger::ReadAll(path);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].time_us, 10);
  EXPECT_EQ((*entries)[0].learner_digest, LearnerDigest("u1"));
  EXPECT_EQ((*entries)[1].learner_digest, LearnerDigest("u2"));
  std::ofstream(path, std::ios::app) << R"({"time_us":30,"learner_sha)";
  ASSERT_EQ(ErasureLedger::ReadAll(path)->size(), 2u);
  std::ofstream(path, std::ios::app) << "\n"
                                     << R"({"time_us":40,"learner_sha256":")" << std::string(64, 'a') << "\"}\n";
  EXPECT_EQ(ErasureLedger::ReadAll(path).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace lifelong::records
