#include "services/recommend/request_validation.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace lifelong::recommend {
namespace {

v1::RecommendRequest Valid() {
  v1::RecommendRequest r;
  r.set_learner("u1");
  r.set_k(10);
  return r;
}

void ExpectInvalid(const v1::RecommendRequest& r, const std::string& field_prefix) {
  absl::StatusOr<RecommendQuery> q = ValidateRecommendRequest(r);
  ASSERT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << q.status();
  EXPECT_EQ(q.status().message().substr(0, field_prefix.size() + 1), field_prefix + ":") << q.status();
}

TEST(ValidateRecommendRequest, AcceptsValidRequest) {
  v1::RecommendRequest r = Valid();
  r.mutable_filter()->add_modes(v1::Course::OFFLINE);
  r.mutable_filter()->add_categories("书法");
  r.mutable_filter()->add_audiences(v1::Course::SENIORS);
  r.mutable_filter()->mutable_near()->set_lat(39.95);
  r.mutable_filter()->mutable_near()->set_lng(116.41);
  r.mutable_filter()->set_within_km(3);
  r.mutable_context()->set_channel(v1::RecommendContext::CHANNEL_KIOSK);
  r.mutable_context()->set_kiosk_venue_id("v1");
  r.mutable_context()->add_interests("书法");
  r.mutable_context()->set_age_group(v1::Course::SENIORS);
  absl::StatusOr<RecommendQuery> q = ValidateRecommendRequest(r);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->k, 10);
  EXPECT_EQ(q->filter.modes, std::vector<std::string>{"offline"});
  EXPECT_EQ(q->filter.audiences, std::vector<std::string>{"seniors"});
  EXPECT_TRUE(q->filter.has_near);
  EXPECT_EQ(q->context.channel, RecommendContext::Channel::kKiosk);
  EXPECT_EQ(q->context.age_group, "seniors");
  EXPECT_FALSE(q->context.has_location);
}

TEST(ValidateRecommendRequest, KOutOfRange) {
  for (int k : {0, -1, 101}) {
    v1::RecommendRequest r = Valid();
    r.set_k(k);
    ExpectInvalid(r, "k");
  }
  v1::RecommendRequest r = Valid();
  r.set_k(100);
  EXPECT_TRUE(ValidateRecommendRequest(r).ok());
}

TEST(ValidateRecommendRequest, FilterFieldsNamed) {
  v1::RecommendRequest r = Valid();
  r.mutable_filter()->add_modes(v1::Course::MODE_UNSPECIFIED);
  ExpectInvalid(r, "filter.modes[0]");

  r = Valid();
  r.mutable_filter()->mutable_near()->set_lat(91);
  r.mutable_filter()->set_within_km(1);
  ExpectInvalid(r, "filter.near.lat");

  r = Valid();
  r.mutable_filter()->mutable_near()->set_lat(39.9);
  r.mutable_filter()->set_within_km(0);
  ExpectInvalid(r, "filter.within_km");

  r = Valid();
  r.mutable_filter()->mutable_near();
  r.mutable_filter()->set_within_km(101);
  ExpectInvalid(r, "filter.within_km");

  r = Valid();
  r.mutable_filter()->set_within_km(5);
  ExpectInvalid(r, "filter.near");

  r = Valid();
  r.mutable_filter()->add_categories("");
  ExpectInvalid(r, "filter.categories[0]");

  r = Valid();
  r.mutable_filter()->mutable_session_from()->set_seconds(2000);
  r.mutable_filter()->mutable_session_to()->set_seconds(1000);
  ExpectInvalid(r, "filter.session_to");

  r = Valid();
  r.mutable_filter()->mutable_session_from()->set_nanos(-1);
  ExpectInvalid(r, "filter.session_from");
}

