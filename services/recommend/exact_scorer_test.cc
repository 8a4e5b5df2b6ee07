#include "services/recommend/exact_scorer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "models/model_bundle.h"
#include "models/model_writer.h"
#include "models/sparse_ease.h"
#include "models/synthetic.h"
#include "models/trainer.h"

namespace lifelong::recommend {
namespace {

// `n` items of dimension `dim` (identity query basis when dim == n); every
// 7th item has no interactions (content only: not indexed).
std::shared_ptr<const models::ModelBundle> RandomModel(int n, int dim, uint32_t seed) {
  models::ModelArrays a;
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  a.dim = dim;
  a.identity_query = dim == n;
  for (int i = 0; i < n; ++i) {
    a.course_ids.push_back(absl::StrCat("c", i));
    a.counts.push_back(i % 7 == 3 ? 0 : 1 + i % 5);
  }
  a.item_vectors.resize(static_cast<size_t>(n) * dim);
  for (float& x : a.item_vectors) x = g(rng);
  if (!a.identity_query) a.query_basis = a.item_vectors;
  auto bundle = models::BuildModelBundle(std::move(a), nlohmann::json::object(), 1, "mem");
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return *bundle;
}

// The exact scorer agrees with the model's own (FAISS flat) search.
void ExpectSameAsIndex(const models::ModelBundle& model, const std::vector<float>& query, int k) {
  ExactScorer scorer(model);
  std::vector<models::Candidate> got = scorer.Search(query, k);
  auto want = model.SearchBatch(query, 1, k);
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_EQ(got.size(), (*want)[0].size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].row, (*want)[0][i].row) << "position " << i;
    EXPECT_NEAR(got[i].score, (*want)[0][i].score, 1e-4f) << "position " << i;
    EXPECT_GT(model.InteractionCount(got[i].row), 0);
  }
}

TEST(ExactScorer, DenseQueryMatchesFlatIndex) {
  auto model = RandomModel(500, 16, 1);
  ASSERT_EQ(model->index_info().kind, "flat");
  ExactScorer scorer(*model);
  EXPECT_EQ(scorer.dim(), 16);
  EXPECT_EQ(scorer.size(), 500 - 71);  // rows 3, 10, ..., 493 are not indexed
  EXPECT_EQ(scorer.size(), model->index_info().indexed_items);
  std::mt19937 rng(5);
  std::normal_distribution<float> g;
  for (int q = 0; q < 20; ++q) {
    std::vector<float> query(16);
    for (float& x : query) x = g(rng);
    ExpectSameAsIndex(*model, query, 1 + q * 7);
  }
}

TEST(ExactScorer, SparseQueryMatchesFlatIndex) {
  // Identity query basis: the learner vector has one coordinate per course.
  auto model = RandomModel(300, 300, 2);
  std::vector<models::HistoryEvent> history = {{"c5", 1.0f}, {"c17", 0.5f}, {"c200", 1.0f}};
  std::vector<float> query = model->LearnerVector(history);
  ExpectSameAsIndex(*model, query, 10);
  ExpectSameAsIndex(*model, query, 110);
}

TEST(ExactScorer, KLargerThanIndexReturnsAllRanked) {
  auto model = RandomModel(40, 8, 3);
  ExactScorer scorer(*model);
  std::vector<float> query(8, 0.25f);
  std::vector<models::Candidate> got = scorer.Search(query, 1000);
  ASSERT_EQ(static_cast<int>(got.size()), scorer.size());
  for (size_t i = 1; i < got.size(); ++i) EXPECT_GE(got[i - 1].score, got[i].score);
}

TEST(ExactScorer, TiesGoToTheLowerRow) {
  auto model = RandomModel(40, 8, 4);
  ExactScorer scorer(*model);
  // The zero query scores every item 0.
  std::vector<models::Candidate> got = scorer.Search(std::vector<float>(8, 0.0f), 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].row, 0);
  EXPECT_EQ(got[1].row, 1);
  EXPECT_EQ(got[2].row, 2);
}

