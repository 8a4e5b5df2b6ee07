#include "models/trainer.h"

#include <cblas.h>
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "models/sparse_ease.h"
#include "models/text_embedding.h"

extern "C" {
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotrs_(const char* uplo, const int* n, const int* nrhs, const double* a, const int* lda, double* b,
             const int* ldb, int* info);
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void spotri_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void spotrs_(const char* uplo, const int* n, const int* nrhs, const float* a, const int* lda, float* b, const int* ldb,
             int* info);
}

namespace lifelong::models {
namespace {

// Cholesky factorisation of the symmetric positive definite n x n matrix `a`
// (both triangles filled) in place.
absl::Status Cholesky(std::vector<double>* a, int n) {
  int info = 0;
  const char uplo = 'L';
  dpotrf_(&uplo, &n, a->data(), &n, &info);
  if (info != 0) {
    return absl::InternalError(absl::StrCat("Cholesky factorisation failed (info ", info, ")"));
  }
  return absl::OkStatus();
}

// The same in float32 (half the time of the double routines here): for
// tuning trials, whose models only rank parameter settings.
absl::Status SingleCholeskySolve(const std::vector<double>& a, std::vector<double>* b, int n) {
  std::vector<float> af(a.begin(), a.end()), bf(b->begin(), b->end());
  int info = 0;
  const char uplo = 'L';
  spotrf_(&uplo, &n, af.data(), &n, &info);
  if (info != 0) {
    return absl::InternalError(absl::StrCat("Cholesky factorisation failed (info ", info, ")"));
  }
  spotrs_(&uplo, &n, &n, af.data(), &n, bf.data(), &n, &info);
  if (info != 0) return absl::InternalError(absl::StrCat("ridge solve failed (info ", info, ")"));
  std::copy(bf.begin(), bf.end(), b->begin());
  return absl::OkStatus();
}

absl::Status SingleInverse(std::vector<double>* a, int n) {
  std::vector<float> af(a->begin(), a->end());
  int info = 0;
  const char uplo = 'L';
  spotrf_(&uplo, &n, af.data(), &n, &info);
  if (info != 0) {
    return absl::InternalError(absl::StrCat("Cholesky factorisation failed (info ", info, ")"));
  }
  spotri_(&uplo, &n, af.data(), &n, &info);
  if (info != 0) return absl::InternalError(absl::StrCat("EASE inverse failed (info ", info, ")"));
  std::copy(af.begin(), af.end(), a->begin());
  return absl::OkStatus();
}

// Orthonormalises the columns of the n x r column-major matrix `y` (modified
// Gram-Schmidt, two passes). Degenerate columns are replaced by random ones.
void Orthonormalize(std::vector<double>* y, int n, int r, std::mt19937_64* rng) {
  std::normal_distribution<double> g;
  for (int c = 0; c < r; ++c) {
    double* v = y->data() + static_cast<size_t>(c) * n;
    for (int attempt = 0; attempt < 3; ++attempt) {
      for (int pass = 0; pass < 2; ++pass) {
        for (int p = 0; p < c; ++p) {
          const double* q = y->data() + static_cast<size_t>(p) * n;
          double d = 0;
          for (int i = 0; i < n; ++i) d += q[i] * v[i];
          for (int i = 0; i < n; ++i) v[i] -= d * q[i];
        }
      }
      double norm = 0;
      for (int i = 0; i < n; ++i) norm += v[i] * v[i];
      norm = std::sqrt(norm);
      if (norm > 1e-10) {
        for (int i = 0; i < n; ++i) v[i] /= norm;
        break;
      }
      for (int i = 0; i < n; ++i) v[i] = g(*rng);
    }
  }
}

absl::Status CheckOptions(const TrainOptions& o) {
  auto bad = [](absl::string_view field, absl::string_view rule) {
    return absl::InvalidArgumentError(absl::StrCat("options.", field, ": ", rule));
  };
  if (!(o.recency_decay > 0 && o.recency_decay <= 1)) return bad("recency_decay", "must be in (0, 1]");
  if (!(o.target_decay > 0 && o.target_decay <= 1)) return bad("target_decay", "must be in (0, 1]");
  if (o.source_window < 1) return bad("source_window", "must be >= 1");
  if (o.target_window < 1) return bad("target_window", "must be >= 1");
  if (!(o.lambda_seq > 0)) return bad("lambda_seq", "must be > 0");
  if (!(o.lambda_set > 0)) return bad("lambda_set", "must be > 0");
  if (!(o.set_mix >= 0 && o.set_mix <= 1)) return bad("set_mix", "must be in [0, 1]");
  if (!(o.popularity_exponent >= 0 && o.popularity_exponent <= 2)) {
    return bad("popularity_exponent", "must be in [0, 2]");
  }
  if (o.max_items < 1) return bad("max_items", "must be >= 1");
  if (o.dense_max_items < 1) return bad("dense_max_items", "must be >= 1");
  if (o.low_rank_dim < 1) return bad("low_rank_dim", "must be >= 1");
  if (o.exact_max_items < 0) return bad("exact_max_items", "must be >= 0");
  if (o.dense_solve_max_items < 0) return bad("dense_solve_max_items", "must be >= 0");
  if (o.sparse_candidates < 1) return bad("sparse_candidates", "must be >= 1");
  if (o.sparse_neighbours < 1) return bad("sparse_neighbours", "must be >= 1");
  if (o.approximation != "pruned" && o.approximation != "low_rank") {
    return bad("approximation", "must be \"pruned\" or \"low_rank\"");
  }
  if (o.pruned_neighbours < 1) return bad("pruned_neighbours", "must be >= 1");
  if (o.content_dim < 1 || o.content_dim > 4096) return bad("content_dim", "must be in [1, 4096]");
  if (o.max_history < 1) return bad("max_history", "must be >= 1");
  return absl::OkStatus();
}

// Row-major copy of the column-major n x r matrix `x` and back.
std::vector<double> ToRowMajor(const std::vector<double>& x, int n, int r) {
  std::vector<double> out(x.size());
  for (int c = 0; c < r; ++c) {
    for (int i = 0; i < n; ++i) out[static_cast<size_t>(i) * r + c] = x[static_cast<size_t>(c) * n + i];
  }
  return out;
}
std::vector<double> ToColMajor(const std::vector<double>& x, int n, int r) {
  std::vector<double> out(x.size());
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < r; ++c) out[static_cast<size_t>(c) * n + i] = x[static_cast<size_t>(i) * r + c];
  }
  return out;
}

