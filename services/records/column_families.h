// The registry of the record store's RocksDB column families, in the storage
// kit's shape (services/storage/column_family_registry.h). Names and ids
// are persistent: never rename or renumber, only append. The layouts of the
// keys and values in each family are documented in key_codec.h.
#ifndef LIFELONG_SERVICES_RECORDS_COLUMN_FAMILIES_H_
#define LIFELONG_SERVICES_RECORDS_COLUMN_FAMILIES_H_

#include <array>
#include <cstdint>

#include "services/storage/column_family_registry.h"

namespace lifelong::records {

enum class Cf : uint8_t {
  kDefault = 0,         // unused; RocksDB requires it
  kStatements = 1,      // id -> StatementRecord
  kByLearner = 2,       // learner key, seq, id
  kByActivity = 3,      // activity IRI, seq, id
  kByVerb = 4,          // verb IRI, seq, id
  kByRegistration = 5,  // registration, seq, id
  kByStored = 6,        // seq, id
  kMeta = 7,            // store metadata
  kByTarget = 8,        // StatementRef target id -> referring ids
  kAudit = 9,           // audit log of personal-data access
  // xAPI documents (State, Activity/Agent Profile, attachments), keys and
  // values as services/xapi/document_store.h describes; here so that a
  // learner's erasure removes statements and documents in one write batch.
  kXapiDocuments = 10,
  kByMention = 11,  // learner key named outside the actor, seq, id (schema 3)
};

inline constexpr int kNumColumnFamilies = 12;

// `is_index`: index families get bloom filters on their prefixes.
using ColumnFamilySpec = storage::ColumnFamilySpec<Cf>;

// In id order: kColumnFamilies[i].id == Cf(i).
inline constexpr std::array<ColumnFamilySpec, kNumColumnFamilies> kColumnFamilies = {{
    {Cf::kDefault, "default", false},
    {Cf::kStatements, "statements", false},
    {Cf::kByLearner, "by_learner", true},
    {Cf::kByActivity, "by_activity", true},
    {Cf::kByVerb, "by_verb", true},
    {Cf::kByRegistration, "by_registration", true},
    {Cf::kByStored, "by_stored", false},
    {Cf::kMeta, "meta", false},
    {Cf::kByTarget, "by_target", false},
    {Cf::kAudit, "audit", false},
    {Cf::kXapiDocuments, "xapi_documents", false},
    {Cf::kByMention, "by_mention", true},
}};
static_assert(storage::IdsMatchPositions(kColumnFamilies));

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_COLUMN_FAMILIES_H_
