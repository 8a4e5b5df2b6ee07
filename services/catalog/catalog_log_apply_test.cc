// CatalogStore in log mode without NATS: an in-memory log with JetStream's
// expected-last-position rule, applied to every store after each append.
//  - stores that apply the same log hold the same catalog, counters and
//    page-token secret;
//  - a write planned on a state another write has moved past is planned
//    again (a duplicate id then fails ALREADY_EXISTS, a stale etag ABORTED);
//  - an entry is applied once; a bad one is DATA_LOSS and moves nothing;
//  - a database that applied a log does not open without one, except
//    read-only (a restore's check), which takes no write.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/catalog/catalog_codec.h"
#include "services/catalog/catalog_log.h"
#include "services/catalog/catalog_store.h"
#include "services/catalog/test_courses.h"

namespace lifelong::catalog {
namespace {

using v1::Course;

Course MakeCourse(const std::string& id) { return testing::ValidCourse(id); }

// The log: entry i at position i+1. Append lands only when the log ends at
// `expected_last`, then every store that keeps up applies what it lacks; a
// lagging store applies only on CatchUp or on its own appends.
class MemoryLog {
 public:
  absl::StatusOr<bool> Append(CatalogLogEntry kind, const std::string& payload, uint64_t expected_last,
                              CatalogStore* from) {
    ++appends;
    if (before_next_append) {
      std::function<void()> f = std::move(before_next_append);
      before_next_append = nullptr;
      f();  // another node's write lands first
    }
    if (expected_last != entries.size()) {
      CatchUp(from);
      return false;
    }
    entries.emplace_back(kind, payload);
    for (CatalogStore* s : stores) {
      if (s == from || lagging.count(s) == 0) CatchUp(s);
    }
    return true;
  }
  void CatchUp(CatalogStore* s) {
    for (uint64_t seq = s->AppliedLogSeq() + 1; seq <= entries.size(); ++seq) {
      absl::Status applied = s->ApplyLogged(seq, entries[seq - 1].first, entries[seq - 1].second);
      ASSERT_TRUE(applied.ok()) << applied;
    }
  }
  std::vector<std::pair<CatalogLogEntry, std::string>> entries;
  std::vector<CatalogStore*> stores;
  std::set<CatalogStore*> lagging;
  std::function<void()> before_next_append;
  int appends = 0;
  int catch_ups = 0;
};

// One node's view of the shared log.
class NodeLog : public CatalogLog {
 public:
  explicit NodeLog(MemoryLog* log) : log_(log) {}
  void set_store(CatalogStore* store) { store_ = store; }
  absl::StatusOr<bool> Append(CatalogLogEntry kind, const std::string& payload, uint64_t expected_last) override {
    return log_->Append(kind, payload, expected_last, store_);
  }
  absl::Status CatchUp() override {
    ++log_->catch_ups;
    log_->CatchUp(store_);
    return absl::OkStatus();
  }

 private:
  MemoryLog* log_;
  CatalogStore* store_ = nullptr;
};

class CatalogLogApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/catalog_log_apply_test/",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    for (const char* name : {"a", "b"}) {
      node_logs_.push_back(std::make_unique<NodeLog>(&log_));
      CatalogStoreOptions o;
      o.log = node_logs_.back().get();
      absl::StatusOr<std::unique_ptr<CatalogStore>> s = CatalogStore::Open(absl::StrCat(dir_, "/", name), o);
      ASSERT_TRUE(s.ok()) << s.status();
      stores_.push_back(*std::move(s));
      node_logs_.back()->set_store(stores_.back().get());
      log_.stores.push_back(stores_.back().get());
    }
    // The log's first entry: the page-token secret every node adopts.
    ASSERT_TRUE(*node_logs_[0]->Append(CatalogLogEntry::kInit, std::string(codec::kPageTokenSecretBytes, 'k'), 0));
  }
  CatalogStore& a() { return *stores_[0]; }
  CatalogStore& b() { return *stores_[1]; }

  std::string dir_;
  MemoryLog log_;
  std::vector<std::unique_ptr<NodeLog>> node_logs_;
  std::vector<std::unique_ptr<CatalogStore>> stores_;
};

