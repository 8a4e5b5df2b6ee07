// Writes a simulated district (models/district_simulator.h): interactions as
// TSV and the catalog as JSON lines, for models/evaluate and models/train.
//
//   bazel build //models:simulate
//   O="--interactions_out=/tmp/district.tsv --catalog_out=/tmp/district_catalog.jsonl"
//   bazel-bin/models/simulate --learners=50000 --courses=2000 --seed=1 $O
//   bazel-bin/models/evaluate --interactions=/tmp/district.tsv --split=tail
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "models/district_simulator.h"

ABSL_FLAG(int, learners, 50000, "residents");
ABSL_FLAG(int, courses, 2000, "catalog size");
ABSL_FLAG(double, mean_courses, 8, "mean courses per learner (>= 2)");
ABSL_FLAG(double, series_length_mean, 4, "mean levels per series");
ABSL_FLAG(double, popularity_exponent, 1.0, "Zipf exponent of series popularity");
ABSL_FLAG(double, online_share, 0.4, "share of series taught online");
ABSL_FLAG(double, continue_prob, 0.5, "probability of taking a started series' next level");
ABSL_FLAG(uint64_t, seed, 1, "generator seed");
ABSL_FLAG(std::string, interactions_out, "", "TSV interactions file to write (required)");
ABSL_FLAG(std::string, catalog_out, "", "optional catalog dump (JSON lines) to write");

namespace lm = lifelong::models;

namespace {

int WriteFile(const std::string& path, const std::string& content) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "simulate: cannot write %s\n", path.c_str());
    return 1;
  }
  const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  if (std::fclose(f) != 0 || !ok) {
    std::fprintf(stderr, "simulate: write failed: %s\n", path.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_interactions_out).empty()) {
    std::fprintf(stderr, "simulate: --interactions_out: required\n");
    return 2;
  }
  lm::DistrictOptions o;
  o.learners = absl::GetFlag(FLAGS_learners);
  o.courses = absl::GetFlag(FLAGS_courses);
  o.mean_courses = absl::GetFlag(FLAGS_mean_courses);
  o.series_length_mean = absl::GetFlag(FLAGS_series_length_mean);
  o.popularity_exponent = absl::GetFlag(FLAGS_popularity_exponent);
  o.online_share = absl::GetFlag(FLAGS_online_share);
  o.continue_prob = absl::GetFlag(FLAGS_continue_prob);
  o.seed = absl::GetFlag(FLAGS_seed);
  absl::StatusOr<lm::SimulatedDistrict> d = lm::SimulateDistrict(o);
  if (!d.ok()) {
    std::fprintf(stderr, "simulate: %s\n", std::string(d.status().ToString()).c_str());
    return 2;
  }
  if (WriteFile(absl::GetFlag(FLAGS_interactions_out), lm::InteractionTsv(d->interactions))) return 1;
  if (!absl::GetFlag(FLAGS_catalog_out).empty() &&
      WriteFile(absl::GetFlag(FLAGS_catalog_out), lm::CatalogJsonLines(d->courses))) {
    return 1;
  }
  std::printf("simulate: %d learners, %zu courses, %zu interactions (seed %llu)\n", o.learners, d->courses.size(),
              d->interactions.size(), static_cast<unsigned long long>(o.seed));
  return 0;
}
