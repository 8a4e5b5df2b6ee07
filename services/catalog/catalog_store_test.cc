#include "services/catalog/catalog_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "services/catalog/catalog_codec.h"
#include "services/catalog/column_families.h"

namespace lifelong::catalog {
namespace {

using lifelong::v1::Course;
using lifelong::v1::ListCoursesRequest;
using lifelong::v1::ListCoursesResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kT0 = 1795000000;  // 2026-11-18T...Z, "now" at the start of each test

class FakeClock {
 public:
  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(kT0);
};

std::string FreshDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/catalog_store_test/", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

Course MakeCourse(const std::string& id) {
  Course c;
  c.set_id(id);
  c.set_title(absl::StrCat("课程 ", id));
  c.set_category("书法");
  c.mutable_provider()->set_name("东城区图书馆");
  c.mutable_provider()->set_kind(lifelong::v1::Provider::LIBRARY);
  c.set_mode(Course::ONLINE);
  c.set_state(Course::OPEN);
  return c;
}

class CatalogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    Reopen();
  }

  void Reopen(int max_scan = 10000, size_t max_page_bytes = size_t{3} << 20) {
    store_.reset();
    CatalogStoreOptions options;
    options.clock = [this] { return clock_.Now(); };
    options.max_scan_per_page = max_scan;
    options.max_page_bytes = max_page_bytes;
    absl::StatusOr<std::unique_ptr<CatalogStore>> store = CatalogStore::Open(dir_, options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  Course Create(const Course& c) {
    absl::StatusOr<Course> created = store_->CreateCourse(c);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.value_or(Course());
  }

  // Every id the listing yields, following page tokens to the end.
  std::vector<std::string> ListAll(ListCoursesRequest request, int* pages = nullptr) {
    std::vector<std::string> ids;
    int n = 0;
    do {
      absl::StatusOr<ListCoursesResponse> page = store_->ListCourses(request);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const Course& c : page->courses()) ids.push_back(c.id());
      request.set_page_token(page->next_page_token());
      ++n;
    } while (!request.page_token().empty() && n < 1000);
    if (pages != nullptr) *pages = n;
    return ids;
  }

  int64_t Generation() { return store_->GetCatalogInfo().value().generation(); }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<CatalogStore> store_;
};

TEST_F(CatalogStoreTest, CreateThenGetReturnsTheStoredCourse) {
  Course input = MakeCourse("c0001");
  input.clear_state();
  input.set_revision(99);         // output only: ignored
  input.set_etag("client-etag");  // output only: ignored
  Course created = Create(input);
  EXPECT_EQ(created.revision(), 1);
  EXPECT_EQ(created.etag(), absl::StrCat("1-", kT0 * 1000000));  // revision, write time
  EXPECT_EQ(created.state(), Course::DRAFT);
  EXPECT_EQ(created.create_time().seconds(), kT0);
  EXPECT_EQ(created.update_time().seconds(), kT0);
  absl::StatusOr<Course> got = store_->GetCourse("c0001");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), created.SerializeAsString());
}

TEST_F(CatalogStoreTest, CreateRejectsATakenId) {
  Create(MakeCourse("c1"));
  absl::StatusOr<Course> again = store_->CreateCourse(MakeCourse("c1"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(CatalogStoreTest, InvalidCreateWritesNothing) {
  Course bad = MakeCourse("c1");
  bad.set_title("");
  absl::StatusOr<Course> created = store_->CreateCourse(bad);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(created.status().message()), StartsWith("course.title:"));
  EXPECT_EQ(store_->GetCourse("c1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Generation(), 0);
  EXPECT_EQ(store_->GetCatalogInfo()->course_count(), 0);
}

TEST_F(CatalogStoreTest, CreateRejectsUnknownPrerequisite) {
  Create(MakeCourse("c1"));
  Course c = MakeCourse("c2");
  c.add_prerequisite_ids("c1");
  c.add_prerequisite_ids("c404");
  absl::StatusOr<Course> created = store_->CreateCourse(c);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(created.status().message()),
              StartsWith("course.prerequisite_ids[1]: no course with id 'c404'"));
  c.mutable_prerequisite_ids()->RemoveLast();
  EXPECT_TRUE(store_->CreateCourse(c).ok());
}

TEST_F(CatalogStoreTest, GetUnknownIsNotFoundAndMalformedIsInvalid) {
  EXPECT_EQ(store_->GetCourse("c9").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetCourse("C 9").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetCourse("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CatalogStoreTest, BatchGetKeepsOrderAndNamesTheFirstMissingId) {
  Create(MakeCourse("a"));
  Create(MakeCourse("b"));
  absl::StatusOr<std::vector<Course>> got = store_->BatchGetCourses({"b", "a", "b"});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].id(), "b");
  EXPECT_EQ((*got)[1].id(), "a");
  absl::StatusOr<std::vector<Course>> missing = store_->BatchGetCourses({"a", "zz", "yy"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), StartsWith("ids[1]:"));
  EXPECT_EQ(store_->BatchGetCourses({}).status().code(), absl::StatusCode::kInvalidArgument);
}

// A course as large as validation allows, about 170 KB encoded: the longest
// description and 500 sessions with the longest room names.
Course LargeCourse(const std::string& id) {
  Course c = MakeCourse(id);
  std::string description;
  for (int i = 0; i < 20000; ++i) description += "书";
  c.set_description(description);
  std::string room;
  for (int i = 0; i < 64; ++i) room += "室";
  for (int i = 0; i < 500; ++i) {
    lifelong::v1::Session* s = c.add_sessions();
    s->mutable_start_time()->set_seconds(kT0 + 86400 * (i + 1));
    s->mutable_end_time()->set_seconds(kT0 + 86400 * (i + 1) + 5400);
    s->set_room(room);
  }
  return c;
}

// Repeats of a large course cannot make a reply of hundreds of megabytes:
// past the list page's byte budget the batch is refused, naming `ids` and
// the limit; a batch under it, repeats included, still comes back whole.
TEST_F(CatalogStoreTest, BatchGetRefusesRepliesPastThePageByteBudget) {
  const Course big = Create(LargeCourse("big"));
  ASSERT_GT(big.ByteSizeLong(), 150000u);
  const std::vector<std::string> thousand(1000, "big");  // ~170 MB if built
  absl::StatusOr<std::vector<Course>> refused = store_->BatchGetCourses(thousand);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), StartsWith("ids: "));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr(absl::StrCat(size_t{3} << 20, " bytes")));

  const std::vector<std::string> ten(10, "big");  // ~1.7 MB: under 3 MiB
  absl::StatusOr<std::vector<Course>> got = store_->BatchGetCourses(ten);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 10u);
  EXPECT_EQ((*got)[9].SerializeAsString(), big.SerializeAsString());

  // A course larger than the whole budget still comes back alone, as a list
  // page holds at least one course; a second one is refused.
  Reopen(10000, /*max_page_bytes=*/1000);
  got = store_->BatchGetCourses({"big"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size(), 1u);
  EXPECT_EQ(store_->BatchGetCourses({"big", "big"}).status().code(), absl::StatusCode::kInvalidArgument);
}

