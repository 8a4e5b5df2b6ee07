#include "services/storage/backup_engine.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "services/common/rocks_status.h"
#include "services/common/status_macros.h"

namespace lifelong::storage {
namespace {

namespace fs = std::filesystem;

rocksdb::BackupEngineOptions EngineOptions(const std::string& dir) {
  rocksdb::BackupEngineOptions o(dir);
  o.share_table_files = true;          // unchanged table files are copied once
  o.share_files_with_checksum = true;  // named by checksum: safe across restores
  o.sync = true;
  return o;
}

}  // namespace

int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::function<int64_t()> OrWallClock(std::function<int64_t()> clock) { return clock ? std::move(clock) : WallMicros; }

absl::StatusOr<std::unique_ptr<rocksdb::BackupEngine>> OpenBackupEngine(const std::string& dir) {
  rocksdb::BackupEngine* e = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngine::Open(EngineOptions(dir), rocksdb::Env::Default(), &e);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open backup engine at ", dir));
  return std::unique_ptr<rocksdb::BackupEngine>(e);
}

absl::StatusOr<std::unique_ptr<rocksdb::BackupEngineReadOnly>> OpenBackupEngineReadOnly(const std::string& dir) {
  rocksdb::BackupEngineReadOnly* e = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(EngineOptions(dir), rocksdb::Env::Default(), &e);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open backup engine at ", dir));
  return std::unique_ptr<rocksdb::BackupEngineReadOnly>(e);
}

std::string EncodeBackupMetadata(int64_t created_us, const nlohmann::ordered_json& fields) {
  nlohmann::ordered_json j;
  j["format"] = kBackupMetadataFormat;
  j["created_us"] = created_us;
  for (const auto& [key, value] : fields.items()) j[key] = value;
  return j.dump();
}

uint64_t MetadataU64(const nlohmann::json& metadata, const char* key) {
  if (!metadata.is_object()) return 0;
  auto it = metadata.find(key);
  return it != metadata.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

std::vector<EngineBackup> ListEngineBackups(const rocksdb::BackupEngineReadOnlyBase& engine) {
  std::vector<rocksdb::BackupInfo> infos;
  engine.GetBackupInfo(&infos);
  std::vector<EngineBackup> out;
  for (const rocksdb::BackupInfo& e : infos) {
    EngineBackup b;
    b.id = e.backup_id;
    b.created_us = e.timestamp * 1000000;
    b.size_bytes = e.size;
    b.files = e.number_files;
    nlohmann::json j = nlohmann::json::parse(e.app_metadata, nullptr, false);
    if (j.is_object() && j.value("format", 0) == kBackupMetadataFormat) {
      b.created_us = j.value("created_us", b.created_us);
      b.metadata = std::move(j);
    }
    out.push_back(std::move(b));
  }
  std::sort(out.begin(), out.end(), [](const EngineBackup& a, const EngineBackup& b) { return a.id < b.id; });
  return out;
}

absl::Status VerifyEngineBackup(rocksdb::BackupEngine& engine, uint32_t id, absl::string_view what) {
  rocksdb::IOStatus s = engine.VerifyBackup(id, /*verify_with_checksum=*/true);
  if (!s.ok()) return absl::DataLossError(absl::StrCat("backup ", id, " (", what, "): ", s.ToString()));
  return absl::OkStatus();
}

absl::Status RestoreEngineBackup(const std::string& engine_dir, uint32_t id, const std::string& target) {
  LL_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::BackupEngineReadOnly> engine, OpenBackupEngineReadOnly(engine_dir));
  rocksdb::IOStatus s = engine->RestoreDBFromBackup(rocksdb::RestoreOptions(), id, target, target);
  return FromRocks(s, absl::StrCat("restore backup ", id, " from ", engine_dir));
}

std::string DefaultBackupDir(const std::string& data_dir) {
  fs::path p(data_dir);
  if (!p.has_filename()) p = p.parent_path();
  return p.string() + "-backups";
}

absl::StatusOr<std::unique_ptr<BackupDirLock>> BackupDirLock::Acquire(const std::string& backup_dir,
                                                                      const std::string& subdir,
                                                                      absl::string_view server) {
  if (backup_dir.empty()) return absl::InvalidArgumentError("backup_dir: required");
  std::error_code ec;
  fs::create_directories(subdir.empty() ? fs::path(backup_dir) : fs::path(backup_dir) / subdir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("create ", backup_dir, ": ", ec.message()));
  rocksdb::FileLock* lock = nullptr;
  rocksdb::Status locked = rocksdb::Env::Default()->LockFile((fs::path(backup_dir) / "LOCK").string(), &lock);
  if (!locked.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("backup_dir: ", backup_dir, " is in use by another process (one ",
                                                      server, " per backup directory): ", locked.ToString()));
  }
  return std::unique_ptr<BackupDirLock>(new BackupDirLock(lock));
}

BackupDirLock::~BackupDirLock() {
  if (lock_ != nullptr) rocksdb::Env::Default()->UnlockFile(lock_);
}

}  // namespace lifelong::storage