// y = M x (transpose = false) or M' x (true) for the sparse M (CSR by row,
// nc x nc) and column-major nc x r matrices.
std::vector<double> SparseTimes(const SparseItemModel& m, const std::vector<double>& x, int r, bool transpose) {
  const int nc = static_cast<int>(m.counts.size());
  const std::vector<double> xr = ToRowMajor(x, nc, r);
  std::vector<double> yr(xr.size(), 0.0);
  for (int i = 0; i < nc; ++i) {
    for (int64_t e = m.row_start[i]; e < m.row_start[i + 1]; ++e) {
      const double w = m.weight[e];
      const int t = m.target[e];
      const double* src = xr.data() + static_cast<size_t>(transpose ? i : t) * r;
      double* dst = yr.data() + static_cast<size_t>(transpose ? t : i) * r;
      for (int c = 0; c < r; ++c) dst[c] += w * src[c];
    }
  }
  return ToColMajor(yr, nc, r);
}

}  // namespace

nlohmann::json TrainOptions::ToJson() const {
  return {{"recency_decay", recency_decay},
          {"target_decay", target_decay},
          {"source_window", source_window},
          {"target_window", target_window},
          {"lambda_seq", lambda_seq},
          {"lambda_set", lambda_set},
          {"set_mix", set_mix},
          {"popularity_exponent", popularity_exponent},
          {"max_items", max_items},
          {"dense_max_items", dense_max_items},
          {"exact_max_items", exact_max_items},
          {"approximation", approximation},
          {"pruned_neighbours", pruned_neighbours},
          {"dense_solve_max_items", dense_solve_max_items},
          {"sparse_candidates", sparse_candidates},
          {"sparse_neighbours", sparse_neighbours},
          {"low_rank_dim", low_rank_dim},
          {"content_dim", content_dim},
          {"max_history", max_history},
          {"seed", seed}};
}

absl::StatusOr<TrainOptions> TrainOptions::FromJson(const nlohmann::json& j) {
  TrainOptions o;
  if (!j.is_object()) return absl::InvalidArgumentError("options: must be a JSON object");
  try {
    auto get = [&j](const char* key, auto* field) {
      if (j.contains(key)) *field = j[key].get<std::decay_t<decltype(*field)>>();
    };
    get("recency_decay", &o.recency_decay);
    get("target_decay", &o.target_decay);
    get("source_window", &o.source_window);
    get("target_window", &o.target_window);
    get("lambda_seq", &o.lambda_seq);
    get("lambda_set", &o.lambda_set);
    get("set_mix", &o.set_mix);
    get("popularity_exponent", &o.popularity_exponent);
    get("max_items", &o.max_items);
    get("dense_max_items", &o.dense_max_items);
    get("exact_max_items", &o.exact_max_items);
    get("approximation", &o.approximation);
    get("pruned_neighbours", &o.pruned_neighbours);
    get("dense_solve_max_items", &o.dense_solve_max_items);
    get("sparse_candidates", &o.sparse_candidates);
    get("sparse_neighbours", &o.sparse_neighbours);
    get("low_rank_dim", &o.low_rank_dim);
    get("content_dim", &o.content_dim);
    get("max_history", &o.max_history);
    get("seed", &o.seed);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("options: wrong type: ", e.what()));
  }
  absl::Status s = CheckOptions(o);
  if (!s.ok()) return s;
  return o;
}

nlohmann::json TrainingSelection::ToJson() const {
  return {{"learners_capped", learners_capped},
          {"capped_pairs", capped_pairs},
          {"max_learner_courses", kMaxLearnerCourses},
          {"outside_catalog_courses", outside_catalog_courses},
          {"outside_catalog_pairs", outside_catalog_pairs},
          {"outside_catalog_kept", outside_catalog_kept},
          {"min_learners_outside_catalog", kMinLearnersOutsideCatalog}};
}