// Drafts are staff work in progress: for Viewer::kPublic (learners, kiosks)
// they do not exist, in every read, with the messages a missing course gets.
// Archiving publishes (an archived course is readable by everyone, and is
// never un-archived), so a draft is not archived: it stays a draft, hidden.
TEST_F(CatalogStoreTest, ADraftIsNotArchivedSinceThatWouldPublishIt) {
  Course draft = MakeCourse("d1");
  draft.clear_state();  // becomes DRAFT
  draft.set_description("内部草稿：未公开");
  Create(draft);
  const uint64_t generation = store_->GetCatalogInfo()->generation();
  absl::StatusOr<Course> archived = store_->ArchiveCourse("d1", "");
  EXPECT_EQ(archived.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(archived.status().message()), StartsWith("id: course \"d1\" is a DRAFT"));
  EXPECT_EQ(store_->GetCourse("d1")->state(), Course::DRAFT);
  EXPECT_EQ(store_->GetCourse("d1", Viewer::kPublic).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetCatalogInfo()->generation(), generation) << "nothing written";
  ListCoursesRequest archived_only;
  archived_only.set_state(Course::ARCHIVED);
  absl::StatusOr<ListCoursesResponse> page = store_->ListCourses(archived_only, Viewer::kPublic);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->courses_size(), 0);
  // Opened, it is public, and may then be archived.
  Course open = *store_->GetCourse("d1");
  open.set_state(Course::OPEN);
  google::protobuf::FieldMask mask;
  mask.add_paths("state");
  ASSERT_TRUE(store_->UpdateCourse(open, mask).ok());
  archived = store_->ArchiveCourse("d1", "");
  ASSERT_TRUE(archived.ok()) << archived.status();
  EXPECT_EQ(archived->state(), Course::ARCHIVED);
}

TEST_F(CatalogStoreTest, DraftsDoNotExistForThePublic) {
  Course draft = MakeCourse("d1");
  draft.clear_state();  // becomes DRAFT
  Create(draft);
  Create(MakeCourse("o1"));
  Create(MakeCourse("o2"));
  ASSERT_TRUE(store_->ArchiveCourse("o2", "").ok());
  constexpr Viewer kPublic = Viewer::kPublic;

  absl::StatusOr<Course> hidden = store_->GetCourse("d1", kPublic);
  EXPECT_EQ(hidden.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(hidden.status().message(), "course 'd1' not found");
  EXPECT_EQ(store_->GetCourse("d9", kPublic).status().message(), "course 'd9' not found");  // the same shape
  EXPECT_EQ(store_->GetCourse("d1")->state(), Course::DRAFT);                               // staff: there
  EXPECT_TRUE(store_->GetCourse("o2", kPublic).ok());                                       // archived: readable

  const std::vector<std::string> ids = {"o1", "d1"};
  absl::StatusOr<std::vector<Course>> batch = store_->BatchGetCourses(ids, kPublic);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(batch.status().message(), "ids[1]: course 'd1' not found");
  EXPECT_EQ(store_->BatchGetCourses(std::vector<std::string>{"o1", "d9"}, kPublic).status().message(),
            "ids[1]: course 'd9' not found");
  ASSERT_TRUE(store_->BatchGetCourses(ids).ok());

  auto list = [this](ListCoursesRequest r, Viewer viewer) {
    std::vector<std::string> out;
    absl::StatusOr<ListCoursesResponse> page = store_->ListCourses(r, viewer);
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) {
      for (const Course& c : page->courses()) out.push_back(c.id());
    }
    return out;
  };
  ListCoursesRequest all;
  all.set_show_archived(true);
  EXPECT_THAT(list(all, kPublic), ElementsAre("o1", "o2"));
  EXPECT_THAT(list(all, Viewer::kStaff), ElementsAre("d1", "o1", "o2"));
  ListCoursesRequest by_category;  // an index-driven listing
  by_category.set_category("书法");
  EXPECT_THAT(list(by_category, kPublic), ElementsAre("o1"));
  EXPECT_THAT(list(by_category, Viewer::kStaff), ElementsAre("d1", "o1"));
  ListCoursesRequest drafts;
  drafts.set_state(Course::DRAFT);
  absl::StatusOr<ListCoursesResponse> refused = store_->ListCourses(drafts, kPublic);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(refused.status().message()), StartsWith("state:"));
  EXPECT_THAT(list(drafts, Viewer::kStaff), ElementsAre("d1"));

  // Counts leave drafts out for the public, also after a reopen (recounted).
  EXPECT_EQ(store_->GetCatalogInfo(kPublic)->course_count(), 2);
  EXPECT_EQ(store_->GetCatalogInfo()->course_count(), 3);
  Reopen();
  EXPECT_EQ(store_->GetCatalogInfo(kPublic)->course_count(), 2);
  EXPECT_EQ(store_->GetCatalogInfo(kPublic)->archived_count(), 1);

  // Published: there for everyone.
  Course publish;
  publish.set_id("d1");
  publish.set_etag(store_->GetCourse("d1")->etag());
  publish.set_state(Course::OPEN);
  ASSERT_TRUE(store_->UpdateCourse(publish, {}).ok());
  EXPECT_TRUE(store_->GetCourse("d1", kPublic).ok());
  EXPECT_EQ(store_->GetCatalogInfo(kPublic)->course_count(), 3);
  EXPECT_THAT(list(all, kPublic), ElementsAre("d1", "o1", "o2"));
}

