#include "services/cli/train_schedule.h"

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "models/model_bundle.h"
#include "models/model_retirement.h"
#include "services/cli/progress.h"

namespace lifelong::cli {

absl::StatusOr<ModelRootState> ReadModelRootState(const std::string& model_root) {
  ModelRootState state;
  std::error_code ec;
  if (!std::filesystem::exists(model_root, ec)) return state;
  absl::StatusOr<std::vector<int64_t>> versions = models::ListCompleteVersions(model_root);
  if (!versions.ok()) {
    if (absl::IsNotFound(versions.status())) return state;
    return absl::InternalError(absl::StrCat(model_root, ": cannot list model versions: ", versions.status().message()));
  }
  if (versions->empty()) return state;
  state.newest_version = versions->back();
  std::ifstream in(models::VersionPath(model_root, versions->back()) + "/" + std::string(models::kManifestFileName));
  state.newest_written = models::ManifestWrittenAt(nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false));
  absl::StatusOr<models::RetirementPlan> plan = models::PlanRetirement(model_root);
  if (plan.ok() && plan->latest_epoch.has_value()) state.erasure_epoch = *plan->latest_epoch;
  return state;
}

absl::Time NextTrainingAllowedAt(const TrainingPace& pace) {
  if (!pace.last_end.has_value() || !(pace.share > 0) || pace.share >= 1) return absl::InfinitePast();
  return *pace.last_end + pace.last_took * (1 / pace.share - 1);
}

namespace {

// A due training held back until `pace` allows the next one.
RetrainDecision Paced(RetrainDecision d, absl::Time now, const TrainingPace& pace) {
  const absl::Time allowed = NextTrainingAllowedAt(pace);
  if (now >= allowed) return d;
  d.train = false;
  d.paced = true;
  d.until_due = allowed - now;
  absl::StrAppend(&d.reason, "; waiting ", ShortDuration(d.until_due), ", since the last training took ",
                  ShortDuration(pace.last_took), " and trainings take at most ",
                  static_cast<int>(pace.share * 100 + 0.5), "% of the time (--training_share)");
  return d;
}

}  // namespace

RetrainDecision DecideRetrain(const ModelRootState& state, std::optional<uint64_t> records_epoch, absl::Time now,
                              absl::Duration every, const TrainingPace& pace) {
  RetrainDecision d;
  if (!state.newest_version.has_value()) {
    d.train = true;
    d.reason = "no model yet";
    return d;
  }
  const std::string model = absl::StrCat("model ", *state.newest_version);
  if (records_epoch.has_value() && *records_epoch < state.erasure_epoch) {
    // A model recording a higher epoch retires every newer one that records
    // this store's (model_retirement.h): training now would be wasted.
    d.blocked = true;
    d.reason = absl::StrCat("the record service's erasure epoch ", *records_epoch, " is below the models' ",
                            state.erasure_epoch,
                            " (was the record store restored from a backup?): a new model would be retired at once; "
                            "move the versions in the model root aside, then the next check trains "
                            "(docs/records.md \"Restore drill\")");
    d.until_due = every;
    return d;
  }
  if (records_epoch.has_value() && *records_epoch > state.erasure_epoch) {
    d.train = true;
    d.reason = absl::StrCat("an erasure since ", model, " (record service erasure epoch ", *records_epoch, " > ",
                            state.erasure_epoch, ")");
    return Paced(std::move(d), now, pace);
  }
  if (!state.newest_written.has_value()) {
    d.train = true;
    d.reason = absl::StrCat(model, " has no readable written_at");
    return Paced(std::move(d), now, pace);
  }
  const absl::Duration age = now - *state.newest_written;
  if (age >= every) {
    d.train = true;
    d.reason = absl::StrCat(model, " is ", ShortDuration(age), " old (--every=", absl::FormatDuration(every), ")");
    return Paced(std::move(d), now, pace);
  }
  d.reason = absl::StrCat(model, " is ", ShortDuration(age), " old, erasure epoch ", state.erasure_epoch);
  d.until_due = every - age;
  return d;
}

}  // namespace lifelong::cli
