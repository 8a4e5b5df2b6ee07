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
  // The sets' courses by their latest completion / failure, newest first.
  absl::flat_hash_set<std::string> listed_completed, listed_failed;
  for (const StatementFact& f : newest_first) {
    const bool completion = f.verb == vocab::kCompleted || f.verb == vocab::kPassed;
    if (!completion && f.verb != vocab::kFailed) continue;
    std::string course = vocab::CourseIdFromIri(f.activity);
    if (completion) {
      if (h.completed.contains(course) && listed_completed.insert(course).second) {
        h.completed_newest_first.push_back(std::move(course));
      }
    } else if (h.failed.contains(course) && listed_failed.insert(course).second) {
      h.failed_newest_first.push_back(std::move(course));
    }
  }
  return h;
}

}  // namespace lifelong::recommend
