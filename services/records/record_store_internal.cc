// The index keys of a stored statement, the StatementRef chain walk and the
// rewrite of a record with its covering copies, shared by every RecordStore
// path that writes or deletes index entries (contracts in
// record_store_internal.h). Pure functions of their arguments, except that
// PutRecordWithCopies adds to the batch it is given; ChainPrefixes reads
// only through the loader it is given.
#include "services/records/record_store_internal.h"

#include <set>

#include "services/common/status_macros.h"

namespace lifelong::records::internal {

std::vector<std::pair<Cf, std::string>> IndexKeys(const Uuid& id, const StatementRecord& r,
                                                  const std::vector<std::string>* mentioned) {
  std::vector<std::pair<Cf, std::string>> keys;
  keys.reserve(r.learners.size() + 4);  // activity, verb, registration, stored
  for (const std::string& l : r.learners) {
    keys.emplace_back(Cf::kByLearner, EncodeStringIndexKey(l, r.stored_seq, id));
  }
  if (r.Has(RecordFlag::kNamesOthers)) {
    std::vector<std::string> from_json;
    if (mentioned == nullptr) {
      // Stored JSON always parses; a record that does not has no mentions.
      absl::StatusOr<std::vector<std::string>> m = MentionedLearners(r.json);
      if (m.ok()) from_json = *std::move(m);
      mentioned = &from_json;
    }
    for (const std::string& l : *mentioned)
      keys.emplace_back(Cf::kByMention, EncodeStringIndexKey(l, r.stored_seq, id));
  }
  if (!r.activity.empty()) {
    keys.emplace_back(Cf::kByActivity, EncodeStringIndexKey(r.activity, r.stored_seq, id));
  }
  keys.emplace_back(Cf::kByVerb, EncodeStringIndexKey(r.verb, r.stored_seq, id));
  if (r.Has(RecordFlag::kHasRegistration)) {
    keys.emplace_back(Cf::kByRegistration, EncodeRegistrationIndexKey(r.registration, r.stored_seq, id));
  }
  keys.emplace_back(Cf::kByStored, EncodeStoredKey(r.stored_seq, id));
  return keys;
}

absl::Status PutRecordWithCopies(const std::vector<rocksdb::ColumnFamilyHandle*>& handles, const Uuid& id,
                                 const StatementRecord& rec, rocksdb::WriteBatch* batch) {
  LL_ASSIGN_OR_RETURN(std::string value, EncodeStatementRecord(rec));
  batch->Put(handles.at(static_cast<int>(Cf::kStatements)), IdKey(id), value);
  for (const std::string& l : rec.learners) {
    batch->Put(handles.at(static_cast<int>(Cf::kByLearner)), EncodeStringIndexKey(l, rec.stored_seq, id), value);
  }
  return absl::OkStatus();
}

Prefixes OwnIndexPrefixes(const StatementRecord& r) {
  Prefixes out;
  for (const std::string& l : r.learners) out.emplace_back(Cf::kByLearner, EncodeStringPrefix(l));
  if (!r.activity.empty()) out.emplace_back(Cf::kByActivity, EncodeStringPrefix(r.activity));
  out.emplace_back(Cf::kByVerb, EncodeStringPrefix(r.verb));
  if (r.Has(RecordFlag::kHasRegistration))
    out.emplace_back(Cf::kByRegistration, EncodeRegistrationPrefix(r.registration));
  return out;
}

std::optional<Uuid> RefTargetOf(const StatementRecord& r) {
  if (!r.Has(RecordFlag::kReferencesStatement)) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(r.json, nullptr, false);
  if (!j.is_object() || !j.contains("object") || !j["object"].is_object()) return std::nullopt;
  const nlohmann::json& id = j["object"]["id"];
  if (!id.is_string()) return std::nullopt;
  absl::StatusOr<Uuid> u = ParseUuid(id.get<std::string>());
  if (!u.ok()) return std::nullopt;
  return *u;
}

absl::StatusOr<Prefixes> ChainPrefixes(Uuid target, const RecordLoader& load) {
  Prefixes out;
  std::set<std::pair<Cf, std::string>> seen;
  std::set<Uuid> visited;
  for (int depth = 0; depth < kMaxReferenceDepth && visited.insert(target).second; ++depth) {
    LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> rec, load(target));
    if (!rec) break;
    for (auto& p : OwnIndexPrefixes(*rec)) {
      if (seen.insert(p).second) out.push_back(std::move(p));
    }
    std::optional<Uuid> next = RefTargetOf(*rec);
    if (!next) break;
    target = *next;
  }
  return out;
}

}  // namespace lifelong::records::internal