TEST(ExactScorer, TopKIsAPrefixOfTheFullRanking) {
  // Items in identical pairs, so that many scores tie at every cut.
  models::ModelArrays a;
  std::mt19937 rng(6);
  std::normal_distribution<float> g;
  const int n = 600, dim = 8;
  a.dim = dim;
  a.identity_query = false;
  for (int i = 0; i < n; ++i) {
    a.course_ids.push_back(absl::StrCat("c", i));
    a.counts.push_back(1);
  }
  a.item_vectors.resize(static_cast<size_t>(n) * dim);
  for (int i = 0; i < n; i += 2) {
    for (int d = 0; d < dim; ++d) {
      const float x = std::round(g(rng) * 4) / 4;  // few distinct values
      a.item_vectors[i * dim + d] = x;
      a.item_vectors[(i + 1) * dim + d] = x;
    }
  }
  a.query_basis = a.item_vectors;
  auto model = models::BuildModelBundle(std::move(a), nlohmann::json::object(), 1, "mem");
  ASSERT_TRUE(model.ok()) << model.status();
  ExactScorer scorer(**model);
  for (int q = 0; q < 10; ++q) {
    std::vector<float> query(dim);
    for (float& x : query) x = std::round(g(rng) * 2) / 2;
    std::vector<models::Candidate> all = scorer.Search(query, n);
    ASSERT_EQ(static_cast<int>(all.size()), n);
    for (int i = 1; i < n; ++i) {
      ASSERT_TRUE(all[i - 1].score > all[i].score || (all[i - 1].score == all[i].score && all[i - 1].row < all[i].row))
          << "position " << i;
    }
    for (int k : {1, 2, 3, 10, 99, 100, 101, 250, 599}) {
      std::vector<models::Candidate> top = scorer.Search(query, k);
      ASSERT_EQ(static_cast<int>(top.size()), k);
      for (int i = 0; i < k; ++i) {
        EXPECT_EQ(top[i].row, all[i].row) << "k " << k << " position " << i;
        EXPECT_EQ(top[i].score, all[i].score) << "k " << k << " position " << i;
      }
    }
  }
}

// A dense model of `n` items (dim 8) whose scores tie a lot: items come in
// identical pairs of few distinct values (`ties`; else normal values, few
// ties); every 97th item scores NaN. With
// `strided_best`, the items at positions 0, 8, 16, ... (the ones the
// sampled selection looks at) score far above the rest, so that its
// threshold keeps fewer than k and the histogram path answers.
std::shared_ptr<const models::ModelBundle> TiedModel(int n, uint32_t seed, bool strided_best, bool ties = true) {
  models::ModelArrays a;
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  const int dim = 8;
  a.dim = dim;
  a.identity_query = false;
  for (int i = 0; i < n; ++i) {
    a.course_ids.push_back(absl::StrCat("c", i));
    a.counts.push_back(1);
  }
  a.item_vectors.resize(static_cast<size_t>(n) * dim);
  for (int i = 0; i + 1 < n; i += 2) {
    for (int d = 0; d < dim; ++d) {
      const float x = ties ? std::round(g(rng) * 2) / 2 : g(rng);
      a.item_vectors[i * dim + d] = x;
      a.item_vectors[(i + 1) * dim + d] = ties ? x : g(rng);
    }
  }
  for (int i = 0; i < n; ++i) {
    if (strided_best && i % ExactScorer::kSampleStride == 0) a.item_vectors[i * dim] += 100.0f;
    if (i % 97 == 50) a.item_vectors[i * dim + 1] = std::nanf("");
  }
  a.query_basis = a.item_vectors;
  auto bundle = models::BuildModelBundle(std::move(a), nlohmann::json::object(), 1, "mem");
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return *bundle;
}

