// Training-time benchmark on synthetic interactions (synthetic.h). Prints the
// figures; it is not a test. Budget: tuning plus training on 1,000,000
// interactions in <= 60 s on the project's 2-core machines (issue #17).
//
//   bazel build //models:bench_train && bazel-bin/models/bench_train --items=2000
//   bazel-bin/models/bench_train --items=3300 --tune   # tune + train
//   # the same 1M set through `train`'s whole default path (the GRU included):
//   bazel-bin/models/bench_train --items=3300 --interactions_out=/tmp/synthetic1m.tsv
//   bazel-bin/models/train --model_root=/tmp/m --interactions=/tmp/synthetic1m.tsv
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "models/district_simulator.h"
#include "models/evaluation.h"
#include "models/interaction_file.h"
#include "models/sparse_ease.h"
#include "models/synthetic.h"
#include "models/trainer.h"

ABSL_FLAG(int64_t, interactions, 1000000, "approximate number of interactions");
ABSL_FLAG(int, items, 2000, "number of courses");
ABSL_FLAG(std::string, interactions_out, "",
          "write the synthetic interactions (learner<TAB>course<TAB>order lines, as `train --interactions` reads "
          "them) to this file and exit");
ABSL_FLAG(double, mean_length, 10, "mean courses per learner");
ABSL_FLAG(int, dense_max_items, lifelong::models::kDefaultDenseMaxItems, "TrainOptions.dense_max_items");
ABSL_FLAG(int, max_items, lifelong::models::TrainOptions().max_items,
          "TrainOptions.max_items (collaborative vocabulary)");
ABSL_FLAG(double, set_mix, 0.25, "TrainOptions.set_mix (> 0 also runs the EASE part)");
ABSL_FLAG(bool, tune, false, "also time TuneOnValidation (what `train --tune` adds)");
ABSL_FLAG(int, catalog_courses, 0,
          "instead: a simulated district catalog of this many courses (district_simulator.h; "
          "power-law popularity, prerequisite series) with --learners residents: training "
          "time, model size, served recall@10 against exact scoring and Recommend latency");
ABSL_FLAG(int, sparse_ease_items, 0,
          "instead: sparse EASE (sparse_ease.h) on a simulated district catalog of this many "
          "courses with --learners residents: training time, size, HR@10 on a tail split, "
          "scoring latency");
ABSL_FLAG(int, candidates, 100, "SparseEaseOptions.candidates for --sparse_ease_items");
ABSL_FLAG(int, neighbours, 100, "SparseEaseOptions.neighbours for --sparse_ease_items");
ABSL_FLAG(int, learners, 150000, "residents for --catalog_courses");
ABSL_FLAG(int, exact_max_items, lifelong::models::TrainOptions().exact_max_items,
          "TrainOptions.exact_max_items for --catalog_courses (sparse exact up to this many "
          "collaborative items, --approximation beyond; default: no cap)");
ABSL_FLAG(std::string, approximation, lifelong::models::TrainOptions().approximation,
          "TrainOptions.approximation for --catalog_courses beyond --exact_max_items (pruned, low_rank)");
ABSL_FLAG(std::string, prune_sweep, "",
          "with --catalog_courses: instead of the catalog figures, train the sparse M of every "
          "course with learners (TrainSparseModel, trainer defaults) and print, for each "
          "comma-separated N, the Recall@10 against M of M's rows cut to their N largest "
          "entries on 1,000 residents' histories, and exact scoring latency");
ABSL_FLAG(std::string, compare_max_items, "",
          "with --catalog_courses: instead, HR@10 / Recall@10 of the collaborative scores (ScoreAll) on a "
          "tail split (last 20% of each resident's sequence, 20,000 residents) for each comma-separated "
          "max_items, default options otherwise (exact at every size)");
ABSL_FLAG(int, index_items, 0,
          "instead: build a bundle of this many clustered random 64-d item vectors "
          "and time index building and batched search");

namespace {

// CPU seconds (user + system, all threads) this process has used: with the
// wall-clock time it tells a slow run on a loaded machine from slow code.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

double LoadAverage() {
  double l[1] = {0};
  return getloadavg(l, 1) == 1 ? l[0] : -1;
}

double PeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // kilobytes on Linux
}

