#include "services/records/failure_budget.h"

#include "gtest/gtest.h"

namespace lifelong::records {
namespace {

TEST(FailureBudget, SpendsPerKeyAndRefillsOverTime) {
  FailureBudget budget(3, absl::Minutes(1));
  const absl::Time t0 = absl::FromUnixSeconds(1800000000);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(budget.MayGuess("kiosk-a", t0)) << i;
    budget.Failed("kiosk-a");
  }
  EXPECT_FALSE(budget.MayGuess("kiosk-a", t0));
  EXPECT_TRUE(budget.MayGuess("kiosk-b", t0)) << "another kiosk has its own budget";
  EXPECT_FALSE(budget.MayGuess("kiosk-a", t0 + absl::Seconds(59)));
  EXPECT_TRUE(budget.MayGuess("kiosk-a", t0 + absl::Seconds(61))) << "one failure earned back per minute";
  budget.Failed("kiosk-a");
  EXPECT_FALSE(budget.MayGuess("kiosk-a", t0 + absl::Seconds(62)));
  // Never more than the full budget, however long it waited.
  const absl::Time later = t0 + absl::Hours(10);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(budget.MayGuess("kiosk-a", later)) << i;
    budget.Failed("kiosk-a");
  }
  EXPECT_FALSE(budget.MayGuess("kiosk-a", later));
}

}  // namespace
}  // namespace lifelong::records
