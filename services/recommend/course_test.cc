#include "services/recommend/course.h"

#include "gtest/gtest.h"

namespace lifelong::recommend {
namespace {

TEST(SeriesKey, StripsSectionAndTermMarkers) {
  EXPECT_EQ(SeriesKey("书法入门（第二期）"), "书法入门");
  EXPECT_EQ(SeriesKey("书法入门(2)"), "书法入门");
  EXPECT_EQ(SeriesKey("书法入门 第3期"), "书法入门");
  EXPECT_EQ(SeriesKey("书法入门第十二期"), "书法入门");
  EXPECT_EQ(SeriesKey("书法入门 2"), "书法入门");
  EXPECT_EQ(SeriesKey("太极拳二班"), "太极拳");
}

TEST(SeriesKey, KeepsTitlesWithoutMarkers) {
  EXPECT_EQ(SeriesKey("书法入门"), "书法入门");
  EXPECT_EQ(SeriesKey("Python 编程"), "Python 编程");
  EXPECT_EQ(SeriesKey("期"), "期");
  EXPECT_EQ(SeriesKey("2048"), "2048");
}

TEST(Course, SeatsLeftAndEnrolmentWindow) {
  Course c;
  EXPECT_EQ(c.SeatsLeft(), -1);
  c.capacity = 10;
  c.seats_taken = 12;
  EXPECT_EQ(c.SeatsLeft(), 0);
  c.seats_taken = 4;
  EXPECT_EQ(c.SeatsLeft(), 6);
  const absl::Time t = absl::FromUnixSeconds(1000);
  c.enrol_from = t;
  c.enrol_to = t + absl::Hours(1);
  EXPECT_FALSE(c.EnrolmentOpenAt(t - absl::Seconds(1)));
  EXPECT_TRUE(c.EnrolmentOpenAt(t));
  EXPECT_FALSE(c.EnrolmentOpenAt(t + absl::Hours(1)));  // close is exclusive
}

TEST(Course, NextSessionStartIsFirstFutureSession) {
  Course c;
  const absl::Time t = absl::FromUnixSeconds(1000000);
  c.sessions = {{t + absl::Hours(5), t + absl::Hours(6)},
                {t - absl::Hours(5), t - absl::Hours(4)},
                {t + absl::Hours(2), t + absl::Hours(3)}};
  EXPECT_EQ(c.NextSessionStart(t), t + absl::Hours(2));
  EXPECT_EQ(c.NextSessionStart(t + absl::Hours(10)), absl::InfiniteFuture());
}

TEST(CatalogSnapshot, FindsCoursesAndVenues) {
  Course a;
  a.id = "c1";
  a.title = "书法入门（第一期）";
  a.venue_id = "v1";
  a.jiedao = "和平里街道";
  a.has_location = true;
  a.lat = 39.95;
  a.lng = 116.41;
  Course b;
  b.id = "c2";
  b.title = "太极";
  Course a2 = a;
  a2.title = "replaced";
  CatalogSnapshot snap("7", {a, b, a2});
  ASSERT_EQ(snap.courses().size(), 2u);
  ASSERT_NE(snap.Find("c1"), nullptr);
  EXPECT_EQ(snap.Find("c1")->title, "replaced");
  EXPECT_EQ(snap.Find("c2")->series, "太极");
  EXPECT_EQ(snap.Find("nope"), nullptr);
  double lat = 0, lng = 0;
  EXPECT_TRUE(snap.VenueLocation("v1", &lat, &lng));
  EXPECT_DOUBLE_EQ(lat, 39.95);
  EXPECT_FALSE(snap.VenueLocation("v9", &lat, &lng));
  EXPECT_EQ(snap.VenueArea("v1"), "和平里街道");
  EXPECT_EQ(snap.version(), "7");
}

}  // namespace
}  // namespace lifelong::recommend
