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

TEST(TrainBinary, ParseErrorFailsWithTheLineNamed) {
  const std::string data = Tmp("bad.tsv");
  std::ofstream(data) << "u1\tc1\t1\nu1\tc2\tsoon\n";
  const std::string out = Tmp("bad.out");
  const std::string cmd = absl::StrCat("models/train --model_root=", Tmp("bad_models"),
                                       " --interactions=", data, " > ", out, " 2>&1");
  EXPECT_NE(std::system(cmd.c_str()), 0);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("bad.tsv:2: field 'order'"), std::string::npos) << text;
}

}  // namespace
}  // namespace lifelong::models
