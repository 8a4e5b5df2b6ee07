// Recommender: the ranking core of RecommendationService, without gRPC.
//
// Recommend: candidates from the model's index for the learner vector
// (built from the learner's latest history; small exact models are scanned
// on the request thread with ExactScorer, others searched through `search`,
// i.e. the SearchBatcher and FAISS), plus popular courses, courses
// of stated interests, courses near the kiosk/location, and catalog courses
// the model does not know (scored through their content vectors); then hard
// constraints (exclusions and filters, see filters.h), a blended score
// (collaborative score, popularity, interest, audience, proximity),
// diversity (diversity.h) and a reason per result (reasons.h).
//
// Similar: collaborative cosine (FAISS search on the item's vector) and
// content cosine, merged.
//
// Thread-safety: const methods may be called concurrently. Derived per-pair
// data (model x catalog join) is cached inside, under a mutex.
#ifndef LIFELONG_SERVICES_RECOMMEND_RECOMMENDER_H_
#define LIFELONG_SERVICES_RECOMMEND_RECOMMENDER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "models/model_bundle.h"
#include "models/served_blend.h"
#include "services/recommend/course.h"
#include "services/recommend/filters.h"
#include "services/recommend/learner_history.h"

namespace lifelong::recommend {

struct RecommendContext {
  enum class Channel { kUnspecified, kKiosk, kApp };
  Channel channel = Channel::kUnspecified;
  std::string kiosk_venue_id;
  std::vector<std::string> interests;  // categories
  std::string age_group;               // an audience value, "" for none
  bool has_location = false;
  double lat = 0;
  double lng = 0;
};

// A validated Recommend request (request_validation.h).
struct RecommendQuery {
  int k = 10;
  CourseFilter filter;
  RecommendContext context;
};

enum class ReasonKind {
  kUnspecified = 0,
  kBecauseYouCompleted = 1,
  kPopularNearby = 2,
  kMatchesInterest = 3,
  kPopular = 4,
  kSimilarCourse = 5,
  kNewCourse = 6,
  kRetry = 7,               // "未通过 评剧入门，可再学一次"
  kFoundation = 8,          // "先打好基础，再学 评剧进阶"
  kPrerequisitesFirst = 9,  // "先修：剪纸进阶" (not ready; see Recommend)
};

struct ScoredCourse {
  const Course* course = nullptr;  // points into the catalog snapshot used
  double score = 0;
  std::string reason;
  ReasonKind reason_kind = ReasonKind::kUnspecified;
  double distance_km = -1;
  // Prerequisites the learner has not completed (catalog order); empty when
  // the course is ready to take.
  std::vector<std::string> missing_prerequisites;
};

struct RecommendResult {
  std::vector<ScoredCourse> items;
  int64_t model_version = 0;
  bool cold_start = false;
};

class ExactScorer;

class Recommender {
 public:
  // Candidate search on the model's index (SearchBatcher::Search, or a
  // direct ModelBundle::SearchBatch in tests).
  using SearchFn = std::function<absl::StatusOr<std::vector<models::Candidate>>(
      const std::shared_ptr<const models::ModelBundle>& model, std::vector<float> query, int k)>;

  struct Options {
    // Index candidates fetched per request: max(min_candidates, k * factor).
    int min_candidates = 100;
    int candidate_factor = 10;
    // Popular courses always added to the pool.
    int popular_candidates = 100;
    // Courses per stated interest / per nearby venue added to the pool.
    int per_list_candidates = 100;
    // Kiosk/location neighbourhood for "nearby" candidates and reasons.
    double nearby_km = 3.0;
    // Models with an exact (flat) index of at most this many floats
    // (indexed items x dim) are searched on the request thread with
    // ExactScorer instead of `search`: a full scan of a small model costs
    // less than the hand-off to the batcher plus FAISS's result handling
    // (measured in docs/recommend.md). 0: always `search`.
    int64_t exact_scan_max_floats = int64_t{1} << 21;
    // The same for identity-basis models (exact item-item scores, the
    // trainer's default up to models::kDefaultDenseMaxItems items): their
    // queries have one nonzero per history course, so a scan costs
    // history x items (a saxpy per history course), not items x dim, while
    // FAISS would multiply the full items x items matrix. Bounds the
    // ExactScorer's copy: 2^25 floats = 128 MiB (a 4,096-item model needs
    // 16.8M floats, 64 MiB). exact_scan_max_floats = 0 still means always
    // `search`, identity models included.
    int64_t exact_identity_scan_max_floats = int64_t{1} << 25;
    // Weights of the re-ranking blend (models/served_blend.h,
    // docs/recommend.md "Re-ranking blend"); models/replay recomputes the
    // served ranking from the same struct.
    models::ServedBlend blend;
    // Readiness (docs/recommend.md "Readiness"): courses whose prerequisites
    // the learner has not completed rank after every ready course and say
    // what comes first; after a `failed`, the same level again (or a gentler
    // course on the subject) is boosted. false: the ranking before the rule
    // (kept for the offline measurement of its cost).
    bool readiness = true;
  };

  Recommender(SearchFn search, Options options);

  // Up to query.k courses for `history`. `model` and `catalog` must be
  // non-null and stay alive while the result is used (results point into
  // the catalog). An empty history gives cold-start results.
  //
  // Readiness: a prerequisite counts as done when the learner completed or
  // passed it, or another section of its series. A course with a missing
  // prerequisite is never ranked above a ready one; it appears only when
  // fewer than k ready courses pass the filters, with
  // missing_prerequisites set and the reason "先修：…". Its missing
  // prerequisites are added to the candidates (the step that comes first).
  absl::StatusOr<RecommendResult> Recommend(const std::shared_ptr<const models::ModelBundle>& model,
                                            const CatalogPtr& catalog, const LearnerHistory& history,
                                            const RecommendQuery& query, absl::Time now) const;

  // Up to k courses similar to `course_id`. NOT_FOUND when the course is in
  // neither the catalog nor the model, or is a draft of the catalog (the
  // same message: a draft does not exist, CatalogSnapshot).
  absl::StatusOr<RecommendResult> Similar(const std::shared_ptr<const models::ModelBundle>& model,
                                          const CatalogPtr& catalog, const std::string& course_id, int k,
                                          const CourseFilter& filter, absl::Time now) const;

  // The text embedded for a course the model does not know.
  static std::string CourseText(const Course& course);

 private:
  struct Joined;  // model x catalog join, see recommender.cc
  class Request;  // one Recommend call's pipeline steps, see recommender.cc
  std::shared_ptr<const Joined> GetJoined(const std::shared_ptr<const models::ModelBundle>& model,
                                          const CatalogPtr& catalog) const;

  const SearchFn search_;
  const Options options_;
  mutable absl::Mutex mu_;
  // The last two joins (a swap briefly serves two versions).
  mutable std::vector<std::shared_ptr<const Joined>> joined_ ABSL_GUARDED_BY(mu_);
  // The most recently used join; read and written with std::atomic_load/store.
  mutable std::shared_ptr<const Joined> last_joined_;
};

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_RECOMMENDER_H_
