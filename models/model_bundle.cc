// In-memory model bundles and their indexes: BuildModelBundle checks a
// bundle's arrays (shapes, sparse CSR invariants, unique course ids) and
// builds what serving needs: popularity order, item norms, the CSC copy of a
// sparse item matrix, and the FAISS inner-product indexes (exact IndexFlatIP
// up to BuildOptions::exact_index_max_items, else IVF with nprobe fixed or
// calibrated against exact search to BuildOptions::ivf_target_recall) over the
// collaborative and the content vectors. The ModelBundle methods score with
// them: learner vectors from a history (dense, low-rank query basis or the
// identity basis of sparse bundles), exact ScoreAll, FAISS or sparse-CSR
// top-k search, item-to-item, content search. No file I/O here: version
// directories are read and validated in model_version_dir.cc. Declared in
// model_bundle.h.

#include "models/model_bundle.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <new>
#include <numeric>
#include <random>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "models/sequence_model.h"
#include "models/text_embedding.h"

namespace lifelong::models {

struct ModelBundle::Impl {
  int64_t version = 0;
  std::string directory;
  nlohmann::json manifest;
  ModelArrays a;
  absl::flat_hash_map<std::string, int> row_of;
  std::vector<float> popularity;
  std::vector<int> popular_rows;
  std::vector<uint8_t> has_content;
  // Collaborative index over rows with counts > 0; index position -> row.
  std::unique_ptr<faiss::Index> index;
  std::unique_ptr<faiss::Index> index_quantizer;
  std::vector<int> index_rows;
  IndexInfo index_info;
  // Content index over rows with text.
  std::unique_ptr<faiss::Index> content_index;
  std::unique_ptr<faiss::Index> content_quantizer;
  std::vector<int> content_rows;
  IndexInfo content_index_info;
  // Sparse bundles: M's columns (CSC), for ItemScore and DenseItemVector:
  // column j holds entries [col_start[j], col_start[j + 1]) of col_source
  // (ascending) / col_weight.
  std::vector<int64_t> col_start;
  std::vector<int32_t> col_source;
  std::vector<float> col_weight;
  // Norm of every item vector (ItemNorm).
  std::vector<float> item_norm;
  // The optional GRU (decoded from a.sequence_model) and, per bundle row,
  // its row in the GRU's vocabulary or -1.
  std::unique_ptr<const SequenceModel> sequence;
  std::vector<int> sequence_row;
};

namespace {

// One distinct known course of a history, with its query weight.
struct WeightedRow {
  int row;
  int history_index;  // most recent occurrence
  double weight;      // normalised: sum of squares is 1
};

// Recall@10 of `index` against exact inner-product search on `num_queries`
// learner-like queries (sums of three seeded-random item vectors).
double CalibrationRecall(const faiss::Index& index, const std::vector<float>& queries, int num_queries,
                         const std::vector<faiss::Index::idx_t>& exact_labels, int k) {
  std::vector<float> dist(static_cast<size_t>(num_queries) * k);
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(num_queries) * k);
  index.search(num_queries, queries.data(), k, dist.data(), labels.data());
  int64_t hits = 0, total = 0;
  for (int q = 0; q < num_queries; ++q) {
    const auto* want = exact_labels.data() + static_cast<size_t>(q) * k;
    const auto* got = labels.data() + static_cast<size_t>(q) * k;
    for (int i = 0; i < k; ++i) {
      if (want[i] < 0) continue;
      ++total;
      if (std::find(got, got + k, want[i]) != got + k) ++hits;
    }
  }
  return total == 0 ? 1.0 : static_cast<double>(hits) / total;
}

// Builds an inner-product index over `n` vectors of dimension `d`: flat up
// to options.exact_index_max_items, else IVF with nprobe fixed by the options
// or calibrated to options.ivf_target_recall.
absl::Status BuildIndex(const float* vectors, int n, int d, const BuildOptions& options,
                        std::unique_ptr<faiss::Index>* index, std::unique_ptr<faiss::Index>* quantizer,
                        IndexInfo* info) {
  info->indexed_items = n;
  if (n <= options.exact_index_max_items) {
    auto flat = std::make_unique<faiss::IndexFlatIP>(d);
    flat->add(n, vectors);
    *index = std::move(flat);
    info->kind = "flat";
    return absl::OkStatus();
  }
  // IVF: nlist ~ 2 sqrt(n), k-means (10 iterations) on a sample of <= 32
  // points per list (build-time versus search-time trade-off measured with
  // bench_train --index_items, docs/models.md).
  const int nlist = std::max(1, std::min(n, static_cast<int>(2 * std::sqrt(static_cast<double>(n)))));
  auto q = std::make_unique<faiss::IndexFlatIP>(d);
  auto ivf = std::make_unique<faiss::IndexIVFFlat>(q.get(), d, nlist, faiss::METRIC_INNER_PRODUCT);
  ivf->cp.seed = 1234;
  ivf->cp.max_points_per_centroid = 32;
  ivf->cp.niter = 10;
  ivf->verbose = false;
  try {
    ivf->train(n, vectors);
    ivf->add(n, vectors);
    if (options.ivf_nprobe > 0) {
      ivf->nprobe = std::min(nlist, options.ivf_nprobe);
      info->calibrated_recall_at_10 = -1;
    } else {
      // Smallest nprobe in 8, 16, 32, ... whose recall@10 on sample queries
      // reaches the target.
      const int k = std::min(10, n);
      const int num_queries = 200;
      std::mt19937_64 rng(99);
      std::uniform_int_distribution<int> pick(0, n - 1);
      std::vector<float> queries(static_cast<size_t>(num_queries) * d, 0.0f);
      for (int qi = 0; qi < num_queries; ++qi) {
        for (int t = 0; t < 3; ++t) {
          const float* v = vectors + static_cast<size_t>(pick(rng)) * d;
          for (int j = 0; j < d; ++j) queries[static_cast<size_t>(qi) * d + j] += v[j];
        }
      }
      faiss::IndexFlatIP exact(d);
      exact.add(n, vectors);
      std::vector<float> dist(static_cast<size_t>(num_queries) * k);
      std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(num_queries) * k);
      exact.search(num_queries, queries.data(), k, dist.data(), labels.data());
      int nprobe = std::min(nlist, 8);
      while (true) {
        ivf->nprobe = nprobe;
        info->calibrated_recall_at_10 = CalibrationRecall(*ivf, queries, num_queries, labels, k);
        if (info->calibrated_recall_at_10 >= options.ivf_target_recall || nprobe >= nlist) break;
        nprobe = std::min(nlist, nprobe * 2);
      }
    }
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("building the IVF index failed: out of memory");
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("building the IVF index failed: ", e.what()));
  }
  info->kind = "ivf";
  info->nlist = nlist;
  info->nprobe = static_cast<int>(ivf->nprobe);
  *quantizer = std::move(q);
  *index = std::move(ivf);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::vector<Candidate>>> SearchIndex(const faiss::Index* index, const std::vector<int>& rows,
                                                                int d, absl::Span<const float> queries, int num_queries,
                                                                int k) {
  if (k <= 0) return absl::InvalidArgumentError("k: must be positive");
  if (num_queries < 0 || queries.size() != static_cast<size_t>(num_queries) * d) {
    return absl::InvalidArgumentError(
        absl::StrCat("queries: expected num_queries * ", d, " floats, got ", queries.size()));
  }
  std::vector<std::vector<Candidate>> out(num_queries);
  if (index == nullptr) {
    if (rows.empty()) return out;
    return absl::FailedPreconditionError("bundle was built without indexes");
  }
  if (num_queries == 0 || rows.empty()) return out;
  const int kk = std::min<int>(k, static_cast<int>(rows.size()));
  std::vector<float> dist(static_cast<size_t>(num_queries) * kk);
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(num_queries) * kk);
  index->search(num_queries, queries.data(), kk, dist.data(), labels.data());
  for (int q = 0; q < num_queries; ++q) {
    for (int i = 0; i < kk; ++i) {
      const faiss::Index::idx_t l = labels[static_cast<size_t>(q) * kk + i];
      if (l < 0) continue;
      out[q].push_back({rows[l], dist[static_cast<size_t>(q) * kk + i]});
    }
  }
  return out;
}

