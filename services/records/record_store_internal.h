// Internal to the record_store target (record_store*.cc only; not installed
// as a public header): the pieces the RecordStore source files share.
//
// - The index keys of a stored statement and the StatementRef chain walk
//   (layouts in key_codec.h), used by the write path, erasure, queries and
//   log-mode apply alike; defined in record_store_internal.cc.
// - PutRecordWithCopies: the rewrite of a stored record with its learners'
//   covering copies, used by erasure and the schema 3 upgrade; defined in
//   record_store_internal.cc.
// - RefuseStatement: a refusal naming its statement's index, defined in
//   record_store.cc beside RefusedStatementIndex, which reads it.
// - The write-queue types RecordStore::Prepared and RecordStore::Writer,
//   private to RecordStore (declared in record_store.h).
#ifndef LIFELONG_SERVICES_RECORDS_RECORD_STORE_INTERNAL_H_
#define LIFELONG_SERVICES_RECORDS_RECORD_STORE_INTERNAL_H_

#include <rocksdb/write_batch.h>

#include <chrono>
#include <cstring>
#include <forward_list>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/records/column_families.h"
#include "services/records/key_codec.h"
#include "services/records/record_store.h"
#include "services/records/statement.h"

namespace lifelong::records {
namespace internal {

// Hash of a statement id (uniformly random bytes: the first 8 do).
struct IdHash {
  size_t operator()(const Uuid& u) const {
    size_t h;
    std::memcpy(&h, u.data(), sizeof(h));
    return h;
  }
};

// The key of a statement in the statements family: its 16 id bytes.
inline std::string IdKey(const Uuid& id) { return std::string(reinterpret_cast<const char*>(id.data()), 16); }

// Every index key of a stored statement: (column family, key). Its
// "by_mention" keys are `mentioned` when given, else read from r.json (only
// for records flagged RecordFlag::kNamesOthers).
std::vector<std::pair<Cf, std::string>> IndexKeys(const Uuid& id, const StatementRecord& r,
                                                  const std::vector<std::string>* mentioned = nullptr);

// The prefixes under which a statement's own entries are filed in the
// learner, activity, verb and registration indexes (reference entries of
// statements that refer to it go under the same prefixes).
using Prefixes = std::vector<std::pair<Cf, std::string>>;
Prefixes OwnIndexPrefixes(const StatementRecord& r);

// Rewrites the stored statement `id` in `batch`: `rec`, encoded once, is put
// in the statements family and, as its covering copy, under each of
// rec.learners in "by_learner" (layouts in key_codec.h). Nothing else is
// written or deleted: entries the caller drops (a leaving learner's, a
// mention's) and other index entries are the caller's to write. Fails, with
// nothing added to `batch`, only when `rec` cannot be encoded
// (EncodeStatementRecord).
absl::Status PutRecordWithCopies(const std::vector<rocksdb::ColumnFamilyHandle*>& handles, const Uuid& id,
                                 const StatementRecord& rec, rocksdb::WriteBatch* batch);

// The StatementRef target of `r`, read from its JSON. Only statements flagged
// kReferencesStatement have one, so the parse is off the common paths.
std::optional<Uuid> RefTargetOf(const StatementRecord& r);

using RecordLoader = std::function<absl::StatusOr<std::optional<StatementRecord>>(const Uuid&)>;

// The own-index prefixes of every statement on the StatementRef chain that
// starts at `target` (target, its target, ...; at most kMaxReferenceDepth),
// without duplicates. Missing statements end the chain.
absl::StatusOr<Prefixes> ChainPrefixes(Uuid target, const RecordLoader& load);

// `refusal` (not OK) with the index of the statement it refuses in the
// caller's batch attached (kRefusedStatementIndexUrl, read by
// RefusedStatementIndex; both defined in record_store.cc).
absl::Status RefuseStatement(absl::Status refusal, size_t index);

}  // namespace internal

// A statement prepared outside the write lock: its record value is fully
// encoded with placeholders that the group leader patches once it assigns
// the stored sequence (header bytes and the fixed-width "stored" and, when
// absent, "timestamp" strings inside the JSON).
//
// Built once and moved, never copied, along the write path: the learner keys,
// verb and activity move from `parsed` into `record`, the JSON is spliced
// straight into `value` (AppendStatementRecordHeader), the WriteBatch and the
// group's overlay read `value` in place, and Collect moves `record` and
// `value` (its JSON part) into the returned StoredStatement.
struct RecordStore::Prepared {
  ParsedStatement parsed;  // learners, verb and activity moved into `record`
  StatementRecord record;  // without json; stored_seq set by the leader
  // The encoded record; for a replay (`replay`), the one stored before.
  std::string value;
  size_t json_at = 0;  // where the JSON starts in `value` (not for a replay)
  size_t stored_pos = 0;
  size_t timestamp_pos = std::string::npos;
  // The record's index keys (IndexKeys), made while preparing with stored
  // sequence 0; the leader writes the sequence into each (the 8 bytes before
  // the 16-byte id that ends every index key), so that a group's leader does
  // not build them.
  std::vector<std::pair<Cf, std::string>> index_keys;
  bool replay = false;  // already stored with the same content: not written
};

struct RecordStore::Writer {
  std::vector<Prepared>* statements = nullptr;
  const std::string* erase_learner = nullptr;
  absl::Status status;
  int64_t erased = 0;
  uint64_t purge_ticket = 0;  // an erase: its purge request (RecordStore::PurgeRequests)
  // Log mode: the operation's log sequence and the proposer's clock (0: a
  // local write, timed by options_.now_micros).
  uint64_t log_seq = 0;
  int64_t now_us = 0;
  bool done = false;
  absl::CondVar cv;
  // RecordAsync: the writer owns its statements (`statements` points to
  // `owned`) and is answered through `callback`, then deleted, by the thread
  // that committed its group (RecordStore::Complete). Null for Record() and
  // erasures, whose threads wait on `cv`.
  RecordCallback callback;
  std::vector<Prepared> owned;
};

// A group's WriteBatch as its leader builds it (RecordStore::BuildInto),
// with what the group writes that later statements must see before the
// store has it: by the group's own later statements, and by the next group,
// built while this one's Write runs (build ahead).
struct RecordStore::Built {
  std::optional<rocksdb::WriteBatch> batch;  // set by the first BuildInto
  // Records this group writes (or rewrites, for voiding), by id: pointers to
  // the writers' Prepared values (alive until they are answered) or into
  // `owned`.
  absl::flat_hash_map<Uuid, const std::string*, internal::IdHash> records;
  std::forward_list<std::string> owned;  // voided targets' rewritten records
  // Referrers ("by_target" keys) this group writes, by target.
  std::unordered_map<Uuid, std::vector<Uuid>, internal::IdHash> referrers;
  // Learners whose records this group changes: views of the records' learner
  // keys or of `owned_learners` (made strings once written, ChangedLearners).
  std::vector<absl::string_view> changed;
  std::forward_list<std::string> owned_learners;
  uint64_t fresh = 0;  // statements written (not replays, not failed)
};

// A group that has left the queue and is not yet answered (LeadGroup).
// Fields other than `group` and `built` are guarded by write_mu_.
struct RecordStore::Flight {
  std::vector<Writer*> group;
  Built built;
  bool written = false;       // its Write returned, or it will not be written
  absl::Status write_status;  // not OK: nothing of the group was written
  // Leaders building the next group that read `built` (at most one).
  int readers = 0;
  // The group whose Write may still be running when this one was started
  // (build ahead; null: none); read until this group is sealed.
  Flight* previous = nullptr;
  bool sealed = false;  // left the queue (SealFlight), at `sealed_at`
  std::chrono::steady_clock::time_point sealed_at;
  bool parked = false;  // its leader waits, not building: it may be sealed
};

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_RECORD_STORE_INTERNAL_H_
