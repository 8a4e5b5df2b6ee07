#include "models/district_simulator.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "gtest/gtest.h"
#include "models/evaluation.h"
#include "models/interaction_file.h"
#include "models/trainer.h"

namespace lifelong::models {
namespace {

DistrictOptions Small(uint64_t seed) {
  DistrictOptions o;
  o.learners = 4000;
  o.courses = 300;
  o.seed = seed;
  return o;
}

TEST(SimulateDistrict, IsDeterministicPerSeed) {
  auto a = SimulateDistrict(Small(3));
  auto b = SimulateDistrict(Small(3));
  auto c = SimulateDistrict(Small(4));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(InteractionTsv(a->interactions), InteractionTsv(b->interactions));
  EXPECT_EQ(CatalogJsonLines(a->courses), CatalogJsonLines(b->courses));
  EXPECT_NE(InteractionTsv(a->interactions), InteractionTsv(c->interactions));
}

TEST(SimulateDistrict, FollowsTheGenerativeStory) {
  auto d = SimulateDistrict(Small(1));
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->courses.size(), 300u);
  absl::flat_hash_map<std::string, const SimulatedCourse*> course;
  for (const SimulatedCourse& c : d->courses) course[c.id] = &c;

  // Every learner has >= 2 courses, the mean is near mean_courses.
  std::map<std::string, std::vector<const Interaction*>> by_learner;
  for (const Interaction& x : d->interactions) by_learner[x.learner].push_back(&x);
  ASSERT_EQ(by_learner.size(), 4000u);
  for (const auto& [l, seq] : by_learner) EXPECT_GE(seq.size(), 2u) << l;
  const double mean = static_cast<double>(d->interactions.size()) / by_learner.size();
  EXPECT_GT(mean, 6.5);
  EXPECT_LT(mean, 9.5);

  // Prerequisites: level L >= 3 of a series only after level L-1 (a series
  // is entered at level 1 or 2 and continued one level at a time).
  int checked = 0;
  for (const auto& [l, seq] : by_learner) {
    std::set<std::pair<int, int>> seen;  // (series, level)
    for (const Interaction* x : seq) {
      const SimulatedCourse& c = *course.at(x->course_id);
      if (c.level >= 3) {
        EXPECT_TRUE(seen.count({c.series, c.level - 1})) << l << " " << c.id;
        ++checked;
      }
      seen.insert({c.series, c.level});
    }
  }
  EXPECT_GT(checked, 1000);

  // Power-law popularity: the top 10% of courses hold far more than 10%.
  std::map<std::string, int> count;
  for (const Interaction& x : d->interactions) ++count[x.course_id];
  std::vector<int> counts;
  for (const auto& [id, n] : count) counts.push_back(n);
  std::sort(counts.rbegin(), counts.rend());
  int64_t top = 0, all = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    all += counts[i];
    if (i < d->courses.size() / 10) top += counts[i];
  }
  EXPECT_GT(static_cast<double>(top) / all, 0.3);

  // Locality: offline enrolments at the home street far above 1/17.
  int offline = 0, home = 0;
  // Age: 智能手机应用 draws the elderly more than the young.
  std::map<std::string, std::pair<int, int>> phone;  // age -> (phone, all)
  for (const Interaction& x : d->interactions) {
    const int li = std::stoi(x.learner.substr(1));
    const SimulatedCourse& c = *course.at(x.course_id);
    if (!c.online) {
      ++offline;
      if (c.street == d->home_street[li]) ++home;
    }
    auto& p = phone[d->age_group[li]];
    p.second += 1;
    if (c.category == "智能手机应用") p.first += 1;
  }
  EXPECT_GT(static_cast<double>(home) / offline, 2.0 / 17);  // uniform: 1/17
  const double old_share = static_cast<double>(phone["高龄老年"].first) / phone["高龄老年"].second;
  const double young_share = static_cast<double>(phone["青年"].first) / phone["青年"].second;
  EXPECT_GT(old_share, 3 * young_share);
}

TEST(SimulateDistrict, FilesReadBackAndTheModelLearnsTheSequences) {
  auto d = SimulateDistrict(Small(2));
  ASSERT_TRUE(d.ok());
  auto parsed = ParseInteractions(InteractionTsv(d->interactions), "sim.tsv");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), d->interactions.size());
  EXPECT_EQ((*parsed)[5].course_id, d->interactions[5].course_id);
  EXPECT_EQ((*parsed)[5].weight, d->interactions[5].weight);
  std::vector<Interaction> train;
  std::vector<EvalCase> cases;
  SplitSequenceTails(*parsed, 0.2, &train, &cases);
  auto arrays = TrainModel(train, {}, TrainOptions());
  ASSERT_TRUE(arrays.ok());
  auto bundle = BuildModelBundle(std::move(*arrays), {}, 1, "");
  ASSERT_TRUE(bundle.ok());
  const auto& universe = (*bundle)->course_ids();
  const RankingMetrics model = EvaluateRanking(cases, universe, 10, BundleScorer(*bundle));
  const RankingMetrics pop = EvaluateRanking(cases, universe, 10, PopularityScorer(train, universe));
  EXPECT_GT(model.hit_rate, pop.hit_rate + 0.1) << model.hit_rate << " vs " << pop.hit_rate;
}

TEST(SimulateDistrict, RejectsBadOptionsNamingTheField) {
  DistrictOptions o;
  o.learners = 0;
  EXPECT_EQ(SimulateDistrict(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = DistrictOptions();
  o.continue_prob = 1.5;
  auto s = SimulateDistrict(o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("continue_prob"), std::string::npos) << s;
  o = DistrictOptions();
  o.mean_courses = 1;
  EXPECT_NE(SimulateDistrict(o).status().message().find("mean_courses"), std::string::npos);
}

}  // namespace
}  // namespace lifelong::models