// The selection (sampled threshold, else histogram; ExactScorer::Search)
// gives, for every k (each up to 400, then every 37th), exactly the first k of the full ranking (score desc,
// ties to the lower row, NaN last), and SearchUnordered the same
// candidates with the same scores: on a catalog large enough for the
// sampled threshold, with ties everywhere, where the threshold keeps too
// few and the histogram must answer, and with (almost) no ties.
TEST(ExactScorer, SelectionEqualsTheFullRankingForEveryKTiesIncluded) {
  const int n = 3000;
  auto better = [](const models::Candidate& a, const models::Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.row < b.row;
  };
  std::mt19937 rng(21);
  std::normal_distribution<float> g;
  for (int variant = 0; variant < 3; ++variant) {
    const bool strided_best = variant == 1;
    const bool ties = variant != 2;
    auto model = TiedModel(n, 22 + variant, strided_best, ties);
    ExactScorer scorer(*model);
    ASSERT_EQ(scorer.size(), n);
    for (int q = 0; q < 3; ++q) {
      std::vector<float> query(8);
      for (float& x : query) x = std::round(g(rng) * 2) / 2;
      query[0] = 1.0f;
      // k = n ranks everything (the histogram path): a total order, NaN
      // scored -inf and last.
      const std::vector<models::Candidate> all = scorer.Search(query, n);
      ASSERT_EQ(static_cast<int>(all.size()), n);
      for (int i = 1; i < n; ++i) ASSERT_TRUE(better(all[i - 1], all[i])) << "position " << i;
      int nan_rows = 0;
      for (int i = 0; i < n; ++i) {
        if (all[i].row % 97 == 50) {
          ++nan_rows;
          EXPECT_EQ(all[i].score, -std::numeric_limits<float>::infinity()) << "row " << all[i].row;
          EXPECT_GE(i, n - (n + 96) / 97) << "row " << all[i].row;
        }
      }
      ASSERT_EQ(nan_rows, (n + 46) / 97);
      int tied = 0;
      for (int i = 1; i < n; ++i) tied += all[i - 1].score == all[i].score;
      if (ties) {
        ASSERT_GT(tied, n / 4);
      }
      // Every k up to past the sampled selection's bound (n / stride), then
      // every 37th.
      for (int k = 1; k <= n; k += k <= n / ExactScorer::kSampleStride + 25 ? 1 : 37) {
        const std::vector<models::Candidate> top = scorer.Search(query, k);
        ASSERT_EQ(static_cast<int>(top.size()), k);
        std::vector<models::Candidate> unordered = scorer.SearchUnordered(query, k);
        ASSERT_EQ(static_cast<int>(unordered.size()), k);
        std::sort(unordered.begin(), unordered.end(), better);
        for (int i = 0; i < k; ++i) {
          ASSERT_EQ(top[i].row, all[i].row) << "k " << k << " position " << i << " variant " << variant;
          ASSERT_EQ(top[i].score, all[i].score) << "k " << k << " position " << i;
          ASSERT_EQ(unordered[i].row, all[i].row) << "k " << k << " position " << i;
          ASSERT_EQ(unordered[i].score, all[i].score) << "k " << k << " position " << i;
        }
      }
    }
  }
}

TEST(ExactScorer, NanScoresRankLast) {
  models::ModelArrays a;
  a.dim = 2;
  a.identity_query = false;
  for (int i = 0; i < 6; ++i) {
    a.course_ids.push_back(absl::StrCat("c", i));
    a.counts.push_back(1);
    a.item_vectors.push_back(static_cast<float>(i));
    a.item_vectors.push_back(i == 4 ? std::nanf("") : 0.0f);
  }
  a.query_basis = a.item_vectors;
  auto model = models::BuildModelBundle(std::move(a), nlohmann::json::object(), 1, "mem");
  ASSERT_TRUE(model.ok()) << model.status();
  ExactScorer scorer(**model);
  std::vector<models::Candidate> got = scorer.Search(std::vector<float>{1.0f, 1.0f}, 6);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0].row, 5);
  EXPECT_EQ(got[1].row, 3);
  EXPECT_EQ(got[5].row, 4);  // NaN: last
  std::vector<models::Candidate> top = scorer.Search(std::vector<float>{1.0f, 1.0f}, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].row, 5);
  EXPECT_EQ(top[1].row, 3);
  EXPECT_EQ(top[2].row, 2);
}

// NaN scores in the histogram selection (ExactScorer's one selection routine,
// over all scores and over the few a sampled threshold kept): they rank as
// -inf, below every other score, ties among them to the lower row, for the
// k that cut into them and for those that stop just above them; on a
// catalog where the sampled threshold answers small k, and one too small
// for it.
TEST(ExactScorer, NanScoresRankLastInTheSelectionForEveryKThatReachesThem) {
  for (int n : {3000, 700}) {
    auto model = TiedModel(n, 31, /*strided_best=*/false, /*ties=*/false);
    ExactScorer scorer(*model);
    const std::vector<float> query = {1.0f, 1.0f, 0.5f, -0.25f, 0.0f, 2.0f, 1.0f, -1.0f};
    const std::vector<models::Candidate> all = scorer.Search(query, n);
    ASSERT_EQ(static_cast<int>(all.size()), n);
    std::vector<int> nan_rows;
    for (int r = 0; r < n; ++r) {
      if (r % 97 == 50) nan_rows.push_back(r);
    }
    const int finite = n - static_cast<int>(nan_rows.size());
    for (int i = 0; i < finite; ++i) {
      ASSERT_TRUE(std::isfinite(all[i].score)) << "position " << i;
      if (i > 0) {
        ASSERT_GT(all[i - 1].score, all[i].score) << "position " << i;
      }
    }
    for (size_t j = 0; j < nan_rows.size(); ++j) {
      EXPECT_EQ(all[finite + j].row, nan_rows[j]);
      EXPECT_EQ(all[finite + j].score, -std::numeric_limits<float>::infinity());
    }
    auto better = [](const models::Candidate& a, const models::Candidate& b) {
      if (a.score != b.score) return a.score > b.score;
      return a.row < b.row;
    };
    std::vector<int> ks = {1, 10, 110, finite - 3, finite - 1, finite, finite + 1, finite + 2, n - 1, n};
    for (int k : ks) {
      const std::vector<models::Candidate> top = scorer.Search(query, k);
      std::vector<models::Candidate> unordered = scorer.SearchUnordered(query, k);
      ASSERT_EQ(static_cast<int>(top.size()), k);
      ASSERT_EQ(static_cast<int>(unordered.size()), k);
      std::sort(unordered.begin(), unordered.end(), better);
      for (int i = 0; i < k; ++i) {
        ASSERT_EQ(top[i].row, all[i].row) << "n " << n << " k " << k << " position " << i;
        ASSERT_EQ(top[i].score, all[i].score) << "n " << n << " k " << k << " position " << i;
        ASSERT_EQ(unordered[i].row, all[i].row) << "n " << n << " k " << k << " position " << i;
      }
    }
    // The same scores outside the selection: <query, item vector> in double
    // (sgemv's rounding may differ in the last bits), NaN rows NaN.
    for (int i = 0; i < n; ++i) {
      absl::Span<const float> v = model->ItemVector(all[i].row);
      double want = 0;
      for (int d = 0; d < 8; ++d) want += static_cast<double>(query[d]) * v[d];
      if (std::isnan(want)) continue;
      ASSERT_NEAR(all[i].score, want, 1e-3 * (1 + std::abs(want))) << "row " << all[i].row;
    }
  }
}

