#include "models/served_ranking.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "models/course_lines.h"
#include "models/interaction_file.h"
#include "nlohmann/json.hpp"

namespace lifelong::models {

absl::StatusOr<absl::flat_hash_map<std::string, std::string>> ReadCourseCategories(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFileToString(path);
  if (!content.ok()) return content.status();
  absl::flat_hash_map<std::string, std::string> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(*content, '\n')) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == absl::string_view::npos) continue;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": ", why));
    };
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) return bad("not a JSON object");
    absl::StatusOr<std::string> id = CourseIdOf(j, {"id", "course_idx2", "course"});
    if (!id.ok()) return bad(id.status().message());
    const std::string& course = *id;
    for (const char* key : {"category", "discipline"}) {
      if (j.contains(key) && j[key].is_string()) {
        out[course] = j[key].get<std::string>();
        break;
      }
    }
  }
  return out;
}

Scorer ServedRankingScorer(std::shared_ptr<const ModelBundle> bundle, ServedRankingOptions options, int k) {
  const Scorer model = BundleScorer(bundle);
  return [bundle, options, k, model](const EvalCase& c) {
    const int n = bundle->num_items();
    // = bundle->ScoreAllServed(c.history): ScoreAll, blended with the GRU
    // when the version carries one.
    std::vector<float> cf = bundle->BlendSequence(model(c), c.history);
    std::vector<bool> excluded(n, false);
    for (const HistoryEvent& e : c.history) {
      if (std::optional<int> row = bundle->Row(e.course_id)) excluded[*row] = true;
    }
    const std::vector<float> q = bundle->LearnerVector(c.history);
    const bool warm = std::any_of(q.begin(), q.end(), [](float x) { return x != 0; });
    float max_cf = 0;
    for (int j = 0; j < n; ++j) {
      if (!excluded[j] && bundle->InteractionCount(j) > 0) max_cf = std::max(max_cf, cf[j]);
    }
    std::vector<double> score(n, 0.0);
    for (int j = 0; j < n; ++j) {
      const double pop = bundle->Popularity(j);
      const double completion = bundle->CompletionRate(j);
      if (!options.blend) {
        score[j] = cf[j];
      } else if (warm) {
        const double cfn = (max_cf > 0 && bundle->InteractionCount(j) > 0) ? std::max(0.0f, cf[j]) / max_cf : 0.0;
        score[j] =
            options.weights.cf * cfn + options.weights.popularity * pop + options.weights.completion * completion;
      } else {
        score[j] = options.weights.cold_popularity * pop + options.weights.cold_pop_completion * pop * completion;
      }
    }
    // Rank (ties by course id = row order, as the service breaks them).
    std::vector<int> order;
    for (int j = 0; j < n; ++j) {
      if (!excluded[j]) order.push_back(j);
    }
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return score[a] > score[b]; });
    // Category cap, then refill in rank order (series are distinct).
    const int cap = options.category_cap ? std::max(2, (k * 4 + 9) / 10) : k;
    auto category = [&](int row) -> std::string {
      auto it = options.category.find(bundle->CourseId(row));
      return it == options.category.end() ? std::string() : it->second;
    };
    std::vector<size_t> chosen;
    std::vector<bool> taken(order.size(), false);
    absl::flat_hash_map<std::string, int> per_category;
    for (size_t i = 0; i < order.size() && static_cast<int>(chosen.size()) < k; ++i) {
      int& used = per_category[category(order[i])];
      if (used >= cap) continue;
      ++used;
      taken[i] = true;
      chosen.push_back(i);
    }
    for (size_t i = 0; i < order.size() && static_cast<int>(chosen.size()) < k; ++i) {
      if (!taken[i]) chosen.push_back(i);
    }
    std::sort(chosen.begin(), chosen.end());
    // Chosen first (descending), everything else below (scores in [0, 1)).
    std::vector<float> out(n);
    for (int j = 0; j < n; ++j) out[j] = static_cast<float>(std::min(0.999, std::max(0.0, score[j])));
    for (size_t r = 0; r < chosen.size(); ++r) {
      out[order[chosen[r]]] = static_cast<float>(10 + chosen.size() - r);
    }
    return out;
  };
}

}  // namespace lifelong::models