std::vector<std::pair<std::string, std::vector<Interaction>>> TrainingSequences(
    const std::vector<Interaction>& interactions, const std::vector<CatalogCourse>& catalog,
    TrainingSelection* selection) {
  TrainingSelection local;
  TrainingSelection& sel = selection != nullptr ? *selection : local;
  sel = TrainingSelection();
  auto seqs = GroupSequences(interactions);
  // 1. Each learner's most recent kMaxLearnerCourses courses (a sequence is
  // oldest first).
  for (auto& [learner, seq] : seqs) {
    if (seq.size() <= static_cast<size_t>(kMaxLearnerCourses)) continue;
    ++sel.learners_capped;
    sel.capped_pairs += static_cast<int64_t>(seq.size()) - kMaxLearnerCourses;
    seq.erase(seq.begin(), seq.end() - kMaxLearnerCourses);
  }
  if (catalog.empty()) return seqs;
  // 2. Courses outside the catalog: kept with enough learners.
  absl::flat_hash_set<std::string> in_catalog;
  for (const CatalogCourse& c : catalog) in_catalog.insert(c.id);
  absl::flat_hash_map<std::string, int64_t> outside;  // course -> learners
  for (const auto& [learner, seq] : seqs) {
    for (const Interaction& x : seq) {
      if (!in_catalog.contains(x.course_id)) ++outside[x.course_id];
    }
  }
  if (outside.empty()) return seqs;
  absl::flat_hash_set<std::string> dropped;
  for (const auto& [course, learners] : outside) {
    if (learners >= kMinLearnersOutsideCatalog) {
      ++sel.outside_catalog_kept;
    } else {
      dropped.insert(course);
      ++sel.outside_catalog_courses;
      sel.outside_catalog_pairs += learners;
    }
  }
  if (dropped.empty()) return seqs;
  std::vector<std::pair<std::string, std::vector<Interaction>>> kept;
  kept.reserve(seqs.size());
  for (auto& [learner, seq] : seqs) {
    seq.erase(std::remove_if(seq.begin(), seq.end(),
                             [&dropped](const Interaction& x) { return dropped.contains(x.course_id); }),
              seq.end());
    if (!seq.empty()) kept.push_back({std::move(learner), std::move(seq)});
  }
  return kept;
}

std::vector<Interaction> SelectTrainingInteractions(const std::vector<Interaction>& interactions,
                                                    const std::vector<CatalogCourse>& catalog,
                                                    TrainingSelection* selection) {
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> kept;  // learner -> courses
  for (auto& [learner, seq] : TrainingSequences(interactions, catalog, selection)) {
    absl::flat_hash_set<std::string>& courses = kept[learner];
    for (Interaction& x : seq) courses.insert(std::move(x.course_id));
  }
  std::vector<Interaction> out;
  for (const Interaction& x : interactions) {
    if (!(x.weight > 0)) continue;
    auto it = kept.find(x.learner);
    if (it != kept.end() && it->second.contains(x.course_id)) out.push_back(x);
  }
  return out;
}

nlohmann::json TrainStats::ToJson() const {
  nlohmann::json j = {
      {"interactions_used", interactions_used},     {"learners", learners}, {"items", items},
      {"collaborative_items", collaborative_items}, {"seconds", seconds},   {"collaborative_path", collaborative_path}};
  if (collaborative_path == "sparse" || collaborative_path == "sparse_pruned") j["sparse_entries"] = sparse_entries;
  if (collaborative_path == "sparse_pruned") j["exact_entries"] = exact_entries;
  if (approximation_recall_at_10 >= 0) {
    j["approximation_recall_at_10"] = approximation_recall_at_10;
    j["approximation_queries"] = approximation_queries;
  }
  j["selection"] = selection.ToJson();
  return j;
}

// ---- ModelTrainer --------------------------------------------------------

