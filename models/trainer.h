// Trains the recommender model from interactions (and optional course text).
//
// Collaborative part: a closed-form linear item-item model over the ORDER of
// each learner's courses (SLIST-style, docs/models.md):
//   * sequence part ("what comes next"): for every position t of a learner's
//     sequence, the source is the recency-decayed prefix
//     sum_{s<t} w_s * decay^(t-1-s) e_{item_s} (last source_window items,
//     L2-normalised) and the target the next target_window items weighted
//     target_decay^(u-t); B_seq = (S'S + lambda_seq I)^-1 S'T (ridge).
//   * set part (EASE): B_set = I - P diag(1/diag P), P = (X'X + lambda_set I)^-1,
//     zero diagonal.
//   * M = set_mix * B_set + (1 - set_mix) * B_seq, columns scaled by
//     (learners(j) + 1)^-popularity_exponent.
// Serving: score(j) = q' M[:, j] with q the same decayed, normalised history
// weights (ModelBundle::LearnerVector). Paths, by size:
//   * up to dense_max_items items (default 4096): the item vectors are M's
//     columns and the query basis is the identity: served scores are M's
//     entries rounded to float32, nothing approximated;
//   * above, up to exact_max_items collaborative items (default: no limit):
//     M is trained sparse (sparse_ease.h TrainSparseModel: every ridge
//     regression restricted to sparse_candidates predictors, each history
//     row cut to its sparse_neighbours largest entries) and served exactly
//     from its CSR rows (a "sparse" bundle, model_bundle.h);
//   * beyond a cap an operator sets (approximation "pruned", the default):
//     the same sparse M with every row cut further to its pruned_neighbours
//     largest entries, served from its rows like the exact one;
//     (approximation "low_rank"): M (dense when it fits, else the sparse M)
//     factored by a randomized range finder into rank low_rank_dim and
//     searched through FAISS. On both approximations TrainStats reports the
//     Recall@10 of the served model against exact scoring of M on real
//     learner histories of the training data.
// Content part: hashed character n-gram TF-IDF projected to content_dim
// (text_embedding.h) for courses in the catalog dump.
#ifndef LIFELONG_MODELS_TRAINER_H_
#define LIFELONG_MODELS_TRAINER_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "models/evaluation.h"
#include "models/interaction.h"
#include "models/interaction_file.h"
#include "models/model_bundle.h"
#include "models/text_embedding.h"
#include "nlohmann/json.hpp"

