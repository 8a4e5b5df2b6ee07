#include "models/evaluation.h"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace lifelong::models {
namespace {

HistoryEvent E(const char* id) { return {id, 1.0f, absl::InfinitePast()}; }

TEST(EvaluateRanking, ComputesRecallNdcgHitRateAndExcludesHistory) {
  const std::vector<std::string> universe = {"a", "b", "c", "d", "e"};
  // Fixed scores: a > b > c > d > e.
  Scorer fixed = [](const EvalCase&) { return std::vector<float>{5, 4, 3, 2, 1}; };
  std::vector<EvalCase> cases = {
      {"u1", {E("a")}, {"b", "e"}},  // ranking b c d e: hit b at rank 1 -> recall 0.5
      {"u2", {}, {"zz"}},            // held-out item outside the universe: a miss
  };
  RankingMetrics m = EvaluateRanking(cases, universe, 2, fixed);
  EXPECT_EQ(m.cases, 2);
  EXPECT_NEAR(m.recall, (0.5 + 0.0) / 2, 1e-9);
  EXPECT_NEAR(m.hit_rate, 0.5, 1e-9);
  EXPECT_NEAR(m.precision, (0.5 + 0.0) / 2, 1e-9);
  const double idcg = 1.0 + 1.0 / std::log2(3.0);
  EXPECT_NEAR(m.ndcg, (1.0 / idcg + 0.0) / 2, 1e-9);
  // Top-2 lists: {b, c} and {a, b} -> 3 of 5 items covered.
  EXPECT_NEAR(m.coverage, 0.6, 1e-9);
}

// Several scorings evaluated together give, slot by slot, what each gives
// on its own (on one thread and on three).
TEST(EvaluateRankingsAtKs, EachScoringEqualsItsOwnEvaluation) {
  const std::vector<std::string> universe = {"a", "b", "c", "d", "e", "f"};
  std::vector<EvalCase> cases;
  for (int i = 0; i < 9; ++i) {
    cases.push_back({"u" + std::to_string(i), {E(universe[i % 6].c_str())}, {universe[(i * 5 + 1) % 6]}});
  }
  // Scoring v puts course (case + v) % 6 first: they rank differently.
  auto scoring = [&](int v) {
    return [&universe, v](const EvalCase& c) {
      std::vector<float> s(universe.size(), 0.0f);
      const int shift = (c.learner.back() - '0') + v;
      for (int j = 0; j < 6; ++j) s[(shift + j) % 6] = static_cast<float>(6 - j);
      return s;
    };
  };
  const std::vector<int> ks = {1, 3};
  for (int threads : {1, 3}) {
    const std::vector<RankingMetrics> together = EvaluateRankingsAtKs(
        cases, universe, ks, 3,
        [&](const EvalCase& c) {
          return std::vector<std::vector<float>>{scoring(0)(c), scoring(1)(c), scoring(2)(c)};
        },
        {}, threads);
    ASSERT_EQ(together.size(), 6u);
    std::set<double> distinct;
    for (int v = 0; v < 3; ++v) {
      const std::vector<RankingMetrics> alone = EvaluateRankingAtKs(cases, universe, ks, scoring(v));
      for (size_t i = 0; i < ks.size(); ++i) {
        const RankingMetrics& t = together[v * ks.size() + i];
        EXPECT_EQ(t.k, ks[i]);
        EXPECT_EQ(t.ToJson().dump(), alone[i].ToJson().dump()) << "scoring " << v << " k " << ks[i];
        distinct.insert(t.recall);
      }
    }
    EXPECT_GE(distinct.size(), 3u) << "the scorings should differ";
  }
}

TEST(GroupSequences, OrdersByOrderKeepsLastOccurrenceAndDropsNonPositive) {
  std::vector<Interaction> in = {
      {"u1", "c", 30, 1.0f}, {"u1", "a", 10, 0.3f}, {"u1", "b", 20, 1.0f},
      {"u1", "a", 40, 1.0f}, {"u1", "x", 50, 0.0f}, {"u2", "b", 5, 1.0f},
  };
  auto g = GroupSequences(in);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].first, "u1");
  ASSERT_EQ(g[0].second.size(), 3u);
  EXPECT_EQ(g[0].second[0].course_id, "b");
  EXPECT_EQ(g[0].second[1].course_id, "c");
  EXPECT_EQ(g[0].second[2].course_id, "a");
  EXPECT_FLOAT_EQ(g[0].second[2].weight, 1.0f);
}

TEST(SplitSequenceTails, HoldsOutTheLastPart) {
  std::vector<Interaction> in;
  for (int i = 0; i < 10; ++i) in.push_back({"u1", std::string(1, 'a' + i), i, 1.0f});
  in.push_back({"u2", "a", 0, 1.0f});  // a single course: training only
  std::vector<Interaction> train;
  std::vector<EvalCase> cases;
  SplitSequenceTails(in, 0.2, &train, &cases);
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].held_out, (std::vector<std::string>{"i", "j"}));
  EXPECT_EQ(cases[0].history.size(), 8u);
  EXPECT_EQ(cases[0].history.back().course_id, "h");
  EXPECT_EQ(train.size(), 9u);
}

TEST(SplitRandom, IsSeededAndKeepsAtLeastOneTrainingCourse) {
  std::vector<Interaction> in;
  for (int i = 0; i < 10; ++i) in.push_back({"u1", std::string(1, 'a' + i), i, 1.0f});
  in.push_back({"u2", "a", 0, 1.0f});
  in.push_back({"u2", "b", 1, 1.0f});
  std::vector<Interaction> t1, t2;
  std::vector<EvalCase> c1, c2;
  SplitRandom(in, 0.2, 7, &t1, &c1);
  SplitRandom(in, 0.2, 7, &t2, &c2);
  ASSERT_EQ(c1.size(), 2u);
  EXPECT_EQ(c1[0].held_out, c2[0].held_out);
  EXPECT_EQ(c1[0].held_out.size(), 2u);
  EXPECT_EQ(c1[1].held_out.size(), 1u);
  EXPECT_EQ(c1[1].history.size(), 1u);
}

TEST(Baselines, PopularityAndItemKnnScoreAsDefined) {
  std::vector<Interaction> train = {{"u1", "a", 0, 1}, {"u1", "b", 1, 1}, {"u2", "a", 0, 1},
                                    {"u2", "b", 1, 1}, {"u3", "c", 0, 1}, {"u3", "a", 1, 1}};
  std::vector<std::string> universe = {"a", "b", "c"};
  EvalCase c{"x", {E("a")}, {"b"}};
  EXPECT_EQ(PopularityScorer(train, universe)(c), (std::vector<float>{3, 2, 1}));
  std::vector<float> knn = ItemKnnScorer(train, universe)(c);
  EXPECT_FLOAT_EQ(knn[0], 0.0f);
  EXPECT_NEAR(knn[1], 2 / std::sqrt(3.0 * 2.0), 1e-6);
  EXPECT_NEAR(knn[2], 1 / std::sqrt(3.0 * 1.0), 1e-6);
}

}  // namespace
}  // namespace lifelong::models
