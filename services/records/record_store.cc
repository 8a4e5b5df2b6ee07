// RecordStore (record_store.h): opening the database
// (MakeRecordStoreRocksConfig: the tuned RocksDB options, each with the
// measurement that chose it; Open: page-token key, schema version, the last
// stored and applied log sequences), closing it, the meta family
// (GetMeta/WriteMeta/ForEachMeta), statistics and background-work waits,
// and the refused-statement payload (RefusedStatementIndex).
//
// The other parts: record_store_write.cc (group commit), record_store_query.cc
// (reads and paging), record_store_erase.cc (erasure), record_store_audit.cc
// (the audit log), record_store_log_apply.cc (log mode); shared helpers in
// record_store_internal.h.
#include "services/records/record_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/log.h"
#include "services/common/rocks_logger.h"
#include "services/common/rocks_status.h"
#include "services/common/status_macros.h"
#include "services/records/column_families.h"
#include "services/records/record_store_internal.h"

namespace lifelong::records {
namespace {

// Prefix extractor of the string indexes: the length-prefixed string at the
// start of the key (u16 length + bytes). Lets bloom filters skip files that
// hold no entry for a learner, activity or verb.
class LengthPrefixedStringTransform : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "lifelong.LengthPrefixedString"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), PrefixLen(key));
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() >= 2 && key.size() >= PrefixLen(key); }

 private:
  static size_t PrefixLen(const rocksdb::Slice& key) {
    return 2 + ((static_cast<uint8_t>(key[0]) << 8) | static_cast<uint8_t>(key[1]));
  }
};

}  // namespace

std::optional<size_t> RefusedStatementIndex(const absl::Status& status) {
  auto payload = status.GetPayload(kRefusedStatementIndexUrl);  // absl::optional<absl::Cord>
  size_t index = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &index)) return std::nullopt;
  return index;
}

absl::Status internal::RefuseStatement(absl::Status refusal, size_t index) {
  refusal.SetPayload(kRefusedStatementIndexUrl, absl::Cord(absl::StrCat(index)));
  return refusal;
}

