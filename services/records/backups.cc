#include "services/records/backups.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/rocks_status.h"
#include "services/common/status_macros.h"
#include "services/records/column_families.h"
#include "services/records/key_codec.h"
#include "services/records/kiosk_passes.h"
#include "services/records/learner_cards.h"
#include "services/xapi/document_store.h"

namespace lifelong::records {
namespace {

namespace fs = std::filesystem;

using storage::EngineBackup;
using storage::OpenBackupEngine;
using storage::OpenBackupEngineReadOnly;
using storage::OrWallClock;

std::string EncodeMetadata(const BackupInfo& b) {
  nlohmann::ordered_json j;
  j["applied_seq"] = b.applied_seq;
  j["statements"] = b.statements;
  j["erasure_epoch"] = b.erasure_epoch;
  j["documents_backup_id"] = b.documents_backup_id;
  j["documents_in_records"] = b.documents_in_records;
  return storage::EncodeBackupMetadata(b.created_us, j);
}

// A listed backup from the engine's listing and our app metadata; a backup
// without readable metadata (not ours) still lists with what the engine knows.
BackupInfo FromEngineBackup(const EngineBackup& e) {
  BackupInfo b;
  b.id = e.id;
  b.created_us = e.created_us;
  b.size_bytes = e.size_bytes;
  b.files = e.files;
  if (e.metadata.is_object()) {
    b.applied_seq = storage::MetadataU64(e.metadata, "applied_seq");
    b.statements = storage::MetadataU64(e.metadata, "statements");
    b.erasure_epoch = storage::MetadataU64(e.metadata, "erasure_epoch");
    b.documents_backup_id = static_cast<uint32_t>(storage::MetadataU64(e.metadata, "documents_backup_id"));
    b.documents_in_records = e.metadata.value("documents_in_records", false);
  }
  return b;
}

std::vector<BackupInfo> ListEngine(const rocksdb::BackupEngineReadOnlyBase& engine,
                                   const rocksdb::BackupEngineReadOnlyBase* documents) {
  std::map<uint32_t, EngineBackup> docs;
  if (documents != nullptr) {
    for (EngineBackup& x : storage::ListEngineBackups(*documents)) docs[x.id] = std::move(x);
  }
  std::vector<BackupInfo> out;
  for (const EngineBackup& e : storage::ListEngineBackups(engine)) {
    BackupInfo b = FromEngineBackup(e);
    auto it = docs.find(b.documents_backup_id);
    if (b.documents_backup_id != 0 && it != docs.end()) {
      b.size_bytes += it->second.size_bytes;
      b.files += it->second.files;
    }
    out.push_back(b);
  }
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

std::string Hex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

// Distinct learner keys in a learner-keyed index: by_learner (the
// statements' learners) or by_mention (learners named outside an actor).
absl::Status ForEachIndexedLearner(const RecordStore& store, Cf family,
                                   const std::function<void(const std::string&)>& fn) {
  rocksdb::DB* db = store.rocks_for_backup();
  rocksdb::ColumnFamilyHandle* h = store.rocks_families_for_backup()[static_cast<int>(family)];
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

// The stored sequence of the newest statement (0: none).
absl::StatusOr<uint64_t> LastStoredSeq(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* by_stored) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), by_stored));
  it->SeekToLast();
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "read the newest statement"));
  if (!it->Valid()) return 0;
  LL_ASSIGN_OR_RETURN(IndexPosition last, DecodeIndexTail(absl::string_view(it->key().data(), it->key().size()), 0));
  return last.seq;
}

// What a restore would discard: the statements of the store at `data_dir`
// (closed; read-only here) stored after sequence `after`, and the stored
// time of the newest. Nothing when there is no store there.
struct NewerStatements {
  uint64_t count = 0;
  uint64_t newest_seq = 0;
};
absl::StatusOr<NewerStatements> StatementsStoredAfter(const std::string& data_dir, uint64_t after) {
  std::error_code ec;
  if (!fs::exists(fs::path(data_dir) / "CURRENT", ec)) return NewerStatements{};
  // Only the families read here: a store of an older schema lacks later ones.
  rocksdb::DBOptions db_options;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {std::string(kColumnFamilies[static_cast<int>(Cf::kByStored)].name), rocksdb::ColumnFamilyOptions()}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  LL_RETURN_IF_ERROR(FromRocks(rocksdb::DB::OpenForReadOnly(db_options, data_dir, families, &handles, &raw),
                               absl::StrCat("data_dir: read the store at ", data_dir)));
  std::unique_ptr<rocksdb::DB> db(raw);
  NewerStatements out;
  absl::Status s = [&]() -> absl::Status {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[1]));
    std::string from;
    PutU64(&from, after + 1);
    for (it->Seek(from); it->Valid(); it->Next()) {
      ++out.count;
      out.newest_seq = GetU64(it->key().data());
    }
    return FromRocks(it->status(), "count the newer statements");
  }();
  for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
  LL_RETURN_IF_ERROR(s);
  return out;
}

