#include "services/xapi/column_families.h"

#include <gtest/gtest.h>

namespace lifelong::xapi {
namespace {

// Names and ids are persistent on disk: this test pins them.
TEST(ColumnFamilies, NamesAndIdsArePinned) {
  ASSERT_EQ(kNumColumnFamilies, 1);
  EXPECT_EQ(static_cast<int>(kColumnFamilies[0].id), 0);
  EXPECT_STREQ(kColumnFamilies[0].name, "default");
  EXPECT_FALSE(kColumnFamilies[0].is_index);
}

}  // namespace
}  // namespace lifelong::xapi
