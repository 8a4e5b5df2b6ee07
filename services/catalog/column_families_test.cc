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
  EXPECT_EQ(static_cast<int>(ColumnFamilyId::kDefault), 0);
  EXPECT_EQ(static_cast<int>(ColumnFamilyId::kCourses), 1);
  EXPECT_EQ(static_cast<int>(ColumnFamilyId::kCourseIndex), 2);
  EXPECT_EQ(static_cast<int>(ColumnFamilyId::kMeta), 3);
  EXPECT_EQ(static_cast<int>(ColumnFamilyId::kProgrammes), 4);
  EXPECT_EQ(ColumnFamilyName(ColumnFamilyId::kDefault), "default");
  EXPECT_EQ(ColumnFamilyName(ColumnFamilyId::kCourses), "courses");
  EXPECT_EQ(ColumnFamilyName(ColumnFamilyId::kCourseIndex), "course_index");
  EXPECT_EQ(ColumnFamilyName(ColumnFamilyId::kMeta), "meta");
  EXPECT_EQ(ColumnFamilyName(ColumnFamilyId::kProgrammes), "programmes");
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
