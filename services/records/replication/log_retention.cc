#include "services/records/replication/log_retention.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace lifelong::records::replication {

std::string EncodeNodePosition(const NodePosition& p) {
  nlohmann::json j = {{"applied_seq", p.applied_seq}, {"updated_us", p.updated_us}};
  j["oldest_backup_seq"] = p.oldest_backup_seq ? nlohmann::json(*p.oldest_backup_seq) : nlohmann::json(nullptr);
  return j.dump();
}

absl::StatusOr<NodePosition> DecodeNodePosition(absl::string_view node, absl::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  auto bad = [&](absl::string_view field) {
    return absl::DataLossError(absl::StrCat("position of ", node, ": ", field, " missing or not a count"));
  };
  if (!j.is_object()) return absl::DataLossError(absl::StrCat("position of ", node, ": not a JSON object"));
  NodePosition p;
  p.node = std::string(node);
  if (!j.contains("applied_seq") || !j["applied_seq"].is_number_unsigned()) return bad("applied_seq");
  p.applied_seq = j["applied_seq"].get<uint64_t>();
  if (!j.contains("updated_us") || !j["updated_us"].is_number_integer()) return bad("updated_us");
  p.updated_us = j["updated_us"].get<int64_t>();
  if (!j.contains("oldest_backup_seq")) return bad("oldest_backup_seq");
  if (!j["oldest_backup_seq"].is_null()) {
    if (!j["oldest_backup_seq"].is_number_unsigned()) return bad("oldest_backup_seq");
    p.oldest_backup_seq = j["oldest_backup_seq"].get<uint64_t>();
  }
  return p;
}

uint64_t FirstSeqToKeep(const std::vector<NodePosition>& nodes, int64_t now_us, absl::Duration forget_after) {
  uint64_t keep = std::numeric_limits<uint64_t>::max();
  bool any = false;
  for (const NodePosition& p : nodes) {
    if (now_us - p.updated_us > absl::ToInt64Microseconds(forget_after)) continue;  // forgotten
    if (!p.oldest_backup_seq) return 1;
    any = true;
    keep = std::min({keep, p.applied_seq + 1, *p.oldest_backup_seq + 1});
  }
  return any ? keep : 1;
}

}  // namespace lifelong::records::replication