// A public listing that reaches the scan budget inside a run of drafts
// neither names a draft in its page token nor loses or repeats a course.
TEST_F(CatalogStoreTest, PublicPageTokensNeverNameADraft) {
  Reopen(/*max_scan=*/1);
  for (const char* id : {"a-open", "b-draft", "c-draft", "d-open", "e-draft", "f-open"}) {
    Course c = MakeCourse(id);
    if (absl::StrContains(id, "draft")) c.set_state(Course::DRAFT);
    Create(c);
  }
  for (const std::string& category : {std::string(), std::string("书法")}) {
    SCOPED_TRACE(category);
    ListCoursesRequest r;
    r.set_category(category);
    std::vector<std::string> seen;
    int pages = 0;
    do {
      absl::StatusOr<ListCoursesResponse> page = store_->ListCourses(r, Viewer::kPublic);
      ASSERT_TRUE(page.ok()) << page.status();
      for (const Course& c : page->courses()) seen.push_back(c.id());
      std::string payload;
      ASSERT_TRUE(absl::WebSafeBase64Unescape(page->next_page_token(), &payload));
      EXPECT_FALSE(absl::StrContains(payload, "draft")) << "a page token names a draft";
      r.set_page_token(page->next_page_token());
    } while (!r.page_token().empty() && ++pages < 100);
    EXPECT_THAT(seen, ElementsAre("a-open", "d-open", "f-open"));
  }
  ListCoursesRequest staff;
  EXPECT_EQ(ListAll(staff).size(), 6u);
}

TEST_F(CatalogStoreTest, RaiseGenerationOnlyRaises) {
  Create(MakeCourse("c1"));
  ASSERT_TRUE(store_->RaiseGeneration(100).ok());
  EXPECT_EQ(Generation(), 100);
  ASSERT_TRUE(store_->RaiseGeneration(50).ok());
  EXPECT_EQ(Generation(), 100);
  Create(MakeCourse("c2"));
  EXPECT_EQ(Generation(), 101);
  Reopen();
  EXPECT_EQ(Generation(), 101);
}

TEST_F(CatalogStoreTest, UpdateWithMaskReplacesOnlyListedFields) {
  Course created = Create(MakeCourse("c1"));
  clock_.Advance(absl::Minutes(5));
  Course patch;
  patch.set_id("c1");
  patch.set_etag(created.etag());
  patch.set_title("新标题");
  patch.set_category("不应改变");  // not in the mask
  google::protobuf::FieldMask mask;
  mask.add_paths("title");
  mask.add_paths("create_time");  // output only: ignored
  absl::StatusOr<Course> updated = store_->UpdateCourse(patch, mask);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->title(), "新标题");
  EXPECT_EQ(updated->category(), "书法");
  EXPECT_EQ(updated->revision(), 2);
  EXPECT_NE(updated->etag(), created.etag());
  EXPECT_EQ(updated->create_time().seconds(), kT0);
  EXPECT_EQ(updated->update_time().seconds(), kT0 + 300);
  EXPECT_EQ(store_->GetCourse("c1")->title(), "新标题");
}

TEST_F(CatalogStoreTest, UpdateNestedPathAndClearingAField) {
  Course c = MakeCourse("c1");
  c.set_mode(Course::OFFLINE);
  c.mutable_venue()->set_id("v1");
  c.mutable_venue()->set_xuequ("和平里学区");
  c.mutable_venue()->set_jiedao("和平里街道");
  c.add_tags("毛笔");
  Course created = Create(c);
  Course patch;
  patch.set_id("c1");
  patch.set_etag(created.etag());
  patch.mutable_venue()->set_xuequ("东四学区");
  google::protobuf::FieldMask mask;
  mask.add_paths("venue.xuequ");
  mask.add_paths("tags");  // listed but empty in patch: cleared
  absl::StatusOr<Course> updated = store_->UpdateCourse(patch, mask);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->venue().xuequ(), "东四学区");
  EXPECT_EQ(updated->venue().jiedao(), "和平里街道");
  EXPECT_EQ(updated->venue().id(), "v1");
  EXPECT_EQ(updated->tags_size(), 0);
  ListCoursesRequest by_old;
  by_old.set_xuequ("和平里学区");
  EXPECT_TRUE(ListAll(by_old).empty());
  ListCoursesRequest by_new;
  by_new.set_xuequ("东四学区");
  EXPECT_THAT(ListAll(by_new), ElementsAre("c1"));
  ListCoursesRequest by_tag;
  by_tag.set_tag("毛笔");
  EXPECT_TRUE(ListAll(by_tag).empty());
}

