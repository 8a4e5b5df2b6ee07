// Retiring model versions after an erasure (docs/models.md, "Erasure and
// model versions").
//
// The record store counts completed erasures (its erasure epoch) and reports
// the count at the start of every export (records_export.h). A model trained
// on that export records it in its manifest:
//   "records_export": {"erasure_epoch": N}
// A version trained at epoch N holds nothing of erasures N+1, N+2, ...; one
// trained at an earlier epoch may hold data erased since. So, in a model
// root, let E be the largest epoch any complete version records: every
// version that records a smaller epoch is RETIRED (one that records none —
// trained from files, or before epochs were recorded — counts as epoch 0) — a version trained after the
// latest known erasure exists, and it is served instead. Retired versions
// are never loaded or pinned by the recommender (ModelManager) and are
// deleted by the trainer after it writes a new version
// (DeleteRetiredVersions).
//
// While no version records an epoch, nothing is retired: an erasure retires
// the models trained before it only once a model trained after it exists
// (train one after every erasure; ops/ does so).
#ifndef LIFELONG_MODELS_MODEL_RETIREMENT_H_
#define LIFELONG_MODELS_MODEL_RETIREMENT_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace lifelong::models {

// The epoch a manifest records, or nullopt.
std::optional<uint64_t> ErasureEpochOf(const nlohmann::json& manifest);
// Sets it ("records_export": {"erasure_epoch": epoch}) in `manifest`.
void SetErasureEpoch(nlohmann::json* manifest, uint64_t epoch);

struct RetirementPlan {
  std::optional<uint64_t> latest_epoch;  // E above; unset: no version records one
  std::set<int64_t> retired;             // versions to refuse and delete
};

// Reads the manifests of the complete versions under `model_root`.
// NOT_FOUND when the root does not exist. A manifest that does not parse
// retires nothing (the loader rejects that version anyway).
absl::StatusOr<RetirementPlan> PlanRetirement(const std::string& model_root);
// The retired versions of `model_root` (PlanRetirement().retired).
absl::StatusOr<std::set<int64_t>> RetiredVersions(const std::string& model_root);

// Deletes the retired versions of `model_root` and returns them, except the
// largest-numbered version (kept, still retired, so that no later version
// reuses its number). Each is first renamed to a ".tmp-retired-N" name (which no reader treats as a
// version), then removed. INTERNAL on I/O errors.
absl::StatusOr<std::vector<int64_t>> DeleteRetiredVersions(const std::string& model_root);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_MODEL_RETIREMENT_H_
