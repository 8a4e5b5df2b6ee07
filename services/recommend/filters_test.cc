#include "services/recommend/filters.h"

#include <vector>

#include "gtest/gtest.h"

namespace lifelong::recommend {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

Course Offline() {
  Course c;
  c.id = "c1";
  c.title = "书法入门";
  c.category = "书法";
  c.mode = "offline";
  c.audiences = {"seniors", "adults"};
  c.xuequ = "和平里学区";
  c.venue_id = "v1";
  c.has_location = true;
  c.lat = 39.9580;  // 和平里
  c.lng = 116.4170;
  c.sessions = {{kNow + absl::Hours(48), kNow + absl::Hours(50)}};
  c.enrol_from = kNow - absl::Hours(24);
  c.enrol_to = kNow + absl::Hours(24);
  return c;
}

TEST(Haversine, KnownDistance) {
  // 天安门 -> 和平里 is about 5.8 km.
  const double d = HaversineKm(39.9087, 116.3975, 39.9580, 116.4170);
  EXPECT_NEAR(d, 5.77, 0.2);
  EXPECT_DOUBLE_EQ(HaversineKm(1, 2, 1, 2), 0.0);
}

TEST(Exclusion, StatesSeatsAndEnrolment) {
  Course c = Offline();
  EXPECT_EQ(ExclusionOf(c, kNow), Exclusion::kNone);
  for (CourseState s : {CourseState::kDraft, CourseState::kClosed, CourseState::kArchived}) {
    Course d = c;
    d.state = s;
    EXPECT_EQ(ExclusionOf(d, kNow), Exclusion::kNotPublished);
  }
  Course full = c;
  full.capacity = 20;
  full.seats_taken = 20;
  EXPECT_EQ(ExclusionOf(full, kNow), Exclusion::kNoSeatsLeft);
  EXPECT_EQ(ExclusionOf(c, kNow + absl::Hours(24)), Exclusion::kEnrolmentEnded);
}

TEST(MatchesFilter, EmptyFilterMatches) { EXPECT_TRUE(MatchesFilter(Offline(), CourseFilter(), kNow)); }

TEST(MatchesFilter, ListsAreOrWithinAndAcross) {
  CourseFilter f;
  f.modes = {"online", "offline"};
  f.categories = {"书法"};
  f.audiences = {"children", "seniors"};
  f.xuequ = {"和平里学区"};
  f.venue_ids = {"v1", "v2"};
  EXPECT_TRUE(MatchesFilter(Offline(), f, kNow));
  f.modes = {"online"};
  EXPECT_FALSE(MatchesFilter(Offline(), f, kNow));
  f.modes.clear();
  f.audiences = {"children"};
  EXPECT_FALSE(MatchesFilter(Offline(), f, kNow));
  f.audiences.clear();
  f.venue_ids = {"v2"};
  EXPECT_FALSE(MatchesFilter(Offline(), f, kNow));
}

TEST(MatchesFilter, Distance) {
  CourseFilter f;
  f.has_near = true;
  f.near_lat = 39.9087;  // 天安门
  f.near_lng = 116.3975;
  f.within_km = 7;
  EXPECT_TRUE(MatchesFilter(Offline(), f, kNow));
  f.within_km = 3;
  EXPECT_FALSE(MatchesFilter(Offline(), f, kNow));
  Course online = Offline();
  online.has_location = false;
  f.within_km = 100;
  EXPECT_FALSE(MatchesFilter(online, f, kNow));
}

TEST(MatchesFilter, OpenForEnrolmentNow) {
  CourseFilter f;
  f.open_for_enrolment_now = true;
  EXPECT_TRUE(MatchesFilter(Offline(), f, kNow));
  Course later = Offline();
  later.enrol_from = kNow + absl::Hours(1);
  EXPECT_FALSE(MatchesFilter(later, f, kNow));
}

TEST(MatchesFilter, SessionWindow) {
  CourseFilter f;
  f.session_from = kNow + absl::Hours(47);
  f.session_to = kNow + absl::Hours(49);
  EXPECT_TRUE(MatchesFilter(Offline(), f, kNow));
  f.session_from = kNow + absl::Hours(49);
  f.session_to = absl::InfiniteFuture();
  EXPECT_FALSE(MatchesFilter(Offline(), f, kNow));
  f.session_from = absl::InfinitePast();
  f.session_to = kNow + absl::Hours(48);  // inclusive
  EXPECT_TRUE(MatchesFilter(Offline(), f, kNow));
}

TEST(FilterIsEmpty, OnlyTheDefaultFilterIsEmpty) {
  EXPECT_TRUE(FilterIsEmpty(CourseFilter()));
  // Each constraint alone makes it non-empty, and some course fails it.
  std::vector<CourseFilter> filters(9);
  filters[0].modes = {"online"};
  filters[1].categories = {"绘画"};
  filters[2].audiences = {"children"};
  filters[3].xuequ = {"东直门学区"};
  filters[4].venue_ids = {"v2"};
  filters[5].has_near = true;
  filters[5].within_km = 1;
  filters[6].open_for_enrolment_now = true;
  filters[7].session_from = kNow + absl::Hours(100);
  filters[8].session_to = kNow;
  Course closed_enrolment = Offline();
  closed_enrolment.enrol_from = kNow + absl::Hours(1);
  for (size_t i = 0; i < filters.size(); ++i) {
    EXPECT_FALSE(FilterIsEmpty(filters[i])) << "filter " << i;
    EXPECT_FALSE(MatchesFilter(Offline(), filters[i], kNow) && MatchesFilter(closed_enrolment, filters[i], kNow))
        << "filter " << i;
  }
}

}  // namespace
}  // namespace lifelong::recommend
