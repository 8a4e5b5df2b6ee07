// Runs the `evaluate` binary: --write_split writes the split it evaluated as
// train/test interaction files that give the same cases again (what the
// replay through the live services reads for datasets split here).
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "models/evaluation.h"
#include "models/interaction_file.h"
#include "models/synthetic.h"

namespace lifelong::models {
namespace {

std::string Tmp(const std::string& name) { return absl::StrCat(getenv("TEST_TMPDIR"), "/", name); }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void ExpectSameCases(const std::vector<EvalCase>& want, const std::vector<EvalCase>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].learner, got[i].learner);
    ASSERT_EQ(want[i].history.size(), got[i].history.size()) << want[i].learner;
    for (size_t e = 0; e < want[i].history.size(); ++e) {
      EXPECT_EQ(want[i].history[e].course_id, got[i].history[e].course_id) << want[i].learner;
      EXPECT_EQ(want[i].history[e].weight, got[i].history[e].weight) << want[i].learner;
    }
    std::vector<std::string> a = want[i].held_out, b = got[i].held_out;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_EQ(a, b) << want[i].learner;
  }
}

TEST(EvaluateBinary, WriteSplitGivesTheSameCasesBack) {
  SyntheticOptions so;
  so.learners = 300;
  so.items = 40;
  so.tracks = 4;
  std::vector<Interaction> data = GenerateSyntheticInteractions(so);
  // Weights other than 1 survive the round trip.
  for (size_t i = 0; i < data.size(); i += 3) data[i].weight = 0.5f;
  const std::string path = Tmp("all.tsv");
  {
    std::ofstream out(path);
    for (const Interaction& x : data) {
      out << x.learner << "\t" << x.course_id << "\t" << x.order << "\t" << x.weight << "\n";
    }
  }
  auto all = ReadInteractionFile(path);
  ASSERT_TRUE(all.ok()) << all.status();
  for (const std::string split : {"tail", "random"}) {
    const std::string dir = Tmp("split_" + split);
    const std::string out = Tmp("evaluate_" + split + ".out");
    const std::string cmd = absl::StrCat(
        "models/evaluate --interactions=", path, " --split=", split,
        " --seed=3 --tune=false --served=false --ease_baseline=false --ks=10 --write_split=", dir, " > ", out, " 2>&1");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
    std::vector<Interaction> train;
    std::vector<EvalCase> cases;
    if (split == "random") {
      SplitRandom(*all, 0.2, 3, &train, &cases);
    } else {
      SplitSequenceTails(*all, 0.2, &train, &cases);
    }
    auto written_train = ReadInteractionFile(dir + "/train.tsv");
    auto written_test = ReadInteractionFile(dir + "/test.tsv");
    ASSERT_TRUE(written_train.ok()) << written_train.status();
    ASSERT_TRUE(written_test.ok()) << written_test.status();
    ExpectSameCases(cases, CasesFromTrainTest(*written_train, *written_test));
    EXPECT_EQ(GroupSequences(*written_train).size(), GroupSequences(train).size());
    EXPECT_NE(ReadText(out).find("wrote the split"), std::string::npos);
  }
  // Without a split made here there is nothing to write.
  const std::string out = Tmp("evaluate_bad.out");
  const std::string cmd = absl::StrCat("models/evaluate --train=", path, " --test=", path,
                                       " --write_split=", Tmp("nowhere"), " > ", out, " 2>&1");
  EXPECT_NE(std::system(cmd.c_str()), 0);
  EXPECT_NE(ReadText(out).find("--write_split"), std::string::npos) << ReadText(out);
}

}  // namespace
}  // namespace lifelong::models