namespace lifelong::models {

// Default TrainOptions::dense_max_items: models of up to this many items
// store M dense (identity basis, docs/models.md "Exact item-item scores");
// larger ones store it sparse, also exact.
inline constexpr int kDefaultDenseMaxItems = 4096;

// Default TrainOptions::max_items: no limit, every course with learners gets
// collaborative scores (exact, below). Measured on the 100,000-course
// simulated district (78,313 courses with learners, tail split, 21,429
// residents): the collaborative scores reach HR@10 .4597 with every course
// against .3813 with the 20,000 most popular (the default until then), for
// 14.2 against 4.9 CPU-seconds of training and 11 MiB of rows
// (`bench_train --catalog_courses=100000 --compare_max_items=20000,100000`,
// docs/models.md "Large catalogs").
inline constexpr int kDefaultMaxItems = std::numeric_limits<int>::max();

// Default TrainOptions::exact_max_items: no limit. The sparse exact model
// costs less than either approximation at every size measured (20,000 to
// 300,000 courses: training time, memory, scoring work; docs/models.md
// "Large catalogs"), so the collaborative part of every model the trainer
// produces is exact unless an operator caps it.
inline constexpr int kDefaultExactMaxItems = std::numeric_limits<int>::max();

// Default TrainOptions::pruned_neighbours: beyond a capped exact_max_items,
// entries kept per row of the sparse M (of sparse_neighbours = 100). The
// smallest value measured whose Recall@10 against the exact M reached
// >= 0.99 on 1,000 residents' histories of the 100,000-course simulated
// district: 70 entries 0.9894, 80 entries 0.9931 (94.7% of M's entries),
// `bench_train --catalog_courses=100000 --prune_sweep=...`, docs/models.md
// "Beyond the exact limit".
inline constexpr int kDefaultPrunedNeighbours = 80;

// Default TrainOptions::dense_solve_max_items: above this many
// collaborative items the low-rank path factors the sparse M instead of
// building the dense one (8,192 dense: 36 s and 2.5 GB peak
// here, docs/models.md "Why the dense trainer stops").
inline constexpr int kDenseSolveMaxItems = 8192;

// Learner histories (evenly spaced over the training learners) on which the
// trainer measures the low-rank approximation's Recall@10 against exact M.
inline constexpr int kApproximationRecallQueries = 1000;

// What the trainer learns from is bounded before anything is built
// (TrainingSequences, docs/models.md "What the trainer learns from"):
// learners write their own records and may name any course IRI, and the
// set part costs |row|^2 per learner (X'X) while every distinct course
// becomes a model item. One learner who recorded 20,000 made-up courses
// made the model sparse at 20,005 items and its set part 400M Gram entries
// (~5 GB): training never finished, and the model trained before it (maybe
// before an erasure) kept serving.

// Most distinct courses the trainer keeps of one learner: the most recent
// ones. The recommender reads a learner's newest 1,000 statements
// (RecommendServerOptions::history_limit), so no served history names more
// courses than this; a row of 1,000 costs at most 10^6 Gram updates (~1 ms).
// The simulated district's learners take 8 courses on average.
inline constexpr int kMaxLearnerCourses = 1000;

// A course missing from a non-empty catalog dump is kept only when at least
// this many learners have it (after the cut to kMaxLearnerCourses). The dump
// `lifelong train` writes holds the courses that are not archived, and a
// course is archived when its term ends (docs/recommend.md "Archived
// courses"), so learners' histories legitimately name many courses outside
// it; those keep their collaborative rows. A course that only one or two
// learners took co-occurs with nothing beyond their own rows (its Gram
// diagonal is at most 2 against a ridge of 10-200, so its weights are near
// zero anyway), and a made-up one needs that many accounts: k accounts add
// at most k * kMaxLearnerCourses / 3 such items.
inline constexpr int kMinLearnersOutsideCatalog = 3;

// What TrainingSequences left out.
struct TrainingSelection {
  int64_t learners_capped = 0;  // learners cut to kMaxLearnerCourses courses
  int64_t capped_pairs = 0;     // (learner, course) pairs cut that way
  // Courses outside the catalog dump with fewer than
  // kMinLearnersOutsideCatalog learners, and their (learner, course) pairs.
  int64_t outside_catalog_courses = 0;
  int64_t outside_catalog_pairs = 0;
  // Courses outside the catalog dump kept (enough learners: archived ones).
  int64_t outside_catalog_kept = 0;
  nlohmann::json ToJson() const;
};

// The learner sequences the trainer learns from: GroupSequences (each
// course once per learner, at its most recent position, with its largest
// weight; oldest first), then
//   1. each sequence cut to its kMaxLearnerCourses most recent courses;
//   2. when `catalog` is not empty, courses not in it dropped unless at least
//      kMinLearnersOutsideCatalog learners have them (counted after 1);
// learners left without a course are dropped. Without a catalog (training
// from files) step 2 keeps everything. Fills `selection` when not null.
// Thread-safe (pure).
std::vector<std::pair<std::string, std::vector<Interaction>>> TrainingSequences(
    const std::vector<Interaction>& interactions, const std::vector<CatalogCourse>& catalog,
    TrainingSelection* selection = nullptr);

// The interactions on the (learner, course) pairs TrainingSequences keeps,
// positive weights only, in input order: what tuning and the evaluation
// figures should see (`train` selects once, before TuneOnValidation, which
// has no catalog). Selecting again changes nothing.
std::vector<Interaction> SelectTrainingInteractions(const std::vector<Interaction>& interactions,
                                                    const std::vector<CatalogCourse>& catalog,
                                                    TrainingSelection* selection = nullptr);

struct TrainOptions {
  double recency_decay = 0.6;        // query and source decay per step back
  double target_decay = 0.85;        // weight of the u-th next course
  int source_window = 10;            // prefix length used as the source
  int target_window = 10;            // next courses used as targets
  double lambda_seq = 10.0;          // ridge of the sequence part
  double lambda_set = 50.0;          // ridge of the set (EASE) part
  double set_mix = 0.0;              // weight of the set part in [0, 1]
  double popularity_exponent = 0.1;  // column scaling exponent
  int max_items = kDefaultMaxItems;  // most popular items kept (collaborative)
  // Identity query basis (exact item-item scores, dim = items) up to this
  // many items (collaborative + content-only); above, rank low_rank_dim.
  // Memory of a dense model: items^2 float32 (4096: 64 MiB in the model file,
  // ~3x that resident when served: arrays, flat index, ExactScorer copy).
  int dense_max_items = kDefaultDenseMaxItems;
  // Above dense_max_items: a sparse exact M up to this many collaborative
  // items (default: no limit), `approximation` beyond.
  int exact_max_items = kDefaultExactMaxItems;
  // Beyond exact_max_items: "pruned" (the sparse M with each row cut to
  // pruned_neighbours entries, served from its rows) or "low_rank" (rank
  // low_rank_dim + FAISS; exact_max_items 0 with "low_rank" is the
  // behaviour before sparse bundles).
  std::string approximation = "pruned";
  int pruned_neighbours = kDefaultPrunedNeighbours;
  // The low-rank approximation factors the dense M up to this many
  // collaborative items and the sparse M above (no items^2 matrix).
  int dense_solve_max_items = kDenseSolveMaxItems;
  int sparse_candidates = 100;  // predictors per target item (sparse M)
  int sparse_neighbours = 100;  // entries kept per history row (sparse M)
  int low_rank_dim = 256;       // rank of the "low_rank" approximation
  int content_dim = kDefaultContentDim;
  int max_history = 50;  // distinct recent courses in a query
  uint64_t seed = 1;     // low-rank factorisation randomness

