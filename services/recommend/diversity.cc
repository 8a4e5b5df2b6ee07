#include "services/recommend/diversity.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace lifelong::recommend {

namespace {

// The two passes of SelectDiverse; `series_count(id)` / `category_count(id)`
// return a reference to the count of that id, 0 at first.
template <typename SeriesCount, typename CategoryCount>
std::vector<size_t> SelectWith(const std::vector<DiversityIds>& ranked, int k, const DiversityOptions& options,
                               SeriesCount series_count, CategoryCount category_count) {
  std::vector<size_t> out;
  const int category_cap = options.max_per_category > 0 ? options.max_per_category : std::max(2, (k * 4 + 9) / 10);
  std::vector<bool> taken(ranked.size(), false);
  for (size_t i = 0; i < ranked.size() && static_cast<int>(out.size()) < k; ++i) {
    int& series = series_count(ranked[i].series);
    if (series >= options.max_per_series) continue;
    int& category = category_count(ranked[i].category);
    if (category >= category_cap) continue;
    ++series;
    ++category;
    taken[i] = true;
    out.push_back(i);
  }
  if (options.relax && static_cast<int>(out.size()) < k) {
    for (size_t i = 0; i < ranked.size() && static_cast<int>(out.size()) < k; ++i) {
      if (taken[i]) continue;
      int& series = series_count(ranked[i].series);
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

// Ids up to this bound are counted in per-thread arrays (a catalog numbers
// its series and categories densely from 0), others in hash maps.
constexpr int kDenseIds = 1 << 20;

}  // namespace

std::vector<size_t> SelectDiverse(const std::vector<DiversityIds>& ranked, int k, const DiversityOptions& options) {
  if (k <= 0) return {};
  int max_id = -1;
  bool dense = true;
  for (const DiversityIds& ids : ranked) {
    dense &= ids.series >= 0 && ids.series < kDenseIds && ids.category >= 0 && ids.category < kDenseIds;
    max_id = std::max(max_id, std::max(ids.series, ids.category));
  }
  if (!dense) {
    absl::flat_hash_map<int, int> per_series;
    absl::flat_hash_map<int, int> per_category;
    return SelectWith(
        ranked, k, options, [&](int id) -> int& { return per_series[id]; },
        [&](int id) -> int& { return per_category[id]; });
  }
  // All zero between calls: the entries used are reset below.
  thread_local std::vector<int> per_series;
  thread_local std::vector<int> per_category;
  if (static_cast<int>(per_series.size()) <= max_id) {
    per_series.resize(max_id + 1, 0);
    per_category.resize(max_id + 1, 0);
  }
  std::vector<size_t> out = SelectWith(
      ranked, k, options, [&](int id) -> int& { return per_series[id]; },
      [&](int id) -> int& { return per_category[id]; });
  for (const DiversityIds& ids : ranked) {
    per_series[ids.series] = 0;
    per_category[ids.category] = 0;
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
