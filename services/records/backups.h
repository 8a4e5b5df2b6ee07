// Backups of the record service: RocksDB BackupEngine over the record store
// and the xAPI document store, the erasure ledger, offline restore, and the
// scheduler of periodic backups (docs/records.md, "Backups").
//
// Layout of a backup directory (--backup_dir):
//   records/                 BackupEngine of the record store (table files
//                            shared between backups, checksummed)
//   xapi-documents/          BackupEngine of the xAPI document store (a
//                            second RocksDB), one backup per records backup
//   erasure-ledger.jsonl     one JSON line per completed erasure:
//                            {"time_us":T,"learner_sha256":"<64 hex>"}
//                            (ErasureLedger; the learner key's digest only)
//
// A records backup's app metadata is a JSON object:
//   {"format":1,"created_us":T,"applied_seq":N,"statements":S,
//    "erasure_epoch":E,"documents_backup_id":D}
// applied_seq is the store's meta key `replication/applied_seq`
// (kMetaAppliedLogSeq; 0 when absent) read just before the backup, and
// statements the exact count at that moment; writes go on while a backup is
// taken, so the backup holds at least these (the restored store's own meta
// key is exact, and is what a replicated node resumes the log from).
// D is 0 when the document store was not backed up.
//
// Erasure and backups: a learner erased after a backup is still in it until
// retention (--backup_keep) drops it. RestoreBackup re-applies every erasure
// of the ledger that the restored store does not already hold (its erasure
// log, key_codec.h "erasure_log/"), so an erased learner never comes back.
#ifndef LIFELONG_SERVICES_RECORDS_BACKUPS_H_
#define LIFELONG_SERVICES_RECORDS_BACKUPS_H_

#include <rocksdb/db.h>
#include <rocksdb/utilities/backup_engine.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/records/record_store.h"
#include "services/storage/backup_engine.h"
#include "services/storage/backup_scheduler.h"
#include "services/storage/restore_swap.h"

namespace lifelong::records {

inline constexpr char kRecordsBackupSubdir[] = "records";
inline constexpr char kDocumentsBackupSubdir[] = "xapi-documents";
inline constexpr char kErasureLedgerFile[] = "erasure-ledger.jsonl";

// One backup as listed.
struct BackupInfo {
  uint32_t id = 0;
  int64_t created_us = 0;   // when the backup started (the manager's clock)
  uint64_t size_bytes = 0;  // records + documents, counting shared files
  uint32_t files = 0;
  uint64_t applied_seq = 0;          // replication log position (0: none)
  uint64_t statements = 0;           // statements in the store when it started
  uint64_t erasure_epoch = 0;        // RecordStore::GetErasureEpoch at the start
  uint32_t documents_backup_id = 0;  // earlier versions: their documents backup; 0: none
  // The xAPI documents are in the record database, so in the backup itself
  // (every backup since they moved there; document_store.h).
  bool documents_in_records = false;
};

// Erasures since a backup are re-applied at restore from this ledger, kept in
// the backup directory (so it survives the loss of the data disk). Each line
// is appended and fsynced after the erasure completed. Thread-safe.
class ErasureLedger {
 public:
  struct Entry {
    int64_t time_us = 0;
    std::string learner_digest;  // LearnerDigest(learner key), 32 bytes
  };
  // Opens (creating) `path` for appending. UNAVAILABLE when it cannot.
  static absl::StatusOr<std::unique_ptr<ErasureLedger>> Open(const std::string& path);
  ~ErasureLedger();
  // Appends one entry and fsyncs. UNAVAILABLE on I/O errors.
  absl::Status Append(const std::string& learner, int64_t time_us);
  // Every entry of the ledger at `path`, in file order; an absent file is an
  // empty ledger. DATA_LOSS for a malformed line other than a torn last one
  // (a crash mid-append), which is skipped.
  static absl::StatusOr<std::vector<Entry>> ReadAll(const std::string& path);

