#include "services/catalog/catalog_backups.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "proto/lifelong/v1/catalog.pb.h"
#include "services/catalog/catalog_log.h"
#include "services/storage/backup_testing.h"

namespace lifelong::catalog {
namespace {

namespace fs = std::filesystem;
using lifelong::v1::Course;
using lifelong::v1::Programme;

std::string FreshDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/catalog_backups_test/", name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

Course MakeCourse(const std::string& id, const std::string& title) {
  Course c;
  c.set_id(id);
  c.set_title(title);
  c.set_category("传统文化");
  c.mutable_provider()->set_name("和平里社区学校");
  c.mutable_provider()->set_kind(lifelong::v1::Provider::COMMUNITY_SCHOOL);
  c.set_mode(Course::OFFLINE);
  c.mutable_venue()->set_id("v-hpl");
  c.mutable_venue()->set_xuequ("和平里学区");
  c.set_capacity(30);
  c.set_seats_taken(12);
  c.set_state(Course::OPEN);
  return c;
}

Programme MakeProgramme(const std::string& id, const std::string& required) {
  Programme p;
  p.set_id(id);
  p.set_name(absl::StrCat("社区教育证书 ", id));
  p.set_credits(12);
  p.add_required_course_ids(required);
  return p;
}

// Everything a reader sees of a catalog: each course and programme as
// stored (revisions, etags, seats), and the counters.
struct CatalogView {
  std::map<std::string, std::string> courses;
  std::map<std::string, std::string> programmes;
  int64_t generation = 0;
  bool operator==(const CatalogView& o) const {
    return courses == o.courses && programmes == o.programmes && generation == o.generation;
  }
};

// A one-node replicated catalog's log: an append lands when the log ends at
// `expected_last` and is applied to the node at once; CatchUp applies what
// the node lacks (catalog_log_apply_test has the multi-node one).
class ImmediateLog : public CatalogLog {
 public:
  void set_store(CatalogStore* store) { store_ = store; }
  absl::StatusOr<bool> Append(CatalogLogEntry kind, const std::string& payload, uint64_t expected_last) override {
    if (expected_last != entries.size()) return false;
    entries.emplace_back(kind, payload);
    return store_->ApplyLogged(entries.size(), kind, payload).ok();
  }
  absl::Status CatchUp() override {
    for (uint64_t seq = store_->AppliedLogSeq() + 1; seq <= entries.size(); ++seq) {
      if (absl::Status s = store_->ApplyLogged(seq, entries[seq - 1].first, entries[seq - 1].second); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }
  std::vector<std::pair<CatalogLogEntry, std::string>> entries;

 private:
  CatalogStore* store_ = nullptr;
};

CatalogView ViewOf(const CatalogStore& store) {
  CatalogView v;
  lifelong::v1::ListCoursesRequest req;
  req.set_show_archived(true);
  req.set_page_size(1000);
  absl::StatusOr<lifelong::v1::ListCoursesResponse> page = store.ListCourses(req);
  EXPECT_TRUE(page.ok()) << page.status();
  if (page.ok()) {
    for (const Course& c : page->courses()) v.courses[c.id()] = c.SerializeAsString();
  }
  absl::StatusOr<std::vector<Programme>> programmes = store.ListProgrammes();
  EXPECT_TRUE(programmes.ok()) << programmes.status();
  if (programmes.ok()) {
    for (const Programme& p : *programmes) v.programmes[p.id()] = p.SerializeAsString();
  }
  v.generation = store.GetCatalogInfo()->generation();
  return v;
}

class CatalogBackupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = FreshDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto store = CatalogStore::Open(root_ + "/catalog");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    CatalogBackupOptions o;
    o.backup_dir = root_ + "/backups";
    o.now_micros = [this] { return clock_.fetch_add(1000); };
    auto m = CatalogBackupManager::Open(store_.get(), o);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = *std::move(m);
  }

  void Put(const std::string& id, const std::string& title = "太极拳入门") {
    ASSERT_TRUE(store_->CreateCourse(MakeCourse(id, title)).ok()) << id;
  }

  absl::StatusOr<CatalogRestoreResult> Restore(uint32_t id, const std::string& dir, bool force = false,
                                               storage::RestoreSwapFault fault = nullptr) {
    CatalogRestoreRequest r;
    r.backup_dir = root_ + "/backups";
    r.backup_id = id;
    r.data_dir = dir;
    r.force = force;
    r.swap_fault = std::move(fault);
    r.now_micros = [this] { return clock_.load(); };
    return RestoreCatalogBackup(r);
  }

