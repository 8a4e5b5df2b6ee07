#include "services/catalog/catalog_backups.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "services/common/rocks_status.h"
#include "services/common/status_macros.h"

namespace lifelong::catalog {
namespace {

namespace fs = std::filesystem;

std::string EngineDir(const std::string& backup_dir) { return (fs::path(backup_dir) / kCatalogBackupSubdir).string(); }

CatalogBackupInfo FromEngineBackup(const storage::EngineBackup& e) {
  CatalogBackupInfo b;
  b.id = e.id;
  b.created_us = e.created_us;
  b.size_bytes = e.size_bytes;
  b.files = e.files;
  b.generation = storage::MetadataU64(e.metadata, "generation");
  b.courses = storage::MetadataU64(e.metadata, "courses");
  b.archived = storage::MetadataU64(e.metadata, "archived");
  b.programmes = storage::MetadataU64(e.metadata, "programmes");
  b.applied_log_seq = storage::MetadataU64(e.metadata, "applied_log_seq");
  return b;
}

std::vector<CatalogBackupInfo> ListEngine(const rocksdb::BackupEngineReadOnlyBase& engine) {
  std::vector<CatalogBackupInfo> out;
  for (const storage::EngineBackup& e : storage::ListEngineBackups(engine)) out.push_back(FromEngineBackup(e));
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CatalogBackupManager>> CatalogBackupManager::Open(CatalogStore* store,
                                                                                 CatalogBackupOptions options) {
  options.now_micros = storage::OrWallClock(std::move(options.now_micros));
  LL_ASSIGN_OR_RETURN(std::unique_ptr<storage::BackupDirLock> dir_lock,
                      storage::BackupDirLock::Acquire(options.backup_dir, kCatalogBackupSubdir, "catalog_server"));
  std::unique_ptr<CatalogBackupManager> m(new CatalogBackupManager(store, std::move(options)));
  m->lock_ = std::move(dir_lock);
  absl::MutexLock lock(&m->mu_);
  LL_ASSIGN_OR_RETURN(m->engine_, storage::OpenBackupEngine(EngineDir(m->options_.backup_dir)));
  std::vector<CatalogBackupInfo> existing = ListEngine(*m->engine_);
  if (!existing.empty()) m->counters_.SetLastSuccess(existing.back().created_us);
  return m;
}

CatalogBackupManager::~CatalogBackupManager() {
  absl::MutexLock lock(&mu_);
  engine_.reset();  // before lock_ is released
}

absl::StatusOr<CatalogBackupInfo> CatalogBackupManager::Create() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<CatalogBackupInfo> b = CreateLocked();
  counters_.Record(b.ok() ? absl::StatusOr<int64_t>(b->created_us) : b.status());
  return b;
}

absl::StatusOr<CatalogBackupInfo> CatalogBackupManager::CreateLocked() {
  const int64_t created_us = options_.now_micros();
  rocksdb::BackupID id = 0;
  LL_RETURN_IF_ERROR(
      store_->WithDatabaseForBackup([&](rocksdb::DB* db, const CatalogStore::BackupCounts& counts) -> absl::Status {
        nlohmann::ordered_json fields;
        fields["generation"] = counts.generation;
        fields["courses"] = counts.courses;
        fields["archived"] = counts.archived;
        fields["programmes"] = counts.programmes;
        if (counts.applied_log_seq > 0) fields["applied_log_seq"] = counts.applied_log_seq;
        rocksdb::CreateBackupOptions co;
        co.flush_before_backup = true;
        return FromRocks(
            engine_->CreateNewBackupWithMetadata(co, db, storage::EncodeBackupMetadata(created_us, fields), &id),
            "back up the catalog");
      }));
  for (const CatalogBackupInfo& b : ListEngine(*engine_)) {
    if (b.id == id) return b;
  }
  return absl::InternalError("the new backup is not listed");
}

absl::StatusOr<std::vector<CatalogBackupInfo>> CatalogBackupManager::List() {
  absl::MutexLock lock(&mu_);
  return ListEngine(*engine_);
}

absl::StatusOr<CatalogBackupInfo> CatalogBackupManager::Verify(uint32_t id) {
  if (id == 0) return absl::InvalidArgumentError("backup_id: required");
  absl::MutexLock lock(&mu_);
  LL_ASSIGN_OR_RETURN(CatalogBackupInfo b, storage::PickBackup(ListEngine(*engine_), id, options_.backup_dir));
  LL_RETURN_IF_ERROR(storage::VerifyEngineBackup(*engine_, id, "catalog"));
  return b;
}

absl::StatusOr<int> CatalogBackupManager::Purge(int keep) {
  if (keep < 1) return absl::InvalidArgumentError("keep: must be at least 1");
  absl::MutexLock lock(&mu_);
  const size_t before = ListEngine(*engine_).size();
  LL_RETURN_IF_ERROR(FromRocks(engine_->PurgeOldBackups(static_cast<uint32_t>(keep)), "purge old catalog backups"));
  return static_cast<int>(before - ListEngine(*engine_).size());
}

absl::StatusOr<std::vector<CatalogBackupInfo>> ListCatalogBackupsIn(const std::string& backup_dir) {
  const std::string dir = EngineDir(backup_dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("backup_dir: no catalog backups in ", backup_dir, " (no ", dir, ")"));
  }
  LL_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::BackupEngineReadOnly> engine, storage::OpenBackupEngineReadOnly(dir));
  return ListEngine(*engine);
}

