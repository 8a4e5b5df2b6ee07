// What every store's backups share (records: services/records/backups.h;
// catalog: services/catalog/catalog_backups.h): RocksDB's BackupEngine opened
// the one way, the app metadata envelope, listing and verifying, the lock
// that makes one server the only writer of a backup directory, the default
// directory beside the data directory, and the counters behind the backup
// metrics.
//
// App metadata of a backup (BackupEngine's per-backup string) is one JSON
// object:
//   {"format":1,"created_us":T, <store fields>...}
// `format` 1 is the only version; `created_us` is when the backup started
// (Unix microseconds, the manager's clock). The store adds its own fields
// after these two (documented in its header). A backup whose metadata is
// not such an object (not ours) still lists, with the engine's timestamp.
#ifndef LIFELONG_SERVICES_STORAGE_BACKUP_ENGINE_H_
#define LIFELONG_SERVICES_STORAGE_BACKUP_ENGINE_H_

#include <rocksdb/env.h>
#include <rocksdb/utilities/backup_engine.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lifelong::storage {

inline constexpr int kBackupMetadataFormat = 1;

// Microseconds since the Unix epoch, from the system clock.
int64_t WallMicros();
// `clock`, or WallMicros when it is empty.
std::function<int64_t()> OrWallClock(std::function<int64_t()> clock);

// Opens (creating) the BackupEngine at `dir`: table files shared between
// backups and named by checksum, every file synced. UNAVAILABLE (or the
// code FromRocks maps to) naming `dir` when it cannot.
absl::StatusOr<std::unique_ptr<rocksdb::BackupEngine>> OpenBackupEngine(const std::string& dir);
// The same, read-only (the CLI's list and restore; never writes `dir`).
absl::StatusOr<std::unique_ptr<rocksdb::BackupEngineReadOnly>> OpenBackupEngineReadOnly(const std::string& dir);

// One backup as its engine lists it.
struct EngineBackup {
  uint32_t id = 0;
  int64_t created_us = 0;  // metadata's created_us; else the engine's timestamp
  uint64_t size_bytes = 0;
  uint32_t files = 0;
  // The parsed app metadata when it is ours (format 1), else null.
  nlohmann::json metadata;
};

// The metadata string of a backup started at `created_us`: the envelope,
// then `fields` in their order.
std::string EncodeBackupMetadata(int64_t created_us, const nlohmann::ordered_json& fields);

// The unsigned integer field `key` of `metadata`; 0 when absent or not one.
uint64_t MetadataU64(const nlohmann::json& metadata, const char* key);

// Every backup of `engine`, oldest (smallest id) first.
std::vector<EngineBackup> ListEngineBackups(const rocksdb::BackupEngineReadOnlyBase& engine);

// Re-reads every file of backup `id` and checks sizes and checksums.
// DATA_LOSS "backup <id> (<what>): <the engine's finding>" when a file is
// missing, truncated or corrupt.
absl::Status VerifyEngineBackup(rocksdb::BackupEngine& engine, uint32_t id, absl::string_view what);

// Restores backup `id` of the engine at `engine_dir` into `target` (a fresh
// directory). The engine checks every file's checksum while it copies.
absl::Status RestoreEngineBackup(const std::string& engine_dir, uint32_t id, const std::string& target);

// The default backup directory of a store at `data_dir`: `<data_dir>-backups`
// beside it (var/records -> var/records-backups; a trailing slash is
// ignored), so that servers with different data directories never share one.
std::string DefaultBackupDir(const std::string& data_dir);

// The lock file `LOCK` of a backup directory, held while this object lives:
// one writer (server) per backup directory. Not thread-safe; movable only as
// a unique_ptr.
class BackupDirLock {
 public:
  // Creates `backup_dir` (and `subdir` inside it, when given) and takes its
  // lock. FAILED_PRECONDITION "backup_dir: <dir> is in use by another process
  // (one <server> per backup directory)" when another process holds it;
  // UNAVAILABLE when the directory cannot be created.
  static absl::StatusOr<std::unique_ptr<BackupDirLock>> Acquire(const std::string& backup_dir,
                                                                const std::string& subdir, absl::string_view server);
  ~BackupDirLock();
  BackupDirLock(const BackupDirLock&) = delete;
  BackupDirLock& operator=(const BackupDirLock&) = delete;

 private:
  explicit BackupDirLock(rocksdb::FileLock* lock) : lock_(lock) {}
  rocksdb::FileLock* lock_;
};

// For metrics: backups a manager created (ok / failed) and the start time of
// the newest backup in its directory (0: none yet).
struct BackupStats {
  uint64_t created = 0;
  uint64_t failed = 0;
  int64_t last_success_us = 0;
};

// BackupStats kept with atomics. Thread-safe.
class BackupCounters {
 public:
  // The newest backup found in the directory at open.
  void SetLastSuccess(int64_t created_us) { last_success_us_ = created_us; }
  // One Create: OK with the backup's start time, or failed.
  void Record(const absl::StatusOr<int64_t>& created_us) {
    if (created_us.ok()) {
      ++created_;
      last_success_us_ = *created_us;
    } else {
      ++failed_;
    }
  }
  BackupStats stats() const { return {created_.load(), failed_.load(), last_success_us_.load()}; }

 private:
  std::atomic<uint64_t> created_{0}, failed_{0};
  std::atomic<int64_t> last_success_us_{0};
};

}  // namespace lifelong::storage

#endif  // LIFELONG_SERVICES_STORAGE_BACKUP_ENGINE_H_
