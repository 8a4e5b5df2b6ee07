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
// weights (ModelBundle::LearnerVector). Up to dense_max_items items (default
// 4096) the item vectors are M's columns and the query basis is the identity:
// served scores are M's entries rounded to float32, nothing approximated.
// Above, M is factored by a randomized range finder into rank low_rank_dim.
// Content part: hashed character n-gram TF-IDF projected to content_dim
// (text_embedding.h) for courses in the catalog dump.
#ifndef LIFELONG_MODELS_TRAINER_H_
#define LIFELONG_MODELS_TRAINER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/evaluation.h"
#include "models/interaction.h"
#include "models/interaction_file.h"
#include "models/model_bundle.h"
#include "models/text_embedding.h"
#include "nlohmann/json.hpp"

namespace lifelong::models {

// Default TrainOptions::dense_max_items: equal to the default max_items, so a
// model trained with default options on a catalog whose courses all have
// interactions scores exactly (docs/models.md "Exact up to 4,096 items").
inline constexpr int kDefaultDenseMaxItems = 4096;

struct TrainOptions {
  double recency_decay = 0.6;        // query and source decay per step back
  double target_decay = 0.85;        // weight of the u-th next course
  int source_window = 10;            // prefix length used as the source
  int target_window = 10;            // next courses used as targets
  double lambda_seq = 10.0;          // ridge of the sequence part
  double lambda_set = 50.0;          // ridge of the set (EASE) part
  double set_mix = 0.0;              // weight of the set part in [0, 1]
  double popularity_exponent = 0.1;  // column scaling exponent
  int max_items = 4096;              // most popular items kept (collaborative)
  // Identity query basis (exact item-item scores, dim = items) up to this
  // many items (collaborative + content-only); above, rank low_rank_dim.
  // Memory of a dense model: items^2 float32 (4096: 64 MiB in the model file,
  // ~3x that resident when served: arrays, flat index, ExactScorer copy).
  int dense_max_items = kDefaultDenseMaxItems;
  int low_rank_dim = 256;            // rank above dense_max_items
  int content_dim = kDefaultContentDim;
  int max_history = 50;              // distinct recent courses in a query
  uint64_t seed = 1;                 // low-rank factorisation randomness

  nlohmann::json ToJson() const;
  // Reads the fields present in `j` (as written by ToJson); INVALID_ARGUMENT
  // naming the field on a wrong type or out-of-range value.
  static absl::StatusOr<TrainOptions> FromJson(const nlohmann::json& j);
};

struct TrainStats {
  int64_t interactions_used = 0;  // positive interactions after de-duplication
  int64_t learners = 0;
  int64_t items = 0;              // rows of the model
  int64_t collaborative_items = 0;
  double seconds = 0;
  nlohmann::json ToJson() const;
};

// Trains a model. Items are the courses with positive interactions (the
// max_items most popular, ties by id), sorted by id, followed by catalog
// courses without interactions (content only). INVALID_ARGUMENT when options
// are out of range or there are no items at all.
absl::StatusOr<ModelArrays> TrainModel(const std::vector<Interaction>& interactions,
                                       const std::vector<CatalogCourse>& catalog,
                                       const TrainOptions& options, TrainStats* stats = nullptr);

// Result of choosing hyper-parameters on a validation split carved out of the
// training interactions (the last valid_fraction of each learner's sequence,
// or a seeded random part when `random_split`).
struct TuningResult {
  TrainOptions best;
  RankingMetrics best_metrics;  // validation metrics of `best`
  nlohmann::json trials;        // array of {params, metrics}
};

// Validation learners scored per trial at most (an evenly spaced sample of
// the learners with a held-out part); bounds tuning time on large data.
inline constexpr int kMaxValidationCases = 20000;

// Coordinate search over recency_decay, target_decay, popularity_exponent,
// set_mix, lambda_set and lambda_seq (two passes), maximising validation
// Recall@k + NDCG@k. Scores through ModelBundle::ScoreAll.
// `progress`, when set, is called after each trial with the number done and
// the most there can be (for progress lines with rate and ETA).
absl::StatusOr<TuningResult> TuneOnValidation(const std::vector<Interaction>& interactions,
                                              const TrainOptions& base, double valid_fraction,
                                              bool random_split, uint64_t split_seed, int k,
                                              const std::function<void(int, int)>& progress = {});

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_TRAINER_H_