absl::StatusOr<CatalogRestoreResult> RestoreCatalogBackup(const CatalogRestoreRequest& req) {
  if (req.backup_dir.empty()) return absl::InvalidArgumentError("backup_dir: required");
  if (req.data_dir.empty()) return absl::InvalidArgumentError("data_dir: required");
  LL_ASSIGN_OR_RETURN(std::vector<CatalogBackupInfo> all, ListCatalogBackupsIn(req.backup_dir));
  CatalogRestoreResult result;
  LL_ASSIGN_OR_RETURN(result.backup, storage::PickBackup(all, req.backup_id, req.backup_dir));
  // The restored copy must open as a catalog and hold at least what the
  // backup recorded at its start. Opened read-only: a replicated node's copy
  // has applied a log position and would not open without the log.
  const std::function<int64_t()> now = storage::OrWallClock(req.now_micros);
  auto check = [&result, &now](const std::vector<std::string>& restored) -> absl::Status {
    CatalogStoreOptions options;
    options.read_only = true;
    LL_ASSIGN_OR_RETURN(std::unique_ptr<CatalogStore> store, CatalogStore::Open(restored[0], options));
    absl::Status s = store->WithDatabaseForBackup([&](rocksdb::DB*, const CatalogStore::BackupCounts& counts) {
      result.generation = counts.generation;
      result.courses = counts.courses;
      result.archived = counts.archived;
      result.programmes = counts.programmes;
      result.applied_log_seq = counts.applied_log_seq;
      return absl::OkStatus();
    });
    LL_RETURN_IF_ERROR(store->Close());
    LL_RETURN_IF_ERROR(s);
    if (result.generation < result.backup.generation) {
      return absl::DataLossError(absl::StrCat("backup ", result.backup.id, ": the restored catalog is at generation ",
                                              result.generation, ", the backup recorded ", result.backup.generation));
    }
    if (result.applied_log_seq < result.backup.applied_log_seq) {
      return absl::DataLossError(absl::StrCat("backup ", result.backup.id,
                                              ": the restored catalog applied log position ", result.applied_log_seq,
                                              ", the backup recorded ", result.backup.applied_log_seq));
    }
    if (result.applied_log_seq > 0) return absl::OkStatus();  // a node's copy: the log decides
    // A single node's copy: past every generation served before (header).
    LL_ASSIGN_OR_RETURN(std::unique_ptr<CatalogStore> writable, CatalogStore::Open(restored[0]));
    const uint64_t floor =
        std::max<uint64_t>(result.generation + 1, static_cast<uint64_t>(std::max<int64_t>(0, now())));
    absl::Status raised = writable->RaiseGeneration(floor);
    if (raised.ok()) result.generation = std::max(result.generation, floor);
    LL_RETURN_IF_ERROR(writable->Close());
    return raised;
  };
  LL_ASSIGN_OR_RETURN(
      storage::RestoreOutcome outcome,
      storage::RestoreIntoPlace({{EngineDir(req.backup_dir), result.backup.id, req.data_dir, "data_dir"}}, req.force,
                                check, req.swap_fault));
  result.not_removed = std::move(outcome.not_removed);
  result.leftovers = std::move(outcome.leftovers);
  return result;
}

}  // namespace lifelong::catalog
