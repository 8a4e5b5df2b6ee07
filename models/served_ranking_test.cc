#include "models/served_ranking.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "models/evaluation.h"
#include "models/synthetic.h"
#include "models/trainer.h"

namespace lifelong::models {
namespace {

std::string WriteTemp(const std::string& name, const std::string& content) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir == nullptr ? "/tmp" : dir) + "/" + name;
  std::ofstream(path) << content;
  return path;
}

TEST(ReadCourseCategories, ReadsCatalogDumpsAndCnpcCourseInfo) {
  auto catalog = ReadCourseCategories(WriteTemp("catalog.jsonl",
                                                "{\"id\":\"d00001\",\"title\":\"书法 入门\",\"category\":\"书法\"}\n\n"
                                                "{\"id\":\"d00002\",\"title\":\"无类别\"}\n"));
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_EQ(catalog->size(), 1u);
  EXPECT_EQ(catalog->at("d00001"), "书法");
  auto cnpc = ReadCourseCategories(WriteTemp("info.json", "{\"course_idx2\": 7, \"discipline\": \"Humanities\"}\n"));
  ASSERT_TRUE(cnpc.ok()) << cnpc.status();
  EXPECT_EQ(cnpc->at("7"), "Humanities");
}

TEST(ReadCourseCategories, RejectsMalformedLinesNamingThem) {
  auto bad = ReadCourseCategories(WriteTemp("bad.jsonl", "{\"id\":\"a\",\"category\":\"x\"}\nnot json\n"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("bad.jsonl:2"), std::string::npos) << bad.status();
  auto no_id = ReadCourseCategories(WriteTemp("noid.jsonl", "{\"category\":\"x\"}\n"));
  EXPECT_EQ(no_id.status().code(), absl::StatusCode::kInvalidArgument);
  auto empty_id = ReadCourseCategories(WriteTemp("emptyid.jsonl", "{\"id\":\"\"}\n"));
  EXPECT_EQ(empty_id.status().code(), absl::StatusCode::kInvalidArgument);
  const char* dir = std::getenv("TEST_TMPDIR");
  EXPECT_EQ(ReadCourseCategories(std::string(dir == nullptr ? "/tmp" : dir) + "/missing/none.jsonl").status().code(),
            absl::StatusCode::kNotFound);
}

// With the cap off and no blend the served ranking is the model's; with one
// category for every course the cap limits each list's first part and the
// refill restores k courses.
TEST(ServedRankingScorer, CategoryCapSwitch) {
  SyntheticOptions so;
  so.learners = 600;
  so.items = 60;
  so.tracks = 4;
  std::vector<Interaction> train;
  std::vector<EvalCase> cases;
  SplitSequenceTails(GenerateSyntheticInteractions(so), 0.2, &train, &cases);
  auto arrays = TrainModel(train, {}, TrainOptions());
  ASSERT_TRUE(arrays.ok());
  auto bundle = BuildModelBundle(std::move(*arrays), {}, 1, "");
  ASSERT_TRUE(bundle.ok());
  const auto& universe = (*bundle)->course_ids();
  ServedRankingOptions pure;
  pure.blend = false;
  pure.category_cap = false;
  for (const std::string& id : universe) pure.category[id] = id < "c3" ? "a" : "b";
  const RankingMetrics model = EvaluateRanking(cases, universe, 10, BundleScorer(*bundle));
  const RankingMetrics same = EvaluateRanking(cases, universe, 10, ServedRankingScorer(*bundle, pure, 10));
  EXPECT_EQ(model.ToJson(), same.ToJson());
  ServedRankingOptions capped = pure;
  capped.category_cap = true;
  const RankingMetrics c = EvaluateRanking(cases, universe, 10, ServedRankingScorer(*bundle, capped, 10));
  EXPECT_NE(c.ToJson(), model.ToJson());  // the cap reorders some lists
}

}  // namespace
}  // namespace lifelong::models
