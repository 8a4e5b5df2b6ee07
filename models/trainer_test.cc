#include "models/trainer.h"

#include <cstdio>

#include "gtest/gtest.h"
#include "models/evaluation.h"
#include "models/synthetic.h"

namespace lifelong::models {
namespace {

std::vector<Interaction> Data(uint64_t seed) {
  SyntheticOptions so;
  so.learners = 1500;
  so.items = 120;
  so.tracks = 6;
  so.mean_length = 7;
  so.noise = 0.25;
  so.seed = seed;
  return GenerateSyntheticInteractions(so);
}

RankingMetrics EvaluateModel(const std::vector<Interaction>& train,
                             const std::vector<EvalCase>& cases, const TrainOptions& o,
                             std::vector<std::string>* universe) {
  auto arrays = TrainModel(train, {}, o);
  EXPECT_TRUE(arrays.ok()) << arrays.status();
  auto bundle = BuildModelBundle(std::move(*arrays), {}, 1, "");
  EXPECT_TRUE(bundle.ok());
  *universe = (*bundle)->course_ids();
  return EvaluateRanking(cases, *universe, 10, BundleScorer(*bundle));
}

TEST(TrainModel, BeatsPopularityAndItemKnnOnSequentialData) {
  std::vector<Interaction> train;
  std::vector<EvalCase> cases;
  SplitSequenceTails(Data(3), 0.2, &train, &cases);
  ASSERT_GT(cases.size(), 1000u);
  std::vector<std::string> universe;
  RankingMetrics model = EvaluateModel(train, cases, TrainOptions(), &universe);
  RankingMetrics pop = EvaluateRanking(cases, universe, 10, PopularityScorer(train, universe));
  RankingMetrics knn = EvaluateRanking(cases, universe, 10, ItemKnnScorer(train, universe));
  EXPECT_GT(model.recall, pop.recall + 0.2) << model.recall << " vs " << pop.recall;
  EXPECT_GT(model.ndcg, pop.ndcg + 0.1);
  EXPECT_GT(model.recall, knn.recall) << model.recall << " vs " << knn.recall;
  std::printf("model %.4f popularity %.4f item-knn %.4f\n", model.recall, pop.recall, knn.recall);
}

TEST(TrainModel, LowRankModelStaysCloseToExactModel) {
  std::vector<Interaction> train;
  std::vector<EvalCase> cases;
  SplitSequenceTails(Data(4), 0.2, &train, &cases);
  std::vector<std::string> universe;
  RankingMetrics exact = EvaluateModel(train, cases, TrainOptions(), &universe);
  TrainOptions o;
  o.dense_max_items = 50;
  o.low_rank_dim = 60;
  RankingMetrics low = EvaluateModel(train, cases, o, &universe);
  EXPECT_GT(low.recall, exact.recall - 0.05) << low.recall << " vs " << exact.recall;
}

TEST(TrainModel, IsDeterministicAndSortsItemsById) {
  auto a = TrainModel(Data(5), {}, TrainOptions());
  auto b = TrainModel(Data(5), {}, TrainOptions());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->item_vectors, b->item_vectors);
  EXPECT_TRUE(std::is_sorted(a->course_ids.begin(), a->course_ids.end()));
  EXPECT_TRUE(a->identity_query);
  EXPECT_EQ(a->dim, static_cast<int>(a->course_ids.size()));
}

TEST(TrainModel, KeepsTheMostPopularItemsAndAddsCatalogOnlyCourses) {
  TrainOptions o;
  o.max_items = 10;
  auto a = TrainModel(Data(6), {{"new", "全新课程 书法"}}, o);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->course_ids.size(), 11u);
  EXPECT_EQ(a->course_ids.back(), "new");
  EXPECT_EQ(a->counts.back(), 0);
  EXPECT_EQ(a->idf.size(), static_cast<size_t>(kTextHashBuckets));
}

TEST(TrainModel, RejectsBadOptionsNamingTheField) {
  TrainOptions o;
  o.recency_decay = 0;
  auto a = TrainModel(Data(1), {}, o);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.status().message(), "options.recency_decay: must be in (0, 1]");
  auto empty = TrainModel({}, {}, TrainOptions());
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TrainOptions, JsonRoundTripAndValidation) {
  TrainOptions o;
  o.set_mix = 0.25;
  o.lambda_seq = 77;
  auto back = TrainOptions::FromJson(o.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->ToJson(), o.ToJson());
  auto bad = TrainOptions::FromJson({{"set_mix", 3.0}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  auto wrong_type = TrainOptions::FromJson({{"max_items", "many"}});
  EXPECT_EQ(wrong_type.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TuneOnValidation, ChoosesParametersNoWorseThanTheStartPoint) {
  auto tuned = TuneOnValidation(Data(7), TrainOptions(), 0.2, false, 1, 10);
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  ASSERT_TRUE(tuned->trials.is_array());
  ASSERT_GT(tuned->trials.size(), 5u);
  const auto& first = tuned->trials[0]["metrics"];
  EXPECT_GE(tuned->best_metrics.recall + tuned->best_metrics.ndcg,
            first["recall"].get<double>() + first["ndcg"].get<double>());
  EXPECT_EQ(TuneOnValidation(Data(7), TrainOptions(), 1.5, false, 1, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lifelong::models
