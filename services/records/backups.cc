#include "services/records/backups.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/rocks_status.h"
#include "services/common/status_macros.h"
#include "services/records/column_families.h"
#include "services/records/key_codec.h"
#include "services/records/kiosk_passes.h"
#include "services/xapi/document_store.h"

namespace lifelong::records {
namespace {

namespace fs = std::filesystem;

int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::function<int64_t()> OrWallClock(std::function<int64_t()> f) { return f ? std::move(f) : WallMicros; }

rocksdb::BackupEngineOptions EngineOptions(const std::string& dir) {
  rocksdb::BackupEngineOptions o(dir);
  o.share_table_files = true;          // unchanged table files are copied once
  o.share_files_with_checksum = true;  // named by checksum: safe across restores
  o.sync = true;
  return o;
}

absl::StatusOr<std::unique_ptr<rocksdb::BackupEngine>> OpenEngine(const std::string& dir) {
  rocksdb::BackupEngine* e = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngine::Open(EngineOptions(dir), rocksdb::Env::Default(), &e);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open backup engine at ", dir));
  return std::unique_ptr<rocksdb::BackupEngine>(e);
}

absl::StatusOr<std::unique_ptr<rocksdb::BackupEngineReadOnly>> OpenEngineReadOnly(const std::string& dir) {
  rocksdb::BackupEngineReadOnly* e = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(EngineOptions(dir), rocksdb::Env::Default(), &e);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open backup engine at ", dir));
  return std::unique_ptr<rocksdb::BackupEngineReadOnly>(e);
}

std::string EncodeMetadata(const BackupInfo& b) {
  nlohmann::ordered_json j;
  j["format"] = 1;
  j["created_us"] = b.created_us;
  j["applied_seq"] = b.applied_seq;
  j["statements"] = b.statements;
  j["erasure_epoch"] = b.erasure_epoch;
  j["documents_backup_id"] = b.documents_backup_id;
  j["documents_in_records"] = b.documents_in_records;
  return j.dump();
}

// A listed backup from the engine's info and our app metadata; a backup
// without readable metadata (not ours) still lists with what the engine knows.
BackupInfo FromEngineInfo(const rocksdb::BackupInfo& e) {
  BackupInfo b;
  b.id = e.backup_id;
  b.created_us = e.timestamp * 1000000;
  b.size_bytes = e.size;
  b.files = e.number_files;
  nlohmann::json j = nlohmann::json::parse(e.app_metadata, nullptr, false);
  if (j.is_object() && j.value("format", 0) == 1) {
    b.created_us = j.value("created_us", b.created_us);
    b.applied_seq = j.value("applied_seq", uint64_t{0});
    b.statements = j.value("statements", uint64_t{0});
    b.erasure_epoch = j.value("erasure_epoch", uint64_t{0});
    b.documents_backup_id = j.value("documents_backup_id", uint32_t{0});
    b.documents_in_records = j.value("documents_in_records", false);
  }
  return b;
}

std::vector<BackupInfo> ListEngine(const rocksdb::BackupEngineReadOnlyBase& engine,
                                   const rocksdb::BackupEngineReadOnlyBase* documents) {
  std::vector<rocksdb::BackupInfo> infos;
  engine.GetBackupInfo(&infos);
  std::map<uint32_t, rocksdb::BackupInfo> docs;
  if (documents != nullptr) {
    std::vector<rocksdb::BackupInfo> d;
    documents->GetBackupInfo(&d);
    for (auto& x : d) docs[x.backup_id] = x;
  }
  std::vector<BackupInfo> out;
  for (const rocksdb::BackupInfo& e : infos) {
    BackupInfo b = FromEngineInfo(e);
    auto it = docs.find(b.documents_backup_id);
    if (b.documents_backup_id != 0 && it != docs.end()) {
      b.size_bytes += it->second.size;
      b.files += it->second.number_files;
    }
    out.push_back(b);
  }
  std::sort(out.begin(), out.end(), [](const BackupInfo& a, const BackupInfo& b) { return a.id < b.id; });
  return out;
}

absl::StatusOr<uint64_t> ReadAppliedSeq(const RecordStore& store) {
  absl::StatusOr<std::string> v = store.GetMeta(kMetaAppliedLogSeq);
  if (v.status().code() == absl::StatusCode::kNotFound) return 0;
  if (!v.ok()) return v.status();
  uint64_t seq = 0;
  if (!absl::SimpleAtoi(*v, &seq)) {
    return absl::InternalError(absl::StrCat("corrupt meta ", kMetaAppliedLogSeq, ": not a decimal number"));
  }
  return seq;
}

bool IsEmptyOrMissingDir(const std::string& path, std::error_code* ec) {
  if (!fs::exists(path, *ec)) return true;
  return fs::is_directory(path, *ec) && fs::is_empty(path, *ec);
}

// FAILED_PRECONDITION when a process holds the RocksDB lock of `dir` (a
// running server). The probe lock is released at once.
absl::Status CheckNotLocked(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "LOCK", ec)) return absl::OkStatus();
  rocksdb::Env* env = rocksdb::Env::Default();
  rocksdb::FileLock* lock = nullptr;
  rocksdb::Status s = env->LockFile((fs::path(dir) / "LOCK").string(), &lock);
  if (!s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, ": a running process holds the database lock; stop the server before restoring (", s.ToString(), ")"));
  }
  env->UnlockFile(lock);
  return absl::OkStatus();
}