ModelTrainer::ModelTrainer(const std::vector<Interaction>& interactions, const std::vector<CatalogCourse>& catalog,
                           int max_items, bool single_precision)
    : max_items_(max_items), single_precision_(single_precision), catalog_(catalog) {
  // Bounded before anything is built: rows of at most kMaxLearnerCourses,
  // no course that only a few learners name outside the catalog.
  auto seqs = TrainingSequences(interactions, catalog, &selection_);

  // Vocabulary: the max_items most popular courses, sorted by id.
  absl::flat_hash_map<std::string, int64_t> count;
  absl::flat_hash_map<std::string, int64_t> completed;
  for (const auto& [learner, seq] : seqs) {
    for (const Interaction& x : seq) {
      count[x.course_id] += 1;
      if (x.weight >= 1.0f) completed[x.course_id] += 1;
    }
  }
  std::vector<std::pair<std::string, int64_t>> by_count(count.begin(), count.end());
  std::sort(by_count.begin(), by_count.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  if (max_items >= 0 && static_cast<int>(by_count.size()) > max_items) by_count.resize(max_items);
  std::sort(by_count.begin(), by_count.end());
  for (const auto& [id, c] : by_count) {
    row_of_[id] = static_cast<int>(vocabulary_.course_ids.size());
    vocabulary_.course_ids.push_back(id);
    vocabulary_.counts.push_back(c);
    auto done = completed.find(id);
    vocabulary_.completions.push_back(done == completed.end() ? 0 : done->second);
  }
  nc_ = static_cast<int>(vocabulary_.course_ids.size());
  for (const CatalogCourse& c : catalog) {
    if (row_of_.contains(c.id)) continue;
    row_of_[c.id] = static_cast<int>(vocabulary_.course_ids.size());
    vocabulary_.course_ids.push_back(c.id);
    vocabulary_.counts.push_back(0);
    vocabulary_.completions.push_back(0);
  }

  // Learner sequences as collaborative rows.
  for (const auto& [learner, seq] : seqs) {
    std::vector<std::pair<int, double>> r;
    for (const Interaction& x : seq) {
      auto it = row_of_.find(x.course_id);
      if (it != row_of_.end() && it->second < nc_) r.push_back({it->second, x.weight});
    }
    used_ += static_cast<int64_t>(r.size());
    if (!r.empty()) rows_.push_back(std::move(r));
  }
}

ModelTrainer::~ModelTrainer() = default;

absl::Status ModelTrainer::MeasureApproximationRecall(const ModelArrays& a, const ExactScores& exact,
                                                      TrainStats* stats) const {
  constexpr int kK = 10;
  // The bundle the loader would build: LearnerVector + its FAISS index.
  // A sparse bundle needs no FAISS index for this (SearchBatch scans its
  // rows as ExactScorer does); the content index is not measured.
  BuildOptions bo;
  bo.build_indexes = !a.sparse;
  absl::StatusOr<std::shared_ptr<const ModelBundle>> bundle = BuildModelBundle(a, nlohmann::json::object(), 0, "", bo);
  if (!bundle.ok()) return bundle.status();
  const ModelBundle& b = **bundle;
  const int n = static_cast<int>(a.course_ids.size());
  std::vector<size_t> learners;
  for (size_t u = 0; u < rows_.size(); ++u) {
    if (rows_[u].size() >= 2) learners.push_back(u);
  }
  const size_t quota = std::min<size_t>(learners.size(), kApproximationRecallQueries);
  // Exact top 10 of each sampled history (evenly spaced learners, each
  // sequence without its last course), history courses excluded.
  std::vector<std::vector<int>> want, excluded;
  std::vector<float> queries;
  std::vector<double> acc(n);
  std::vector<char> in_history(n, 0);
  std::vector<Candidate> ranked;
  size_t most_excluded = 0;
  for (size_t x = 0; x < quota; ++x) {
    const auto& r = rows_[learners[x * learners.size() / quota]];
    std::vector<HistoryEvent> history;
    for (size_t e = 0; e + 1 < r.size(); ++e) {
      history.push_back({a.course_ids[r[e].first], static_cast<float>(r[e].second)});
    }
    const std::vector<std::pair<int, double>> q = b.HistoryRowWeights(history);
    if (q.empty()) continue;
    std::fill(acc.begin(), acc.end(), 0.0);
    exact(q, &acc);
    std::vector<int> ex;
    for (size_t e = 0; e + 1 < r.size(); ++e) {
      if (!in_history[r[e].first]) ex.push_back(r[e].first);
      in_history[r[e].first] = 1;
    }
    ranked.clear();
    for (int j = 0; j < nc_; ++j) {
      if (!in_history[j] && a.counts[j] > 0) ranked.push_back({j, static_cast<float>(acc[j])});
    }
    for (int row : ex) in_history[row] = 0;
    const size_t kk = std::min<size_t>(kK, ranked.size());
    std::partial_sort(ranked.begin(), ranked.begin() + kk, ranked.end(), [](const Candidate& p, const Candidate& o) {
      return p.score != o.score ? p.score > o.score : p.row < o.row;
    });
    std::vector<int> top;
    for (size_t i = 0; i < kk; ++i) top.push_back(ranked[i].row);
    want.push_back(std::move(top));
    most_excluded = std::max(most_excluded, ex.size());
    excluded.push_back(std::move(ex));
    const std::vector<float> v = b.LearnerVector(history);
    queries.insert(queries.end(), v.begin(), v.end());
  }
  // The served search, batched (ModelBundle::Recommend per learner does the
  // same: k + |history| candidates from the index, history removed).
  int64_t hits = 0, total = 0;
  if (!want.empty()) {
    absl::StatusOr<std::vector<std::vector<Candidate>>> found =
        b.SearchBatch(queries, static_cast<int>(want.size()), kK + static_cast<int>(most_excluded));
    if (!found.ok()) return found.status();
    for (size_t x = 0; x < want.size(); ++x) {
      std::vector<int> got;
      for (const Candidate& c : (*found)[x]) {
        if (static_cast<int>(got.size()) >= kK) break;
        if (std::find(excluded[x].begin(), excluded[x].end(), c.row) == excluded[x].end()) {
          got.push_back(c.row);
        }
      }
      for (int row : want[x]) {
        ++total;
        hits += std::find(got.begin(), got.end(), row) != got.end();
      }
    }
  }
  stats->approximation_queries = static_cast<int64_t>(want.size());
  stats->approximation_recall_at_10 = total == 0 ? 1.0 : static_cast<double>(hits) / total;
  return absl::OkStatus();
}

template <typename Key>
ModelTrainer::Matrix ModelTrainer::Lookup(Cache<Key>* cache, const Key& key) {
  for (size_t i = 0; i < cache->size(); ++i) {
    if ((*cache)[i].first == key) {
      auto hit = std::move((*cache)[i]);
      cache->erase(cache->begin() + i);
      cache->push_back(hit);  // most recently used last
      return hit.second;
    }
  }
  return nullptr;
}

template <typename Key>
void ModelTrainer::Remember(Cache<Key>* cache, const Key& key, Matrix value, size_t capacity) {
  if (cache->size() >= capacity) cache->erase(cache->begin());
  cache->push_back({key, std::move(value)});
}

absl::StatusOr<ModelTrainer::Matrix> ModelTrainer::SetInverse(double lambda) {
  if (auto hit = Lookup(&set_cache_, lambda)) return hit;
  const int nc = nc_;
  if (gram_.empty()) {
    // X'X: independent of every hyper-parameter, computed once.
    gram_.assign(static_cast<size_t>(nc) * nc, 0.0);
    for (const auto& r : rows_) {
      for (const auto& [i, wi] : r) {
        double* gi = gram_.data() + static_cast<size_t>(i) * nc;
        for (const auto& [k, wk] : r) gi[k] += wi * wk;
      }
    }
  }
  auto g = std::make_shared<std::vector<double>>(gram_);
  for (int i = 0; i < nc; ++i) (*g)[static_cast<size_t>(i) * nc + i] += lambda;
  if (single_precision_) {
    absl::Status status = SingleInverse(g.get(), nc);
    if (!status.ok()) return status;
  } else {
    absl::Status status = Cholesky(g.get(), nc);
    if (!status.ok()) return status;
    int info = 0;
    const char uplo = 'L';
    dpotri_(&uplo, &nc, g->data(), &nc, &info);
    if (info != 0) return absl::InternalError(absl::StrCat("EASE inverse failed (info ", info, ")"));
  }
  // Column-major lower triangle = row-major upper triangle; mirror it.
  for (int i = 0; i < nc; ++i) {
    for (int j = 0; j < i; ++j) (*g)[static_cast<size_t>(i) * nc + j] = (*g)[static_cast<size_t>(j) * nc + i];
  }
  ++solves_;
  Remember(&set_cache_, lambda, g, kSetCacheCapacity);
  return std::shared_ptr<const std::vector<double>>(g);
}

absl::StatusOr<ModelTrainer::Matrix> ModelTrainer::SequenceSolution(const TrainOptions& o) {
  const SeqKey key{o.recency_decay, o.target_decay, o.lambda_seq, o.source_window, o.target_window};
  if (auto hit = Lookup(&seq_cache_, key)) return hit;
  const int nc = nc_;
  std::vector<double> ss(static_cast<size_t>(nc) * nc, 0.0);
  std::vector<double> st(static_cast<size_t>(nc) * nc, 0.0);  // (S'T)[i][j]
  std::vector<std::pair<int, double>> src, tgt;
  for (const auto& r : rows_) {
    const int len = static_cast<int>(r.size());
    for (int t = 1; t < len; ++t) {
      src.clear();
      tgt.clear();
      double norm = 0;
      for (int s = std::max(0, t - o.source_window); s < t; ++s) {
        const double w = r[s].second * std::pow(o.recency_decay, t - 1 - s);
        src.push_back({r[s].first, w});
        norm += w * w;
      }
      norm = std::sqrt(norm);
      for (auto& p : src) p.second /= norm;
      for (int u = t; u < std::min(len, t + o.target_window); ++u) {
        tgt.push_back({r[u].first, r[u].second * std::pow(o.target_decay, u - t)});
      }
      for (const auto& [i, wi] : src) {
        double* ssi = ss.data() + static_cast<size_t>(i) * nc;
        for (const auto& [k, wk] : src) ssi[k] += wi * wk;
        double* sti = st.data() + static_cast<size_t>(i) * nc;
        for (const auto& [j, wj] : tgt) sti[j] += wi * wj;
      }
    }
  }
  for (int i = 0; i < nc; ++i) ss[static_cast<size_t>(i) * nc + i] += o.lambda_seq;
  // Solve (S'S + lambda I) B = S'T. Column-major right-hand side = st
  // transposed; the column-major solution read row-major is B transposed,
  // i.e. the mt layout.
  auto rhs = std::make_shared<std::vector<double>>(static_cast<size_t>(nc) * nc);
  for (int i = 0; i < nc; ++i) {
    for (int j = 0; j < nc; ++j) (*rhs)[static_cast<size_t>(j) * nc + i] = st[static_cast<size_t>(i) * nc + j];
  }
  if (single_precision_) {
    absl::Status status = SingleCholeskySolve(ss, rhs.get(), nc);
    if (!status.ok()) return status;
  } else {
    absl::Status status = Cholesky(&ss, nc);
    if (!status.ok()) return status;
    int info = 0;
    const char uplo = 'L';
    dpotrs_(&uplo, &nc, &nc, ss.data(), &nc, rhs->data(), &nc, &info);
    if (info != 0) return absl::InternalError(absl::StrCat("ridge solve failed (info ", info, ")"));
  }
  ++solves_;
  Remember(&seq_cache_, key, rhs, kSeqCacheCapacity);
  return std::shared_ptr<const std::vector<double>>(rhs);
}

absl::StatusOr<ModelArrays> ModelTrainer::Train(const TrainOptions& o, TrainStats* stats) {
  absl::Status status = CheckOptions(o);
  if (!status.ok()) return status;
  if (o.max_items != max_items_) {
    return absl::InvalidArgumentError(
        absl::StrCat("options.max_items: this trainer's vocabulary was built for ", max_items_));
  }
  const absl::Time start = absl::Now();
  ModelArrays a = vocabulary_;
  const int nc = nc_;
  const int n = static_cast<int>(a.course_ids.size());
  if (n == 0) return absl::InvalidArgumentError("interactions: no positive interaction and no catalog course");

  // Exact scores of M for a query (row, weight) list, into acc (n entries):
  // the reference an approximation's recall is measured against.
  ExactScores exact_m;
  std::string path;
  const bool above_dense = n > o.dense_max_items && nc > 0;
  const bool exact = nc <= o.exact_max_items;
  if (above_dense && (exact || o.approximation == "pruned" || nc > o.dense_solve_max_items)) {
    // Sparse M: served exactly up to exact_max_items; beyond, its rows
    // pruned or its low-rank factorisation.
    auto sm = std::make_shared<SparseItemModel>();
    sm->counts.assign(a.counts.begin(), a.counts.begin() + nc);
    absl::Status s = TrainSparseModelOnRows(rows_, o, o.sparse_candidates, o.sparse_neighbours, sm.get());
    if (!s.ok()) return s;
    if (!exact) {
      exact_m = [sm](const std::vector<std::pair<int, double>>& q, std::vector<double>* acc) {
        for (const auto& [row, w] : q) {
          for (int64_t e = sm->row_start[row]; e < sm->row_start[row + 1]; ++e) {
            (*acc)[sm->target[e]] += w * sm->weight[e];
          }
        }
      };
    }
    if (exact || o.approximation == "pruned") {
      a.sparse = true;
      a.identity_query = true;
      a.dim = n;
      a.item_vectors.clear();
      a.query_basis.clear();
      if (exact) {
        path = "sparse";
        a.sparse_row_start = std::move(sm->row_start);
        a.sparse_target = std::move(sm->target);
        a.sparse_weight = std::move(sm->weight);
      } else {
        // Each row's pruned_neighbours largest entries (ties by target),
        // targets ascending: a subset of the exact row.
        path = "sparse_pruned";
        SparseItemModel pruned = PruneRows(*sm, o.pruned_neighbours);
        a.sparse_row_start = std::move(pruned.row_start);
        a.sparse_target = std::move(pruned.target);
        a.sparse_weight = std::move(pruned.weight);
        if (stats != nullptr) stats->exact_entries = static_cast<int64_t>(sm->target.size());
      }
      a.sparse_row_start.resize(static_cast<size_t>(n) + 1, a.sparse_row_start.back());
    } else {
      path = "low_rank";
      const int r = std::max(1, std::min(o.low_rank_dim, nc));
      a.identity_query = false;
      a.dim = r;
      a.query_basis.assign(static_cast<size_t>(n) * r, 0.0f);
      a.item_vectors.assign(static_cast<size_t>(n) * r, 0.0f);
      // The dense path's randomized range finder with sparse products.
      std::mt19937_64 rng(o.seed);
      std::normal_distribution<double> gauss;
      std::vector<double> y(static_cast<size_t>(nc) * r), z;
      for (double& v : y) v = gauss(rng);
      y = SparseTimes(*sm, y, r, /*transpose=*/false);
      for (int it = 0; it < 2; ++it) {
        Orthonormalize(&y, nc, r, &rng);
        z = SparseTimes(*sm, y, r, /*transpose=*/true);
        Orthonormalize(&z, nc, r, &rng);
        y = SparseTimes(*sm, z, r, /*transpose=*/false);
      }
      Orthonormalize(&y, nc, r, &rng);
      z = SparseTimes(*sm, y, r, /*transpose=*/true);
      for (int i = 0; i < nc; ++i) {
        for (int c = 0; c < r; ++c) {
          a.query_basis[static_cast<size_t>(i) * r + c] = static_cast<float>(y[static_cast<size_t>(c) * nc + i]);
          a.item_vectors[static_cast<size_t>(i) * r + c] = static_cast<float>(z[static_cast<size_t>(c) * nc + i]);
        }
      }
    }
  } else {
    // mt[j * nc + i] = M[i][j]: row j of mt is item j's vector over history items.
    std::vector<double> mt(static_cast<size_t>(nc) * nc, 0.0);
    if (nc > 0 && o.set_mix < 1) {
      absl::StatusOr<std::shared_ptr<const std::vector<double>>> seq = SequenceSolution(o);
      if (!seq.ok()) return seq.status();
      const double w = 1 - o.set_mix;
      const std::vector<double>& rhs = **seq;
      for (size_t x = 0; x < mt.size(); ++x) mt[x] = w * rhs[x];
    }
    if (nc > 0 && o.set_mix > 0) {
      absl::StatusOr<std::shared_ptr<const std::vector<double>>> inverse = SetInverse(o.lambda_set);
      if (!inverse.ok()) return inverse.status();
      const std::vector<double>& g = **inverse;
      // B[i][j] = -P[i][j] / P[j][j]; mt[j][i] = B[i][j] = -P[j][i] / P[j][j].
      for (int j = 0; j < nc; ++j) {
        const double pjj = g[static_cast<size_t>(j) * nc + j];
        for (int i = 0; i < nc; ++i) {
          if (i == j) continue;
          mt[static_cast<size_t>(j) * nc + i] += o.set_mix * -g[static_cast<size_t>(j) * nc + i] / pjj;
        }
      }
    }
    if (o.popularity_exponent > 0) {
      for (int j = 0; j < nc; ++j) {
        const double scale = std::pow(static_cast<double>(a.counts[j]) + 1, -o.popularity_exponent);
        for (int i = 0; i < nc; ++i) mt[static_cast<size_t>(j) * nc + i] *= scale;
      }
    }

    if (n <= o.dense_max_items) {
      path = "dense";
      a.identity_query = true;
      a.dim = n;
      a.item_vectors.assign(static_cast<size_t>(n) * n, 0.0f);
      for (int j = 0; j < nc; ++j) {
        for (int i = 0; i < nc; ++i) {
          a.item_vectors[static_cast<size_t>(j) * n + i] = static_cast<float>(mt[static_cast<size_t>(j) * nc + i]);
        }
      }
    } else {
      // Randomized range finder: Q spans M's columns, M ~ Q Q' M; the query
      // basis is Q (row i = history item i), item vectors are rows of M'Q.
      path = "low_rank";
      const int r = std::max(1, std::min(o.low_rank_dim, nc));
      a.identity_query = false;
      a.dim = r;
      a.query_basis.assign(static_cast<size_t>(n) * r, 0.0f);
      a.item_vectors.assign(static_cast<size_t>(n) * r, 0.0f);
      if (nc > 0) {
        std::mt19937_64 rng(o.seed);
        std::normal_distribution<double> gauss;
        // Column-major n x r matrices. mt read column-major is M.
        std::vector<double> omega(static_cast<size_t>(nc) * r), y(static_cast<size_t>(nc) * r),
            z(static_cast<size_t>(nc) * r);
        for (double& v : omega) v = gauss(rng);
        // y = M omega
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, nc, r, nc, 1.0, mt.data(), nc, omega.data(), nc, 0.0,
                    y.data(), nc);
        for (int it = 0; it < 2; ++it) {
          Orthonormalize(&y, nc, r, &rng);
          // z = M' y
          cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, nc, r, nc, 1.0, mt.data(), nc, y.data(), nc, 0.0,
                      z.data(), nc);
          Orthonormalize(&z, nc, r, &rng);
          cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, nc, r, nc, 1.0, mt.data(), nc, z.data(), nc, 0.0,
                      y.data(), nc);
        }
        Orthonormalize(&y, nc, r, &rng);
        // items = M' Q
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, nc, r, nc, 1.0, mt.data(), nc, y.data(), nc, 0.0, z.data(),
                    nc);
        for (int i = 0; i < nc; ++i) {
          for (int c = 0; c < r; ++c) {
            a.query_basis[static_cast<size_t>(i) * r + c] = static_cast<float>(y[static_cast<size_t>(c) * nc + i]);
            a.item_vectors[static_cast<size_t>(i) * r + c] = static_cast<float>(z[static_cast<size_t>(c) * nc + i]);
          }
        }
        if (stats != nullptr) {
          auto m = std::make_shared<std::vector<double>>(std::move(mt));
          exact_m = [m, nc](const std::vector<std::pair<int, double>>& q, std::vector<double>* acc) {
            for (int j = 0; j < nc; ++j) {
              const double* col = m->data() + static_cast<size_t>(j) * nc;
              double s = 0;
              for (const auto& [row, w] : q) s += w * col[row];
              (*acc)[j] = s;
            }
          };
        }
      }
    }
  }
  a.recency_decay = o.recency_decay;
  a.max_history = o.max_history;

  // Content vectors.
  a.content_dim = o.content_dim;
  a.content.assign(static_cast<size_t>(n) * o.content_dim, 0.0f);
  if (!catalog_.empty()) {
    std::vector<std::string> docs;
    for (const CatalogCourse& c : catalog_) docs.push_back(c.text);
    a.idf = ComputeIdf(docs);
    for (const CatalogCourse& c : catalog_) {
      std::vector<float> v = EmbedTextWithIdf(c.text, a.idf, o.content_dim);
      std::copy(v.begin(), v.end(), a.content.begin() + static_cast<size_t>(row_of_.at(c.id)) * o.content_dim);
    }
  }
  if (stats != nullptr) {
    if (path != "sparse_pruned") stats->exact_entries = 0;
    stats->collaborative_path = path;
    stats->sparse_entries = static_cast<int64_t>(a.sparse_target.size());
    stats->approximation_recall_at_10 = -1;
    stats->approximation_queries = 0;
    if (exact_m) {
      absl::Status s = MeasureApproximationRecall(a, exact_m, stats);
      if (!s.ok()) return s;
    }
    stats->selection = selection_;
    stats->interactions_used = used_;
    stats->learners = static_cast<int64_t>(rows_.size());
    stats->items = n;
    stats->collaborative_items = nc;
    stats->seconds = absl::ToDoubleSeconds(absl::Now() - start);
  }
  return a;
}