TEST(ValidateRecommendRequest, ContextFieldsNamed) {
  v1::RecommendRequest r = Valid();
  r.mutable_context()->set_channel(v1::RecommendContext::CHANNEL_KIOSK);
  ExpectInvalid(r, "context.kiosk_venue_id");

  r = Valid();
  r.mutable_context()->mutable_location()->set_lng(200);
  ExpectInvalid(r, "context.location.lng");

  r = Valid();
  r.mutable_context()->set_age_group(static_cast<v1::Course::Audience>(42));
  ExpectInvalid(r, "context.age_group");

  r = Valid();
  r.set_learner(std::string(600, 'x'));
  ExpectInvalid(r, "learner");
}

TEST(ValidateSimilarRequest, CourseIdAndK) {
  v1::SimilarCoursesRequest r;
  r.set_k(5);
  EXPECT_EQ(ValidateSimilarRequest(r).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateSimilarRequest(r).status().message().substr(0, 10), "course_id:");
  r.set_course_id("c1");
  EXPECT_TRUE(ValidateSimilarRequest(r).ok());
  r.set_k(0);
  EXPECT_EQ(ValidateSimilarRequest(r).status().message().substr(0, 2), "k:");
}

// Every list of a filter is capped at kMaxListValues, in Recommend and
// SimilarCourses alike: filters.cc looks each candidate up in them, and
// modes and audiences were not capped (millions of values cost seconds of
// CPU per call).
TEST(ValidateFilter, EveryListIsCappedInEveryRequest) {
  using Fill = void (*)(v1::CourseFilter*, int);
  const std::vector<std::pair<std::string, Fill>> lists = {
      {"modes",
       [](v1::CourseFilter* f, int n) {
         for (int i = 0; i < n; ++i) f->add_modes(v1::Course::ONLINE);
       }},
      {"audiences",
       [](v1::CourseFilter* f, int n) {
         for (int i = 0; i < n; ++i) f->add_audiences(v1::Course::SENIORS);
       }},
      {"categories",
       [](v1::CourseFilter* f, int n) {
         for (int i = 0; i < n; ++i) f->add_categories("书法");
       }},
      {"xuequ",
       [](v1::CourseFilter* f, int n) {
         for (int i = 0; i < n; ++i) f->add_xuequ("和平里");
       }},
      {"venue_ids",
       [](v1::CourseFilter* f, int n) {
         for (int i = 0; i < n; ++i) f->add_venue_ids("v1");
       }},
  };
  for (const auto& [name, fill] : lists) {
    SCOPED_TRACE(name);
    const std::string want = absl::StrCat("filter.", name, ": at most ", kMaxListValues, " values");
    for (int n : {kMaxListValues, kMaxListValues + 1, 100000}) {
      v1::RecommendRequest recommend = Valid();
      fill(recommend.mutable_filter(), n);
      v1::SimilarCoursesRequest similar;
      similar.set_course_id("c1");
      similar.set_k(5);
      fill(similar.mutable_filter(), n);
      const absl::Status r = ValidateRecommendRequest(recommend).status();
      const absl::Status s = ValidateSimilarRequest(similar).status();
      if (n <= kMaxListValues) {
        EXPECT_TRUE(r.ok()) << r;
        EXPECT_TRUE(s.ok()) << s;
      } else {
        EXPECT_EQ(r.code(), absl::StatusCode::kInvalidArgument) << n;
        EXPECT_EQ(r.message(), want);
        EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << n;
        EXPECT_EQ(s.message(), want);
      }
    }
  }
}

