#include "models/sequence_blend.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "models/evaluation.h"
#include "models/interaction.h"
#include "models/model_bundle.h"
#include "models/sequence_model.h"
#include "models/synthetic.h"
#include "models/trainer.h"

namespace lifelong::models {
namespace {

// Ordered learners on `courses` courses in 3 tracks (synthetic.h).
std::vector<Interaction> Tracks(int learners, int courses) {
  SyntheticOptions so;
  so.learners = learners;
  so.items = courses;
  so.tracks = 3;
  so.mean_length = 5;
  return GenerateSyntheticInteractions(so);
}

// Tracks(learners, courses) and its tail validation split (20%).
struct TracksSplit {
  TracksSplit(int learners, int courses) : data(Tracks(learners, courses)) {
    SplitSequenceTails(data, 0.2, &vtrain, &vcases);
  }
  std::vector<Interaction> data, vtrain;
  std::vector<EvalCase> vcases;
};

SequenceModelOptions Small() {
  SequenceModelOptions o;
  o.dim = 8;
  o.hidden = 12;
  o.epochs = 3;
  o.batch = 16;
  o.learning_rate = 0.01;
  return o;
}

// The grid evaluation scores each case once and gives, weight by weight,
// what EvaluateRankingAtKs of BlendScorer gives.
TEST(EvaluateBlendWeights, EqualsEvaluatingEachBlend) {
  const std::vector<Interaction> data = Tracks(120, 21);
  std::vector<Interaction> vtrain;
  std::vector<EvalCase> vcases;
  SplitSequenceTails(data, 0.2, &vtrain, &vcases);
  ASSERT_FALSE(vcases.empty());
  auto gru = SequenceModel::Create(vtrain, Small());
  ASSERT_TRUE(gru.ok()) << gru.status();
  ASSERT_TRUE(gru->TrainEpoch().ok());
  auto model = std::make_shared<const SequenceModel>(*std::move(gru));
  const std::vector<std::string>& universe = model->course_ids();
  // A popularity-like first scorer that disagrees with the GRU.
  const Scorer first = [&universe](const EvalCase&) {
    std::vector<float> s(universe.size());
    for (size_t j = 0; j < s.size(); ++j) s[j] = static_cast<float>(j % 7);
    return s;
  };
  const Scorer second = SequenceScorer(model, universe);
  const std::vector<double> weights = {0, 0.5, 3, 50};
  const std::vector<RankingMetrics> grid = EvaluateBlendWeights(vcases, universe, first, second, weights, 2);
  ASSERT_EQ(grid.size(), weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    const RankingMetrics alone =
        EvaluateRankingAtKs(vcases, universe, {10}, BlendScorer(first, second, weights[i]), {}, 1)[0];
    EXPECT_EQ(grid[i].ToJson().dump(), alone.ToJson().dump()) << "w " << weights[i];
  }
  EXPECT_NE(grid.front().hit_rate, grid.back().hit_rate) << "w should matter here";
}

// final=validation serves the validation run's GRU itself; scratch trains a
// new one on all the data (whose vocabulary then holds the held-out
// courses); warm continues the validation GRU for one epoch on all of it.
TEST(TrainSequenceBlend, FinalChoosesTheValidationModelANewOneOrAWarmStart) {
  const TracksSplit split(150, 24);
  const std::vector<Interaction>& data = split.data;
  const std::vector<Interaction>& vtrain = split.vtrain;
  const std::vector<EvalCase>& vcases = split.vcases;
  SequenceModelOptions o = Small();
  auto run = TrainSequenceOnValidation(vtrain, vcases, o);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_GE(run->best_epoch, 1);
  ASSERT_EQ(run->epochs_log.size(), static_cast<size_t>(o.epochs));
  const std::vector<double> weights = {0, 1, 5};
  auto arrays = TrainModel(vtrain, {}, TrainOptions());
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  BuildOptions bo;
  bo.build_indexes = false;
  auto bundle = BuildModelBundle(*std::move(arrays), nlohmann::json::object(), 0, "", bo);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  const std::shared_ptr<const ModelBundle> linear = *bundle;

  o.final_model = "validation";
  auto kept = FinishSequenceBlend(data, linear, vcases, o, weights, *run);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->model, run->model) << "final=validation serves the validation model";
  EXPECT_EQ(kept->epochs, run->best_epoch);
  EXPECT_EQ(kept->report["final"], "validation");
  EXPECT_EQ(kept->report["blend_grid"].size(), weights.size());