absl::Status CheckTarget(const std::string& dir, const std::string& flag, bool force) {
  std::error_code ec;
  if (IsEmptyOrMissingDir(dir, &ec)) return absl::OkStatus();
  if (!fs::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(flag, ": ", dir, " exists and is not a directory"));
  }
  LL_RETURN_IF_ERROR(CheckNotLocked(dir));
  if (!force) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, ": ", dir, " is not empty; restore into an empty directory, or pass --force to replace it"));
  }
  return absl::OkStatus();
}

// Restores backup `id` of the engine at `engine_dir` into `target` (a fresh
// directory).
absl::Status RestoreInto(const std::string& engine_dir, uint32_t id, const std::string& target) {
  LL_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::BackupEngineReadOnly> engine, OpenEngineReadOnly(engine_dir));
  rocksdb::IOStatus s = engine->RestoreDBFromBackup(rocksdb::RestoreOptions(), id, target, target);
  return FromRocks(s, absl::StrCat("restore backup ", id, " from ", engine_dir));
}

// fsyncs directory `dir`, so that renames in it survive a crash.
absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("open ", dir, ": ", std::strerror(errno)));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return absl::UnavailableError(absl::StrCat("fsync ", dir, ": ", std::strerror(err)));
  return absl::OkStatus();
}

// Renames `from` to `to` and fsyncs the parent of `to` (both are siblings).
absl::Status RenameDurably(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("rename ", from, " to ", to, ": ", ec.message()));
  return SyncDir(fs::path(to).parent_path().string());
}

// One target of a restore: the restored copy `tmp` goes to `target`; an
// existing `target` is first moved to `aside`. Paths are absolute and
// normalized, siblings of each other.
struct Swap {
  std::string tmp;
  std::string target;
  std::string aside;
  bool moved_aside = false;
  bool in_place = false;
};