 private:
  explicit ErasureLedger(int fd) : fd_(fd) {}
  absl::Mutex mu_;
  int fd_;
};

// The erasure log in the record store's meta family (key_codec.h):
// "erasure_log/" | u64 time_us BE | SHA-256(learner key) -> u64 statements
// erased BE. RecordStore::EraseLearner appends one entry per erasure.
struct ErasureLogEntry {
  int64_t time_us = 0;
  std::string learner_digest;  // 32 bytes
  uint64_t statements = 0;
};
absl::StatusOr<std::vector<ErasureLogEntry>> ReadErasureLog(const RecordStore& store);

struct BackupManagerOptions {
  std::string backup_dir;
  // Clock, microseconds since the Unix epoch (injectable for tests).
  std::function<int64_t()> now_micros;
  // A document database of its own (xapi::DocumentStore::Open), backed up
  // beside the records as earlier versions did. Unset (the service): the
  // documents are a family of the record database, so in its backup.
  std::function<rocksdb::DB*()> documents_db;
};

// Creates, lists, verifies and purges backups of one open RecordStore.
// Thread-safe: operations are serialized (one backup at a time); writers of
// the store are never blocked (the engine flushes and copies immutable
// files). Does not own the store, which must outlive it.
class BackupManager {
 public:
  // Opens (creating) the backup directory and takes its lock (`LOCK`, held
  // while the manager lives: one writer per backup directory).
  // FAILED_PRECONDITION when another process holds it; UNAVAILABLE when the
  // directory cannot be created or opened.
  static absl::StatusOr<std::unique_ptr<BackupManager>> Open(RecordStore* store, BackupManagerOptions options);
  ~BackupManager();

  // Takes a backup (records, then documents when open). UNAVAILABLE when the
  // engine fails; nothing partial is listed.
  absl::StatusOr<BackupInfo> Create();
  // Every backup, oldest first.
  absl::StatusOr<std::vector<BackupInfo>> List();
  // Re-reads every file of backup `id` (and its documents backup) and checks
  // sizes and checksums. NOT_FOUND for an unknown id; DATA_LOSS naming the
  // problem when a file is missing, truncated or corrupt.
  absl::StatusOr<BackupInfo> Verify(uint32_t id);
  // Deletes all but the newest `keep` backups (keep >= 1; INVALID_ARGUMENT
  // otherwise) and the files only they used. Returns how many were deleted.
  absl::StatusOr<int> Purge(int keep);

  const std::string& backup_dir() const { return options_.backup_dir; }

  // For metrics: backups created by this manager (ok / failed), and the
  // start time of the newest backup in the directory (0: none yet).
  using Stats = storage::BackupStats;
  Stats stats() const { return counters_.stats(); }

