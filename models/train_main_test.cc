// Runs the `train` binary end to end: interaction file + catalog dump in,
// a loadable model version with figures in its manifest out.
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "models/model_bundle.h"
#include "models/synthetic.h"

namespace lifelong::models {
namespace {

std::string Tmp(const std::string& name) { return absl::StrCat(getenv("TEST_TMPDIR"), "/", name); }

TEST(TrainBinary, WritesLoadableVersionsWithFigures) {
  SyntheticOptions so;
  so.learners = 400;
  so.items = 40;
  so.tracks = 4;
  const std::string data = Tmp("interactions.tsv");
  {
    std::ofstream out(data);
    out << "# learner course order weight\n";
    for (const Interaction& x : GenerateSyntheticInteractions(so)) {
      out << x.learner << "\t" << x.course_id << "\t" << x.order << "\t"
          << "http://adlnet.gov/expapi/verbs/completed\n";
    }
  }
  const std::string catalog = Tmp("catalog.jsonl");
  std::ofstream(catalog) << "{\"id\":\"c1\",\"title\":\"书法入门\"}\n"
                         << "{\"id\":\"brand-new\",\"title\":\"书法进阶\"}\n";
  const std::string root = Tmp("models");
  const std::string cmd = absl::StrCat("models/train --model_root=", root, " --interactions=", data,
                                       " --catalog=", catalog, " > ", Tmp("train.out"), " 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto b = LoadLatestModelBundle(root);
  ASSERT_TRUE(b.ok()) << b.status();
  const ModelBundle& m = **b;
  EXPECT_EQ(m.version(), 2);
  EXPECT_EQ(m.num_items(), 41);  // c0..c39 + brand-new
  const nlohmann::json& man = m.manifest();
  EXPECT_EQ(man["training"]["learners"], 400);
  EXPECT_GT(man["tuning"]["trials"].get<int>(), 5);
  const auto& val = man["evaluation"]["validation"];
  EXPECT_GT(val["model"]["recall"].get<double>(), val["popularity"]["recall"].get<double>());
  auto similar = m.SimilarCourses(*m.Row("brand-new"), 1);
  ASSERT_EQ(similar.size(), 1u);
  EXPECT_EQ(m.CourseId(similar[0].row), "c1");
}

// Writes a synthetic interaction file of `items` courses.
std::string WriteSynthetic(const std::string& name, int learners, int items) {
  SyntheticOptions so;
  so.learners = learners;
  so.items = items;
  so.tracks = items / 10;
  const std::string data = Tmp(name);
  std::ofstream out(data);
  for (const Interaction& x : GenerateSyntheticInteractions(so)) {
    out << x.learner << "\t" << x.course_id << "\t" << x.order << "\t"
        << "http://adlnet.gov/expapi/verbs/completed\n";
  }
  return data;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Above the dense limit and within --exact_max_items: a sparse (format 2)
// version, served exactly.
TEST(TrainBinary, SparseExactPathWritesAFormat2Version) {
  const std::string data = WriteSynthetic("sparse.tsv", 600, 60);
  const std::string root = Tmp("sparse_models");
  const std::string out = Tmp("sparse.out");
  const std::string cmd = absl::StrCat("models/train --model_root=", root, " --interactions=", data,
                                       " --params='{\"dense_max_items\":20}' --exact_max_items=100 > ", out, " 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
  auto b = LoadLatestModelBundle(root);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE((*b)->sparse_item_matrix());
  EXPECT_EQ((*b)->manifest()["format"], "lifelong-recommender-model/2");
  EXPECT_EQ((*b)->manifest()["training"]["collaborative_path"], "sparse");
  EXPECT_EQ((*b)->manifest()["params"]["exact_max_items"], 100);
  EXPECT_FALSE((*b)->manifest().contains("approximation"));
  EXPECT_NE(ReadText(out).find("collaborative path: sparse"), std::string::npos) << ReadText(out);
}

// Beyond --exact_max_items with the low-rank approximation: low rank +
// FAISS, and the recall of that approximation against exact scoring is
// printed and in the manifest.
TEST(TrainBinary, BeyondTheExactLimitReportsApproximationRecall) {
  const std::string data = WriteSynthetic("approx.tsv", 600, 60);
  const std::string root = Tmp("approx_models");
  const std::string out = Tmp("approx.out");
  const std::string cmd = absl::StrCat(
      "models/train --model_root=", root, " --interactions=", data, " --tune=false",
      " --params='{\"dense_max_items\":20,\"low_rank_dim\":8,\"approximation\":\"low_rank\"}' --exact_max_items=30 > ",
      out, " 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
  auto b = LoadLatestModelBundle(root);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE((*b)->identity_query());
  const nlohmann::json& man = (*b)->manifest();
  ASSERT_TRUE(man.contains("approximation")) << man.dump(2);
  const double recall = man["approximation"]["recall_at_10"].get<double>();
  EXPECT_GE(recall, 0.0);
  EXPECT_LE(recall, 1.0);
  EXPECT_GT(man["approximation"]["queries"].get<int>(), 100);
  EXPECT_EQ(man["training"]["approximation_recall_at_10"].get<double>(), recall);
  EXPECT_EQ(man["approximation"]["kind"], "low_rank");
  EXPECT_NE(ReadText(out).find("approximation: Recall@10"), std::string::npos) << ReadText(out);
  // A bad flag value is refused.
  const std::string bad = absl::StrCat("models/train --model_root=", root, " --interactions=", data,
                                       " --exact_max_items=-5 > ", out, " 2>&1");
  EXPECT_NE(std::system(bad.c_str()), 0);
  EXPECT_NE(ReadText(out).find("--exact_max_items"), std::string::npos) << ReadText(out);
}

// Beyond --exact_max_items by default: M's rows pruned (a format-2 version,
// served from its rows), with the served model's recall against exact M
// printed and in the manifest; whole rows measure 1.
TEST(TrainBinary, PrunedBeyondTheExactLimitWritesAFormat2VersionWithItsRecall) {
  const std::string data = WriteSynthetic("pruned.tsv", 600, 60);
  const std::string root = Tmp("pruned_models");
  const std::string out = Tmp("pruned.out");
  for (int keep : {2, 1000}) {
    const std::string cmd = absl::StrCat("models/train --model_root=", root, " --interactions=", data,
                                         " --tune=false --params='{\"dense_max_items\":20,\"pruned_neighbours\":", keep,
                                         "}' --exact_max_items=30 > ", out, " 2>&1");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
    auto b = LoadLatestModelBundle(root);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_TRUE((*b)->sparse_item_matrix());
    const nlohmann::json& man = (*b)->manifest();
    EXPECT_EQ(man["format"], "lifelong-recommender-model/2");
    EXPECT_EQ(man["training"]["collaborative_path"], "sparse_pruned");
    ASSERT_TRUE(man.contains("approximation")) << man.dump(2);
    EXPECT_EQ(man["approximation"]["kind"], "pruned");
    const double recall = man["approximation"]["recall_at_10"].get<double>();
    if (keep == 1000) {
      EXPECT_EQ(recall, 1.0);
      EXPECT_EQ(man["training"]["sparse_entries"], man["training"]["exact_entries"]);
    } else {
      EXPECT_LT(recall, 1.0);
      EXPECT_LT(man["training"]["sparse_entries"].get<int64_t>(), man["training"]["exact_entries"].get<int64_t>());
    }
    EXPECT_NE(ReadText(out).find("collaborative path: sparse_pruned"), std::string::npos) << ReadText(out);
    EXPECT_NE(ReadText(out).find("approximation: Recall@10"), std::string::npos) << ReadText(out);
  }
}

TEST(TrainBinary, ParseErrorFailsWithTheLineNamed) {
  const std::string data = Tmp("bad.tsv");
  std::ofstream(data) << "u1\tc1\t1\nu1\tc2\tsoon\n";
  const std::string out = Tmp("bad.out");
  const std::string cmd =
      absl::StrCat("models/train --model_root=", Tmp("bad_models"), " --interactions=", data, " > ", out, " 2>&1");
  EXPECT_NE(std::system(cmd.c_str()), 0);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("bad.tsv:2: field 'order'"), std::string::npos) << text;
}

}  // namespace
}  // namespace lifelong::models
