#include "services/catalog/course_enums.h"

#include <gtest/gtest.h>

namespace lifelong::catalog {
namespace {

using lifelong::v1::Course;

TEST(CourseEnums, NamesArePinnedAndRoundTrip) {
  EXPECT_EQ(ModeName(Course::OFFLINE), "offline");
  EXPECT_EQ(ModeName(Course::ONLINE), "online");
  EXPECT_EQ(ModeName(Course::BLENDED), "blended");
  EXPECT_EQ(LevelName(Course::BEGINNER), "beginner");
  EXPECT_EQ(LevelName(Course::ADVANCED), "advanced");
  EXPECT_EQ(AudienceName(Course::SENIORS), "seniors");
  EXPECT_EQ(StateName(Course::ARCHIVED), "archived");
  for (int m = Course::Mode_MIN; m <= Course::Mode_MAX; ++m) {
    auto v = static_cast<Course::Mode>(m);
    if (v != Course::MODE_UNSPECIFIED) {
      EXPECT_EQ(ModeFromName(ModeName(v)), v);
    }
  }
  for (int l = Course::Level_MIN; l <= Course::Level_MAX; ++l) {
    auto v = static_cast<Course::Level>(l);
    if (v != Course::LEVEL_UNSPECIFIED) {
      EXPECT_EQ(LevelFromName(LevelName(v)), v);
    }
  }
  for (int a = Course::Audience_MIN; a <= Course::Audience_MAX; ++a) {
    auto v = static_cast<Course::Audience>(a);
    if (v != Course::AUDIENCE_UNSPECIFIED) {
      EXPECT_EQ(AudienceFromName(AudienceName(v)), v);
    }
  }
  for (int s = Course::State_MIN; s <= Course::State_MAX; ++s) {
    auto v = static_cast<Course::State>(s);
    if (v != Course::STATE_UNSPECIFIED) {
      EXPECT_EQ(StateFromName(StateName(v)), v);
    }
  }
}

TEST(CourseEnums, UnknownAndUnspecified) {
  EXPECT_EQ(ModeName(Course::MODE_UNSPECIFIED), "");
  EXPECT_EQ(ModeName(static_cast<Course::Mode>(99)), "");
  EXPECT_EQ(ModeFromName(""), Course::MODE_UNSPECIFIED);
  EXPECT_EQ(ModeFromName("Online"), Course::MODE_UNSPECIFIED);
  EXPECT_EQ(LevelFromName("入门"), Course::LEVEL_UNSPECIFIED);  // labels only through LevelFromChineseLabel
  EXPECT_EQ(LevelFromChineseLabel("入门"), Course::BEGINNER);
  EXPECT_EQ(LevelFromChineseLabel("进阶"), Course::INTERMEDIATE);
  EXPECT_EQ(LevelFromChineseLabel("提高"), Course::ADVANCED);
  EXPECT_EQ(LevelFromChineseLabel(""), Course::LEVEL_UNSPECIFIED);
  EXPECT_EQ(AudienceFromName("elderly"), Course::AUDIENCE_UNSPECIFIED);
  EXPECT_EQ(StateFromName("deleted"), Course::STATE_UNSPECIFIED);
}

TEST(CourseEnums, NameListsForUsageMessages) {
  EXPECT_EQ(ModeNameList(), "offline, online or blended");
  EXPECT_EQ(LevelNameList(), "beginner, intermediate or advanced");
  EXPECT_EQ(AudienceNameList(), "children, teens, adults or seniors");
  EXPECT_EQ(StateNameList(), "draft, open, closed or archived");
}

}  // namespace
}  // namespace lifelong::catalog