RecordStoreRocksConfig MakeRecordStoreRocksConfig(size_t block_cache_bytes) {
  // Options for this workload: small writes that must be durable, point
  // lookups by id, and short range scans over one learner/activity/verb.
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;        // 2-core machines
  db_options.enable_pipelined_write = true;  // WAL and memtable writes overlap
  // One group leader writes at a time (see RecordStore), so concurrent
  // memtable writes buy nothing, and turning them off enables insert hints.
  db_options.allow_concurrent_memtable_write = false;
  db_options.bytes_per_sync = 1 << 20;  // smooth SST write-back
  db_options.max_total_wal_size = 256 << 20;
  // RocksDB's info log goes to the service log, not a LOG file on the data
  // disk, whose failure aborts the process when the disk is full
  // (services/common/rocks_logger.h).
  db_options.info_log = NewStructuredRocksLogger("records");

  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const ColumnFamilySpec& spec : kColumnFamilies) {
    rocksdb::ColumnFamilyOptions cf_options;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    // Index and filter blocks stay in the table readers (all files are kept
    // open), outside the block cache: they are ~1% of the data (10 bits of
    // bloom per key, one index entry per 4 KiB block), and every seek of a
    // query touches one of each per sorted run, which through the cache is a
    // hash lookup and a shard lock apiece (bench_records: latest-50 queries
    // +7%).
    table.cache_index_and_filter_blocks = false;
    // Bloom filters: whole-key for id lookups, prefix blooms for the string
    // indexes (a scan for one learner skips files without that learner).
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    if (spec.id == Cf::kStatements) {
      table.block_size = 16 << 10;  // statements are ~0.5-2 KiB of JSON
      // Only point lookups by id ever touch this family, so the memtable is a
      // hash table on the whole 16-byte key: O(1) inserts and lookups for
      // random UUIDs instead of a skiplist walk (the write path's largest
      // single cost when measured).
      cf_options.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(16));
      cf_options.memtable_factory.reset(rocksdb::NewHashLinkListRepFactory(1 << 18));
    }
    // Index keys arrive in increasing order within their prefix (the stored
    // sequence grows): insertion hints make those memtable inserts O(1).
    if (spec.id == Cf::kByStored) {
      cf_options.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(1));
    }
    if (spec.is_index) {
      table.whole_key_filtering = false;
      if (spec.id == Cf::kByRegistration) {
        cf_options.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(16));
      } else {
        cf_options.prefix_extractor = std::make_shared<LengthPrefixedStringTransform>();
      }
      cf_options.memtable_insert_with_hint_prefix_extractor = cf_options.prefix_extractor;
    }
    if (spec.id == Cf::kByTarget) {
      // Every fresh statement asks "does anything refer to me?"; almost
      // always no, answered by the memtable and file bloom filters.
      cf_options.memtable_prefix_bloom_size_ratio = 0.02;
      cf_options.memtable_whole_key_filtering = true;
    }
    cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    // JSON and repetitive keys compress well. LZ4 on every level: on these
    // 2-core machines compaction competes with requests for CPU, and LZ4
    // compresses (compaction) and decompresses (block-cache misses) several
    // times faster than ZSTD, for some more disk. Measured on bench_records'
    // 1M-statement pre-fill: ZSTD on the bottommost level took 8% more CPU
    // for 9% less disk (467 vs 510 MB).
    cf_options.compression = rocksdb::kLZ4Compression;
    cf_options.bottommost_compression = rocksdb::kLZ4Compression;
    cf_options.write_buffer_size = spec.id == Cf::kStatements ? (64 << 20) : (32 << 20);
    // Keys of the big families (statements by random id, learner entries by
    // learner) are spread over the whole key range, so every L0 file
    // overlaps all of L1 and each L0->L1 compaction rewrites L1. Compacting
    // 8 L0 files at a time instead of 4 halves that rewrite per statement;
    // reads check up to 8 more files, mostly skipped by the bloom filters.
    // L1 is sized to about one round of L0 files. (bench_records' 1M pre-fill:
    // 21% less CPU than RocksDB's defaults of 4 files and 256 MB.)
    cf_options.level0_file_num_compaction_trigger = 8;
    cf_options.level0_slowdown_writes_trigger = 24;
    cf_options.level0_stop_writes_trigger = 40;
    cf_options.max_bytes_for_level_base = 512 << 20;
    descriptors.emplace_back(spec.name, cf_options);
  }

  return {db_options, std::move(descriptors)};
}