// Swaps the restored copies into place (RestoreBackup's contract): every
// existing target aside, every copy into place, then the old ones deleted.
// On a failure before the last copy is in place, moves everything back and
// returns the error (the copies are back at their `tmp`, for the caller to
// delete). Replaced directories that cannot be deleted go to `not_removed`.
absl::Status SwapIntoPlace(std::vector<Swap>& swaps, const RestoreRequest& req, std::vector<std::string>* not_removed) {
  auto fault = [&](RestoreSwapStep step, const std::string& target) {
    return req.swap_fault ? req.swap_fault(step, target) : absl::OkStatus();
  };
  auto roll_back = [&](absl::Status cause) {
    std::string stuck;
    for (auto it = swaps.rbegin(); it != swaps.rend(); ++it) {
      if (it->in_place && !RenameDurably(it->target, it->tmp).ok()) {
        // The previous store stays aside: never rename over a store.
        absl::StrAppend(&stuck, " ", it->target, " holds the restored copy",
                        it->moved_aside ? absl::StrCat(", the previous one is in ", it->aside) : "", ";");
        continue;
      }
      it->in_place = false;
      if (it->moved_aside) {
        if (RenameDurably(it->aside, it->target).ok()) {
          it->moved_aside = false;
        } else {
          absl::StrAppend(&stuck, " the previous ", it->target, " is in ", it->aside, " (move it back by hand);");
        }
      }
    }
    if (stuck.empty()) return cause;
    return absl::Status(cause.code(), absl::StrCat(cause.message(), "; moving back failed:", stuck));
  };
  std::error_code ec;
  for (Swap& w : swaps) {
    if (!fs::exists(w.target, ec)) continue;
    absl::Status s = fault(RestoreSwapStep::kMoveAside, w.target);
    if (s.ok()) s = RenameDurably(w.target, w.aside);
    if (!s.ok()) {
      // The rename may have happened and only the fsync failed.
      w.moved_aside = !fs::exists(w.target, ec) && fs::exists(w.aside, ec);
      return roll_back(s);
    }
    w.moved_aside = true;
  }
  for (Swap& w : swaps) {
    absl::Status s = fault(RestoreSwapStep::kMoveIntoPlace, w.target);
    if (s.ok()) s = RenameDurably(w.tmp, w.target);
    if (!s.ok()) {
      w.in_place = !fs::exists(w.tmp, ec) && fs::exists(w.target, ec);
      return roll_back(s);
    }
    w.in_place = true;
  }
  for (Swap& w : swaps) {
    if (!w.moved_aside) continue;
    absl::Status s = fault(RestoreSwapStep::kRemoveReplaced, w.aside);
    if (s.ok()) {
      fs::remove_all(w.aside, ec);
      if (ec) s = absl::UnavailableError(ec.message());
    }
    if (!s.ok()) not_removed->push_back(w.aside);
  }
  return absl::OkStatus();
}

std::string Hex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

// Distinct learner keys in the learner index (the statements' learners).
absl::Status ForEachIndexedLearner(const RecordStore& store, const std::function<void(const std::string&)>& fn) {
  rocksdb::DB* db = store.rocks_for_backup();
  rocksdb::ColumnFamilyHandle* h = store.rocks_families_for_backup()[static_cast<int>(Cf::kByLearner)];
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
  it->SeekToFirst();
  while (it->Valid()) {
    rocksdb::Slice k = it->key();
    if (k.size() < 2) return absl::InternalError("corrupt learner index key");
    size_t len = (static_cast<uint8_t>(k[0]) << 8) | static_cast<uint8_t>(k[1]);
    if (k.size() < 2 + len) return absl::InternalError("corrupt learner index key");
    std::string learner(k.data() + 2, len);
    fn(learner);
    // Past every entry of this learner: the longest tail is 25 bytes.
    it->Seek(EncodeStringPrefix(learner) + std::string(26, '\xff'));
  }
  return FromRocks(it->status(), "scan learner index");
}

// Learner keys of the xAPI documents (states and agent profiles; layout in
// xapi/document_store.h).
}  // namespace

