// Backups of the course catalog (docs/catalog.md, "Backups"): RocksDB's
// BackupEngine over the open CatalogStore, the scheduler of periodic
// backups, and offline restore. The shared machinery (engine options,
// metadata envelope, directory lock, restore swap, scheduler loop) is in
// services/storage/.
//
// Layout of a backup directory (catalog_server --backup_dir; default
// `<data_dir>-backups`, so var/catalog -> var/catalog-backups):
//   LOCK       held by the one catalog_server writing the directory
//   catalog/   BackupEngine of the catalog database (table files shared
//              between backups, named by checksum, CRC32C-checked)
//
// A catalog backup's app metadata is a JSON object
// (storage/backup_engine.h's envelope):
//   {"format":1,"created_us":T,"generation":G,"courses":C,"archived":A,
//    "programmes":P[,"applied_log_seq":L]}
// G, C and A are the store's counters (CatalogInfo), P the number of
// programmes and L (only on a node of a replicated catalog) the log position
// the node had applied, read just before the engine flushes; writes go on
// while a backup is taken, so the backup holds at least generation G and
// position L (the restored store's own counters are exact).
#ifndef LIFELONG_SERVICES_CATALOG_CATALOG_BACKUPS_H_
#define LIFELONG_SERVICES_CATALOG_CATALOG_BACKUPS_H_

#include <rocksdb/utilities/backup_engine.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/catalog/catalog_store.h"
#include "services/storage/backup_engine.h"
#include "services/storage/backup_scheduler.h"
#include "services/storage/restore_swap.h"

namespace lifelong::catalog {

inline constexpr char kCatalogBackupSubdir[] = "catalog";

// One catalog backup as listed.
struct CatalogBackupInfo {
  uint32_t id = 0;
  int64_t created_us = 0;   // when the backup started (the manager's clock)
  uint64_t size_bytes = 0;  // counting files shared with other backups
  uint32_t files = 0;
  uint64_t generation = 0;  // the catalog's at the start
  uint64_t courses = 0;     // archived included
  uint64_t archived = 0;
  uint64_t programmes = 0;
  uint64_t applied_log_seq = 0;  // a replicated node's log position; 0: none
};

struct CatalogBackupOptions {
  std::string backup_dir;
  // Clock, microseconds since the Unix epoch (injectable for tests).
  std::function<int64_t()> now_micros;
};

// Creates, lists, verifies and purges backups of one open CatalogStore.
// Thread-safe: operations are serialized (one backup at a time); writers of
// the store are never blocked (the engine flushes and copies immutable
// files). Does not own the store, which must outlive it.
class CatalogBackupManager {
 public:
  // Opens (creating) the backup directory and takes its lock (held while the
  // manager lives: one writer per backup directory). INVALID_ARGUMENT for an
  // empty backup_dir; FAILED_PRECONDITION when another process holds it;
  // UNAVAILABLE when the directory cannot be created or opened.
  static absl::StatusOr<std::unique_ptr<CatalogBackupManager>> Open(CatalogStore* store, CatalogBackupOptions options);
  ~CatalogBackupManager();

  // Takes a backup. UNAVAILABLE when the store is closed or the engine
  // fails; nothing partial is listed.
  absl::StatusOr<CatalogBackupInfo> Create();
  // Every backup, oldest first.
  absl::StatusOr<std::vector<CatalogBackupInfo>> List();
  // Re-reads every file of backup `id` and checks sizes and checksums.
  // INVALID_ARGUMENT for id 0; NOT_FOUND ("backup_id: ...") for an unknown
  // id; DATA_LOSS naming the problem when a file is missing, truncated or
  // corrupt.
  absl::StatusOr<CatalogBackupInfo> Verify(uint32_t id);
  // Deletes all but the newest `keep` backups (keep >= 1; INVALID_ARGUMENT
  // naming keep otherwise) and the files only they used. Returns how many
  // were deleted.
  absl::StatusOr<int> Purge(int keep);

