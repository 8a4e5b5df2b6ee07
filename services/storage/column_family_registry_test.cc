#include "services/storage/column_family_registry.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lifelong::storage {
namespace {

enum class TestCf : uint8_t { kDefault = 0, kData = 1, kIndex = 2 };

constexpr std::array<ColumnFamilySpec<TestCf>, 3> kRegistry = {{
    {TestCf::kDefault, "default"},
    {TestCf::kData, "data"},
    {TestCf::kIndex, "index", true},
}};
static_assert(IdsMatchPositions(kRegistry));

constexpr std::array<ColumnFamilySpec<TestCf>, 2> kOutOfOrder = {{
    {TestCf::kData, "data"},
    {TestCf::kDefault, "default"},
}};
static_assert(!IdsMatchPositions(kOutOfOrder));

TEST(ColumnFamilyRegistry, NamesById) {
  EXPECT_EQ(ColumnFamilyName(kRegistry, TestCf::kDefault), "default");
  EXPECT_EQ(ColumnFamilyName(kRegistry, TestCf::kIndex), "index");
  EXPECT_FALSE(kRegistry[1].is_index);
  EXPECT_TRUE(kRegistry[2].is_index);
}

TEST(ColumnFamilyRegistry, UnknownFamiliesAreReportedInOrder) {
  EXPECT_TRUE(UnknownColumnFamilies(kRegistry, {"default", "index", "data"}).empty());
  EXPECT_TRUE(UnknownColumnFamilies(kRegistry, {}).empty());
  EXPECT_EQ(UnknownColumnFamilies(kRegistry, {"default", "future_b", "data", "future_a"}),
            (std::vector<std::string>{"future_b", "future_a"}));
}

}  // namespace
}  // namespace lifelong::storage