std::vector<std::string> RestoreLeftovers(const std::string& target) {
  std::vector<std::string> out;
  const fs::path p(target);
  const std::string name = p.filename().string();
  std::error_code ec;
  for (fs::directory_iterator it(p.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string f = it->path().filename().string();
    for (const char* suffix : {".restoring-", ".replaced-"}) {
      if (absl::StartsWith(f, absl::StrCat(name, suffix))) out.push_back(it->path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status CheckNoInterruptedRestore(const std::string& data_dir) {
  std::error_code ec;
  fs::path dir(data_dir);
  if (!dir.has_filename()) dir = dir.parent_path();
  if (fs::exists(dir, ec)) return absl::OkStatus();
  std::vector<std::string> replaced;
  for (const std::string& l : RestoreLeftovers(dir.string())) {
    if (absl::StrContains(l, ".replaced-")) replaced.push_back(l);
  }
  if (replaced.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "data_dir: ", dir.string(), " is missing and ", replaced.back(),
      " holds the store an interrupted restore moved aside; move it (or the restored ", dir.string(),
      ".restoring-* copy) back to ", dir.string(), " before starting, or an empty store would be created there"));
}

// ---------------- ErasureLedger ----------------

absl::StatusOr<std::unique_ptr<ErasureLedger>> ErasureLedger::Open(const std::string& path) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("open erasure ledger ", path, ": ", std::strerror(errno)));
  return std::unique_ptr<ErasureLedger>(new ErasureLedger(fd));
}

ErasureLedger::~ErasureLedger() { ::close(fd_); }

absl::Status ErasureLedger::Append(const std::string& learner, int64_t time_us) {
  nlohmann::ordered_json j;
  j["time_us"] = time_us;
  j["learner_sha256"] = Hex(LearnerDigest(learner));
  std::string line = j.dump() + "\n";
  absl::MutexLock lock(&mu_);
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError(absl::StrCat("append to the erasure ledger: ", std::strerror(errno)));
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd_) != 0)
    return absl::UnavailableError(absl::StrCat("fsync the erasure ledger: ", std::strerror(errno)));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ErasureLedger::Entry>> ErasureLedger::ReadAll(const std::string& path) {
  std::vector<Entry> out;
  std::ifstream in(path);
  if (!in) return out;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    const bool last = nl == std::string::npos;
    std::string line = text.substr(pos, last ? std::string::npos : nl - pos);
    pos = last ? text.size() : nl + 1;
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    std::string digest;
    bool ok = j.is_object() && j.contains("time_us") && j["time_us"].is_number_integer() &&
              j.contains("learner_sha256") && j["learner_sha256"].is_string() &&
              j["learner_sha256"].get<std::string>().size() == 64;
    if (ok) {
      digest = absl::HexStringToBytes(j["learner_sha256"].get<std::string>());
      ok = digest.size() == 32 && Hex(digest) == j["learner_sha256"].get<std::string>();
    }
    if (!ok) {
      if (last) break;  // torn by a crash mid-append
      return absl::DataLossError(absl::StrCat(path, ":", line_no, ": malformed erasure ledger line"));
    }
    out.push_back({j["time_us"].get<int64_t>(), digest});
  }
  return out;
}

absl::StatusOr<std::vector<ErasureLogEntry>> ReadErasureLog(const RecordStore& store) {
  std::vector<ErasureLogEntry> out;
  absl::Status inner;
  absl::Status s = store.ForEachMeta(kMetaErasureLogPrefix, [&](absl::string_view key, absl::string_view value) {
    absl::StatusOr<ErasureLogKey> k = DecodeErasureLogKey(key);
    if (!k.ok() || value.size() != 8) {
      inner = absl::InternalError("corrupt erasure log entry");
      return false;
    }
    out.push_back({k->time_us, k->learner_digest, GetU64(value.data())});
    return true;
  });
  LL_RETURN_IF_ERROR(s);
  LL_RETURN_IF_ERROR(inner);
  return out;
}

absl::StatusOr<uint64_t> CountStatements(const RecordStore& store) {
  rocksdb::DB* db = store.rocks_for_backup();
  rocksdb::ColumnFamilyHandle* h = store.rocks_families_for_backup()[static_cast<int>(Cf::kByStored)];
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, h));
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "count statements"));
  return n;
}

// ---------------- BackupManager ----------------

absl::StatusOr<std::unique_ptr<BackupManager>> BackupManager::Open(RecordStore* store, BackupManagerOptions options) {
  if (options.backup_dir.empty()) return absl::InvalidArgumentError("backup_dir: required");
  options.now_micros = OrWallClock(std::move(options.now_micros));
  std::error_code ec;
  fs::create_directories(fs::path(options.backup_dir) / kRecordsBackupSubdir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("create ", options.backup_dir, ": ", ec.message()));
  std::unique_ptr<BackupManager> m(new BackupManager(store, std::move(options)));
  const std::string lock_path = (fs::path(m->options_.backup_dir) / "LOCK").string();
  rocksdb::Status locked = rocksdb::Env::Default()->LockFile(lock_path, &m->lock_);
  if (!locked.ok()) {
    m->lock_ = nullptr;
    return absl::FailedPreconditionError(
        absl::StrCat("backup_dir: ", m->options_.backup_dir,
                     " is in use by another process (one records_server per backup directory): ", locked.ToString()));
  }
  absl::MutexLock lock(&m->mu_);
  LL_ASSIGN_OR_RETURN(m->records_, OpenEngine((fs::path(m->options_.backup_dir) / kRecordsBackupSubdir).string()));
  LL_ASSIGN_OR_RETURN(m->documents_, OpenEngine((fs::path(m->options_.backup_dir) / kDocumentsBackupSubdir).string()));
  LL_ASSIGN_OR_RETURN(std::vector<BackupInfo> existing, m->ListLocked());
  if (!existing.empty()) m->last_success_us_ = existing.back().created_us;
  return m;
}

