#include "models/replay/replay.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>

#include "absl/container/flat_hash_set.h"
#include "models/evaluation.h"
#include "models/synthetic.h"
#include "models/trainer.h"
#include "nlohmann/json.hpp"

namespace lifelong::models::replay {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

// A small trained model and its evaluation cases (synthetic sequences, the
// last 20% of each learner held out).
struct Fixture {
  std::vector<Interaction> train;
  std::vector<EvalCase> cases;
  std::shared_ptr<const ModelBundle> bundle;
};

Fixture MakeFixture() {
  SyntheticOptions so;
  so.learners = 300;
  so.items = 40;
  so.tracks = 5;
  Fixture f;
  SplitSequenceTails(GenerateSyntheticInteractions(so), 0.2, &f.train, &f.cases);
  auto arrays = TrainModel(f.train, {}, TrainOptions());
  EXPECT_TRUE(arrays.ok()) << arrays.status();
  auto bundle = BuildModelBundle(std::move(*arrays), nlohmann::json::object(), 1, "");
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  f.bundle = *bundle;
  return f;
}

TEST(ReadCourseInfoFile, ReadsCnpcLinesAndNamesBadLines) {
  const std::string path = TempPath("info.jsonl");
  {
    std::ofstream out(path);
    out << "{\"course_idx2\":0,\"discipline\":\"Humanities\",\"course_length\":50}\n\n"
        << "{\"id\":\"c7\",\"discipline\":\"Education\"}\n";
  }
  auto info = ReadCourseInfoFile(path);
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->size(), 2u);
  EXPECT_EQ(info->at("0").discipline, "Humanities");
  EXPECT_EQ(info->at("0").length_days, 50);
  EXPECT_EQ(info->at("c7").discipline, "Education");
  EXPECT_EQ(info->at("c7").length_days, -1);

  {
    std::ofstream out(path);
    out << "{\"course_idx2\":0}\n{\"discipline\":\"x\"}\n";
  }
  auto bad = ReadCourseInfoFile(path);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("info.jsonl:2"), std::string::npos) << bad.status();
  EXPECT_EQ(ReadCourseInfoFile(TempPath("missing.jsonl")).status().code(), absl::StatusCode::kNotFound);
}

TEST(MakeCatalogCourses, OneCoursePerIdSortedWithDistinctTitles) {
  std::vector<Interaction> xs = {{"u1", "12", 0}, {"u1", "3", 1}, {"u2", "12", 0}};
  absl::flat_hash_map<std::string, CourseInfo> info = {{"3", {"Humanities", 40}}};
  std::vector<ReplayCourse> plain = MakeCatalogCourses(xs, info, false);
  ASSERT_EQ(plain.size(), 2u);
  EXPECT_EQ(plain[0].id, "12");
  EXPECT_EQ(plain[1].id, "3");
  EXPECT_EQ(plain[0].title, "课程 12 号");
  EXPECT_EQ(plain[1].category, "");
  EXPECT_EQ(plain[1].tags, std::vector<std::string>{"Humanities"});
  EXPECT_NE(plain[1].description.find("Length: 40 days"), std::string::npos);
  std::vector<ReplayCourse> by_discipline = MakeCatalogCourses(xs, info, true);
  EXPECT_EQ(by_discipline[1].category, "Humanities");
  EXPECT_EQ(by_discipline[0].category, "");

  v1::Course proto = ToCourseProto(by_discipline[1]);
  EXPECT_EQ(proto.state(), v1::Course::OPEN);
  EXPECT_EQ(proto.mode(), v1::Course::ONLINE);
  EXPECT_EQ(proto.capacity(), 0);
  EXPECT_FALSE(proto.has_enrollment_close_time());
  auto dump = nlohmann::json::parse(CatalogDumpLine(by_discipline[1]));
  EXPECT_EQ(dump["id"], "3");
  EXPECT_EQ(dump["category"], "Humanities");
}

TEST(StatementJson, CompletedStatementOfTheDistrictAccount) {
  auto j = nlohmann::json::parse(StatementJson("0", "42", ReplayTimestamp(5)));
  EXPECT_EQ(j["actor"]["account"]["name"], "0");
  EXPECT_EQ(j["actor"]["account"]["homePage"], "https://id.dongcheng.gov.cn");
  EXPECT_EQ(j["verb"]["id"], "http://adlnet.gov/expapi/verbs/completed");
  EXPECT_EQ(j["object"]["id"], "https://lifelong.dongcheng.edu.cn/courses/42");
  EXPECT_EQ(j["timestamp"], "2015-01-01T00:00:05.000000Z");
}