  // The view of the catalog at `dir` (opened and closed again).
  CatalogView ViewAt(const std::string& dir) {
    auto s = CatalogStore::Open(dir);
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return CatalogView();
    CatalogView v = ViewOf(**s);
    EXPECT_TRUE((*s)->Close().ok());
    return v;
  }

  // Entries of root_ that a restore leaves beside its target.
  std::vector<std::string> Siblings() { return storage::testing::RestoreSiblingsIn(root_); }

  std::string root_;
  std::atomic<int64_t> clock_{1'764'000'000'000'000};
  std::unique_ptr<CatalogStore> store_;
  std::unique_ptr<CatalogBackupManager> manager_;
};

TEST_F(CatalogBackupsTest, CreateListAndVerifyRecordTheCatalogAtTheStart) {
  Put("c1");
  Put("c2");
  ASSERT_TRUE(store_->ArchiveCourse("c2", "").ok());
  ASSERT_TRUE(store_->PutProgramme(MakeProgramme("p1", "c1")).ok());
  absl::StatusOr<CatalogBackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->id, 1u);
  EXPECT_EQ(b->created_us, 1'764'000'000'000'000);
  EXPECT_EQ(b->generation, 4u);
  EXPECT_EQ(b->courses, 2u);
  EXPECT_EQ(b->archived, 1u);
  EXPECT_EQ(b->programmes, 1u);
  EXPECT_GT(b->size_bytes, 0u);
  EXPECT_GT(b->files, 0u);
  Put("c3");
  ASSERT_TRUE(manager_->Create().ok());

  absl::StatusOr<std::vector<CatalogBackupInfo>> all = manager_->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, 1u);
  EXPECT_EQ((*all)[0].courses, 2u);
  EXPECT_EQ((*all)[1].id, 2u);
  EXPECT_EQ((*all)[1].courses, 3u);
  EXPECT_EQ((*all)[1].generation, 5u);
  EXPECT_EQ(manager_->stats().created, 2u);
  EXPECT_EQ(manager_->stats().last_success_us, (*all)[1].created_us);