  nlohmann::json ToJson() const;
  // Reads the fields present in `j` (as written by ToJson); INVALID_ARGUMENT
  // naming the field on a wrong type or out-of-range value.
  static absl::StatusOr<TrainOptions> FromJson(const nlohmann::json& j);
};

struct TrainStats {
  int64_t interactions_used = 0;  // positive interactions after de-duplication
  int64_t learners = 0;
  int64_t items = 0;  // rows of the model
  int64_t collaborative_items = 0;
  double seconds = 0;
  // "dense" (identity basis), "sparse" (exact CSR), "sparse_pruned" (rows
  // of M cut to pruned_neighbours, CSR) or "low_rank".
  std::string collaborative_path;
  int64_t sparse_entries = 0;  // entries of the served CSR rows (sparse bundles)
  int64_t exact_entries = 0;   // entries of the exact M ("sparse_pruned")
  // Approximations only: Recall@10 of the served model (the bundle the
  // loader builds: pruned rows scanned exactly, or LearnerVector + FAISS)
  // against exact scoring of M, on
  // approximation_queries real learner histories of the training data (each
  // learner's sequence without its last course; history courses excluded
  // from both lists). -1 when not measured.
  double approximation_recall_at_10 = -1;
  int64_t approximation_queries = 0;
  // What TrainingSequences left out of the interactions given.
  TrainingSelection selection;
  nlohmann::json ToJson() const;
};

// Trains a model. Items are the courses of TrainingSequences(interactions,
// catalog) (the max_items most popular, ties by id), sorted by id, followed
// by catalog courses without interactions (content only). INVALID_ARGUMENT
// when options are out of range or there are no items at all.
absl::StatusOr<ModelArrays> TrainModel(const std::vector<Interaction>& interactions,
                                       const std::vector<CatalogCourse>& catalog, const TrainOptions& options,
                                       TrainStats* stats = nullptr);

// Trains many models on the same interactions and catalog, sharing what
// does not depend on the parameter that changed (tuning trains ~30):
//   * the vocabulary and learner rows (built once, for `max_items`, from
//     TrainingSequences(interactions, catalog));
//   * the Gram matrix X'X of the set part (built once) and its inverse
//     P = (X'X + lambda_set I)^-1 per lambda_set (last kSetCacheCapacity);
//   * the sequence part's solution per (recency_decay, target_decay,
//     lambda_seq, source_window, target_window) (last kSeqCacheCapacity).
// So trials that change only set_mix or popularity_exponent cost the
// assembly of M, and a set_mix of 0 (1) never builds the set (sequence)
// part. Train(o) returns exactly what TrainModel(interactions, catalog, o)
// returns (the same floats; trainer_test checks it), unless
// `single_precision`: then the dense solves run in float32 (about twice as
// fast here; scores differ in the 3rd-4th digit), which tuning uses because
// its models only rank parameter settings; the final model is trained in
// double. Memory: the caches hold
// up to 1 + kSetCacheCapacity + kSeqCacheCapacity matrices of
// collaborative_items()^2 doubles (3,300 items: 87 MB each).
// Not thread-safe (one tuning loop owns it).
class ModelTrainer {
 public:
  static constexpr size_t kSetCacheCapacity = 3;
  static constexpr size_t kSeqCacheCapacity = 4;

