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

// A DRAFT course does not exist for the recommender's callers: the
// snapshot leaves it out (courses(), Find, series, categories, venues) and
// keeps only its id, as a draft. The last copy of an id decides.
TEST(CatalogSnapshot, LeavesDraftsOutAndKnowsOnlyTheirIds) {
  Course open;
  open.id = "c1";
  open.title = "书法入门";
  open.category = "书法";
  Course draft;
  draft.id = "c2";
  draft.title = "书法史";
  draft.category = "书法";
  draft.venue_id = "v_new";
  draft.jiedao = "新街道";
  draft.state = CourseState::kDraft;
  Course opened = draft;  // c3: a draft, then opened
  opened.id = "c3";
  Course redrafted = open;  // c4: open, then back to a draft
  redrafted.id = "c4";
  Course c3_open = opened;
  c3_open.state = CourseState::kOpen;
  Course c4_draft = redrafted;
  c4_draft.state = CourseState::kDraft;
  const CatalogSnapshot snap("1", {open, draft, opened, redrafted, c3_open, c4_draft});
  ASSERT_EQ(snap.courses().size(), 2u);
  EXPECT_EQ(snap.courses()[0].id, "c1");
  EXPECT_EQ(snap.courses()[1].id, "c3");
  EXPECT_EQ(snap.Find("c2"), nullptr);
  EXPECT_EQ(snap.Find("c4"), nullptr);
  ASSERT_NE(snap.Find("c3"), nullptr);
  EXPECT_EQ(snap.Find("c3")->state, CourseState::kOpen);
  EXPECT_TRUE(snap.IsDraft("c2"));
  EXPECT_TRUE(snap.IsDraft("c4"));
  EXPECT_FALSE(snap.IsDraft("c1"));
  EXPECT_FALSE(snap.IsDraft("c3"));
  EXPECT_FALSE(snap.IsDraft("nope"));
  EXPECT_EQ(snap.draft_count(), 2u);
  EXPECT_EQ(snap.SeriesCourses("书法史"), std::vector<int>{1});  // c3 only
  EXPECT_EQ(snap.CategoryCourses("书法"), (std::vector<int>{0, 1}));
  // A venue is known from the courses kept (c3), never from a draft alone.
  EXPECT_EQ(snap.VenueArea("v_new"), "新街道");
  const CatalogSnapshot drafts_only("2", {draft});
  EXPECT_TRUE(drafts_only.courses().empty());
  EXPECT_EQ(drafts_only.VenueArea("v_new"), "");
  EXPECT_EQ(drafts_only.Find("c2"), nullptr);
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
