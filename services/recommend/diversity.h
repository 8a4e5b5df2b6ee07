// Diversity for a ranked list: few sections of one series, few courses of one
// category. Pure; thread-safe.
#ifndef LIFELONG_SERVICES_RECOMMEND_DIVERSITY_H_
#define LIFELONG_SERVICES_RECOMMEND_DIVERSITY_H_

#include <string>
#include <vector>

namespace lifelong::recommend {

struct DiversityKey {
  std::string series;
  std::string category;
};

// The same key as small integers (equal ids = equal strings), for callers
// that number series and categories once per catalog.
struct DiversityIds {
  int series = 0;
  int category = 0;
};

struct DiversityOptions {
  // First pass: at most this many per series and per category.
  int max_per_series = 1;
  // 0: max(2, ceil(k * 0.4)).
  int max_per_category = 0;
  // Second pass, when the first leaves fewer than k: relaxed series cap and
  // no category cap. Never more than this many of one series.
  int max_per_series_relaxed = 2;
  // false: no second pass (fewer than k when the first does not fill).
  // The first pass takes in rank order and stops at k, so when it fills k
  // within a prefix of a ranked list, that is the whole list's answer: a
  // caller can rank a short prefix first and the rest only when needed.
  bool relax = true;
};

// Picks up to `k` items from `ranked` (best first), keeping the order, under
// the caps above. Returns indices into `ranked`, in output order.
std::vector<size_t> SelectDiverse(const std::vector<DiversityKey>& ranked, int k, const DiversityOptions& options = {});
std::vector<size_t> SelectDiverse(const std::vector<DiversityIds>& ranked, int k, const DiversityOptions& options = {});

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_DIVERSITY_H_