  o.final_model = "scratch";
  auto retrained = FinishSequenceBlend(data, linear, vcases, o, weights, *run);
  ASSERT_TRUE(retrained.ok()) << retrained.status();
  EXPECT_NE(retrained->model, run->model);
  EXPECT_EQ(retrained->w, kept->w) << "w is chosen on validation either way";
  EXPECT_EQ(retrained->model->epochs_done(), run->best_epoch);
  EXPECT_GT(retrained->model->num_predictions(), run->model->num_predictions()) << "trained on all the data";

  o.final_model = "warm";
  auto warm = FinishSequenceBlend(data, linear, vcases, o, weights, *run);
  ASSERT_TRUE(warm.ok()) << warm.status();
  EXPECT_EQ(warm->w, kept->w);
  EXPECT_EQ(warm->model->epochs_done(), 1);
  EXPECT_EQ(warm->model->num_predictions(), retrained->model->num_predictions()) << "trained on all the data";
  // The same epoch as TrainWarmFinal run elsewhere (what train's thread does).
  auto warm_ahead = TrainWarmFinal(data, *run->model, o);
  ASSERT_TRUE(warm_ahead.ok()) << warm_ahead.status();
  EXPECT_EQ((*warm_ahead)->parameters(), warm->model->parameters());
  // Run by the caller (train's thread): w is chosen first, then the epoch
  // awaited, once; its error is the result's.
  SequenceValidationRun pending = *run;
  int awaited = 0;
  pending.await_warm_final = [&]() -> absl::StatusOr<std::pair<std::shared_ptr<const SequenceModel>, double>> {
    ++awaited;
    return std::make_pair(*warm_ahead, 7.5);
  };
  auto warm3 = FinishSequenceBlend(data, linear, vcases, o, weights, pending);
  ASSERT_TRUE(warm3.ok()) << warm3.status();
  EXPECT_EQ(awaited, 1);
  EXPECT_EQ(warm3->model, *warm_ahead);
  EXPECT_EQ(warm3->w, kept->w);
  EXPECT_EQ(warm3->report["training_seconds"].get<double>(), 7.5);
  EXPECT_EQ(warm3->report["blend_grid"], kept->report["blend_grid"]);
  pending.await_warm_final = []() -> absl::StatusOr<std::pair<std::shared_ptr<const SequenceModel>, double>> {
    return absl::InternalError("warm epoch failed");
  };
  EXPECT_EQ(FinishSequenceBlend(data, linear, vcases, o, weights, pending).status().message(), "warm epoch failed");

  o.final_model = "scratch";
  // The one-call form equals the two steps.
  auto whole = TrainSequenceBlend(data, vtrain, vcases, TrainOptions(), o, weights);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->w, retrained->w);
  EXPECT_EQ(whole->model->parameters(), retrained->model->parameters());
}

// max_predictions stops the validation epochs before one would pass it
// (never before the first), whatever the validation curve says.
TEST(TrainSequenceOnValidation, MaxPredictionsBoundsTheEpochs) {
  const TracksSplit split(150, 24);
  SequenceModelOptions o = Small();
  o.epochs = 6;
  o.patience = 6;
  auto probe = SequenceModel::Create(split.vtrain, o);
  ASSERT_TRUE(probe.ok()) << probe.status();
  const int64_t per_epoch = probe->num_predictions();
  ASSERT_GT(per_epoch, 0);
  std::vector<std::string> lines;
  const auto say = [&lines](const std::string& line) { lines.push_back(line); };
  for (const auto& [budget, want] : std::vector<std::pair<int64_t, size_t>>{
           {0, 6}, {2 * per_epoch, 2}, {2 * per_epoch + per_epoch / 2, 2}, {per_epoch / 3, 1}, {6 * per_epoch, 6}}) {
    o.max_predictions = budget;
    lines.clear();
    auto run = TrainSequenceOnValidation(split.vtrain, split.vcases, o, say);
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_EQ(run->epochs_log.size(), want) << "max_predictions " << budget;
    EXPECT_LE(run->best_epoch, static_cast<int>(want));
    const bool stopped = !lines.empty() && lines.back().find("another would pass max_predictions") != std::string::npos;
    EXPECT_EQ(stopped, want < 6) << "max_predictions " << budget << ": " << (lines.empty() ? "" : lines.back());
  }
}