TEST_F(CatalogLogApplyTest, StoresApplyingTheSameLogHoldTheSameCatalog) {
  absl::StatusOr<Course> created = a().CreateCourse(MakeCourse("shufa"));
  ASSERT_TRUE(created.ok()) << created.status();
  absl::StatusOr<Course> on_b = b().GetCourse("shufa");
  ASSERT_TRUE(on_b.ok()) << on_b.status();
  EXPECT_EQ(on_b->SerializeAsString(), created->SerializeAsString());

  Course change = *created;
  change.set_title("书法进阶");
  google::protobuf::FieldMask mask;
  mask.add_paths("title");
  ASSERT_TRUE(b().UpdateCourse(change, mask).ok());
  ASSERT_TRUE(a().ArchiveCourse("shufa", "").ok());
  v1::Programme p;
  p.set_id("wenhua");
  p.set_name("传统文化证书");
  p.add_required_course_ids("shufa");
  ASSERT_TRUE(b().PutProgramme(p).ok());

  EXPECT_EQ(a().GetCatalogInfo()->SerializeAsString(), b().GetCatalogInfo()->SerializeAsString());
  EXPECT_EQ(a().GetCatalogInfo()->generation(), 4);
  EXPECT_EQ(a().GetCatalogInfo()->archived_count(), 1);
  EXPECT_EQ(a().GetCourse("shufa")->SerializeAsString(), b().GetCourse("shufa")->SerializeAsString());
  EXPECT_EQ(a().GetProgramme("wenhua")->SerializeAsString(), b().GetProgramme("wenhua")->SerializeAsString());
  EXPECT_EQ(a().AppliedLogSeq(), 5u);
  EXPECT_EQ(b().AppliedLogSeq(), 5u);

  // The listing's index agrees on both: a filtered page from a, its token on b.
  ASSERT_TRUE(a().CreateCourse(MakeCourse("shufa-2")).ok());
  ASSERT_TRUE(a().CreateCourse(MakeCourse("shufa-3")).ok());
  v1::ListCoursesRequest list;
  list.set_xuequ("东四学区");
  list.set_page_size(1);
  absl::StatusOr<v1::ListCoursesResponse> first = a().ListCourses(list);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->courses(0).id(), "shufa-2");
  list.set_page_token(first->next_page_token());
  absl::StatusOr<v1::ListCoursesResponse> second = b().ListCourses(list);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->courses(0).id(), "shufa-3");
}

TEST_F(CatalogLogApplyTest, AWriteOvertakenByAnotherIsPlannedAgainOnTheNewerCatalog) {
  // b creates the same id while a's create is on its way: a's plan was made
  // on a catalog without it, the log refuses it, a plans again and finds it.
  log_.before_next_append = [this] { ASSERT_TRUE(b().CreateCourse(MakeCourse("same")).ok()); };
  absl::StatusOr<Course> created = a().CreateCourse(MakeCourse("same"));
  EXPECT_EQ(created.status().code(), absl::StatusCode::kAlreadyExists) << created.status();
  EXPECT_EQ(a().GetCatalogInfo()->course_count(), 1);

  // An update whose etag another node's update made stale: ABORTED after the replan.
  absl::StatusOr<Course> current = a().GetCourse("same");
  Course change = *current;
  change.set_title("a 的标题");
  google::protobuf::FieldMask mask;
  mask.add_paths("title");
  log_.before_next_append = [&] {
    Course other = *current;
    other.set_title("b 的标题");
    ASSERT_TRUE(b().UpdateCourse(other, mask).ok());
  };
  absl::StatusOr<Course> updated = a().UpdateCourse(change, mask);
  EXPECT_EQ(updated.status().code(), absl::StatusCode::kAborted) << updated.status();
  EXPECT_EQ(a().GetCourse("same")->title(), "b 的标题");

  // A write overtaken by an unrelated one lands on the second plan.
  log_.before_next_append = [this] { ASSERT_TRUE(b().CreateCourse(MakeCourse("other")).ok()); };
  const int appends = log_.appends;
  EXPECT_TRUE(a().CreateCourse(MakeCourse("mine")).ok());
  EXPECT_EQ(log_.appends - appends, 3);  // a's refused plan, b's, a's second
  EXPECT_EQ(a().GetCatalogInfo()->SerializeAsString(), b().GetCatalogInfo()->SerializeAsString());
}

TEST_F(CatalogLogApplyTest, ANodeBehindTheLogDecidesARefusedWriteAtTheLogsEnd) {
  log_.lagging.insert(&b());
  absl::StatusOr<Course> created = a().CreateCourse(MakeCourse("new-on-a"));
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(absl::IsNotFound(b().GetCourse("new-on-a").status()));  // b has not applied it yet

  // An update on b with the etag read on a: b's copy has no such course, but
  // the log's end does; b catches up and the update lands.
  Course change = *created;
  change.set_title("在 b 上改");
  google::protobuf::FieldMask mask;
  mask.add_paths("title");
  absl::StatusOr<Course> updated = b().UpdateCourse(change, mask);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->revision(), 2);
  EXPECT_EQ(log_.catch_ups, 1);

  // A course on b that requires one only a has applied: accepted.
  ASSERT_TRUE(a().CreateCourse(MakeCourse("jichu")).ok());
  Course advanced = MakeCourse("jinjie");
  advanced.add_prerequisite_ids("jichu");
  EXPECT_TRUE(b().CreateCourse(advanced).ok());
  EXPECT_EQ(log_.catch_ups, 2);

  // A refusal that stands at the log's end is still a refusal, after one catch-up.
  Course nowhere = MakeCourse("nowhere");
  nowhere.set_etag("1");
  absl::StatusOr<Course> missing = b().UpdateCourse(nowhere, mask);
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_EQ(log_.catch_ups, 3);
}

