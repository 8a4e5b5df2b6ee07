#include "services/domain/learner_card.h"

#include <string>

#include "gtest/gtest.h"

namespace lifelong::domain {
namespace {

TEST(LuhnCheckDigit, KnownNumbers) {
  EXPECT_EQ(LuhnCheckDigit("7992739871"), '3');  // the textbook example
  EXPECT_EQ(LuhnCheckDigit("11010000001"), '4');
  // One changed digit changes the check digit.
  EXPECT_NE(LuhnCheckDigit("11010000002"), LuhnCheckDigit("11010000001"));
}

TEST(IsWeakPin, RepeatsAndRunsOnly) {
  for (const char* weak : {"0000", "1111", "1234", "456789", "9876", "3210"}) EXPECT_TRUE(IsWeakPin(weak)) << weak;
  for (const char* ok : {"1357", "2468", "1243", "904512", "1122"}) EXPECT_FALSE(IsWeakPin(ok)) << ok;
}

}  // namespace
}  // namespace lifelong::domain
