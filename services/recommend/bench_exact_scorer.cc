// Exact collaborative scoring of large catalogs on the request thread:
// ExactScorer (what Recommender scans a sparse bundle with) over a model
// the trainer produced for a simulated district (models/district_simulator.h,
// power-law popularity, prerequisite series), on the residents' own
// histories. Prints p50/p99 of LearnerVector + Search per learner, and checks
// each answer against ScoreAll's top 10. It prints figures; it is not a test.
//
//   bazel build //services/recommend:bench_exact_scorer
//   bazel-bin/services/recommend/bench_exact_scorer --courses=100000
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "models/district_simulator.h"
#include "models/evaluation.h"
#include "models/interaction_file.h"
#include "models/model_bundle.h"
#include "models/trainer.h"
#include "services/recommend/exact_scorer.h"

ABSL_FLAG(int, courses, 100000, "courses in the simulated district's catalog");
ABSL_FLAG(int, learners, 150000, "residents");
ABSL_FLAG(int, max_items, lifelong::models::TrainOptions().max_items, "TrainOptions.max_items");
ABSL_FLAG(int, exact_max_items, lifelong::models::TrainOptions().exact_max_items, "TrainOptions.exact_max_items");
ABSL_FLAG(bool, catalog, true, "train content vectors for the whole catalog (dim = catalog size)");
ABSL_FLAG(int, queries, 2000, "residents' histories scored (evenly spaced)");
ABSL_FLAG(int, candidates, 100, "k asked of Search, plus the history (Recommender: max(100, 10k) + excluded)");

namespace lm = lifelong::models;

namespace {

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  lm::DistrictOptions d;
  d.courses = absl::GetFlag(FLAGS_courses);
  d.learners = absl::GetFlag(FLAGS_learners);
  absl::StatusOr<lm::SimulatedDistrict> district = lm::SimulateDistrict(d);
  if (!district.ok()) {
    std::fprintf(stderr, "bench_exact_scorer: %s\n", std::string(district.status().ToString()).c_str());
    return 1;
  }
  std::vector<lm::CatalogCourse> catalog;
  if (absl::GetFlag(FLAGS_catalog)) {
    for (const lm::SimulatedCourse& c : district->courses) {
      std::vector<std::string> tags = c.audiences;
      tags.push_back(c.online ? "线上" : c.street);
      catalog.push_back({c.id, lm::CatalogCourseText(c.title, c.category, tags, "")});
    }
  }
  lm::TrainOptions o;
  o.max_items = absl::GetFlag(FLAGS_max_items);
  o.exact_max_items = absl::GetFlag(FLAGS_exact_max_items);
  lm::TrainStats stats;
  const double cpu0 = CpuSeconds();
  absl::StatusOr<lm::ModelArrays> arrays = lm::TrainModel(district->interactions, catalog, o, &stats);
  if (!arrays.ok()) {
    std::fprintf(stderr, "bench_exact_scorer: %s\n", std::string(arrays.status().ToString()).c_str());
    return 1;
  }
  const double train_cpu = CpuSeconds() - cpu0;
  lm::BuildOptions bo;
  bo.build_indexes = false;  // ExactScorer needs no FAISS index
  auto bundle = lm::BuildModelBundle(std::move(*arrays), nlohmann::json::object(), 1, "", bo);
  if (!bundle.ok()) {
    std::fprintf(stderr, "bench_exact_scorer: %s\n", std::string(bundle.status().ToString()).c_str());
    return 1;
  }
  const lm::ModelBundle& b = **bundle;
  const lifelong::recommend::ExactScorer scorer(b);

  auto seqs = lm::GroupSequences(district->interactions);
  const int nq = std::min<int>(absl::GetFlag(FLAGS_queries), static_cast<int>(seqs.size()));
  std::vector<double> search_ms, total_ms;
  int agree = 0, cold = 0;
  for (int x = 0; x < nq; ++x) {
    const auto& seq = seqs[static_cast<size_t>(x) * seqs.size() / nq].second;
    std::vector<lm::HistoryEvent> h;
    for (const lm::Interaction& e : seq) h.push_back({e.course_id, e.weight});
    if (b.HistoryRowWeights(h).empty()) {
      ++cold;  // no collaborative course: the recommender serves popularity
      continue;
    }
    const int k = absl::GetFlag(FLAGS_candidates) + static_cast<int>(h.size());
    const absl::Time t0 = absl::Now();
    const std::vector<float> q = b.LearnerVector(h);
    const absl::Time t1 = absl::Now();
    const std::vector<lm::Candidate> found = scorer.Search(q, k);
    const absl::Time t2 = absl::Now();
    search_ms.push_back(absl::ToDoubleMilliseconds(t2 - t1));
    total_ms.push_back(absl::ToDoubleMilliseconds(t2 - t0));
    // The top 10 outside the history against ScoreAll's.
    std::vector<bool> excluded(b.num_items(), false);
    for (const lm::HistoryEvent& e : h) {
      if (auto r = b.Row(e.course_id)) excluded[*r] = true;
    }
    for (int j = 0; j < b.num_items(); ++j) excluded[j] = excluded[j] || b.InteractionCount(j) == 0;
    const std::vector<int> want = lm::TopUnexcludedRows(b.ScoreAll(h), excluded, 10);
    std::vector<int> got;
    for (const lm::Candidate& c : found) {
      if (!excluded[c.row] && got.size() < 10) got.push_back(c.row);
    }
    agree += got == want;
  }
  auto pct = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
  };
  double load[1] = {0};
  getloadavg(load, 1);
  std::printf(
      "catalog %d courses, %lld collaborative (path %s, %lld entries), dim %d, indexed %d; train CPU %.1f s\n"
      "ExactScorer::Search (k = %d + |history|) p50 %.3f ms  p99 %.3f ms; with LearnerVector p50 %.3f ms  "
      "p99 %.3f ms; %d learners (%d more without a collaborative course, served popularity), %d with ScoreAll's "
      "top 10; load average %.1f\n",
      d.courses, static_cast<long long>(stats.collaborative_items), stats.collaborative_path.c_str(),
      static_cast<long long>(stats.sparse_entries), b.dim(), scorer.size(), train_cpu, absl::GetFlag(FLAGS_candidates),
      pct(search_ms, 0.5), pct(search_ms, 0.99), pct(total_ms, 0.5), pct(total_ms, 0.99), nq - cold, cold, agree,
      load[0]);
  return agree == nq - cold ? 0 : 1;
}