absl::StatusOr<ModelArrays> TrainModel(const std::vector<Interaction>& interactions,
                                       const std::vector<CatalogCourse>& catalog, const TrainOptions& o,
                                       TrainStats* stats) {
  absl::Status status = CheckOptions(o);
  if (!status.ok()) return status;
  const absl::Time start = absl::Now();
  ModelTrainer trainer(interactions, catalog, o.max_items);
  absl::StatusOr<ModelArrays> a = trainer.Train(o, stats);
  if (a.ok() && stats != nullptr) stats->seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return a;
}

void KeepLargeAllocationsInTheHeap() {
  constexpr int kOneGiB = 1 << 30;
  mallopt(M_MMAP_THRESHOLD, kOneGiB);
  mallopt(M_TRIM_THRESHOLD, kOneGiB);
}

absl::StatusOr<TuningResult> TuneOnValidation(const std::vector<Interaction>& interactions,
                                              const TrainOptions& requested, double valid_fraction, bool random_split,
                                              uint64_t split_seed, int k, const std::function<void(int, int)>& progress,
                                              int max_validation_cases, double ndcg_weight) {
  // Trials run on the dense trainer over at most kTuningMaxItems courses.
  TrainOptions base = requested;
  base.max_items = std::min(requested.max_items, kTuningMaxItems);
  if (!(valid_fraction > 0 && valid_fraction < 1)) {
    return absl::InvalidArgumentError("valid_fraction: must be in (0, 1)");
  }
  if (!(ndcg_weight >= 0 && std::isfinite(ndcg_weight))) {
    return absl::InvalidArgumentError(absl::StrCat("tune_ndcg_weight: must be a number >= 0, got ", ndcg_weight));
  }
  if (max_validation_cases < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_validation_learners: must be >= 1, got ", max_validation_cases));
  }
  std::vector<Interaction> train;
  std::vector<EvalCase> cases;
  if (random_split) {
    SplitRandom(interactions, valid_fraction, split_seed, &train, &cases);
  } else {
    SplitSequenceTails(interactions, valid_fraction, &train, &cases);
  }
  if (cases.empty()) return absl::InvalidArgumentError("interactions: no learner with >= 2 courses to validate on");
  if (cases.size() > static_cast<size_t>(max_validation_cases)) {
    // Every stride-th learner: a deterministic sample that bounds tuning time.
    const size_t cap = static_cast<size_t>(max_validation_cases);
    const size_t stride = (cases.size() + cap - 1) / cap;
    std::vector<EvalCase> sample;
    for (size_t i = 0; i < cases.size(); i += stride) sample.push_back(std::move(cases[i]));
    cases = std::move(sample);
  }

  TuningResult result;
  result.trials = nlohmann::json::array();
  result.objective = absl::StrCat("recall@", k, " + ", ndcg_weight, " ndcg@", k);
  // One trainer for every trial: the vocabulary, X'X and the solves are
  // shared (ModelTrainer); the validation learners are scored on two threads.
  ModelTrainer trainer(train, {}, base.max_items, /*single_precision=*/true);
  std::map<std::string, double> tried;
  double best_objective = -1;
  auto trial = [&](TrainOptions o) -> absl::Status {
    // Parameters without effect are set to the base's, so that equivalent
    // trials are recognised as one: lambda_set when set_mix is 0, the
    // sequence part's parameters when set_mix is 1.
    if (o.set_mix == 0) o.lambda_set = base.lambda_set;
    if (o.set_mix == 1) {
      o.lambda_seq = base.lambda_seq;
      o.target_decay = base.target_decay;
      o.target_window = base.target_window;
    }
    const std::string key = o.ToJson().dump();
    if (tried.count(key)) return absl::OkStatus();
    absl::StatusOr<ModelArrays> arrays = trainer.Train(o);
    if (!arrays.ok()) return arrays.status();
    BuildOptions bo;
    bo.build_indexes = false;
    absl::StatusOr<std::shared_ptr<const ModelBundle>> bundle =
        BuildModelBundle(std::move(*arrays), nlohmann::json::object(), 0, "", bo);
    if (!bundle.ok()) return bundle.status();
    RankingMetrics m =
        EvaluateRankingAtKs(cases, (*bundle)->course_ids(), {k}, BundleScorer(*bundle), {}, kTuningThreads)[0];
    const double objective = m.recall + ndcg_weight * m.ndcg;
    tried[key] = objective;
    result.trials.push_back({{"params", o.ToJson()}, {"metrics", m.ToJson()}});
    if (progress) progress(static_cast<int>(tried.size()), kMaxTuningTrials);
    if (objective > best_objective) {
      best_objective = objective;
      result.best = o;
      result.best_metrics = m;
    }
    return absl::OkStatus();
  };
  absl::Status s = trial(base);
  if (!s.ok()) return s;
  // One axis of the grid: a parameter (read and written as a double; the
  // window is an int) and the values tried.
  struct Axis {
    std::function<double(const TrainOptions&)> get;
    std::function<void(TrainOptions*, double)> set;
    std::vector<double> values;
  };
  auto real = [](double TrainOptions::*field, std::vector<double> values) {
    return Axis{[field](const TrainOptions& o) { return o.*field; },
                [field](TrainOptions* o, double v) { o->*field = v; }, std::move(values)};
  };
  const std::vector<Axis> axes = {
      real(&TrainOptions::recency_decay, {0.5, 0.6, 0.7, 0.85, 1.0}),
      real(&TrainOptions::target_decay, {0.7, 0.85, 0.95, 1.0}),
      real(&TrainOptions::popularity_exponent, {0.0, 0.1, 0.2}),
      real(&TrainOptions::set_mix, {0.0, 0.25, 0.5, 0.75, 1.0}),
      real(&TrainOptions::lambda_set, {20.0, 50.0, 200.0}),
      real(&TrainOptions::lambda_seq, {10.0, 50.0, 200.0}),
      Axis{[](const TrainOptions& o) { return static_cast<double>(o.target_window); },
           [](TrainOptions* o, double v) { o->target_window = static_cast<int>(v); }, std::vector<double>{10, 30}},
  };
  // Pass 1 sweeps every axis; pass 2 only the grid neighbours of the value
  // chosen (a refinement after the other axes moved).
  for (int pass = 0; pass < 2; ++pass) {
    for (const Axis& axis : axes) {
      const TrainOptions center = result.best;
      const double current = axis.get(center);
      const auto at = std::find(axis.values.begin(), axis.values.end(), current);
      for (size_t i = 0; i < axis.values.size(); ++i) {
        if (pass == 1 && at != axis.values.end()) {
          const size_t c = static_cast<size_t>(at - axis.values.begin());
          if (i + 1 != c && i != c + 1) continue;
        }
        TrainOptions o = center;
        axis.set(&o, axis.values[i]);
        s = trial(o);
        if (!s.ok()) return s;
      }
    }
  }
  result.solves = trainer.solves();
  result.items = trainer.collaborative_items();
  result.best.max_items = requested.max_items;
  return result;
}

}  // namespace lifelong::models
