// A learner's history as the recommender uses it: the course events (for the
// learner vector and for reasons) and the courses to exclude. Built from the
// learner's latest statements in the record service. Pure; thread-safe.
#ifndef LIFELONG_SERVICES_RECOMMEND_LEARNER_HISTORY_H_
#define LIFELONG_SERVICES_RECOMMEND_LEARNER_HISTORY_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "models/model_bundle.h"

namespace lifelong::recommend {

// One statement, reduced to what matters here.
struct StatementFact {
  std::string verb;      // verb IRI
  std::string activity;  // object activity IRI
  absl::Time time = absl::InfinitePast();
  // A completion whose issuer may award credits (v1::Statement.verified).
  bool verified = false;
};

struct LearnerHistory {
  // Course events with a positive verb weight, OLDEST FIRST (the order
  // models::ModelBundle::LearnerVector expects).
  std::vector<models::HistoryEvent> events;
  // verbs[i] is the verb IRI of events[i] (for reasons).
  std::vector<std::string> verbs;
  // Courses completed or passed.
  absl::flat_hash_set<std::string> completed;
  // Courses completed or passed by a verified statement (an entitled issuer:
  // teacher, institution, operator): the ones whose credits count toward a
  // goal. Self-reported completions are in `completed` only.
  absl::flat_hash_set<std::string> credited;
  // Courses in progress: registered for, or attended (a session at a venue),
  // and not completed/passed. A `failed` or an `exited` (a drop-out) ends it;
  // registering or attending again after it puts the course in progress again.
  absl::flat_hash_set<std::string> enrolled;
  // Courses whose latest outcome is `failed` (no completed/passed since):
  // the recommender offers the same level again (or a gentler course on the
  // subject) before the next level.
  absl::flat_hash_set<std::string> failed;
  // `completed` and `failed` in a fixed order, the most recent outcome first:
  // what the recommender iterates (a flat_hash_set's order differs between
  // processes, and the first course in this order is the one a next level or
  // a retry is credited to, so the same request gets the same answer
  // everywhere).
  std::vector<std::string> completed_newest_first;
  std::vector<std::string> failed_newest_first;

  // Completed, passed, registered or attended: not recommended (a course in
  // progress shows in the learner's own list, not among new suggestions).
  bool Excluded(const std::string& course_id) const {
    return completed.contains(course_id) || enrolled.contains(course_id);
  }
  bool empty() const { return events.empty(); }
};

// Builds the history from statements given NEWEST FIRST (the record
// service's default order). Statements whose object is not a course IRI are
// skipped.
LearnerHistory BuildLearnerHistory(const std::vector<StatementFact>& newest_first);

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_LEARNER_HISTORY_H_