TEST(StatementJson, VerbFollowsTheWeight) {
  for (float w : {1.0f, 0.5f, 0.3f}) {
    std::optional<absl::string_view> verb = VerbForWeight(w);
    ASSERT_TRUE(verb.has_value()) << w;
    EXPECT_EQ(VerbWeight(*verb), w);
    auto j = nlohmann::json::parse(StatementJson("7", "42", ReplayTimestamp(1), *verb));
    EXPECT_EQ(j["verb"]["id"], std::string(*verb));
  }
  EXPECT_EQ(*VerbForWeight(0.5f), "http://adlnet.gov/expapi/verbs/attended");
  EXPECT_EQ(*VerbForWeight(0.3f), "http://adlnet.gov/expapi/verbs/registered");
  EXPECT_FALSE(VerbForWeight(0.7f).has_value());
  EXPECT_FALSE(VerbForWeight(0.0f).has_value());
  EXPECT_FALSE(VerbForWeight(2.0f).has_value());
}

TEST(RecordingOrder, StableByOrderWithoutNonPositiveWeights) {
  std::vector<Interaction> xs = {{"a", "c1", 5, 1}, {"b", "c2", 1, 1}, {"a", "c3", 1, 1}, {"b", "c4", 0, 0}};
  std::vector<Interaction> o = RecordingOrder(xs);
  ASSERT_EQ(o.size(), 3u);
  EXPECT_EQ(o[0].course_id, "c2");  // order 1, first in input
  EXPECT_EQ(o[1].course_id, "c3");  // order 1, second in input
  EXPECT_EQ(o[2].course_id, "c1");
}

TEST(EvaluateLists, SameFiguresAsEvaluateRankingForTheSameLists) {
  Fixture f = MakeFixture();
  const auto& universe = f.bundle->course_ids();
  const Scorer scorer = BundleScorer(f.bundle);
  const RankingMetrics direct = EvaluateRanking(f.cases, universe, 10, scorer);
  ListAnomalies anomalies;
  const RankingMetrics from_lists =
      EvaluateLists(f.cases, RankedLists(f.cases, universe, 10, scorer), universe, 10, &anomalies);
  EXPECT_EQ(from_lists.cases, direct.cases);
  EXPECT_DOUBLE_EQ(from_lists.recall, direct.recall);
  EXPECT_DOUBLE_EQ(from_lists.ndcg, direct.ndcg);
  EXPECT_DOUBLE_EQ(from_lists.hit_rate, direct.hit_rate);
  EXPECT_DOUBLE_EQ(from_lists.precision, direct.precision);
  EXPECT_DOUBLE_EQ(from_lists.coverage, direct.coverage);
  EXPECT_EQ(anomalies.short_lists, 0);
  EXPECT_EQ(anomalies.history_items, 0);
}

TEST(EvaluateLists, ShortListIsNotFilledAndOddItemsAreCounted) {
  const std::vector<std::string> universe = {"a", "b", "c", "d"};
  EvalCase c;
  c.learner = "u";
  c.history = {{"a", 1.0f}};
  c.held_out = {"c"};
  // Only "b" (a miss) and the history course "a": with K = 2 the evaluator
  // would fill rank 2 with "c" if the list were turned into plain scores.
  ListAnomalies anomalies;
  RankingMetrics m = EvaluateLists({c}, {{"a", "b", "b"}}, universe, 2, &anomalies);
  EXPECT_EQ(m.cases, 1);
  EXPECT_DOUBLE_EQ(m.recall, 0.0);
  EXPECT_DOUBLE_EQ(m.hit_rate, 0.0);
  EXPECT_DOUBLE_EQ(m.coverage, 0.25);
  EXPECT_EQ(anomalies.short_lists, 1);
  EXPECT_EQ(anomalies.history_items, 1);
  EXPECT_EQ(anomalies.duplicate_items, 1);

  // A hit at rank 2 of a full list; an unknown course counts as a miss.
  m = EvaluateLists({c}, {{"zz", "c"}}, universe, 2, &anomalies);
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg, 1.0 / std::log2(3.0));
  EXPECT_EQ(anomalies.unknown_items, 1);
  EXPECT_EQ(anomalies.short_lists, 0);
}

TEST(ServedRankingScorer, WithoutBlendItIsTheModelRanking) {
  Fixture f = MakeFixture();
  const auto& universe = f.bundle->course_ids();
  ServedRankingOptions o;
  o.blend = false;
  const auto served = RankedLists(f.cases, universe, 10, ServedRankingScorer(f.bundle, o, 10));
  const auto model = RankedLists(f.cases, universe, 10, BundleScorer(f.bundle));
  EXPECT_EQ(CompareLists(served, model).same_order, 1.0);
}