// The dense scan reuses a per-thread score buffer without clearing it
// (sgemv with beta = 0 sets every score): what a scan before it on the same
// thread left there (NaN and infinite scores, a larger catalog) changes
// nothing.
TEST(ExactScorer, ScoresDoNotDependOnTheScanBeforeOnTheThread) {
  auto clean = RandomModel(3000, 16, 41);
  ExactScorer scorer(*clean);
  std::vector<float> query(16);
  for (int d = 0; d < 16; ++d) query[d] = 0.1f * (d % 5) - 0.2f;
  const std::vector<models::Candidate> want = scorer.Search(query, 3000);
  const std::vector<models::Candidate> want_top = scorer.SearchUnordered(query, 110);

  // 4,000 items, every 3rd NaN or infinite in every coordinate.
  models::ModelArrays a;
  a.dim = 16;
  a.identity_query = false;
  for (int i = 0; i < 4000; ++i) {
    a.course_ids.push_back(absl::StrCat("x", i));
    a.counts.push_back(1);
    for (int d = 0; d < 16; ++d) {
      a.item_vectors.push_back(i % 3 == 0 ? (i % 2 ? std::nanf("") : std::numeric_limits<float>::infinity()) : 1.0f);
    }
  }
  a.query_basis = a.item_vectors;
  auto dirty = models::BuildModelBundle(std::move(a), nlohmann::json::object(), 1, "mem");
  ASSERT_TRUE(dirty.ok()) << dirty.status();
  ExactScorer dirty_scorer(**dirty);
  ASSERT_EQ(dirty_scorer.Search(std::vector<float>(16, 1.0f), 4000).size(), 4000u);

  const std::vector<models::Candidate> got = scorer.Search(query, 3000);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].row, want[i].row) << "position " << i;
    ASSERT_EQ(got[i].score, want[i].score) << "position " << i;
    ASSERT_TRUE(std::isfinite(got[i].score)) << "position " << i;
  }
  ASSERT_EQ(dirty_scorer.Search(std::vector<float>(16, 1.0f), 10).size(), 10u);
  std::vector<models::Candidate> top;
  scorer.SearchUnordered(query, 110, &top);
  ASSERT_EQ(top.size(), want_top.size());
  for (size_t i = 0; i < top.size(); ++i) {
    EXPECT_EQ(top[i].row, want_top[i].row) << "position " << i;
    EXPECT_EQ(top[i].score, want_top[i].score) << "position " << i;
  }
}

TEST(ExactScorer, EmptyForBadArguments) {
  auto model = RandomModel(40, 8, 5);
  ExactScorer scorer(*model);
  EXPECT_TRUE(scorer.Search(std::vector<float>(8, 1.0f), 0).empty());
  EXPECT_TRUE(scorer.Search(std::vector<float>(7, 1.0f), 5).empty());
}

