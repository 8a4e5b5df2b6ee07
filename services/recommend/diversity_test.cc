#include "services/recommend/diversity.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lifelong::recommend {
namespace {

using ::testing::ElementsAre;

TEST(SelectDiverse, OneSectionPerSeriesFirst) {
  std::vector<DiversityKey> ranked = {
      {"书法入门", "书法"}, {"书法入门", "书法"}, {"书法入门", "书法"}, {"太极", "健身"}, {"国画", "绘画"},
  };
  EXPECT_THAT(SelectDiverse(ranked, 3), ElementsAre(0, 3, 4));
}

TEST(SelectDiverse, RelaxesToTwoPerSeriesWhenShort) {
  std::vector<DiversityKey> ranked = {
      {"书法入门", "书法"}, {"书法入门", "书法"}, {"书法入门", "书法"}, {"太极", "健身"}};
  // First pass: 0, 3. Second pass adds one more 书法入门 (cap 2), never a third.
  EXPECT_THAT(SelectDiverse(ranked, 10), ElementsAre(0, 1, 3));
}

TEST(SelectDiverse, CategoryCap) {
  std::vector<DiversityKey> ranked;
  for (int i = 0; i < 8; ++i) ranked.push_back({"s" + std::to_string(i), "书法"});
  ranked.push_back({"x", "健身"});
  ranked.push_back({"y", "绘画"});
  DiversityOptions o;
  o.max_per_category = 2;
  // 2 书法 first, then the others, then the relaxed pass fills with 书法.
  std::vector<size_t> got = SelectDiverse(ranked, 4, o);
  EXPECT_THAT(got, ElementsAre(0, 1, 8, 9));
  EXPECT_THAT(SelectDiverse(ranked, 5, o), ElementsAre(0, 1, 2, 8, 9));
}

TEST(SelectDiverse, IdsPickLikeStrings) {
  // The CategoryCap list with series s0..s7 -> 0..7, x -> 8, y -> 9 and
  // 书法 -> 0, 健身 -> 1, 绘画 -> 2.
  std::vector<DiversityIds> ranked;
  for (int i = 0; i < 8; ++i) ranked.push_back({i, 0});
  ranked.push_back({8, 1});
  ranked.push_back({9, 2});
  DiversityOptions o;
  o.max_per_category = 2;
  EXPECT_THAT(SelectDiverse(ranked, 4, o), ElementsAre(0, 1, 8, 9));
  EXPECT_THAT(SelectDiverse(ranked, 5, o), ElementsAre(0, 1, 2, 8, 9));
  // One series three times: one in the first pass, a second when short.
  std::vector<DiversityIds> same = {{7, 0}, {7, 0}, {7, 0}, {3, 1}};
  EXPECT_THAT(SelectDiverse(same, 10), ElementsAre(0, 1, 3));
}

// Ids are counted in per-thread arrays when small and non-negative, in hash
// maps otherwise: the same picks either way, for every k, and the arrays
// start from zero on every call (no count carried over).
TEST(SelectDiverse, SmallAndLargeIdsPickTheSame) {
  std::vector<DiversityIds> small;
  std::vector<DiversityIds> large;
  std::vector<DiversityIds> negative;
  uint32_t x = 12345;
  for (int i = 0; i < 120; ++i) {
    x = x * 1103515245 + 12345;
    const int series = static_cast<int>((x >> 8) % 40);
    const int category = static_cast<int>((x >> 20) % 7);
    small.push_back({series, category});
    large.push_back({series + 2000000000, category + 1500000000});
    negative.push_back({-1 - series, category});
  }
  for (int k = 0; k <= 130; ++k) {
    for (int cap : {0, 3}) {
      DiversityOptions o;
      o.max_per_category = cap;
      const std::vector<size_t> want = SelectDiverse(large, k, o);
      EXPECT_EQ(SelectDiverse(small, k, o), want) << "k " << k;
      EXPECT_EQ(SelectDiverse(small, k, o), want) << "k " << k << ", again";
      EXPECT_EQ(SelectDiverse(negative, k, o), want) << "k " << k;
    }
  }
}

// What Recommender's ranking relies on: when the first pass alone (relax =
// false) fills k within a prefix of the ranked list, the whole list gives
// the same answer; otherwise it returns fewer than k. Every prefix, every k.
TEST(SelectDiverse, FirstPassThatFillsKOnAPrefixIsTheWholeListsAnswer) {
  uint32_t x = 777;
  for (int list = 0; list < 20; ++list) {
    std::vector<DiversityIds> ranked;
    const int n = 10 + list * 3;
    for (int i = 0; i < n; ++i) {
      x = x * 1103515245 + 12345;
      ranked.push_back({static_cast<int>((x >> 8) % (3 + list)), static_cast<int>((x >> 20) % (2 + list % 5))});
    }
    for (int k = 1; k <= n; ++k) {
      const std::vector<size_t> whole = SelectDiverse(ranked, k);
      int filled = 0;
      for (int len = 0; len <= n; ++len) {
        DiversityOptions first_only;
        first_only.relax = false;
        const std::vector<DiversityIds> prefix(ranked.begin(), ranked.begin() + len);
        const std::vector<size_t> got = SelectDiverse(prefix, k, first_only);
        ASSERT_LE(static_cast<int>(got.size()), k);
        if (static_cast<int>(got.size()) == k) {
          ++filled;
          EXPECT_EQ(got, whole) << "list " << list << " k " << k << " prefix " << len;
        }
        // Without relax, never more than the first pass: one per series.
        std::vector<int> series;
        for (size_t i : got) series.push_back(prefix[i].series);
        std::sort(series.begin(), series.end());
        EXPECT_EQ(std::adjacent_find(series.begin(), series.end()), series.end());
      }
      if (k <= 2) {
        EXPECT_GT(filled, 0) << "list " << list << " k " << k;
      }
    }
  }
}

TEST(SelectDiverse, ZeroOrNegativeK) { EXPECT_TRUE(SelectDiverse({{"a", "b"}}, 0).empty()); }

}  // namespace
}  // namespace lifelong::recommend