BackupManager::~BackupManager() {
  {
    absl::MutexLock lock(&mu_);
    records_.reset();
    documents_.reset();
  }
  if (lock_ != nullptr) rocksdb::Env::Default()->UnlockFile(lock_);
}

std::string DefaultBackupDir(const std::string& data_dir) {
  fs::path p(data_dir);
  if (!p.has_filename()) p = p.parent_path();
  return p.string() + "-backups";
}

absl::StatusOr<BackupInfo> BackupManager::Create() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<BackupInfo> b = CreateLocked();
  if (b.ok()) {
    ++created_;
    last_success_us_ = b->created_us;
  } else {
    ++failed_;
  }
  return b;
}

absl::StatusOr<BackupInfo> BackupManager::CreateLocked() {
  BackupInfo b;
  b.created_us = options_.now_micros();
  // Read before the engine flushes: the backup holds at least these.
  LL_ASSIGN_OR_RETURN(b.applied_seq, ReadAppliedSeq(*store_));
  LL_ASSIGN_OR_RETURN(b.statements, CountStatements(*store_));
  LL_ASSIGN_OR_RETURN(RecordStore::ErasureEpoch epoch, store_->GetErasureEpoch());
  b.erasure_epoch = epoch.epoch;
  rocksdb::CreateBackupOptions co;
  co.flush_before_backup = true;
  rocksdb::DB* docs = options_.documents_db ? options_.documents_db() : nullptr;
  // Without a document database of their own, the documents are a family
  // of the record database: in this backup.
  b.documents_in_records = docs == nullptr;
  if (docs != nullptr) {
    rocksdb::BackupID doc_id = 0;
    LL_RETURN_IF_ERROR(
        FromRocks(documents_->CreateNewBackupWithMetadata(co, docs, "", &doc_id), "back up the xAPI document store"));
    b.documents_backup_id = doc_id;
  }
  rocksdb::BackupID id = 0;
  absl::Status s =
      FromRocks(records_->CreateNewBackupWithMetadata(co, store_->rocks_for_backup(), EncodeMetadata(b), &id),
                "back up the record store");
  if (!s.ok()) {
    if (b.documents_backup_id != 0) documents_->DeleteBackup(b.documents_backup_id);
    return s;
  }
  rocksdb::BackupInfo info;
  LL_RETURN_IF_ERROR(FromRocks(records_->GetBackupInfo(id, &info), "read the new backup"));
  std::vector<BackupInfo> all = ListEngine(*records_, documents_.get());
  for (const BackupInfo& x : all) {
    if (x.id == id) return x;
  }
  return absl::InternalError("the new backup is not listed");
}

absl::StatusOr<std::vector<BackupInfo>> BackupManager::ListLocked() { return ListEngine(*records_, documents_.get()); }

absl::StatusOr<std::vector<BackupInfo>> BackupManager::List() {
  absl::MutexLock lock(&mu_);
  return ListLocked();
}

absl::StatusOr<BackupInfo> BackupManager::Verify(uint32_t id) {
  absl::MutexLock lock(&mu_);
  LL_ASSIGN_OR_RETURN(std::vector<BackupInfo> all, ListLocked());
  auto it = std::find_if(all.begin(), all.end(), [id](const BackupInfo& b) { return b.id == id; });
  if (it == all.end()) return absl::NotFoundError(absl::StrCat("backup_id: no backup ", id));
  rocksdb::IOStatus s = records_->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (!s.ok()) return absl::DataLossError(absl::StrCat("backup ", id, " (records): ", s.ToString()));
  if (it->documents_backup_id != 0) {
    s = documents_->VerifyBackup(it->documents_backup_id, true);
    if (!s.ok()) return absl::DataLossError(absl::StrCat("backup ", id, " (xAPI documents): ", s.ToString()));
  }
  return *it;
}

