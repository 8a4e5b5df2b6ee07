// Scheduled retraining (`lifelong train --every=D`, docs/recommend.md
// "Scheduled retraining"): the recommender's model is retrained when it is
// older than D, and soon after an erasure, so that the served model holds
// nothing of an erased learner for longer than one check interval plus a
// training run (a model trained before the erasure is retired once one
// trained after it exists; models/model_retirement.h).
//
// At each check the scheduler reads the model root (ReadModelRootState) and
// the record service's erasure epoch (GetErasureEpoch), and DecideRetrain
// says whether to train now and why. Pure functions here; the loop is
// CmdTrain's.
#ifndef LIFELONG_SERVICES_CLI_TRAIN_SCHEDULE_H_
#define LIFELONG_SERVICES_CLI_TRAIN_SCHEDULE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace lifelong::cli {

// What a model root holds, as far as retraining is concerned.
struct ModelRootState {
  std::optional<int64_t> newest_version;     // the largest complete version; unset: none
  std::optional<absl::Time> newest_written;  // its manifest's written_at; unset: none or unreadable
  // The largest erasure epoch any complete version records (models/
  // model_retirement.h; 0: none records one).
  uint64_t erasure_epoch = 0;
};

// Reads `model_root`'s complete versions and manifests. A missing root is an
// empty state (no model yet). INTERNAL when the root cannot be listed.
absl::StatusOr<ModelRootState> ReadModelRootState(const std::string& model_root);

// How much of the time the schedule has spent training (`--training_share`):
// a training that took T, ended at E, is followed by the next one no sooner
// than E + T * (1 / share - 1), so that trainings take at most `share` of the
// wall time however often the reasons come (a learner may erase their own
// records once a minute, and each erasure is a reason). A first model is
// never held back.
struct TrainingPace {
  std::optional<absl::Time> last_end;  // unset: nothing trained yet by this schedule
  absl::Duration last_took = absl::ZeroDuration();
  double share = 1.0;  // (0, 1]; 1: no waiting
};

// The earliest time the next training may start under `pace` (InfinitePast
// when nothing was trained yet).
absl::Time NextTrainingAllowedAt(const TrainingPace& pace);

struct RetrainDecision {
  bool train = false;
  // Due, but held back by the pace (TrainingPace): `reason` says why it is
  // due and how long it waits; `until_due` is the wait.
  bool paced = false;
  // Not training although it is due: the models record a higher erasure
  // epoch than the record service (a store restored from a backup), so a
  // new model would be retired at once. `reason` says what to do.
  bool blocked = false;
  // Why ("no model yet", "model 3 is 1d0h old (--every=24h)", "an erasure
  // since model 3 (record service erasure epoch 4 > 3)"), or, when not
  // training, what the newest model is.
  std::string reason;
  // When not training: how long until the model reaches `every` (the caller
  // waits at most this, and at most its check interval).
  absl::Duration until_due = absl::ZeroDuration();
};

// Train when there is no model, when the newest one was written `every` or
// longer ago (or its time is unknown), or when `records_epoch` (the record
// service's erasure epoch; unset: not known) is beyond the epoch the models
// record. Never while `records_epoch` is below it (blocked). A due training
// other than the first model waits for `pace` (paced).
RetrainDecision DecideRetrain(const ModelRootState& state, std::optional<uint64_t> records_epoch, absl::Time now,
                              absl::Duration every, const TrainingPace& pace = TrainingPace());

}  // namespace lifelong::cli

#endif  // LIFELONG_SERVICES_CLI_TRAIN_SCHEDULE_H_