namespace {

// Schema 3's upgrade: files every stored statement that names learners
// outside its actor under those learners in "by_mention" and flags it
// RecordFlag::kNamesOthers (the record and its learners' covering copies).
// Written in batches; a stop midway repeats it at the next Open (the schema
// version is written after it), which writes the same keys again.
absl::Status BackfillMentions(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                              const std::string& path) {
  auto family = [&](Cf f) { return handles.at(static_cast<int>(f)); };
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), family(Cf::kStatements)));
  rocksdb::WriteBatch batch;
  int64_t read = 0, named = 0;
  const absl::Time start = absl::Now();
  absl::Time last_report = start;
  auto flush = [&]() -> absl::Status {
    if (batch.Count() == 0) return absl::OkStatus();
    rocksdb::WriteOptions wo;
    wo.sync = true;
    LL_RETURN_IF_ERROR(FromRocks(db->Write(wo, &batch), "schema 3: write mention index"));
    batch.Clear();
    return absl::OkStatus();
  };
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++read;
    if (it->key().size() != 16) return absl::DataLossError("schema 3: a statement key is not 16 bytes");
    Uuid id;
    std::memcpy(id.data(), it->key().data(), 16);
    absl::StatusOr<StatementRecord> rec =
        DecodeStatementRecord(absl::string_view(it->value().data(), it->value().size()));
    if (!rec.ok()) {
      return absl::DataLossError(absl::StrCat("schema 3: statement ", FormatUuid(id), ": ", rec.status().message()));
    }
    absl::StatusOr<std::vector<std::string>> mentioned = MentionedLearners(rec->json);
    if (mentioned.ok() && !mentioned->empty()) {
      ++named;
      rec->Set(RecordFlag::kNamesOthers, true);
      LL_RETURN_IF_ERROR(internal::PutRecordWithCopies(handles, id, *rec, &batch));
      for (const std::string& l : *mentioned) {
        batch.Put(family(Cf::kByMention), EncodeStringIndexKey(l, rec->stored_seq, id), rocksdb::Slice());
      }
      if (batch.Count() >= 10000) LL_RETURN_IF_ERROR(flush());
    }
    if (absl::Now() - last_report >= absl::Seconds(10)) {
      last_report = absl::Now();
      LogInfo("schema_upgrade_progress", {{"path", path},
                                          {"to_version", 3},
                                          {"statements_read", read},
                                          {"naming_others", named},
                                          {"elapsed_s", absl::ToInt64Seconds(last_report - start)}});
    }
  }
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "schema 3: scan statements"));
  LL_RETURN_IF_ERROR(flush());
  LogInfo("schema_upgraded", {{"path", path},
                              {"to_version", 3},
                              {"statements_read", read},
                              {"naming_others", named},
                              {"elapsed_ms", absl::ToInt64Milliseconds(absl::Now() - start)}});
  return absl::OkStatus();
}

// The column families of the store at `path` as its files list them; empty
// when there is no store there yet.
std::vector<std::string> ExistingFamilies(const rocksdb::DBOptions& db_options, const std::string& path) {
  std::vector<std::string> names;
  // Asked only of a store that exists: RocksDB logs a missing one as an error.
  rocksdb::Env* env = db_options.env != nullptr ? db_options.env : rocksdb::Env::Default();
  if (!env->FileExists(path + "/CURRENT").ok()) return names;
  if (!rocksdb::DB::ListColumnFamilies(db_options, path, &names).ok()) names.clear();
  return names;
}