// A model trained with default options on 1,500 collaborative courses (above
// the old 1,024-item dense limit) is served with exact item-item scores: for
// every learner, the served candidates (ExactScorer over the loaded bundle,
// what Recommender uses for identity-basis models) are the offline model's
// top k (ModelBundle::ScoreAll, what models/evaluate ranks by) with the same
// scores up to float rounding, and a single-course history scores exactly
// that course's row of the item-item matrix. The same data factored at rank
// 256 (the old default) does not meet this contract, so the test can fail.
// A sparse bundle of `n` items: each row holds a few entries of both signs
// (some rows none); every 7th item has no interactions (not indexed).
std::shared_ptr<const models::ModelBundle> RandomSparseModel(int n, uint32_t seed) {
  models::ModelArrays a;
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  a.sparse = true;
  a.identity_query = true;
  a.dim = n;
  a.sparse_row_start.push_back(0);
  for (int i = 0; i < n; ++i) {
    a.course_ids.push_back(absl::StrCat("c", i));
    a.counts.push_back(i % 7 == 3 ? 0 : 1 + i % 5);
    for (int t = 0; t < n; ++t) {
      if (i % 5 != 4 && (rng() % 9) == 0) {
        a.sparse_target.push_back(t);
        a.sparse_weight.push_back(g(rng));
      }
    }
    a.sparse_row_start.push_back(static_cast<int64_t>(a.sparse_target.size()));
  }
  auto bundle = models::BuildModelBundle(std::move(a), nlohmann::json::object(), 1, "mem");
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return *bundle;
}

// The sparse scan ranks only the positions it touched, then the untouched
// (score 0) ones by row, then the negatives: the answer must be exactly the
// full scan's (ModelBundle::SearchBatch ranks every indexed row), for every
// k, for histories whose rows give fewer positives than k, repeatedly and
// with two scorers of different sizes sharing the thread's scratch.
TEST(ExactScorer, SparseScanEqualsTheFullRankingForEveryK) {
  auto big = RandomSparseModel(60, 11);
  auto small = RandomSparseModel(25, 12);
  ASSERT_EQ(big->index_info().kind, "sparse");
  ExactScorer big_scorer(*big), small_scorer(*small);
  std::mt19937 rng(13);
  for (int q = 0; q < 40; ++q) {
    const auto& model = q % 2 == 0 ? big : small;
    const ExactScorer& scorer = q % 2 == 0 ? big_scorer : small_scorer;
    const int n = model->num_items();
    std::vector<models::HistoryEvent> history;
    for (int h = 0; h < 1 + q % 4; ++h) history.push_back({absl::StrCat("c", rng() % n), 1.0f});
    const std::vector<float> query = model->LearnerVector(history);
    for (int k : {1, 3, 10, n / 2, n - 8, n + 5}) {
      auto want = model->SearchBatch(query, 1, k);
      ASSERT_TRUE(want.ok()) << want.status();
      for (int again = 0; again < 2; ++again) {
        const std::vector<models::Candidate> got = scorer.Search(query, k);
        ASSERT_EQ(got.size(), (*want)[0].size()) << "query " << q << " k " << k;
        for (size_t i = 0; i < got.size(); ++i) {
          EXPECT_EQ(got[i].row, (*want)[0][i].row) << "query " << q << " k " << k << " position " << i;
          EXPECT_EQ(got[i].score, (*want)[0][i].score) << "query " << q << " k " << k << " position " << i;
        }
      }
    }
  }
}

