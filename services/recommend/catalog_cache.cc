#include "services/recommend/catalog_cache.h"

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/log.h"
#include "services/recommend/request_validation.h"

namespace lifelong::recommend {
namespace {

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

CourseState StateFromProto(v1::Course::State s) {
  switch (s) {
    case v1::Course::OPEN:
      return CourseState::kOpen;
    case v1::Course::CLOSED:
      return CourseState::kClosed;
    case v1::Course::ARCHIVED:
      return CourseState::kArchived;
    default:
      return CourseState::kDraft;
  }
}

}  // namespace

Course CourseFromProto(const v1::Course& p) {
  Course c;
  c.id = p.id();
  c.title = p.title();
  c.category = p.category();
  c.mode = ModeName(p.mode());
  for (int a : p.audiences()) c.audiences.push_back(AudienceNameOf(static_cast<v1::Course::Audience>(a)));
  c.description = p.description();
  c.tags.assign(p.tags().begin(), p.tags().end());
  c.xuequ = p.venue().xuequ();
  c.jiedao = p.venue().jiedao();
  c.venue_id = p.venue().id();
  c.venue_name = p.venue().name();
  if (p.venue().has_location()) {
    c.has_location = true;
    c.lat = p.venue().location().latitude();
    c.lng = p.venue().location().longitude();
  }
  for (const v1::Session& s : p.sessions()) {
    c.sessions.push_back({FromProto(s.start_time()), FromProto(s.end_time())});
  }
  if (p.has_enrollment_open_time()) c.enrol_from = FromProto(p.enrollment_open_time());
  if (p.has_enrollment_close_time()) c.enrol_to = FromProto(p.enrollment_close_time());
  c.capacity = p.capacity();
  c.seats_taken = p.seats_taken();
  c.credits = p.credits();
  c.level = LevelName(p.level());
  c.prerequisites.assign(p.prerequisite_ids().begin(), p.prerequisite_ids().end());
  c.state = StateFromProto(p.state());
  return c;
}

Programme ProgrammeFromProto(const v1::Programme& p) {
  Programme out;
  out.id = p.id();
  out.name = p.name();
  out.credits = p.credits();
  for (const auto& r : p.by_category()) out.by_category.push_back({r.category(), r.credits()});
  out.required_courses.assign(p.required_course_ids().begin(), p.required_course_ids().end());
  if (p.has_deadline()) out.deadline = FromProto(p.deadline());
  return out;
}

CatalogCache::CatalogCache(std::shared_ptr<grpc::Channel> channel, Options options)
    : stub_(v1::CourseCatalogService::NewStub(channel)), options_([&] {
        Options o = std::move(options);
        if (!o.clock) o.clock = [] { return absl::Now(); };
        return o;
      }()) {}

CatalogCache::~CatalogCache() { Stop(); }

void CatalogCache::Start() {
  if (refresher_.joinable()) return;
  refresher_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(options_.refresh_interval)) {
      RefreshOnce().IgnoreError();  // kept in last_error_
    }
  });
}

void CatalogCache::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (refresher_.joinable()) refresher_.join();
}