absl::StatusOr<int> BackupManager::Purge(int keep) {
  if (keep < 1) return absl::InvalidArgumentError("keep: must be at least 1");
  absl::MutexLock lock(&mu_);
  LL_ASSIGN_OR_RETURN(std::vector<BackupInfo> before, ListLocked());
  LL_RETURN_IF_ERROR(FromRocks(records_->PurgeOldBackups(static_cast<uint32_t>(keep)), "purge old backups"));
  LL_ASSIGN_OR_RETURN(std::vector<BackupInfo> after, ListLocked());
  // Document backups no remaining records backup refers to.
  std::set<uint32_t> referenced;
  for (const BackupInfo& b : after) referenced.insert(b.documents_backup_id);
  std::vector<rocksdb::BackupInfo> docs;
  documents_->GetBackupInfo(&docs);
  for (const rocksdb::BackupInfo& d : docs) {
    if (referenced.count(d.backup_id) == 0) {
      LL_RETURN_IF_ERROR(FromRocks(documents_->DeleteBackup(d.backup_id), "purge old document backups"));
    }
  }
  return static_cast<int>(before.size() - after.size());
}

absl::StatusOr<std::vector<BackupInfo>> ListBackupsIn(const std::string& backup_dir) {
  std::error_code ec;
  const fs::path records = fs::path(backup_dir) / kRecordsBackupSubdir;
  if (!fs::is_directory(records, ec)) {
    return absl::NotFoundError(absl::StrCat("backup_dir: no backups in ", backup_dir, " (no ", records.string(), ")"));
  }
  LL_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::BackupEngineReadOnly> engine, OpenEngineReadOnly(records.string()));
  std::unique_ptr<rocksdb::BackupEngineReadOnly> docs;
  const fs::path documents = fs::path(backup_dir) / kDocumentsBackupSubdir;
  if (fs::is_directory(documents, ec)) {
    LL_ASSIGN_OR_RETURN(docs, OpenEngineReadOnly(documents.string()));
  }
  return ListEngine(*engine, docs.get());
}

// ---------------- Restore ----------------

