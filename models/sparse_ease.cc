#include "models/sparse_ease.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "models/evaluation.h"
#include "models/trainer.h"

extern "C" {
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotrs_(const char* uplo, const int* n, const int* nrhs, const double* a, const int* lda, double* b,
             const int* ldb, int* info);
}

namespace lifelong::models {

std::vector<float> SparseItemModel::Score(const std::vector<std::pair<int, double>>& query) const {
  std::vector<double> acc(course_ids.size(), 0.0);
  for (const auto& [row, w] : query) {
    if (row < 0 || row >= num_items()) continue;
    for (int64_t e = row_start[row]; e < row_start[row + 1]; ++e) acc[target[e]] += w * weight[e];
  }
  return std::vector<float>(acc.begin(), acc.end());
}

float SparseItemModel::Entry(int i, int j) const {
  const auto begin = target.begin() + row_start[i];
  const auto end = target.begin() + row_start[i + 1];
  const auto it = std::lower_bound(begin, end, j);
  return (it != end && *it == j) ? weight[it - target.begin()] : 0.0f;
}

int64_t SparseItemModel::bytes() const {
  return static_cast<int64_t>(row_start.size() * sizeof(int64_t) + target.size() * sizeof(int32_t) +
                              weight.size() * sizeof(float));
}

namespace {

// Keeps the `keep` (at least 0) largest weights of `row` (ties: the smaller
// target first) and appends them to `m`'s target and weight, targets
// ascending; the caller closes the row in m->row_start.
void AppendStrongest(std::vector<std::pair<int32_t, float>>* row, int keep, SparseItemModel* m) {
  auto& r = *row;
  const size_t k = std::min<size_t>(r.size(), static_cast<size_t>(std::max(0, keep)));
  std::partial_sort(r.begin(), r.begin() + k, r.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  r.resize(k);
  std::sort(r.begin(), r.end());
  for (const auto& [t, w] : r) {
    m->target.push_back(t);
    m->weight.push_back(w);
  }
}

// Solves a x = b in place (b becomes x) for the k x k symmetric positive
// definite `a` (column-major, lower triangle used; overwritten by its
// Cholesky factor). INTERNAL naming `item` when the factorisation fails.
absl::Status SolveSpd(int k, std::vector<double>* a, std::vector<double>* b, int item) {
  int info = 0;
  const char uplo = 'L';
  dpotrf_(&uplo, &k, a->data(), &k, &info);
  if (info != 0) {
    return absl::InternalError(absl::StrCat("Cholesky factorisation failed for item ", item, " (info ", info, ")"));
  }
  const int one = 1;
  dpotrs_(&uplo, &k, &one, a->data(), &k, b->data(), &k, &info);
  if (info != 0) return absl::InternalError(absl::StrCat("ridge solve failed for item ", item));
  return absl::OkStatus();
}

// The vocabulary as the dense trainer (ModelTrainer) builds it: the
// `max_items` most popular courses (ties by id), sorted by id, into
// `m->course_ids` and `m->counts`; `row_of` maps a course to its row.
absl::Status BuildVocabulary(const std::vector<std::pair<std::string, std::vector<Interaction>>>& seqs, int max_items,
                             SparseItemModel* m, absl::flat_hash_map<std::string, int>* row_of) {
  absl::flat_hash_map<std::string, int64_t> count;
  for (const auto& [learner, seq] : seqs) {
    for (const Interaction& x : seq) count[x.course_id] += 1;
  }
  if (count.empty()) return absl::InvalidArgumentError("interactions: no positive interaction");
  std::vector<std::pair<std::string, int64_t>> by_count(count.begin(), count.end());
  std::sort(by_count.begin(), by_count.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  if (static_cast<int>(by_count.size()) > max_items) by_count.resize(max_items);
  std::sort(by_count.begin(), by_count.end());
  for (const auto& [id, c] : by_count) {
    (*row_of)[id] = static_cast<int>(m->course_ids.size());
    m->course_ids.push_back(id);
    m->counts.push_back(c);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SparseItemModel> TrainSparseEase(const std::vector<Interaction>& interactions,
                                                const SparseEaseOptions& o) {
  auto bad = [](const char* field, const char* rule) {
    return absl::InvalidArgumentError(absl::StrCat("options.", field, ": ", rule));
  };
  if (!(o.lambda > 0)) return bad("lambda", "must be > 0");
  if (o.candidates < 1) return bad("candidates", "must be >= 1");
  if (o.neighbours < 1) return bad("neighbours", "must be >= 1");
  if (o.max_items < 1) return bad("max_items", "must be >= 1");

  const auto seqs = GroupSequences(interactions);
  SparseItemModel m;
  absl::flat_hash_map<std::string, int> row_of;
  if (absl::Status v = BuildVocabulary(seqs, o.max_items, &m, &row_of); !v.ok()) return v;
  const int n = m.num_items();

  // Learner rows (weighted, as the dense trainer's X) and the inverted index.
  std::vector<std::vector<std::pair<int, double>>> rows;
  std::vector<std::vector<std::pair<int, double>>> learners_of(n);
  for (const auto& [learner, seq] : seqs) {
    std::vector<std::pair<int, double>> r;
    for (const Interaction& x : seq) {
      auto it = row_of.find(x.course_id);
      if (it != row_of.end()) r.push_back({it->second, x.weight});
    }
    if (r.empty()) continue;
    const int u = static_cast<int>(rows.size());
    for (const auto& [i, w] : r) learners_of[i].push_back({u, w});
    rows.push_back(std::move(r));
  }

  // G = X'X, sparse, rows ascending by column. Accumulated in the dense
  // trainer's order per entry is not needed: the test compares within a
  // tolerance.
  std::vector<std::vector<int32_t>> g_col(n);
  std::vector<std::vector<double>> g_val(n);
  {
    std::vector<double> acc(n, 0.0);
    std::vector<char> touched(n, 0);
    std::vector<int32_t> cols;
    for (int i = 0; i < n; ++i) {
      cols.clear();
      for (const auto& [u, wi] : learners_of[i]) {
        for (const auto& [k, wk] : rows[u]) {
          if (!touched[k]) {
            touched[k] = 1;
            cols.push_back(k);
          }
          acc[k] += wi * wk;
        }
      }
      std::sort(cols.begin(), cols.end());
      g_col[i] = cols;
      g_val[i].reserve(cols.size());
      for (int32_t k : cols) {
        g_val[i].push_back(acc[k]);
        acc[k] = 0;
        touched[k] = 0;
      }
    }
  }

  // One restricted ridge regression per target item.
  std::vector<std::vector<std::pair<int32_t, float>>> by_row(n);  // history row -> (target, w)
  std::vector<int> pos(n, -1);
  std::vector<double> a, b;
  std::vector<int32_t> cand;
  for (int j = 0; j < n; ++j) {
    cand.clear();
    std::vector<std::pair<double, int32_t>> co;
    for (size_t e = 0; e < g_col[j].size(); ++e) {
      if (g_col[j][e] != j && g_val[j][e] != 0) co.push_back({g_val[j][e], g_col[j][e]});
    }
    const size_t kk = std::min<size_t>(co.size(), static_cast<size_t>(o.candidates));
    std::partial_sort(co.begin(), co.begin() + kk, co.end(), [](const auto& x, const auto& y) {
      return x.first != y.first ? x.first > y.first : x.second < y.second;
    });
    if (o.candidates >= n - 1) {
      // Every other item, co-occurring or not: exactly EASE's column.
      for (int i = 0; i < n; ++i) {
        if (i != j) cand.push_back(i);
      }
    } else {
      for (size_t c = 0; c < kk; ++c) cand.push_back(co[c].second);
      std::sort(cand.begin(), cand.end());
    }
    const int k = static_cast<int>(cand.size());
    if (k == 0) continue;
    for (int c = 0; c < k; ++c) pos[cand[c]] = c;
    a.assign(static_cast<size_t>(k) * k, 0.0);
    b.assign(k, 0.0);
    for (int c = 0; c < k; ++c) {
      const int32_t i = cand[c];
      for (size_t e = 0; e < g_col[i].size(); ++e) {
        const int32_t col = g_col[i][e];
        if (col == j) b[c] = g_val[i][e];
        if (pos[col] >= 0) a[static_cast<size_t>(c) * k + pos[col]] = g_val[i][e];
      }
      a[static_cast<size_t>(c) * k + c] += o.lambda;
    }
    for (int c = 0; c < k; ++c) pos[cand[c]] = -1;
    if (absl::Status solved = SolveSpd(k, &a, &b, j); !solved.ok()) return solved;
    for (int c = 0; c < k; ++c) by_row[cand[c]].push_back({j, static_cast<float>(b[c])});
  }

  // Each history row keeps its `neighbours` largest entries, as CSR.
  m.row_start.assign(n + 1, 0);
  for (int i = 0; i < n; ++i) {
    AppendStrongest(&by_row[i], o.neighbours, &m);
    m.row_start[i + 1] = static_cast<int64_t>(m.target.size());
  }
  return m;
}

namespace {

// Sparse rows: col ascending, val aligned.
struct SparseRows {
  std::vector<std::vector<int32_t>> col;
  std::vector<std::vector<double>> val;
};

void Collect(std::vector<double>* acc, std::vector<char>* touched, std::vector<int32_t>* cols,
             std::vector<int32_t>* out_col, std::vector<double>* out_val) {
  std::sort(cols->begin(), cols->end());
  out_col->assign(cols->begin(), cols->end());
  out_val->clear();
  for (int32_t k : *cols) {
    out_val->push_back((*acc)[k]);
    (*acc)[k] = 0;
    (*touched)[k] = 0;
  }
  cols->clear();
}

// For every target j: w = (A[C,C] + lambda I)^-1 R[C, j] over the candidate
// set C (the `candidates` largest R[i][j], ties by row; all rows, or all but
// j when `exclude_diagonal`, when candidates >= n - 1), added into
// by_row[i][j] times `scale`.
absl::Status SolveRestricted(const SparseRows& a, const SparseRows& r_by_col, double lambda, int candidates,
                             bool exclude_diagonal, double scale,
                             std::vector<absl::flat_hash_map<int32_t, double>>* by_row) {
  const int n = static_cast<int>(a.col.size());
  std::vector<int> pos(n, -1);
  std::vector<double> m, b;
  std::vector<int32_t> cand;
  for (int j = 0; j < n; ++j) {
    cand.clear();
    if (candidates >= n - 1) {
      for (int i = 0; i < n; ++i) {
        if (!(exclude_diagonal && i == j)) cand.push_back(i);
      }
    } else {
      std::vector<std::pair<double, int32_t>> co;
      for (size_t e = 0; e < r_by_col.col[j].size(); ++e) {
        const int32_t i = r_by_col.col[j][e];
        if ((exclude_diagonal && i == j) || r_by_col.val[j][e] == 0) continue;
        co.push_back({r_by_col.val[j][e], i});
      }
      const size_t kk = std::min<size_t>(co.size(), static_cast<size_t>(candidates));
      std::partial_sort(co.begin(), co.begin() + kk, co.end(), [](const auto& x, const auto& y) {
        return x.first != y.first ? x.first > y.first : x.second < y.second;
      });
      for (size_t c = 0; c < kk; ++c) cand.push_back(co[c].second);
      std::sort(cand.begin(), cand.end());
    }
    const int k = static_cast<int>(cand.size());
    if (k == 0) continue;
    for (int c = 0; c < k; ++c) pos[cand[c]] = c;
    m.assign(static_cast<size_t>(k) * k, 0.0);
    b.assign(k, 0.0);
    for (size_t e = 0; e < r_by_col.col[j].size(); ++e) {
      const int32_t i = r_by_col.col[j][e];
      if (pos[i] >= 0) b[pos[i]] = r_by_col.val[j][e];
    }
    for (int c = 0; c < k; ++c) {
      const int32_t i = cand[c];
      for (size_t e = 0; e < a.col[i].size(); ++e) {
        const int32_t col = a.col[i][e];
        if (pos[col] >= 0) m[static_cast<size_t>(c) * k + pos[col]] = a.val[i][e];
      }
      m[static_cast<size_t>(c) * k + c] += lambda;
    }
    for (int c = 0; c < k; ++c) pos[cand[c]] = -1;
    if (absl::Status solved = SolveSpd(k, &m, &b, j); !solved.ok()) return solved;
    for (int c = 0; c < k; ++c) {
      if (b[c] != 0) (*by_row)[cand[c]][j] += scale * b[c];
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SparseItemModel> TrainSparseModel(const std::vector<Interaction>& interactions, const TrainOptions& o,
                                                 int candidates, int neighbours) {
  if (candidates < 1) return absl::InvalidArgumentError("candidates: must be >= 1");
  if (neighbours < 1) return absl::InvalidArgumentError("neighbours: must be >= 1");
  absl::StatusOr<TrainOptions> checked = TrainOptions::FromJson(o.ToJson());
  if (!checked.ok()) return checked.status();
  // Vocabulary and rows exactly as the dense trainer (ModelTrainer) without
  // a catalog: each learner's kMaxLearnerCourses most recent courses.
  const auto seqs = TrainingSequences(interactions, {});
  SparseItemModel model;
  absl::flat_hash_map<std::string, int> row_of;
  if (absl::Status v = BuildVocabulary(seqs, o.max_items, &model, &row_of); !v.ok()) return v;
  std::vector<std::vector<std::pair<int, double>>> rows;
  for (const auto& [learner, seq] : seqs) {
    std::vector<std::pair<int, double>> r;
    for (const Interaction& x : seq) {
      auto it = row_of.find(x.course_id);
      if (it != row_of.end()) r.push_back({it->second, x.weight});
    }
    if (!r.empty()) rows.push_back(std::move(r));
  }
  if (absl::Status s = TrainSparseModelOnRows(rows, o, candidates, neighbours, &model); !s.ok()) {
    return s;
  }
  return model;
}

absl::Status TrainSparseModelOnRows(const std::vector<std::vector<std::pair<int, double>>>& rows, const TrainOptions& o,
                                    int candidates, int neighbours, SparseItemModel* out) {
  if (candidates < 1) return absl::InvalidArgumentError("candidates: must be >= 1");
  if (neighbours < 1) return absl::InvalidArgumentError("neighbours: must be >= 1");
  // The set part costs |row|^2 per row in time and Gram entries: a row is
  // bounded as TrainingSequences bounds it.
  for (size_t u = 0; u < rows.size(); ++u) {
    if (rows[u].size() > static_cast<size_t>(kMaxLearnerCourses)) {
      return absl::InvalidArgumentError(absl::StrCat("rows[", u, "]: ", rows[u].size(), " courses, more than ",
                                                     kMaxLearnerCourses, " (kMaxLearnerCourses)"));
    }
  }
  SparseItemModel& model = *out;
  const int n = static_cast<int>(model.counts.size());
  model.row_start.clear();
  model.target.clear();
  model.weight.clear();
  std::vector<absl::flat_hash_map<int32_t, double>> by_row(n);
  std::vector<double> acc(n, 0.0), acc2(n, 0.0);
  std::vector<char> touched(n, 0), touched2(n, 0);
  std::vector<int32_t> cols, cols2;

  if (o.set_mix < 1) {
    // Sources (decayed, normalised prefixes) and targets per position.
    std::vector<int64_t> src_start = {0}, tgt_start = {0};
    std::vector<std::pair<int32_t, double>> src, tgt;
    for (const auto& r : rows) {
      const int len = static_cast<int>(r.size());
      for (int t = 1; t < len; ++t) {
        const size_t first = src.size();
        double norm = 0;
        for (int s = std::max(0, t - o.source_window); s < t; ++s) {
          const double w = r[s].second * std::pow(o.recency_decay, t - 1 - s);
          src.push_back({r[s].first, w});
          norm += w * w;
        }
        norm = std::sqrt(norm);
        for (size_t x = first; x < src.size(); ++x) src[x].second /= norm;
        for (int u = t; u < std::min(len, t + o.target_window); ++u) {
          tgt.push_back({r[u].first, r[u].second * std::pow(o.target_decay, u - t)});
        }
        src_start.push_back(static_cast<int64_t>(src.size()));
        tgt_start.push_back(static_cast<int64_t>(tgt.size()));
      }
    }
    std::vector<std::vector<std::pair<int64_t, double>>> src_of(n);  // item -> (position, w)
    for (size_t p = 0; p + 1 < src_start.size(); ++p) {
      for (int64_t e = src_start[p]; e < src_start[p + 1]; ++e)
        src_of[src[e].first].push_back({static_cast<int64_t>(p), src[e].second});
    }
    SparseRows ss, st_by_col;
    ss.col.resize(n);
    ss.val.resize(n);
    std::vector<std::vector<std::pair<int32_t, double>>> st_cols(n);  // col j -> (i, value)
    for (int i = 0; i < n; ++i) {
      for (const auto& [p, wi] : src_of[i]) {
        for (int64_t e = src_start[p]; e < src_start[p + 1]; ++e) {
          const int32_t k = src[e].first;
          if (!touched[k]) {
            touched[k] = 1;
            cols.push_back(k);
          }
          acc[k] += wi * src[e].second;
        }
        for (int64_t e = tgt_start[p]; e < tgt_start[p + 1]; ++e) {
          const int32_t j = tgt[e].first;
          if (!touched2[j]) {
            touched2[j] = 1;
            cols2.push_back(j);
          }
          acc2[j] += wi * tgt[e].second;
        }
      }
      Collect(&acc, &touched, &cols, &ss.col[i], &ss.val[i]);
      std::vector<int32_t> c2;
      std::vector<double> v2;
      Collect(&acc2, &touched2, &cols2, &c2, &v2);
      for (size_t e = 0; e < c2.size(); ++e) st_cols[c2[e]].push_back({i, v2[e]});
    }
    st_by_col.col.resize(n);
    st_by_col.val.resize(n);
    for (int j = 0; j < n; ++j) {
      for (const auto& [i, v] : st_cols[j]) {  // i ascending already
        st_by_col.col[j].push_back(i);
        st_by_col.val[j].push_back(v);
      }
    }
    absl::Status s = SolveRestricted(ss, st_by_col, o.lambda_seq, candidates,
                                     /*exclude_diagonal=*/false, 1 - o.set_mix, &by_row);
    if (!s.ok()) return s;
  }
  if (o.set_mix > 0) {
    std::vector<std::vector<std::pair<int, double>>> learners_of(n);
    for (size_t u = 0; u < rows.size(); ++u) {
      for (const auto& [i, w] : rows[u]) learners_of[i].push_back({static_cast<int>(u), w});
    }
    SparseRows g;
    g.col.resize(n);
    g.val.resize(n);
    for (int i = 0; i < n; ++i) {
      for (const auto& [u, wi] : learners_of[i]) {
        for (const auto& [k, wk] : rows[u]) {
          if (!touched[k]) {
            touched[k] = 1;
            cols.push_back(k);
          }
          acc[k] += wi * wk;
        }
      }
      Collect(&acc, &touched, &cols, &g.col[i], &g.val[i]);
    }
    absl::Status s = SolveRestricted(g, g, o.lambda_set, candidates, /*exclude_diagonal=*/true, o.set_mix, &by_row);
    if (!s.ok()) return s;
  }
  // Popularity scaling of columns, then each row's `neighbours` largest.
  model.row_start.assign(n + 1, 0);
  std::vector<std::pair<int32_t, double>> r;
  for (int i = 0; i < n; ++i) {
    r.assign(by_row[i].begin(), by_row[i].end());
    for (auto& [j, v] : r) {
      if (o.popularity_exponent > 0) {
        v *= std::pow(static_cast<double>(model.counts[j]) + 1, -o.popularity_exponent);
      }
    }
    const size_t keep = std::min<size_t>(r.size(), static_cast<size_t>(neighbours));
    std::partial_sort(r.begin(), r.begin() + keep, r.end(), [](const auto& x, const auto& y) {
      return x.second != y.second ? x.second > y.second : x.first < y.first;
    });
    r.resize(keep);
    std::sort(r.begin(), r.end());
    for (const auto& [t, w] : r) {
      model.target.push_back(t);
      model.weight.push_back(static_cast<float>(w));
    }
    model.row_start[i + 1] = static_cast<int64_t>(model.target.size());
  }
  return absl::OkStatus();
}

SparseItemModel PruneRows(const SparseItemModel& m, int keep) {
  SparseItemModel p;
  p.course_ids = m.course_ids;
  p.counts = m.counts;
  p.row_start.assign(m.row_start.size(), 0);
  const size_t rows = m.row_start.empty() ? 0 : m.row_start.size() - 1;
  std::vector<std::pair<int32_t, float>> r;
  for (size_t i = 0; i < rows; ++i) {
    r.clear();
    for (int64_t e = m.row_start[i]; e < m.row_start[i + 1]; ++e) r.push_back({m.target[e], m.weight[e]});
    AppendStrongest(&r, keep, &p);
    p.row_start[i + 1] = static_cast<int64_t>(p.target.size());
  }
  return p;
}

}  // namespace lifelong::models
