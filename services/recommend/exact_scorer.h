// ExactScorer: exact top-k by inner product over the items a model indexes
// (the rows with interactions, as ModelBundle's FAISS index holds them),
// computed on the calling thread with OpenBLAS.
//
// For small models this is cheaper than handing the query to the
// SearchBatcher: one scan of a 3,000 x 64 matrix takes ~15 us, while a
// batcher round trip costs two thread hand-offs plus FAISS's k >= 100 result
// handler (reservoir partitioning), ~10x that in the profile of
// bench_recommend (docs/recommend.md). Identity-basis models (exact
// item-item scores, the trainer's default up to 4,096 items) are scanned
// here whatever their size up to Recommender::Options::
// exact_identity_scan_max_floats: their queries have one nonzero per
// history course, and the sparse path below costs history x items.
// Sparse bundles (models::ModelBundle::sparse_item_matrix(): the trainer's
// exact path above 4,096 items, at any size by default) are always scanned
// here: the scorer keeps a copy of M's CSR rows and adds, for each nonzero
// query coordinate (history course) i, q_i times row i, in double, into
// per-thread scratch of which only the touched positions are ranked and
// reset: cost |history| x entries per row (100 by default) plus one pass
// over the query's dim() floats, not a pass over every item; nothing
// approximated.
// The answer is the one an exact
// (flat) index gives: the same items and scores, up to float rounding in the
// last bits (a different summation order); ties go to the lower row.
//
// Thread-safety: immutable after construction; Search may be called from any
// number of threads.
#ifndef LIFELONG_SERVICES_RECOMMEND_EXACT_SCORER_H_
#define LIFELONG_SERVICES_RECOMMEND_EXACT_SCORER_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "models/model_bundle.h"

namespace lifelong::recommend {

class ExactScorer {
 public:
  // Copies the item vectors of `model`'s indexed rows (InteractionCount > 0),
  // transposed: dim() x size() floats; for a sparse bundle, M's CSR rows
  // with targets mapped to positions (entries x 8 bytes).
  explicit ExactScorer(const models::ModelBundle& model);
  ExactScorer(const ExactScorer&) = delete;
  ExactScorer& operator=(const ExactScorer&) = delete;

  int dim() const { return dim_; }
  // Indexed rows.
  int size() const { return static_cast<int>(rows_.size()); }

  // The top-`k` indexed rows by <query, ItemVector(row)>, highest first
  // (ties: lower row first); fewer when size() < k. `query` must hold dim()
  // floats; k <= 0 gives an empty answer.
  std::vector<models::Candidate> Search(absl::Span<const float> query, int k) const;
  // The same candidates as Search, in no particular order (for callers that
  // rank them again, like Recommender: its ranking is a total order, so the
  // order it meets candidates in does not change its answer). Saves the
  // final sort for dense models; a sparse bundle's answer is sorted anyway.
  std::vector<models::Candidate> SearchUnordered(absl::Span<const float> query, int k) const;
  // SearchUnordered into *out (cleared first; its capacity is reused, so a
  // caller that keeps a buffer per thread allocates nothing per call).
  void SearchUnordered(absl::Span<const float> query, int k, std::vector<models::Candidate>* out) const;

  // SearchUnordered's answer and selection for given scores instead of
  // <query, item vector>: the top-`k` indexed rows by row_scores[row] (ties:
  // lower row first; NaN ranks last), in no particular order, into *out
  // (cleared first). `row_scores` holds a score for every row of the model
  // this scorer was built from (ModelBundle::ScoreAllServed's). The
  // recommender's GRU path: a comparison-based select over all 3,000 rows
  // was 13.7% of bench_recommend's samples, this 2.4% (docs/benchmarks.md).
  void TopOfRowScores(absl::Span<const float> row_scores, int k, std::vector<models::Candidate>* out) const;

  // Whether ScoreAll below can score this model: a dense identity-basis
  // model (models::ModelBundle::identity_query()).
  bool scores_all() const { return identity_; }
  // models::ModelBundle::ScoreAll's floats for a learner with history
  // weights `rows` = model.HistoryRowWeights(history), not empty, where
  // `model` is the bundle this scorer was built from: every row's score
  // summed in double in the order of `rows`, as ScoreAll does, so equal bit
  // for bit. The indexed rows from the transposed copy, one pass over a
  // contiguous row of it per history course, where ScoreAll reads a column
  // of M (a cache line per item and course: 20% of recommend_server's CPU
  // with the GRU blend on a 3,281-course model, docs/recommend.md); the
  // rows without interactions as ScoreAll does. Requires scores_all().
  std::vector<float> ScoreAll(const models::ModelBundle& model, absl::Span<const std::pair<int, double>> rows) const;

  // The dense selection samples every kSampleStride-th score for a
  // threshold when the catalog has at least kSampledSelectMinItems indexed
  // items and k * kSampleStride <= size() (exact_scorer.cc).
  static constexpr int kSampleStride = 8;
  static constexpr int kSampledSelectMinItems = 1024;

 private:
  void SearchImpl(absl::Span<const float> query, int k, bool sorted, std::vector<models::Candidate>* out) const;
  // The top kk (0 < kk <= n) of position scores s[0..n) into *out (appended
  // to, unordered): SearchImpl's selection.
  void SelectTop(const float* s, int n, int kk, std::vector<models::Candidate>* out) const;
  // Search of a sparse bundle (`query` already checked).
  std::vector<models::Candidate> SearchSparse(absl::Span<const float> query, int k) const;

  int dim_ = 0;
  std::vector<int> rows_;          // position -> model row, ascending
  std::vector<float> transposed_;  // dim_ x rows_.size(): [d][pos]; dense only
  // Sparse bundles: row d's entries [row_start_[d], row_start_[d + 1]) of
  // target_pos_ (positions of indexed targets) / weight_.
  bool sparse_ = false;
  bool identity_ = false;       // dense and identity-basis: ScoreAll works
  std::vector<int> unindexed_;  // model rows without interactions, ascending
  std::vector<int64_t> row_start_;
  std::vector<int32_t> target_pos_;
  std::vector<float> weight_;
};

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_EXACT_SCORER_H_