TEST(ExactScorer, ServedScoresEqualTheOfflineModelAboveTheOldDenseLimit) {
  models::SyntheticOptions so;
  so.learners = 6000;
  so.items = 1500;
  so.tracks = 60;
  so.mean_length = 6;
  so.seed = 7;
  const std::vector<models::Interaction> data = models::GenerateSyntheticInteractions(so);
  models::TrainOptions o;  // defaults: the served configuration
  ASSERT_GE(o.dense_max_items, 1500);
  models::TrainStats stats;
  auto arrays = models::TrainModel(data, {}, o, &stats);
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  ASSERT_GT(stats.collaborative_items, 1024);
  ASSERT_TRUE(arrays->identity_query);
  models::ModelArrays low_arrays;
  {
    models::TrainOptions lo = o;
    lo.dense_max_items = 1024;
    lo.exact_max_items = 0;  // rank 256 above the dense limit, not sparse
    lo.approximation = "low_rank";
    lo.low_rank_dim = 256;
    auto low = models::TrainModel(data, {}, lo);
    ASSERT_TRUE(low.ok()) << low.status();
    low_arrays = std::move(*low);
  }
  auto built = models::BuildModelBundle(std::move(*arrays), nlohmann::json::object(), 1, "mem");
  ASSERT_TRUE(built.ok()) << built.status();
  const models::ModelBundle& model = **built;
  ASSERT_TRUE(model.identity_query());
  auto low_built = models::BuildModelBundle(std::move(low_arrays), nlohmann::json::object(), 2, "mem");
  ASSERT_TRUE(low_built.ok()) << low_built.status();
  const models::ModelBundle& low_model = **low_built;
  ASSERT_FALSE(low_model.identity_query());

  ExactScorer scorer(model);
  constexpr int kK = 100;
  double max_low_gap = 0;
  std::mt19937 rng(3);
  for (int learner = 0; learner < 60; ++learner) {
    std::vector<models::HistoryEvent> history;
    const int len = 1 + learner % 8;
    for (int e = 0; e < len; ++e) {
      const int row = static_cast<int>(rng() % model.num_items());
      history.push_back({model.CourseId(row), e % 3 == 0 ? 0.5f : 1.0f});
    }
    const std::vector<float> offline = model.ScoreAll(history);
    const std::vector<float> q = model.LearnerVector(history);
    float scale = 0;
    for (float x : offline) scale = std::max(scale, std::abs(x));
    ASSERT_GT(scale, 0);
    const float tol = 1e-5f * scale;
    std::vector<models::Candidate> served = scorer.Search(q, kK);
    ASSERT_EQ(served.size(), static_cast<size_t>(kK));
    // Same scores as the offline model, and nothing left out scores higher.
    for (const models::Candidate& c : served) {
      EXPECT_NEAR(c.score, offline[c.row], tol) << "learner " << learner << " row " << c.row;
    }
    int above = 0;
    for (int r = 0; r < model.num_items(); ++r) above += offline[r] > served.back().score + tol;
    EXPECT_LE(above, kK) << "learner " << learner;
    for (int r = 0; r < model.num_items(); ++r) {
      bool in = false;
      for (const models::Candidate& c : served) in |= c.row == r;
      if (!in) {
        EXPECT_LE(offline[r], served.back().score + tol) << "missed row " << r;
      }
    }
    const std::vector<float> low = low_model.ScoreAll(history);
    for (int r = 0; r < model.num_items(); ++r) {
      max_low_gap = std::max(max_low_gap, std::abs(static_cast<double>(low[r]) - offline[r]) / scale);
    }
  }
  // One history course: its row of the item-item matrix, exactly.
  const int from = 17;
  const std::vector<float> one = model.ScoreAll(std::vector<models::HistoryEvent>{{model.CourseId(from), 1.0f}});
  for (int r = 0; r < model.num_items(); ++r) {
    ASSERT_FLOAT_EQ(one[r], model.ItemVector(r)[from]) << r;
    ASSERT_FLOAT_EQ(model.ItemToItem(from, r), one[r]) << r;
  }
  EXPECT_GT(max_low_gap, 1e-3) << "the rank-256 model should differ from the exact one";
}

// ScoreAll from the transposed copy (what the recommender blends the GRU
// into) is the model's ScoreAll bit for bit: for a random identity-basis
// model with content-only rows (every 7th), and for a trained one, over
// histories of 1-12 courses with repeats and zero weights.
TEST(ExactScorer, ScoreAllEqualsTheModelsScoreAllBitForBit) {
  models::SyntheticOptions so;
  so.learners = 800;
  so.items = 150;
  so.tracks = 10;
  so.seed = 5;
  auto trained = models::TrainModel(models::GenerateSyntheticInteractions(so), {}, models::TrainOptions{});
  ASSERT_TRUE(trained.ok()) << trained.status();
  auto trained_bundle = models::BuildModelBundle(std::move(*trained), nlohmann::json::object(), 1, "mem");
  ASSERT_TRUE(trained_bundle.ok()) << trained_bundle.status();
  for (const std::shared_ptr<const models::ModelBundle>& model : {RandomModel(61, 61, 4), *trained_bundle}) {
    ASSERT_TRUE(model->identity_query());
    ExactScorer scorer(*model);
    ASSERT_TRUE(scorer.scores_all());
    std::mt19937 rng(9);
    for (int learner = 0; learner < 40; ++learner) {
      std::vector<models::HistoryEvent> history;
      const int len = 1 + learner % 12;
      for (int e = 0; e < len; ++e) {
        const int row = static_cast<int>(rng() % model->num_items());
        history.push_back({model->CourseId(row), e % 4 == 3 ? 0.0f : (e % 3 == 0 ? 0.5f : 1.0f)});
      }
      const std::vector<std::pair<int, double>> rows = model->HistoryRowWeights(history);
      if (rows.empty()) continue;
      const std::vector<float> want = model->ScoreAll(history);
      const std::vector<float> got = scorer.ScoreAll(*model, rows);
      ASSERT_EQ(got.size(), want.size());
      for (size_t j = 0; j < want.size(); ++j) {
        ASSERT_EQ(std::memcmp(&got[j], &want[j], sizeof(float)), 0)
            << "learner " << learner << " row " << j << ": " << got[j] << " against " << want[j];
      }
    }
  }
  // Not for a low-rank model (its query is not one coordinate per course).
  EXPECT_FALSE(ExactScorer(*RandomModel(40, 8, 2)).scores_all());
}

