#include "models/trainer.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "models/evaluation.h"
#include "models/sparse_ease.h"
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

RankingMetrics EvaluateModel(const std::vector<Interaction>& train, const std::vector<EvalCase>& cases,
                             const TrainOptions& o, std::vector<std::string>* universe) {
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
  o.exact_max_items = 0;  // rank 60 above the dense limit, not sparse
  o.approximation = "low_rank";
  o.low_rank_dim = 60;
  RankingMetrics low = EvaluateModel(train, cases, o, &universe);
  EXPECT_GT(low.recall, exact.recall - 0.05) << low.recall << " vs " << exact.recall;
}

// The collaborative path follows the sizes: dense up to dense_max_items
// items, sparse exact up to exact_max_items collaborative items, low rank
// beyond; the sparse path is TrainSparseModel's matrix itself.
TEST(TrainModel, ChoosesDenseSparseOrLowRankBySize) {
  const std::vector<Interaction> data = Data(7);  // 120 courses
  TrainOptions o;
  TrainStats stats;
  auto dense = TrainModel(data, {}, o, &stats);
  ASSERT_TRUE(dense.ok()) << dense.status();
  EXPECT_EQ(stats.collaborative_path, "dense");
  EXPECT_FALSE(dense->sparse);
  EXPECT_LT(stats.approximation_recall_at_10, 0);  // exact: nothing to measure

  o.dense_max_items = 100;
  auto sparse = TrainModel(data, {{"extra", "书法 行书"}}, o, &stats);
  ASSERT_TRUE(sparse.ok()) << sparse.status();
  EXPECT_EQ(stats.collaborative_path, "sparse");
  ASSERT_TRUE(sparse->sparse);
  EXPECT_TRUE(sparse->identity_query);
  EXPECT_EQ(sparse->dim, 121);
  auto reference = TrainSparseModel(data, o, o.sparse_candidates, o.sparse_neighbours);
  ASSERT_TRUE(reference.ok()) << reference.status();
  ASSERT_EQ(reference->num_items(), 120);
  EXPECT_EQ(std::vector<int64_t>(sparse->sparse_row_start.begin(), sparse->sparse_row_start.begin() + 121),
            reference->row_start);
  EXPECT_EQ(sparse->sparse_row_start.back(), reference->row_start.back());  // "extra": no entries
  EXPECT_EQ(sparse->sparse_target, reference->target);
  EXPECT_EQ(sparse->sparse_weight, reference->weight);
  EXPECT_EQ(stats.sparse_entries, static_cast<int64_t>(reference->target.size()));

  // Beyond a capped exact_max_items: the same M with every row cut to its
  // pruned_neighbours largest entries (default approximation), or low rank.
  o.exact_max_items = 50;
  o.pruned_neighbours = 7;
  auto pruned = TrainModel(data, {}, o, &stats);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(stats.collaborative_path, "sparse_pruned");
  ASSERT_TRUE(pruned->sparse);
  const SparseItemModel cut = PruneRows(*reference, 7);
  EXPECT_EQ(std::vector<int64_t>(pruned->sparse_row_start.begin(), pruned->sparse_row_start.begin() + 121),
            cut.row_start);
  EXPECT_EQ(pruned->sparse_target, cut.target);
  EXPECT_EQ(pruned->sparse_weight, cut.weight);
  EXPECT_EQ(stats.sparse_entries, static_cast<int64_t>(cut.target.size()));
  EXPECT_EQ(stats.exact_entries, static_cast<int64_t>(reference->target.size()));
  EXPECT_LT(stats.sparse_entries, stats.exact_entries);
  EXPECT_GE(stats.approximation_recall_at_10, 0.0);
  EXPECT_TRUE(stats.ToJson().contains("exact_entries"));

  o.approximation = "low_rank";
  auto low = TrainModel(data, {}, o, &stats);
  ASSERT_TRUE(low.ok()) << low.status();
  EXPECT_EQ(stats.collaborative_path, "low_rank");
  EXPECT_FALSE(low->identity_query);
  EXPECT_EQ(stats.exact_entries, 0);

  // The default: no cap, so the collaborative part is exact at any size.
  EXPECT_EQ(TrainOptions().exact_max_items, std::numeric_limits<int>::max());

  TrainOptions bad;
  bad.exact_max_items = -1;
  EXPECT_EQ(TrainModel(data, {}, bad).status().message(), "options.exact_max_items: must be >= 0");
  bad = TrainOptions();
  bad.sparse_neighbours = 0;
  EXPECT_EQ(TrainModel(data, {}, bad).status().message(), "options.sparse_neighbours: must be >= 1");
  bad = TrainOptions();
  bad.approximation = "faiss";
  EXPECT_EQ(TrainModel(data, {}, bad).status().message(), "options.approximation: must be \"pruned\" or \"low_rank\"");
  bad = TrainOptions();
  bad.pruned_neighbours = 0;
  EXPECT_EQ(TrainModel(data, {}, bad).status().message(), "options.pruned_neighbours: must be >= 1");
  EXPECT_EQ(TrainOptions::FromJson({{"approximation", 3}}).status().code(), absl::StatusCode::kInvalidArgument);
  auto json = TrainOptions::FromJson(
      {{"exact_max_items", 123}, {"sparse_candidates", 7}, {"approximation", "low_rank"}, {"pruned_neighbours", 9}});
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->exact_max_items, 123);
  EXPECT_EQ(json->approximation, "low_rank");
  EXPECT_EQ(json->pruned_neighbours, 9);
  EXPECT_EQ(json->sparse_candidates, 7);
  EXPECT_EQ(TrainOptions::FromJson(json->ToJson())->ToJson(), json->ToJson());
}

