// ServedBlend: the weights of the recommender's re-ranking blend, in one
// place. services/recommend/recommender.cc ("Features and scores") scores
// every candidate with them, and models/replay recomputes the served ranking
// offline from the same struct, so the two cannot drift apart
// (docs/recommend.md "Re-ranking blend" describes each weight and why it has
// its value).
//
// Warm learner (the model knows at least one history course):
//   score = cf * cf_norm + popularity * Popularity + completion * CompletionRate
//         + interest * [category in the stated interests]
//         + proximity * Proximity + audience * [age group matches]
//         + open_now * [enrolment open now] + next_step * [next level of a
//           completed course]
//   cf_norm = max(0, <learner, item>) / (the largest cf of the pool), or for
//   a course the model knows only by content: new_course_content *
//   max(0, cosine(history content, course content)).
// Cold learner (no known history):
//   score = cold_popularity * Popularity
//         + cold_pop_completion * Popularity * CompletionRate
//         + cold_interest * [interest] + cold_proximity * Proximity
//         + cold_audience * [audience] + cold_open_now * [open now]
// Both: + retry_bonus for the same level again after a failure,
//       + foundation_bonus for a gentler course before a failed one.
// Proximity = 1 / (1 + km / proximity_half_km) for a course with a venue,
// online_proximity for an online course, 0 without a learner location.
// SimilarCourses (a course page's "more like this"):
//   score = similar_cf * max(0, item cosine) + similar_content *
//           max(0, content cosine) + similar_popularity * Popularity
//
// The service uses the defaults (Recommender::Options::blend); the replay's
// ServedRankingOptions::blend must equal the service's for its recomputation
// to match the live lists.
#ifndef LIFELONG_MODELS_SERVED_BLEND_H_
#define LIFELONG_MODELS_SERVED_BLEND_H_

namespace lifelong::models {

// The name of the configuration ServedBlend's defaults are (reported by
// models/evaluate next to its figures). docs/models.md "Served blend
// district-2026-12" has how it was chosen: popularity and completion by the
// mean validation HR@10 + NDCG@10 over CNPC, MOOCCube and the simulated
// district (`evaluate --choose_blend`, validation splits of the training
// data only); the other warm weights have no offline counterpart (no
// interests, locations or prerequisites in the datasets) and keep the values
// docs/recommend.md gives reasons for.
inline constexpr char kServedBlendName[] = "district-2026-12";

struct ServedBlend {
  // ---- Warm learners ---------------------------------------------------
  double cf = 0.55;                 // normalised collaborative score
  double popularity = 0.03;         // Popularity(row): learners / max (validation)
  double completion = 0.0;          // CompletionRate(row) (validation: any > 0 costs)
  double interest = 0.1;            // category among the stated interests
  double proximity = 0.1;           // Proximity (see above)
  double audience = 0.05;           // learner's age group in the audiences
  double open_now = 0.05;           // enrolment window open now
  double next_step = 0.3;           // next level after a completed course
  double new_course_content = 0.8;  // content cosine standing in for cf_norm
  // ---- Cold learners ---------------------------------------------------
  double cold_popularity = 0.25;
  double cold_pop_completion = 0.1;  // times Popularity * CompletionRate
  double cold_interest = 0.3;
  double cold_proximity = 0.2;
  double cold_audience = 0.1;
  double cold_open_now = 0.05;
  // ---- Both --------------------------------------------------------------
  double retry_bonus = 0.3;        // same level again after a failure
  double foundation_bonus = 0.15;  // gentler course before a failed one
  double online_proximity = 0.4;   // Proximity of an online course
  double proximity_half_km = 2.0;  // distance at which Proximity is 1/2
  // ---- SimilarCourses ("more like this course") ------------------------
  double similar_cf = 0.5;           // item-vector cosine with the course
  double similar_content = 0.45;     // content cosine with the course
  double similar_popularity = 0.05;  // Popularity(row)
};

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_SERVED_BLEND_H_
