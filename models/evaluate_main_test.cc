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
#include "models/sequence_blend.h"
#include "models/sequence_model.h"
#include "models/synthetic.h"
#include "nlohmann/json.hpp"

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

// Writes GenerateSyntheticInteractions' data (300 learners, 40 courses in
// 4 ordered tracks) as a TSV interaction file; returns its path.
std::string WriteSynthetic(const std::string& name, int learners = 300) {
  SyntheticOptions so;
  so.learners = learners;
  so.items = 40;
  so.tracks = 4;
  const std::string path = Tmp(name);
  std::ofstream out(path);
  for (const Interaction& x : GenerateSyntheticInteractions(so)) {
    out << x.learner << "\t" << x.course_id << "\t" << x.order << "\t" << x.weight << "\n";
  }
  return path;
}

TEST(EvaluateBinary, SplitLastHoldsOutExactlyTheLastCourse) {
  const std::string path = WriteSynthetic("last.tsv");
  auto all = ReadInteractionFile(path);
  ASSERT_TRUE(all.ok()) << all.status();
  const std::string dir = Tmp("split_last");
  const std::string out = Tmp("evaluate_last.out");
  // --test_fraction is not used by --split=last.
  const std::string cmd = absl::StrCat("models/evaluate --interactions=", path,
                                       " --split=last --test_fraction=0.5 --tune=false --served=false "
                                       "--ease_baseline=false --ks=10 --write_split=",
                                       dir, " > ", out, " 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
  auto written_train = ReadInteractionFile(dir + "/train.tsv");
  auto written_test = ReadInteractionFile(dir + "/test.tsv");
  ASSERT_TRUE(written_train.ok() && written_test.ok());
  const std::vector<EvalCase> cases = CasesFromTrainTest(*written_train, *written_test);
  const auto sequences = GroupSequences(*all);
  int long_enough = 0;
  for (const auto& [learner, seq] : sequences) long_enough += seq.size() >= 2 ? 1 : 0;
  ASSERT_EQ(static_cast<int>(cases.size()), long_enough);
  size_t s = 0;
  for (const EvalCase& c : cases) {
    while (sequences[s].first != c.learner) ++s;
    const auto& seq = sequences[s].second;
    ASSERT_EQ(c.held_out.size(), 1u) << c.learner;
    EXPECT_EQ(c.held_out[0], seq.back().course_id) << c.learner;
    EXPECT_EQ(c.history.size(), seq.size() - 1) << c.learner;
  }
  const std::string bad = absl::StrCat("models/evaluate --interactions=", path, " --split=first > ", out, " 2>&1");
  EXPECT_NE(std::system(bad.c_str()), 0);
  EXPECT_NE(ReadText(out).find("--split"), std::string::npos) << ReadText(out);
}

TEST(EvaluateBinary, SequenceModelIsScoredAndBlendedOnValidationChoices) {
  const std::string path = WriteSynthetic("seq.tsv");
  const std::string out = Tmp("evaluate_seq.out");
  const std::string json = Tmp("evaluate_seq.json");
  const std::string cmd = absl::StrCat("models/evaluate --interactions=", path,
                                       " --split=last --tune=false --served=false --ease_baseline=false --ks=10 "
                                       "--sequence_model=epochs=3,dim=16,hidden=16,batch=32,lr=0.01 "
                                       "--sequence_blend_weights=0,1,3 --json_out=",
                                       json, " > ", out, " 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
  const std::string text = ReadText(out);
  EXPECT_NE(text.find("gru (validation) epoch 1:"), std::string::npos) << text;
  EXPECT_NE(text.find("\ngru "), std::string::npos) << text;
  EXPECT_NE(text.find("\nblend "), std::string::npos) << text;
  const nlohmann::json j = nlohmann::json::parse(ReadText(json), nullptr, false);
  ASSERT_TRUE(j.is_object()) << ReadText(json);
  const int best_epoch = j["sequence_model"]["best_epoch"].get<int>();
  EXPECT_GE(best_epoch, 1);
  EXPECT_LE(best_epoch, 3);
  EXPECT_EQ(j["sequence_model"]["training_epochs"].size(), static_cast<size_t>(best_epoch));
  const double w = j["sequence_model"]["blend_w"].get<double>();
  EXPECT_TRUE(w == 0 || w == 1 || w == 3) << w;
  EXPECT_EQ(j["sequence_model"]["blend_grid"].size(), 3u);
  // The GRU learns the synthetic tracks: far above popularity.
  EXPECT_GT(j["results"]["gru"]["10"]["hit_rate"].get<double>(),
            j["results"]["popularity"]["10"]["hit_rate"].get<double>() + 0.1)
      << text;

  // Bad options are refused, naming the field.
  for (const auto& [flags, field] : std::vector<std::pair<std::string, std::string>>{
           {"--sequence_model=hidden=0", "hidden"},
           {"--sequence_model=epoch=3", "epoch"},
           {"--sequence_model=default --sequence_blend_weights=-1", "--sequence_blend_weights"}}) {
    const std::string bad =
        absl::StrCat("models/evaluate --interactions=", path,
                     " --split=last --tune=false --served=false --ease_baseline=false ", flags, " > ", out, " 2>&1");
    EXPECT_NE(std::system(bad.c_str()), 0) << flags;
    EXPECT_NE(ReadText(out).find(field), std::string::npos) << flags << ": " << ReadText(out);
  }
}

// issue #17: without --sequence_model ("auto", as train) the budget GRU is
// scored once 1,000 learners have a validation part, and not below.
TEST(EvaluateBinary, SequenceModelIsOnByDefaultOnceEnoughLearnersHaveAValidationPart) {
  const std::string out = Tmp("evaluate_auto.out");
  const std::string json = Tmp("evaluate_auto.json");
  const auto run = [&](const std::string& path) {
    const std::string cmd =
        absl::StrCat("models/evaluate --interactions=", path,
                     " --split=last --tune=false --served=false --ease_baseline=false --ks=10 --choose_blend "
                     "--json_out=",
                     json, " > ", out, " 2>&1");
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
    return nlohmann::json::parse(ReadText(json), nullptr, false);
  };
  const nlohmann::json big = run(WriteSynthetic("auto_big.tsv", 1400));
  ASSERT_TRUE(big.is_object()) << ReadText(out);
  auto budget = SequenceModelOptions::Parse(kDefaultSequenceSpec);
  ASSERT_TRUE(budget.ok());
  EXPECT_EQ(big["sequence_model"]["options"], budget->ToString()) << big["sequence_model"].dump();
  EXPECT_TRUE(big["results"].contains("gru")) << ReadText(out);
  EXPECT_TRUE(big["results"].contains("blend")) << ReadText(out);
  // --choose_blend ranks the validation split with the validation GRU
  // blended in, at the chosen w.
  EXPECT_EQ(big["blend_grid_gru_w"], big["sequence_model"]["blend_w"]) << ReadText(out);
  EXPECT_EQ(big["blend_grid"].size(), 15u);
  EXPECT_NE(ReadText(out).find("category cap on; GRU blended in, w "), std::string::npos) << ReadText(out);

  const nlohmann::json small = run(WriteSynthetic("auto_small.tsv"));
  ASSERT_TRUE(small.is_object()) << ReadText(out);
  EXPECT_EQ(small["sequence_model"]["trained"], false) << small["sequence_model"].dump();
  EXPECT_NE(small["sequence_model"]["why"].get<std::string>().find("fewer than 1000"), std::string::npos);
  EXPECT_FALSE(small["results"].contains("gru"));
  EXPECT_EQ(small["blend_grid_gru_w"], -1);
  EXPECT_NE(ReadText(out).find("category cap on; no GRU"), std::string::npos) << ReadText(out);
  EXPECT_NE(ReadText(out).find("no sequence model (auto: "), std::string::npos) << ReadText(out);
}

TEST(EvaluateBinary, LinearBlendIsChosenOnValidationAndScored) {
  const std::string path = WriteSynthetic("linear_blend.tsv");
  const std::string out = Tmp("evaluate_lblend.out");
  auto run = [&](const std::string& weights, const std::string& json) {
    const std::string cmd = absl::StrCat(
        "models/evaluate --interactions=", path,
        " --split=last --tune=false --served=false --ease_baseline=false --ks=10 "
        "--linear_blend='{\"source_window\":1,\"target_window\":1,\"recency_decay\":0.01}' --linear_blend_weights=",
        weights, " --json_out=", json, " > ", out, " 2>&1");
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ReadText(out);
    return nlohmann::json::parse(ReadText(json), nullptr, false);
  };
  const nlohmann::json j = run("0,1,3", Tmp("lblend.json"));
  ASSERT_TRUE(j.is_object()) << ReadText(out);
  const std::string text = ReadText(out);
  EXPECT_NE(text.find("\nlinear2 "), std::string::npos) << text;
  EXPECT_NE(text.find("\nlblend "), std::string::npos) << text;
  // The second model is the chosen parameters with the overrides.
  EXPECT_EQ(j["linear_blend"]["params"]["source_window"].get<int>(), 1);
  EXPECT_EQ(j["linear_blend"]["params"]["target_window"].get<int>(), 1);
  EXPECT_EQ(j["linear_blend"]["params"]["lambda_seq"], j["params"]["lambda_seq"]);
  // w is the grid's best by the tuning objective on validation.
  ASSERT_EQ(j["linear_blend"]["grid"].size(), 3u);
  double best_w = -1, best = -1;
  for (const auto& row : j["linear_blend"]["grid"]) {
    const double score = row["validation"]["recall"].get<double>() + 0.5 * row["validation"]["ndcg"].get<double>();
    if (score > best) {
      best = score;
      best_w = row["w"].get<double>();
    }
  }
  EXPECT_EQ(j["linear_blend"]["w"].get<double>(), best_w);
  // The transition model learns the synthetic tracks: far above popularity.
  EXPECT_GT(j["results"]["linear2"]["10"]["hit_rate"].get<double>(),
            j["results"]["popularity"]["10"]["hit_rate"].get<double>() + 0.1)
      << text;

  // With w 0 the blend ranks as the model does.
  const nlohmann::json zero = run("0", Tmp("lblend0.json"));
  ASSERT_TRUE(zero.is_object()) << ReadText(out);
  EXPECT_EQ(zero["linear_blend"]["w"].get<double>(), 0);
  EXPECT_EQ(zero["results"]["lblend"]["10"], zero["results"]["model"]["10"]);

  // Bad options are refused, naming the flag or the field.
  for (const auto& [flags, field] : std::vector<std::pair<std::string, std::string>>{
           {"--linear_blend=nojson", "--linear_blend"},
           {"--linear_blend='{\"recency_decay\":0}'", "recency_decay"},
           {"--linear_blend='{\"bogus\":1}'", "bogus"},
           {"--linear_blend='{}' --linear_blend_weights=-1", "--linear_blend_weights"}}) {
    const std::string bad =
        absl::StrCat("models/evaluate --interactions=", path,
                     " --split=last --tune=false --served=false --ease_baseline=false ", flags, " > ", out, " 2>&1");
    EXPECT_NE(std::system(bad.c_str()), 0) << flags;
    EXPECT_NE(ReadText(out).find(field), std::string::npos) << flags << ": " << ReadText(out);
  }
}

}  // namespace
}  // namespace lifelong::models
