// The GRU blend of issue #17 (docs/models.md, "A learned sequence model"):
// a SequenceModel (models/sequence_model.h) blended with the linear model
// as z(linear) + w z(GRU), its epochs and w chosen on a validation split.
// Shared by `evaluate --sequence_model` (which scores it) and `train
// --sequence_model` (which writes it into the model version, where
// ModelBundle::ScoreAllServed serves it).
#ifndef LIFELONG_MODELS_SEQUENCE_BLEND_H_
#define LIFELONG_MODELS_SEQUENCE_BLEND_H_

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "models/evaluation.h"
#include "models/interaction.h"
#include "models/model_bundle.h"
#include "models/sequence_model.h"
#include "models/trainer.h"
#include "nlohmann/json.hpp"

namespace lifelong::models {

// Validation learners the GRU's epochs and w are chosen on (an evenly spaced
// sample of the validation split's cases above it).
inline constexpr size_t kSequenceValidationCases = 5000;

// The blend weights tried by default.
inline const std::vector<double>& DefaultSequenceBlendWeights() {
  static const std::vector<double> w = {0, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 20, 50};
  return w;
}

// The GRU spec `train` and `evaluate` use by default ("auto", below), within
// issue #17's 60 s for tuning plus training on 1M interactions: up to 12
// validation epochs but at most 2,000,000 predictions in them (3 epochs at
// 1M interactions, 4 on the 98,000-learner district, 12 or early stopping
// on CNPC), then one warm epoch on all the data. docs/models.md "The GRU
// within the budget" and "The GRU on by default".
inline constexpr absl::string_view kDefaultSequenceSpec =
    "epochs=12,patience=2,lr=0.005,negatives=512,final=warm,max_predictions=2000000";

// "auto" trains the GRU only when at least this many learners have a
// validation part: on simulated districts it gained served HR@10 every time
// from about 1,700 such learners up, and lost 1.4 points once below 1,000
// (438 learners); small deployments and tests keep the linear model alone.
inline constexpr size_t kMinSequenceValidationLearners = 1000;

// A --sequence_model flag value:
//   "auto"         kDefaultSequenceSpec when the validation split has at
//                  least kMinSequenceValidationLearners learners, else none;
//   "none" or ""   no GRU;
//   "default"      SequenceModelOptions' own defaults;
//   "key=value,..." those options (SequenceModelOptions::Parse).
struct SequenceModelFlag {
  enum class Mode { kNone, kAuto, kExplicit };
  Mode mode = Mode::kNone;
  SequenceModelOptions options;  // kAuto: kDefaultSequenceSpec; kExplicit: the spec

  // INVALID_ARGUMENT naming `flag` for a bad spec.
  static absl::StatusOr<SequenceModelFlag> Parse(absl::string_view value, absl::string_view flag);

