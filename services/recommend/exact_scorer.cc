#include "services/recommend/exact_scorer.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "services/recommend/ranking_kernels.h"

namespace lifelong::recommend {
namespace {

// The ranking order of candidates: score descending, ties to the lower row.
bool Better(const models::Candidate& a, const models::Candidate& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.row < b.row;
}

constexpr float kInf = std::numeric_limits<float>::infinity();
// Histogram buckets of SelectBest: over all scores, and over the few hundred
// a sampled threshold kept.
constexpr int kMaxBuckets = 1024;
constexpr int kSmallBuckets = 256;

// Appends to *out the best kk of m scored positions by (score desc, row asc),
// in no particular order. Position j is the scores' index at(j) = idx[j]
// (kIndexed) or j; its score is s[at(j)] and its row rows[at(j)]. NaN scores
// rank as -inf and come out as -inf (never expected: the model files are
// checksummed). 0 < kk <= m.
//
// A comparison sort or heap over all m spends most of its time on
// mispredicted branches (~30 us for 110 of 3,000). Instead: the range of the
// scores (NaN left out), a histogram of `buckets` equal-width buckets over
// it finds the bucket the kk-th best falls in, every position in a better
// bucket is in, and only that bucket's few are ranked (~8 us for 110 of
// 3,000). NaN (as -inf) falls in the last bucket, below every other score.
// When the range is empty or infinite (all equal, or infinite scores), all
// m are ranked.
template <bool kIndexed>
void SelectBest(const float* s, const int* idx, int m, int kk, int buckets, const std::vector<int>& rows,
                std::vector<models::Candidate>* out) {
  auto at = [idx](int j) { return kIndexed ? idx[j] : j; };
  auto candidate = [&](int j) {
    const float v = s[at(j)];
    return models::Candidate{rows[at(j)], v == v ? v : -kInf};
  };
  // Range, in four independent chains (one chain waits on the latency of
  // every max); NaN compares false and is left out.
  float hi4[4] = {-kInf, -kInf, -kInf, -kInf};
  float lo4[4] = {kInf, kInf, kInf, kInf};
  int j = 0;
  for (; j + 4 <= m; j += 4) {
    for (int l = 0; l < 4; ++l) {
      const float v = s[at(j + l)];
      hi4[l] = v > hi4[l] ? v : hi4[l];
      lo4[l] = v < lo4[l] ? v : lo4[l];
    }
  }
  for (; j < m; ++j) {
    const float v = s[at(j)];
    hi4[0] = v > hi4[0] ? v : hi4[0];
    lo4[0] = v < lo4[0] ? v : lo4[0];
  }
  const float hi = std::max(std::max(hi4[0], hi4[1]), std::max(hi4[2], hi4[3]));
  const float lo = std::min(std::min(lo4[0], lo4[1]), std::min(lo4[2], lo4[3]));
  const float inv_width = buckets / (hi - lo);
  thread_local std::vector<models::Candidate> edge;
  edge.clear();
  const size_t first = out->size();
  if (!(hi > lo) || !std::isfinite(inv_width) || !std::isfinite(hi - lo)) {
    // All equal, all NaN, or infinite scores: rank everything.
    for (int i = 0; i < m; ++i) edge.push_back(candidate(i));
  } else {
    // Bucket 0 holds the best scores. The bucket of a score is monotone in
    // the score, so every score in a better bucket beats every score in a
    // worse one. (hi - v) * inv_width is >= 0, and NaN for a NaN score: the
    // comparison below sends it to the last bucket.
    const float last = static_cast<float>(buckets - 1);
    thread_local std::vector<uint16_t> bucket;
    bucket.resize(m);
    int count[kMaxBuckets];
    std::fill(count, count + buckets, 0);
    for (int i = 0; i < m; ++i) {
      const float d = (hi - s[at(i)]) * inv_width;
      const int b = static_cast<int>(d < last ? d : last);
      bucket[i] = static_cast<uint16_t>(b);
      ++count[b];
    }
    int edge_bucket = 0;
    for (int above = 0; above + count[edge_bucket] < kk; ++edge_bucket) above += count[edge_bucket];
    for (int i = 0; i < m; ++i) {
      if (bucket[i] < edge_bucket) {
        out->push_back(candidate(i));
      } else if (bucket[i] == edge_bucket) {
        edge.push_back(candidate(i));
      }
    }
  }
  const size_t need = first + kk - out->size();
  if (edge.size() > need) std::nth_element(edge.begin(), edge.begin() + need, edge.end(), Better);
  out->insert(out->end(), edge.begin(), edge.begin() + need);
}

}  // namespace

ExactScorer::ExactScorer(const models::ModelBundle& model) : dim_(model.dim()) {
  for (int r = 0; r < model.num_items(); ++r) {
    if (model.InteractionCount(r) > 0) rows_.push_back(r);
  }
  const size_t n = rows_.size();
  if (model.sparse_item_matrix()) {
    sparse_ = true;
    std::vector<int32_t> pos_of(model.num_items(), -1);
    for (size_t pos = 0; pos < n; ++pos) pos_of[rows_[pos]] = static_cast<int32_t>(pos);
    row_start_.reserve(static_cast<size_t>(dim_) + 1);
    row_start_.push_back(0);
    for (int d = 0; d < dim_; ++d) {
      models::ModelBundle::SparseRowView r = model.SparseRow(d);
      for (size_t e = 0; e < r.targets.size(); ++e) {
        const int32_t pos = pos_of[r.targets[e]];
        if (pos < 0) continue;  // a target without interactions is not indexed
        target_pos_.push_back(pos);
        weight_.push_back(r.weights[e]);
      }
      row_start_.push_back(static_cast<int64_t>(target_pos_.size()));
    }
    return;
  }
  transposed_.resize(static_cast<size_t>(dim_) * n);
  for (size_t pos = 0; pos < n; ++pos) {
    absl::Span<const float> v = model.ItemVector(rows_[pos]);
    for (int d = 0; d < dim_; ++d) transposed_[static_cast<size_t>(d) * n + pos] = v[d];
  }
  identity_ = model.identity_query();
  if (identity_) {
    for (int r = 0; r < model.num_items(); ++r) {
      if (model.InteractionCount(r) <= 0) unindexed_.push_back(r);
    }
  }
}

std::vector<float> ExactScorer::ScoreAll(const models::ModelBundle& model,
                                         absl::Span<const std::pair<int, double>> rows) const {
  const size_t n = rows_.size();
  // ScoreAll's identity branch: s_j = sum over rows r (in order) of
  // w_r * M[j][r], in double from 0; here the same products, added in the
  // same order, for every indexed j at once.
  std::vector<double> acc(n, 0.0);
  for (const auto& [row, weight] : rows) {
    const float* t = transposed_.data() + static_cast<size_t>(row) * n;
    for (size_t pos = 0; pos < n; ++pos) acc[pos] += weight * t[pos];
  }
  std::vector<float> out(model.num_items(), 0.0f);
  for (size_t pos = 0; pos < n; ++pos) out[rows_[pos]] = static_cast<float>(acc[pos]);
  for (int j : unindexed_) {
    absl::Span<const float> v = model.ItemVector(j);
    double s = 0;
    for (const auto& [row, weight] : rows) s += weight * v[row];
    out[j] = static_cast<float>(s);
  }
  return out;
}

std::vector<models::Candidate> ExactScorer::Search(absl::Span<const float> query, int k) const {
  std::vector<models::Candidate> out;
  SearchImpl(query, k, /*sorted=*/true, &out);
  return out;
}

std::vector<models::Candidate> ExactScorer::SearchUnordered(absl::Span<const float> query, int k) const {
  std::vector<models::Candidate> out;
  SearchImpl(query, k, /*sorted=*/false, &out);
  return out;
}

void ExactScorer::SearchUnordered(absl::Span<const float> query, int k, std::vector<models::Candidate>* out) const {
  SearchImpl(query, k, /*sorted=*/false, out);
}

void ExactScorer::SearchImpl(absl::Span<const float> query, int k, bool sorted,
                             std::vector<models::Candidate>* out) const {
  out->clear();
  const int n = size();
  if (k <= 0 || n == 0 || dim_ == 0 || static_cast<int>(query.size()) != dim_) return;
  if (sparse_) {
    *out = SearchSparse(query, k);
    return;
  }
  // Per-thread scratch: a request thread scans often, and these are at most
  // a few hundred KB (indexed items x 6 bytes; 4,096 items: 24 KB).
  thread_local std::vector<float> scores;
  int nonzero = 0;
  for (float x : query) nonzero += x != 0.0f;
  if (nonzero * 4 > dim_) {
    // scores = transposed_' * query. With beta = 0, sgemv sets every score
    // without reading the old ones (BLAS: "when BETA is zero, Y need not be
    // set on input"), so the buffer is not cleared first.
    scores.resize(n);
    cblas_sgemv(CblasRowMajor, CblasTrans, dim_, n, 1.0f, transposed_.data(), n, query.data(), 1, 0.0f, scores.data(),
                1);
  } else {
    scores.assign(n, 0.0f);
    // Sparse query (identity query basis: one coordinate per history
    // course): one pass over a contiguous row of the transposed matrix each.
    for (int d = 0; d < dim_; ++d) {
      if (query[d] == 0.0f) continue;
      cblas_saxpy(n, query[d], transposed_.data() + static_cast<size_t>(d) * n, 1, scores.data(), 1);
    }
  }
  SelectTop(scores.data(), n, std::min(k, n), out);
  if (sorted) std::sort(out->begin(), out->end(), Better);
}

void ExactScorer::SelectTop(const float* s, int n, int kk, std::vector<models::Candidate>* out) const {
  // Top kk by (score desc, row asc): SelectBest. When kk is a small part of
  // n, first a threshold t from every 8th score and one branch-free pass
  // keeping the positions scoring >= t: if that kept at least kk, the top kk
  // of those few (~200 for 110 of 3,000) are exactly the top kk of all (the
  // kk-th best score is >= t, so every score of the top kk was kept).
  // Otherwise, and for larger kk, SelectBest over all n scores.
  out->reserve(kk);
  bool selected = false;
  if (n >= kSampledSelectMinItems && kk * kSampleStride <= n) {
    // About kk / stride sampled scores are among the best kk; t is the
    // rank-th best sampled score, with a margin so that the pass below
    // rarely keeps fewer than kk. The sample's best `rank`, kept sorted
    // (descending) by insertion: after the first few, most sampled scores
    // fall below the last and cost one predictable comparison.
    const int rank = kk / kSampleStride + kk / (2 * kSampleStride) + 4;
    thread_local std::vector<float> top;
    top.resize(rank);
    int filled = 0;
    for (int i = 0; i < n; i += kSampleStride) {
      const float v = s[i];
      if (!(v == v)) continue;  // NaN left out (ranked last)
      if (filled == rank && !(v > top[rank - 1])) continue;
      int j = filled < rank ? filled++ : rank - 1;
      for (; j > 0 && top[j - 1] < v; --j) top[j] = top[j - 1];
      top[j] = v;
    }
    const float t = filled > 0 ? top[filled - 1] : -kInf;
    // At t = -inf the NaN-as--inf ties would decide; leave it to the full
    // selection.
    if (t > -kInf) {
      thread_local std::vector<int> kept;
      kept.resize(n);
      const int m = PositionsAtLeast(absl::MakeConstSpan(s, n), t, kept.data());  // never a NaN
      if (m >= kk) {
        SelectBest</*kIndexed=*/true>(s, kept.data(), m, kk, kSmallBuckets, rows_, out);
        selected = true;
      }
    }
  }
  if (!selected) SelectBest</*kIndexed=*/false>(s, nullptr, n, kk, kMaxBuckets, rows_, out);
}

void ExactScorer::TopOfRowScores(absl::Span<const float> row_scores, int k, std::vector<models::Candidate>* out) const {
  out->clear();
  const int n = size();
  if (k <= 0 || n == 0) return;
  thread_local std::vector<float> scores;
  scores.resize(n);
  for (int pos = 0; pos < n; ++pos) scores[pos] = row_scores[rows_[pos]];
  SelectTop(scores.data(), n, std::min(k, n), out);
}

std::vector<models::Candidate> ExactScorer::SearchSparse(absl::Span<const float> query, int k) const {
  const int n = size();
  const int kk = std::min(k, n);
  // Scratch kept all-zero between calls, so that a request costs the
  // entries it reads (|history| x row length), not the catalog: only the
  // touched positions are written, ranked and reset.
  thread_local std::vector<double> acc;
  thread_local std::vector<char> mark;
  thread_local std::vector<int32_t> touched;
  if (acc.size() < static_cast<size_t>(n)) {
    acc.resize(n, 0.0);
    mark.resize(n, 0);
  }
  touched.clear();
  // Rows of M for the query's nonzero coordinates, in ascending order,
  // accumulated in double (ModelBundle::SearchBatch's order, so the same
  // doubles).
  for (int d = 0; d < dim_; ++d) {
    if (query[d] == 0.0f) continue;
    const double w = query[d];
    for (int64_t e = row_start_[d]; e < row_start_[d + 1]; ++e) {
      const int32_t p = target_pos_[e];
      if (!mark[p]) {
        mark[p] = 1;
        touched.push_back(p);
      }
      acc[p] += w * weight_[e];
    }
  }
  // Every position scores float(acc), untouched ones 0 (NaN: -inf, as the
  // dense path). The answer is the top kk by (score desc, row asc) over all
  // n positions: the touched positives, then the zeros in position (= row)
  // order, then the touched negatives.
  constexpr float kInf = std::numeric_limits<float>::infinity();
  thread_local std::vector<models::Candidate> positive, negative;
  positive.clear();
  negative.clear();
  int touched_nonzero = 0;
  for (int32_t p : touched) {
    float v = static_cast<float>(acc[p]);
    if (std::isnan(v)) v = -kInf;
    if (v > 0) {
      positive.push_back({p, v});
    } else if (v < 0) {
      negative.push_back({p, v});
    }
    if (v != 0) {
      mark[p] = 2;  // not in the zero group
      ++touched_nonzero;
    }
  }
  std::vector<models::Candidate> out;
  out.reserve(kk);
  auto take_best = [&](std::vector<models::Candidate>* group, size_t want) {
    const size_t m = std::min(want, group->size());
    std::partial_sort(group->begin(), group->begin() + m, group->end(), Better);
    out.insert(out.end(), group->begin(), group->begin() + m);
  };
  // Positions stand in for rows while ranking (rows_ is ascending, so the
  // order is the same).
  take_best(&positive, kk);
  if (static_cast<int>(out.size()) < kk) {
    const int zeros = n - touched_nonzero;
    for (int p = 0, added = 0; p < n && added < zeros && static_cast<int>(out.size()) < kk; ++p) {
      if (mark[p] == 2) continue;
      out.push_back({p, 0.0f});
      ++added;
    }
  }
  if (static_cast<int>(out.size()) < kk) take_best(&negative, kk - out.size());
  for (int32_t p : touched) {
    acc[p] = 0.0;
    mark[p] = 0;
  }
  for (models::Candidate& c : out) c.row = rows_[c.row];
  return out;
}

}  // namespace lifelong::recommend