  absl::StatusOr<CatalogBackupInfo> v = manager_->Verify(1);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->generation, 4u);
  EXPECT_EQ(manager_->Verify(9).status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(manager_->Verify(9).status().message().find("backup_id"), std::string::npos);
  EXPECT_EQ(manager_->Verify(0).status().code(), absl::StatusCode::kInvalidArgument);

  // Read-only listing (the CLI's), and one writer per backup directory.
  absl::StatusOr<std::vector<CatalogBackupInfo>> offline = ListCatalogBackupsIn(root_ + "/backups");
  ASSERT_TRUE(offline.ok()) << offline.status();
  EXPECT_EQ(offline->size(), 2u);
  EXPECT_EQ(ListCatalogBackupsIn(root_ + "/none").status().code(), absl::StatusCode::kNotFound);
  CatalogBackupOptions again;
  again.backup_dir = root_ + "/backups";
  EXPECT_EQ(CatalogBackupManager::Open(store_.get(), again).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CatalogBackupManager::Open(store_.get(), {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CatalogBackupsTest, VerifyDetectsACorruptedFileAndRestoreRefusesIt) {
  for (int i = 0; i < 30; ++i) Put(absl::StrCat("c", i), absl::StrCat("书法 第", i, "期"));
  absl::StatusOr<CatalogBackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(manager_->Verify(b->id).ok());
  // One byte flipped in the middle of the largest table file (same size).
  ASSERT_FALSE(storage::testing::FlipByteInLargestTable(root_ + "/backups/catalog").empty());
  absl::StatusOr<CatalogBackupInfo> v = manager_->Verify(b->id);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss) << v.status();
  EXPECT_NE(v.status().message().find("backup 1 (catalog)"), std::string::npos) << v.status();
  const std::string target = root_ + "/restored";
  absl::StatusOr<CatalogRestoreResult> r = Restore(b->id, target);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(fs::exists(target) && !fs::is_empty(target));
  EXPECT_TRUE(Siblings().empty()) << ::testing::PrintToString(Siblings());
}

TEST_F(CatalogBackupsTest, PurgeKeepsTheNewestN) {
  for (int i = 0; i < 4; ++i) {
    Put(absl::StrCat("c", i));
    ASSERT_TRUE(manager_->Create().ok());
  }
  EXPECT_EQ(manager_->Purge(0).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<int> purged = manager_->Purge(2);
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 2);
  absl::StatusOr<std::vector<CatalogBackupInfo>> left = manager_->List();
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[0].id, 3u);
  EXPECT_EQ((*left)[1].id, 4u);
  for (const CatalogBackupInfo& b : *left) EXPECT_TRUE(manager_->Verify(b.id).ok()) << b.id;
  absl::StatusOr<CatalogRestoreResult> r = Restore(3, root_ + "/r");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->courses, 3u);
}

TEST_F(CatalogBackupsTest, RestoreHoldsTheBackedUpCoursesAndProgrammesNotLaterWrites) {
  Put("c1", "太极拳入门");
  Put("c2", "书法 楷书");
  ASSERT_TRUE(store_->PutProgramme(MakeProgramme("p1", "c1")).ok());
  const CatalogView at_backup = ViewOf(*store_);
  absl::StatusOr<CatalogBackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();

  // After the backup: a new course, a changed one (seats), an archived one,
  // a new programme.
  Put("c3", "摄影 基础");
  Course c1 = *store_->GetCourse("c1");
  c1.set_seats_taken(29);
  google::protobuf::FieldMask mask;
  mask.add_paths("seats_taken");
  ASSERT_TRUE(store_->UpdateCourse(c1, mask).ok());
  ASSERT_TRUE(store_->ArchiveCourse("c2", "").ok());
  ASSERT_TRUE(store_->PutProgramme(MakeProgramme("p2", "c3")).ok());
  ASSERT_FALSE(ViewOf(*store_) == at_backup);

  const std::string target = root_ + "/restored";
  absl::StatusOr<CatalogRestoreResult> r = Restore(0, target);  // 0: the newest
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->backup.id, b->id);
  EXPECT_EQ(r->courses, 2u);
  EXPECT_EQ(r->archived, 0u);
  EXPECT_EQ(r->programmes, 1u);
  // The generation moves to the restore's time (microseconds), past every
  // one the catalog served before.
  EXPECT_EQ(r->generation, static_cast<uint64_t>(clock_.load()));
  EXPECT_TRUE(r->leftovers.empty());
  EXPECT_TRUE(r->not_removed.empty());
  const CatalogView restored_view = ViewAt(target);
  EXPECT_EQ(restored_view.courses, at_backup.courses);
  EXPECT_EQ(restored_view.programmes, at_backup.programmes);
  EXPECT_EQ(restored_view.generation, static_cast<int64_t>(r->generation));
  {
    auto restored = CatalogStore::Open(target);
    ASSERT_TRUE(restored.ok());
    EXPECT_EQ((*restored)->GetCourse("c3").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ((*restored)->GetCourse("c1")->seats_taken(), 12);
    EXPECT_EQ((*restored)->GetProgramme("p2").status().code(), absl::StatusCode::kNotFound);
    // The restored catalog takes writes; its generation goes on from there.
    ASSERT_TRUE((*restored)->CreateCourse(MakeCourse("c9", "围棋")).ok());
    EXPECT_EQ((*restored)->GetCatalogInfo()->generation(), static_cast<int64_t>(r->generation) + 1);
    ASSERT_TRUE((*restored)->Close().ok());
  }
  EXPECT_TRUE(Siblings().empty()) << ::testing::PrintToString(Siblings());
}

// A client read a course (its etag) after two edits made since the backup;
// the backup is restored and the course edited twice again: the same
// revision, other contents. The old etag must not match it.
TEST_F(CatalogBackupsTest, AnEtagFromBeforeARestoreIsStaleAfterAsManyEdits) {
  Put("c1");
  absl::StatusOr<CatalogBackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  google::protobuf::FieldMask seats;
  seats.add_paths("seats_taken");
  auto edit = [&seats](CatalogStore& store, int taken) {
    Course c = *store.GetCourse("c1");
    c.set_seats_taken(taken);
    absl::StatusOr<Course> updated = store.UpdateCourse(c, seats);
    EXPECT_TRUE(updated.ok()) << updated.status();
    return updated.value_or(Course());
  };
  edit(*store_, 20);
  const Course read_before = edit(*store_, 21);  // revision 3: what a client holds
  ASSERT_EQ(read_before.revision(), 3);

  const std::string target = root_ + "/restored";
  ASSERT_TRUE(Restore(b->id, target).ok());
  auto restored = CatalogStore::Open(target);
  ASSERT_TRUE(restored.ok()) << restored.status();
  CatalogStore& after = **restored;
  edit(after, 5);
  const Course now = edit(after, 6);
  ASSERT_EQ(now.revision(), read_before.revision());  // the revision repeats...
  EXPECT_NE(now.etag(), read_before.etag());          // ...the etag does not

  Course stale = read_before;
  stale.set_seats_taken(22);
  EXPECT_EQ(after.UpdateCourse(stale, seats).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(after.ArchiveCourse("c1", read_before.etag()).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(after.GetCourse("c1")->seats_taken(), 6);
  EXPECT_EQ(after.GetCourse("c1")->state(), Course::OPEN);
  ASSERT_TRUE(after.Close().ok());
}

// The recommender's cache reloads the catalog when GetCatalogInfo's
// generation differs from the one it holds: after a restore and as many
// writes as the restore lost, the generation must not come back to it.
TEST_F(CatalogBackupsTest, TheGenerationAfterARestoreNeverRepeatsOneServedBefore) {
  Put("c1");
  absl::StatusOr<CatalogBackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  Put("c2");
  Put("c3");
  const int64_t served = store_->GetCatalogInfo()->generation();  // what the cache holds

  const std::string target = root_ + "/restored";
  absl::StatusOr<CatalogRestoreResult> r = Restore(b->id, target);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->generation, static_cast<uint64_t>(served));
  auto restored = CatalogStore::Open(target);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ((*restored)->GetCatalogInfo()->generation(), static_cast<int64_t>(r->generation));
  ASSERT_TRUE((*restored)->CreateCourse(MakeCourse("c4", "围棋")).ok());
  ASSERT_TRUE((*restored)->CreateCourse(MakeCourse("c5", "象棋")).ok());
  EXPECT_GT((*restored)->GetCatalogInfo()->generation(), served);
  ASSERT_TRUE((*restored)->Close().ok());
}

// A node of a replicated catalog: its database has applied a log position
// and does not open without the log, yet its backup restores (the check
// opens the copy read-only) with the backup's courses and position, from
// which the node catches up once started with the log.
TEST_F(CatalogBackupsTest, ANodesBackupRestoresWithItsLogPosition) {
  manager_.reset();
  ASSERT_TRUE(store_->Close().ok());
  ImmediateLog log;
  CatalogStoreOptions node;
  node.log = &log;
  auto opened = CatalogStore::Open(root_ + "/node", node);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = *std::move(opened);
  log.set_store(store_.get());
  Put("c1");
  Put("c2");
  ASSERT_TRUE(store_->PutProgramme(MakeProgramme("p1", "c1")).ok());
  ASSERT_EQ(store_->AppliedLogSeq(), 3u);
  const CatalogView at_backup = ViewOf(*store_);
  CatalogBackupOptions o;
  o.backup_dir = root_ + "/backups";
  o.now_micros = [this] { return clock_.fetch_add(1000); };
  auto m = CatalogBackupManager::Open(store_.get(), o);
  ASSERT_TRUE(m.ok()) << m.status();
  manager_ = *std::move(m);
  absl::StatusOr<CatalogBackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->applied_log_seq, 3u);
  Put("c3");  // after the backup: position 4, in the log only

  const std::string target = root_ + "/restored";
  absl::StatusOr<CatalogRestoreResult> r = Restore(b->id, target);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->applied_log_seq, 3u);
  EXPECT_EQ(r->courses, 2u);
  EXPECT_EQ(r->programmes, 1u);
  EXPECT_EQ(r->generation, b->generation);
  EXPECT_TRUE(Siblings().empty()) << ::testing::PrintToString(Siblings());
  // Still a node: refused without the log.
  EXPECT_EQ(CatalogStore::Open(target).status().code(), absl::StatusCode::kFailedPrecondition);
  // With the log: the backup's catalog at its position, then the log's end.
  ImmediateLog same_log;
  same_log.entries = log.entries;
  CatalogStoreOptions restored_node;
  restored_node.log = &same_log;
  auto restored = CatalogStore::Open(target, restored_node);
  ASSERT_TRUE(restored.ok()) << restored.status();
  same_log.set_store(restored->get());
  EXPECT_EQ((*restored)->AppliedLogSeq(), 3u);
  EXPECT_TRUE(ViewOf(**restored) == at_backup);
  ASSERT_TRUE(same_log.CatchUp().ok());
  EXPECT_EQ((*restored)->AppliedLogSeq(), 4u);
  EXPECT_TRUE(ViewOf(**restored) == ViewOf(*store_));
  ASSERT_TRUE((*restored)->Close().ok());
}

TEST_F(CatalogBackupsTest, RestoreRefusesTheOpenStoreAndANonEmptyTargetUnlessForced) {
  Put("c1");
  absl::StatusOr<CatalogBackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok());
  // The live catalog's directory: refused even with force (its lock is held).
  absl::StatusOr<CatalogRestoreResult> r = Restore(b->id, root_ + "/catalog", /*force=*/true);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find("lock"), std::string::npos) << r.status();
  EXPECT_TRUE(ViewOf(*store_).courses.count("c1"));
  // A non-empty directory needs force.
  const std::string occupied = root_ + "/occupied";
  fs::create_directories(occupied);
  std::ofstream(occupied + "/precious.txt") << "keep me";
  r = Restore(b->id, occupied);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("data_dir"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("--force"), std::string::npos) << r.status();
  EXPECT_TRUE(fs::exists(occupied + "/precious.txt"));
  // Unknown backup, missing fields.
  EXPECT_EQ(Restore(9, root_ + "/empty").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Restore(b->id, "").status().code(), absl::StatusCode::kInvalidArgument);
  // Forced: replaced, the old directory gone once the new one is in place.
  r = Restore(b->id, occupied, /*force=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(fs::exists(occupied + "/precious.txt"));
  EXPECT_EQ(ViewAt(occupied).courses.size(), 1u);
  EXPECT_TRUE(Siblings().empty()) << ::testing::PrintToString(Siblings());
}

// A failing step of the swap leaves the previous catalog in place, whole.
TEST_F(CatalogBackupsTest, ASwapFaultLeavesTheOldCatalogInPlace) {
  Put("c1");
  absl::StatusOr<CatalogBackupInfo> b = manager_->Create();
  ASSERT_TRUE(b.ok());
  const std::string live = root_ + "/live";
  {
    auto other = CatalogStore::Open(live);
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE((*other)->CreateCourse(MakeCourse("c7", "剪纸")).ok());
    ASSERT_TRUE((*other)->CreateCourse(MakeCourse("c8", "京剧欣赏")).ok());
    ASSERT_TRUE((*other)->Close().ok());
  }
  const CatalogView before = ViewAt(live);
  ASSERT_EQ(before.courses.size(), 2u);
  for (storage::RestoreSwapStep failing :
       {storage::RestoreSwapStep::kMoveAside, storage::RestoreSwapStep::kMoveIntoPlace}) {
    SCOPED_TRACE(static_cast<int>(failing));
    absl::StatusOr<CatalogRestoreResult> r =
        Restore(b->id, live, /*force=*/true, [&](storage::RestoreSwapStep step, const std::string&) {
          return step == failing ? absl::UnavailableError("injected fault") : absl::OkStatus();
        });
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
    EXPECT_NE(r.status().message().find("injected fault"), std::string::npos) << r.status();
    EXPECT_TRUE(ViewAt(live) == before);
    EXPECT_TRUE(Siblings().empty()) << ::testing::PrintToString(Siblings());
  }
  // Deleting the replaced copy fails: the restore stands, the copy is named.
  absl::StatusOr<CatalogRestoreResult> r =
      Restore(b->id, live, /*force=*/true, [](storage::RestoreSwapStep step, const std::string&) {
        return step == storage::RestoreSwapStep::kRemoveReplaced ? absl::UnavailableError("injected fault")
                                                                 : absl::OkStatus();
      });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->not_removed.size(), 1u);
  EXPECT_TRUE(ViewAt(r->not_removed[0]) == before);
  EXPECT_EQ(ViewAt(live).courses.count("c1"), 1u);
}

TEST_F(CatalogBackupsTest, SchedulerBacksUpAtOnceThenAtItsIntervalAndKeepsN) {
  Put("c1");
  std::atomic<int> ok{0}, failed{0};
  absl::Notification four;
  CatalogBackupSchedulerOptions o;
  o.interval = absl::Milliseconds(20);
  o.keep = 2;
  o.on_result = [&](const absl::StatusOr<CatalogBackupInfo>& b) {
    (b.ok() ? ok : failed)++;
    if (ok.load() == 4) four.Notify();
  };
  // The manager's clock is simulated far in the past: every backup is due.
  CatalogBackupScheduler scheduler(manager_.get(), o);
  scheduler.Start();
  for (int i = 10; i < 20; ++i) Put(absl::StrCat("c", i));  // writers go on meanwhile
  ASSERT_TRUE(four.WaitForNotificationWithTimeout(absl::Seconds(120)));
  scheduler.Stop();
  EXPECT_EQ(failed.load(), 0);
  absl::StatusOr<std::vector<CatalogBackupInfo>> left = manager_->List();
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 2u);
  EXPECT_EQ(left->back().id, static_cast<uint32_t>(ok.load()));
}

}  // namespace
}  // namespace lifelong::catalog