  ModelTrainer(const std::vector<Interaction>& interactions, const std::vector<CatalogCourse>& catalog, int max_items,
               bool single_precision = false);
  ~ModelTrainer();
  ModelTrainer(const ModelTrainer&) = delete;
  ModelTrainer& operator=(const ModelTrainer&) = delete;

  // INVALID_ARGUMENT naming the field for bad options, and for
  // options.max_items other than the constructor's; INTERNAL when a solve
  // fails.
  absl::StatusOr<ModelArrays> Train(const TrainOptions& options, TrainStats* stats = nullptr);

  int collaborative_items() const { return nc_; }
  // Dense factorisations done so far (cache misses), for benchmarks.
  int64_t solves() const { return solves_; }

 private:
  using Matrix = std::shared_ptr<const std::vector<double>>;
  template <typename Key>
  using Cache = std::vector<std::pair<Key, Matrix>>;
  struct SeqKey {
    double recency_decay, target_decay, lambda_seq;
    int source_window, target_window;
    bool operator==(const SeqKey& o) const {
      return recency_decay == o.recency_decay && target_decay == o.target_decay && lambda_seq == o.lambda_seq &&
             source_window == o.source_window && target_window == o.target_window;
    }
  };
  template <typename Key>
  static Matrix Lookup(Cache<Key>* cache, const Key& key);
  template <typename Key>
  static void Remember(Cache<Key>* cache, const Key& key, Matrix value, size_t capacity);

  // P = (X'X + lambda I)^-1, both triangles, row-major.
  absl::StatusOr<Matrix> SetInverse(double lambda);
  // B_seq in the mt layout (element j * nc + i = B[i][j]).
  absl::StatusOr<Matrix> SequenceSolution(const TrainOptions& o);

  // Exact scores of M for a query of (row, weight) pairs, into acc (one
  // entry per item, zeroed by the caller).
  using ExactScores = std::function<void(const std::vector<std::pair<int, double>>&, std::vector<double>*)>;
  // Fills stats->approximation_*: Recall@10 of the bundle built from `a`
  // (what ModelBundle::Recommend serves: LearnerVector + SearchBatch, i.e.
  // the pruned rows scanned exactly or the FAISS search) against `exact` on up to
  // kApproximationRecallQueries learners of rows_ (each without its last
  // course; history courses excluded from both top-10 lists).
  absl::Status MeasureApproximationRecall(const ModelArrays& a, const ExactScores& exact, TrainStats* stats) const;