absl::StatusOr<RestoreResult> RestoreBackup(const RestoreRequest& req) {
  if (req.backup_dir.empty()) return absl::InvalidArgumentError("backup_dir: required");
  if (req.data_dir.empty()) return absl::InvalidArgumentError("data_dir: required");
  LL_ASSIGN_OR_RETURN(std::vector<BackupInfo> all, ListBackupsIn(req.backup_dir));
  if (all.empty()) return absl::NotFoundError(absl::StrCat("backup_dir: ", req.backup_dir, " holds no backup"));
  RestoreResult result;
  if (req.backup_id == 0) {
    result.backup = all.back();
  } else {
    auto it = std::find_if(all.begin(), all.end(), [&](const BackupInfo& b) { return b.id == req.backup_id; });
    if (it == all.end())
      return absl::NotFoundError(absl::StrCat("backup_id: no backup ", req.backup_id, " in ", req.backup_dir));
    result.backup = *it;
  }
  LL_RETURN_IF_ERROR(CheckTarget(req.data_dir, "data_dir", req.force));
  const bool with_docs = !req.documents_dir.empty() && result.backup.documents_backup_id != 0;
  if (with_docs) LL_RETURN_IF_ERROR(CheckTarget(req.documents_dir, "xapi_documents_dir", req.force));

  // Siblings of the targets ("var/records/" names var/records too).
  auto sibling = [](const std::string& dir, const std::string& suffix) {
    fs::path p = fs::absolute(dir).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();
    return p.string() + suffix;
  };
  const int64_t started = WallMicros();
  const std::string suffix = absl::StrCat(".restoring-", started);
  const std::string aside_suffix = absl::StrCat(".replaced-", started);
  const std::string tmp = sibling(req.data_dir, suffix);
  const std::string tmp_docs = with_docs ? sibling(req.documents_dir, suffix) : std::string();
  std::error_code ec;
  fs::create_directories(fs::path(tmp).parent_path(), ec);
  result.leftovers = RestoreLeftovers(sibling(req.data_dir, ""));
  if (with_docs) {
    for (std::string& l : RestoreLeftovers(sibling(req.documents_dir, ""))) result.leftovers.push_back(std::move(l));
  }
  auto cleanup = [&] {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    if (!tmp_docs.empty()) fs::remove_all(tmp_docs, ignored);
  };
  absl::Status s = RestoreInto((fs::path(req.backup_dir) / kRecordsBackupSubdir).string(), result.backup.id, tmp);
  if (s.ok() && with_docs) {
    s = RestoreInto((fs::path(req.backup_dir) / kDocumentsBackupSubdir).string(), result.backup.documents_backup_id,
                    tmp_docs);
  }
  if (!s.ok()) {
    cleanup();
    return s;
  }

  // Erasures the backup does not hold: a ledger entry (T, L) is held when the
  // restored erasure log has an entry of L after L's previous ledger entry
  // and at or before T (the store logs an erasure before the ledger does).
  absl::StatusOr<std::vector<ErasureLedger::Entry>> ledger =
      ErasureLedger::ReadAll((fs::path(req.backup_dir) / kErasureLedgerFile).string());
  if (!ledger.ok()) {
    cleanup();
    return ledger.status();
  }
  {
    RecordStoreOptions so;
    so.now_micros = OrWallClock(req.now_micros);
    so.block_cache_bytes = size_t{64} << 20;
    absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(tmp, so);
    if (!store.ok()) {
      cleanup();
      return store.status();
    }
    // Erasures below take the learner's documents in the same batch, as the
    // service does (records_server.cc).
    std::unique_ptr<xapi::DocumentStore> in_store =
        xapi::DocumentStore::InDatabase((*store)->rocks_for_documents(), (*store)->documents_family());
    int64_t documents_erased = 0;
    (*store)->SetEraseExtension([&](const std::string& learner, rocksdb::WriteBatch* batch) -> absl::StatusOr<int64_t> {
      LL_ASSIGN_OR_RETURN(int64_t d, in_store->EraseLearnerInto(learner, batch));
      documents_erased += d;
      return d;
    });
    s = [&]() -> absl::Status {
      LL_ASSIGN_OR_RETURN(std::vector<ErasureLogEntry> log, ReadErasureLog(**store));
      std::map<std::string, std::vector<int64_t>> held;  // digest -> erasure times
      for (const ErasureLogEntry& e : log) held[e.learner_digest].push_back(e.time_us);
      std::map<std::string, int64_t> previous;  // digest -> previous ledger time
      std::map<std::string, int64_t> todo;      // digest -> latest uncovered ledger time
      for (const ErasureLedger::Entry& e : *ledger) {
        int64_t prev = previous.count(e.learner_digest) ? previous[e.learner_digest] : -1;
        previous[e.learner_digest] = e.time_us;
        bool covered = false;
        for (int64_t t : held[e.learner_digest]) covered |= t > prev && t <= e.time_us;
        if (!covered) todo[e.learner_digest] = e.time_us;
      }
      if (todo.empty()) return absl::OkStatus();
      // Learner keys from their digests: the restored stores' learners.
      std::map<std::string, std::string> keys;  // digest -> learner key
      auto consider = [&](const std::string& learner) {
        std::string d = LearnerDigest(learner);
        if (todo.count(d)) keys.emplace(d, learner);
      };
      LL_RETURN_IF_ERROR(ForEachIndexedLearner(**store, consider));
      LL_RETURN_IF_ERROR((*store)->ForEachMeta(kMetaKioskPassOfPrefix, [&](absl::string_view key, absl::string_view) {
        consider(std::string(key.substr(sizeof(kMetaKioskPassOfPrefix) - 1)));
        return true;
      }));
      // The documents: in the restored record database; a backup taken by an
      // earlier version has them in a database of their own.
      LL_RETURN_IF_ERROR(in_store->ForEachLearner(consider));
      std::unique_ptr<xapi::DocumentStore> docs;
      if (with_docs) {
        LL_ASSIGN_OR_RETURN(docs, xapi::DocumentStore::Open(tmp_docs));
        LL_RETURN_IF_ERROR(docs->ForEachLearner(consider));
      }
      KioskPasses passes(store->get());
      for (const auto& [digest, time_us] : todo) {
        auto k = keys.find(digest);
        if (k != keys.end()) {
          // As RecordsService::EraseLearner: the kiosk pass, the statements,
          // the documents.
          LL_RETURN_IF_ERROR(passes.EraseLearner(k->second));
          LL_ASSIGN_OR_RETURN(int64_t n, (*store)->EraseLearner(k->second));
          result.reerased_statements += n;
          if (docs) {
            LL_ASSIGN_OR_RETURN(int64_t d, docs->EraseLearner(k->second));
            result.reerased_documents += d;
          }
          result.reerased_documents += documents_erased;
          documents_erased = 0;
          ++result.reerased_learners;
        }
        // Mark the ledger entry held, so that backups of the restored store
        // do not erase the learner's later records again at their restore.
        std::string v;
        PutU64(&v, 0);
        LL_RETURN_IF_ERROR((*store)->WriteMeta({{EncodeErasureLogKey(time_us, digest), v}}));
      }
      return absl::OkStatus();
    }();
    if (s.ok()) {
      absl::StatusOr<uint64_t> n = CountStatements(**store);
      absl::StatusOr<uint64_t> seq = ReadAppliedSeq(**store);
      s = n.ok() ? seq.status() : n.status();
      if (s.ok()) {
        result.statements = *n;
        result.applied_seq = *seq;
      }
    }
  }
  if (!s.ok()) {
    cleanup();
    return s;
  }
  // Targets were checked above; check again (a server may have started).
  s = CheckTarget(req.data_dir, "data_dir", req.force);
  if (s.ok() && with_docs) s = CheckTarget(req.documents_dir, "xapi_documents_dir", req.force);
  std::vector<Swap> swaps = {{tmp, sibling(req.data_dir, ""), sibling(req.data_dir, aside_suffix)}};
  if (with_docs) swaps.push_back({tmp_docs, sibling(req.documents_dir, ""), sibling(req.documents_dir, aside_suffix)});
  if (s.ok()) s = SwapIntoPlace(swaps, req, &result.not_removed);
  if (!s.ok()) {
    cleanup();
    return s;
  }
  result.documents_restored = with_docs || result.backup.documents_in_records;
  return result;
}

