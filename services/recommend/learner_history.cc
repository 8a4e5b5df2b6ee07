#include "services/recommend/learner_history.h"

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "models/interaction.h"
#include "services/domain/vocabulary.h"

namespace lifelong::recommend {

LearnerHistory BuildLearnerHistory(const std::vector<StatementFact>& newest_first) {
  LearnerHistory h;
  // Every completion and (open-at-the-time) failure, oldest first; ordered
  // newest first below.
  std::vector<std::string> completions, failures;
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
    std::string course = vocab::CourseIdFromIri(it->activity);
    if (course.empty()) continue;
    if (it->verb == vocab::kCompleted || it->verb == vocab::kPassed) {
      h.completed.insert(course);
      completions.push_back(course);
      if (it->verified) h.credited.insert(course);
      h.enrolled.erase(course);
      h.failed.erase(course);
    } else if ((it->verb == vocab::kRegistered || it->verb == vocab::kAttended) && !h.completed.contains(course)) {
      // Registering, or attending a session (walk-in learners at a community
      // centre often never register), puts the course in progress.
      h.enrolled.insert(course);
    } else if (it->verb == vocab::kFailed && !h.completed.contains(course)) {
      h.failed.insert(course);
      failures.push_back(course);
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
  auto newest_first_in = [](const std::vector<std::string>& oldest_first, const absl::flat_hash_set<std::string>& set,
                            std::vector<std::string>* out) {
    absl::flat_hash_set<absl::string_view> listed;
    for (auto c = oldest_first.rbegin(); c != oldest_first.rend(); ++c) {
      if (set.contains(*c) && listed.insert(*c).second) out->push_back(*c);
    }
  };
  newest_first_in(completions, h.completed, &h.completed_newest_first);
  newest_first_in(failures, h.failed, &h.failed_newest_first);
  return h;
}

}  // namespace lifelong::recommend
