#include "models/interaction.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

#include "services/domain/vocabulary.h"

namespace lifelong::models {

float VerbWeight(absl::string_view verb_iri) {
  if (verb_iri == vocab::kCompleted || verb_iri == vocab::kPassed) return 1.0f;
  if (verb_iri == vocab::kRated || verb_iri == vocab::kBookmarked) return 0.6f;
  if (verb_iri == vocab::kAttended) return 0.5f;
  if (verb_iri == vocab::kRegistered || verb_iri == vocab::kExperienced) return 0.3f;
  return 0.0f;  // failed, voided, unknown verbs
}

std::vector<std::pair<std::string, std::vector<Interaction>>> GroupSequences(
    const std::vector<Interaction>& interactions) {
  absl::flat_hash_map<std::string, int> slot;
  std::vector<std::pair<std::string, std::vector<std::pair<size_t, const Interaction*>>>> raw;
  for (size_t i = 0; i < interactions.size(); ++i) {
    const Interaction& it = interactions[i];
    if (!(it.weight > 0)) continue;
    auto [pos, inserted] = slot.emplace(it.learner, static_cast<int>(raw.size()));
    if (inserted) raw.push_back({it.learner, {}});
    raw[pos->second].second.push_back({i, &it});
  }
  std::vector<std::pair<std::string, std::vector<Interaction>>> out;
  out.reserve(raw.size());
  for (auto& [learner, events] : raw) {
    std::stable_sort(events.begin(), events.end(),
                     [](const auto& x, const auto& y) { return x.second->order < y.second->order; });
    // Keep the most recent occurrence of each course, with the largest weight.
    absl::flat_hash_map<std::string, float> max_weight;
    for (const auto& e : events) {
      float& w = max_weight[e.second->course_id];
      w = std::max(w, e.second->weight);
    }
    absl::flat_hash_set<std::string> seen;
    std::vector<Interaction> seq;
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (!seen.insert(it->second->course_id).second) continue;
      Interaction x = *it->second;
      x.weight = max_weight[x.course_id];
      seq.push_back(std::move(x));
    }
    std::reverse(seq.begin(), seq.end());
    out.push_back({learner, std::move(seq)});
  }
  return out;
}

}  // namespace lifelong::models