// The simulated district of every benchmark here (district_simulator.h's
// defaults but `courses` and `learners`); a failure is printed.
absl::StatusOr<lifelong::models::SimulatedDistrict> Simulate(int courses, int learners) {
  lifelong::models::DistrictOptions d;
  d.courses = courses;
  d.learners = learners;
  absl::StatusOr<lifelong::models::SimulatedDistrict> district = lifelong::models::SimulateDistrict(d);
  if (!district.ok()) std::fprintf(stderr, "bench_train: simulate: %s\n", district.status().ToString().c_str());
  return district;
}

// A simulated district split as the evaluator's tail split (the last 20% of
// each resident's sequence held out); false (the error printed) when the
// simulation fails.
bool SimulateTailSplit(int courses, int learners, std::vector<lifelong::models::Interaction>* train,
                       std::vector<lifelong::models::EvalCase>* cases) {
  absl::StatusOr<lifelong::models::SimulatedDistrict> district = Simulate(courses, learners);
  if (!district.ok()) return false;
  lifelong::models::SplitSequenceTails(district->interactions, 0.2, train, cases);
  return true;
}

int IndexBench(int n) {
  namespace lm = lifelong::models;
  const int d = 64;
  lm::ModelArrays a;
  std::mt19937_64 rng(7);
  std::normal_distribution<float> g;
  std::vector<float> centers(1000 * d);
  for (float& x : centers) x = g(rng);
  a.identity_query = false;
  a.dim = d;
  a.content_dim = 1;
  a.content.assign(n, 0.0f);
  a.item_vectors.resize(static_cast<size_t>(n) * d);
  a.query_basis.resize(static_cast<size_t>(n) * d);
  for (int i = 0; i < n; ++i) {
    a.course_ids.push_back("c" + std::to_string(i));
    a.counts.push_back(1 + i % 100);
    for (int j = 0; j < d; ++j) {
      a.item_vectors[static_cast<size_t>(i) * d + j] = centers[(i % 1000) * d + j] + 0.5f * g(rng);
      a.query_basis[static_cast<size_t>(i) * d + j] = a.item_vectors[static_cast<size_t>(i) * d + j];
    }
  }
  absl::Time t0 = absl::Now();
  auto b = lm::BuildModelBundle(std::move(a), nlohmann::json::object(), 1, "");
  if (!b.ok()) return 1;
  const double build_s = absl::ToDoubleSeconds(absl::Now() - t0);
  const lm::IndexInfo& info = (*b)->index_info();
  std::vector<float> queries;
  const int nq = 2000;
  for (int q = 0; q < nq; ++q) {
    std::vector<lm::HistoryEvent> h;
    for (int t = 0; t < 5; ++t) h.push_back({"c" + std::to_string((q * 7919 + t * 104729) % n), 1.0f});
    std::vector<float> v = (*b)->LearnerVector(h);
    queries.insert(queries.end(), v.begin(), v.end());
  }
  t0 = absl::Now();
  auto r = (*b)->SearchBatch(queries, nq, 10);
  const double search_s = absl::ToDoubleSeconds(absl::Now() - t0);
  if (!r.ok()) return 1;
  std::printf(
      "items %d dim %d index %s nlist %d nprobe %d calibrated recall@10 %.3f\n"
      "build bundle+index %.1f s  batched search %.3f ms/query (%d queries)\n",
      n, d, info.kind.c_str(), info.nlist, info.nprobe, info.calibrated_recall_at_10, build_s, 1000 * search_s / nq,
      nq);
  return 0;
}