  // The options to train with for a validation split of
  // `validation_learners` learners with a validation part, or nullopt (and
  // `*why`, when given, says why). FAILED_PRECONDITION naming `flag` for an
  // explicit spec without any validation learner.
  absl::StatusOr<std::optional<SequenceModelOptions>> Resolve(size_t validation_learners, absl::string_view flag,
                                                              std::string* why = nullptr) const;
};

// A comma-separated list of blend weights (each in [0, 1e6]);
// INVALID_ARGUMENT naming `flag` otherwise (also for an empty list).
absl::StatusOr<std::vector<double>> ParseBlendWeights(absl::string_view list, absl::string_view flag);

// Standardised scores over the entries that are scores (> -1e29); the
// others (courses a scorer does not know) stay at -1e30.
std::vector<float> ZScores(const std::vector<float>& s);

// The GRU's scores in `universe` order; a learner without a known course
// gets the model's prior (SequenceModel::PriorScores), courses outside its
// vocabulary -1e30. History: the events with weight > 0, oldest first.
Scorer SequenceScorer(std::shared_ptr<const SequenceModel> model, const std::vector<std::string>& universe);

// z(first) + w z(second), over the entries both score.
Scorer BlendScorer(Scorer first, Scorer second, double w);

// HR/NDCG@10 of BlendScorer(first, second, w) for every w of `weights` (in
// that order), each case scored by `first` and `second` once; the figures
// equal EvaluateRankingAtKs of each BlendScorer.
std::vector<RankingMetrics> EvaluateBlendWeights(const std::vector<EvalCase>& cases,
                                                 const std::vector<std::string>& universe, const Scorer& first,
                                                 const Scorer& second, const std::vector<double>& weights,
                                                 int threads = 1);

// A `progress` callback for TrainSequenceBlend: one cli::Progress line set
// per epoch on `out` (which must outlive it), labelled `prefix` + the epoch.
std::function<void(absl::string_view, int64_t, int64_t)> EpochProgressBars(std::ostream& out, std::string prefix);

// The evenly spaced `most` of `cases` (all when fewer).
std::vector<EvalCase> EvenSample(std::vector<EvalCase> cases, size_t most);

struct SequenceBlendChoice {
  // The served GRU (options.final_model: retrained on the whole training
  // data for `epochs` epochs, warm-started, or the validation model).
  std::shared_ptr<const SequenceModel> model;
  int epochs = 0;  // the best validation epoch
  double w = 0;    // the best blend weight on validation (0: the linear model alone)
  // The validation run's GRU (trained on vtrain, its best epoch): what a
  // model of the validation split blends in (evaluate --choose_blend).
  std::shared_ptr<const SequenceModel> validation_model;
  // validation_epochs (loss, validation HR/NDCG per epoch), blend_grid,
  // validation_seconds, training_epochs, training_seconds, options.
  nlohmann::json report;
};

// Step 1 below on its own: the GRU trained on `vtrain` epoch by epoch, its
// epochs chosen on `vcases` ranked over the GRU's own vocabulary. It needs
// no linear model, so `train` runs it beside the linear model's tuning.
struct SequenceValidationRun {
  std::shared_ptr<const SequenceModel> model;  // the best epoch's snapshot
  int best_epoch = 0;
  nlohmann::json epochs_log;  // loss and validation HR/NDCG per epoch
  double seconds = 0;
  // final=warm, when the caller runs TrainWarmFinal(train, *model) itself
  // (train does, on the GRU's thread): a function that waits for it and
  // returns it with its training seconds. FinishSequenceBlend chooses w
  // first, so the two overlap. Unset: FinishSequenceBlend runs it.
  std::function<absl::StatusOr<std::pair<std::shared_ptr<const SequenceModel>, double>>()> await_warm_final;
};
absl::StatusOr<SequenceValidationRun> TrainSequenceOnValidation(
    const std::vector<Interaction>& vtrain, const std::vector<EvalCase>& vcases, const SequenceModelOptions& options,
    const std::function<void(const std::string&)>& say = {},
    const std::function<void(absl::string_view, int64_t, int64_t)>& progress = {});

// final=warm: `from` (the validation run's GRU) continued for one epoch on
// all of `train` (SequenceModel::WarmStart).
absl::StatusOr<std::shared_ptr<const SequenceModel>> TrainWarmFinal(
    const std::vector<Interaction>& train, const SequenceModel& from, const SequenceModelOptions& options,
    const std::function<void(const std::string&)>& say = {},
    const std::function<void(absl::string_view, int64_t, int64_t)>& progress = {});

// Steps 2 and 3 below after `run` (TrainSequenceOnValidation's result on the
// same vcases and options), with `vlinear` the linear model trained on that
// vtrain (train's validation-figures bundle; validation ranks its universe).
absl::StatusOr<SequenceBlendChoice> FinishSequenceBlend(
    const std::vector<Interaction>& train, const std::shared_ptr<const ModelBundle>& vlinear,
    const std::vector<EvalCase>& vcases, const SequenceModelOptions& options, const std::vector<double>& weights,
    const SequenceValidationRun& run, const std::function<void(const std::string&)>& say = {},
    const std::function<void(absl::string_view, int64_t, int64_t)>& progress = {});

// Chooses and trains the GRU blend:
//   1. a GRU on `vtrain` (the validation split's training part), epoch by
//      epoch up to options.epochs, scored on `vcases` (HR@10 + NDCG@10,
//      ranked over the GRU's vocabulary) after each; it stops after options.patience epochs without a gain
//      and keeps the best epoch;
//   2. the linear model with `linear` parameters on `vtrain`; w = the
//      `weights` entry whose z(linear) + w z(GRU) scores best on `vcases`
//      (ties: the first, so list 0 first to prefer the linear model);
//   3. the served GRU, by options.final_model: retrained on `train` for the
//      chosen epochs (scratch), step 1's GRU one epoch more on `train`
//      (warm), or step 1's GRU as it is (validation).
// `say` receives one line per epoch and per w (may be empty); `progress`
// (may be empty) gets (label, learners done, total) within an epoch.
// INVALID_ARGUMENT for empty `vcases` or `weights`, bad options, or data
// without a sequence; the GRU's errors otherwise.
absl::StatusOr<SequenceBlendChoice> TrainSequenceBlend(
    const std::vector<Interaction>& train, const std::vector<Interaction>& vtrain, const std::vector<EvalCase>& vcases,
    const TrainOptions& linear, const SequenceModelOptions& options, const std::vector<double>& weights,
    const std::function<void(const std::string&)>& say = {},
    const std::function<void(absl::string_view, int64_t, int64_t)>& progress = {});

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_SEQUENCE_BLEND_H_