TEST_F(CatalogStoreTest, UpdateWithoutMaskReplacesSetFieldsAndStarReplacesAll) {
  Course c = MakeCourse("c1");
  c.set_description("旧简介");
  c.set_credits(2);
  Course created = Create(c);

  Course populated;
  populated.set_id("c1");
  populated.set_etag(created.etag());
  populated.set_hours(8);
  absl::StatusOr<Course> v2 = store_->UpdateCourse(populated, {});
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->hours(), 8);
  EXPECT_EQ(v2->description(), "旧简介");
  EXPECT_EQ(v2->credits(), 2);

  Course full = MakeCourse("c1");
  full.set_etag(v2->etag());
  google::protobuf::FieldMask star;
  star.add_paths("*");
  absl::StatusOr<Course> v3 = store_->UpdateCourse(full, star);
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(v3->description(), "");
  EXPECT_EQ(v3->credits(), 0);
  EXPECT_EQ(v3->hours(), 0);
  EXPECT_EQ(v3->revision(), 3);
  EXPECT_EQ(v3->create_time().seconds(), kT0);
}

TEST_F(CatalogStoreTest, UpdateConflictsAndErrors) {
  Course created = Create(MakeCourse("c1"));
  Course patch;
  patch.set_id("c1");
  patch.set_title("一");
  google::protobuf::FieldMask mask;
  mask.add_paths("title");
  EXPECT_EQ(store_->UpdateCourse(patch, mask).status().code(),
            absl::StatusCode::kInvalidArgument);  // no etag
  patch.set_etag(created.etag());
  ASSERT_TRUE(store_->UpdateCourse(patch, mask).ok());
  patch.set_title("二");  // still the etag of revision 1
  absl::StatusOr<Course> stale = store_->UpdateCourse(patch, mask);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->GetCourse("c1")->title(), "一");
  patch.set_id("c404");
  EXPECT_EQ(store_->UpdateCourse(patch, mask).status().code(), absl::StatusCode::kNotFound);
  patch.set_id("c1");
  google::protobuf::FieldMask bad;
  bad.add_paths("nonsense");
  EXPECT_EQ(store_->UpdateCourse(patch, bad).status().code(), absl::StatusCode::kInvalidArgument);
  // An update whose result fails validation writes nothing.
  Course invalid;
  invalid.set_id("c1");
  invalid.set_etag(store_->GetCourse("c1")->etag());
  invalid.set_capacity(5);
  invalid.set_seats_taken(6);
  const int64_t generation = Generation();
  absl::StatusOr<Course> rejected = store_->UpdateCourse(invalid, {});
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(rejected.status().message()), StartsWith("course.capacity:"));
  EXPECT_EQ(Generation(), generation);
  EXPECT_EQ(store_->GetCourse("c1")->revision(), 2);
}

TEST_F(CatalogStoreTest, UpdateRejectsAPrerequisiteCycle) {
  Create(MakeCourse("a"));
  Course b = MakeCourse("b");
  b.add_prerequisite_ids("a");
  Create(b);
  Course c = MakeCourse("c");
  c.add_prerequisite_ids("b");
  Create(c);
  Course a_patch;
  a_patch.set_id("a");
  a_patch.set_etag(store_->GetCourse("a")->etag());
  a_patch.add_prerequisite_ids("c");
  absl::StatusOr<Course> cyclic = store_->UpdateCourse(a_patch, {});
  EXPECT_EQ(cyclic.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(cyclic.status().message()), HasSubstr("cycle a -> c -> b -> a"));
  EXPECT_EQ(store_->GetCourse("a")->prerequisite_ids_size(), 0);
}