TEST(TrainSequenceBlend, RefusesEmptyValidationWeightsOrRun) {
  const std::vector<Interaction> data = Tracks(60, 12);
  std::vector<Interaction> vtrain;
  std::vector<EvalCase> vcases;
  SplitSequenceTails(data, 0.2, &vtrain, &vcases);
  EXPECT_EQ(TrainSequenceOnValidation(vtrain, {}, Small()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TrainSequenceBlend(data, vtrain, vcases, TrainOptions(), Small(), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // No validation GRU, or no linear model to blend with.
  EXPECT_EQ(FinishSequenceBlend(data, nullptr, vcases, Small(), {1}, SequenceValidationRun()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SequenceModelFlag, AutoTrainsTheBudgetSpecOnlyWithEnoughValidationLearners) {
  auto f = SequenceModelFlag::Parse("auto", "--sequence_model");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->mode, SequenceModelFlag::Mode::kAuto);
  auto budget = SequenceModelOptions::Parse(kDefaultSequenceSpec);
  ASSERT_TRUE(budget.ok()) << budget.status();
  EXPECT_EQ(f->options.ToString(), budget->ToString());
  EXPECT_EQ(f->options.epochs, 12);
  EXPECT_EQ(f->options.max_predictions, 2000000);
  EXPECT_EQ(f->options.final_model, "warm");

  auto on = f->Resolve(kMinSequenceValidationLearners, "--sequence_model");
  ASSERT_TRUE(on.ok()) << on.status();
  ASSERT_TRUE(on->has_value());
  EXPECT_EQ((*on)->ToString(), budget->ToString());

  std::string why;
  auto off = f->Resolve(kMinSequenceValidationLearners - 1, "--sequence_model", &why);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->has_value());
  EXPECT_NE(why.find("999 learner(s) with a validation part, fewer than 1000"), std::string::npos) << why;
  auto none_at_all = f->Resolve(0, "--sequence_model", &why);  // auto never refuses
  ASSERT_TRUE(none_at_all.ok()) << none_at_all.status();
  EXPECT_FALSE(none_at_all->has_value());
}

TEST(SequenceModelFlag, NoneEmptyDefaultAndExplicitSpecs) {
  for (const char* off : {"", "none"}) {
    auto f = SequenceModelFlag::Parse(off, "--sequence_model");
    ASSERT_TRUE(f.ok()) << off;
    EXPECT_EQ(f->mode, SequenceModelFlag::Mode::kNone) << off;
    auto r = f->Resolve(1000000, "--sequence_model");
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->has_value()) << off;
  }
  auto d = SequenceModelFlag::Parse("default", "--sequence_model");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->mode, SequenceModelFlag::Mode::kExplicit);
  EXPECT_EQ(d->options.ToString(), SequenceModelOptions().ToString());
  // An explicit spec trains on any validation split, however small...
  auto e = SequenceModelFlag::Parse("epochs=2,hidden=8", "--sequence_model");
  ASSERT_TRUE(e.ok()) << e.status();
  auto r = e->Resolve(1, "--sequence_model");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->epochs, 2);
  EXPECT_EQ((*r)->hidden, 8);
  // ...but is refused, naming the flag, without one.
  auto empty = e->Resolve(0, "--sequence_model");
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(empty.status().message().find("--sequence_model"), std::string::npos);
  // Bad specs name the flag.
  for (const char* bad : {"hidden=0", "foo=1", "final=hot", "auto,epochs=2", "None"}) {
    auto b = SequenceModelFlag::Parse(bad, "--sequence_model");
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(b.status().message().find("--sequence_model"), std::string::npos) << bad << ": " << b.status();
  }
}

}  // namespace
}  // namespace lifelong::models