// ---------------- BackupManager ----------------

absl::StatusOr<std::unique_ptr<BackupManager>> BackupManager::Open(RecordStore* store, BackupManagerOptions options) {
  if (options.backup_dir.empty()) return absl::InvalidArgumentError("backup_dir: required");
  options.now_micros = storage::OrWallClock(std::move(options.now_micros));
  LL_ASSIGN_OR_RETURN(std::unique_ptr<storage::BackupDirLock> dir_lock,
                      storage::BackupDirLock::Acquire(options.backup_dir, kRecordsBackupSubdir, "records_server"));
  std::unique_ptr<BackupManager> m(new BackupManager(store, std::move(options)));
  m->lock_ = std::move(dir_lock);
  absl::MutexLock lock(&m->mu_);
  LL_ASSIGN_OR_RETURN(m->records_,
                      OpenBackupEngine((fs::path(m->options_.backup_dir) / kRecordsBackupSubdir).string()));
  LL_ASSIGN_OR_RETURN(m->documents_,
                      OpenBackupEngine((fs::path(m->options_.backup_dir) / kDocumentsBackupSubdir).string()));
  LL_ASSIGN_OR_RETURN(std::vector<BackupInfo> existing, m->ListLocked());
  if (!existing.empty()) m->counters_.SetLastSuccess(existing.back().created_us);
  return m;
}

BackupManager::~BackupManager() {
  {
    absl::MutexLock lock(&mu_);
    records_.reset();
    documents_.reset();
  }
}

absl::StatusOr<BackupInfo> BackupManager::Create() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<BackupInfo> b = CreateLocked();
  counters_.Record(b.ok() ? absl::StatusOr<int64_t>(b->created_us) : b.status());
  return b;
}

absl::StatusOr<BackupInfo> BackupManager::CreateLocked() {
  // Erased statements not yet purged from the store's files would be copied
  // into the backup: their purge first (RecordStore::EraseLearner). When it
  // fails (a full disk, say) the backup is still taken, since it is what a
  // lost disk is restored from: the erased statements are unreadable in it
  // (deleted in the same files), and a restore re-applies the erasure log.
  if (absl::Status purged = store_->WaitForPurge(); !purged.ok()) {
    LogWarn("backup_before_purge", {{"error", std::string(purged.message())}});
  }
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
  LL_RETURN_IF_ERROR(storage::VerifyEngineBackup(*records_, id, "records"));
  if (it->documents_backup_id != 0) {
    LL_RETURN_IF_ERROR(storage::VerifyEngineBackup(*documents_, it->documents_backup_id,
                                                   absl::StrCat("xAPI documents of backup ", id)));
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
  LL_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::BackupEngineReadOnly> engine,
                      OpenBackupEngineReadOnly(records.string()));
  std::unique_ptr<rocksdb::BackupEngineReadOnly> docs;
  const fs::path documents = fs::path(backup_dir) / kDocumentsBackupSubdir;
  if (fs::is_directory(documents, ec)) {
    LL_ASSIGN_OR_RETURN(docs, OpenBackupEngineReadOnly(documents.string()));
  }
  return ListEngine(*engine, docs.get());
}

// ---------------- Restore ----------------