// Before a one-way schema upgrade (Open): a checkpoint of the store as the
// previous release left it, at "<path>.before-schema-<kSchemaVersion>", so
// that an upgrade has a way back without a backup taken beforehand
// (docs/records.md, "Schema version"). Its table files are hard links (no
// copy until compactions replace them in the store); the column families
// this release added to `db` when it opened it (not in `before`) are dropped
// from it again, so the previous binary opens it as it was. It is made under
// "<...>.partial" and renamed when complete; a complete one already there (an
// earlier upgrade stopped midway) is kept as it is. An error means the store
// must not be upgraded.
absl::Status CheckpointBeforeUpgrade(rocksdb::DB* db, std::string path, uint32_t from,
                                     const std::vector<std::string>& before) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const std::string dir = absl::StrCat(path, ".before-schema-", kSchemaVersion);
  const std::string partial = dir + ".partial";
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    LogInfo("schema_upgrade_checkpoint_kept", {{"path", dir}, {"from_schema", static_cast<int64_t>(from)}});
    return absl::OkStatus();
  }
  auto failed = [&](absl::string_view what) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the record store at ", path, " has schema version ", from, "; before upgrading it to ", kSchemaVersion,
        ", no checkpoint of it could be made at ", dir, ": ", what, " (the store is not changed)"));
  };
  for (const std::string& stale : {partial, partial + ".tmp"}) {
    std::filesystem::remove_all(stale, ec);
    if (ec) return failed(absl::StrCat("remove ", stale, ": ", ec.message()));
  }
  rocksdb::Checkpoint* raw_checkpoint = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db, &raw_checkpoint);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw_checkpoint);
  if (s.ok()) s = checkpoint->CreateCheckpoint(partial, /*log_size_for_flush=*/0);
  if (!s.ok()) return failed(s.ToString());
  {
    RecordStoreRocksConfig config = MakeRecordStoreRocksConfig(8 << 20);
    rocksdb::DB* raw = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    s = rocksdb::DB::Open(config.db, partial, config.families, &handles, &raw);
    if (!s.ok()) return failed(s.ToString());
    std::unique_ptr<rocksdb::DB> copy(raw);
    for (rocksdb::ColumnFamilyHandle* h : handles) {
      if (s.ok() && std::find(before.begin(), before.end(), h->GetName()) == before.end()) {
        s = copy->DropColumnFamily(h);
      }
    }
    for (rocksdb::ColumnFamilyHandle* h : handles) copy->DestroyColumnFamilyHandle(h);
    if (s.ok()) s = copy->Close();
    if (!s.ok()) return failed(s.ToString());
  }
  std::filesystem::rename(partial, dir, ec);
  if (ec) return failed(absl::StrCat("rename ", partial, ": ", ec.message()));
  LogInfo("schema_upgrade_checkpoint", {{"path", dir},
                                        {"from_schema", static_cast<int64_t>(from)},
                                        {"to_schema", static_cast<int64_t>(kSchemaVersion)}});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RecordStore>> RecordStore::Open(const std::string& path, RecordStoreOptions options) {
  std::unique_ptr<RecordStore> store(new RecordStore());
  if (!options.now_micros) options.now_micros = [] { return absl::ToUnixMicros(absl::Now()); };
  store->options_ = options;

  RecordStoreRocksConfig config = MakeRecordStoreRocksConfig(options.block_cache_bytes);
  if (options.env != nullptr) config.db.env = options.env;
  const std::vector<std::string> families_before = ExistingFamilies(config.db, path);
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::Open(config.db, path, config.families, &handles, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open record store at ", path));
  store->db_.reset(raw);
  store->handles_ = handles;

  // Page-token key: created once, kept in the meta family.
  std::string key;
  s = raw->Get(rocksdb::ReadOptions(), store->cf(static_cast<int>(Cf::kMeta)), kMetaPageTokenKey, &key);
  if (s.IsNotFound()) {
    key = RandomKey();
    rocksdb::WriteBatch batch;
    batch.Put(store->cf(static_cast<int>(Cf::kMeta)), kMetaPageTokenKey, key);
    std::string version;
    PutU32(&version, kSchemaVersion);
    batch.Put(store->cf(static_cast<int>(Cf::kMeta)), kMetaSchemaVersion, version);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = raw->Write(wo, &batch);
  }
  if (!s.ok()) return FromRocks(s, "read store metadata");
  store->tokens_ = std::make_unique<PageTokenCodec>(key);

  // Schema version (key_codec.h): a newer one is refused, an older one is
  // upgraded and marked current (schema 2 reads schema 1's lists; schema 3
  // back-fills the mention index).
  {
    std::string stored;
    s = raw->Get(rocksdb::ReadOptions(), store->cf(static_cast<int>(Cf::kMeta)), kMetaSchemaVersion, &stored);
    if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "read schema version");
    uint32_t version = 0;
    if (s.ok()) {
      if (stored.size() != 4) return absl::DataLossError("corrupt schema version: not 4 bytes");
      for (char c : stored) version = (version << 8) | static_cast<uint8_t>(c);  // u32 BE
    }
    if (version > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat("the record store at ", path, " has schema version ", version,
                                                        ", written by a newer release; this one reads up to ",
                                                        kSchemaVersion, " (downgrade is not supported)"));
    }
    if (version < kSchemaVersion) {
      if (options.checkpoint_before_upgrade && !families_before.empty()) {
        LL_RETURN_IF_ERROR(CheckpointBeforeUpgrade(raw, path, version, families_before));
      }
      if (version < 3) LL_RETURN_IF_ERROR(BackfillMentions(raw, handles, path));
      std::string current;
      PutU32(&current, kSchemaVersion);
      rocksdb::WriteOptions wo;
      wo.sync = true;
      LL_RETURN_IF_ERROR(FromRocks(raw->Put(wo, store->cf(static_cast<int>(Cf::kMeta)), kMetaSchemaVersion, current),
                                   "write schema version"));
    }
  }

  // Whether any StatementRef target list exists (see FileReferences).
  {
    std::unique_ptr<rocksdb::Iterator> targets(
        raw->NewIterator(rocksdb::ReadOptions(), store->cf(static_cast<int>(Cf::kByTarget))));
    targets->SeekToFirst();
    store->has_referrers_ = targets->Valid();
    LL_RETURN_IF_ERROR(FromRocks(targets->status(), "scan target lists"));
  }

  // The last stored sequence continues after a restart.
  std::unique_ptr<rocksdb::Iterator> it(
      raw->NewIterator(rocksdb::ReadOptions(), store->cf(static_cast<int>(Cf::kByStored))));
  it->SeekToLast();
  if (it->Valid()) {
    LL_ASSIGN_OR_RETURN(IndexPosition last, DecodeIndexTail(absl::string_view(it->key().data(), it->key().size()), 0));
    store->last_seq_ = last.seq;
    store->max_assigned_seq_.store(last.seq);
  }
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "scan stored index"));

  // Log mode: where applying the replicated log resumes.
  {
    std::string applied;
    s = raw->Get(rocksdb::ReadOptions(), store->cf(static_cast<int>(Cf::kMeta)), kMetaAppliedLogSeq, &applied);
    if (s.ok()) {
      uint64_t v = 0;
      if (!absl::SimpleAtoi(applied, &v)) {
        return absl::InternalError(absl::StrCat("corrupt ", kMetaAppliedLogSeq, ": \"", applied, "\""));
      }
      store->applied_log_seq_ = v;
    } else if (!s.IsNotFound()) {
      return FromRocks(s, "read applied log sequence");
    }
  }

  try {
    store->authority_json_ = nlohmann::json::parse(options.authority_json).dump();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("authority_json: ", e.what()));
  }

  // An erasure's purge cut by a stop or a crash (or failed) runs again.
  store->ResumePendingPurge();
  return store;
}

