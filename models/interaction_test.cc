#include "models/interaction.h"

#include "gtest/gtest.h"
#include "services/domain/vocabulary.h"

namespace lifelong::models {
namespace {

TEST(VerbWeight, CompletionCountsMoreThanAttendance) {
  EXPECT_FLOAT_EQ(VerbWeight(vocab::kCompleted), 1.0f);
  EXPECT_FLOAT_EQ(VerbWeight(vocab::kPassed), 1.0f);
  EXPECT_GT(VerbWeight(vocab::kCompleted), VerbWeight(vocab::kAttended));
  EXPECT_GT(VerbWeight(vocab::kAttended), VerbWeight(vocab::kRegistered));
  EXPECT_GT(VerbWeight(vocab::kRegistered), 0.0f);
  EXPECT_FLOAT_EQ(VerbWeight(vocab::kRegistered), VerbWeight(vocab::kExperienced));
}

TEST(VerbWeight, FailedVoidedAndUnknownAreNotPositive) {
  EXPECT_EQ(VerbWeight(vocab::kFailed), 0.0f);
  EXPECT_EQ(VerbWeight(vocab::kVoided), 0.0f);
  EXPECT_EQ(VerbWeight("http://example.com/verbs/liked"), 0.0f);
  EXPECT_EQ(VerbWeight(""), 0.0f);
}

}  // namespace
}  // namespace lifelong::models