 private:
  BackupManager(RecordStore* store, BackupManagerOptions options) : store_(store), options_(std::move(options)) {}
  absl::StatusOr<std::vector<BackupInfo>> ListLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<BackupInfo> CreateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  RecordStore* store_;
  BackupManagerOptions options_;
  absl::Mutex mu_;
  std::unique_ptr<rocksdb::BackupEngine> records_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<rocksdb::BackupEngine> documents_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<storage::BackupDirLock> lock_;
  storage::BackupCounters counters_;
};

// The default backup directory of a store at `data_dir`: `<data_dir>-backups`
// beside it (var/records -> var/records-backups; storage/backup_engine.h).
using storage::DefaultBackupDir;

// Lists the backups in `backup_dir` without a store (read-only; the CLI's
// restore). NOT_FOUND when there is no backup directory there.
absl::StatusOr<std::vector<BackupInfo>> ListBackupsIn(const std::string& backup_dir);

// The steps of moving a restored copy into place (RestoreBackup;
// storage/restore_swap.h).
using storage::RestoreSwapStep;

struct RestoreRequest {
  std::string backup_dir;
  uint32_t backup_id = 0;     // 0: the newest
  std::string data_dir;       // the record store's directory
  std::string documents_dir;  // the xAPI document store's; empty: skip
  bool force = false;         // replace non-empty targets
  // Single node: restore even when the store at data_dir holds statements
  // recorded after the backup (they are lost; without it the restore is
  // FAILED_PRECONDITION naming how many).
  bool discard_newer = false;
  std::function<int64_t()> now_micros;  // store clock while re-erasing
  // For tests: called before each step of the swap with the directory it is
  // about to act on (the target; for kRemoveReplaced the replaced one); a
  // non-OK status makes that step fail as an I/O error would. Unset: none.
  storage::RestoreSwapFault swap_fault;
};

struct RestoreResult {
  BackupInfo backup;
  uint64_t statements = 0;   // in the restored store, after re-erasure
  uint64_t applied_seq = 0;  // the restored store's meta key
  bool documents_restored = false;
  int64_t reerased_learners = 0;  // erased again (ledger entries the backup lacked)
  int64_t reerased_statements = 0;
  int64_t reerased_documents = 0;
  // Statements of the replaced store recorded after the backup (single
  // node, discard_newer): gone with it.
  uint64_t discarded_statements = 0;
  // Replaced directories (DIR.replaced-<time>) that could not be deleted
  // after the swap: the previous contents, to delete by hand.
  std::vector<std::string> not_removed;
  // DIR.restoring-* and DIR.replaced-* siblings of a target left by an
  // earlier restore that was interrupted (never touched; see RestoreBackup).
  std::vector<std::string> leftovers;
};

// Offline restore: restores backup `backup_id` into `data_dir` (and its
// documents into `documents_dir`), then erases again every learner of the
// ledger whose erasure the backup does not hold. FAILED_PRECONDITION when a
// target is not empty and `force` is off, or when a process holds a target's
// database lock (a running server); NOT_FOUND for an unknown backup;
// INVALID_ARGUMENT for a missing field; UNAVAILABLE when a step of the swap
// fails (the targets are then as they were; should moving back fail too, the
// message says where each directory is).
//
// Restores into a sibling temporary directory DIR.restoring-<time> first and
// swaps it in only when everything succeeded, never deleting a target before
// its replacement is in place: each existing target is renamed to
// DIR.replaced-<time>, then each restored copy to DIR (the parent directory
// fsynced after every rename), and only then are the replaced ones deleted.
// A failure before the last rename moves everything back. A crash (power
// loss, SIGKILL) can leave, beside DIR:
//   - DIR.restoring-<time> only: the restore had not reached the swap; DIR
//     is untouched. Delete DIR.restoring-<time>.
//   - DIR missing, DIR.replaced-<time> and DIR.restoring-<time> present: the
//     crash came between the renames. DIR.replaced-<time> is the previous
//     store, complete; DIR.restoring-<time> the restored one, complete. Move
//     one of them to DIR (`mv DIR.replaced-<time> DIR` to keep the old data
//     and run the restore again), and delete the other. Start no server on
//     DIR before: it would create an empty store.
//   - DIR and DIR.replaced-<time>: the swap finished; DIR is the restored
//     store and DIR.replaced-<time> the previous one, to delete.
// Such leftovers are listed in RestoreResult::leftovers and left alone.
absl::StatusOr<RestoreResult> RestoreBackup(const RestoreRequest& request);

// Leftovers of an interrupted restore beside a target, and the start check
// that refuses a data_dir an interrupted restore moved aside
// (storage/restore_swap.h).
using storage::CheckNoInterruptedRestore;
using storage::RestoreLeftovers;

// The exact number of statements in `store` (a scan of the stored-order
// index).
absl::StatusOr<uint64_t> CountStatements(const RecordStore& store);

// Takes a backup whenever the newest one in the directory is `interval` old
// (so at once after Start when there is none, or the server was down past
// its time), on its own thread, then purges to `keep`. A failed round is
// retried after `interval`. Never blocks the store's writers.
// Thread-safe; Stop (or the destructor) waits for a backup in progress
// (storage/backup_scheduler.h).
using BackupSchedulerOptions = storage::BackupSchedulerOptions<BackupInfo>;
using BackupScheduler = storage::BackupScheduler<BackupManager, BackupInfo>;

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_BACKUPS_H_