RecordStore::~RecordStore() {
  {
    // Every RecordAsync call is answered first: the committer commits what
    // is queued, then stops; log-mode calls end on their own threads.
    absl::MutexLock lock(&write_mu_);
    while (log_async_in_flight_ > 0) log_async_cv_.Wait(&write_mu_);
    stop_committer_ = true;
    committer_cv_.SignalAll();
  }
  // Started only under write_mu_, and never again once stopping.
  std::vector<std::thread> committers;
  {
    absl::MutexLock lock(&write_mu_);
    committers = std::move(committers_);
  }
  for (std::thread& t : committers) t.join();
  // The write slot's thread last: the committers' groups may need it.
  std::thread write_slot;
  {
    absl::MutexLock lock(&write_mu_);
    stop_write_slot_ = true;
    write_slot_cv_.SignalAll();
    write_slot = std::move(write_slot_);
  }
  if (write_slot.joinable()) write_slot.join();
  // The purge thread: a compaction in progress is cancelled; what is not
  // purged stays in kMetaPurgePending for the next Open.
  std::thread purge_thread;
  {
    absl::MutexLock lock(&purge_mu_);
    stop_purge_ = true;
    purge_canceled_.store(true);
    purge_cv_.SignalAll();
    purge_thread = std::move(purge_thread_);
  }
  if (purge_thread.joinable()) purge_thread.join();
  if (!db_) return;
  rocksdb::FlushOptions fo;
  db_->Flush(fo, handles_);
  for (rocksdb::ColumnFamilyHandle* h : handles_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

absl::StatusOr<std::string> RecordStore::GetMeta(absl::string_view key) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kMeta)), rocksdb::Slice(key.data(), key.size()), &value);
  LL_RETURN_IF_ERROR(FromRocks(s, "read store metadata"));
  return value;
}

