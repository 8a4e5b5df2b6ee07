#include "models/sparse_ease.h"

#include <cmath>

#include "gtest/gtest.h"
#include "models/evaluation.h"
#include "models/synthetic.h"
#include "models/trainer.h"

namespace lifelong::models {
namespace {

std::vector<Interaction> Data() {
  SyntheticOptions so;
  so.learners = 1200;
  so.items = 80;
  so.tracks = 5;
  so.seed = 9;
  return GenerateSyntheticInteractions(so);
}

// With every other item as a candidate and nothing pruned, the per-column
// ridge regressions are EASE itself: the dense trainer's set part.
TEST(TrainSparseEase, WithAllCandidatesEqualsDenseEase) {
  const std::vector<Interaction> data = Data();
  SparseEaseOptions so;
  so.lambda = 50;
  so.candidates = 1000;
  so.neighbours = 1000;
  auto sparse = TrainSparseEase(data, so);
  ASSERT_TRUE(sparse.ok()) << sparse.status();
  TrainOptions o;
  o.set_mix = 1;
  o.lambda_set = 50;
  o.popularity_exponent = 0;
  auto dense = TrainModel(data, {}, o);
  ASSERT_TRUE(dense.ok());
  ASSERT_EQ(sparse->course_ids, dense->course_ids);
  const int n = sparse->num_items();
  double largest = 0;
  for (float v : dense->item_vectors) largest = std::max(largest, std::fabs(double(v)));
  ASSERT_GT(largest, 0);
  int nonzero = 0;
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < n; ++i) {
      const double d = dense->item_vectors[static_cast<size_t>(j) * n + i];  // M[i][j]
      const double s = sparse->Entry(i, j);
      nonzero += s != 0 ? 1 : 0;
      EXPECT_NEAR(s, d, 1e-5 * largest) << i << " " << j;
    }
  }
  EXPECT_GT(nonzero, n * (n - 1) / 2);
}

// What a server computes from the CSR rows is the model's score: q'B with
// B's kept entries, bit for bit, for real histories of the data.
TEST(SparseItemModel, ServedScoresEqualTheModel) {
  std::vector<Interaction> train;
  std::vector<EvalCase> cases;
  SplitSequenceTails(Data(), 0.2, &train, &cases);
  SparseEaseOptions so;
  so.candidates = 20;
  so.neighbours = 10;
  auto m = TrainSparseEase(train, so);
  ASSERT_TRUE(m.ok());
  const int n = m->num_items();
  for (int i = 0; i < n; ++i) EXPECT_LE(m->row_start[i + 1] - m->row_start[i], 10);
  absl::flat_hash_map<std::string, int> row_of;
  for (int i = 0; i < n; ++i) row_of[m->course_ids[i]] = i;
  int checked = 0;
  for (const EvalCase& c : cases) {
    std::vector<std::pair<int, double>> q;
    for (const HistoryEvent& e : c.history) {
      auto it = row_of.find(e.course_id);
      if (it != row_of.end()) q.push_back({it->second, 0.5 + 0.1 * q.size()});
    }
    const std::vector<float> served = m->Score(q);
    for (int j = 0; j < n; ++j) {
      double expect = 0;
      for (const auto& [i, w] : q) expect += w * m->Entry(i, j);
      ASSERT_EQ(served[j], static_cast<float>(expect)) << c.learner << " " << j;
    }
    ++checked;
  }
  EXPECT_GT(checked, 500);
  EXPECT_EQ(m->bytes(), static_cast<int64_t>((n + 1) * 8 + m->target.size() * 8));
}

// PruneRows keeps each row's largest entries (ties: lower target), targets
// ascending; with room for every entry it is the model itself.
TEST(SparseItemModel, PruneRowsKeepsEachRowsLargestEntries) {
  SparseItemModel m;
  m.course_ids = {"a", "b", "c", "d"};
  m.counts = {1, 2, 3, 4};
  m.row_start = {0, 4, 4, 6, 7};
  m.target = {0, 1, 2, 3, 1, 3, 0};
  m.weight = {0.5f, -1.0f, 2.0f, 0.5f, 3.0f, 3.0f, -2.0f};
  const SparseItemModel p = PruneRows(m, 2);
  EXPECT_EQ(p.course_ids, m.course_ids);
  EXPECT_EQ(p.counts, m.counts);
  EXPECT_EQ(p.row_start, (std::vector<int64_t>{0, 2, 2, 4, 5}));
  EXPECT_EQ(p.target, (std::vector<int32_t>{0, 2, 1, 3, 0}));  // row 0: 2.0 and the tie 0.5 at target 0
  EXPECT_EQ(p.weight, (std::vector<float>{0.5f, 2.0f, 3.0f, 3.0f, -2.0f}));
  const SparseItemModel one = PruneRows(m, 1);
  EXPECT_EQ(one.target, (std::vector<int32_t>{2, 1, 0}));
  const SparseItemModel all = PruneRows(m, 4);
  EXPECT_EQ(all.row_start, m.row_start);
  EXPECT_EQ(all.target, m.target);
  EXPECT_EQ(all.weight, m.weight);
}

TEST(TrainSparseEase, RejectsBadOptionsNamingTheField) {
  SparseEaseOptions so;
  so.lambda = 0;
  auto s = TrainSparseEase(Data(), so).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("lambda"), std::string::npos);
  so = SparseEaseOptions();
  so.neighbours = 0;
  EXPECT_NE(TrainSparseEase(Data(), so).status().message().find("neighbours"), std::string::npos);
  EXPECT_EQ(TrainSparseEase({}, SparseEaseOptions()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lifelong::models

namespace lifelong::models {
namespace {

// With every item as a candidate and nothing pruned, the order-aware sparse
// model is the dense trainer's M, for the sequence part, the set part and a
// mix with popularity scaling.
TEST(TrainSparseModel, WithAllCandidatesEqualsTheDenseModel) {
  const std::vector<Interaction> data = Data();
  for (double mix : {0.0, 0.4, 1.0}) {
    TrainOptions o;
    o.set_mix = mix;
    o.popularity_exponent = 0.1;
    auto sparse = TrainSparseModel(data, o, 100000, 100000);
    ASSERT_TRUE(sparse.ok()) << sparse.status();
    auto dense = TrainModel(data, {}, o);
    ASSERT_TRUE(dense.ok());
    ASSERT_EQ(sparse->course_ids, dense->course_ids);
    const int n = sparse->num_items();
    double largest = 0;
    for (float v : dense->item_vectors) largest = std::max(largest, std::fabs(double(v)));
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < n; ++i) {
        ASSERT_NEAR(sparse->Entry(i, j), dense->item_vectors[static_cast<size_t>(j) * n + i], 1e-5 * largest)
            << "set_mix " << mix << " " << i << " " << j;
      }
    }
  }
  EXPECT_EQ(TrainSparseModel(data, TrainOptions(), 0, 5).status().code(), absl::StatusCode::kInvalidArgument);
  TrainOptions bad;
  bad.set_mix = 2;
  EXPECT_EQ(TrainSparseModel(data, bad, 5, 5).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lifelong::models