absl::StatusOr<CatalogPtr> CatalogCache::ListAll(int64_t generation) {
  std::vector<Course> courses;
  std::string token;
  int64_t min_generation = generation;
  do {
    grpc::ClientContext ctx;
    options_.token.AttachTo(&ctx);
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_deadline));
    v1::ListCoursesRequest request;
    request.set_page_size(options_.page_size);
    // Archived courses too: learners' histories name them (a completed
    // course is archived when its term ends, docs/catalog.md), and their
    // series, credits and prerequisites still count (course.h kArchived).
    request.set_show_archived(true);
    request.set_page_token(token);
    v1::ListCoursesResponse response;
    grpc::Status s = stub_->ListCourses(&ctx, request, &response);
    if (!s.ok()) {
      return absl::UnavailableError(absl::StrCat("catalog service at ", options_.target,
                                                 " unavailable: ListCourses failed (", static_cast<int>(s.error_code()),
                                                 "): ", s.error_message()));
    }
    for (const v1::Course& c : response.courses()) courses.push_back(CourseFromProto(c));
    min_generation = std::min(min_generation, response.catalog_generation());
    token = response.next_page_token();
  } while (!token.empty());
  // Programmes (a handful; one call). A catalog service without them
  // (UNIMPLEMENTED: an older version) has none.
  std::vector<Programme> programmes;
  {
    grpc::ClientContext ctx;
    options_.token.AttachTo(&ctx);
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_deadline));
    v1::ListProgrammesResponse response;
    grpc::Status s = stub_->ListProgrammes(&ctx, v1::ListProgrammesRequest(), &response);
    if (!s.ok() && s.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
      return absl::UnavailableError(absl::StrCat("catalog service at ", options_.target,
                                                 " unavailable: ListProgrammes failed (",
                                                 static_cast<int>(s.error_code()), "): ", s.error_message()));
    }
    for (const v1::Programme& p : response.programmes()) programmes.push_back(ProgrammeFromProto(p));
  }
  // A listing that saw an older generation on some page is labelled with it,
  // so the next refresh reads the catalog again.
  return std::make_shared<const CatalogSnapshot>(absl::StrCat(min_generation), std::move(courses),
                                                 std::move(programmes));
}

absl::Status CatalogCache::RefreshOnce() {
  absl::MutexLock refresh_lock(&refresh_mu_);
  grpc::ClientContext ctx;
  options_.token.AttachTo(&ctx);
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_deadline));
  v1::CatalogInfo info;
  grpc::Status s = stub_->GetCatalogInfo(&ctx, v1::GetCatalogInfoRequest(), &info);
  absl::Status result;
  if (!s.ok()) {
    result = absl::UnavailableError(absl::StrCat("catalog service at ", options_.target, " unavailable (",
                                                 static_cast<int>(s.error_code()), "): ", s.error_message()));
  } else {
    int64_t known;
    {
      absl::MutexLock lock(&mu_);
      known = generation_;
    }
    if (info.generation() != known) {
      absl::StatusOr<CatalogPtr> snapshot = ListAll(info.generation());
      if (snapshot.ok()) {
        int64_t gen = 0;
        (void)absl::SimpleAtoi((*snapshot)->version(), &gen);
        size_t archived = 0;
        for (const Course& c : (*snapshot)->courses()) archived += c.state == CourseState::kArchived ? 1 : 0;
        LogInfo("catalog_loaded", {{"generation", gen},
                                   {"courses", (*snapshot)->courses().size()},
                                   {"archived", archived},
                                   {"drafts", (*snapshot)->draft_count()}});
        absl::MutexLock lock(&mu_);
        snapshot_ = *std::move(snapshot);
        generation_ = gen;
      } else {
        result = snapshot.status();
      }
    }
  }
  absl::MutexLock lock(&mu_);
  if (result.ok()) {
    checked_at_ = options_.clock();
    last_error_.clear();
  } else {
    if (last_error_ != result.message()) {
      LogWarn("catalog_refresh_failed", {{"error", std::string(result.message())}});
    }
    last_error_ = std::string(result.message());
  }
  return result;
}

absl::StatusOr<CatalogPtr> CatalogCache::Current() const {
  absl::MutexLock lock(&mu_);
  if (snapshot_ == nullptr) {
    return absl::UnavailableError(last_error_.empty()
                                      ? absl::StrCat("catalog service at ", options_.target, ": catalog not loaded yet")
                                      : last_error_);
  }
  if (options_.clock() - checked_at_ > options_.max_staleness) {
    return absl::UnavailableError(absl::StrCat("catalog service at ", options_.target, " not reached for ",
                                               absl::FormatDuration(options_.clock() - checked_at_), ": ",
                                               last_error_));
  }
  return snapshot_;
}

}  // namespace lifelong::recommend
