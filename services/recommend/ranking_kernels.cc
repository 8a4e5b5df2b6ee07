#include "services/recommend/ranking_kernels.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace lifelong::recommend {

float DotInOrder(absl::Span<const float> a, const float* b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

void DotEachInOrder(absl::Span<const float> a, absl::Span<const float* const> rows, float* out) {
  const size_t n = a.size();
  size_t r = 0;
  for (; r + 4 <= rows.size(); r += 4) {
    const float* b0 = rows[r];
    const float* b1 = rows[r + 1];
    const float* b2 = rows[r + 2];
    const float* b3 = rows[r + 3];
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < n; ++i) {
      const float x = a[i];
      s0 += x * b0[i];
      s1 += x * b1[i];
      s2 += x * b2[i];
      s3 += x * b3[i];
    }
    out[r] = s0;
    out[r + 1] = s1;
    out[r + 2] = s2;
    out[r + 3] = s3;
  }
  for (; r < rows.size(); ++r) out[r] = DotInOrder(a, rows[r]);
}

void DotEachAtInOrder(absl::Span<const float> a, absl::Span<const int> nonzero, absl::Span<const float* const> rows,
                      float* out) {
  for (size_t r = 0; r < rows.size(); ++r) {
    const float* b = rows[r];
    float s = 0;
    for (const int i : nonzero) s += a[i] * b[i];
    out[r] = s;
  }
}

int PositionsAtLeast(absl::Span<const float> s, float t, int* out) {
  const int n = static_cast<int>(s.size());
  const float* const p = s.data();
  int m = 0;
  int i = 0;
#if defined(__SSE2__)
  // cmpge_ps is false for a NaN on either side, as `>=` is.
  const __m128 tv = _mm_set1_ps(t);
  for (; i + 4 <= n; i += 4) {
    int mask = _mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(p + i), tv));
    while (mask != 0) {
      out[m++] = i + __builtin_ctz(static_cast<unsigned>(mask));
      mask &= mask - 1;
    }
  }
#endif
  for (; i < n; ++i) {
    out[m] = i;
    m += p[i] >= t;
  }
  return m;
}

}  // namespace lifelong::recommend
