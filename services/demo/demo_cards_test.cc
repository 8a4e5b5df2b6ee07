#include "services/demo/demo_cards.h"

#include <gtest/gtest.h>

#include <set>

namespace lifelong::demo {
namespace {

TEST(DemoCards, NumbersAreTwelveDigitsWithALuhnCheckDigit) {
  EXPECT_EQ(DemoCardNumber(42), "110100000428");  // golden: also in tests/auth/learner_card_test.cc
  std::set<std::string> seen;
  for (int i : {1, 2, 42, 999, 50000, 999999}) {
    std::string n = DemoCardNumber(i);
    ASSERT_EQ(n.size(), 12u);
    EXPECT_TRUE(seen.insert(n).second);
    // Luhn over all 12 digits sums to a multiple of 10.
    int sum = 0;
    for (int k = 0; k < 12; ++k) {
      int d = n[11 - k] - '0';
      if (k % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
    }
    EXPECT_EQ(sum % 10, 0) << n;
  }
}

TEST(DemoCards, PinsAreDeterministicSixDigitsAndNotTrivial) {
  EXPECT_EQ(DemoCardPin(20261128, 42), DemoCardPin(20261128, 42));
  EXPECT_NE(DemoCardPin(20261128, 42), DemoCardPin(20261129, 42));
  std::set<std::string> pins;
  for (int i = 1; i <= 200; ++i) {
    std::string p = DemoCardPin(20261128, i);
    ASSERT_EQ(p.size(), 6u);
    EXPECT_NE(p, std::string(6, p[0]));
    pins.insert(p);
  }
  EXPECT_GT(pins.size(), 190u);
}

}  // namespace
}  // namespace lifelong::demo