TEST_F(CatalogStoreTest, ArchiveHidesFromDefaultListingAndFreezesTheCourse) {
  Course created = Create(MakeCourse("c1"));
  Create(MakeCourse("c2"));
  EXPECT_EQ(store_->ArchiveCourse("c1", "7").status().code(), absl::StatusCode::kAborted);
  absl::StatusOr<Course> archived = store_->ArchiveCourse("c1", created.etag());
  ASSERT_TRUE(archived.ok()) << archived.status();
  EXPECT_EQ(archived->state(), Course::ARCHIVED);
  EXPECT_EQ(archived->revision(), 2);
  // Idempotent, without a new revision.
  absl::StatusOr<Course> again = store_->ArchiveCourse("c1", "");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->revision(), 2);
  EXPECT_EQ(store_->ArchiveCourse("c404", "").status().code(), absl::StatusCode::kNotFound);

  EXPECT_THAT(ListAll({}), ElementsAre("c2"));
  ListCoursesRequest with_archived;
  with_archived.set_show_archived(true);
  EXPECT_THAT(ListAll(with_archived), ElementsAre("c1", "c2"));
  ListCoursesRequest only_archived;
  only_archived.set_state(Course::ARCHIVED);
  EXPECT_THAT(ListAll(only_archived), ElementsAre("c1"));

  Course patch;
  patch.set_id("c1");
  patch.set_etag(archived->etag());
  patch.set_title("复活");
  EXPECT_EQ(store_->UpdateCourse(patch, {}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->GetCatalogInfo()->archived_count(), 1);
  EXPECT_EQ(store_->GetCatalogInfo()->course_count(), 2);
  // The id stays taken.
  EXPECT_EQ(store_->CreateCourse(MakeCourse("c1")).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(CatalogStoreTest, ListFiltersMatchExactly) {
  auto with = [](const std::string& id, auto mutate) {
    Course c = MakeCourse(id);
    mutate(&c);
    return c;
  };
  Create(with("a-offline", [](Course* c) {
    c->set_mode(Course::OFFLINE);
    c->mutable_venue()->set_id("v-hpl");
    c->mutable_venue()->set_xuequ("和平里学区");
    c->mutable_venue()->set_jiedao("和平里街道");
    c->set_level(Course::BEGINNER);
    c->add_audiences(Course::SENIORS);
    c->set_capacity(10);
    c->set_seats_taken(10);
  }));
  Create(with("b-blended", [](Course* c) {
    c->set_mode(Course::BLENDED);
    c->mutable_venue()->set_id("v-ds");
    c->mutable_venue()->set_xuequ("东四学区");
    c->mutable_venue()->set_jiedao("东四街道");
    c->set_category("绘画");
    c->add_tags("水彩");
    c->set_level(Course::ADVANCED);
    c->add_audiences(Course::ADULTS);
    c->add_audiences(Course::SENIORS);
    c->mutable_enrollment_open_time()->set_seconds(kT0);
    c->mutable_enrollment_close_time()->set_seconds(kT0 + 86400);
  }));
  Create(with("c-online", [](Course* c) {
    c->add_tags("水彩");
    c->add_audiences(Course::TEENS);
    c->set_state(Course::DRAFT);
    c->mutable_enrollment_close_time()->set_seconds(kT0 - 1);
  }));
  auto ids = [this](auto set_filter) {
    ListCoursesRequest r;
    set_filter(&r);
    return ListAll(r);
  };
  EXPECT_THAT(ids([](ListCoursesRequest*) {}), ElementsAre("a-offline", "b-blended", "c-online"));
  EXPECT_THAT(ids([](ListCoursesRequest* r) { r->set_state(Course::DRAFT); }), ElementsAre("c-online"));
  EXPECT_THAT(ids([](ListCoursesRequest* r) { r->set_mode(Course::OFFLINE); }), ElementsAre("a-offline"));
  EXPECT_THAT(ids([](ListCoursesRequest* r) { r->set_category("书法"); }), ElementsAre("a-offline", "c-online"));
  EXPECT_THAT(ids([](ListCoursesRequest* r) { r->set_audience(Course::SENIORS); }),
              ElementsAre("a-offline", "b-blended"));
  EXPECT_THAT(ids([](ListCoursesRequest* r) { r->set_xuequ("东四学区"); }), ElementsAre("b-blended"));
  EXPECT_THAT(ids([](ListCoursesRequest* r) { r->set_jiedao("和平里街道"); }), ElementsAre("a-offline"));
  EXPECT_THAT(ids([](ListCoursesRequest* r) { r->set_venue_id("v-ds"); }), ElementsAre("b-blended"));
  EXPECT_THAT(ids([](ListCoursesRequest* r) { r->set_level(Course::BEGINNER); }), ElementsAre("a-offline"));
  EXPECT_THAT(ids([](ListCoursesRequest* r) { r->set_tag("水彩"); }), ElementsAre("b-blended", "c-online"));
  EXPECT_THAT(ids([](ListCoursesRequest* r) { r->set_has_available_seats(true); }),
              ElementsAre("b-blended", "c-online"));
  // Open for enrollment: state OPEN and T inside [open, close).
  EXPECT_THAT(ids([](ListCoursesRequest* r) { r->mutable_enrollment_open_at()->set_seconds(kT0); }),
              ElementsAre("a-offline", "b-blended"));
  EXPECT_THAT(ids([](ListCoursesRequest* r) { r->mutable_enrollment_open_at()->set_seconds(kT0 + 86400); }),
              ElementsAre("a-offline"));
  EXPECT_THAT(ids([](ListCoursesRequest* r) { r->mutable_enrollment_open_at()->set_seconds(kT0 - 10); }),
              ElementsAre("a-offline"));
  // Several filters at once.
  EXPECT_THAT(ids([](ListCoursesRequest* r) {
                r->set_audience(Course::SENIORS);
                r->set_tag("水彩");
              }),
              ElementsAre("b-blended"));
  EXPECT_TRUE(ids([](ListCoursesRequest* r) { r->set_category("不存在"); }).empty());
}

TEST_F(CatalogStoreTest, PaginationVisitsEveryCourseOnceInIdOrder) {
  std::vector<std::string> expected;
  for (int i = 0; i < 25; ++i) {
    const std::string id = absl::StrFormat("c%04d", i);
    Course c = MakeCourse(id);
    if (i % 3 == 0) c.set_category("绘画");
    Create(c);
    expected.push_back(id);
  }
  ListCoursesRequest r;
  r.set_page_size(10);
  int pages = 0;
  EXPECT_EQ(ListAll(r, &pages), expected);
  EXPECT_EQ(pages, 3);

  // Exactly full last page: no token after it.
  r.set_page_size(5);
  EXPECT_EQ(ListAll(r, &pages), expected);
  EXPECT_EQ(pages, 5);

  ListCoursesRequest filtered;
  filtered.set_category("绘画");
  filtered.set_page_size(2);
  std::vector<std::string> painting;
  for (int i = 0; i < 25; i += 3) painting.push_back(absl::StrFormat("c%04d", i));
  EXPECT_EQ(ListAll(filtered, &pages), painting);
  EXPECT_EQ(pages, 5);

  ListCoursesRequest default_size;
  absl::StatusOr<ListCoursesResponse> page = store_->ListCourses(default_size);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->courses_size(), 25);
  EXPECT_TRUE(page->next_page_token().empty());
  EXPECT_EQ(page->catalog_generation(), 25);
}

TEST_F(CatalogStoreTest, ScanBudgetReturnsShortPagesButLosesNothing) {
  Reopen(/*max_scan=*/3);
  std::vector<std::string> matching;
  for (int i = 0; i < 20; ++i) {
    Course c = MakeCourse(absl::StrFormat("c%02d", i));
    c.set_capacity(5);
    c.set_seats_taken(i % 7 == 0 ? 4 : 5);  // only every 7th has a seat left
    if (i % 7 == 0) matching.push_back(c.id());
    Create(c);
  }
  // has_available_seats has no index: every course is examined, 3 per call.
  ListCoursesRequest r;
  r.set_page_size(10);
  r.set_has_available_seats(true);
  absl::StatusOr<ListCoursesResponse> first = store_->ListCourses(r);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->courses_size(), 1);  // c00, then the budget ran out
  EXPECT_FALSE(first->next_page_token().empty());
  int pages = 0;
  EXPECT_EQ(ListAll(r, &pages), matching);
  EXPECT_EQ(pages, 7);  // ceil(20 / 3)
  // An index run holding only matches is not limited by the budget per match.
  ListCoursesRequest all;
  all.set_category("书法");
  all.set_page_size(2);
  EXPECT_EQ(ListAll(all, &pages).size(), 20u);
  EXPECT_EQ(pages, 10);
}

