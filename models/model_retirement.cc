#include "models/model_retirement.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "models/model_bundle.h"

namespace lifelong::models {

std::optional<uint64_t> ErasureEpochOf(const nlohmann::json& manifest) {
  if (!manifest.is_object()) return std::nullopt;
  auto it = manifest.find("records_export");
  if (it == manifest.end() || !it->is_object()) return std::nullopt;
  auto e = it->find("erasure_epoch");
  if (e == it->end() || !e->is_number_unsigned()) return std::nullopt;
  return e->get<uint64_t>();
}

void SetErasureEpoch(nlohmann::json* manifest, uint64_t epoch) {
  (*manifest)["records_export"]["erasure_epoch"] = epoch;
}

absl::StatusOr<RetirementPlan> PlanRetirement(const std::string& model_root) {
  absl::StatusOr<std::vector<int64_t>> versions = ListCompleteVersions(model_root);
  if (!versions.ok()) return versions.status();
  std::vector<std::pair<int64_t, std::optional<uint64_t>>> epochs;
  RetirementPlan plan;
  for (int64_t v : *versions) {
    std::ifstream in(absl::StrCat(VersionPath(model_root, v), "/", kManifestFileName));
    std::stringstream ss;
    ss << in.rdbuf();
    nlohmann::json manifest = nlohmann::json::parse(ss.str(), nullptr, false);
    if (manifest.is_discarded()) continue;  // corrupt: the loader rejects it
    std::optional<uint64_t> e = ErasureEpochOf(manifest);
    epochs.emplace_back(v, e);
    if (e && (!plan.latest_epoch || *e > *plan.latest_epoch)) plan.latest_epoch = e;
  }
  if (!plan.latest_epoch) return plan;
  for (const auto& [v, e] : epochs) {
    if (e.value_or(0) < *plan.latest_epoch) plan.retired.insert(v);  // unknown counts as epoch 0
  }
  return plan;
}

absl::StatusOr<std::set<int64_t>> RetiredVersions(const std::string& model_root) {
  absl::StatusOr<RetirementPlan> plan = PlanRetirement(model_root);
  if (!plan.ok()) return plan.status();
  return std::move(plan->retired);
}

absl::StatusOr<std::vector<int64_t>> DeleteRetiredVersions(const std::string& model_root) {
  absl::StatusOr<std::set<int64_t>> retired = RetiredVersions(model_root);
  if (!retired.ok()) return retired.status();
  absl::StatusOr<std::vector<int64_t>> versions = ListCompleteVersions(model_root);
  if (!versions.ok()) return versions.status();
  std::vector<int64_t> deleted;
  for (int64_t v : *retired) {
    // The largest number stays (refused, not deleted): the writer numbers the
    // next version after it, and a number must never name two models.
    if (!versions->empty() && v == versions->back()) continue;
    std::error_code ec;
    std::string from = VersionPath(model_root, v);
    std::string to = absl::StrCat(model_root, "/.tmp-retired-", v);
    std::filesystem::remove_all(to, ec);
    std::filesystem::rename(from, to, ec);
    if (ec) return absl::InternalError(absl::StrCat("retire version ", v, ": rename ", from, ": ", ec.message()));
    std::filesystem::remove_all(to, ec);
    if (ec) return absl::InternalError(absl::StrCat("retire version ", v, ": remove ", to, ": ", ec.message()));
    deleted.push_back(v);
  }
  return deleted;
}

}  // namespace lifelong::models
