#include "services/catalog/catalog_service.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/auth/token.h"
#include "services/catalog/catalog_backups.h"
#include "services/catalog/test_courses.h"
#include "services/common/server.h"

namespace lifelong::catalog {
namespace {

using lifelong::v1::Course;
using lifelong::v1::CourseCatalogService;
using ::testing::StartsWith;

Course MakeCourse(const std::string& id) { return testing::ValidCourse(id); }

// An empty directory for this test: TEST_TMPDIR/<suite>/<test name>.
std::string FreshTestDir(absl::string_view suite) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", suite, "/",
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A real server on 127.0.0.1:0 over a store in TEST_TMPDIR, and a client.
class CatalogServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDir("catalog_service_test");
    auto store = CatalogStore::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    service_ = std::make_unique<CatalogService>(store_.get());
    auto server = StartGrpcServer(GrpcServerOptions{}, {service_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    server_->SetServing(true);
    stub_ = CourseCatalogService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
    if (store_) {
      EXPECT_TRUE(store_->Close().ok());
    }
  }

  grpc::Status Create(const Course& course, Course* out = nullptr) {
    grpc::ClientContext ctx;
    lifelong::v1::CreateCourseRequest req;
    *req.mutable_course() = course;
    Course ignored;
    return stub_->CreateCourse(&ctx, req, out != nullptr ? out : &ignored);
  }

  grpc::Status List(const lifelong::v1::ListCoursesRequest& req, lifelong::v1::ListCoursesResponse* resp) {
    grpc::ClientContext ctx;
    return stub_->ListCourses(&ctx, req, resp);
  }

  std::string dir_;
  std::unique_ptr<CatalogStore> store_;
  std::unique_ptr<CatalogService> service_;
  std::unique_ptr<RunningGrpcServer> server_;
  std::unique_ptr<CourseCatalogService::Stub> stub_;
};

TEST_F(CatalogServiceTest, EchoReturnsThePayload) {
  grpc::ClientContext ctx;
  lifelong::v1::EchoRequest req;
  req.set_payload(std::string("\0\x01终身学习", 14));
  lifelong::v1::EchoResponse resp;
  ASSERT_TRUE(stub_->Echo(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.payload(), req.payload());
}

TEST_F(CatalogServiceTest, CreateGetAndTheirStatusCodes) {
  Course created;
  ASSERT_TRUE(Create(MakeCourse("c0001"), &created).ok());
  EXPECT_EQ(created.revision(), 1);
  EXPECT_EQ(Create(MakeCourse("c0001")).error_code(), grpc::StatusCode::ALREADY_EXISTS);

  Course bad = MakeCourse("c0002");
  bad.mutable_venue()->mutable_location()->set_latitude(91);
  grpc::Status invalid = Create(bad);
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(invalid.error_message(), StartsWith("course.venue.location.latitude:"));

  {
    grpc::ClientContext ctx;
    lifelong::v1::CreateCourseRequest req;
    req.set_course_id("c0003");
    *req.mutable_course() = MakeCourse("c0004");
    Course out;
    grpc::Status s = stub_->CreateCourse(&ctx, req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), StartsWith("course_id:"));
  }
  {
    grpc::ClientContext ctx;
    lifelong::v1::CreateCourseRequest req;
    req.set_course_id("c0005");  // course.id empty: course_id names it
    *req.mutable_course() = MakeCourse("");
    Course out;
    ASSERT_TRUE(stub_->CreateCourse(&ctx, req, &out).ok());
    EXPECT_EQ(out.id(), "c0005");
  }
  for (const std::string& course_id : {std::string("Bad!"), std::string(5000, 'x')}) {
    grpc::ClientContext ctx;
    lifelong::v1::CreateCourseRequest req;
    req.set_course_id(course_id);  // malformed: named as the field sent, whatever course.id is
    *req.mutable_course() = MakeCourse(course_id == "Bad!" ? "" : "c0006");
    Course out;
    grpc::Status s = stub_->CreateCourse(&ctx, req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), StartsWith("course_id:"));
    EXPECT_LT(s.error_message().size(), 200u) << "the long id is not repeated back";
  }
  {
    grpc::ClientContext ctx;
    lifelong::v1::GetCourseRequest req;
    req.set_id("c0001");
    Course out;
    ASSERT_TRUE(stub_->GetCourse(&ctx, req, &out).ok());
    EXPECT_EQ(out.title(), "太极拳入门");
  }
  {
    grpc::ClientContext ctx;
    lifelong::v1::GetCourseRequest req;
    req.set_id("c9999");
    Course out;
    EXPECT_EQ(stub_->GetCourse(&ctx, req, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    lifelong::v1::BatchGetCoursesRequest req;
    req.add_ids("c0005");
    req.add_ids("c0001");
    lifelong::v1::BatchGetCoursesResponse out;
    ASSERT_TRUE(stub_->BatchGetCourses(&ctx, req, &out).ok());
    ASSERT_EQ(out.courses_size(), 2);
    EXPECT_EQ(out.courses(0).id(), "c0005");
  }
}

TEST_F(CatalogServiceTest, EtagConflictIsAbortedAndArchivedIsFailedPrecondition) {
  Course created;
  ASSERT_TRUE(Create(MakeCourse("c1"), &created).ok());
  lifelong::v1::UpdateCourseRequest req;
  req.mutable_course()->set_id("c1");
  req.mutable_course()->set_etag(created.etag());
  req.mutable_course()->set_seats_taken(3);
  req.mutable_update_mask()->add_paths("seats_taken");
  Course updated;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->UpdateCourse(&ctx, req, &updated).ok());
    EXPECT_EQ(updated.seats_taken(), 3);
    EXPECT_EQ(updated.revision(), 2);
  }
  {
    grpc::ClientContext ctx;  // same etag again: stale
    Course out;
    EXPECT_EQ(stub_->UpdateCourse(&ctx, req, &out).error_code(), grpc::StatusCode::ABORTED);
  }
  {
    grpc::ClientContext ctx;
    lifelong::v1::ArchiveCourseRequest archive;
    archive.set_id("c1");
    archive.set_etag(updated.etag());
    Course out;
    ASSERT_TRUE(stub_->ArchiveCourse(&ctx, archive, &out).ok());
    EXPECT_EQ(out.state(), Course::ARCHIVED);
  }
  {
    grpc::ClientContext ctx;
    req.mutable_course()->set_etag("3");
    Course out;
    EXPECT_EQ(stub_->UpdateCourse(&ctx, req, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
}

TEST_F(CatalogServiceTest, ListPagesWithTokensAndRejectsBadOnes) {
  std::vector<std::string> expected;
  for (int i = 0; i < 7; ++i) {
    const std::string id = absl::StrFormat("c%02d", i);
    ASSERT_TRUE(Create(MakeCourse(id)).ok());
    expected.push_back(id);
  }
  lifelong::v1::ListCoursesRequest req;
  req.set_page_size(3);
  req.set_xuequ("东四学区");
  std::vector<std::string> seen;
  int pages = 0;
  std::string first_token;
  do {
    lifelong::v1::ListCoursesResponse resp;
    ASSERT_TRUE(List(req, &resp).ok());
    EXPECT_EQ(resp.catalog_generation(), 7);
    for (const Course& c : resp.courses()) seen.push_back(c.id());
    if (pages == 0) first_token = resp.next_page_token();
    req.set_page_token(resp.next_page_token());
    ++pages;
  } while (!req.page_token().empty());
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(pages, 3);

  lifelong::v1::ListCoursesResponse resp;
  req.set_page_token(first_token + "x");
  EXPECT_EQ(List(req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_page_token(first_token);
  req.set_xuequ("和平里学区");  // other filters
  grpc::Status mismatch = List(req, &resp);
  EXPECT_EQ(mismatch.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(mismatch.error_message(), StartsWith("page_token:"));
  lifelong::v1::ListCoursesRequest too_big;
  too_big.set_page_size(1001);
  grpc::Status size = List(too_big, &resp);
  EXPECT_EQ(size.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(size.error_message(), StartsWith("page_size:"));
}

TEST_F(CatalogServiceTest, CatalogInfoTracksWrites) {
  auto info = [this] {
    grpc::ClientContext ctx;
    lifelong::v1::CatalogInfo out;
    EXPECT_TRUE(stub_->GetCatalogInfo(&ctx, {}, &out).ok());
    return out;
  };
  EXPECT_EQ(info().generation(), 0);
  ASSERT_TRUE(Create(MakeCourse("c1")).ok());
  ASSERT_TRUE(Create(MakeCourse("c2")).ok());
  lifelong::v1::CatalogInfo after = info();
  EXPECT_EQ(after.generation(), 2);
  EXPECT_EQ(after.course_count(), 2);
  EXPECT_GT(after.update_time().seconds(), 0);
}

TEST_F(CatalogServiceTest, ProgrammesOverGrpc) {
  ASSERT_TRUE(Create(MakeCourse("c1")).ok());
  lifelong::v1::PutProgrammeRequest put;
  lifelong::v1::Programme* p = put.mutable_programme();
  p->set_id("sqjy");
  p->set_name("社区教育证书");
  p->set_credits(12);
  p->add_required_course_ids("c1");
  {
    grpc::ClientContext ctx;
    lifelong::v1::Programme out;
    grpc::Status s = stub_->PutProgramme(&ctx, put, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_GT(out.update_time().seconds(), 0);
  }
  {
    grpc::ClientContext ctx;
    lifelong::v1::ListProgrammesResponse out;
    ASSERT_TRUE(stub_->ListProgrammes(&ctx, {}, &out).ok());
    ASSERT_EQ(out.programmes_size(), 1);
    EXPECT_EQ(out.programmes(0).name(), "社区教育证书");
  }
  {
    grpc::ClientContext ctx;
    lifelong::v1::GetProgrammeRequest get;
    get.set_id("nope");
    lifelong::v1::Programme out;
    EXPECT_EQ(stub_->GetProgramme(&ctx, get, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  p->add_required_course_ids("c404");
  grpc::ClientContext ctx;
  lifelong::v1::Programme out;
  grpc::Status bad = stub_->PutProgramme(&ctx, put, &out);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), StartsWith("programme.required_course_ids[1]: no course"));
}

TEST_F(CatalogServiceTest, DraftsAreVisibleWhenAuthenticationIsOff) {
  Course draft = MakeCourse("d1");
  draft.set_state(Course::DRAFT);
  ASSERT_TRUE(Create(draft).ok());
  grpc::ClientContext ctx;
  lifelong::v1::GetCourseRequest req;
  req.set_id("d1");
  Course out;
  ASSERT_TRUE(stub_->GetCourse(&ctx, req, &out).ok());
  EXPECT_EQ(out.state(), Course::DRAFT);
  lifelong::v1::ListCoursesResponse listed;
  ASSERT_TRUE(List({}, &listed).ok());
  EXPECT_EQ(listed.courses_size(), 1);
}

// Drafts over gRPC with authentication on and real tokens: learners and
// kiosks (the kiosk's "today at this venue" list is ListCourses{venue_id})
// do not see them; the roles that manage or consume the whole catalog do.
class CatalogDraftServiceTest : public ::testing::Test {
 protected:
  static constexpr char kKey[] = "catalog-draft-test-key-0123456789abcdef";

  void SetUp() override {
    const std::string dir = FreshTestDir("catalog_draft_service_test");
    auth::AuthOptions o;
    o.enabled = true;
    o.token.key = kKey;
    o.limits.requests_per_second = 1000;
    o.limits.burst = 1000;
    authorizer_ = std::make_unique<auth::Authorizer>(o);
    auto store = CatalogStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    // At the kiosk's venue: one open course, one draft.
    ASSERT_TRUE(store_->CreateCourse(MakeCourse("c-open")).ok());
    Course draft = MakeCourse("c-draft");
    draft.set_state(Course::DRAFT);
    ASSERT_TRUE(store_->CreateCourse(draft).ok());
    service_ = std::make_unique<CatalogService>(store_.get(), authorizer_.get());
    auto server = StartGrpcServer(GrpcServerOptions{}, {service_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = CourseCatalogService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
    if (store_) {
      EXPECT_TRUE(store_->Close().ok());
    }
  }

  // A client context carrying a token for `role`.
  std::unique_ptr<grpc::ClientContext> Ctx(auth::Role role) {
    auto c = std::make_unique<grpc::ClientContext>();
    auth::Principal p;
    p.role = role;
    p.subject = absl::StrCat(auth::RoleName(role), "-1");
    if (role == auth::Role::kLearner) p.subject = "u000001";
    if (role == auth::Role::kKiosk) p.venue = "v-ds";
    if (role == auth::Role::kTeacher) p.courses = {"c-draft"};
    auth::TokenOptions t;
    t.key = kKey;
    c->AddMetadata("authorization", "Bearer " + *auth::MintToken(p, absl::Minutes(5), t));
    return c;
  }

  grpc::Status Get(auth::Role role, const std::string& id) {
    lifelong::v1::GetCourseRequest req;
    req.set_id(id);
    Course out;
    return stub_->GetCourse(Ctx(role).get(), req, &out);
  }

  grpc::Status BatchGet(auth::Role role, const std::vector<std::string>& ids) {
    lifelong::v1::BatchGetCoursesRequest req;
    for (const std::string& id : ids) req.add_ids(id);
    lifelong::v1::BatchGetCoursesResponse out;
    return stub_->BatchGetCourses(Ctx(role).get(), req, &out);
  }

  // The ids ListCourses returns for `req`, or the status when it fails.
  std::vector<std::string> ListIds(auth::Role role, const lifelong::v1::ListCoursesRequest& req,
                                   grpc::Status* status = nullptr) {
    lifelong::v1::ListCoursesResponse out;
    grpc::Status s = stub_->ListCourses(Ctx(role).get(), req, &out);
    if (status != nullptr) *status = s;
    std::vector<std::string> ids;
    for (const Course& c : out.courses()) ids.push_back(c.id());
    return ids;
  }

  int64_t CourseCount(auth::Role role) {
    lifelong::v1::CatalogInfo out;
    EXPECT_TRUE(stub_->GetCatalogInfo(Ctx(role).get(), {}, &out).ok());
    return out.course_count();
  }

  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<CatalogStore> store_;
  std::unique_ptr<CatalogService> service_;
  std::unique_ptr<RunningGrpcServer> server_;
  std::unique_ptr<CourseCatalogService::Stub> stub_;
};

TEST_F(CatalogDraftServiceTest, LearnersAndKiosksDoNotSeeDrafts) {
  lifelong::v1::ListCoursesRequest here;  // kiosk.js todayHere()
  here.set_venue_id("v-ds");
  here.set_page_size(200);
  lifelong::v1::ListCoursesRequest drafts;
  drafts.set_state(Course::DRAFT);
  for (auth::Role role : {auth::Role::kLearner, auth::Role::kKiosk}) {
    SCOPED_TRACE(auth::RoleName(role));
    grpc::Status draft = Get(role, "c-draft");
    grpc::Status missing = Get(role, "c-nope");
    EXPECT_EQ(draft.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(draft.error_message(), "course 'c-draft' not found");
    EXPECT_EQ(missing.error_message(), "course 'c-nope' not found");  // indistinguishable
    EXPECT_TRUE(Get(role, "c-open").ok());
    grpc::Status batch = BatchGet(role, {"c-open", "c-draft"});
    EXPECT_EQ(batch.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(batch.error_message(), "ids[1]: course 'c-draft' not found");
    EXPECT_EQ(BatchGet(role, {"c-open", "c-nope"}).error_message(), "ids[1]: course 'c-nope' not found");
    EXPECT_THAT(ListIds(role, here), ::testing::ElementsAre("c-open"));
    EXPECT_THAT(ListIds(role, {}), ::testing::ElementsAre("c-open"));
    grpc::Status refused;
    EXPECT_TRUE(ListIds(role, drafts, &refused).empty());
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(refused.error_message(), StartsWith("state:"));
    EXPECT_EQ(CourseCount(role), 1);
  }
}

TEST_F(CatalogDraftServiceTest, StaffAndTheServicesThatCopyTheCatalogSeeDrafts) {
  lifelong::v1::ListCoursesRequest here;
  here.set_venue_id("v-ds");
  lifelong::v1::ListCoursesRequest drafts;
  drafts.set_state(Course::DRAFT);
  lifelong::v1::ListCoursesRequest cache;  // services/recommend/catalog_cache.cc
  cache.set_page_size(1000);
  cache.set_show_archived(true);
  for (auth::Role role : {auth::Role::kOperator, auth::Role::kLoader, auth::Role::kTeacher, auth::Role::kTrainer,
                          auth::Role::kRecommender}) {
    SCOPED_TRACE(auth::RoleName(role));
    grpc::Status draft = Get(role, "c-draft");
    EXPECT_TRUE(draft.ok()) << draft.error_message();
    EXPECT_TRUE(BatchGet(role, {"c-open", "c-draft"}).ok());
    EXPECT_THAT(ListIds(role, here), ::testing::ElementsAre("c-draft", "c-open"));
    EXPECT_THAT(ListIds(role, cache), ::testing::ElementsAre("c-draft", "c-open"));
    EXPECT_THAT(ListIds(role, drafts), ::testing::ElementsAre("c-draft"));
    EXPECT_EQ(CourseCount(role), 2);
  }
}

// Backups over gRPC with authentication on: operators only; every other
// role is refused, a call without a valid credential is unauthenticated.
// The per-caller concurrency limit (AuthOptions::limits.max_in_flight)
// covers a catalog call until it is answered: its slot is held while the
// store works, so one token cannot have more calls in the store at once.
// The store's clock, which ListCourses reads, holds the first call there.
TEST(CatalogServiceLimitsTest, ACallHoldsItsInFlightSlotUntilItIsAnswered) {
  constexpr char kKey[] = "catalog-limits-test-key-0123456789abcdef";
  const std::string dir = FreshTestDir("catalog_service_limits_test");
  absl::Notification entered, release;
  std::atomic<bool> hold{false};
  CatalogStoreOptions so;
  so.clock = [&] {
    if (hold.exchange(false)) {
      entered.Notify();
      release.WaitForNotificationWithTimeout(absl::Seconds(60));
    }
    return absl::Now();
  };
  auto store = CatalogStore::Open(dir, so);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->CreateCourse(MakeCourse("c-open")).ok());
  auth::AuthOptions ao;
  ao.enabled = true;
  ao.token.key = kKey;
  ao.limits.max_in_flight = 1;
  ao.limits.requests_per_second = 1000;
  ao.limits.burst = 1000;
  auth::Authorizer authorizer(ao);
  CatalogService service(store->get(), &authorizer);
  auto server = StartGrpcServer(GrpcServerOptions{}, {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = CourseCatalogService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  auth::Principal learner;
  learner.role = auth::Role::kLearner;
  learner.subject = "u000001";
  const std::string token = *auth::MintToken(learner, absl::Minutes(5), ao.token);
  auto list = [&] {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    lifelong::v1::ListCoursesResponse out;
    return stub->ListCourses(&ctx, lifelong::v1::ListCoursesRequest(), &out);
  };
  auto get = [&] {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    lifelong::v1::GetCourseRequest req;
    req.set_id("c-open");
    Course out;
    return stub->GetCourse(&ctx, req, &out);
  };

  hold = true;
  grpc::Status first;
  std::thread slow([&] { first = list(); });
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  const grpc::Status second = get();  // while the first is in the store
  EXPECT_EQ(second.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << second.error_message();
  EXPECT_THAT(second.error_message(), ::testing::HasSubstr("concurrency limit"));
  release.Notify();
  slow.join();
  EXPECT_TRUE(first.ok()) << first.error_message();
  const grpc::Status after = get();  // the answer gave the slot back
  EXPECT_TRUE(after.ok()) << after.error_message();
  (*server)->Shutdown();
  EXPECT_TRUE((*store)->Close().ok());
}

class CatalogBackupServiceTest : public ::testing::Test {
 protected:
  static constexpr char kKey[] = "catalog-backup-test-key-0123456789abcdef";

  void SetUp() override {
    dir_ = FreshTestDir("catalog_backup_service_test");
    auth::AuthOptions o;
    o.enabled = true;
    o.token.key = kKey;
    o.limits.requests_per_second = 1000;
    o.limits.burst = 1000;
    authorizer_ = std::make_unique<auth::Authorizer>(o);
    auto store = CatalogStore::Open(dir_ + "/catalog");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    ASSERT_TRUE(store_->CreateCourse(MakeCourse("c1")).ok());
    CatalogBackupOptions bo;
    bo.backup_dir = dir_ + "/backups";
    auto backups = CatalogBackupManager::Open(store_.get(), bo);
    ASSERT_TRUE(backups.ok()) << backups.status();
    backups_ = *std::move(backups);
    with_backups_ = std::make_unique<CatalogService>(store_.get(), authorizer_.get(), backups_.get());
    without_backups_ = std::make_unique<CatalogService>(store_.get(), authorizer_.get());
    for (CatalogService* service : {with_backups_.get(), without_backups_.get()}) {
      auto server = StartGrpcServer(GrpcServerOptions{}, {service});
      ASSERT_TRUE(server.ok()) << server.status();
      stubs_.push_back(CourseCatalogService::NewStub(
          grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials())));
      servers_.push_back(*std::move(server));
    }
  }

  void TearDown() override {
    for (auto& server : servers_) server->Shutdown();
    backups_.reset();
    if (store_) {
      EXPECT_TRUE(store_->Close().ok());
    }
  }

  // A client context carrying a token for `role` (none for nullopt).
  std::unique_ptr<grpc::ClientContext> Ctx(std::optional<auth::Role> role) {
    auto c = std::make_unique<grpc::ClientContext>();
    if (!role) return c;
    auth::Principal p;
    p.role = *role;
    p.subject = absl::StrCat(auth::RoleName(*role), "-1");
    if (*role == auth::Role::kLearner) p.subject = "u000001";
    if (*role == auth::Role::kKiosk) p.venue = "和平里社区学校";
    if (*role == auth::Role::kTeacher) p.courses = {"c1"};
    auth::TokenOptions t;
    t.key = kKey;
    c->AddMetadata("authorization", "Bearer " + *auth::MintToken(p, absl::Minutes(5), t));
    return c;
  }

  // The codes of CreateBackup, ListBackups and VerifyBackup(1) on server `i`.
  std::vector<grpc::StatusCode> CallAll(size_t i, std::optional<auth::Role> role) {
    lifelong::v1::CatalogBackup backup;
    lifelong::v1::ListCatalogBackupsResponse listed;
    lifelong::v1::VerifyCatalogBackupRequest verify;
    verify.set_backup_id(1);
    return {stubs_[i]->CreateBackup(Ctx(role).get(), {}, &backup).error_code(),
            stubs_[i]->ListBackups(Ctx(role).get(), {}, &listed).error_code(),
            stubs_[i]->VerifyBackup(Ctx(role).get(), verify, &backup).error_code()};
  }

  std::string dir_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<CatalogStore> store_;
  std::unique_ptr<CatalogBackupManager> backups_;
  std::unique_ptr<CatalogService> with_backups_, without_backups_;
  std::vector<std::unique_ptr<RunningGrpcServer>> servers_;
  std::vector<std::unique_ptr<CourseCatalogService::Stub>> stubs_;
};

TEST_F(CatalogBackupServiceTest, OnlyOperatorsMayBackUp) {
  using auth::Role;
  const std::vector<grpc::StatusCode> denied(3, grpc::StatusCode::PERMISSION_DENIED);
  for (Role role : {Role::kLearner, Role::kTeacher, Role::kKiosk, Role::kTrainer, Role::kRecommender, Role::kLoader}) {
    SCOPED_TRACE(auth::RoleName(role));
    EXPECT_EQ(CallAll(0, role), denied);
  }
  EXPECT_EQ(CallAll(0, std::nullopt), std::vector<grpc::StatusCode>(3, grpc::StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(backups_->List()->empty()) << "a refused call took a backup";

  // The operator: create, list, verify; bad ids are named.
  lifelong::v1::CatalogBackup backup;
  grpc::Status s = stubs_[0]->CreateBackup(Ctx(Role::kOperator).get(), {}, &backup);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(backup.backup_id(), 1u);
  EXPECT_EQ(backup.course_count(), 1);
  EXPECT_EQ(backup.generation(), 1);
  EXPECT_EQ(backup.programme_count(), 0);
  EXPECT_GT(backup.create_time().seconds(), 0);
  EXPECT_GT(backup.size_bytes(), 0u);
  lifelong::v1::ListCatalogBackupsResponse listed;
  ASSERT_TRUE(stubs_[0]->ListBackups(Ctx(Role::kOperator).get(), {}, &listed).ok());
  ASSERT_EQ(listed.backups_size(), 1);
  EXPECT_EQ(listed.backups(0).backup_id(), 1u);
  lifelong::v1::VerifyCatalogBackupRequest verify;
  verify.set_backup_id(1);
  ASSERT_TRUE(stubs_[0]->VerifyBackup(Ctx(Role::kOperator).get(), verify, &backup).ok());
  verify.set_backup_id(0);
  s = stubs_[0]->VerifyBackup(Ctx(Role::kOperator).get(), verify, &backup);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), StartsWith("backup_id"));
  verify.set_backup_id(7);
  s = stubs_[0]->VerifyBackup(Ctx(Role::kOperator).get(), verify, &backup);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), StartsWith("backup_id"));
}

TEST_F(CatalogBackupServiceTest, BackupsOffIsFailedPreconditionForOperatorsOnly) {
  EXPECT_EQ(CallAll(1, auth::Role::kOperator), std::vector<grpc::StatusCode>(3, grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(CallAll(1, auth::Role::kLearner), std::vector<grpc::StatusCode>(3, grpc::StatusCode::PERMISSION_DENIED));
  lifelong::v1::CatalogBackup backup;
  grpc::Status s = stubs_[1]->CreateBackup(Ctx(auth::Role::kOperator).get(), {}, &backup);
  EXPECT_NE(s.error_message().find("--backup_dir"), std::string::npos) << s.error_message();
}

}  // namespace
}  // namespace lifelong::catalog