// Beyond the exact limit the trainer measures the served low-rank
// approximation (LearnerVector + FAISS) against exact scoring of M on learner histories
// of the data: a full-rank factorisation finds the exact top 10, a rank-2
// one does not, so the figure measures something.
TEST(TrainModel, BeyondTheExactLimitReportsRecallAgainstExactScores) {
  const std::vector<Interaction> data = Data(8);
  TrainOptions o;
  o.dense_max_items = 50;
  o.exact_max_items = 50;
  o.approximation = "low_rank";
  TrainStats full, tiny;
  o.low_rank_dim = 120;
  ASSERT_TRUE(TrainModel(data, {}, o, &full).ok());
  o.low_rank_dim = 2;
  ASSERT_TRUE(TrainModel(data, {}, o, &tiny).ok());
  for (const TrainStats* s : {&full, &tiny}) {
    EXPECT_EQ(s->collaborative_path, "low_rank");
    EXPECT_GE(s->approximation_recall_at_10, 0.0);
    EXPECT_LE(s->approximation_recall_at_10, 1.0);
    EXPECT_GE(s->approximation_queries, 1000);
    EXPECT_TRUE(s->ToJson().contains("approximation_recall_at_10"));
  }
  EXPECT_GE(full.approximation_recall_at_10, 0.99);
  EXPECT_LT(tiny.approximation_recall_at_10, 0.9);
  std::printf("recall@10 rank 120: %.4f, rank 2: %.4f\n", full.approximation_recall_at_10,
              tiny.approximation_recall_at_10);
}

// Above dense_solve_max_items collaborative items the low-rank path
// factors the sparse M (no items^2 matrix) and measures against it; with
// full rank it finds the sparse model's exact top 10.
TEST(TrainModel, LowRankOfTheSparseMatrixBeyondTheDenseSolveLimit) {
  const std::vector<Interaction> data = Data(9);
  TrainOptions o;
  o.dense_max_items = 50;
  o.exact_max_items = 50;
  o.approximation = "low_rank";
  o.dense_solve_max_items = 60;
  TrainStats full, tiny;
  o.low_rank_dim = 120;
  auto a = TrainModel(data, {}, o, &full);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_GT(full.collaborative_items, o.dense_solve_max_items);
  EXPECT_EQ(full.collaborative_path, "low_rank");
  EXPECT_EQ(a->dim, 120);
  o.low_rank_dim = 2;
  ASSERT_TRUE(TrainModel(data, {}, o, &tiny).ok());
  EXPECT_GE(full.approximation_recall_at_10, 0.99);
  EXPECT_GE(tiny.approximation_recall_at_10, 0.0);
  EXPECT_LT(tiny.approximation_recall_at_10, 0.9);
  EXPECT_GE(tiny.approximation_queries, 1000);
  std::printf("sparse M, rank 120: recall@10 %.4f, rank 2: %.4f\n", full.approximation_recall_at_10,
              tiny.approximation_recall_at_10);
}

