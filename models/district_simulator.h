// A simulated lifelong-learning district: residents, a course catalog and the
// sequences in which residents take courses. A third evaluation dataset next
// to CNPC (ordered) and MOOCCube (unordered), with a generative story that
// can be read, varied and scaled (docs/models.md "Simulated district"):
//
//   Catalog. `courses` courses in SERIES (prerequisite sequences: level 1
//   入门, 2 初级, 3 中级, ...; a series has 1 + Geometric levels, mean
//   `series_length_mean`, at most 8). Series belong to one of 18 course
//   categories (书法, 太极拳, 智能手机应用, 英语口语, 编程入门, ...); a
//   category's share of series follows a Zipf law (exponent 0.6). A series is
//   taught online (probability `online_share`) or at a venue in one of
//   Dongcheng's 17 streets (街道). Within a category, series popularity is
//   Zipf with exponent `popularity_exponent` over a random permutation.
//   Residents. Each learner has an age group (青年 18-34 25%, 中年 35-54
//   30%, 低龄老年 55-69 28%, 高龄老年 70+ 17%), a home street (uniform), a
//   willingness to take online courses that falls with age (0.9, 0.75, 0.45,
//   0.2), and 1-3 interest categories drawn from category weight x the age
//   group's affinity for the category (e.g. 智能手机应用 draws the elderly,
//   编程入门 and 创业就业 the young).
//   Sequences. A learner takes 2 + Geometric courses (mean `mean_courses`).
//   At each step: with probability `continue_prob` the next level of a series
//   already started (the most recent one with a next level, 70%; otherwise a
//   random one); else with probability `interest_prob` a new series in one of
//   the interests; else a new series in any category (weights: category
//   weight x age affinity). A new series is drawn by its popularity x
//   locality (offline at the home street x8, offline elsewhere x1, online x
//   the learner's online willingness x2) and starts at level 1, or at level 2
//   with probability `skip_level_prob`. The event's weight is completed (1.0)
//   with probability 0.7, attended (0.5) 0.2, registered (0.3) 0.1.
//   Order = the step index.
//
// Deterministic for given options on every platform: the generator is
// std::mt19937_64 and every draw is made here from its raw 64-bit output (no
// std:: distributions, whose algorithms differ between standard libraries).
// Thread-safe (pure).
#ifndef LIFELONG_MODELS_DISTRICT_SIMULATOR_H_
#define LIFELONG_MODELS_DISTRICT_SIMULATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/interaction.h"

namespace lifelong::models {

struct DistrictOptions {
  int learners = 50000;
  int courses = 2000;
  double mean_courses = 8;           // per learner, >= 2
  double series_length_mean = 4;     // levels per series, >= 1
  double popularity_exponent = 1.0;  // Zipf exponent of series within a category
  double online_share = 0.4;         // share of series taught online
  double continue_prob = 0.5;        // next level of a started series
  double interest_prob = 0.6;        // of the remaining steps: an interest category
  double skip_level_prob = 0.1;      // a new series entered at level 2
  uint64_t seed = 1;
};

struct SimulatedCourse {
  std::string id;        // "d<5-digit index>" (more digits above 99,999)
  std::string title;     // e.g. "书法·东四社区班 入门"
  std::string category;  // e.g. "书法"
  int series = 0;        // series index
  int level = 1;         // 1-based position in the series
  bool online = false;
  std::string street;                  // venue street when offline, "" online
  std::vector<std::string> audiences;  // age groups with affinity >= 1.5
};

struct SimulatedDistrict {
  std::vector<SimulatedCourse> courses;   // by id (= index order)
  std::vector<Interaction> interactions;  // learner "r<index>", by learner then order
  std::vector<std::string> age_group;     // per learner index
  std::vector<std::string> home_street;   // per learner index
};

// INVALID_ARGUMENT naming the field when an option is out of range
// (learners, courses >= 1; mean_courses >= 2; series_length_mean >= 1;
// probabilities in [0, 1]; popularity_exponent in [0, 3]).
absl::StatusOr<SimulatedDistrict> SimulateDistrict(const DistrictOptions& options);

// JSON lines of the catalog dump format (interaction_file.h ReadCatalogFile).
std::string CatalogJsonLines(const std::vector<SimulatedCourse>& courses);

// TSV interaction lines: learner <TAB> course <TAB> order <TAB> weight.
std::string InteractionTsv(const std::vector<Interaction>& interactions);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_DISTRICT_SIMULATOR_H_