// sum over i in [0, n), in index order, of double(a[i]) * double(b[i]). With
// SSE2 two products at once (cvtps2pd, mulpd: each lane rounded exactly as
// mulsd), then added one at a time in index order: the same double as the
// plain loop, in about half its instructions.
double Dot(const float* a, const float* b, int n) {
  int i = 0;
  double s = 0;
#if defined(__SSE2__)
  auto two = [](const float* p) {
    return _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  };
  __m128d acc = _mm_setzero_pd();  // the sum in the low lane
  for (; i + 4 <= n; i += 4) {
    const __m128d p01 = _mm_mul_pd(two(a + i), two(b + i));
    const __m128d p23 = _mm_mul_pd(two(a + i + 2), two(b + i + 2));
    acc = _mm_add_sd(acc, p01);
    acc = _mm_add_sd(acc, _mm_unpackhi_pd(p01, p01));
    acc = _mm_add_sd(acc, p23);
    acc = _mm_add_sd(acc, _mm_unpackhi_pd(p23, p23));
  }
  s = _mm_cvtsd_f64(acc);
#endif
  for (; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// out[r] = Dot(rows[r], v, n) for r in [0, count), bit for bit: four rows at
// a time, each in its own chain of double additions in index order (the same
// order as Dot), so the chains overlap instead of waiting on each other. The
// build uses no FMA contraction, so every product is rounded as in Dot.
void DotEachInOrder(const float* const* rows, const float* v, int n, int count, double* out) {
  int r = 0;
  for (; r + 4 <= count; r += 4) {
    const float *a0 = rows[r], *a1 = rows[r + 1], *a2 = rows[r + 2], *a3 = rows[r + 3];
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;
#if defined(__SSE2__)
    // Two coordinates per step: v's pair converted once, each row's two
    // products by mulpd (rounded as mulsd), added to its sum low lane first.
    __m128d t0 = _mm_setzero_pd(), t1 = t0, t2 = t0, t3 = t0;
    auto two = [](const float* p) {
      return _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
    };
    auto add_both = [](__m128d t, __m128d p) { return _mm_add_sd(_mm_add_sd(t, p), _mm_unpackhi_pd(p, p)); };
    for (; i + 2 <= n; i += 2) {
      const __m128d x = two(v + i);
      t0 = add_both(t0, _mm_mul_pd(two(a0 + i), x));
      t1 = add_both(t1, _mm_mul_pd(two(a1 + i), x));
      t2 = add_both(t2, _mm_mul_pd(two(a2 + i), x));
      t3 = add_both(t3, _mm_mul_pd(two(a3 + i), x));
    }
    s0 = _mm_cvtsd_f64(t0);
    s1 = _mm_cvtsd_f64(t1);
    s2 = _mm_cvtsd_f64(t2);
    s3 = _mm_cvtsd_f64(t3);
#endif
    for (; i < n; ++i) {
      const double x = v[i];
      s0 += static_cast<double>(a0[i]) * x;
      s1 += static_cast<double>(a1[i]) * x;
      s2 += static_cast<double>(a2[i]) * x;
      s3 += static_cast<double>(a3[i]) * x;
    }
    out[r] = s0;
    out[r + 1] = s1;
    out[r + 2] = s2;
    out[r + 3] = s3;
  }
  if (r + 2 <= count) {
    const float *a0 = rows[r], *a1 = rows[r + 1];
    double s0 = 0, s1 = 0;
    for (int i = 0; i < n; ++i) {
      const double x = v[i];
      s0 += static_cast<double>(a0[i]) * x;
      s1 += static_cast<double>(a1[i]) * x;
    }
    out[r] = s0;
    out[r + 1] = s1;
    r += 2;
  }
  if (r < count) out[r] = Dot(rows[r], v, n);
}

// Exact top-k of a sparse bundle for one query vector (identity basis:
// q[i] weighs history row i): scores accumulated in double over the query's
// nonzero coordinates in ascending order, ranked by (score desc, row asc)
// over the indexed rows.
std::vector<Candidate> SparseTopK(const ModelArrays& a, const std::vector<int>& rows, const float* q, int k) {
  const int n = static_cast<int>(a.course_ids.size());
  std::vector<double> acc(n, 0.0);
  for (int i = 0; i < n; ++i) {
    if (q[i] == 0.0f) continue;
    const double w = q[i];
    for (int64_t e = a.sparse_row_start[i]; e < a.sparse_row_start[i + 1]; ++e) {
      acc[a.sparse_target[e]] += w * a.sparse_weight[e];
    }
  }
  std::vector<Candidate> all;
  all.reserve(rows.size());
  for (int r : rows) all.push_back({r, static_cast<float>(acc[r])});
  auto better = [](const Candidate& x, const Candidate& y) {
    if (x.score != y.score) return x.score > y.score;
    return x.row < y.row;
  };
  const size_t kk = std::min<size_t>(all.size(), static_cast<size_t>(k));
  std::partial_sort(all.begin(), all.begin() + kk, all.end(), better);
  all.resize(kk);
  return all;
}

}  // namespace

ModelBundle::ModelBundle(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ModelBundle::~ModelBundle() = default;

int64_t ModelBundle::version() const { return impl_->version; }
const std::string& ModelBundle::directory() const { return impl_->directory; }
const nlohmann::json& ModelBundle::manifest() const { return impl_->manifest; }
int ModelBundle::num_items() const { return static_cast<int>(impl_->a.course_ids.size()); }
const std::string& ModelBundle::CourseId(int row) const { return impl_->a.course_ids[row]; }
const std::vector<std::string>& ModelBundle::course_ids() const { return impl_->a.course_ids; }
int ModelBundle::dim() const { return impl_->a.dim; }
bool ModelBundle::identity_query() const { return impl_->a.identity_query; }
float ModelBundle::Popularity(int row) const { return impl_->popularity[row]; }
int64_t ModelBundle::InteractionCount(int row) const { return impl_->a.counts[row]; }
const std::vector<int>& ModelBundle::PopularRows() const { return impl_->popular_rows; }
int ModelBundle::content_dim() const { return impl_->a.content_dim; }
bool ModelBundle::HasContent(int row) const { return impl_->has_content[row] != 0; }
const IndexInfo& ModelBundle::index_info() const { return impl_->index_info; }
const IndexInfo& ModelBundle::content_index_info() const { return impl_->content_index_info; }
float ModelBundle::CompletionRate(int row) const {
  const ModelArrays& a = impl_->a;
  if (a.completions.empty() || a.counts[row] <= 0) return 0.0f;
  return static_cast<float>(a.completions[row]) / static_cast<float>(a.counts[row]);
}

std::optional<int> ModelBundle::Row(absl::string_view course_id) const {
  auto it = impl_->row_of.find(course_id);
  if (it == impl_->row_of.end()) return std::nullopt;
  return it->second;
}

bool ModelBundle::sparse_item_matrix() const { return impl_->a.sparse; }

absl::Span<const float> ModelBundle::ItemVector(int row) const {
  if (impl_->a.sparse) return {};
  return absl::MakeConstSpan(impl_->a.item_vectors.data() + static_cast<size_t>(row) * impl_->a.dim, impl_->a.dim);
}

std::vector<float> ModelBundle::DenseItemVector(int row) const {
  const ModelArrays& a = impl_->a;
  if (!a.sparse) {
    absl::Span<const float> v = ItemVector(row);
    return std::vector<float>(v.begin(), v.end());
  }
  std::vector<float> v(a.dim, 0.0f);
  for (int64_t e = impl_->col_start[row]; e < impl_->col_start[row + 1]; ++e) {
    v[impl_->col_source[e]] = impl_->col_weight[e];
  }
  return v;
}

float ModelBundle::ItemScore(absl::Span<const float> learner_vector, int row) const {
  const ModelArrays& a = impl_->a;
  if (static_cast<int>(learner_vector.size()) != a.dim) return 0.0f;
  if (!a.sparse) {
    return static_cast<float>(
        Dot(learner_vector.data(), a.item_vectors.data() + static_cast<size_t>(row) * a.dim, a.dim));
  }
  double s = 0;
  for (int64_t e = impl_->col_start[row]; e < impl_->col_start[row + 1]; ++e) {
    s += static_cast<double>(learner_vector[impl_->col_source[e]]) * impl_->col_weight[e];
  }
  return static_cast<float>(s);
}

float ModelBundle::ItemNorm(int row) const { return impl_->item_norm[row]; }

ModelBundle::SparseRowView ModelBundle::SparseRow(int row) const {
  const ModelArrays& a = impl_->a;
  if (!a.sparse) return {};
  const int64_t b = a.sparse_row_start[row], e = a.sparse_row_start[row + 1];
  return {absl::MakeConstSpan(a.sparse_target.data() + b, e - b),
          absl::MakeConstSpan(a.sparse_weight.data() + b, e - b)};
}

int64_t ModelBundle::sparse_entries() const { return static_cast<int64_t>(impl_->a.sparse_target.size()); }

absl::Span<const float> ModelBundle::ContentVector(int row) const {
  const int cd = impl_->a.content_dim;
  return absl::MakeConstSpan(impl_->a.content.data() + static_cast<size_t>(row) * cd, cd);
}

namespace {

// The distinct known courses of `history` with their normalised weights,
// most recent first. Shared by LearnerVector and TopContributor so that the
// decomposition is exact.
std::vector<WeightedRow> HistoryWeights(const ModelBundle& b, const ModelArrays& a,
                                        absl::Span<const HistoryEvent> history) {
  // Walk from the most recent event backwards; the first time a row is seen is
  // its most recent position; its weight is the largest over occurrences.
  std::vector<WeightedRow> rows;
  absl::flat_hash_map<int, int> index_of;
  for (int i = static_cast<int>(history.size()) - 1; i >= 0; --i) {
    const HistoryEvent& e = history[i];
    if (!(e.weight > 0)) continue;
    std::optional<int> row = b.Row(e.course_id);
    if (!row.has_value() || a.counts[*row] <= 0) continue;
    auto it = index_of.find(*row);
    if (it != index_of.end()) {
      rows[it->second].weight = std::max<double>(rows[it->second].weight, e.weight);
      continue;
    }
    if (static_cast<int>(rows.size()) >= a.max_history) continue;
    index_of[*row] = static_cast<int>(rows.size());
    rows.push_back({*row, i, e.weight});
  }
  double norm = 0;
  for (size_t age = 0; age < rows.size(); ++age) {
    rows[age].weight *= std::pow(a.recency_decay, static_cast<double>(age));
    norm += rows[age].weight * rows[age].weight;
  }
  if (norm > 0) {
    norm = std::sqrt(norm);
    for (WeightedRow& r : rows) r.weight /= norm;
  }
  return rows;
}

// Whether HistoryWeights(b, a, history) has a row, without building it
// (no map, no decay, no normalisation): the emptiness checks of
// BlendSequence and Recommend, whose callers build the weights anyway.
bool HasWeightedRow(const ModelBundle& b, const ModelArrays& a, absl::Span<const HistoryEvent> history) {
  if (a.max_history <= 0) return false;
  for (const HistoryEvent& e : history) {
    if (!(e.weight > 0)) continue;
    std::optional<int> row = b.Row(e.course_id);
    if (row.has_value() && a.counts[*row] > 0) return true;
  }
  return false;
}

}  // namespace

std::vector<float> ModelBundle::LearnerVector(absl::Span<const HistoryEvent> history) const {
  const ModelArrays& a = impl_->a;
  std::vector<float> q(a.dim, 0.0f);
  const std::vector<WeightedRow> rows = HistoryWeights(*this, a, history);
  if (a.identity_query) {
    for (const WeightedRow& r : rows) q[r.row] += static_cast<float>(r.weight);
    return q;
  }
  // q[d] is the float sum, over the rows in order, of float(weight) *
  // basis[d]. Four rows per pass over q: each q[d] still adds the rows' terms
  // one after the other in row order (bit for bit the one-row-at-a-time
  // loop), with a quarter of the loads and stores of q.
  const int dim = a.dim;
  auto basis = [&](size_t i) { return a.query_basis.data() + static_cast<size_t>(rows[i].row) * dim; };
  float* out = q.data();
  size_t i = 0;
  for (; i + 4 <= rows.size(); i += 4) {
    const float w0 = static_cast<float>(rows[i].weight), w1 = static_cast<float>(rows[i + 1].weight);
    const float w2 = static_cast<float>(rows[i + 2].weight), w3 = static_cast<float>(rows[i + 3].weight);
    const float *b0 = basis(i), *b1 = basis(i + 1), *b2 = basis(i + 2), *b3 = basis(i + 3);
    for (int d = 0; d < dim; ++d) {
      float s = out[d];
      s += w0 * b0[d];
      s += w1 * b1[d];
      s += w2 * b2[d];
      s += w3 * b3[d];
      out[d] = s;
    }
  }
  for (; i < rows.size(); ++i) {
    const float w = static_cast<float>(rows[i].weight);
    const float* b = basis(i);
    for (int d = 0; d < dim; ++d) out[d] += w * b[d];
  }
  return q;
}

std::vector<std::pair<int, double>> ModelBundle::HistoryRowWeights(absl::Span<const HistoryEvent> history) const {
  std::vector<std::pair<int, double>> out;
  for (const WeightedRow& r : HistoryWeights(*this, impl_->a, history)) out.push_back({r.row, r.weight});
  return out;
}

const SequenceModel* ModelBundle::sequence_model() const { return impl_->sequence.get(); }

double ModelBundle::sequence_blend_w() const { return impl_->a.sequence_blend_w; }

std::vector<float> ModelBundle::ScoreAllServed(absl::Span<const HistoryEvent> history) const {
  return BlendSequence(ScoreAll(history), history);
}

std::vector<float> ModelBundle::BlendSequence(std::vector<float> s, absl::Span<const HistoryEvent> history) const {
  const SequenceModel* gru = impl_->sequence.get();
  if (gru == nullptr || !HasWeightedRow(*this, impl_->a, history)) return s;
  std::vector<std::string> ids;
  ids.reserve(history.size());
  for (const HistoryEvent& e : history) {
    if (e.weight > 0) ids.push_back(e.course_id);
  }
  absl::StatusOr<std::vector<float>> scored = ids.empty() ? absl::NotFoundError("") : gru->Score(ids);
  const std::vector<float> g = scored.ok() ? *std::move(scored) : gru->PriorScores();
  const int n = num_items();
  double s_sum = 0, s_sum2 = 0, g_sum = 0, g_sum2 = 0;
  int64_t g_count = 0;
  for (int j = 0; j < n; ++j) {
    s_sum += s[j];
    s_sum2 += static_cast<double>(s[j]) * s[j];
    const int r = impl_->sequence_row[j];
    if (r >= 0) {
      g_sum += g[r];
      g_sum2 += static_cast<double>(g[r]) * g[r];
      ++g_count;
    }
  }
  const double s_mean = s_sum / n;
  const double s_sd = std::sqrt(std::max(0.0, s_sum2 / n - s_mean * s_mean));
  const double g_mean = g_count > 0 ? g_sum / g_count : 0;
  const double g_var = g_count > 0 ? std::max(0.0, g_sum2 / g_count - g_mean * g_mean) : 0;
  if (!(s_sd > 0) || !(g_var > 0)) return s;
  const double scale = impl_->a.sequence_blend_w * s_sd / std::sqrt(g_var);
  for (int j = 0; j < n; ++j) {
    const int r = impl_->sequence_row[j];
    if (r >= 0) s[j] = static_cast<float>(s[j] + scale * (g[r] - g_mean));
  }
  return s;
}

std::vector<float> ModelBundle::ScoreAll(absl::Span<const HistoryEvent> history) const {
  const ModelArrays& a = impl_->a;
  const int n = num_items();
  std::vector<WeightedRow> rows = HistoryWeights(*this, a, history);
  if (rows.empty()) return impl_->popularity;  // same fallback as Recommend
  std::vector<float> scores(n, 0.0f);
  if (a.sparse) {
    // The history's rows of M, in HistoryWeights order, accumulated in
    // double (SparseItemModel::Score's order).
    std::vector<double> acc(n, 0.0);
    for (const WeightedRow& r : rows) {
      for (int64_t e = a.sparse_row_start[r.row]; e < a.sparse_row_start[r.row + 1]; ++e) {
        acc[a.sparse_target[e]] += r.weight * a.sparse_weight[e];
      }
    }
    for (int j = 0; j < n; ++j) scores[j] = static_cast<float>(acc[j]);
  } else if (a.identity_query) {
    // Sparse query: only the history's coordinates are non-zero.
    for (int j = 0; j < n; ++j) {
      const float* v = a.item_vectors.data() + static_cast<size_t>(j) * a.dim;
      double s = 0;
      for (const WeightedRow& r : rows) s += r.weight * v[r.row];
      scores[j] = static_cast<float>(s);
    }
  } else {
    std::vector<float> q = LearnerVector(history);
    for (int j = 0; j < n; ++j) {
      scores[j] = static_cast<float>(Dot(q.data(), a.item_vectors.data() + static_cast<size_t>(j) * a.dim, a.dim));
    }
  }
  return scores;
}

absl::StatusOr<std::vector<std::vector<Candidate>>> ModelBundle::SearchBatch(absl::Span<const float> queries,
                                                                             int num_queries, int k) const {
  if (impl_->a.sparse) {
    const int d = impl_->a.dim;
    if (k <= 0) return absl::InvalidArgumentError("k: must be positive");
    if (num_queries < 0 || queries.size() != static_cast<size_t>(num_queries) * d) {
      return absl::InvalidArgumentError(
          absl::StrCat("queries: expected num_queries * ", d, " floats, got ", queries.size()));
    }
    std::vector<std::vector<Candidate>> out(num_queries);
    for (int q = 0; q < num_queries; ++q) {
      out[q] = SparseTopK(impl_->a, impl_->index_rows, queries.data() + static_cast<size_t>(q) * d, k);
    }
    return out;
  }
  return SearchIndex(impl_->index.get(), impl_->index_rows, impl_->a.dim, queries, num_queries, k);
}

std::vector<Candidate> ModelBundle::Recommend(absl::Span<const HistoryEvent> history, int k,
                                              absl::Span<const std::string> exclude) const {
  absl::flat_hash_set<int> excluded;
  for (const HistoryEvent& e : history) {
    if (std::optional<int> r = Row(e.course_id)) excluded.insert(*r);
  }
  for (const std::string& id : exclude) {
    if (std::optional<int> r = Row(id)) excluded.insert(*r);
  }
  std::vector<Candidate> out;
  if (k <= 0) return out;
  if (!HasWeightedRow(*this, impl_->a, history)) {
    for (int row : impl_->popular_rows) {
      if (static_cast<int>(out.size()) >= k) break;
      if (!excluded.contains(row)) out.push_back({row, impl_->popularity[row]});
    }
    return out;
  }
  std::vector<float> q = LearnerVector(history);
  auto found = SearchBatch(q, 1, k + static_cast<int>(excluded.size()));
  if (!found.ok()) return out;
  for (const Candidate& c : (*found)[0]) {
    if (static_cast<int>(out.size()) >= k) break;
    if (!excluded.contains(c.row)) out.push_back(c);
  }
  return out;
}

float ModelBundle::ItemToItem(int from_row, int to_row) const {
  const ModelArrays& a = impl_->a;
  if (a.counts[from_row] <= 0) return 0.0f;
  if (a.sparse) {
    const auto begin = a.sparse_target.begin() + a.sparse_row_start[from_row];
    const auto end = a.sparse_target.begin() + a.sparse_row_start[from_row + 1];
    const auto it = std::lower_bound(begin, end, to_row);
    return (it != end && *it == to_row) ? a.sparse_weight[it - a.sparse_target.begin()] : 0.0f;
  }
  const float* item = a.item_vectors.data() + static_cast<size_t>(to_row) * a.dim;
  if (a.identity_query) return item[from_row];
  return static_cast<float>(Dot(a.query_basis.data() + static_cast<size_t>(from_row) * a.dim, item, a.dim));
}

void ModelBundle::ItemToItemEach(absl::Span<const int> from_rows, int to_row, absl::Span<float> out) const {
  const ModelArrays& a = impl_->a;
  const int count = static_cast<int>(std::min(from_rows.size(), out.size()));
  if (a.sparse || a.identity_query) {
    for (int i = 0; i < count; ++i) out[i] = ItemToItem(from_rows[i], to_row);
    return;
  }
  // Dense query basis: Dot(basis row, item) for every from row, several rows
  // at once (DotEachInOrder: the same doubles as ItemToItem's Dot).
  constexpr int kBlock = 64;
  const float* item = a.item_vectors.data() + static_cast<size_t>(to_row) * a.dim;
  const float* rows[kBlock];
  double dots[kBlock];
  for (int start = 0; start < count; start += kBlock) {
    const int m = std::min(kBlock, count - start);
    for (int i = 0; i < m; ++i) rows[i] = a.query_basis.data() + static_cast<size_t>(from_rows[start + i]) * a.dim;
    DotEachInOrder(rows, item, a.dim, m, dots);
    for (int i = 0; i < m; ++i) {
      out[start + i] = a.counts[from_rows[start + i]] <= 0 ? 0.0f : static_cast<float>(dots[i]);
    }
  }
}

std::optional<Contribution> ModelBundle::TopContributor(absl::Span<const HistoryEvent> history, int row) const {
  std::optional<Contribution> best;
  const std::vector<WeightedRow> rows = HistoryWeights(*this, impl_->a, history);
  std::vector<int> from_rows(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) from_rows[i] = rows[i].row;
  std::vector<float> item_to_item(rows.size());
  ItemToItemEach(from_rows, row, absl::MakeSpan(item_to_item));
  for (size_t i = 0; i < rows.size(); ++i) {
    const WeightedRow& r = rows[i];
    const float share = static_cast<float>(r.weight * item_to_item[i]);
    if (share > 0 && (!best.has_value() || share > best->score)) {
      best = Contribution{r.history_index, history[r.history_index].course_id, share};
    }
  }
  return best;
}

std::vector<float> ModelBundle::EmbedText(absl::string_view text) const {
  return EmbedTextWithIdf(text, impl_->a.idf, impl_->a.content_dim);
}

absl::StatusOr<std::vector<std::vector<Candidate>>> ModelBundle::SearchContentBatch(absl::Span<const float> queries,
                                                                                    int num_queries, int k) const {
  return SearchIndex(impl_->content_index.get(), impl_->content_rows, impl_->a.content_dim, queries, num_queries, k);
}

std::vector<Candidate> ModelBundle::SimilarCourses(int row, int k) const {
  std::vector<Candidate> out;
  if (k <= 0 || !HasContent(row)) return out;
  auto found = SearchContentBatch(ContentVector(row), 1, k + 1);
  if (!found.ok()) return out;
  for (const Candidate& c : (*found)[0]) {
    if (c.row == row) continue;
    if (static_cast<int>(out.size()) >= k) break;
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const ModelBundle>> BuildModelBundle(ModelArrays arrays, nlohmann::json manifest,
                                                                    int64_t version, std::string directory,
                                                                    const BuildOptions& options) {
  const size_t n = arrays.course_ids.size();
  auto bad = [](absl::string_view what) { return absl::InvalidArgumentError(what); };
  if (arrays.counts.size() != n) return bad("counts: one per item expected");
  if (!arrays.completions.empty() && arrays.completions.size() != n) {
    return bad("completions: one per item expected, or none");
  }
  if (arrays.sparse) {
    if (!arrays.identity_query || static_cast<size_t>(arrays.dim) != n) {
      return bad("sparse: needs identity_query and dim == num_items");
    }
    if (!arrays.item_vectors.empty()) return bad("item_vectors: must be empty for a sparse model");
    if (arrays.sparse_row_start.size() != n + 1 || arrays.sparse_row_start[0] != 0) {
      return bad("sparse_row_start: num_items + 1 entries starting at 0 expected");
    }
    if (arrays.sparse_weight.size() != arrays.sparse_target.size() ||
        arrays.sparse_row_start[n] != static_cast<int64_t>(arrays.sparse_target.size())) {
      return bad("sparse_target/sparse_weight: sparse_row_start[num_items] entries each expected");
    }
    for (size_t i = 0; i < n; ++i) {
      if (arrays.sparse_row_start[i + 1] < arrays.sparse_row_start[i]) {
        return bad(absl::StrCat("sparse_row_start[", i + 1, "]: decreases"));
      }
      for (int64_t e = arrays.sparse_row_start[i]; e < arrays.sparse_row_start[i + 1]; ++e) {
        const int32_t t = arrays.sparse_target[e];
        if (t < 0 || static_cast<size_t>(t) >= n ||
            (e > arrays.sparse_row_start[i] && t <= arrays.sparse_target[e - 1])) {
          return bad(absl::StrCat("sparse_target: row ", i, " needs ascending targets in [0, num_items)"));
        }
        if (!std::isfinite(arrays.sparse_weight[e])) {
          return bad(absl::StrCat("sparse_weight[", e, "]: not finite"));
        }
      }
    }
  } else if (!arrays.sparse_row_start.empty() || !arrays.sparse_target.empty() || !arrays.sparse_weight.empty()) {
    return bad("sparse_*: must be empty unless sparse");
  } else if (arrays.dim < 0 || arrays.item_vectors.size() != n * static_cast<size_t>(arrays.dim)) {
    return bad("item_vectors: num_items x dim floats expected");
  }
  if (arrays.identity_query) {
    if (static_cast<size_t>(arrays.dim) != n) return bad("dim: must equal num_items for identity query");
    if (!arrays.query_basis.empty()) return bad("query_basis: must be empty for identity query");
  } else if (arrays.query_basis.size() != n * static_cast<size_t>(arrays.dim)) {
    return bad("query_basis: num_items x dim floats expected");
  }
  if (arrays.content_dim < 0 || arrays.content.size() != n * static_cast<size_t>(arrays.content_dim)) {
    return bad("content: num_items x content_dim floats expected");
  }
  if (!arrays.idf.empty() && arrays.idf.size() != static_cast<size_t>(kTextHashBuckets)) {
    return bad("idf: kTextHashBuckets floats expected");
  }
  if (!(arrays.recency_decay > 0 && arrays.recency_decay <= 1)) {
    return bad("recency_decay: must be in (0, 1]");
  }
  if (arrays.max_history < 1) return bad("max_history: must be positive");
  std::unique_ptr<const SequenceModel> sequence;
  if (!arrays.sequence_model.empty()) {
    if (!(arrays.sequence_blend_w >= 0) || !std::isfinite(arrays.sequence_blend_w)) {
      return bad("sequence_blend_w: must be finite and >= 0");
    }
    absl::StatusOr<SequenceModel> decoded = SequenceModel::Decode(arrays.sequence_model);
    if (!decoded.ok()) return bad(absl::StrCat("sequence_model: ", decoded.status().message()));
    sequence = std::make_unique<const SequenceModel>(*std::move(decoded));
  }

  auto impl = std::make_unique<ModelBundle::Impl>();
  impl->version = version;
  impl->directory = std::move(directory);
  impl->manifest = std::move(manifest);
  for (size_t r = 0; r < n; ++r) {
    if (arrays.course_ids[r].empty()) return bad(absl::StrCat("course_ids[", r, "]: empty"));
    if (!impl->row_of.emplace(arrays.course_ids[r], static_cast<int>(r)).second) {
      return bad(absl::StrCat("course_ids: duplicate \"", arrays.course_ids[r], "\""));
    }
  }
  int64_t max_count = 0;
  for (int64_t c : arrays.counts) max_count = std::max(max_count, c);
  impl->popularity.assign(n, 0.0f);
  for (size_t r = 0; r < n; ++r) {
    if (max_count > 0) impl->popularity[r] = static_cast<float>(arrays.counts[r]) / max_count;
  }
  impl->popular_rows.resize(n);
  std::iota(impl->popular_rows.begin(), impl->popular_rows.end(), 0);
  std::stable_sort(impl->popular_rows.begin(), impl->popular_rows.end(),
                   [&](int x, int y) { return arrays.counts[x] > arrays.counts[y]; });
  impl->has_content.assign(n, 0);
  for (size_t r = 0; r < n; ++r) {
    const float* v = arrays.content.data() + r * arrays.content_dim;
    for (int d = 0; d < arrays.content_dim; ++d) {
      if (v[d] != 0.0f) {
        impl->has_content[r] = 1;
        break;
      }
    }
  }
  impl->item_norm.assign(n, 0.0f);
  if (arrays.sparse) {
    // CSC copy of M (columns = item vectors).
    impl->col_start.assign(n + 1, 0);
    for (int32_t t : arrays.sparse_target) ++impl->col_start[t + 1];
    for (size_t j = 0; j < n; ++j) impl->col_start[j + 1] += impl->col_start[j];
    impl->col_source.resize(arrays.sparse_target.size());
    impl->col_weight.resize(arrays.sparse_target.size());
    std::vector<int64_t> fill(impl->col_start.begin(), impl->col_start.end() - 1);
    std::vector<double> norm2(n, 0.0);
    for (size_t i = 0; i < n; ++i) {
      for (int64_t e = arrays.sparse_row_start[i]; e < arrays.sparse_row_start[i + 1]; ++e) {
        const int32_t t = arrays.sparse_target[e];
        impl->col_source[fill[t]] = static_cast<int32_t>(i);
        impl->col_weight[fill[t]] = arrays.sparse_weight[e];
        ++fill[t];
        norm2[t] += static_cast<double>(arrays.sparse_weight[e]) * arrays.sparse_weight[e];
      }
    }
    for (size_t j = 0; j < n; ++j) impl->item_norm[j] = static_cast<float>(std::sqrt(norm2[j]));
  } else {
    for (size_t j = 0; j < n; ++j) {
      const float* v = arrays.item_vectors.data() + j * arrays.dim;
      impl->item_norm[j] = static_cast<float>(std::sqrt(Dot(v, v, arrays.dim)));
    }
  }
  if (arrays.sparse) {
    // No FAISS index: SearchBatch scans the CSR rows exactly.
    for (size_t r = 0; r < n; ++r) {
      if (arrays.counts[r] > 0) impl->index_rows.push_back(static_cast<int>(r));
    }
    impl->index_info.kind = impl->index_rows.empty() ? "none" : "sparse";
    impl->index_info.indexed_items = static_cast<int>(impl->index_rows.size());
  }
  if (options.build_indexes) {
    std::vector<float> vecs;
    for (size_t r = 0; r < n; ++r) {
      if (arrays.sparse || arrays.counts[r] <= 0 || arrays.dim == 0) continue;
      impl->index_rows.push_back(static_cast<int>(r));
      vecs.insert(vecs.end(), arrays.item_vectors.begin() + r * arrays.dim,
                  arrays.item_vectors.begin() + (r + 1) * arrays.dim);
    }
    if (!arrays.sparse && !impl->index_rows.empty()) {
      absl::Status s = BuildIndex(vecs.data(), static_cast<int>(impl->index_rows.size()), arrays.dim, options,
                                  &impl->index, &impl->index_quantizer, &impl->index_info);
      if (!s.ok()) return s;
    }
    std::vector<float> cvecs;
    for (size_t r = 0; r < n; ++r) {
      if (!impl->has_content[r]) continue;
      impl->content_rows.push_back(static_cast<int>(r));
      cvecs.insert(cvecs.end(), arrays.content.begin() + r * arrays.content_dim,
                   arrays.content.begin() + (r + 1) * arrays.content_dim);
    }
    if (!impl->content_rows.empty()) {
      absl::Status s = BuildIndex(cvecs.data(), static_cast<int>(impl->content_rows.size()), arrays.content_dim,
                                  options, &impl->content_index, &impl->content_quantizer, &impl->content_index_info);
      if (!s.ok()) return s;
    }
  }
  if (sequence != nullptr) {
    impl->sequence_row.assign(n, -1);
    for (size_t r = 0; r < n; ++r) impl->sequence_row[r] = sequence->Row(arrays.course_ids[r]);
    impl->sequence = std::move(sequence);
  }
  impl->a = std::move(arrays);
  return std::shared_ptr<const ModelBundle>(new ModelBundle(std::move(impl)));
}

}  // namespace lifelong::models