// A page of large courses ends at the byte budget, with a token, and loses
// nothing; a single course larger than the budget still comes back alone.
TEST_F(CatalogStoreTest, PagesEndAtTheByteBudget) {
  std::string description;
  for (int i = 0; i < 2000; ++i) description += "书法";  // 12 KB
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) {
    Course c = MakeCourse(absl::StrFormat("c%02d", i));
    c.set_description(description);
    ids.push_back(Create(c).id());
  }
  Reopen(10000, /*max_page_bytes=*/40000);  // three such courses
  ListCoursesRequest r;
  r.set_page_size(1000);
  absl::StatusOr<ListCoursesResponse> first = store_->ListCourses(r);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->courses_size(), 3);
  EXPECT_LE(first->ByteSizeLong(), 40000u + 1000u);
  EXPECT_FALSE(first->next_page_token().empty());
  int pages = 0;
  EXPECT_EQ(ListAll(r, &pages), ids);
  EXPECT_EQ(pages, 4);
  Reopen(10000, /*max_page_bytes=*/1000);  // smaller than one course
  EXPECT_EQ(ListAll(r, &pages), ids);
  EXPECT_EQ(pages, 12);
}

TEST_F(CatalogStoreTest, PageTokensAreBoundToFiltersSignedAndExpire) {
  for (int i = 0; i < 5; ++i) Create(MakeCourse(absl::StrCat("c", i)));
  ListCoursesRequest r;
  r.set_page_size(2);
  absl::StatusOr<ListCoursesResponse> first = store_->ListCourses(r);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_page_token().empty());

  ListCoursesRequest other = r;
  other.set_category("绘画");
  other.set_page_token(first->next_page_token());
  absl::StatusOr<ListCoursesResponse> mismatch = store_->ListCourses(other);
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mismatch.status().message()), StartsWith("page_token:"));

  ListCoursesRequest resized = r;
  resized.set_page_size(3);  // page size may change between pages
  resized.set_page_token(first->next_page_token());
  EXPECT_TRUE(store_->ListCourses(resized).ok());

  ListCoursesRequest forged = r;
  std::string token = first->next_page_token();
  token[token.size() / 2] = token[token.size() / 2] == 'A' ? 'B' : 'A';
  forged.set_page_token(token);
  EXPECT_EQ(store_->ListCourses(forged).status().code(), absl::StatusCode::kInvalidArgument);
  forged.set_page_token("c2");
  EXPECT_EQ(store_->ListCourses(forged).status().code(), absl::StatusCode::kInvalidArgument);

  ListCoursesRequest next = r;
  next.set_page_token(first->next_page_token());
  clock_.Advance(absl::Minutes(61));
  absl::StatusOr<ListCoursesResponse> expired = store_->ListCourses(next);
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(expired.status().message()), HasSubstr("expired"));
}

TEST_F(CatalogStoreTest, TokensOfAnotherCatalogAreRejected) {
  for (int i = 0; i < 3; ++i) Create(MakeCourse(absl::StrCat("c", i)));
  ListCoursesRequest r;
  r.set_page_size(1);
  const std::string token = store_->ListCourses(r)->next_page_token();
  ASSERT_FALSE(token.empty());

  CatalogStoreOptions options;
  options.clock = [this] { return clock_.Now(); };
  auto other = CatalogStore::Open(FreshDir("other_catalog"), options);
  ASSERT_TRUE(other.ok());
  r.set_page_token(token);
  EXPECT_EQ((*other)->ListCourses(r).status().code(), absl::StatusCode::kInvalidArgument);
  // The issuing catalog still accepts it after a restart (the secret persists).
  Reopen();
  EXPECT_TRUE(store_->ListCourses(r).ok());
}

