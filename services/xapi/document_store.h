// Storage of xAPI documents (State, Activity Profile and Agent Profile
// resources, statement attachments), with ETags for optimistic concurrency.
// They live in the "xapi_documents" column family of the record database
// (services/records/column_families.h; InDatabase), so that a learner's
// erasure removes statements and documents in one write batch and a
// replicated document write is applied together with its log position.
// Open(path) opens a database of its own: documents written by versions
// before that (imported once at start-up, records_server.h) and tests.
//
// Key layout (all strings u16 big-endian length-prefixed, so a prefix scan of
// one (activity, agent[, registration]) never runs into a longer string):
//   [0] u8 kind: 1 = state, 2 = activity profile, 3 = agent profile,
//                4 = attachment (shared), 5 = learner attachment
//   state:              activity IRI | learner key | registration ("" if none) | state id
//   activity profile:   activity IRI | profile id
//   agent profile:      learner key | profile id
//   attachment:         SHA-2 hex of the content (written before 2026-12-03)
//   learner attachment: learner key | SHA-2 hex of the content (the bytes a
//                       statement of that learner carried as a part)
// Value layout:
//   [0]      u8  format = 1
//   [1..8]   u64 updated, microseconds since the Unix epoch
//   [9..28]  20B SHA-1 of the content (the ETag is its lowercase hex, as
//            xAPI 1.0.3 clients expect; it detects changes, it is no MAC)
//   u16 len, bytes   content type
//   rest             content
// Thread-safe: writes to one document are serialised by a mutex so that ETag
// checks and the write are atomic.
#ifndef LIFELONG_SERVICES_XAPI_DOCUMENT_STORE_H_
#define LIFELONG_SERVICES_XAPI_DOCUMENT_STORE_H_

#include <rocksdb/db.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace lifelong::xapi {

// kAttachment: attachment bytes by SHA-256 (`id`), shared by every statement
// naming it; written by versions before 2026-12-03 only, still read.
// kLearnerAttachment: attachment bytes a learner's statement carried as a
// part, by learner (`learner`) and `id` "<statement id>/<SHA-256>" (from
// 2026-12-04; "<SHA-256>" alone before): what that statement serves, and what
// the learner's erasure removes.
enum class DocKind : uint8_t {
  kState = 1,
  kActivityProfile = 2,
  kAgentProfile = 3,
  kAttachment = 4,
  kLearnerAttachment = 5,  // the last kind: the replication log refuses others
};

// Identifies one document, or (with an empty `id`) the set of documents under
// the other fields.
// Longest key string (activityId, agent key, registration, id) and content
// type a document may have: both are stored with 16-bit lengths; longer is
// INVALID_ARGUMENT naming the field (Get, ListIds, Put, Merge, Delete).
inline constexpr size_t kMaxDocKeyField = 8192;
inline constexpr size_t kMaxDocContentType = 1024;

struct DocKey {
  DocKind kind = DocKind::kState;
  std::string activity;      // state, activity profile
  std::string learner;       // state, agent profile (learner key)
  std::string registration;  // state only; "" when absent
  std::string id;            // stateId / profileId
};

struct Document {
  std::string content_type;
  std::string content;
  std::string etag;  // lowercase hex SHA-1, unquoted
  int64_t updated_us = 0;
};

// Preconditions of a write (HTTP If-Match / If-None-Match).
struct WriteCondition {
  std::optional<std::string> if_match;  // unquoted ETag, or "*"
  bool if_none_match_star = false;
  // Overwriting an existing document needs one of the headers, else
  // ALREADY_EXISTS (409).
  bool require_condition_if_exists = false;
  // PUT of a document that does not exist yet needs one too, else
  // INVALID_ARGUMENT (400; xAPI 1.0.3 profiles).
  bool missing_condition_is_invalid = false;
};

// One document write, as the replicated log carries it (issue #15,
// services/records/replication): the proposer's clock `now_us` is part of it.
enum class DocAction : uint8_t { kPut = 1, kMerge = 2, kDelete = 3 };
struct DocWrite {
  DocAction action = DocAction::kPut;
  DocKey key;
  std::string content_type;  // kPut, kMerge
  std::string content;       // kPut, kMerge
  WriteCondition cond;
  int64_t now_us = 0;  // kPut, kMerge
};

// Where a replicated DocumentStore sends its writes (replication::Replicator):
// returns once the write is in the log on a quorum and applied locally, with
// the result of applying it (the outcomes of Put/Merge/Delete), or
// UNAVAILABLE when this node may not write. Thread-safe.
class DocumentLog {
 public:
  virtual ~DocumentLog() = default;
  virtual absl::Status ProposeDocument(const DocWrite& write) = 0;
};

// The deepest nesting of arrays and objects a JSON document (State, Activity
// and Agent Profile; application/json) may have: merging one (POST) copies
// and serialises it recursively, so a deeper one would overflow the stack.
inline constexpr int kMaxJsonDocumentDepth = 64;

// INVALID_ARGUMENT "document: ..." when `json` nests arrays and objects more
// than `max_depth` deep (counted without parsing: brackets outside strings).
// Malformed JSON is not detected here.
absl::Status CheckJsonDocumentDepth(absl::string_view json, int max_depth = kMaxJsonDocumentDepth);