// A large generated catalog trained for real: the simulated district's
// courses and residents, the catalog text for content vectors, default
// options (the most popular max_items courses collaborative, the rest
// content-only; sparse exact up to exact_max_items of them, low rank
// beyond), then served Recommend against exact ScoreAll on the residents'
// own histories.
int CatalogBench(int courses, int learners, int max_items, int exact_max_items, const std::string& approximation) {
  namespace lm = lifelong::models;
  absl::Time t0 = absl::Now();
  absl::StatusOr<lm::SimulatedDistrict> district = Simulate(courses, learners);
  if (!district.ok()) return 1;
  std::vector<lm::CatalogCourse> catalog;
  for (const lm::SimulatedCourse& c : district->courses) {
    std::vector<std::string> tags = c.audiences;
    tags.push_back(c.online ? "线上" : c.street);
    catalog.push_back({c.id, lm::CatalogCourseText(c.title, c.category, tags, "")});
  }
  const double gen_s = absl::ToDoubleSeconds(absl::Now() - t0);
  lm::TrainOptions options;
  options.max_items = max_items;
  options.exact_max_items = exact_max_items;
  options.approximation = approximation;
  lm::TrainStats stats;
  t0 = absl::Now();
  const double cpu0 = CpuSeconds();
  absl::StatusOr<lm::ModelArrays> arrays = lm::TrainModel(district->interactions, catalog, options, &stats);
  const double train_s = absl::ToDoubleSeconds(absl::Now() - t0);
  const double train_cpu = CpuSeconds() - cpu0;
  const double train_rss = PeakRssMiB();
  if (!arrays.ok()) {
    std::fprintf(stderr, "bench_train: %s\n", std::string(arrays.status().ToString()).c_str());
    return 1;
  }
  const double mib =
      ((arrays->item_vectors.size() + arrays->query_basis.size() + arrays->content.size() + arrays->idf.size() +
        arrays->sparse_weight.size()) *
           sizeof(float) +
       arrays->sparse_target.size() * sizeof(int32_t) + arrays->sparse_row_start.size() * sizeof(int64_t)) /
      double(1 << 20);
  const double collaborative_mib =
      ((arrays->item_vectors.size() + arrays->query_basis.size() + arrays->sparse_weight.size()) * sizeof(float) +
       arrays->sparse_target.size() * sizeof(int32_t) + arrays->sparse_row_start.size() * sizeof(int64_t)) /
      double(1 << 20);
  t0 = absl::Now();
  auto bundle = lm::BuildModelBundle(std::move(*arrays), nlohmann::json::object(), 1, "");
  const double build_s = absl::ToDoubleSeconds(absl::Now() - t0);
  if (!bundle.ok()) return 1;
  const lm::ModelBundle& b = **bundle;
  // Real learner queries: every 75th resident's whole history.
  auto seqs = lm::GroupSequences(district->interactions);
  std::vector<double> latency_ms;
  double recall = 0;
  int queries = 0;
  for (size_t i = 0; i < seqs.size() && queries < 2000; i += 75) {
    std::vector<lm::HistoryEvent> h;
    for (const lm::Interaction& x : seqs[i].second) h.push_back({x.course_id, x.weight});
    const absl::Time q0 = absl::Now();
    std::vector<lm::Candidate> served = b.Recommend(h, 10);
    latency_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - q0));
    const std::vector<float> exact = b.ScoreAll(h);
    std::vector<bool> excluded(b.num_items(), false);
    for (const lm::HistoryEvent& e : h) {
      if (auto r = b.Row(e.course_id)) excluded[*r] = true;
    }
    for (int j = 0; j < b.num_items(); ++j) {
      if (b.InteractionCount(j) == 0) excluded[j] = true;  // not servable by the model
    }
    const std::vector<int> top = lm::TopUnexcludedRows(exact, excluded, 10);
    int hit = 0;
    for (int row : top) {
      for (const lm::Candidate& c : served) hit += c.row == row ? 1 : 0;
    }
    recall += top.empty() ? 1.0 : static_cast<double>(hit) / top.size();
    ++queries;
  }
  std::sort(latency_ms.begin(), latency_ms.end());
  auto pct = [&](double p) {
    return latency_ms.empty() ? 0.0
                              : latency_ms[std::min(latency_ms.size() - 1, static_cast<size_t>(p * latency_ms.size()))];
  };
  std::printf(
      "catalog %d courses (%lld with collaborative vectors, max_items %d), %d residents, "
      "%zu interactions\n"
      "generate %.2f s  train %.2f s  build bundle+indexes %.2f s  model arrays %.1f MiB "
      "(dim %d, index %s, content index %s)\n"
      "served Recommend vs exact ScoreAll top-10 on %d residents' histories: recall@10 %.4f\n"
      "Recommend latency (one query at a time, this thread): p50 %.2f ms  p99 %.2f ms\n"
      "collaborative path %s (exact_max_items %d, approximation %s): %lld item-item entries served "
      "(exact M: %lld), collaborative arrays %.1f MiB; trainer's approximation recall@10 vs exact M: "
      "%.4f on %lld histories (-1: exact path)\n"
      "train CPU %.2f s (load average %.1f); peak RSS after training %.0f MiB, at the end %.0f MiB\n",
      courses, static_cast<long long>(stats.collaborative_items), max_items, learners, district->interactions.size(),
      gen_s, train_s, build_s, mib, b.dim(), b.index_info().kind.c_str(), b.content_index_info().kind.c_str(), queries,
      queries ? recall / queries : 0.0, pct(0.5), pct(0.99), stats.collaborative_path.c_str(), exact_max_items,
      approximation.c_str(), static_cast<long long>(stats.sparse_entries),
      static_cast<long long>(stats.collaborative_path == "sparse" ? stats.sparse_entries : stats.exact_entries),
      collaborative_mib, stats.approximation_recall_at_10, static_cast<long long>(stats.approximation_queries),
      train_cpu, LoadAverage(), train_rss, PeakRssMiB());
  return 0;
}