TEST(ValidatePlanPathRequest, GoalsAndMisuse) {
  auto invalid = [](const v1::PlanPathRequest& r, const std::string& field) {
    absl::StatusOr<PlanPathQuery> q = ValidatePlanPathRequest(r);
    EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_EQ(q.status().message().substr(0, field.size() + 1), field + ":") << q.status();
  };
  v1::PlanPathRequest r;
  r.set_category("书法");
  invalid(r, "learner");
  r.set_learner(std::string(600, 'u'));
  invalid(r, "learner");
  r.set_learner("u1");
  absl::StatusOr<PlanPathQuery> ok = ValidatePlanPathRequest(r);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->goal.kind, PlanGoal::Kind::kCategory);
  EXPECT_EQ(ok->options.max_steps, PlanOptions().max_steps);

  v1::PlanPathRequest none;
  none.set_learner("u1");
  invalid(none, "goal");
  r.set_category("");
  invalid(r, "category");
  r.set_course_id(std::string(65, 'c'));
  invalid(r, "course_id");
  r.set_programme_id("");
  invalid(r, "programme_id");
  r.set_programme_id("shequ_jiaoyu");
  ok = ValidatePlanPathRequest(r);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->programme_id, "shequ_jiaoyu");
  EXPECT_EQ(ok->goal.kind, PlanGoal::Kind::kProgramme);

  // An inline programme is checked like a stored one.
  v1::Programme* p = r.mutable_programme();
  p->set_name("社区教育证书");
  p->set_credits(std::nan(""));
  invalid(r, "programme.credits");
  p->set_credits(12);
  p->add_by_category()->set_category("传统文化");
  invalid(r, "programme.by_category[0].credits");
  p->mutable_by_category(0)->set_credits(4);
  // Categories are bounded as a Recommend filter's are (64 bytes).
  p->mutable_by_category(0)->set_category(std::string(65, 'x'));
  invalid(r, "programme.by_category[0].category");
  p->mutable_by_category(0)->set_category(std::string(64, 'x'));
  EXPECT_TRUE(ValidatePlanPathRequest(r).ok());
  p->mutable_by_category(0)->set_category("");
  invalid(r, "programme.by_category[0].category");
  p->mutable_by_category(0)->set_category("传统文化");
  p->mutable_deadline()->set_seconds(-99999999999LL);
  invalid(r, "programme.deadline");
  p->clear_deadline();
  for (int i = 0; i < 65; ++i) p->add_required_course_ids(absl::StrCat("c", i));
  invalid(r, "programme.required_course_ids");
  p->clear_required_course_ids();
  // Messages name the proto's fields (required_course_ids, not the domain's
  // required_courses).
  p->add_required_course_ids("c1");
  p->add_required_course_ids("c1");
  invalid(r, "programme.required_course_ids[1]");
  p->clear_required_course_ids();
  p->add_required_course_ids("");
  invalid(r, "programme.required_course_ids[0]");
  p->clear_required_course_ids();
  ok = ValidatePlanPathRequest(r);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->goal.programme.by_category.size(), 1u);

  r.mutable_deadline()->set_nanos(-1);
  invalid(r, "deadline");
  r.clear_deadline();
  r.set_home_xuequ(std::string(65, 'x'));
  invalid(r, "home_xuequ");
  r.set_home_xuequ("和平里学区");
  r.set_max_courses(-1);
  invalid(r, "max_courses");
  r.set_max_courses(101);
  invalid(r, "max_courses");
  r.set_max_courses(7);
  r.set_prefer_online(true);
  ok = ValidatePlanPathRequest(r);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->options.max_steps, 7);
  EXPECT_TRUE(ok->preferences.prefer_online);
  EXPECT_EQ(ok->preferences.home_xuequ, "和平里学区");
}

TEST(EnumNames, RoundTrip) {
  for (auto m : {v1::Course::OFFLINE, v1::Course::ONLINE, v1::Course::BLENDED}) {
    EXPECT_EQ(ModeFromName(ModeName(m)), m);
  }
  for (auto a : {v1::Course::CHILDREN, v1::Course::TEENS, v1::Course::ADULTS, v1::Course::SENIORS}) {
    EXPECT_EQ(AudienceFromName(AudienceNameOf(a)), a);
  }
  for (auto l : {v1::Course::BEGINNER, v1::Course::INTERMEDIATE, v1::Course::ADVANCED}) {
    EXPECT_EQ(LevelFromName(LevelName(l)), l);
  }
}

}  // namespace
}  // namespace lifelong::recommend