  const std::string& backup_dir() const { return options_.backup_dir; }
  // For metrics (storage::BackupStats).
  storage::BackupStats stats() const { return counters_.stats(); }

 private:
  CatalogBackupManager(CatalogStore* store, CatalogBackupOptions options)
      : store_(store), options_(std::move(options)) {}
  absl::StatusOr<CatalogBackupInfo> CreateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  CatalogStore* const store_;
  CatalogBackupOptions options_;
  absl::Mutex mu_;
  std::unique_ptr<rocksdb::BackupEngine> engine_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<storage::BackupDirLock> lock_;
  storage::BackupCounters counters_;
};

// Lists the backups in `backup_dir` without a store (read-only; the CLI's
// restore). NOT_FOUND when there is no catalog backup there.
absl::StatusOr<std::vector<CatalogBackupInfo>> ListCatalogBackupsIn(const std::string& backup_dir);

struct CatalogRestoreRequest {
  std::string backup_dir;
  uint32_t backup_id = 0;  // 0: the newest
  std::string data_dir;    // the catalog's directory (catalog_server --data_dir)
  bool force = false;      // replace a non-empty data_dir
  // For tests: fails a step of the swap (storage/restore_swap.h).
  storage::RestoreSwapFault swap_fault;
  // Clock, microseconds since the Unix epoch (the generation a single-node
  // restore moves to); empty: the wall clock.
  std::function<int64_t()> now_micros;
};

struct CatalogRestoreResult {
  CatalogBackupInfo backup;
  // The restored catalog, read back from the restored copy before the swap;
  // `generation` after the restore raised it (below).
  uint64_t generation = 0;
  uint64_t courses = 0;
  uint64_t archived = 0;
  uint64_t programmes = 0;
  // A node's backup: the log position the restored copy has applied (it
  // catches up from there when started with the log); 0 for a single node.
  uint64_t applied_log_seq = 0;
  std::vector<std::string> not_removed;  // as storage::RestoreOutcome
  std::vector<std::string> leftovers;
};

// Offline restore of backup `backup_id` into `data_dir`, with the swap of
// storage/restore_swap.h: restored into DATA_DIR.restoring-<time>, checked
// (the engine's checksums while copying; then the copy is opened read-only
// as a CatalogStore, which accepts a replicated node's copy, and must hold at
// least the backup's generation and log position), and only
// then moved into place, the previous directory kept aside until the new one
// is there.
//
// A single-node copy's generation is raised, before the swap, to the
// restore's time in microseconds since the Unix epoch (at least one past the
// backup's): the restored catalog's generation would otherwise count up again
// through numbers it served before the restore with other contents, and a
// client polling GetCatalogInfo (the recommender's catalog cache) would take
// the new catalog for the one it holds. A generation counts writes, at most
// one per synced write, so it stays below the clock's microseconds, and this
// is above every generation the lost catalog reached (unless the clock went
// back). A node's copy (a replicated catalog) keeps its generation: it
// catches up from the log, which holds every write, to the generation of
// the other nodes. INVALID_ARGUMENT for a missing field; NOT_FOUND for an unknown
// backup or directory; FAILED_PRECONDITION when data_dir is not empty and
// `force` is off, or when a process holds its database lock (a running
// catalog_server, even with `force`); DATA_LOSS for a corrupt backup;
// UNAVAILABLE when a step of the swap fails (data_dir is then as it was).
absl::StatusOr<CatalogRestoreResult> RestoreCatalogBackup(const CatalogRestoreRequest& request);

// Periodic backups and retention (storage/backup_scheduler.h).
using CatalogBackupSchedulerOptions = storage::BackupSchedulerOptions<CatalogBackupInfo>;
using CatalogBackupScheduler = storage::BackupScheduler<CatalogBackupManager, CatalogBackupInfo>;

}  // namespace lifelong::catalog

#endif  // LIFELONG_SERVICES_CATALOG_CATALOG_BACKUPS_H_
