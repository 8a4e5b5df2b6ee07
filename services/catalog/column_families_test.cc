#include "services/catalog/column_families.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace lifelong::catalog {
namespace {

// The names and ids are on-disk format: this test changes only when a family
// is appended.
TEST(ColumnFamilies, NamesAndIdsArePinned) {
  ASSERT_EQ(kColumnFamilies.size(), 5u);
  EXPECT_EQ(static_cast<int>(Cf::kDefault), 0);
  EXPECT_EQ(static_cast<int>(Cf::kCourses), 1);
  EXPECT_EQ(static_cast<int>(Cf::kCourseIndex), 2);
  EXPECT_EQ(static_cast<int>(Cf::kMeta), 3);
  EXPECT_EQ(static_cast<int>(Cf::kProgrammes), 4);
  EXPECT_EQ(ColumnFamilyName(Cf::kDefault), "default");
  EXPECT_EQ(ColumnFamilyName(Cf::kCourses), "courses");
  EXPECT_EQ(ColumnFamilyName(Cf::kCourseIndex), "course_index");
  EXPECT_EQ(ColumnFamilyName(Cf::kMeta), "meta");
  EXPECT_EQ(ColumnFamilyName(Cf::kProgrammes), "programmes");
}

TEST(ColumnFamilies, IdsMatchPositionsAndNamesAreUnique) {
  std::set<std::string> names;
  for (size_t i = 0; i < kColumnFamilies.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(kColumnFamilies[i].id), i);
    EXPECT_TRUE(names.insert(std::string(kColumnFamilies[i].name)).second);
  }
}

}  // namespace
}  // namespace lifelong::catalog
