#include "services/records/kiosk_passes.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <vector>

#include "tests/testing/subprocess.h"
#include "tests/testing/test_store.h"

namespace lifelong::records {
namespace {

using ::lifelong::testing::FakeClock;
using ::lifelong::testing::FreshStore;
using ::lifelong::testing::FreshTempDir;
using ::lifelong::testing::OpenStore;

TEST(KioskPasses, RedeemedOnceForTheLearnerAndSurviveARestart) {
  std::string dir = FreshTempDir("kiosk_restart");
  std::string code;
  {
    auto store = OpenStore(dir);
    KioskPasses passes(store.get());
    absl::StatusOr<KioskPass> pass = passes.Create("u1");
    ASSERT_TRUE(pass.ok()) << pass.status();
    code = pass->code;
    EXPECT_EQ(code.size(), 8u);
  }
  // A new process on the same store (or, later, another replica).
  auto store = OpenStore(dir);
  KioskPasses passes(store.get());
  absl::StatusOr<std::string> learner = passes.Redeem("kiosk-a", code);
  ASSERT_TRUE(learner.ok()) << learner.status();
  EXPECT_EQ(*learner, "u1");
  EXPECT_EQ(passes.Redeem("kiosk-a", code).status().code(), absl::StatusCode::kNotFound) << "single use";
}

TEST(KioskPasses, ExpiredPassesAreRefusedAndSweptAway) {
  auto store = FreshStore("kiosk_expiry");
  FakeClock clock;
  KioskPasses passes(store.get(), {.now = clock.fn()});
  std::string code = passes.Create("u1")->code;
  clock.now += absl::Minutes(2) + absl::Seconds(1);
  EXPECT_EQ(passes.Redeem("kiosk-a", code).status().code(), absl::StatusCode::kNotFound);
  std::string stale = passes.Create("u2")->code;
  clock.now += absl::Minutes(5);
  ASSERT_TRUE(passes.Create("u3").ok());  // sweeps u2's expired pass
  int left = 0;
  ASSERT_TRUE(store
                  ->ForEachMeta("kiosk_pass",
                                [&](absl::string_view, absl::string_view) {
                                  ++left;
                                  return true;
                                })
                  .ok());
  EXPECT_EQ(left, 2) << "only u3's pass and its learner pointer remain";
  EXPECT_EQ(passes.Redeem("kiosk-a", stale).status().code(), absl::StatusCode::kNotFound);
}

TEST(KioskPasses, ALearnerHasOneLivePass) {
  auto store = FreshStore("kiosk_one_live");
  KioskPasses passes(store.get());
  std::string first = passes.Create("u1")->code;
  std::string second = passes.Create("u1")->code;
  ASSERT_NE(first, second);
  EXPECT_EQ(passes.Redeem("kiosk-a", first).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*passes.Redeem("kiosk-a", second), "u1");
}

TEST(KioskPasses, WrongGuessesAreLimitedPerKiosk) {
  auto store = FreshStore("kiosk_guesses");
  FakeClock clock;
  KioskPasses passes(store.get(), {.max_failures = 5, .failure_refill = absl::Seconds(30), .now = clock.fn()});
  std::string code = passes.Create("u1")->code;
  std::string wrong = code == "00000000" ? "00000001" : "00000000";
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(passes.Redeem("kiosk-a", wrong).status().code(), absl::StatusCode::kNotFound) << i;
  }
  // The sixth try is refused without a look-up, even with the right code.
  absl::Status refused = passes.Redeem("kiosk-a", code).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.message().find("kiosk-a"), absl::string_view::npos) << refused;
  // Another kiosk is not affected, and the pass was not used up.
  std::string other = passes.Create("u2")->code;
  EXPECT_EQ(*passes.Redeem("kiosk-b", other), "u2");
  // Time earns the kiosk one more try.
  clock.now += absl::Seconds(31);
  EXPECT_EQ(*passes.Redeem("kiosk-a", code), "u1");
  EXPECT_EQ(passes.Redeem("kiosk-a", wrong).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(passes.Redeem("kiosk-a", wrong).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(KioskPasses, ErasureWithdrawsTheLearnersPass) {
  auto store = FreshStore("kiosk_erase");
  KioskPasses passes(store.get());
  std::string code = passes.Create("u1")->code;
  std::string other = passes.Create("u2")->code;
  ASSERT_TRUE(passes.EraseLearner("u1").ok());
  ASSERT_TRUE(passes.EraseLearner("nobody").ok());
  EXPECT_EQ(passes.Redeem("kiosk-a", code).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store
                  ->ForEachMeta("kiosk_pass",
                                [&](absl::string_view k, absl::string_view v) {
                                  EXPECT_EQ(k.find("u1"), absl::string_view::npos);
                                  EXPECT_EQ(v.find("u1"), absl::string_view::npos);
                                  return true;
                                })
                  .ok());
  EXPECT_EQ(*passes.Redeem("kiosk-a", other), "u2");
}

TEST(KioskPasses, MalformedCodesAreInvalidArguments) {
  auto store = FreshStore("kiosk_malformed");
  KioskPasses passes(store.get());
  for (std::string bad : std::vector<std::string>{"", "1234567", "123456789", "1234567a",
                                                  std::string("1234\0"
                                                              "567",
                                                              8),
                                                  "１２３４５６７８"}) {
    absl::Status s = passes.Redeem("kiosk-a", bad).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("code"), absl::string_view::npos);
  }
}

TEST(KioskPasses, CodesAreNotStoredInTheClear) {
  auto store = FreshStore("kiosk_hashed");
  KioskPasses passes(store.get());
  std::string code = passes.Create("u1")->code;
  ASSERT_TRUE(store
                  ->ForEachMeta("",
                                [&](absl::string_view k, absl::string_view v) {
                                  EXPECT_EQ(k.find(code), absl::string_view::npos);
                                  EXPECT_EQ(v.find(code), absl::string_view::npos);
                                  return true;
                                })
                  .ok());
}

TEST(KioskPasses, ACollidingLiveCodeIsDrawnAgain) {
  auto store = FreshStore("kiosk_collision");
  std::vector<std::string> draws = {"11111111", "11111111", "22222222"};
  size_t next = 0;
  KioskPasses passes(store.get(), {.new_code = [&] { return draws[next++]; }});
  EXPECT_EQ(passes.Create("u1")->code, "11111111");
  EXPECT_EQ(passes.Create("u2")->code, "22222222");
  EXPECT_EQ(*passes.Redeem("kiosk-a", "11111111"), "u1");
}

TEST(KioskPasses, RandomCodesAreEightUniformDigits) {
  std::set<std::string> codes;
  std::array<int, 10> first{};
  for (int i = 0; i < 5000; ++i) {
    std::string c = KioskPasses::RandomCode();
    ASSERT_EQ(c.size(), 8u);
    for (char ch : c) ASSERT_TRUE(ch >= '0' && ch <= '9') << c;
    codes.insert(c);
    ++first[c[0] - '0'];
  }
  EXPECT_GE(codes.size(), 4990u);  // ~0.1 expected collisions in 10^8
  for (int d = 0; d < 10; ++d) {
    EXPECT_GT(first[d], 350) << d;  // 500 expected per leading digit
    EXPECT_LT(first[d], 650) << d;
  }
}

}  // namespace
}  // namespace lifelong::records