// Beyond a capped exact_max_items the default approximation serves M's
// rows pruned to pruned_neighbours entries, and the trainer's Recall@10 is
// that of the served bundle: recomputed here from the returned arrays
// (ModelBundle::Recommend, the served path) against TrainSparseModel's
// exact M on the same learner histories, it is the same figure. Rows kept
// whole measure 1; one entry per row measures low, so the figure is real.
TEST(TrainModel, PrunedRowsBeyondTheExactLimitReportTheServedRecall) {
  const std::vector<Interaction> data = Data(10);
  TrainOptions o;
  o.dense_max_items = 50;
  o.exact_max_items = 50;
  auto exact_m = TrainSparseModel(data, o, o.sparse_candidates, o.sparse_neighbours);
  ASSERT_TRUE(exact_m.ok()) << exact_m.status();
  auto seqs = GroupSequences(data);
  std::vector<size_t> eligible;
  for (size_t u = 0; u < seqs.size(); ++u) {
    if (seqs[u].second.size() >= 2) eligible.push_back(u);
  }
  const size_t quota = std::min<size_t>(eligible.size(), kApproximationRecallQueries);
  ASSERT_GE(quota, 1000u);
  std::map<int, double> measured;
  for (int keep : {100, 20, 1}) {
    o.pruned_neighbours = keep;
    TrainStats stats;
    auto arrays = TrainModel(data, {}, o, &stats);
    ASSERT_TRUE(arrays.ok()) << arrays.status();
    ASSERT_EQ(stats.collaborative_path, "sparse_pruned");
    ASSERT_EQ(stats.approximation_queries, static_cast<int64_t>(quota));
    auto bundle = BuildModelBundle(std::move(*arrays), nlohmann::json::object(), 1, "");
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    const ModelBundle& b = **bundle;
    ASSERT_EQ(b.index_info().kind, "sparse");
    int64_t hits = 0, total = 0;
    for (size_t x = 0; x < quota; ++x) {
      const auto& seq = seqs[eligible[x * eligible.size() / quota]].second;
      std::vector<HistoryEvent> history;
      for (size_t e = 0; e + 1 < seq.size(); ++e) history.push_back({seq[e].course_id, seq[e].weight});
      const std::vector<float> exact = exact_m->Score(b.HistoryRowWeights(history));
      std::vector<bool> excluded(exact.size(), false);
      for (const HistoryEvent& h : history) excluded[*b.Row(h.course_id)] = true;
      const std::vector<int> want = TopUnexcludedRows(exact, excluded, 10);
      const std::vector<Candidate> served = b.Recommend(history, 10);
      for (int row : want) {
        ++total;
        for (const Candidate& c : served) hits += c.row == row;
      }
    }
    const double recall = static_cast<double>(hits) / total;
    EXPECT_NEAR(stats.approximation_recall_at_10, recall, 1e-12) << "pruned to " << keep;
    measured[keep] = stats.approximation_recall_at_10;
  }
  EXPECT_EQ(measured[100], 1.0);  // no row is longer than 100: nothing pruned
  EXPECT_LT(measured[1], 0.9);
  EXPECT_LE(measured[20], 1.0);
  std::printf("pruned rows, recall@10 against exact M: 100 entries %.4f, 20: %.4f, 1: %.4f\n", measured[100],
              measured[20], measured[1]);
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

// The trainer shared by tuning trials gives the same floats as a fresh
// TrainModel for every option set, whatever it computed before (cache hits,
// evictions, set_mix 0 and 1).
TEST(ModelTrainer, EveryTrainEqualsAFreshTrainModel) {
  const std::vector<Interaction> data = Data(5);
  ModelTrainer trainer(data, {}, TrainOptions().max_items);
  std::vector<TrainOptions> sequence;
  for (double mix : {0.0, 0.5, 1.0}) {
    for (double rec : {0.6, 1.0}) {
      for (double lset : {20.0, 50.0, 200.0}) {
        TrainOptions o;
        o.set_mix = mix;
        o.recency_decay = rec;
        o.lambda_set = lset;
        o.lambda_seq = lset / 2;
        o.popularity_exponent = mix / 5;
        sequence.push_back(o);
      }
    }
  }
  sequence.push_back(sequence[0]);  // evicted by now: recomputed
  for (const TrainOptions& o : sequence) {
    auto cached = trainer.Train(o);
    auto fresh = TrainModel(data, {}, o);
    ASSERT_TRUE(cached.ok()) << cached.status();
    ASSERT_TRUE(fresh.ok()) << fresh.status();
    EXPECT_EQ(cached->course_ids, fresh->course_ids);
    ASSERT_EQ(cached->item_vectors.size(), fresh->item_vectors.size());
    EXPECT_TRUE(cached->item_vectors == fresh->item_vectors) << o.ToJson().dump();
  }
  // Fewer solves than trainings: the caches were used.
  EXPECT_LT(trainer.solves(), static_cast<int64_t>(sequence.size()));
  TrainOptions other;
  other.max_items = 7;
  EXPECT_EQ(trainer.Train(other).status().code(), absl::StatusCode::kInvalidArgument);
}

// Tuning's float32 solves stay close to the double model (they only rank
// parameter settings, but they must rank the same models).
TEST(ModelTrainer, SinglePrecisionStaysCloseToDouble) {
  const std::vector<Interaction> data = Data(8);
  for (double mix : {0.0, 0.5, 1.0}) {
    TrainOptions o;
    o.set_mix = mix;
    ModelTrainer single(data, {}, o.max_items, /*single_precision=*/true);
    auto s = single.Train(o);
    auto d = TrainModel(data, {}, o);
    ASSERT_TRUE(s.ok() && d.ok());
    ASSERT_EQ(s->item_vectors.size(), d->item_vectors.size());
    double largest = 0, worst = 0;
    for (size_t x = 0; x < d->item_vectors.size(); ++x) {
      largest = std::max(largest, std::fabs(double(d->item_vectors[x])));
      worst = std::max(worst, std::fabs(double(d->item_vectors[x]) - s->item_vectors[x]));
    }
    EXPECT_LT(worst, 1e-3 * largest) << "set_mix " << mix;
    EXPECT_FALSE(s->item_vectors == d->item_vectors) << "float32 path not taken";
  }
}

// BundleScorer's transposed scoring returns ScoreAll's floats bit for bit,
// and its multi-threaded evaluation the same figures as one thread.
TEST(BundleScorer, EqualsScoreAllBitForBitAndThreadsDoNotChangeFigures) {
  std::vector<Interaction> train;
  std::vector<EvalCase> cases;
  SplitSequenceTails(Data(6), 0.2, &train, &cases);
  TrainOptions o;
  o.set_mix = 0.3;
  auto arrays = TrainModel(train, {}, o);
  ASSERT_TRUE(arrays.ok());
  auto bundle = BuildModelBundle(std::move(*arrays), {}, 1, "");
  ASSERT_TRUE(bundle.ok());
  ASSERT_TRUE((*bundle)->identity_query());
  Scorer scorer = BundleScorer(*bundle);
  EvalCase cold;
  cold.history = {{"no-such-course", 1.0f}};
  cases.push_back(cold);
  for (const EvalCase& c : cases) {
    EXPECT_TRUE(scorer(c) == (*bundle)->ScoreAll(c.history)) << c.learner;
  }
  const auto one = EvaluateRankingAtKs(cases, (*bundle)->course_ids(), {5, 10}, scorer, {}, 1);
  const auto two = EvaluateRankingAtKs(cases, (*bundle)->course_ids(), {5, 10}, scorer, {}, 2);
  const RankingMetrics single = EvaluateRanking(cases, (*bundle)->course_ids(), 10, scorer);
  EXPECT_EQ(one[1].ToJson(), two[1].ToJson());
  EXPECT_EQ(one[0].ToJson(), two[0].ToJson());
  EXPECT_EQ(one[1].ToJson(), single.ToJson());
  EXPECT_LE(one[0].recall, one[1].recall);
}

TEST(TuneOnValidation, ChoosesParametersNoWorseThanTheStartPoint) {
  auto tuned = TuneOnValidation(Data(7), TrainOptions(), 0.2, false, 1, 10);
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  ASSERT_TRUE(tuned->trials.is_array());
  ASSERT_GT(tuned->trials.size(), 5u);
  const auto& first = tuned->trials[0]["metrics"];
  EXPECT_GE(tuned->best_metrics.recall + kTuningNdcgWeight * tuned->best_metrics.ndcg,
            first["recall"].get<double>() + kTuningNdcgWeight * first["ndcg"].get<double>());
  EXPECT_EQ(TuneOnValidation(Data(7), TrainOptions(), 1.5, false, 1, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The grid covers the target window (10 and 30 next courses) as an axis,
// trials stay within kMaxTuningTrials, and the progress callback never
// reports more than that total.
TEST(TuneOnValidation, TriesTheTargetWindowWithinTheTrialBudget) {
  std::set<int> windows;
  int most_reported = 0;
  auto tuned = TuneOnValidation(Data(7), TrainOptions(), 0.2, false, 1, 10, [&](int done, int total) {
    EXPECT_EQ(total, kMaxTuningTrials);
    most_reported = std::max(most_reported, done);
  });
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  for (const auto& t : tuned->trials) windows.insert(t["params"]["target_window"].get<int>());
  EXPECT_EQ(windows, (std::set<int>{10, 30}));
  EXPECT_LE(tuned->trials.size(), static_cast<size_t>(kMaxTuningTrials));
  EXPECT_EQ(most_reported, static_cast<int>(tuned->trials.size()));
  // A set-only model (set_mix 1) has no sequence part: its trials carry
  // the start point's window and target decay, so equivalent ones run once.
  for (const auto& t : tuned->trials) {
    if (t["params"]["set_mix"].get<double>() == 1.0) {
      EXPECT_EQ(t["params"]["target_window"].get<int>(), TrainOptions().target_window) << t.dump();
      EXPECT_EQ(t["params"]["target_decay"].get<double>(), TrainOptions().target_decay) << t.dump();
    }
  }
}

// The chosen trial is the best by validation Recall@10 + w x NDCG@10 of all
// the trials run, for the weight given; weight 0 is recall alone. A negative
// or non-finite weight is refused by name.
TEST(TuneOnValidation, ChoosesTheBestTrialByRecallPlusWeightedNdcg) {
  const std::vector<Interaction> data = Data(7);
  for (double w : {0.0, kTuningNdcgWeight, 1.0, 4.0}) {
    auto tuned = TuneOnValidation(data, TrainOptions(), 0.2, false, 1, 10, {}, kMaxValidationCases, w);
    ASSERT_TRUE(tuned.ok()) << tuned.status();
    EXPECT_EQ(tuned->objective, absl::StrCat("recall@10 + ", w, " ndcg@10"));
    const double best = tuned->best_metrics.recall + w * tuned->best_metrics.ndcg;
    for (const auto& t : tuned->trials) {
      EXPECT_LE(t["metrics"]["recall"].get<double>() + w * t["metrics"]["ndcg"].get<double>(), best + 1e-12)
          << "w " << w << ": " << t.dump();
    }
  }
  for (double bad : {-0.5, std::nan("")}) {
    auto refused = TuneOnValidation(data, TrainOptions(), 0.2, false, 1, 10, {}, kMaxValidationCases, bad);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(std::string(refused.status().message()).find("tune_ndcg_weight"), std::string::npos) << refused.status();
  }
}

// The validation sample: every learner up to the cap, an evenly spaced
// sample of at most the cap above it; a cap below 1 is refused by name.
TEST(TuneOnValidation, ValidatesOnAtMostMaxValidationLearners) {
  const std::vector<Interaction> data = Data(7);
  auto all = TuneOnValidation(data, TrainOptions(), 0.2, false, 1, 10);
  ASSERT_TRUE(all.ok()) << all.status();
  const int64_t learners = all->best_metrics.cases;
  ASSERT_GT(learners, 40);
  const int cap = static_cast<int>(learners / 4);
  auto sampled = TuneOnValidation(data, TrainOptions(), 0.2, false, 1, 10, {}, cap);
  ASSERT_TRUE(sampled.ok()) << sampled.status();
  EXPECT_LE(sampled->best_metrics.cases, cap);
  EXPECT_GE(sampled->best_metrics.cases, cap / 2);
  for (const auto& t : sampled->trials) EXPECT_LE(t["metrics"]["cases"].get<int64_t>(), cap);
  auto roomy = TuneOnValidation(data, TrainOptions(), 0.2, false, 1, 10, {}, static_cast<int>(learners));
  ASSERT_TRUE(roomy.ok()) << roomy.status();
  EXPECT_EQ(roomy->best_metrics.ToJson(), all->best_metrics.ToJson());
  auto refused = TuneOnValidation(data, TrainOptions(), 0.2, false, 1, 10, {}, 0);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(refused.status().message()).find("max_validation_learners"), std::string::npos)
      << refused.status();
}

// Learners "u0".."u<n-1>" taking 3 to 5 of the courses c1..c5 in a cycle.
std::vector<Interaction> CatalogLearners(int n) {
  std::vector<Interaction> out;
  for (int u = 0; u < n; ++u) {
    for (int j = 0; j < 3 + u % 3; ++j) out.push_back({absl::StrCat("u", u), absl::StrCat("c", (u + j) % 5 + 1), j});
  }
  return out;
}

std::vector<CatalogCourse> CatalogC1ToC5() {
  std::vector<CatalogCourse> catalog;
  for (int i = 1; i <= 5; ++i) catalog.push_back({absl::StrCat("c", i), absl::StrCat("书法 第", i, "课")});
  return catalog;
}

// A learner may record statements about any course IRI. One who recorded
// 20,000 made-up courses made every distinct one a model item (sparse above
// 4,096) and, with the set part on (the district's tuned set_mix 0.25),
// their row cost 20,000^2 Gram entries (~5 GB): training never finished.
// Courses outside the catalog dump that fewer than
// kMinLearnersOutsideCatalog learners name are left out.
TEST(TrainModel, ALearnerNamingThousandsOfCoursesOutsideTheCatalogAddsNoItems) {
  std::vector<Interaction> data = CatalogLearners(300);
  for (int i = 0; i < 20000; ++i) data.push_back({"mallory", absl::StrCat("made-up-", i), i});
  data.push_back({"mallory", "c1", 20000});
  TrainOptions o;
  o.set_mix = 0.25;
  TrainStats stats;
  auto a = TrainModel(data, CatalogC1ToC5(), o, &stats);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->course_ids, (std::vector<std::string>{"c1", "c2", "c3", "c4", "c5"}));
  EXPECT_EQ(stats.items, 5);
  EXPECT_EQ(stats.collaborative_items, 5);
  EXPECT_EQ(stats.collaborative_path, "dense");
  EXPECT_EQ(stats.learners, 301);  // mallory keeps c1, their most recent
  // 20,001 courses: cut to the most recent kMaxLearnerCourses first, then
  // the made-up ones among them left out.
  EXPECT_EQ(stats.selection.learners_capped, 1);
  EXPECT_EQ(stats.selection.capped_pairs, 20001 - kMaxLearnerCourses);
  EXPECT_EQ(stats.selection.outside_catalog_courses, kMaxLearnerCourses - 1);
  EXPECT_EQ(stats.selection.outside_catalog_pairs, kMaxLearnerCourses - 1);
  EXPECT_EQ(stats.selection.outside_catalog_kept, 0);
  EXPECT_LT(stats.seconds, 30) << "bounded work: well under a second here";
  EXPECT_EQ(stats.ToJson()["selection"]["outside_catalog_courses"], kMaxLearnerCourses - 1);
}

// Archived courses are not in the dump `lifelong train` writes, yet
// learners' histories name them: one that enough learners took keeps its
// collaborative row; without a catalog (training from files) nothing is
// left out.
TEST(TrainingSequences, KeepsCoursesOutsideTheCatalogThatEnoughLearnersTook) {
  std::vector<Interaction> data = CatalogLearners(20);
  for (int u = 0; u < kMinLearnersOutsideCatalog; ++u) data.push_back({absl::StrCat("u", u), "archived", 100});
  for (int u = 0; u < kMinLearnersOutsideCatalog - 1; ++u) data.push_back({absl::StrCat("u", u), "rare", 101});
  TrainingSelection sel;
  auto seqs = TrainingSequences(data, CatalogC1ToC5(), &sel);
  std::set<std::string> courses;
  for (const auto& [learner, seq] : seqs) {
    for (const Interaction& x : seq) courses.insert(x.course_id);
  }
  EXPECT_EQ(courses, (std::set<std::string>{"archived", "c1", "c2", "c3", "c4", "c5"}));
  EXPECT_EQ(sel.outside_catalog_kept, 1);
  EXPECT_EQ(sel.outside_catalog_courses, 1);
  EXPECT_EQ(sel.outside_catalog_pairs, kMinLearnersOutsideCatalog - 1);
  auto a = TrainModel(data, CatalogC1ToC5(), TrainOptions());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->course_ids, (std::vector<std::string>{"archived", "c1", "c2", "c3", "c4", "c5"}));
  EXPECT_EQ(a->counts[0], kMinLearnersOutsideCatalog);

  TrainingSelection none;
  courses.clear();
  for (const auto& [learner, seq] : TrainingSequences(data, {}, &none)) {
    for (const Interaction& x : seq) courses.insert(x.course_id);
  }
  EXPECT_TRUE(courses.count("rare"));
  EXPECT_EQ(none.outside_catalog_courses, 0);
}

// A learner's row holds their kMaxLearnerCourses most recent courses: the
// set part costs |row|^2, and the trainer's sparse solve refuses longer rows.
TEST(TrainingSequences, KeepsEachLearnersMostRecentCourses) {
  std::vector<Interaction> data = CatalogLearners(30);
  const int many = kMaxLearnerCourses + 200;
  for (int i = 0; i < many; ++i) data.push_back({"busy", absl::StrFormat("x%04d", i), i});
  TrainingSelection sel;
  for (const auto& [learner, seq] : TrainingSequences(data, {}, &sel)) {
    if (learner != "busy") continue;
    ASSERT_EQ(seq.size(), static_cast<size_t>(kMaxLearnerCourses));
    EXPECT_EQ(seq.front().course_id, "x0200");
    EXPECT_EQ(seq.back().course_id, absl::StrFormat("x%04d", many - 1));
  }
  EXPECT_EQ(sel.learners_capped, 1);
  EXPECT_EQ(sel.capped_pairs, 200);

  TrainStats stats;
  auto a = TrainModel(data, {}, TrainOptions(), &stats);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(stats.collaborative_items, 5 + kMaxLearnerCourses);
  EXPECT_FALSE(std::binary_search(a->course_ids.begin(), a->course_ids.end(), "x0199"));
  EXPECT_TRUE(std::binary_search(a->course_ids.begin(), a->course_ids.end(), "x0200"));
  EXPECT_EQ(stats.selection.learners_capped, 1);

  // The sparse solve's own bound, for rows that did not come from here.
  std::vector<std::vector<std::pair<int, double>>> rows(1);
  SparseItemModel m;
  m.counts.assign(many, 1);
  for (int i = 0; i < many; ++i) rows[0].push_back({i, 1.0});
  TrainOptions o;
  o.set_mix = 0.25;
  absl::Status s = TrainSparseModelOnRows(rows, o, 10, 10, &m);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("rows[0]"), std::string::npos) << s;
}

