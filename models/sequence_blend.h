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
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "models/evaluation.h"
#include "models/interaction.h"
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

// A `progress` callback for TrainSequenceBlend: one cli::Progress line set
// per epoch on `out` (which must outlive it), labelled `prefix` + the epoch.
std::function<void(absl::string_view, int64_t, int64_t)> EpochProgressBars(std::ostream& out, std::string prefix);

// The evenly spaced `most` of `cases` (all when fewer).
std::vector<EvalCase> EvenSample(std::vector<EvalCase> cases, size_t most);

struct SequenceBlendChoice {
  // Trained on the whole training data for `epochs` epochs.
  std::shared_ptr<const SequenceModel> model;
  int epochs = 0;  // the best validation epoch
  double w = 0;    // the best blend weight on validation (0: the linear model alone)
  // validation_epochs (loss, validation HR/NDCG per epoch), blend_grid,
  // validation_seconds, training_epochs, training_seconds, options.
  nlohmann::json report;
};

// Chooses and trains the GRU blend:
//   1. a GRU on `vtrain` (the validation split's training part), epoch by
//      epoch up to options.epochs, scored on `vcases` (HR@10 + NDCG@10)
//      after each; it stops after options.patience epochs without a gain
//      and keeps the best epoch;
//   2. the linear model with `linear` parameters on `vtrain`; w = the
//      `weights` entry whose z(linear) + w z(GRU) scores best on `vcases`
//      (ties: the first, so list 0 first to prefer the linear model);
//   3. the GRU retrained on `train` for the chosen epochs.
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