// TopOfRowScores (the recommender's GRU path) is the top k of the given
// row scores over the indexed rows, as a full sort gives it: rows without
// interactions never come out even with the best scores, ties go to the
// lower row, NaN ranks last (as -inf); for every k, both selections (the
// sampled threshold and the histogram over all).
TEST(ExactScorer, TopOfRowScoresIsTheTopOfTheGivenScoresOverTheIndexedRows) {
  const int n = 3000;
  auto model = RandomModel(n, 8, 31);
  ExactScorer scorer(*model);
  auto better = [](const models::Candidate& a, const models::Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.row < b.row;
  };
  std::mt19937 rng(32);
  std::normal_distribution<float> g;
  for (int variant = 0; variant < 2; ++variant) {
    std::vector<float> row_scores(n);
    for (int r = 0; r < n; ++r) {
      row_scores[r] = variant == 0 ? std::round(g(rng) * 4) / 4 : g(rng);  // variant 0: many ties
      if (model->InteractionCount(r) == 0) row_scores[r] = 100.0f + r;     // better than all, not indexed
      if (r % 97 == 50) row_scores[r] = std::numeric_limits<float>::quiet_NaN();
    }
    std::vector<models::Candidate> all;
    for (int r = 0; r < n; ++r) {
      if (model->InteractionCount(r) == 0) continue;
      const float v = row_scores[r];
      all.push_back({r, v == v ? v : -std::numeric_limits<float>::infinity()});
    }
    std::sort(all.begin(), all.end(), better);
    const int indexed = static_cast<int>(all.size());
    ASSERT_EQ(indexed, scorer.size());
    std::vector<models::Candidate> top;
    for (int k = 1; k <= indexed + 5; k += k <= indexed / ExactScorer::kSampleStride + 25 ? 1 : 37) {
      scorer.TopOfRowScores(row_scores, k, &top);
      ASSERT_EQ(static_cast<int>(top.size()), std::min(k, indexed)) << "k " << k;
      std::sort(top.begin(), top.end(), better);
      for (size_t i = 0; i < top.size(); ++i) {
        ASSERT_EQ(top[i].row, all[i].row) << "k " << k << " position " << i << " variant " << variant;
        ASSERT_EQ(top[i].score, all[i].score) << "k " << k << " position " << i;
      }
    }
    scorer.TopOfRowScores(row_scores, 0, &top);
    EXPECT_TRUE(top.empty());
  }
}