int PruneSweepBench(int courses, int learners, const std::string& sweep) {
  namespace lm = lifelong::models;
  absl::StatusOr<lm::SimulatedDistrict> district = Simulate(courses, learners);
  if (!district.ok()) return 1;
  const double rss0 = PeakRssMiB();
  lm::TrainOptions o;
  o.max_items = courses;
  const double cpu0 = CpuSeconds();
  absl::Time t0 = absl::Now();
  absl::StatusOr<lm::SparseItemModel> m =
      lm::TrainSparseModel(district->interactions, o, o.sparse_candidates, o.sparse_neighbours);
  const double train_s = absl::ToDoubleSeconds(absl::Now() - t0);
  const double train_cpu = CpuSeconds() - cpu0;
  if (!m.ok()) {
    std::fprintf(stderr, "bench_train: %s\n", std::string(m.status().ToString()).c_str());
    return 1;
  }
  std::printf(
      "TrainSparseModel %d:%d on %d courses (%d with learners), %zu interactions: %.2f s wall, %.2f s CPU, "
      "load average %.1f; peak RSS %.0f MiB before training, %.0f MiB after; %zu entries, %.1f MiB\n",
      o.sparse_candidates, o.sparse_neighbours, courses, m->num_items(), district->interactions.size(), train_s,
      train_cpu, LoadAverage(), rss0, PeakRssMiB(), m->target.size(), m->bytes() / double(1 << 20));
  absl::flat_hash_map<std::string, int> row_of;
  for (int i = 0; i < m->num_items(); ++i) row_of[m->course_ids[i]] = i;
  // Queries as the trainer measures them: 1,000 evenly spaced residents with
  // >= 2 courses, each sequence without its last course, weighted as
  // ModelBundle::HistoryRowWeights does (most recent first, decay^age).
  auto seqs = lm::GroupSequences(district->interactions);
  std::vector<std::vector<std::pair<int, double>>> queries;
  std::vector<std::vector<int>> histories;
  std::vector<size_t> eligible;
  for (size_t u = 0; u < seqs.size(); ++u) {
    if (seqs[u].second.size() >= 2) eligible.push_back(u);
  }
  const size_t quota = std::min<size_t>(eligible.size(), 1000);
  for (size_t x = 0; x < quota; ++x) {
    const auto& seq = seqs[eligible[x * eligible.size() / quota]].second;
    std::vector<std::pair<int, double>> q;
    std::vector<int> h;
    double norm = 0;
    for (int e = static_cast<int>(seq.size()) - 2; e >= 0; --e) {
      auto it = row_of.find(seq[e].course_id);
      if (it == row_of.end() || !(seq[e].weight > 0)) continue;
      bool seen = false;
      for (auto& p : q) {
        if (p.first == it->second) {
          p.second = std::max<double>(p.second, seq[e].weight);
          seen = true;
        }
      }
      if (seen || static_cast<int>(q.size()) >= o.max_history) continue;
      q.push_back({it->second, seq[e].weight});
      h.push_back(it->second);
    }
    for (size_t age = 0; age < q.size(); ++age) {
      q[age].second *= std::pow(o.recency_decay, static_cast<double>(age));
      norm += q[age].second * q[age].second;
    }
    for (auto& p : q) p.second /= std::sqrt(norm);
    if (q.empty()) continue;
    queries.push_back(std::move(q));
    histories.push_back(std::move(h));
  }
  auto top10 = [&](const lm::SparseItemModel& model, size_t x, std::vector<double>* latency_ms) {
    const absl::Time q0 = absl::Now();
    const std::vector<float> s = model.Score(queries[x]);
    std::vector<bool> excluded(s.size(), false);
    for (int row : histories[x]) excluded[row] = true;
    std::vector<int> top = lm::TopUnexcludedRows(s, excluded, 10);
    if (latency_ms != nullptr) latency_ms->push_back(absl::ToDoubleMilliseconds(absl::Now() - q0));
    return top;
  };
  std::vector<std::vector<int>> want;
  std::vector<double> latency_ms;
  for (size_t x = 0; x < queries.size(); ++x) want.push_back(top10(*m, x, &latency_ms));
  std::sort(latency_ms.begin(), latency_ms.end());
  std::printf(
      "exact scoring of all %d courses + top 10 (SparseItemModel::Score): p50 %.3f ms  p99 %.3f ms on %zu "
      "histories\n",
      m->num_items(), latency_ms[latency_ms.size() / 2], latency_ms[latency_ms.size() * 99 / 100], queries.size());
  // Recall@10 of a pruned model's top 10 against M's, over the same queries.
  auto recall_against_m = [&](const lm::SparseItemModel& p) {
    int64_t hits = 0, total = 0;
    for (size_t x = 0; x < queries.size(); ++x) {
      const std::vector<int> got = top10(p, x, nullptr);
      for (int row : want[x]) {
        ++total;
        hits += std::find(got.begin(), got.end(), row) != got.end();
      }
    }
    return total ? static_cast<double>(hits) / total : 1.0;
  };
  // Tried as well: one global magnitude threshold instead of a count per
  // row (entries with |w| below the q-quantile of all |w| dropped).
  std::vector<float> magnitudes;
  for (float w : m->weight) magnitudes.push_back(std::fabs(w));
  std::sort(magnitudes.begin(), magnitudes.end());
  for (double share : {0.5, 0.6, 0.7, 0.8, 0.9, 0.95}) {
    const float tau = magnitudes[static_cast<size_t>((1 - share) * (magnitudes.size() - 1))];
    lm::SparseItemModel p;
    p.course_ids = m->course_ids;
    p.counts = m->counts;
    p.row_start.assign(m->row_start.size(), 0);
    for (int i = 0; i < m->num_items(); ++i) {
      for (int64_t e = m->row_start[i]; e < m->row_start[i + 1]; ++e) {
        if (std::fabs(m->weight[e]) < tau) continue;
        p.target.push_back(m->target[e]);
        p.weight.push_back(m->weight[e]);
      }
      p.row_start[i + 1] = static_cast<int64_t>(p.target.size());
    }
    std::printf("entries with |w| >= %.3g (global): %zu entries (%.1f%%); Recall@10 against M %.4f\n", tau,
                p.target.size(), 100.0 * p.target.size() / std::max<size_t>(1, m->target.size()), recall_against_m(p));
  }
  for (absl::string_view part : absl::StrSplit(sweep, ',', absl::SkipEmpty())) {
    int keep = 0;
    if (!absl::SimpleAtoi(part, &keep) || keep < 1) {
      std::fprintf(stderr, "bench_train: --prune_sweep: %s is not a positive integer\n", std::string(part).c_str());
      return 1;
    }
    const lm::SparseItemModel p = lm::PruneRows(*m, keep);
    std::printf("rows cut to %d entries: %zu entries (%.1f%%), %.1f MiB; Recall@10 against M %.4f\n", keep,
                p.target.size(), 100.0 * p.target.size() / std::max<size_t>(1, m->target.size()),
                p.bytes() / double(1 << 20), recall_against_m(p));
  }
  return 0;
}