absl::StatusOr<RestoreResult> RestoreBackup(const RestoreRequest& req) {
  if (req.backup_dir.empty()) return absl::InvalidArgumentError("backup_dir: required");
  if (req.data_dir.empty()) return absl::InvalidArgumentError("data_dir: required");
  LL_ASSIGN_OR_RETURN(std::vector<BackupInfo> all, ListBackupsIn(req.backup_dir));
  RestoreResult result;
  LL_ASSIGN_OR_RETURN(result.backup, storage::PickBackup(all, req.backup_id, req.backup_dir));
  const bool with_docs = !req.documents_dir.empty() && result.backup.documents_backup_id != 0;
  std::vector<storage::RestoreTarget> targets = {
      {(fs::path(req.backup_dir) / kRecordsBackupSubdir).string(), result.backup.id, req.data_dir, "data_dir"}};
  if (with_docs) {
    targets.push_back({(fs::path(req.backup_dir) / kDocumentsBackupSubdir).string(), result.backup.documents_backup_id,
                       req.documents_dir, "xapi_documents_dir"});
  }
  // Runs on the restored copies before they are swapped in.
  auto reerase = [&](const std::vector<std::string>& restored) -> absl::Status {
    const std::string& tmp = restored[0];
    const std::string tmp_docs = with_docs ? restored[1] : std::string();
    // Erasures the backup does not hold: a ledger entry (T, L) is held when the
    // restored erasure log has an entry of L after L's previous ledger entry
    // and at or before T (the store logs an erasure before the ledger does).
    absl::StatusOr<std::vector<ErasureLedger::Entry>> ledger =
        ErasureLedger::ReadAll((fs::path(req.backup_dir) / kErasureLedgerFile).string());
    if (!ledger.ok()) return ledger.status();
    absl::Status s;
    {
      RecordStoreOptions so;
      so.now_micros = OrWallClock(req.now_micros);
      so.block_cache_bytes = size_t{64} << 20;
      absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(tmp, so);
      if (!store.ok()) return store.status();
      // Erasures below take the learner's documents in the same batch, as the
      // service does (records_server.cc).
      std::unique_ptr<xapi::DocumentStore> in_store =
          xapi::DocumentStore::InDatabase((*store)->rocks_for_documents(), (*store)->documents_family());
      int64_t documents_erased = 0;
      (*store)->SetEraseExtension(
          [&](const std::string& learner, rocksdb::WriteBatch* batch) -> absl::StatusOr<int64_t> {
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
        // Actors, and learners named only outside an actor (key_codec.h
        // "by_mention"): their erasure scrubs those statements.
        LL_RETURN_IF_ERROR(ForEachIndexedLearner(**store, Cf::kByLearner, consider));
        LL_RETURN_IF_ERROR(ForEachIndexedLearner(**store, Cf::kByMention, consider));
        LL_RETURN_IF_ERROR((*store)->ForEachMeta(kMetaKioskPassOfPrefix, [&](absl::string_view key, absl::string_view) {
          consider(std::string(key.substr(sizeof(kMetaKioskPassOfPrefix) - 1)));
          return true;
        }));
        // Learners whose only data is a learner card are found by it too.
        LL_RETURN_IF_ERROR(
            (*store)->ForEachMeta(kMetaLearnerCardOfPrefix, [&](absl::string_view key, absl::string_view) {
              consider(std::string(key.substr(sizeof(kMetaLearnerCardOfPrefix) - 1)));
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
        LearnerCards cards(store->get());
        for (const auto& [digest, time_us] : todo) {
          auto k = keys.find(digest);
          if (k != keys.end()) {
            // As RecordsService::EraseLearner: the kiosk pass, the learner
            // card (its binding and PIN hash), the statements, the documents.
            LL_RETURN_IF_ERROR(passes.EraseLearner(k->second));
            LL_RETURN_IF_ERROR(cards.EraseLearner(k->second));
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
      // Statements the replaced store holds that the backup does not: lost
      // by the restore on a single node (a replicated node gets them back
      // from the log, which resumes after the backup's position).
      if (s.ok() && result.applied_seq == 0) {
        absl::StatusOr<uint64_t> last = LastStoredSeq(
            (*store)->rocks_for_backup(), (*store)->rocks_families_for_backup()[static_cast<int>(Cf::kByStored)]);
        absl::StatusOr<NewerStatements> newer = last.ok() ? StatementsStoredAfter(req.data_dir, *last) : last.status();
        if (!newer.ok()) return newer.status();
        if (newer->count > 0 && !req.discard_newer) {
          return absl::FailedPreconditionError(absl::StrCat(
              "data_dir: the store at ", req.data_dir, " holds ", newer->count, " statement(s) recorded after backup ",
              result.backup.id, " (the newest stored ", FormatTimestampMicros(static_cast<int64_t>(newer->newest_seq)),
              "); restoring would lose them. Export them first (lifelong export), or pass --discard_newer "
              "to restore anyway"));
        }
        result.discarded_statements = newer->count;
      }
    }
    return s;
  };
  LL_ASSIGN_OR_RETURN(storage::RestoreOutcome outcome,
                      storage::RestoreIntoPlace(targets, req.force, reerase, req.swap_fault));
  result.not_removed = std::move(outcome.not_removed);
  result.leftovers = std::move(outcome.leftovers);
  result.documents_restored = with_docs || result.backup.documents_in_records;
  return result;
}

}  // namespace lifelong::records
