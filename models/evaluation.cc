#include "models/evaluation.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace lifelong::models {

std::vector<int> TopUnexcludedRows(const std::vector<float>& scores, const std::vector<bool>& exclude, int k) {
  std::vector<int> cand;
  for (size_t i = 0; i < exclude.size() && i < scores.size(); ++i) {
    if (!exclude[i]) cand.push_back(static_cast<int>(i));
  }
  const int kk = std::max(0, std::min<int>(k, static_cast<int>(cand.size())));
  std::partial_sort(cand.begin(), cand.begin() + kk, cand.end(),
                    [&](int x, int y) { return scores[x] != scores[y] ? scores[x] > scores[y] : x < y; });
  cand.resize(kk);
  return cand;
}

nlohmann::json RankingMetrics::ToJson() const {
  return {{"k", k},
          {"cases", cases},
          {"recall", recall},
          {"ndcg", ndcg},
          {"hit_rate", hit_rate},
          {"precision", precision},
          {"coverage", coverage}};
}

namespace {

std::vector<HistoryEvent> ToHistory(const std::vector<Interaction>& seq) {
  std::vector<HistoryEvent> h;
  h.reserve(seq.size());
  for (const Interaction& x : seq) h.push_back({x.course_id, x.weight, absl::InfinitePast()});
  return h;
}

template <typename ChooseHeldOut>
void SplitWith(const std::vector<Interaction>& interactions, double fraction, std::vector<Interaction>* train,
               std::vector<EvalCase>* cases, ChooseHeldOut choose) {
  train->clear();
  cases->clear();
  for (auto& [learner, seq] : GroupSequences(interactions)) {
    const int n = static_cast<int>(seq.size());
    if (n < 2) {
      train->insert(train->end(), seq.begin(), seq.end());
      continue;
    }
    const int held = std::min(n - 1, std::max(1, static_cast<int>(std::lround(fraction * n))));
    std::vector<bool> is_held = choose(n, held);
    EvalCase c;
    c.learner = learner;
    std::vector<Interaction> kept;
    for (int i = 0; i < n; ++i) {
      if (is_held[i]) {
        c.held_out.push_back(seq[i].course_id);
      } else {
        kept.push_back(seq[i]);
      }
    }
    c.history = ToHistory(kept);
    train->insert(train->end(), kept.begin(), kept.end());
    cases->push_back(std::move(c));
  }
}

}  // namespace

void SplitSequenceTails(const std::vector<Interaction>& interactions, double fraction, std::vector<Interaction>* train,
                        std::vector<EvalCase>* cases) {
  SplitWith(interactions, fraction, train, cases, [](int n, int held) {
    std::vector<bool> h(n, false);
    for (int i = n - held; i < n; ++i) h[i] = true;
    return h;
  });
}

void SplitRandom(const std::vector<Interaction>& interactions, double fraction, uint64_t seed,
                 std::vector<Interaction>* train, std::vector<EvalCase>* cases) {
  std::mt19937_64 rng(seed);
  SplitWith(interactions, fraction, train, cases, [&rng](int n, int held) {
    std::vector<int> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::shuffle(idx.begin(), idx.end(), rng);
    std::vector<bool> h(n, false);
    for (int i = 0; i < held; ++i) h[idx[i]] = true;
    return h;
  });
}