int CompareMaxItemsBench(int courses, int learners, const std::string& list) {
  namespace lm = lifelong::models;
  std::vector<lm::Interaction> train;
  std::vector<lm::EvalCase> cases;
  if (!SimulateTailSplit(courses, learners, &train, &cases)) return 1;
  std::vector<lm::EvalCase> sample;
  const size_t stride = std::max<size_t>(1, cases.size() / 20000);
  for (size_t i = 0; i < cases.size(); i += stride) sample.push_back(cases[i]);
  for (absl::string_view part : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    int max_items = 0;
    if (!absl::SimpleAtoi(part, &max_items) || max_items < 1) {
      std::fprintf(stderr, "bench_train: --compare_max_items: %s is not a positive integer\n",
                   std::string(part).c_str());
      return 1;
    }
    lm::TrainOptions o;
    o.max_items = max_items;
    lm::TrainStats stats;
    const double cpu0 = CpuSeconds();
    absl::StatusOr<lm::ModelArrays> arrays = lm::TrainModel(train, {}, o, &stats);
    if (!arrays.ok()) {
      std::fprintf(stderr, "bench_train: %s\n", std::string(arrays.status().ToString()).c_str());
      return 1;
    }
    const double train_cpu = CpuSeconds() - cpu0;
    lm::BuildOptions bo;
    bo.build_indexes = false;
    auto bundle = lm::BuildModelBundle(std::move(*arrays), nlohmann::json::object(), 1, "", bo);
    if (!bundle.ok()) return 1;
    const lm::RankingMetrics m = lm::EvaluateRanking(sample, (*bundle)->course_ids(), 10, lm::BundleScorer(*bundle));
    std::printf(
        "max_items %d: %lld collaborative courses (%s, %lld entries), train CPU %.1f s; %zu residents' tails: "
        "HR@10 %.4f NDCG@10 %.4f Recall@10 %.4f\n",
        max_items, static_cast<long long>(stats.collaborative_items), stats.collaborative_path.c_str(),
        static_cast<long long>(stats.sparse_entries), train_cpu, sample.size(), m.hit_rate, m.ndcg, m.recall);
  }
  return 0;
}