// Tuning and the figures see what the model learns from: the selection is
// the interactions of the kept (learner, course) pairs, in input order, and
// selecting again changes nothing.
TEST(SelectTrainingInteractions, KeepsInputOrderAndIsIdempotent) {
  std::vector<Interaction> data = CatalogLearners(10);
  data.push_back({"u1", "c1", 50, 0.5f});  // a repeat: kept with its pair
  data.push_back({"u2", "c2", 51, 0.0f});  // not a positive signal
  for (int i = 0; i < 3; ++i) data.push_back({"mallory", absl::StrCat("made-up-", i), i});
  for (int i = 0; i < kMaxLearnerCourses + 5; ++i) data.push_back({"busy", absl::StrCat("c", i % 5 + 1, "-", i), i});
  for (int u = 0; u < kMinLearnersOutsideCatalog; ++u) data.push_back({absl::StrCat("u", u), "archived", 99});
  TrainingSelection sel;
  const std::vector<Interaction> once = SelectTrainingInteractions(data, CatalogC1ToC5(), &sel);
  EXPECT_EQ(sel.outside_catalog_courses, 3 + kMaxLearnerCourses);  // mallory's and busy's kept ones
  EXPECT_EQ(sel.learners_capped, 1);
  std::vector<Interaction> expected;
  for (const Interaction& x : data) {
    if (x.learner.rfind("u", 0) == 0 && x.weight > 0) expected.push_back(x);
  }
  ASSERT_EQ(once.size(), expected.size());
  for (size_t i = 0; i < once.size(); ++i) {
    EXPECT_EQ(once[i].learner, expected[i].learner);
    EXPECT_EQ(once[i].course_id, expected[i].course_id);
    EXPECT_EQ(once[i].order, expected[i].order);
  }
  TrainingSelection again;
  const std::vector<Interaction> twice = SelectTrainingInteractions(once, CatalogC1ToC5(), &again);
  EXPECT_EQ(twice.size(), once.size());
  EXPECT_EQ(again.learners_capped, 0);
  EXPECT_EQ(again.outside_catalog_courses, 0);
  EXPECT_EQ(again.outside_catalog_kept, 1);  // "archived", kept again
}

}  // namespace
}  // namespace lifelong::models
