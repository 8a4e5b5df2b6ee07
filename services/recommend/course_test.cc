#include "services/recommend/course.h"

#include <memory>
#include <string>
#include <vector>

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

TEST(CatalogSnapshot, IndexOfOwnCoursesOnlyAndSummaryMemoSlots) {
  std::vector<Course> courses(3);
  for (int i = 0; i < 3; ++i) courses[i].id = "c" + std::to_string(i);
  const CatalogSnapshot snap("7", courses);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(snap.IndexOf(&snap.courses()[i]), i);
    EXPECT_EQ(snap.LoadSummaryMemo(i), nullptr);  // every slot starts empty
  }
  EXPECT_EQ(snap.IndexOf(&courses[0]), -1);  // the vector it was built from
  const Course copy = snap.courses()[1];
  EXPECT_EQ(snap.IndexOf(&copy), -1);
  EXPECT_EQ(snap.IndexOf(nullptr), -1);
  const CatalogSnapshot empty("8", {});
  EXPECT_EQ(empty.IndexOf(&snap.courses()[0]), -1);

  auto memo = std::make_unique<const CatalogSnapshot::SummaryMemo>(CatalogSnapshot::SummaryMemo{{}, false, "abc"});
  const CatalogSnapshot::SummaryMemo* const abc = snap.StoreSummaryMemo(2, std::move(memo));
  ASSERT_NE(abc, nullptr);
  EXPECT_EQ(memo, nullptr);  // taken
  EXPECT_EQ(snap.LoadSummaryMemo(2), abc);
  EXPECT_EQ(snap.LoadSummaryMemo(1), nullptr);
  // Replaced: the old memo stays alive with the snapshot.
  auto other = std::make_unique<const CatalogSnapshot::SummaryMemo>(CatalogSnapshot::SummaryMemo{{}, true, "def"});
  const CatalogSnapshot::SummaryMemo* const def = snap.StoreSummaryMemo(2, std::move(other));
  EXPECT_EQ(snap.LoadSummaryMemo(2), def);
  EXPECT_EQ(abc->bytes, "abc");
  // At most 4 per course (12 here): past that none is kept, and the caller
  // keeps its memo.
  for (int i = 2; i < 12; ++i) {
    auto m = std::make_unique<const CatalogSnapshot::SummaryMemo>();
    ASSERT_NE(snap.StoreSummaryMemo(i % 3, std::move(m)), nullptr) << i;
  }
  auto refused = std::make_unique<const CatalogSnapshot::SummaryMemo>(CatalogSnapshot::SummaryMemo{{}, false, "x"});
  const CatalogSnapshot::SummaryMemo* const slot0 = snap.LoadSummaryMemo(0);
  EXPECT_EQ(snap.StoreSummaryMemo(0, std::move(refused)), nullptr);
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ(refused->bytes, "x");
  EXPECT_EQ(snap.LoadSummaryMemo(0), slot0);
  EXPECT_EQ(def->bytes, "def");
}

}  // namespace
}  // namespace lifelong::recommend