TEST_F(CatalogLogApplyTest, AnEntryIsAppliedOnceAndABadOneMovesNothing) {
  ASSERT_TRUE(a().CreateCourse(MakeCourse("once")).ok());
  const uint64_t at = a().AppliedLogSeq();
  const std::string info = a().GetCatalogInfo()->SerializeAsString();
  // Delivered again (a consumer restarted): no effect.
  EXPECT_TRUE(a().ApplyLogged(at, log_.entries[at - 1].first, log_.entries[at - 1].second).ok());
  EXPECT_EQ(a().GetCatalogInfo()->SerializeAsString(), info);
  // An entry that does not decode: DATA_LOSS naming its position, nothing applied.
  absl::Status bad = a().ApplyLogged(at + 1, CatalogLogEntry::kCourse, "not a course");
  EXPECT_EQ(bad.code(), absl::StatusCode::kDataLoss) << bad;
  EXPECT_NE(bad.message().find(absl::StrCat("entry ", at + 1)), std::string::npos) << bad;
  EXPECT_EQ(a().AppliedLogSeq(), at);
  bad = a().ApplyLogged(at + 1, CatalogLogEntry::kInit, "short");
  EXPECT_EQ(bad.code(), absl::StatusCode::kDataLoss) << bad;
  EXPECT_EQ(a().AppliedLogSeq(), at);
}

TEST_F(CatalogLogApplyTest, ADatabaseThatAppliedALogDoesNotOpenWithoutOne) {
  ASSERT_TRUE(a().CreateCourse(MakeCourse("logged")).ok());
  ASSERT_TRUE(a().Close().ok());
  absl::StatusOr<std::unique_ptr<CatalogStore>> alone = CatalogStore::Open(dir_ + "/a");
  EXPECT_EQ(alone.status().code(), absl::StatusCode::kFailedPrecondition) << alone.status();
  EXPECT_NE(alone.status().message().find("--replication_nats"), std::string::npos) << alone.status();
  // With a log it opens, at its position.
  NodeLog node_log(&log_);
  CatalogStoreOptions o;
  o.log = &node_log;
  absl::StatusOr<std::unique_ptr<CatalogStore>> again = CatalogStore::Open(dir_ + "/a", o);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->AppliedLogSeq(), 2u);
  EXPECT_EQ((*again)->UnloggedWrites(), 0u);
}

// What a restore's check does with a node's copy: it opens read-only without
// the log, reads the catalog and its position, and takes no write.
TEST_F(CatalogLogApplyTest, ADatabaseThatAppliedALogOpensReadOnlyWithoutOne) {
  ASSERT_TRUE(a().CreateCourse(MakeCourse("logged")).ok());
  ASSERT_TRUE(a().Close().ok());
  CatalogStoreOptions o;
  o.read_only = true;
  absl::StatusOr<std::unique_ptr<CatalogStore>> copy = CatalogStore::Open(dir_ + "/a", o);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ((*copy)->AppliedLogSeq(), 2u);
  EXPECT_TRUE((*copy)->GetCourse("logged").ok());
  EXPECT_EQ((*copy)->CreateCourse(MakeCourse("local")).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*copy)->ArchiveCourse("logged", "").status().code(), absl::StatusCode::kFailedPrecondition);
  absl::Status applied = (*copy)->ApplyLogged(3, CatalogLogEntry::kCourse, log_.entries[1].second);
  EXPECT_EQ(applied.code(), absl::StatusCode::kFailedPrecondition) << applied;
  EXPECT_EQ((*copy)->AppliedLogSeq(), 2u);
  EXPECT_EQ((*copy)->GetCourse("local").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE((*copy)->Close().ok());
  // Read-only takes no log, and needs a catalog that exists.
  CatalogStoreOptions both = o;
  NodeLog node_log(&log_);
  both.log = &node_log;
  EXPECT_EQ(CatalogStore::Open(dir_ + "/a", both).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(CatalogStore::Open(dir_ + "/none", o).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/none/CURRENT"));
}

TEST(CatalogStoreUnloggedTest, ASingleNodeDatabaseCountsItsWritesWithoutALog) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/catalog_log_apply_test/unlogged");
  std::filesystem::remove_all(dir);
  absl::StatusOr<std::unique_ptr<CatalogStore>> s = CatalogStore::Open(dir);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->UnloggedWrites(), 0u);
  ASSERT_TRUE((*s)->CreateCourse(MakeCourse("local")).ok());
  EXPECT_EQ((*s)->UnloggedWrites(), 1u);
  EXPECT_EQ((*s)->AppliedLogSeq(), 0u);
}

}  // namespace
}  // namespace lifelong::catalog