  const int max_items_;
  const bool single_precision_;
  const std::vector<CatalogCourse> catalog_;
  ModelArrays vocabulary_;  // course_ids, counts, completions only
  absl::flat_hash_map<std::string, int> row_of_;
  TrainingSelection selection_;
  int nc_ = 0;
  std::vector<std::vector<std::pair<int, double>>> rows_;
  int64_t used_ = 0;
  std::vector<double> gram_;  // X'X, empty until the set part is first needed
  Cache<double> set_cache_;
  Cache<SeqKey> seq_cache_;
  int64_t solves_ = 0;
};

// Result of choosing hyper-parameters on a validation split carved out of the
// training interactions (the last valid_fraction of each learner's sequence,
// or a seeded random part when `random_split`).
struct TuningResult {
  TrainOptions best;
  RankingMetrics best_metrics;  // validation metrics of `best`
  nlohmann::json trials;        // array of {params, metrics}
  int64_t solves = 0;           // dense factorisations done (ModelTrainer)
  int64_t items = 0;            // collaborative items of the trials
  std::string objective;        // what was maximised, e.g. "recall@10 + 0.5 ndcg@10"
};

// Threads scoring validation learners in TuneOnValidation (the machines
// this runs on have 2 cores).
inline constexpr int kTuningThreads = 2;

// Tuning runs the dense trainer on at most this many of the most popular
// courses (larger vocabularies are trained sparse, whose trials would each
// cost a full sparse solve); the final model keeps TrainOptions::max_items.
inline constexpr int kTuningMaxItems = kDefaultDenseMaxItems;

// Validation learners scored per trial at most by default (an evenly spaced
// sample of the learners with a held-out part); bounds tuning time on large
// data. On the 50,000-learner simulated district this sample cost up to 1
// point of test HR@10 against 25,000 or all learners (docs/models.md, "Served
// = offline…"); `train` and `evaluate` take --max_validation_learners.
inline constexpr int kMaxValidationCases = 10000;

// Most trials TuneOnValidation runs: the base, 25 grid values (pass 1) and
// at most 2 neighbours on each of 7 axes (pass 2).
inline constexpr int kMaxTuningTrials = 40;

// Tuning maximises validation Recall@k + kTuningNdcgWeight x NDCG@k. The
// district's targets are hit rates (HR@10 = Recall@10 leave-last-out); with
// weight 1 the tuner traded a point of HR@10 for NDCG on both simulated
// districts (below plain EASE there), with 0.5 it gains that point back for
// 0.8 of NDCG, and CNPC and MOOCCube choose the same parameters with either
// (docs/models.md, "The tuning objective").
inline constexpr double kTuningNdcgWeight = 0.5;

// Tuning's trials allocate, fill and free the same large matrices (n x n
// doubles and floats: 87 and 44 MB at 3,300 courses) dozens of times. glibc
// serves blocks above its mmap threshold (at most 32 MB by default) with
// fresh mappings, so every trial paid first-touch page faults on all of them:
// 40% of tuning's CPU on these virtual machines (docs/models.md, "Tuning +
// training time"). With the threshold and the trim threshold at 1 GiB they
// come from the heap and a freed block is reused by the next trial. Process-
// wide: call once at the start of main in binaries that train (train,
// evaluate, bench_train). Freed memory stays with the process until it exits.
void KeepLargeAllocationsInTheHeap();

// Trials use max_items = min(base.max_items, kTuningMaxItems); the
// returned `best` has base.max_items again.
// Coordinate search over recency_decay, target_decay, popularity_exponent,
// set_mix, lambda_set, lambda_seq and target_window, maximising validation Recall@k +
// ndcg_weight x NDCG@k: pass 1 tries every grid value of each axis in turn, pass 2 the
// grid neighbours of each chosen value. One ModelTrainer in float32 serves
// all trials (shared Gram matrix and solves; trials that differ only in
// set_mix or popularity_exponent cost no solve); at most
// `max_validation_cases` validation learners (an evenly spaced sample), scored
// exactly as ModelBundle::ScoreAll on kTuningThreads threads.
// `progress`, when set, is called after each trial with the number done and
// the most there can be (for progress lines with rate and ETA).
// INVALID_ARGUMENT: valid_fraction outside (0, 1), max_validation_cases < 1,
// ndcg_weight negative or not finite, no learner with >= 2 courses.
absl::StatusOr<TuningResult> TuneOnValidation(const std::vector<Interaction>& interactions, const TrainOptions& base,
                                              double valid_fraction, bool random_split, uint64_t split_seed, int k,
                                              const std::function<void(int, int)>& progress = {},
                                              int max_validation_cases = kMaxValidationCases,
                                              double ndcg_weight = kTuningNdcgWeight);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_TRAINER_H_
