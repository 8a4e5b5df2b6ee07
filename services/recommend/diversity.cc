#include "services/recommend/diversity.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"

namespace lifelong::recommend {

std::vector<size_t> SelectDiverse(const std::vector<DiversityKey>& ranked, int k,
                                  const DiversityOptions& options) {
  std::vector<size_t> out;
  if (k <= 0) return out;
  const int category_cap = options.max_per_category > 0
                               ? options.max_per_category
                               : std::max(2, (k * 4 + 9) / 10);
  absl::flat_hash_map<std::string, int> per_series;
  absl::flat_hash_map<std::string, int> per_category;
  std::vector<bool> taken(ranked.size(), false);
  for (size_t i = 0; i < ranked.size() && static_cast<int>(out.size()) < k; ++i) {
    if (per_series[ranked[i].series] >= options.max_per_series) continue;
    if (per_category[ranked[i].category] >= category_cap) continue;
    ++per_series[ranked[i].series];
    ++per_category[ranked[i].category];
    taken[i] = true;
    out.push_back(i);
  }
  if (static_cast<int>(out.size()) < k) {
    for (size_t i = 0; i < ranked.size() && static_cast<int>(out.size()) < k; ++i) {
      if (taken[i]) continue;
      if (per_series[ranked[i].series] >= options.max_per_series_relaxed) continue;
      ++per_series[ranked[i].series];
      taken[i] = true;
      out.push_back(i);
    }
    // Restore rank order among what was picked.
    std::sort(out.begin(), out.end());
  }
  return out;
}

}  // namespace lifelong::recommend