TEST(ServedRankingScorer, BlendsNormalisedModelScoreWithPopularity) {
  Fixture f = MakeFixture();
  const auto& universe = f.bundle->course_ids();
  const ServedRankingOptions o;
  const auto served = RankedLists(f.cases, universe, 10, ServedRankingScorer(f.bundle, o, 10));
  int differs_from_model = 0;
  const auto model = RankedLists(f.cases, universe, 10, BundleScorer(f.bundle));
  for (size_t i = 0; i < f.cases.size(); ++i) {
    // The first course maximises weights.cf max(0, cf)/max_cf + weights.popularity pop
    // + weights.completion completion (the served defaults, models/served_blend.h).
    const ServedBlend& w = o.weights;
    const std::vector<float> cf = f.bundle->ScoreAll(f.cases[i].history);
    absl::flat_hash_set<std::string> hist;
    for (const HistoryEvent& e : f.cases[i].history) hist.insert(e.course_id);
    float max_cf = 0;
    for (int j = 0; j < f.bundle->num_items(); ++j) {
      if (!hist.contains(universe[j])) max_cf = std::max(max_cf, cf[j]);
    }
    double best = -1;
    for (int j = 0; j < f.bundle->num_items(); ++j) {
      if (hist.contains(universe[j])) continue;
      best = std::max(best, w.cf * std::max(0.0f, cf[j]) / max_cf + w.popularity * f.bundle->Popularity(j) +
                                w.completion * f.bundle->CompletionRate(j));
    }
    const int top = *f.bundle->Row(served[i][0]);
    const double top_score = w.cf * std::max(0.0f, cf[top]) / max_cf + w.popularity * f.bundle->Popularity(top) +
                             w.completion * f.bundle->CompletionRate(top);
    EXPECT_NEAR(top_score, best, 1e-6) << "case " << i;
    differs_from_model += served[i] != model[i] ? 1 : 0;
  }
  // Popularity moves some lists (the point of measuring it).
  EXPECT_GT(differs_from_model, 0);
}

TEST(ServedRankingScorer, CategoryCapWithRefillInRankOrder) {
  Fixture f = MakeFixture();
  const auto& universe = f.bundle->course_ids();
  const int n = f.bundle->num_items();
  // The whole blended ranking (one category: no cap).
  const auto full = RankedLists(f.cases, universe, n, ServedRankingScorer(f.bundle, {}, n));
  // Three categories by row; cap max(2, ceil(0.4 * 10)) = 4 per category.
  ServedRankingOptions capped;
  auto category = [&](const std::string& id) { return std::to_string(*f.bundle->Row(id) % 3); };
  for (const std::string& id : universe) capped.category[id] = category(id);
  const auto lists = RankedLists(f.cases, universe, 10, ServedRankingScorer(f.bundle, capped, 10));
  int changed = 0;
  for (size_t i = 0; i < lists.size(); ++i) {
    std::vector<size_t> pick;
    std::vector<bool> taken(full[i].size(), false);
    std::map<std::string, int> per;
    for (size_t r = 0; r < full[i].size() && pick.size() < 10; ++r) {
      if (per[category(full[i][r])] >= 4) continue;
      ++per[category(full[i][r])];
      taken[r] = true;
      pick.push_back(r);
    }
    for (size_t r = 0; r < full[i].size() && pick.size() < 10; ++r) {
      if (!taken[r]) pick.push_back(r);
    }
    std::sort(pick.begin(), pick.end());
    std::vector<std::string> want;
    for (size_t r : pick) want.push_back(full[i][r]);
    EXPECT_EQ(lists[i], want) << "case " << i;
    changed += std::vector<std::string>(full[i].begin(), full[i].begin() + 10) != want ? 1 : 0;
  }
  EXPECT_GT(changed, 0);  // the cap did bind somewhere
  // One category for all: the cap changes nothing.
  ServedRankingOptions one;
  for (const std::string& id : universe) one.category[id] = "same";
  EXPECT_EQ(CompareLists(RankedLists(f.cases, universe, 10, ServedRankingScorer(f.bundle, one, 10)),
                         RankedLists(f.cases, universe, 10, ServedRankingScorer(f.bundle, {}, 10)))
                .same_order,
            1.0);
}

TEST(CompareLists, OrderSetAndOverlap) {
  ListAgreement a = CompareLists({{"a", "b"}, {"a", "b"}, {"a", "b"}}, {{"a", "b"}, {"b", "a"}, {"a", "c"}});
  EXPECT_DOUBLE_EQ(a.same_order, 1.0 / 3);
  EXPECT_DOUBLE_EQ(a.same_set, 2.0 / 3);
  EXPECT_DOUBLE_EQ(a.mean_overlap, (1 + 1 + 0.5) / 3);
}

}  // namespace
}  // namespace lifelong::models::replay
