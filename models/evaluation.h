// Offline ranking evaluation: held-out splits, Recall/NDCG/HR/precision@K and
// catalog coverage, and the popularity and item-kNN baselines. The model is
// scored through ModelBundle::ScoreAll, the code that serves requests.
//
// Protocol: for every case (a learner with at least one held-out course) all
// items of the ranked universe are scored, the learner's history courses are
// excluded, the top K are compared with the held-out set:
//   Recall@K = hits / |held-out|, HR@K = [hits > 0], Precision@K = hits / K,
//   NDCG@K = DCG / IDCG with binary gains, IDCG over min(|held-out|, K);
// all averaged over cases. Coverage@K = distinct items recommended in any
// top K / universe size. Held-out courses outside the universe count as misses.
#ifndef LIFELONG_MODELS_EVALUATION_H_
#define LIFELONG_MODELS_EVALUATION_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/interaction.h"
#include "models/model_bundle.h"
#include "nlohmann/json.hpp"

namespace lifelong::models {

// One learner to evaluate: the known history (oldest first) and the courses
// to be predicted.
struct EvalCase {
  std::string learner;
  std::vector<HistoryEvent> history;
  std::vector<std::string> held_out;  // distinct
};

struct RankingMetrics {
  int k = 10;
  int64_t cases = 0;
  double recall = 0, ndcg = 0, hit_rate = 0, precision = 0, coverage = 0;
  nlohmann::json ToJson() const;
};

// Temporal split: for each learner with >= 2 courses, the last
// max(1, round(fraction * n)) courses are held out. Returns the remaining
// interactions in `train` and one EvalCase per learner with a held-out part.
void SplitSequenceTails(const std::vector<Interaction>& interactions, double fraction, std::vector<Interaction>* train,
                        std::vector<EvalCase>* cases);

// Random split for data without order: for each learner with >= 2 courses,
// max(1, round(fraction * n)) courses chosen by a generator seeded with
// `seed` are held out.
void SplitRandom(const std::vector<Interaction>& interactions, double fraction, uint64_t seed,
                 std::vector<Interaction>* train, std::vector<EvalCase>* cases);

// Cases for a fixed train/test pair: history = the learner's train
// interactions (ordered as GroupSequences), held-out = the learner's distinct
// test courses. Learners without test courses are skipped.
std::vector<EvalCase> CasesFromTrainTest(const std::vector<Interaction>& train, const std::vector<Interaction>& test);

// Scores of every universe item for a case (universe order).
using Scorer = std::function<std::vector<float>(const EvalCase&)>;

// The protocol's ranking: the rows of the `k` highest `scores` among the rows
// of `exclude` (one entry per ranked row) not marked in it (the learner's
// history), best first, ties to the lower row. Shared by the evaluator and the live replay (models/replay).
std::vector<int> TopUnexcludedRows(const std::vector<float>& scores, const std::vector<bool>& exclude, int k);

// Evaluates `scorer` on `cases` over `universe` (course ids). Thread-safe if
// the scorer is. `progress`, when set, is called with the number of cases done
// after each case (for progress lines with rate and ETA).
RankingMetrics EvaluateRanking(const std::vector<EvalCase>& cases, const std::vector<std::string>& universe, int k,
                               const Scorer& scorer, const std::function<void(int64_t)>& progress = {});

// Identity-basis bundles up to this many items are scored by BundleScorer
// from a transposed copy of M (n^2 float32: 64 MiB at 4,096).
inline constexpr int kBundleScorerTransposeMaxItems = 8192;

// EvaluateRanking at several cut-offs in one pass (each case scored once),
// on `threads` threads (the scorer must then be thread-safe). The figures do
// not depend on `threads` (per-case values are summed in case order).
// `progress` is called from one thread with an approximate count done.
std::vector<RankingMetrics> EvaluateRankingAtKs(const std::vector<EvalCase>& cases,
                                                const std::vector<std::string>& universe, const std::vector<int>& ks,
                                                const Scorer& scorer, const std::function<void(int64_t)>& progress = {},
                                                int threads = 1);

// `rankings` score vectors of one case, computed together.
using MultiScorer = std::function<std::vector<std::vector<float>>(const EvalCase&)>;

// EvaluateRankingAtKs for `rankings` scorings of every case that share work
// (e.g. a blend at several weights of two scorers evaluated once per case):
// `scorer` returns exactly `rankings` vectors; the result holds rankings x
// |ks| metrics, element v * |ks| + i for scoring v at ks[i]. Each is what
// EvaluateRankingAtKs gives for the scorer returning only scoring v.
std::vector<RankingMetrics> EvaluateRankingsAtKs(const std::vector<EvalCase>& cases,
                                                 const std::vector<std::string>& universe, const std::vector<int>& ks,
                                                 int rankings, const MultiScorer& scorer,
                                                 const std::function<void(int64_t)>& progress = {}, int threads = 1);

// Scorer giving exactly bundle->ScoreAll's floats (universe =
// bundle->course_ids()). Identity-basis bundles up to
// kBundleScorerTransposeMaxItems items are scored from a transposed copy
// made here (ScoreAll's column reads are memory-bound); the floats are
// identical (same double accumulation order, ModelBundle::HistoryRowWeights).
Scorer BundleScorer(std::shared_ptr<const ModelBundle> bundle);

// Baseline: distinct-learner counts in `train`.
Scorer PopularityScorer(const std::vector<Interaction>& train, const std::vector<std::string>& universe);

// Largest universe the item-kNN baseline is computed for: it holds the
// universe^2 float32 similarity matrix (8,192: 256 MiB). The binaries skip
// the baseline above it (a 20,000-course sparse model would need 1.6 GB).
inline constexpr size_t kItemKnnMaxItems = 8192;

// Baseline: item-kNN, score(j) = sum over history items i of
// cosine(i, j) on the binary learner x item matrix of `train`.
Scorer ItemKnnScorer(const std::vector<Interaction>& train, const std::vector<std::string>& universe);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_EVALUATION_H_
