#include "services/recommend/ranking_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace lifelong::recommend {
namespace {

// Bit-for-bit float equality (EXPECT_EQ would call -0 and 0 equal).
bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// The plain loop the ranking used before (recommender.cc's Dot).
float PlainDot(const std::vector<float>& a, const std::vector<float>& b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

TEST(DotEachInOrder, EqualsThePlainLoopBitForBitForEveryRowCount) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  std::uniform_real_distribution<float> scale(-20.0f, 20.0f);
  for (int dim : {0, 1, 3, 8, 64, 67}) {
    std::vector<float> a(dim);
    // Mixed magnitudes, so that the order of additions shows in the bits.
    for (float& x : a) x = g(rng) * std::exp2(scale(rng));
    for (int count = 0; count <= 13; ++count) {
      std::vector<std::vector<float>> rows(count, std::vector<float>(dim));
      std::vector<const float*> ptrs;
      for (auto& r : rows) {
        for (float& x : r) x = g(rng) * std::exp2(scale(rng));
        ptrs.push_back(r.data());
      }
      if (count == 5 && dim > 2) {
        rows[1][2] = std::numeric_limits<float>::infinity();
        rows[3][0] = std::nanf("");
        rows[4].assign(dim, -0.0f);
      }
      std::vector<float> got(count, 12345.0f);
      DotEachInOrder(a, ptrs, got.data());
      for (int r = 0; r < count; ++r) {
        const float want = PlainDot(a, rows[r]);
        EXPECT_TRUE(SameBits(got[r], want) || (std::isnan(got[r]) && std::isnan(want)))
            << "dim " << dim << " rows " << count << " row " << r << ": " << got[r] << " vs " << want;
        EXPECT_TRUE(SameBits(DotInOrder(a, rows[r].data()), want) || std::isnan(want)) << "row " << r;
      }
    }
  }
}

// DotEachAtInOrder over the nonzero positions of a sparse `a` is the full
// in-order dot product, bit for bit (a zero total up to its sign), whatever
// the density; it fails if a position is skipped or the order changes.
TEST(DotEachAtInOrder, EqualsTheFullDotOverEveryPositionBitForBit) {
  std::mt19937 rng(11);
  std::normal_distribution<float> g;
  std::uniform_real_distribution<float> scale(-20.0f, 20.0f);
  for (int dim : {0, 1, 7, 64, 3000}) {
    for (int density : {0, 1, 5, 50, 100}) {  // percent of nonzero positions
      std::vector<float> a(dim, 0.0f);
      std::vector<int> nonzero;
      for (int i = 0; i < dim; ++i) {
        if (static_cast<int>(rng() % 100) < density) {
          a[i] = g(rng) * std::exp2(scale(rng));
          nonzero.push_back(i);
        }
      }
      std::vector<std::vector<float>> rows(9, std::vector<float>(dim));
      std::vector<const float*> ptrs;
      for (auto& r : rows) {
        for (float& x : r) x = g(rng) * std::exp2(scale(rng));
        ptrs.push_back(r.data());
      }
      std::vector<float> got(rows.size(), 12345.0f);
      DotEachAtInOrder(a, nonzero, ptrs, got.data());
      for (size_t r = 0; r < rows.size(); ++r) {
        const float want = PlainDot(a, rows[r]);
        EXPECT_TRUE(SameBits(got[r], want) || (got[r] == 0.0f && want == 0.0f))
            << "dim " << dim << " density " << density << " row " << r << ": " << got[r] << " vs " << want;
      }
    }
  }
}

// An element of a ranking: many equal scores, ties broken by a unique id (a
// strict total order, as Recommender's).
struct Item {
  bool blocked;
  double score;
  std::string id;
  int tag;  // where it started, to tell equal-looking elements apart
};

bool Less(const Item& a, const Item& b) {
  if (a.blocked != b.blocked) return b.blocked;
  if (a.score != b.score) return a.score > b.score;
  return a.id < b.id;
}

TEST(SortFirst, EqualsPartialSortForEveryCountTiesIncluded) {
  std::mt19937 rng(11);
  for (int n : {0, 1, 2, 5, 17, 64, 300}) {
    for (int variant = 0; variant < 3; ++variant) {
      std::vector<Item> items;
      for (int i = 0; i < n; ++i) {
        // variant 0: few distinct scores (ties everywhere); 1: all equal
        // but the blocked flag; 2: distinct.
        const double score = variant == 0 ? static_cast<double>(rng() % 4) : variant == 1 ? 0.5 : rng() * 1e-3;
        items.push_back({rng() % 5 == 0, score, std::to_string(rng() % 1000000) + "_" + std::to_string(i), i});
      }
      if (variant == 0 && n > 3) {
        items[1].score = -0.0;  // equal to 0.0 under the comparison
        items[2].score = 0.0;
      }
      for (int k = 0; k <= n; ++k) {
        std::vector<Item> want = items;
        std::partial_sort(want.begin(), want.begin() + k, want.end(), Less);
        std::vector<Item> got = items;
        SortFirst(got.begin(), got.begin() + k, got.end(), Less);
        for (int i = 0; i < k; ++i) {
          ASSERT_EQ(got[i].tag, want[i].tag) << "n " << n << " variant " << variant << " k " << k << " position " << i;
        }
        // The rest is the rest, in some order.
        std::vector<int> rest_got, rest_want;
        for (int i = k; i < n; ++i) {
          rest_got.push_back(got[i].tag);
          rest_want.push_back(want[i].tag);
        }
        std::sort(rest_got.begin(), rest_got.end());
        std::sort(rest_want.begin(), rest_want.end());
        ASSERT_EQ(rest_got, rest_want) << "n " << n << " k " << k;
      }
    }
  }
}

// PositionsAtLeast keeps exactly what the plain loop keeps: every length
// 0..67 (the four-wide part and the tail), NaN scores (never kept, also as
// the threshold), infinities, -0 and 0 as equal, thresholds at, between
// and beyond the scores, and an array offset so that loads are unaligned.
TEST(PositionsAtLeast, EqualsThePlainLoopForEveryLengthAndThreshold) {
  std::mt19937 rng(16);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::uniform_real_distribution<float> u(-2, 2);
  for (int n = 0; n <= 67; ++n) {
    for (int variant = 0; variant < 4; ++variant) {
      std::vector<float> storage(n + 1);
      float* s = storage.data() + 1;  // unaligned
      for (int i = 0; i < n; ++i) {
        const int r = static_cast<int>(rng() % 20);
        s[i] = r == 0 ? nan : r == 1 ? inf : r == 2 ? -inf : r == 3 ? -0.0f : r == 4 ? 0.0f : u(rng);
        if (variant == 1) s[i] = std::round(s[i]);  // many ties
      }
      std::vector<float> thresholds = {nan, inf, -inf, 0.0f, -0.0f, 0.5f, -3.0f, 3.0f};
      for (int i = 0; i < n; ++i) thresholds.push_back(s[i]);
      for (float t : thresholds) {
        std::vector<int> want(n), got(n, -7);
        int m_want = 0;
        for (int i = 0; i < n; ++i) {
          want[m_want] = i;
          m_want += s[i] >= t;
        }
        const int m = PositionsAtLeast(absl::MakeConstSpan(s, n), t, got.data());
        ASSERT_EQ(m, m_want) << "n " << n << " variant " << variant << " t " << t;
        for (int i = 0; i < m; ++i) ASSERT_EQ(got[i], want[i]) << "n " << n << " t " << t << " position " << i;
      }
    }
  }
}

}  // namespace
}  // namespace lifelong::recommend