void RecordStore::AddMetaEdits(const std::vector<std::pair<std::string, std::optional<std::string>>>& edits,
                               rocksdb::WriteBatch* batch) const {
  for (const auto& [key, value] : edits) {
    if (value) {
      batch->Put(cf(static_cast<int>(Cf::kMeta)), key, *value);
    } else {
      batch->Delete(cf(static_cast<int>(Cf::kMeta)), key);
    }
  }
}

absl::Status RecordStore::WriteMeta(const std::vector<std::pair<std::string, std::optional<std::string>>>& edits) {
  if (options_.log != nullptr) return options_.log->ProposeMeta(edits, options_.now_micros());
  rocksdb::WriteBatch batch;
  AddMetaEdits(edits, &batch);
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  return FromRocks(db_->Write(wo, &batch), "write store metadata");
}

absl::Status RecordStore::ForEachMeta(
    absl::string_view prefix, const std::function<bool(absl::string_view key, absl::string_view value)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kMeta))));
  rocksdb::Slice p(prefix.data(), prefix.size());
  for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
    if (!fn(absl::string_view(it->key().data(), it->key().size()),
            absl::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromRocks(it->status(), "scan store metadata");
}

absl::Status WaitForRocksBackgroundWork(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
  LL_RETURN_IF_ERROR(FromRocks(db->Flush(rocksdb::FlushOptions(), handles), "flush"));
  // A finished flush schedules its compaction a moment later, so one idle
  // look is not proof: require three in a row, 200 ms apart.
  for (int idle = 0; idle < 3;) {
    uint64_t busy = 0;
    for (rocksdb::ColumnFamilyHandle* h : handles) {
      uint64_t pending = 0;
      db->GetIntProperty(h, "rocksdb.compaction-pending", &pending);
      busy += pending;
    }
    uint64_t running = 0;
    db->GetIntProperty("rocksdb.num-running-compactions", &running);
    busy += running;
    db->GetIntProperty("rocksdb.num-running-flushes", &running);
    busy += running;
    idle = busy == 0 ? idle + 1 : 0;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::OkStatus();
}

absl::Status RecordStore::WaitForBackgroundWork() { return WaitForRocksBackgroundWork(db_.get(), handles_); }

RecordStoreStats RecordStore::stats() const {
  RecordStoreStats s;
  s.statements_written = statements_written_.load(std::memory_order_relaxed);
  s.groups_committed = groups_committed_.load(std::memory_order_relaxed);
  s.write_failures = write_failures_.load(std::memory_order_relaxed);
  s.commit_build_micros = commit_build_micros_.load(std::memory_order_relaxed);
  s.commit_write_micros = commit_write_micros_.load(std::memory_order_relaxed);
  s.commit_build_cpu_micros = commit_build_cpu_micros_.load(std::memory_order_relaxed);
  s.commit_wait_micros = commit_wait_micros_.load(std::memory_order_relaxed);
  s.commit_wal_micros = commit_wal_micros_.load(std::memory_order_relaxed);
  s.commit_memtable_micros = commit_memtable_micros_.load(std::memory_order_relaxed);
  return s;
}

uint64_t RecordStore::ApproximateStatementCount() const {
  uint64_t n = 0;
  db_->GetIntProperty(cf(static_cast<int>(Cf::kStatements)), "rocksdb.estimate-num-keys", &n);
  return n;
}

rocksdb::ColumnFamilyHandle* RecordStore::documents_family() const { return cf(static_cast<int>(Cf::kXapiDocuments)); }

}  // namespace lifelong::records