std::vector<EvalCase> CasesFromTrainTest(const std::vector<Interaction>& train, const std::vector<Interaction>& test) {
  absl::flat_hash_map<std::string, std::vector<Interaction>> history;
  for (auto& [learner, seq] : GroupSequences(train)) history[learner] = std::move(seq);
  std::vector<EvalCase> cases;
  for (auto& [learner, seq] : GroupSequences(test)) {
    EvalCase c;
    c.learner = learner;
    auto it = history.find(learner);
    if (it != history.end()) c.history = ToHistory(it->second);
    for (const Interaction& x : seq) c.held_out.push_back(x.course_id);
    if (!c.held_out.empty()) cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<RankingMetrics> EvaluateRankingAtKs(const std::vector<EvalCase>& cases,
                                                const std::vector<std::string>& universe, const std::vector<int>& ks,
                                                const Scorer& scorer, const std::function<void(int64_t)>& progress,
                                                int threads) {
  return EvaluateRankingsAtKs(
      cases, universe, ks, 1,
      [&scorer](const EvalCase& c) {
        std::vector<std::vector<float>> one;
        one.push_back(scorer(c));
        return one;
      },
      progress, threads);
}

std::vector<RankingMetrics> EvaluateRankingsAtKs(const std::vector<EvalCase>& cases,
                                                 const std::vector<std::string>& universe, const std::vector<int>& ks,
                                                 int rankings, const MultiScorer& scorer,
                                                 const std::function<void(int64_t)>& progress, int threads) {
  // Metrics and coverage are kept per (ranking, cut-off): slot v * |ks| + ki.
  const int nk = static_cast<int>(ks.size()) * rankings;
  const int num_ks = static_cast<int>(ks.size());
  int kmax = 0;
  for (int k : ks) kmax = std::max(kmax, k);
  absl::flat_hash_map<std::string, int> row_of;
  for (size_t i = 0; i < universe.size(); ++i) row_of[universe[i]] = static_cast<int>(i);
  // Per case and cut-off: recall, ndcg, hit, precision; summed in case order
  // afterwards, so the figures do not depend on `threads`.
  struct PerCase {
    bool counted = false;
    std::vector<std::array<double, 4>> at;  // per k
  };
  std::vector<PerCase> per_case(cases.size());
  std::vector<std::vector<bool>> covered(nk, std::vector<bool>(universe.size(), false));
  std::vector<std::vector<std::vector<bool>>> covered_by(std::max(1, threads), covered);
  std::atomic<int64_t> done{0};
  auto work = [&](int t, int num_threads) {
    for (size_t ci = t; ci < cases.size(); ci += num_threads) {
      const EvalCase& c = cases[ci];
      const int64_t d = done.fetch_add(1) + 1;
      if (progress && t == 0) progress(d);
      if (c.held_out.empty()) continue;
      const std::vector<std::vector<float>> scored = scorer(c);
      std::vector<bool> seen(universe.size(), false);
      for (const HistoryEvent& e : c.history) {
        auto it = row_of.find(e.course_id);
        if (it != row_of.end()) seen[it->second] = true;
      }
      absl::flat_hash_set<std::string> target(c.held_out.begin(), c.held_out.end());
      PerCase& pc = per_case[ci];
      pc.counted = true;
      pc.at.resize(nk);
      std::vector<int> cand;
      for (int ki = 0; ki < nk; ++ki) {
        if (ki % num_ks == 0) cand = TopUnexcludedRows(scored.at(ki / num_ks), seen, kmax);
        const int k = ks[ki % num_ks];
        const int kk = std::min<int>(k, static_cast<int>(cand.size()));
        int hits = 0;
        double dcg = 0, idcg = 0;
        for (int r = 0; r < kk; ++r) {
          covered_by[t][ki][cand[r]] = true;
          if (target.contains(universe[cand[r]])) {
            ++hits;
            dcg += 1.0 / std::log2(r + 2.0);
          }
        }
        for (int r = 0; r < std::min<int>(k, static_cast<int>(target.size())); ++r) {
          idcg += 1.0 / std::log2(r + 2.0);
        }
        pc.at[ki] = {static_cast<double>(hits) / target.size(), dcg / idcg, hits > 0 ? 1.0 : 0.0,
                     static_cast<double>(hits) / k};
      }
    }
  };
  const int num_threads = std::max(1, std::min<int>(threads, static_cast<int>(cases.size())));
  if (num_threads == 1) {
    work(0, 1);
  } else {
    std::vector<std::thread> pool;
    for (int t = 1; t < num_threads; ++t) pool.emplace_back(work, t, num_threads);
    work(0, num_threads);
    for (std::thread& th : pool) th.join();
  }
  std::vector<RankingMetrics> out(nk);
  for (int ki = 0; ki < nk; ++ki) {
    RankingMetrics& m = out[ki];
    m.k = ks[ki % num_ks];
    for (const PerCase& pc : per_case) {
      if (!pc.counted) continue;
      m.recall += pc.at[ki][0];
      m.ndcg += pc.at[ki][1];
      m.hit_rate += pc.at[ki][2];
      m.precision += pc.at[ki][3];
      ++m.cases;
    }
    if (m.cases > 0) {
      m.recall /= m.cases;
      m.ndcg /= m.cases;
      m.hit_rate /= m.cases;
      m.precision /= m.cases;
    }
    if (!universe.empty()) {
      int64_t c = 0;
      for (size_t i = 0; i < universe.size(); ++i) {
        bool any = false;
        for (const auto& by : covered_by) any = any || by[ki][i];
        c += any ? 1 : 0;
      }
      m.coverage = static_cast<double>(c) / universe.size();
    }
  }
  return out;
}

RankingMetrics EvaluateRanking(const std::vector<EvalCase>& cases, const std::vector<std::string>& universe, int k,
                               const Scorer& scorer, const std::function<void(int64_t)>& progress) {
  return EvaluateRankingAtKs(cases, universe, {k}, scorer, progress, 1)[0];
}

Scorer BundleScorer(std::shared_ptr<const ModelBundle> bundle) {
  const int n = bundle->num_items();
  if (!bundle->identity_query() || bundle->sparse_item_matrix() || n == 0 || n > kBundleScorerTransposeMaxItems) {
    return [bundle](const EvalCase& c) { return bundle->ScoreAll(c.history); };
  }
  // ScoreAll reads, for every item j, the history's entries of column j of
  // M (ItemVector(j)): scattered reads over all of M per learner (about 1 ms
  // per learner at 3,300 items, the bulk of tuning time before). Rows of M
  // stored contiguously make it |history| streaming passes; the double
  // accumulation runs in ScoreAll's order, so the floats are the same.
  auto rows = std::make_shared<std::vector<float>>(static_cast<size_t>(n) * n);
  for (int j = 0; j < n; ++j) {
    absl::Span<const float> v = bundle->ItemVector(j);
    for (int i = 0; i < n; ++i) (*rows)[static_cast<size_t>(i) * n + j] = v[i];
  }
  return [bundle, rows, n](const EvalCase& c) {
    const std::vector<std::pair<int, double>> q = bundle->HistoryRowWeights(c.history);
    if (q.empty()) return bundle->ScoreAll(c.history);  // popularity fallback
    std::vector<double> acc(n, 0.0);
    for (const auto& [row, w] : q) {
      const float* m = rows->data() + static_cast<size_t>(row) * n;
      for (int j = 0; j < n; ++j) acc[j] += w * m[j];
    }
    return std::vector<float>(acc.begin(), acc.end());
  };
}

Scorer PopularityScorer(const std::vector<Interaction>& train, const std::vector<std::string>& universe) {
  absl::flat_hash_map<std::string, int> row_of;
  for (size_t i = 0; i < universe.size(); ++i) row_of[universe[i]] = static_cast<int>(i);
  auto pop = std::make_shared<std::vector<float>>(universe.size(), 0.0f);
  for (const auto& [learner, seq] : GroupSequences(train)) {
    for (const Interaction& x : seq) {
      auto it = row_of.find(x.course_id);
      if (it != row_of.end()) (*pop)[it->second] += 1;
    }
  }
  return [pop](const EvalCase&) { return *pop; };
}

Scorer ItemKnnScorer(const std::vector<Interaction>& train, const std::vector<std::string>& universe) {
  const size_t n = universe.size();
  absl::flat_hash_map<std::string, int> row_of;
  for (size_t i = 0; i < n; ++i) row_of[universe[i]] = static_cast<int>(i);
  auto sim = std::make_shared<std::vector<float>>(n * n, 0.0f);
  std::vector<double> count(n, 0);
  std::vector<double> co(n * n, 0);
  for (const auto& [learner, seq] : GroupSequences(train)) {
    std::vector<int> rows;
    for (const Interaction& x : seq) {
      auto it = row_of.find(x.course_id);
      if (it != row_of.end()) rows.push_back(it->second);
    }
    for (int a : rows) {
      count[a] += 1;
      for (int b : rows) co[a * n + b] += 1;
    }
  }
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = 0; b < n; ++b) {
      if (a != b && co[a * n + b] > 0) {
        (*sim)[a * n + b] = static_cast<float>(co[a * n + b] / std::sqrt(count[a] * count[b]));
      }
    }
  }
  auto rows_of = std::make_shared<absl::flat_hash_map<std::string, int>>(std::move(row_of));
  return [sim, rows_of, n](const EvalCase& c) {
    std::vector<float> s(n, 0.0f);
    for (const HistoryEvent& e : c.history) {
      auto it = rows_of->find(e.course_id);
      if (it == rows_of->end()) continue;
      const float* row = sim->data() + static_cast<size_t>(it->second) * n;
      for (size_t j = 0; j < n; ++j) s[j] += row[j];
    }
    return s;
  };
}

}  // namespace lifelong::models