// ---------------- BackupScheduler ----------------

BackupScheduler::BackupScheduler(BackupManager* manager, BackupSchedulerOptions options)
    : manager_(manager), options_(std::move(options)) {}

BackupScheduler::~BackupScheduler() { Stop(); }

void BackupScheduler::Start() {
  thread_ = std::thread([this] {
    absl::MutexLock lock(&mu_);
    absl::Time not_before = absl::InfinitePast();  // at most one round per interval
    while (true) {
      // Due `interval` after the newest backup (at once when there is none,
      // or when the server was down past the time).
      const int64_t last = manager_->stats().last_success_us;
      const absl::Time due =
          std::max(last == 0 ? absl::Now() : absl::FromUnixMicros(last) + options_.interval, not_before);
      while (!stop_ && absl::Now() < due) mu_.AwaitWithDeadline(absl::Condition(&stop_), due);
      if (stop_) return;
      mu_.Unlock();
      RunOnce().IgnoreError();  // reported through on_result
      mu_.Lock();
      not_before = absl::Now() + options_.interval;
    }
  });
}

void BackupScheduler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<BackupInfo> BackupScheduler::RunOnce() {
  absl::StatusOr<BackupInfo> b = manager_->Create();
  if (b.ok()) {
    absl::StatusOr<int> purged = manager_->Purge(std::max(1, options_.keep));
    if (!purged.ok()) b = purged.status();
  }
  if (options_.on_result) options_.on_result(b);
  return b;
}

}  // namespace lifelong::records