class DocumentStore {
 public:
  // UNAVAILABLE when the directory cannot be opened (another process holds
  // it, an I/O error), DATA_LOSS when it is corrupt, FAILED_PRECONDITION when
  // it has a column family this version does not know (column_families.h).
  static absl::StatusOr<std::unique_ptr<DocumentStore>> Open(const std::string& path);
  // The documents in `family` of `db` (neither owned; both outlive the store).
  static std::unique_ptr<DocumentStore> InDatabase(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family);
  ~DocumentStore();

  // NOT_FOUND when absent.
  absl::StatusOr<Document> Get(const DocKey& key) const;
  // Ids under `key` (id ignored) updated after `since_us`, in key order.
  absl::StatusOr<std::vector<std::string>> ListIds(const DocKey& key, std::optional<int64_t> since_us) const;
  // Replaces (PUT). FAILED_PRECONDITION when the condition fails,
  // ALREADY_EXISTS when a condition is required and missing (409),
  // INVALID_ARGUMENT for a JSON document nested too deeply
  // (CheckJsonDocumentDepth).
  absl::Status Put(const DocKey& key, const std::string& content_type, const std::string& content,
                   const WriteCondition& cond, int64_t now_us);
  // Merges JSON objects (POST). INVALID_ARGUMENT when the existing or the new
  // document is not a JSON object with type application/json, or either is
  // nested too deeply (CheckJsonDocumentDepth); creates the document when
  // absent. FAILED_PRECONDITION when the condition fails.
  absl::Status Merge(const DocKey& key, const std::string& content_type, const std::string& content,
                     const WriteCondition& cond, int64_t now_us);
  // Deletes one document (key.id set; FAILED_PRECONDITION when `cond`
  // fails) or every document under `key`. A condition (if_match or
  // if_none_match_star) names one document: with an empty key.id it is
  // INVALID_ARGUMENT, and nothing is deleted.
  absl::Status Delete(const DocKey& key, const WriteCondition& cond);
  // Deletes every document of a learner (erasure: States, Agent Profiles,
  // the attachments their statements carried); returns how many.
  absl::StatusOr<int64_t> EraseLearner(const std::string& learner);
  // The same deletions added to `batch` (the record store's erasure batch,
  // RecordStore::SetEraseExtension); returns how many.
  absl::StatusOr<int64_t> EraseLearnerInto(const std::string& learner, rocksdb::WriteBatch* batch) const;
  // Calls fn with the learner key of every State, Agent Profile and learner
  // attachment document (once per document).
  absl::Status ForEachLearner(const std::function<void(const std::string&)>& fn) const;
  // Copies every document of `from` here, as stored (ETags and times kept);
  // returns how many. Idempotent.
  absl::StatusOr<int64_t> ImportFrom(const DocumentStore& from);

  // For records/backups.cc only: the database of Open(path) (null otherwise).
  rocksdb::DB* rocks_for_backup() const { return owned_.get(); }

  // Log mode: Put, Merge and Delete go to `log` (not owned; set before
  // serving); null: written here. Apply adds the effect of one write to
  // `batch`, which the caller writes together with the log position
  // (RecordStore::ApplyLoggedWrites; the log's applier calls it, in log
  // order, on every replica), and returns the write's own outcome (e.g.
  // FAILED_PRECONDITION, with nothing added).
  void SetLog(DocumentLog* log) { log_ = log; }
  absl::Status Apply(const DocWrite& write, rocksdb::WriteBatch* batch);

  // The lock of this store's writes (each reads the stored document, then
  // writes): the record store's erasure holds it from EraseLearnerInto until
  // its batch is written (RecordStore::SetEraseExtension), so that a write
  // that read a document before the erasure cannot write it back after.
  absl::Mutex* write_mutex() ABSL_LOCK_RETURNED(write_mu_) { return &write_mu_; }
  // Tests only: called by a write made here (not in log mode) after it read
  // the stored document and before its write, under write_mutex().
  void SetBeforeWriteHookForTest(std::function<void()> hook) { before_write_for_test_ = std::move(hook); }

 private:
  DocumentStore() = default;
  // The document, or nullopt when there is none; errors other than NOT_FOUND.
  absl::StatusOr<std::optional<Document>> Existing(const DocKey& key) const;
  absl::Status CheckCondition(const std::optional<Document>& existing, const WriteCondition& cond) const;
  // The effect of `w` into `batch`, its condition checked first.
  absl::Status Prepare(const DocWrite& w, rocksdb::WriteBatch* batch) const;
  // Prepare and a synced write, under write_mu_ (not in log mode).
  absl::Status WriteHere(const DocWrite& w);
  DocumentLog* log_ = nullptr;
  std::unique_ptr<rocksdb::DB> owned_;  // Open(path) only
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* cf_ = nullptr;
  absl::Mutex write_mu_;
  std::function<void()> before_write_for_test_;
};

// Encodes the key of a document (or the prefix of a set when id is empty
// and `prefix` is true).
std::string EncodeDocKey(const DocKey& key, bool prefix);

}  // namespace lifelong::xapi

#endif  // LIFELONG_SERVICES_XAPI_DOCUMENT_STORE_H_