int SparseEaseBench(int courses, int learners, int candidates, int neighbours) {
  namespace lm = lifelong::models;
  std::vector<lm::Interaction> train;
  std::vector<lm::EvalCase> cases;
  if (!SimulateTailSplit(courses, learners, &train, &cases)) return 1;
  lm::SparseEaseOptions so;
  so.candidates = candidates;
  so.neighbours = neighbours;
  so.max_items = courses;
  const double cpu0 = CpuSeconds();
  absl::Time t0 = absl::Now();
  absl::StatusOr<lm::SparseItemModel> m = lm::TrainSparseEase(train, so);
  const double train_s = absl::ToDoubleSeconds(absl::Now() - t0);
  const double train_cpu = CpuSeconds() - cpu0;
  if (!m.ok()) {
    std::fprintf(stderr, "bench_train: %s\n", std::string(m.status().ToString()).c_str());
    return 1;
  }
  // Every 2nd learner (at most 20,000): HR@10 of sparse EASE and popularity.
  std::vector<lm::EvalCase> sample;
  for (size_t i = 0; i < cases.size() && sample.size() < 20000; i += 2) sample.push_back(cases[i]);
  auto shared = std::make_shared<lm::SparseItemModel>(std::move(*m));
  auto row_of = std::make_shared<absl::flat_hash_map<std::string, int>>();
  for (int i = 0; i < shared->num_items(); ++i) (*row_of)[shared->course_ids[i]] = i;
  std::vector<double> latency_ms;
  latency_ms.reserve(sample.size());
  lm::Scorer scorer = [&](const lm::EvalCase& c) {
    const absl::Time q0 = absl::Now();
    std::vector<std::pair<int, double>> q;
    for (const lm::HistoryEvent& e : c.history) {
      auto it = row_of->find(e.course_id);
      if (it != row_of->end()) q.push_back({it->second, 1.0});
    }
    std::vector<float> s = shared->Score(q);
    latency_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - q0));
    return s;
  };
  const lm::RankingMetrics sparse = lm::EvaluateRanking(sample, shared->course_ids, 10, scorer);
  const lm::RankingMetrics pop =
      lm::EvaluateRanking(sample, shared->course_ids, 10, lm::PopularityScorer(train, shared->course_ids));
  std::sort(latency_ms.begin(), latency_ms.end());
  auto pct = [&](double p) {
    return latency_ms.empty() ? 0.0
                              : latency_ms[std::min(latency_ms.size() - 1, static_cast<size_t>(p * latency_ms.size()))];
  };
  // The trainer's model (default options: the sequence part) trained sparse.
  const double cpu1 = CpuSeconds();
  t0 = absl::Now();
  absl::StatusOr<lm::SparseItemModel> full = lm::TrainSparseModel(
      train,
      [&] {
        lm::TrainOptions o;
        o.max_items = courses;
        return o;
      }(),
      candidates, neighbours);
  const double full_s = absl::ToDoubleSeconds(absl::Now() - t0);
  const double full_cpu = CpuSeconds() - cpu1;
  if (!full.ok()) {
    std::fprintf(stderr, "bench_train: %s\n", std::string(full.status().ToString()).c_str());
    return 1;
  }
  auto fm = std::make_shared<lm::SparseItemModel>(std::move(*full));
  lm::Scorer full_scorer = [&](const lm::EvalCase& c) {
    // The bundle's query: distinct known courses, most recent first, weight
    // * 0.6^age (default recency_decay), normalised (ModelBundle).
    std::vector<std::pair<int, double>> q;
    std::vector<bool> seen(fm->num_items(), false);
    double norm = 0;
    for (int e = static_cast<int>(c.history.size()) - 1; e >= 0 && q.size() < 50; --e) {
      auto it = row_of->find(c.history[e].course_id);
      if (it == row_of->end() || seen[it->second]) continue;
      seen[it->second] = true;
      const double w = c.history[e].weight * std::pow(0.6, static_cast<double>(q.size()));
      q.push_back({it->second, w});
      norm += w * w;
    }
    for (auto& p : q) p.second /= std::sqrt(norm);
    return fm->Score(q);
  };
  const lm::RankingMetrics full_m = lm::EvaluateRanking(sample, fm->course_ids, 10, full_scorer);
  std::printf(
      "sparse model (trainer's default options, order-aware): train %.2f s wall, %.2f s CPU; "
      "%zu entries, %.1f MiB; HR@10 %.4f NDCG@10 %.4f Recall@10 %.4f\n",
      full_s, full_cpu, fm->target.size(), fm->bytes() / double(1 << 20), full_m.hit_rate, full_m.ndcg, full_m.recall);
  std::printf(
      "sparse EASE: %d courses (%d with interactions), %zu training interactions, candidates %d, "
      "neighbours %d\n"
      "train %.2f s wall, %.2f s CPU, load average %.1f; model %zu entries, %.1f MiB\n"
      "tail split, %zu learners: HR@10 %.4f NDCG@10 %.4f Recall@10 %.4f (popularity HR@10 %.4f)\n"
      "exact scoring of all %d items (CSR scan): p50 %.3f ms  p99 %.3f ms\n",
      courses, shared->num_items(), train.size(), candidates, neighbours, train_s, train_cpu, LoadAverage(),
      shared->target.size(), shared->bytes() / double(1 << 20), sample.size(), sparse.hit_rate, sparse.ndcg,
      sparse.recall, pop.hit_rate, shared->num_items(), pct(0.5), pct(0.99));
  return 0;
}

}  // namespace

