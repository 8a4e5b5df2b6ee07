// The served ranking recomputed offline: what the recommender does to the
// model's scores, as a Scorer for models/evaluation.h, so that the evaluator
// reports the pure model and the served ranking side by side, and the replay
// (models/replay) attributes a live/offline gap exactly.
// Thread-safe (pure; the scorer is safe to call concurrently).
#ifndef LIFELONG_MODELS_SERVED_RANKING_H_
#define LIFELONG_MODELS_SERVED_RANKING_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "models/evaluation.h"
#include "models/model_bundle.h"
#include "models/served_blend.h"

namespace lifelong::models {

// What services/recommend/recommender.cc does to the model's scores for a
// warm learner with no filter, no interests, no location and no
// prerequisites (Recommender::Recommend, "Features and scores"):
//   score = weights.cf * max(0, cf) / max_cf + weights.popularity * Popularity
//           + weights.completion * CompletionRate   (+ constant terms)
// with cf = ModelBundle::ScoreAll, max_cf over the courses not in the
// history; cold learners: popularity * (weights.cold_popularity +
// weights.cold_pop_completion * CompletionRate). Then the diversity rule of
// services/recommend/diversity.cc: at most max(2, ceil(0.4 k)) per category,
// refilled in rank order without the cap when that leaves fewer than k
// (series are assumed distinct, as MakeCatalogCourses makes them).
// Courses the model knows only by content (no training interactions) score
// 0 here, while the service scores catalog courses it does not know by
// content: recomputation and service agree when every catalog course has
// training interactions (CNPC: all 238 do).
// The weights are the service's own: models::ServedBlend
// (models/served_blend.h), the struct Recommender::Options::blend holds, so
// a change of the served weights changes this recomputation with it.
struct ServedRankingOptions {
  ServedBlend weights;                                     // the served weights (defaults = the service's)
  bool blend = true;                                       // false: model scores only (then = BundleScorer + caps)
  bool category_cap = true;                                // false: no per-category cap (ablation)
  absl::flat_hash_map<std::string, std::string> category;  // course -> category; absent = ""
};

// Scorer giving the served ranking's top k the top scores (the rest keep
// their blended scores, below them). Universe = bundle->course_ids().
Scorer ServedRankingScorer(std::shared_ptr<const ModelBundle> bundle, ServedRankingOptions options, int k);

// Course -> category from JSON lines: a catalog dump ({"id", "category"})
// or CNPC's course info ({"course_idx2", "discipline"}); ids may be integers.
// Lines without a category are skipped. NOT_FOUND when the file cannot be
// opened; INVALID_ARGUMENT naming file and line for a line that is not a JSON
// object with an id.
absl::StatusOr<absl::flat_hash_map<std::string, std::string>> ReadCourseCategories(const std::string& path);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_SERVED_RANKING_H_
