#include "services/recommend/request_validation.h"

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
  EXPECT_EQ(q.status().message().substr(0, field_prefix.size() + 1), field_prefix + ":")
      << q.status();
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