namespace lm = lifelong::models;

int main(int argc, char** argv) {
  lifelong::models::KeepLargeAllocationsInTheHeap();  // tuning reuses its big matrices (trainer.h)
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_index_items) > 0) return IndexBench(absl::GetFlag(FLAGS_index_items));
  if (absl::GetFlag(FLAGS_sparse_ease_items) > 0) {
    return SparseEaseBench(absl::GetFlag(FLAGS_sparse_ease_items), absl::GetFlag(FLAGS_learners),
                           absl::GetFlag(FLAGS_candidates), absl::GetFlag(FLAGS_neighbours));
  }
  if (absl::GetFlag(FLAGS_catalog_courses) > 0 && !absl::GetFlag(FLAGS_compare_max_items).empty()) {
    return CompareMaxItemsBench(absl::GetFlag(FLAGS_catalog_courses), absl::GetFlag(FLAGS_learners),
                                absl::GetFlag(FLAGS_compare_max_items));
  }
  if (absl::GetFlag(FLAGS_catalog_courses) > 0 && !absl::GetFlag(FLAGS_prune_sweep).empty()) {
    return PruneSweepBench(absl::GetFlag(FLAGS_catalog_courses), absl::GetFlag(FLAGS_learners),
                           absl::GetFlag(FLAGS_prune_sweep));
  }
  if (absl::GetFlag(FLAGS_catalog_courses) > 0) {
    return CatalogBench(absl::GetFlag(FLAGS_catalog_courses), absl::GetFlag(FLAGS_learners),
                        absl::GetFlag(FLAGS_max_items), absl::GetFlag(FLAGS_exact_max_items),
                        absl::GetFlag(FLAGS_approximation));
  }
  lm::SyntheticOptions so;
  so.items = absl::GetFlag(FLAGS_items);
  so.mean_length = absl::GetFlag(FLAGS_mean_length);
  so.learners = static_cast<int>(absl::GetFlag(FLAGS_interactions) / so.mean_length);
  so.tracks = std::max(1, so.items / 20);
  absl::Time t0 = absl::Now();
  std::vector<lm::Interaction> data = lm::GenerateSyntheticInteractions(so);
  const double gen_s = absl::ToDoubleSeconds(absl::Now() - t0);
  if (const std::string path = absl::GetFlag(FLAGS_interactions_out); !path.empty()) {
    std::ofstream out(path);
    for (const lm::Interaction& x : data) out << x.learner << '\t' << x.course_id << '\t' << x.order << '\n';
    out.close();
    if (!out) {
      std::fprintf(stderr, "bench_train: --interactions_out: cannot write %s\n", path.c_str());
      return 1;
    }
    std::printf("wrote %zu interactions (%d learners, %d courses) to %s\n", data.size(), so.learners, so.items,
                path.c_str());
    return 0;
  }
  lm::TrainOptions options;
  options.dense_max_items = absl::GetFlag(FLAGS_dense_max_items);
  options.set_mix = absl::GetFlag(FLAGS_set_mix);
  options.max_items = absl::GetFlag(FLAGS_max_items);
  lm::TrainStats stats;
  t0 = absl::Now();
  absl::StatusOr<lm::ModelArrays> arrays = lm::TrainModel(data, {}, options, &stats);
  const double train_s = absl::ToDoubleSeconds(absl::Now() - t0);
  if (!arrays.ok()) {
    std::fprintf(stderr, "bench_train: %s\n", std::string(arrays.status().ToString()).c_str());
    return 1;
  }
  t0 = absl::Now();
  auto bundle = lm::BuildModelBundle(std::move(*arrays), nlohmann::json::object(), 0, "");
  const double index_s = absl::ToDoubleSeconds(absl::Now() - t0);
  if (!bundle.ok()) return 1;
  std::printf(
      "interactions %zu (used %lld) learners %lld items %lld dim %d identity_query %d\n"
      "generate %.2f s  train %.2f s  build bundle+index %.2f s  (budget: train <= 60 s)\n"
      "model item vectors %.1f MiB\n",
      data.size(), static_cast<long long>(stats.interactions_used), static_cast<long long>(stats.learners),
      static_cast<long long>(stats.items), (*bundle)->dim(), stats.items <= options.dense_max_items ? 1 : 0, gen_s,
      train_s, index_s, static_cast<double>(stats.items) * (*bundle)->dim() * sizeof(float) / (1 << 20));
  if (absl::GetFlag(FLAGS_tune)) {
    // What `train --tune` does: tune on a validation split, then train the
    // chosen parameters on everything.
    t0 = absl::Now();
    const double cpu0 = CpuSeconds();
    auto tuned = lm::TuneOnValidation(data, options, 0.2, false, 1, 10);
    if (!tuned.ok()) {
      std::fprintf(stderr, "bench_train: %s\n", std::string(tuned.status().ToString()).c_str());
      return 1;
    }
    const double tune_s = absl::ToDoubleSeconds(absl::Now() - t0);
    t0 = absl::Now();
    absl::StatusOr<lm::ModelArrays> final_arrays = lm::TrainModel(data, {}, tuned->best);
    if (!final_arrays.ok()) return 1;
    const double final_s = absl::ToDoubleSeconds(absl::Now() - t0);
    std::printf(
        "tune %.2f s (%zu trials, %lld dense solves, validation recall@10 %.4f ndcg@10 %.4f)\n"
        "train with the chosen parameters %.2f s\n"
        "tuning + training %.2f s wall, %.2f s CPU (2 cores: wall >= CPU / 2), load average "
        "%.1f  (budget: <= 60 s)\nchosen %s\n",
        tune_s, tuned->trials.size(), static_cast<long long>(tuned->solves), tuned->best_metrics.recall,
        tuned->best_metrics.ndcg, final_s, tune_s + final_s, CpuSeconds() - cpu0, LoadAverage(),
        tuned->best.ToJson().dump().c_str());
  }
  return 0;
}
