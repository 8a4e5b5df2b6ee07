// Learner-course interactions: the unit the trainer learns from and the unit
// of a learner's history at request time, plus the verb -> weight table that
// both use (so training and serving weigh a statement the same way).
#ifndef LIFELONG_MODELS_INTERACTION_H_
#define LIFELONG_MODELS_INTERACTION_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace lifelong::models {

// One learner event on one course. `order` is the position key: a Unix time
// in microseconds for statements, or any increasing sequence number for files
// without timestamps. Only the relative order of one learner's events matters.
struct Interaction {
  std::string learner;
  std::string course_id;
  int64_t order = 0;
  float weight = 1.0f;  // > 0 is a positive signal; <= 0 is ignored
};

// Weight of an xAPI verb IRI as a positive signal:
//   completed, passed                        -> 1.0
//   rated, bookmarked                        -> 0.6
//   attended                                 -> 0.5
//   registered, experienced                  -> 0.3
//   failed, voided, any other verb           -> 0   (not a positive signal)
// Thread-safe (pure).
float VerbWeight(absl::string_view verb_iri);

// Groups interactions by learner, ordered by (order, input position); drops
// weight <= 0 and keeps only the most recent occurrence of a repeated course.
// Learners in first-appearance order. (The trainer, the evaluator and the
// sequence model all read learners' sequences this way.)
std::vector<std::pair<std::string, std::vector<Interaction>>> GroupSequences(
    const std::vector<Interaction>& interactions);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_INTERACTION_H_