TEST_F(CatalogStoreTest, ReopenKeepsCoursesIndexesAndCounters) {
  Course c = MakeCourse("c1");
  c.set_category("太极");
  Create(c);
  Create(MakeCourse("c2"));
  ASSERT_TRUE(store_->ArchiveCourse("c2", "").ok());
  clock_.Advance(absl::Seconds(1));
  Reopen();
  EXPECT_EQ(store_->GetCourse("c1")->category(), "太极");
  absl::StatusOr<lifelong::v1::CatalogInfo> info = store_->GetCatalogInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->generation(), 3);
  EXPECT_EQ(info->course_count(), 2);
  EXPECT_EQ(info->archived_count(), 1);
  EXPECT_EQ(info->update_time().seconds(), kT0);
  ListCoursesRequest r;
  r.set_category("太极");
  EXPECT_THAT(ListAll(r), ElementsAre("c1"));
}

TEST_F(CatalogStoreTest, GenerationGrowsWithEachWriteOnly) {
  EXPECT_EQ(Generation(), 0);
  EXPECT_FALSE(store_->GetCatalogInfo()->has_update_time());
  Course created = Create(MakeCourse("c1"));
  EXPECT_EQ(Generation(), 1);
  EXPECT_FALSE(store_->CreateCourse(MakeCourse("c1")).ok());
  EXPECT_EQ(Generation(), 1);
  Course patch;
  patch.set_id("c1");
  patch.set_etag(created.etag());
  patch.set_hours(2);
  ASSERT_TRUE(store_->UpdateCourse(patch, {}).ok());
  EXPECT_EQ(Generation(), 2);
  EXPECT_TRUE(store_->GetCourse("c1").ok());
  EXPECT_TRUE(store_->ListCourses({}).ok());
  EXPECT_EQ(Generation(), 2);
  ASSERT_TRUE(store_->ArchiveCourse("c1", "").ok());
  EXPECT_EQ(Generation(), 3);
}

TEST_F(CatalogStoreTest, ConcurrentUpdatesWithTheSameEtagHaveOneWinner) {
  Create(MakeCourse("c1"));
  constexpr int kThreads = 8;
  constexpr int kRounds = 5;
  std::atomic<int> wins{0};
  std::atomic<int> aborted{0};
  std::atomic<int> other{0};
  for (int round = 0; round < kRounds; ++round) {
    const std::string etag = store_->GetCourse("c1")->etag();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        Course patch;
        patch.set_id("c1");
        patch.set_etag(etag);
        patch.set_title(absl::StrCat("线程 ", t));
        absl::StatusOr<Course> r = store_->UpdateCourse(patch, {});
        if (r.ok()) {
          ++wins;
        } else if (r.status().code() == absl::StatusCode::kAborted) {
          ++aborted;
        } else {
          ++other;
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(wins.load(), kRounds);
  EXPECT_EQ(aborted.load(), kRounds * (kThreads - 1));
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(store_->GetCourse("c1")->revision(), 1 + kRounds);
}

TEST_F(CatalogStoreTest, ConcurrentReadersSeeConsistentPagesDuringWrites) {
  for (int i = 0; i < 50; ++i) Create(MakeCourse(absl::StrFormat("c%03d", i)));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop) {
      ListCoursesRequest r;
      r.set_category("书法");
      r.set_page_size(1000);
      absl::StatusOr<ListCoursesResponse> page = store_->ListCourses(r);
      if (!page.ok()) {
        ++bad;
        continue;
      }
      for (const Course& c : page->courses()) {
        if (c.category() != "书法") ++bad;  // index and record must agree
      }
    }
  });
  for (int i = 0; i < 50; i += 2) {
    const std::string id = absl::StrFormat("c%03d", i);
    Course patch;
    patch.set_id(id);
    patch.set_etag(store_->GetCourse(id)->etag());
    patch.set_category("绘画");
    ASSERT_TRUE(store_->UpdateCourse(patch, {}).ok());
  }
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  ListCoursesRequest r;
  r.set_category("书法");
  EXPECT_EQ(ListAll(r).size(), 25u);
}

TEST_F(CatalogStoreTest, CallsAfterCloseAreUnavailable) {
  Create(MakeCourse("c1"));
  ASSERT_TRUE(store_->Close().ok());
  EXPECT_TRUE(store_->Close().ok());
  EXPECT_EQ(store_->GetCourse("c1").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_->CreateCourse(MakeCourse("c2")).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_->ListCourses({}).status().code(), absl::StatusCode::kUnavailable);
}

lifelong::v1::Programme Certificate() {
  lifelong::v1::Programme p;
  p.set_id("sqjy_cert");
  p.set_name("社区教育证书");
  p.set_credits(12);
  auto* r = p.add_by_category();
  r->set_category("传统文化");
  r->set_credits(4);
  p.add_required_course_ids("c1");
  return p;
}

