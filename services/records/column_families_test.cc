#include "services/records/column_families.h"

#include <gtest/gtest.h>

#include <string>

namespace lifelong::records {
namespace {

// Names and ids are persistent on disk: this test pins them.
TEST(ColumnFamilies, NamesAndIdsArePinned) {
  const std::pair<int, std::string> expected[] = {
      {0, "default"},   {1, "statements"},      {2, "by_learner"},      {3, "by_activity"},
      {4, "by_verb"},   {5, "by_registration"}, {6, "by_stored"},       {7, "meta"},
      {8, "by_target"}, {9, "audit"},           {10, "xapi_documents"}, {11, "by_mention"},
  };
  ASSERT_EQ(kNumColumnFamilies, 12);
  for (int i = 0; i < kNumColumnFamilies; ++i) {
    EXPECT_EQ(static_cast<int>(kColumnFamilies[i].id), expected[i].first);
    EXPECT_EQ(kColumnFamilies[i].name, expected[i].second);
  }
}

TEST(ColumnFamilies, OnlyStringRegistrationAndMentionIndexesAreMarkedIndex) {
  for (const ColumnFamilySpec& spec : kColumnFamilies) {
    bool want = spec.id == Cf::kByLearner || spec.id == Cf::kByActivity || spec.id == Cf::kByVerb ||
                spec.id == Cf::kByRegistration || spec.id == Cf::kByMention;
    EXPECT_EQ(spec.is_index, want) << spec.name;
  }
}

}  // namespace
}  // namespace lifelong::records
