#include "services/recommend/search_batcher.h"

#include <random>
#include <thread>

#include "gtest/gtest.h"

namespace lifelong::recommend {
namespace {

std::shared_ptr<const models::ModelBundle> RandomModel(int n, int dim, int64_t version) {
  models::ModelArrays a;
  std::mt19937 rng(version);
  std::normal_distribution<float> g;
  for (int i = 0; i < n; ++i) {
    a.course_ids.push_back("c" + std::to_string(i));
    a.counts.push_back(1 + i % 7);
  }
  a.dim = dim;
  a.identity_query = false;
  a.item_vectors.resize(static_cast<size_t>(n) * dim);
  for (float& x : a.item_vectors) x = g(rng);
  a.query_basis = a.item_vectors;
  auto b = models::BuildModelBundle(std::move(a), nlohmann::json::object(), version, "mem");
  EXPECT_TRUE(b.ok()) << b.status();
  return *b;
}

std::vector<float> RandomQuery(int dim, int seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> q(dim);
  for (float& x : q) x = g(rng);
  return q;
}

TEST(SearchBatcher, ConcurrentQueriesGetTheirOwnExactAnswers) {
  auto model = RandomModel(2000, 16, 1);
  SearchBatcher::Options o;
  o.max_wait = absl::Milliseconds(2);
  o.min_items_to_batch = 0;
  SearchBatcher batcher(o);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int seed = t * 1000 + i;
        const int k = 1 + (seed % 20);  // different k in one batch
        std::vector<float> q = RandomQuery(16, seed);
        auto got = batcher.Search(model, q, k);
        auto want = model->SearchBatch(q, 1, k);
        if (!got.ok() || !want.ok() || got->size() != (*want)[0].size()) {
          ++mismatches;
          continue;
        }
        for (size_t j = 0; j < got->size(); ++j) {
          if ((*got)[j].row != (*want)[0][j].row) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  SearchBatcher::Stats st = batcher.stats();
  EXPECT_EQ(st.queries, kThreads * kPerThread);
  EXPECT_LT(st.batches, st.queries);  // some queries shared a search call
}

TEST(SearchBatcher, QueriesForDifferentVersionsUseTheirOwnModel) {
  auto v1 = RandomModel(500, 8, 1);
  auto v2 = RandomModel(500, 8, 2);
  SearchBatcher::Options o;
  o.max_wait = absl::Milliseconds(20);
  o.min_items_to_batch = 0;
  SearchBatcher batcher(o);
  std::vector<float> q = RandomQuery(8, 7);
  absl::StatusOr<std::vector<models::Candidate>> r1, r2;
  std::thread a([&] { r1 = batcher.Search(v1, q, 5); });
  std::thread b([&] { r2 = batcher.Search(v2, q, 5); });
  a.join();
  b.join();
  ASSERT_TRUE(r1.ok());
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ((*r1)[0].row, (*v1->SearchBatch(q, 1, 5))[0][0].row);
  EXPECT_EQ((*r2)[0].row, (*v2->SearchBatch(q, 1, 5))[0][0].row);
}

TEST(SearchBatcher, SmallModelsAreSearchedOnTheCallingThread) {
  auto model = RandomModel(300, 8, 3);
  SearchBatcher::Options o;
  o.min_items_to_batch = 301;
  SearchBatcher batcher(o);
  std::vector<float> q = RandomQuery(8, 9);
  auto got = batcher.Search(model, q, 4);
  ASSERT_TRUE(got.ok());
  auto want = model->SearchBatch(q, 1, 4);
  ASSERT_EQ(got->size(), 4u);
  for (size_t j = 0; j < 4; ++j) EXPECT_EQ((*got)[j].row, (*want)[0][j].row);
  SearchBatcher::Stats st = batcher.stats();
  EXPECT_EQ(st.direct, 1);
  EXPECT_EQ(st.queries, 0);
}

TEST(SearchBatcher, RejectsBadQueries) {
  auto model = RandomModel(100, 8, 1);
  SearchBatcher batcher(SearchBatcher::Options{});
  EXPECT_EQ(batcher.Search(model, RandomQuery(7, 1), 5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(batcher.Search(model, RandomQuery(8, 1), 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(batcher.Search(nullptr, RandomQuery(8, 1), 5).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace lifelong::recommend