// A model trained with default options on more collaborative courses than
// the dense limit (4,096) is trained sparse, written as a format-2 version,
// loaded back from disk and served exactly: for real learner histories of
// the data, the served candidates (ExactScorer over the loaded bundle, what
// Recommender uses for sparse bundles) are the offline sparse model's top k
// (TrainSparseModel with the same options, SparseItemModel::Score) with its
// scores, and the loaded bundle's ScoreAll equals the offline model bit for
// bit.
TEST(ExactScorer, ServedScoresEqualTheSparseExactModelAboveTheDenseLimit) {
  models::SyntheticOptions so;
  so.learners = 9000;
  so.items = 5000;
  so.tracks = 250;
  so.mean_length = 4;
  so.seed = 11;
  const std::vector<models::Interaction> data = models::GenerateSyntheticInteractions(so);
  models::TrainOptions o;  // defaults: dense up to 4,096 items, sparse up to 20,000
  models::TrainStats stats;
  auto arrays = models::TrainModel(data, {}, o, &stats);
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  ASSERT_GT(stats.collaborative_items, o.dense_max_items);
  ASSERT_LE(stats.collaborative_items, o.exact_max_items);
  ASSERT_EQ(stats.collaborative_path, "sparse");
  ASSERT_TRUE(arrays->sparse);
  ASSERT_TRUE(arrays->item_vectors.empty());  // no n^2 floats anywhere

  const std::string root = std::string(getenv("TEST_TMPDIR")) + "/sparse_models";
  auto version = models::WriteModelVersion(root, *arrays, nlohmann::json::object());
  ASSERT_TRUE(version.ok()) << version.status();
  auto loaded = models::LoadModelBundle(models::VersionPath(root, *version));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const models::ModelBundle& model = **loaded;
  ASSERT_TRUE(model.sparse_item_matrix());
  EXPECT_EQ(model.manifest()["format"], "lifelong-recommender-model/2");
  EXPECT_EQ(model.index_info().kind, "sparse");
  EXPECT_EQ(model.sparse_entries(), static_cast<int64_t>(arrays->sparse_target.size()));

  // The exact offline model.
  auto offline_model = models::TrainSparseModel(data, o, o.sparse_candidates, o.sparse_neighbours);
  ASSERT_TRUE(offline_model.ok()) << offline_model.status();
  ASSERT_EQ(offline_model->course_ids, model.course_ids());

  ExactScorer scorer(model);
  EXPECT_EQ(scorer.size(), model.index_info().indexed_items);
  // Real histories: every 97th learner's sequence without its last course.
  const auto sequences = models::GroupSequences(data);
  constexpr int kK = 100;
  int checked = 0, top10_equal = 0;
  for (size_t u = 0; u < sequences.size(); u += 97) {
    const auto& seq = sequences[u].second;
    if (seq.size() < 2) continue;
    std::vector<models::HistoryEvent> history;
    for (size_t e = 0; e + 1 < seq.size(); ++e) history.push_back({seq[e].course_id, seq[e].weight});
    const std::vector<std::pair<int, double>> q = model.HistoryRowWeights(history);
    ASSERT_FALSE(q.empty());
    const std::vector<float> offline = offline_model->Score(q);
    ASSERT_EQ(model.ScoreAll(history), offline) << "learner " << u;  // bit for bit
    float scale = 0;
    for (float x : offline) scale = std::max(scale, std::abs(x));
    ASSERT_GT(scale, 0);
    const float tol = 1e-5f * scale;
    const std::vector<models::Candidate> served = scorer.Search(model.LearnerVector(history), kK);
    ASSERT_EQ(served.size(), static_cast<size_t>(kK));
    for (const models::Candidate& c : served) {
      ASSERT_NEAR(c.score, offline[c.row], tol) << "learner " << u << " row " << c.row;
    }
    // Nothing left out scores higher than the last served candidate.
    std::vector<char> in(model.num_items(), 0);
    for (const models::Candidate& c : served) in[c.row] = 1;
    for (int r = 0; r < model.num_items(); ++r) {
      if (!in[r]) {
        ASSERT_LE(offline[r], served.back().score + tol) << "learner " << u << " row " << r;
      }
    }
    // The offline top 10 by (score, row), row for row.
    std::vector<int> order;
    for (int r = 0; r < model.num_items(); ++r) {
      if (model.InteractionCount(r) > 0) order.push_back(r);
    }
    std::partial_sort(order.begin(), order.begin() + 10, order.end(),
                      [&](int x, int y) { return offline[x] != offline[y] ? offline[x] > offline[y] : x < y; });
    bool same = true;
    for (int i = 0; i < 10; ++i) same &= served[i].row == order[i];
    top10_equal += same;
    // The search path the batcher takes (ModelBundle::SearchBatch) agrees.
    auto batch = model.SearchBatch(model.LearnerVector(history), 1, kK);
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_EQ((*batch)[0].size(), served.size());
    for (size_t i = 0; i < served.size(); ++i) {
      EXPECT_EQ((*batch)[0][i].row, served[i].row);
      EXPECT_EQ((*batch)[0][i].score, served[i].score);
    }
    ++checked;
  }
  ASSERT_GE(checked, 50);
  // Float rounding may swap exact near-ties; anything more is a bug.
  EXPECT_GE(top10_equal, checked - 2) << "of " << checked;
  // One history course scores its row of M exactly.
  const int from = offline_model->row_start[1] > 0 ? 0 : 1;
  const std::vector<float> one = model.ScoreAll(std::vector<models::HistoryEvent>{{model.CourseId(from), 1.0f}});
  for (int r = 0; r < model.num_items(); ++r) {
    ASSERT_EQ(model.ItemToItem(from, r), offline_model->Entry(from, r)) << r;
    ASSERT_EQ(one[r], offline_model->Entry(from, r)) << r;
  }
  // Item vectors (columns of M) agree with the entries, for Similar.
  for (int j = 0; j < 50; ++j) {
    const std::vector<float> col = model.DenseItemVector(j);
    double norm2 = 0;
    for (int i = 0; i < model.num_items(); ++i) {
      ASSERT_EQ(col[i], offline_model->Entry(i, j));
      norm2 += static_cast<double>(col[i]) * col[i];
    }
    EXPECT_NEAR(model.ItemNorm(j), std::sqrt(norm2), 1e-5 * (1 + std::sqrt(norm2)));
  }
}

}  // namespace
}  // namespace lifelong::recommend