TEST_F(CatalogStoreTest, ProgrammesArePutListedReadAndSurviveReopen) {
  Create(MakeCourse("c1"));
  const int64_t before = Generation();
  absl::StatusOr<lifelong::v1::Programme> put = store_->PutProgramme(Certificate());
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->update_time().seconds(), kT0);
  EXPECT_EQ(Generation(), before + 1);  // the recommender's cache sees the change
  lifelong::v1::Programme second = Certificate();
  second.set_id("digital");
  second.set_name("数字素养证书");
  second.clear_required_course_ids();
  ASSERT_TRUE(store_->PutProgramme(second).ok());
  // Replacing keeps one entry.
  lifelong::v1::Programme changed = Certificate();
  changed.set_credits(10);
  ASSERT_TRUE(store_->PutProgramme(changed).ok());
  Reopen();
  absl::StatusOr<std::vector<lifelong::v1::Programme>> all = store_->ListProgrammes();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id(), "digital");  // id order
  EXPECT_EQ((*all)[1].id(), "sqjy_cert");
  EXPECT_EQ((*all)[1].credits(), 10);
  absl::StatusOr<lifelong::v1::Programme> got = store_->GetProgramme("sqjy_cert");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name(), "社区教育证书");
  EXPECT_EQ(store_->GetProgramme("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetProgramme("BAD ID").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CatalogStoreTest, BadProgrammesAreRejectedNamingTheFieldAndWriteNothing) {
  const int64_t before = Generation();
  lifelong::v1::Programme p = Certificate();  // c1 does not exist
  absl::StatusOr<lifelong::v1::Programme> r = store_->PutProgramme(p);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), StartsWith("programme.required_course_ids[0]: no course"));
  struct Case {
    std::function<void(lifelong::v1::Programme*)> mutate;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto* p) { p->set_id("Bad Id"); }, "programme.id"},
      {[](auto* p) { p->set_name(""); }, "programme.name"},
      {[](auto* p) { p->set_name(std::string("a\x01b")); }, "programme.name"},
      {[](auto* p) { p->set_credits(-1); }, "programme.credits"},
      {[](auto* p) { p->set_credits(1e9); }, "programme.credits"},
      {[](auto* p) { p->mutable_by_category(0)->set_credits(0); }, "programme.by_category[0].credits"},
      {[](auto* p) { p->mutable_by_category(0)->set_category(""); }, "programme.by_category[0].category"},
      {[](auto* p) { *p->add_by_category() = p->by_category(0); }, "programme.by_category[1].category"},
      {[](auto* p) { p->add_required_course_ids("c1"); }, "programme.required_course_ids[1]"},
      {[](auto* p) { p->add_required_course_ids("../x"); }, "programme.required_course_ids[1]"},
      {[](auto* p) { p->mutable_deadline()->set_nanos(-1); }, "programme.deadline"},
      {[](auto* p) {
         p->set_credits(0);
         p->clear_by_category();
         p->clear_required_course_ids();
       },
       "programme"},
  };
  for (const Case& c : cases) {
    lifelong::v1::Programme bad = Certificate();
    bad.clear_required_course_ids();
    bad.add_required_course_ids("c1");
    c.mutate(&bad);
    absl::StatusOr<lifelong::v1::Programme> res = store_->PutProgramme(bad);
    EXPECT_EQ(res.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(res.status().message()), StartsWith(c.field + ":")) << res.status();
  }
  EXPECT_EQ(Generation(), before);
  EXPECT_TRUE(store_->ListProgrammes()->empty());
}

TEST(CatalogStoreOpen, SecondOpenOfTheSameDirectoryIsUnavailable) {
  const std::string dir = FreshDir("locked");
  auto first = CatalogStore::Open(dir);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = CatalogStore::Open(dir);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
}

TEST(CatalogStoreOpen, UnknownColumnFamilyIsFailedPrecondition) {
  const std::string dir = FreshDir("future_family");
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::ColumnFamilyHandle* handle = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "from_the_future", &handle).ok());
    db->DestroyColumnFamilyHandle(handle);
  }
  auto store = CatalogStore::Open(dir);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("from_the_future"));
}

TEST(CatalogStoreOpen, OtherFormatVersionIsFailedPrecondition) {
  const std::string dir = FreshDir("format_version");
  ASSERT_TRUE(CatalogStore::Open(dir).ok());  // creates version 1, then closes
  {
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const ColumnFamilySpec& f : kColumnFamilies) {
      families.emplace_back(std::string(f.name), rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir, families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[static_cast<int>(Cf::kMeta)],
                        codec::MetaKeyBytes(codec::MetaKey::kFormatVersion), codec::EncodeU32Value(2))
                    .ok());
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  }
  auto store = CatalogStore::Open(dir);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
}

// A course stored by an earlier version carries an etag of the earlier form
// (the decimal revision): it still matches until the course's next write.
TEST(CatalogStoreOpen, EtagsStoredBeforeTheUpgradeStillMatch) {
  const std::string dir = FreshDir("old_etags");
  {
    auto store = CatalogStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->CreateCourse(MakeCourse("c1")).ok());
  }
  {  // the record as the earlier version wrote it
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const ColumnFamilySpec& f : kColumnFamilies) {
      families.emplace_back(std::string(f.name), rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir, families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::ColumnFamilyHandle* courses = handles[static_cast<int>(Cf::kCourses)];
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), courses, codec::CourseKey("c1"), &value).ok());
    absl::StatusOr<Course> stored = codec::DecodeCourseValue(value);
    ASSERT_TRUE(stored.ok()) << stored.status();
    stored->set_etag("1");
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), courses, codec::CourseKey("c1"), codec::EncodeCourseValue(*stored)).ok());
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  }
  auto store = CatalogStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->GetCourse("c1")->etag(), "1");
  Course patch;
  patch.set_id("c1");
  patch.set_etag("1");
  patch.set_title("新标题");
  absl::StatusOr<Course> updated = (*store)->UpdateCourse(patch, {});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->revision(), 2);
  EXPECT_THAT(updated->etag(), StartsWith("2-"));
  EXPECT_EQ((*store)->UpdateCourse(patch, {}).status().code(), absl::StatusCode::kAborted);  // "1" is stale now
}

}  // namespace
}  // namespace lifelong::catalog
