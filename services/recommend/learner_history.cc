#include "services/recommend/learner_history.h"

#include "models/interaction.h"
#include "services/domain/vocabulary.h"

namespace lifelong::recommend {

LearnerHistory BuildLearnerHistory(const std::vector<StatementFact>& newest_first) {
  LearnerHistory h;
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
    std::string course = vocab::CourseIdFromIri(it->activity);
    if (course.empty()) continue;
    if (it->verb == vocab::kCompleted || it->verb == vocab::kPassed) {
      h.completed.insert(course);
      if (it->verified) h.credited.insert(course);
      h.enrolled.erase(course);
      h.failed.erase(course);
    } else if ((it->verb == vocab::kRegistered || it->verb == vocab::kAttended) && !h.completed.contains(course)) {
      // Registering, or attending a session (walk-in learners at a community
      // centre often never register), puts the course in progress.
      h.enrolled.insert(course);
    } else if (it->verb == vocab::kFailed && !h.completed.contains(course)) {
      h.failed.insert(course);
      h.enrolled.erase(course);
    } else if (it->verb == vocab::kExited) {
      h.enrolled.erase(course);  // a drop-out: no longer in progress
    }
    const float weight = models::VerbWeight(it->verb);
    if (weight <= 0) continue;
    h.events.push_back(models::HistoryEvent{course, weight, it->time});
    h.verbs.push_back(it->verb);
  }
  return h;
}

}  // namespace lifelong::recommend
