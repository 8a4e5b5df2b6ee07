#include "services/recommend/diversity.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace lifelong::recommend {

std::vector<size_t> SelectDiverse(const std::vector<DiversityIds>& ranked, int k, const DiversityOptions& options) {
  std::vector<size_t> out;
  if (k <= 0) return out;
  const int category_cap = options.max_per_category > 0 ? options.max_per_category : std::max(2, (k * 4 + 9) / 10);
  absl::flat_hash_map<int, int> per_series;
  absl::flat_hash_map<int, int> per_category;
  std::vector<bool> taken(ranked.size(), false);
  for (size_t i = 0; i < ranked.size() && static_cast<int>(out.size()) < k; ++i) {
    int& series = per_series[ranked[i].series];
    if (series >= options.max_per_series) continue;
    int& category = per_category[ranked[i].category];
    if (category >= category_cap) continue;
    ++series;
    ++category;
    taken[i] = true;
    out.push_back(i);
  }
  if (static_cast<int>(out.size()) < k) {
    for (size_t i = 0; i < ranked.size() && static_cast<int>(out.size()) < k; ++i) {
      if (taken[i]) continue;
      int& series = per_series[ranked[i].series];
      if (series >= options.max_per_series_relaxed) continue;
      ++series;
      taken[i] = true;
      out.push_back(i);
    }
    // Restore rank order among what was picked.
    std::sort(out.begin(), out.end());
  }
  return out;
}

std::vector<size_t> SelectDiverse(const std::vector<DiversityKey>& ranked, int k, const DiversityOptions& options) {
  absl::flat_hash_map<absl::string_view, int> series_ids;
  absl::flat_hash_map<absl::string_view, int> category_ids;
  std::vector<DiversityIds> ids;
  ids.reserve(ranked.size());
  for (const DiversityKey& key : ranked) {
    ids.push_back({series_ids.try_emplace(key.series, series_ids.size()).first->second,
                   category_ids.try_emplace(key.category, category_ids.size()).first->second});
  }
  return SelectDiverse(ids, k, options);
}

}  // namespace lifelong::recommend
