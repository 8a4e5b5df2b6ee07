// Small routines of Recommender's per-request ranking that are cheaper than
// their plain forms and give exactly the same results. Pure; thread-safe.
#ifndef LIFELONG_SERVICES_RECOMMEND_RANKING_KERNELS_H_
#define LIFELONG_SERVICES_RECOMMEND_RANKING_KERNELS_H_

#include <algorithm>
#include <cstddef>

#include "absl/types/span.h"

namespace lifelong::recommend {

// sum over i of a[i] * b[i] in float, added in index order from 0: the
// ranking's collaborative and content score (bit for bit what a plain loop
// `s += a[i] * b[i]` gives). b must hold at least a.size() floats.
float DotInOrder(absl::Span<const float> a, const float* b);

// out[r] = DotInOrder(a, rows[r]) for every r < rows.size(), bit for bit:
// four rows at a time, each in its own chain of additions in index order
// (one chain waits on the latency of every addition; four independent ones
// overlap). Every row must hold at least a.size() floats; out must hold
// rows.size() floats.
void DotEachInOrder(absl::Span<const float> a, absl::Span<const float* const> rows, float* out);

// out[r] = DotInOrder(a, rows[r]) for an `a` that is zero outside the
// ascending positions `nonzero`: the same additions in the same order, over
// those positions only. A skipped term is an exact zero (finite rows), which
// leaves a float sum unchanged; the results are bit for bit DotInOrder's,
// except that a sum of exactly zero may carry the other sign (-0 == 0). For
// an identity-basis model's learner vector (one coordinate per history
// course): ~12 terms a candidate instead of the catalog's 3,000.
void DotEachAtInOrder(absl::Span<const float> a, absl::Span<const int> nonzero, absl::Span<const float* const> rows,
                      float* out);

// Writes the positions i of s with s[i] >= t, ascending, to out[0..m) and
// returns m: what the plain loop `out[m] = i; m += s[i] >= t;` keeps (a NaN
// score is never kept; -0 and 0 compare equal), four scores per comparison
// (SSE2), one branch per four that skips them when none is kept. out must
// hold s.size() ints; out[m..) is unspecified.
int PositionsAtLeast(absl::Span<const float> s, float t, int* out);

// What std::partial_sort(first, middle, last, less) leaves in [first,
// middle) -- the smallest middle - first elements, in order -- by a
// selection (std::nth_element, linear) and a sort of only those: the heap
// that partial_sort keeps costs more per element than the selection when
// middle - first is more than a few. `less` must be a strict total order on
// the elements (no two equivalent, e.g. ties broken by a unique id): then
// [first, middle) is the same sequence as partial_sort's. [middle, last) is
// left in unspecified order.
template <typename It, typename Less>
void SortFirst(It first, It middle, It last, Less less) {
  if (middle == first) return;
  if (middle == last) {
    std::sort(first, last, less);
    return;
  }
  // The element at middle - 1 is the one a sort puts there, and none before
  // it is greater.
  std::nth_element(first, middle - 1, last, less);
  std::sort(first, middle - 1, less);
}

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_RANKING_KERNELS_H_
