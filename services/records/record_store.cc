#include "services/records/record_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/log.h"
#include "services/common/rocks_status.h"
#include "services/common/status_macros.h"
#include "services/records/column_families.h"

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
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() >= 2 && key.size() >= PrefixLen(key);
  }

 private:
  static size_t PrefixLen(const rocksdb::Slice& key) {
    return 2 + ((static_cast<uint8_t>(key[0]) << 8) | static_cast<uint8_t>(key[1]));
  }
};

std::string IdKey(const Uuid& id) { return std::string(reinterpret_cast<const char*>(id.data()), 16); }

struct IdHash {
  size_t operator()(const Uuid& u) const {
    size_t h;
    std::memcpy(&h, u.data(), sizeof(h));
    return h;
  }
};

// Every index key of a stored statement: (column family, key).
std::vector<std::pair<Cf, std::string>> IndexKeys(const Uuid& id, const StatementRecord& r) {
  std::vector<std::pair<Cf, std::string>> keys;
  for (const std::string& l : r.learners) {
    keys.emplace_back(Cf::kByLearner, EncodeStringIndexKey(l, r.stored_seq, id));
  }
  if (!r.activity.empty()) {
    keys.emplace_back(Cf::kByActivity, EncodeStringIndexKey(r.activity, r.stored_seq, id));
  }
  keys.emplace_back(Cf::kByVerb, EncodeStringIndexKey(r.verb, r.stored_seq, id));
  if (r.Has(RecordFlag::kHasRegistration)) {
    keys.emplace_back(Cf::kByRegistration, EncodeRegistrationIndexKey(r.registration, r.stored_seq, id));
  }
  keys.emplace_back(Cf::kByStored, EncodeStoredKey(r.stored_seq, id));
  return keys;
}

// The prefixes under which a statement's own entries are filed in the
// learner, activity, verb and registration indexes (reference entries of
// statements that refer to it go under the same prefixes).
using Prefixes = std::vector<std::pair<Cf, std::string>>;
Prefixes OwnIndexPrefixes(const StatementRecord& r) {
  Prefixes out;
  for (const std::string& l : r.learners) out.emplace_back(Cf::kByLearner, EncodeStringPrefix(l));
  if (!r.activity.empty()) out.emplace_back(Cf::kByActivity, EncodeStringPrefix(r.activity));
  out.emplace_back(Cf::kByVerb, EncodeStringPrefix(r.verb));
  if (r.Has(RecordFlag::kHasRegistration)) out.emplace_back(Cf::kByRegistration, EncodeRegistrationPrefix(r.registration));
  return out;
}

// The StatementRef target of `r`, read from its JSON. Only statements flagged
// kReferencesStatement have one, so the parse is off the common paths.
std::optional<Uuid> RefTargetOf(const StatementRecord& r) {
  if (!r.Has(RecordFlag::kReferencesStatement)) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(r.json, nullptr, false);
  if (!j.is_object() || !j.contains("object") || !j["object"].is_object()) return std::nullopt;
  const nlohmann::json& id = j["object"]["id"];
  if (!id.is_string()) return std::nullopt;
  absl::StatusOr<Uuid> u = ParseUuid(id.get<std::string>());
  if (!u.ok()) return std::nullopt;
  return *u;
}

using RecordLoader = std::function<absl::StatusOr<std::optional<StatementRecord>>(const Uuid&)>;

// The own-index prefixes of every statement on the StatementRef chain that
// starts at `target` (target, its target, ...; at most kMaxReferenceDepth),
// without duplicates. Missing statements end the chain.
absl::StatusOr<Prefixes> ChainPrefixes(Uuid target, const RecordLoader& load) {
  Prefixes out;
  std::set<std::pair<Cf, std::string>> seen;
  std::set<Uuid> visited;
  for (int depth = 0; depth < kMaxReferenceDepth && visited.insert(target).second; ++depth) {
    LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> rec, load(target));
    if (!rec) break;
    for (auto& p : OwnIndexPrefixes(*rec)) {
      if (seen.insert(p).second) out.push_back(std::move(p));
    }
    std::optional<Uuid> next = RefTargetOf(*rec);
    if (!next) break;
    target = *next;
  }
  return out;
}

// Length of FormatTimestampMicros() output for years 1000-9999.
constexpr size_t kTimestampLen = 27;
constexpr char kStoredMember[] = ",\"stored\":\"";
constexpr char kTimestampMember[] = ",\"timestamp\":\"";

void PatchU64(std::string* s, size_t pos, uint64_t v) {
  for (int i = 0; i < 8; ++i) (*s)[pos + i] = static_cast<char>(v >> (56 - 8 * i));
}

// The smallest and largest key a batch writes or deletes in each column
// family (by column family id).
std::map<uint32_t, std::pair<std::string, std::string>> KeyRangesOf(const rocksdb::WriteBatch& batch) {
  struct Ranges : rocksdb::WriteBatch::Handler {
    std::map<uint32_t, std::pair<std::string, std::string>> out;
    void Add(uint32_t cf, const rocksdb::Slice& key) {
      auto [it, fresh] = out.try_emplace(cf, key.ToString(), key.ToString());
      if (fresh) return;
      if (key.compare(it->second.first) < 0) it->second.first = key.ToString();
      if (key.compare(it->second.second) > 0) it->second.second = key.ToString();
    }
    rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key, const rocksdb::Slice&) override {
      Add(cf, key);
      return rocksdb::Status::OK();
    }
    rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
      Add(cf, key);
      return rocksdb::Status::OK();
    }
    rocksdb::Status SingleDeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
      Add(cf, key);
      return rocksdb::Status::OK();
    }
  } ranges;
  batch.Iterate(&ranges);
  return std::move(ranges.out);
}

}  // namespace

// A statement prepared outside the write lock: its record value is fully
// encoded with placeholders that the group leader patches once it assigns
// the stored sequence (header bytes and the fixed-width "stored" and, when
// absent, "timestamp" strings inside the JSON).
struct RecordStore::Prepared {
  ParsedStatement parsed;
  StatementRecord record;  // without json; stored_seq set by the leader
  std::string value;
  size_t stored_pos = 0;
  size_t timestamp_pos = std::string::npos;
};

struct RecordStore::Writer {
  std::vector<Prepared>* statements = nullptr;
  const std::string* erase_learner = nullptr;
  absl::Status status;
  std::vector<std::string> values;  // encoded records, in request order
  int64_t erased = 0;
  // Log mode: the operation's log sequence and the proposer's clock (0: a
  // local write, timed by options_.now_micros).
  uint64_t log_seq = 0;
  int64_t now_us = 0;
  // An erase: the key range its batch touched in each column family (by id),
  // compacted after the write (PurgeErased).
  std::map<uint32_t, std::pair<std::string, std::string>> erased_ranges;
  bool done = false;
  absl::CondVar cv;
};

RecordStoreRocksConfig MakeRecordStoreRocksConfig(size_t block_cache_bytes) {
  // Options for this workload: small writes that must be durable, point
  // lookups by id, and short range scans over one learner/activity/verb.
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;           // 2-core machines
  db_options.enable_pipelined_write = true;     // WAL and memtable writes overlap
  // One group leader writes at a time (see RecordStore), so concurrent
  // memtable writes buy nothing, and turning them off enables insert hints.
  db_options.allow_concurrent_memtable_write = false;
  db_options.bytes_per_sync = 1 << 20;          // smooth SST write-back
  db_options.max_total_wal_size = 256 << 20;
  db_options.keep_log_file_num = 5;

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

absl::StatusOr<std::unique_ptr<RecordStore>> RecordStore::Open(const std::string& path,
                                                               RecordStoreOptions options) {
  std::unique_ptr<RecordStore> store(new RecordStore());
  if (!options.now_micros) options.now_micros = [] { return absl::ToUnixMicros(absl::Now()); };
  store->options_ = options;

  RecordStoreRocksConfig config = MakeRecordStoreRocksConfig(options.block_cache_bytes);
  if (options.env != nullptr) config.db.env = options.env;
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
  return store;
}

RecordStore::~RecordStore() {
  if (!db_) return;
  rocksdb::FlushOptions fo;
  db_->Flush(fo, handles_);
  for (rocksdb::ColumnFamilyHandle* h : handles_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

uint64_t RecordStore::NextSeq(int64_t now_us) {
  uint64_t now = static_cast<uint64_t>(std::max<int64_t>(0, now_us != 0 ? now_us : options_.now_micros()));
  last_seq_ = std::max(now, last_seq_ + 1);
  if (last_seq_ > max_assigned_seq_.load(std::memory_order_relaxed)) {
    max_assigned_seq_.store(last_seq_, std::memory_order_release);
  }
  return last_seq_;
}

absl::StatusOr<std::vector<StoredStatement>> RecordStore::Record(
    std::vector<ParsedStatement> statements) {
  if (statements.empty()) return std::vector<StoredStatement>{};
  if (options_.log != nullptr) {
    // The proposer decides the authority (and the clock, below), so that
    // every replica applies the same record.
    for (ParsedStatement& p : statements) {
      if (p.authority_json.empty()) {
        p.authority_json = authority_json_;
        p.verified_issuer = false;  // the default authority is never a verified issuer
      }
    }
    return options_.log->ProposeRecord(std::move(statements), options_.now_micros());
  }
  // Everything that does not depend on the stored sequence happens here, in
  // the caller's thread, so concurrent callers prepare in parallel.
  LL_ASSIGN_OR_RETURN(std::vector<Prepared> prepared, Prepare(std::move(statements)));
  Writer w;
  w.statements = &prepared;
  Enqueue(&w);
  if (!w.status.ok()) return w.status;
  return Collect(prepared, w);
}

absl::StatusOr<std::vector<StoredStatement>> RecordStore::Collect(const std::vector<Prepared>& prepared,
                                                                  const Writer& w) const {
  std::vector<StoredStatement> out;
  out.reserve(prepared.size());
  for (size_t i = 0; i < prepared.size(); ++i) {
    LL_ASSIGN_OR_RETURN(StatementRecord r, DecodeStatementRecord(w.values[i]));
    out.push_back({prepared[i].parsed.id, std::move(r)});
  }
  return out;
}

absl::StatusOr<std::vector<RecordStore::Prepared>> RecordStore::Prepare(
    std::vector<ParsedStatement> statements) const {
  std::vector<Prepared> prepared(statements.size());
  for (size_t i = 0; i < statements.size(); ++i) {
    Prepared& x = prepared[i];
    ParsedStatement& p = statements[i];
    StatementRecord& r = x.record;
    r.learners = p.learners;
    r.verb = p.verb;
    r.activity = p.activity;
    if (p.registration) {
      r.registration = *p.registration;
      r.Set(RecordFlag::kHasRegistration, true);
    }
    if (p.is_voiding) r.Set(RecordFlag::kVoiding, true);
    if (p.ref_target) r.Set(RecordFlag::kReferencesStatement, true);
    if (p.verified_issuer && !p.authority_json.empty()) r.Set(RecordFlag::kVerifiedIssuer, true);
    const std::string placeholder(kTimestampLen, '0');
    std::string suffix = absl::StrCat(kStoredMember, placeholder, "\"");
    size_t stored_in_suffix = sizeof(kStoredMember) - 1;
    size_t ts_in_suffix = std::string::npos;
    if (p.timestamp_us) {
      r.timestamp_us = *p.timestamp_us;
    } else {
      r.Set(RecordFlag::kTimestampAssigned, true);
      ts_in_suffix = suffix.size() + sizeof(kTimestampMember) - 1;
      absl::StrAppend(&suffix, kTimestampMember, placeholder, "\"");
    }
    absl::StrAppend(&suffix, ",\"authority\":", p.authority_json.empty() ? authority_json_ : p.authority_json);
    r.json.reserve(p.text.size() + suffix.size());
    r.json.append(p.text, 0, p.body_end);
    r.json.append(suffix);
    r.json.append(p.text, p.body_end, std::string::npos);
    absl::StatusOr<std::string> value = EncodeStatementRecord(r);
    if (!value.ok()) return value.status();
    x.value = std::move(*value);
    size_t json_at = x.value.size() - r.json.size();
    x.stored_pos = json_at + p.body_end + stored_in_suffix;
    if (ts_in_suffix != std::string::npos) x.timestamp_pos = json_at + p.body_end + ts_in_suffix;
    r.json.clear();
    x.parsed = std::move(p);
  }
  return prepared;
}

absl::StatusOr<int64_t> RecordStore::EraseLearner(const std::string& learner) {
  if (options_.log != nullptr) return options_.log->ProposeErase(learner, options_.now_micros());
  Writer w;
  w.erase_learner = &learner;
  Enqueue(&w);
  if (!w.status.ok()) return w.status;
  if (!w.erased_ranges.empty()) LL_RETURN_IF_ERROR(PurgeErased(w.erased_ranges));
  // Models can only hold data of statements: an erasure that found none
  // supersedes no model.
  if (w.erased > 0) LL_RETURN_IF_ERROR(BumpErasureEpoch());
  LL_RETURN_IF_ERROR(AppendErasureLog(learner, w.erased));
  return w.erased;
}

absl::Status RecordStore::AppendErasureLog(const std::string& learner, int64_t erased) {
  std::string v;
  PutU64(&v, static_cast<uint64_t>(std::max<int64_t>(0, erased)));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Put(wo, cf(static_cast<int>(Cf::kMeta)),
                            EncodeErasureLogKey(std::max<int64_t>(0, options_.now_micros()), LearnerDigest(learner)), v),
                   "write erasure log");
}

absl::StatusOr<RecordStore::ErasureEpoch> RecordStore::GetErasureEpoch() const {
  absl::StatusOr<std::string> v = GetMeta(kMetaErasureEpoch);
  if (v.status().code() == absl::StatusCode::kNotFound) return ErasureEpoch{};
  LL_RETURN_IF_ERROR(v.status());
  if (v->size() != 16) return absl::InternalError("corrupt erasure epoch");
  return ErasureEpoch{GetU64(v->data()), static_cast<int64_t>(GetU64(v->data() + 8))};
}

absl::Status RecordStore::BumpErasureEpoch() {
  absl::MutexLock lock(&erasure_mu_);
  LL_ASSIGN_OR_RETURN(ErasureEpoch e, GetErasureEpoch());
  std::string v;
  PutU64(&v, e.epoch + 1);
  PutU64(&v, static_cast<uint64_t>(std::max<int64_t>(0, options_.now_micros())));
  rocksdb::WriteOptions wo;
  wo.sync = true;  // the epoch is what retires models: never lose it
  return FromRocks(db_->Put(wo, cf(static_cast<int>(Cf::kMeta)), kMetaErasureEpoch, v), "write erasure epoch");
}

absl::Status RecordStore::PurgeErased(const std::map<uint32_t, std::pair<std::string, std::string>>& ranges) {
  // 1. Flush every family: the erased values leave the memtables, and every
  //    write-ahead log that still held them becomes obsolete and is deleted
  //    (a log is kept while any family has unflushed data in it).
  LL_RETURN_IF_ERROR(FromRocks(db_->Flush(rocksdb::FlushOptions(), handles_), "erase: flush"));
  // 2. Compact the touched range of each family down to the last level,
  //    rewriting even last-level files, so that the deletions meet the values
  //    they delete and both are dropped. Writers go on meanwhile.
  rocksdb::CompactRangeOptions co;
  co.exclusive_manual_compaction = false;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (const auto& [id, range] : ranges) {
    if (id >= handles_.size()) continue;
    rocksdb::Slice begin(range.first), end(range.second);
    LL_RETURN_IF_ERROR(FromRocks(db_->CompactRange(co, handles_[id], &begin, &end), "erase: compact"));
  }
  // The small meta family whole: the learner's kiosk pass (withdrawn by the
  // service just before) lives there.
  LL_RETURN_IF_ERROR(
      FromRocks(db_->CompactRange(co, cf(static_cast<int>(Cf::kMeta)), nullptr, nullptr), "erase: compact meta"));
  return absl::OkStatus();
}

void RecordStore::Enqueue(Writer* w) {
  absl::MutexLock lock(&write_mu_);
  writers_.push_back(w);
  while (!w->done && writers_.front() != w) w->cv.Wait(&write_mu_);
  if (w->done) return;

  // This writer leads: take the group queued behind it. An erase runs alone.
  std::vector<Writer*> group;
  size_t count = 0;
  for (Writer* x : writers_) {
    if (x->erase_learner != nullptr) {
      if (group.empty()) group.push_back(x);
      break;
    }
    if (!group.empty() && count + x->statements->size() > options_.max_group_statements) break;
    group.push_back(x);
    count += x->statements->size();
  }

  write_mu_.Unlock();
  RunGroup(group);
  write_mu_.Lock();

  for (Writer* x : group) {
    writers_.pop_front();
    x->done = true;
    if (x != w) x->cv.Signal();
  }
  if (!writers_.empty()) writers_.front()->cv.Signal();
}

void RecordStore::RunGroup(const std::vector<Writer*>& group) {
  NotifyChanged(group.front()->erase_learner != nullptr ? ApplyErase(group.front()) : CommitGroup(group));
}

void RecordStore::NotifyChanged(std::vector<std::string> changed) {
  // Watchers learn of the change before any writer of the group is answered.
  if (!changed.empty()) {
    std::function<void(const std::vector<std::string>&)> listener;
    {
      absl::MutexLock lock(&listener_mu_);
      listener = change_listener_;
    }
    if (listener) {
      std::sort(changed.begin(), changed.end());
      changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
      listener(changed);
    }
  }
}

absl::StatusOr<std::optional<StatementRecord>> RecordStore::LoadRecord(const Uuid& id) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kStatements)), IdKey(id), &value);
  if (s.IsNotFound()) return std::optional<StatementRecord>();
  LL_RETURN_IF_ERROR(FromRocks(s, "read statement"));
  LL_ASSIGN_OR_RETURN(StatementRecord r, DecodeStatementRecord(absl::string_view(value.data(), value.size())));
  return std::optional<StatementRecord>(std::move(r));
}

namespace {

// Writes the reference entries a newly stored statement `p` causes (see
// key_codec.h): its own under its target chain's keys, and those of earlier
// statements that refer to it. `referrer_edits` receives updated by_target
// values.
absl::Status FileReferences(const std::vector<rocksdb::ColumnFamilyHandle*>& handles, const ParsedStatement& p, const StatementRecord& record,
                                         const std::function<absl::StatusOr<std::optional<StatementRecord>>(const Uuid&)>& load,
                                         const std::function<absl::StatusOr<std::string>(const Uuid&)>& referrers_of,
                                         std::unordered_map<Uuid, std::string, IdHash>* referrer_edits,
                                         bool may_have_referrers, rocksdb::WriteBatch* batch) {
  Prefixes chain;
  if (p.ref_target) {
    // File the statement under the keys of its target chain, and add it to
    // the target's referrer list (the target may not be stored yet).
    LL_ASSIGN_OR_RETURN(chain, ChainPrefixes(*p.ref_target, load));
    for (const auto& [family, prefix] : chain) {
      batch->Put(handles.at(static_cast<int>(family)), EncodeReferenceIndexKey(prefix, record.stored_seq, p.id),
                 rocksdb::Slice());
    }
    LL_ASSIGN_OR_RETURN(std::string list, referrers_of(*p.ref_target));
    list.append(reinterpret_cast<const char*>(p.id.data()), 16);
    batch->Put(handles.at(static_cast<int>(Cf::kByTarget)), EncodeTargetKey(*p.ref_target), list);
    (*referrer_edits)[*p.ref_target] = std::move(list);
  }
  // Statements stored earlier that refer to this one: file them under this
  // statement's keys and its chain's keys now. (Skipped while the store has
  // never held a StatementRef: then nothing can be waiting.)
  if (!may_have_referrers && !p.ref_target) return absl::OkStatus();
  LL_ASSIGN_OR_RETURN(std::string list, referrers_of(p.id));
  if (list.empty()) return absl::OkStatus();
  LL_ASSIGN_OR_RETURN(std::vector<Uuid> referrers, DecodeReferrers(list));
  Prefixes prefixes = OwnIndexPrefixes(record);
  prefixes.insert(prefixes.end(), chain.begin(), chain.end());
  for (const Uuid& r : referrers) {
    LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> rec, load(r));
    if (!rec) continue;
    for (const auto& [family, prefix] : prefixes) {
      batch->Put(handles.at(static_cast<int>(family)), EncodeReferenceIndexKey(prefix, rec->stored_seq, r), rocksdb::Slice());
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> RecordStore::CommitGroup(const std::vector<Writer*>& group, absl::Status* write_status,
                                                  const std::vector<std::string>* meta_marks) {
  rocksdb::WriteBatch batch;
  std::vector<std::string> changed;  // learners whose records this group changes
  // Encoded records written (or rewritten, for voiding) by this group so far;
  // later statements of the group see them.
  using Overlay = std::unordered_map<Uuid, std::string, IdHash>;
  Overlay pending;
  auto lookup = [&](const Uuid& id, const Overlay& mine) -> absl::StatusOr<std::optional<std::string>> {
    if (auto it = mine.find(id); it != mine.end()) return std::optional<std::string>(it->second);
    if (auto it = pending.find(id); it != pending.end()) return std::optional<std::string>(it->second);
    rocksdb::PinnableSlice value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kStatements)), IdKey(id), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    LL_RETURN_IF_ERROR(FromRocks(s, "read statement"));
    return std::optional<std::string>(value.ToString());
  };
  auto load = [&](const Overlay& mine) -> RecordLoader {
    return [&](const Uuid& id) -> absl::StatusOr<std::optional<StatementRecord>> {
      LL_ASSIGN_OR_RETURN(std::optional<std::string> v, lookup(id, mine));
      if (!v) return std::optional<StatementRecord>();
      absl::StatusOr<StatementRecord> r = DecodeStatementRecord(*v);
      if (!r.ok()) return absl::InternalError(r.status().message());
      return std::optional<StatementRecord>(std::move(*r));
    };
  };
  // Referrer lists ("by_target" values) written by this group so far.
  Overlay pending_referrers;
  auto referrers_of = [&](const Uuid& target, const Overlay& mine) -> absl::StatusOr<std::string> {
    if (auto it = mine.find(target); it != mine.end()) return it->second;
    if (auto it = pending_referrers.find(target); it != pending_referrers.end()) return it->second;
    rocksdb::PinnableSlice value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kByTarget)), EncodeTargetKey(target),
                                 &value);
    if (s.IsNotFound()) return std::string();
    LL_RETURN_IF_ERROR(FromRocks(s, "read referrers"));
    return value.ToString();
  };
  uint64_t fresh_total = 0;

  for (Writer* w : group) {
    batch.SetSavePoint();
    Overlay mine;
    Overlay mine_referrers;
    std::vector<std::string> values;
    std::vector<std::string> changed_mine;
    absl::Status status;
    uint64_t fresh = 0;
    for (Prepared& x : *w->statements) {
      const ParsedStatement& p = x.parsed;
      absl::StatusOr<std::optional<std::string>> existing = lookup(p.id, mine);
      if (!existing.ok()) {
        status = existing.status();
        break;
      }
      if (existing->has_value()) {
        absl::StatusOr<StatementRecord> old = DecodeStatementRecord(**existing);
        if (!old.ok()) {
          status = absl::InternalError(old.status().message());
          break;
        }
        bool drop_ts = old->Has(RecordFlag::kTimestampAssigned) && !p.timestamp_us.has_value();
        if (!SameContent(old->json, p.text, drop_ts)) {
          status = absl::AlreadyExistsError(absl::StrCat(
              "statement.id: ", FormatUuid(p.id), " already exists with different content"));
          break;
        }
        values.push_back(std::move(**existing));
        continue;
      }

      // Assign the stored sequence and patch it into the prepared value.
      uint64_t seq = NextSeq(w->now_us);
      x.record.stored_seq = seq;
      std::string stamp = FormatTimestampMicros(static_cast<int64_t>(seq));
      if (stamp.size() != kTimestampLen) {
        status = absl::InternalError("clock outside years 1000-9999");
        break;
      }
      PatchU64(&x.value, 2, seq);
      std::memcpy(&x.value[x.stored_pos], stamp.data(), kTimestampLen);
      if (x.timestamp_pos != std::string::npos) {
        PatchU64(&x.value, 10, seq);
        x.record.timestamp_us = static_cast<int64_t>(seq);
        std::memcpy(&x.value[x.timestamp_pos], stamp.data(), kTimestampLen);
      }

      if (p.is_voiding) {
        absl::StatusOr<std::optional<std::string>> target = lookup(p.void_target, mine);
        if (!target.ok()) {
          status = target.status();
          break;
        }
        if (target->has_value()) {
          absl::StatusOr<StatementRecord> t = DecodeStatementRecord(**target);
          if (!t.ok()) {
            status = absl::InternalError(t.status().message());
            break;
          }
          if (t->Has(RecordFlag::kVoiding)) {
            status = absl::InvalidArgumentError(absl::StrCat(
                "statement.object.id: ", FormatUuid(p.void_target),
                " is a voiding statement, which cannot be voided"));
            break;
          }
          if (!t->Has(RecordFlag::kVoided)) {
            t->Set(RecordFlag::kVoided, true);
            t->voided_by = p.id;
            absl::StatusOr<std::string> tv = EncodeStatementRecord(*t);
            if (!tv.ok()) {
              status = tv.status();
              break;
            }
            batch.Put(cf(static_cast<int>(Cf::kStatements)), IdKey(p.void_target), *tv);
            for (const std::string& l : t->learners) {  // keep the covering copies in step
              batch.Put(cf(static_cast<int>(Cf::kByLearner)), EncodeStringIndexKey(l, t->stored_seq, p.void_target),
                        *tv);
            }
            mine[p.void_target] = std::move(*tv);
            changed_mine.insert(changed_mine.end(), t->learners.begin(), t->learners.end());
          }
        }
      }

      batch.Put(cf(static_cast<int>(Cf::kStatements)), IdKey(p.id), x.value);
      for (auto& [family, key] : IndexKeys(p.id, x.record)) {
        // The learner index is covering: it holds a copy of the record, so
        // "a learner's latest statements" is one sequential scan.
        batch.Put(cf(static_cast<int>(family)), key,
                  family == Cf::kByLearner ? rocksdb::Slice(x.value) : rocksdb::Slice());
      }
      if (p.ref_target) has_referrers_ = true;
      status = FileReferences(handles_, p, x.record, load(mine), [&](const Uuid& t) { return referrers_of(t, mine_referrers); },
                              &mine_referrers, has_referrers_, &batch);
      if (!status.ok()) break;
      values.push_back(x.value);
      mine[p.id] = x.value;
      changed_mine.insert(changed_mine.end(), x.record.learners.begin(), x.record.learners.end());
      ++fresh;
    }
    if (!status.ok()) {
      batch.RollbackToSavePoint();
      w->status = status;
      continue;
    }
    batch.PopSavePoint();
    for (auto& [id, value] : mine) pending[id] = std::move(value);
    for (auto& [id, value] : mine_referrers) pending_referrers[id] = std::move(value);
    w->values = std::move(values);
    changed.insert(changed.end(), changed_mine.begin(), changed_mine.end());
    fresh_total += fresh;
  }

  // Log mode: the position applied, in the same batch.
  uint64_t log_seq = 0;
  for (Writer* w : group) log_seq = std::max(log_seq, w->log_seq);
  if (log_seq != 0) batch.Put(cf(static_cast<int>(Cf::kMeta)), kMetaAppliedLogSeq, absl::StrCat(log_seq));
  if (meta_marks != nullptr) {
    for (const std::string& key : *meta_marks) batch.Put(cf(static_cast<int>(Cf::kMeta)), key, rocksdb::Slice());
  }
  if (batch.Count() == 0) return {};  // every statement was a replay or failed
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (write_status != nullptr) *write_status = FromRocks(s, "commit statements");
  if (s.ok() && log_seq != 0) applied_log_seq_ = log_seq;
  if (!s.ok()) {
    absl::Status err = FromRocks(s, "commit statements");
    LogError("store_write_failed", {{"error", std::string(err.message())}});
    for (Writer* w : group) {
      if (w->status.ok()) {
        w->status = err;
        w->values.clear();
      }
    }
    return {};
  }
  groups_committed_.fetch_add(1, std::memory_order_relaxed);
  statements_written_.fetch_add(fresh_total, std::memory_order_relaxed);
  return changed;
}

namespace {

// EraseLearner on a statement that other learners share: `learner` leaves
// it. The record (statements family and the remaining learners' covering
// copies) is rewritten without them; their own learner-index entry
// `own_key` is deleted. Other index entries are keyed by id and stay.
absl::Status LeaveSharedStatement(const std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                                  const std::string& learner, const Uuid& id, StatementRecord rec,
                                  const rocksdb::Slice& own_key, rocksdb::WriteBatch* batch) {
  absl::StatusOr<std::string> json = RemoveLearnerFromActor(rec.json, learner);
  if (!json.ok()) {
    return absl::InternalError(absl::StrCat("stored statement ", FormatUuid(id), ": ", json.status().message()));
  }
  rec.json = std::move(*json);
  rec.learners.erase(std::remove(rec.learners.begin(), rec.learners.end(), learner), rec.learners.end());
  LL_ASSIGN_OR_RETURN(std::string value, EncodeStatementRecord(rec));
  batch->Put(handles.at(static_cast<int>(Cf::kStatements)), IdKey(id), value);
  batch->Delete(handles.at(static_cast<int>(Cf::kByLearner)), own_key);
  for (const std::string& l : rec.learners) {
    batch->Put(handles.at(static_cast<int>(Cf::kByLearner)), EncodeStringIndexKey(l, rec.stored_seq, id), value);
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> RecordStore::ApplyErase(Writer* w) {
  const std::string& learner = *w->erase_learner;
  std::vector<std::string> changed = {learner};  // and every other learner of an erased statement
  rocksdb::WriteBatch batch;
  std::string prefix = EncodeStringPrefix(learner);
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(static_cast<int>(Cf::kByLearner))));
  RecordLoader load = [this](const Uuid& id) { return LoadRecord(id); };
  // Referrer lists edited by this erase; a missing value means "deleted".
  std::map<Uuid, std::optional<std::vector<Uuid>>> referrer_edits;
  std::set<Uuid> stored_lists;  // targets that have a list on disk (only those need a delete)
  auto referrers = [&](const Uuid& target) -> absl::StatusOr<std::optional<std::vector<Uuid>>*> {
    auto found = referrer_edits.find(target);
    if (found != referrer_edits.end()) return &found->second;
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kByTarget)), EncodeTargetKey(target),
                                 &value);
    std::vector<Uuid> ids;
    if (!s.IsNotFound()) {
      stored_lists.insert(target);
      LL_RETURN_IF_ERROR(FromRocks(s, "read referrers"));
      LL_ASSIGN_OR_RETURN(ids, DecodeReferrers(value));
    }
    return &(referrer_edits[target] = std::move(ids));
  };
  int64_t erased = 0;
  absl::Status status = [&]() -> absl::Status {
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      absl::StatusOr<IndexEntry> entry =
          DecodeIndexEntry(absl::string_view(it->key().data(), it->key().size()), prefix.size());
      if (!entry.ok()) return absl::InternalError(entry.status().message());
      if (entry->is_reference) {
        // Another statement filed under this learner because it refers to
        // one of theirs: the entry goes, the statement stays.
        batch.Delete(cf(static_cast<int>(Cf::kByLearner)), it->key());
        continue;
      }
      LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> rec, LoadRecord(entry->id));
      if (!rec) {
        // A dangling index entry (should not exist): remove it too.
        batch.Delete(cf(static_cast<int>(Cf::kByLearner)), it->key());
        continue;
      }
      if (rec->learners.size() > 1) {  // shared with other learners: they keep it
        changed.insert(changed.end(), rec->learners.begin(), rec->learners.end());
        LL_RETURN_IF_ERROR(LeaveSharedStatement(handles_, learner, entry->id, std::move(*rec), it->key(), &batch));
        ++erased;
        continue;
      }
      batch.Delete(cf(static_cast<int>(Cf::kStatements)), IdKey(entry->id));
      for (auto& [family, key] : IndexKeys(entry->id, *rec)) batch.Delete(cf(static_cast<int>(family)), key);
      changed.insert(changed.end(), rec->learners.begin(), rec->learners.end());
      // Its own reference entries, and its place in its target's list.
      if (std::optional<Uuid> target = RefTargetOf(*rec)) {
        LL_ASSIGN_OR_RETURN(Prefixes chain, ChainPrefixes(*target, load));
        for (const auto& [family, p] : chain) {
          batch.Delete(cf(static_cast<int>(family)), EncodeReferenceIndexKey(p, rec->stored_seq, entry->id));
        }
        LL_ASSIGN_OR_RETURN(std::optional<std::vector<Uuid>> * list, referrers(*target));
        if (*list) (*list)->erase(std::remove((*list)->begin(), (*list)->end(), entry->id), (*list)->end());
      }
      // Statements that refer to this one lose their entries under its keys.
      LL_ASSIGN_OR_RETURN(std::optional<std::vector<Uuid>> * mine, referrers(entry->id));
      if (*mine) {
        Prefixes own = OwnIndexPrefixes(*rec);
        for (const Uuid& r : **mine) {
          LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> rr, LoadRecord(r));
          if (!rr) continue;
          for (const auto& [family, p] : own) {
            batch.Delete(cf(static_cast<int>(family)), EncodeReferenceIndexKey(p, rr->stored_seq, r));
          }
        }
      }
      *mine = std::nullopt;
      ++erased;
    }
    LL_RETURN_IF_ERROR(FromRocks(it->status(), "scan learner index"));
    for (const auto& [target, list] : referrer_edits) {
      if (!list || list->empty()) {
        if (stored_lists.count(target) != 0) batch.Delete(cf(static_cast<int>(Cf::kByTarget)), EncodeTargetKey(target));
      } else {
        std::string value;
        for (const Uuid& r : *list) value.append(reinterpret_cast<const char*>(r.data()), 16);
        batch.Put(cf(static_cast<int>(Cf::kByTarget)), EncodeTargetKey(target), value);
      }
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    w->status = status;
    return {};
  }
  if (erase_extension_) {
    // The learner's xAPI documents, in the same batch.
    absl::StatusOr<int64_t> documents = erase_extension_(learner, &batch);
    if (!documents.ok()) {
      w->status = documents.status();
      return {};
    }
  }
  if (w->log_seq != 0) {
    // Log mode: the epoch and the applied position go with the erasure.
    absl::StatusOr<ErasureEpoch> e = GetErasureEpoch();
    if (!e.ok()) {
      w->status = e.status();
      return {};
    }
    std::string v;
    PutU64(&v, e->epoch + 1);
    PutU64(&v, static_cast<uint64_t>(std::max<int64_t>(0, w->now_us)));
    batch.Put(cf(static_cast<int>(Cf::kMeta)), kMetaErasureEpoch, v);
    batch.Put(cf(static_cast<int>(Cf::kMeta)), kMetaAppliedLogSeq, absl::StrCat(w->log_seq));
  }
  if (batch.Count() > 0) {
    rocksdb::WriteOptions wo;
    wo.sync = options_.sync;
    rocksdb::Status s = db_->Write(wo, &batch);
    if (!s.ok()) {
      w->status = FromRocks(s, "erase learner");
      return {};
    }
    if (w->log_seq != 0) applied_log_seq_ = w->log_seq;
    // The ranges to compact, so that the erased values leave the files
    // (EraseLearner does it after the write, outside the writer queue).
    w->erased_ranges = KeyRangesOf(batch);
  }
  w->erased = erased;
  LogInfo("learner_erased", {{"statements", erased}});
  return changed;
}

absl::StatusOr<StoredStatement> RecordStore::Get(const Uuid& id) const {
  LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> r, LoadRecord(id));
  if (!r) return absl::NotFoundError(absl::StrCat("statement ", FormatUuid(id), " not found"));
  return StoredStatement{id, std::move(*r)};
}

namespace {

// A canonical description of a query's filters, bound into its page tokens.
std::string FilterFingerprint(const StatementQuery& q) {
  std::string f = absl::StrCat("l=", q.learner.size(), ":", q.learner, ";v=", q.verb.size(), ":", q.verb,
                               ";a=", q.activity.size(), ":", q.activity, ";r=",
                               q.registration ? FormatUuid(*q.registration) : "", ";s=",
                               q.since_us ? absl::StrCat(*q.since_us) : "", ";u=",
                               q.until_us ? absl::StrCat(*q.until_us) : "", ";x=", q.extra_filter_id,
                               q.include_references ? ";refs" : "");
  return f;
}

// Whether `rec` itself satisfies the non-time filters of `q`.
bool MatchesFilters(const StatementRecord& rec, const StatementQuery& q) {
  if (!q.verb.empty() && rec.verb != q.verb) return false;
  if (!q.activity.empty() && rec.activity != q.activity) return false;
  if (q.registration && (!rec.Has(RecordFlag::kHasRegistration) || rec.registration != *q.registration)) {
    return false;
  }
  if (!q.learner.empty() && std::find(rec.learners.begin(), rec.learners.end(), q.learner) == rec.learners.end()) {
    return false;
  }
  return !q.extra_filter || q.extra_filter(rec);
}

}  // namespace

absl::StatusOr<StatementPage> RecordStore::List(const StatementQuery& q) const {
  if (q.page_size < 1 || q.page_size > 1000) {
    return absl::InvalidArgumentError("page_size: must be between 1 and 1000");
  }
  std::string filters = FilterFingerprint(q);
  std::optional<PagePosition> after;
  if (!q.page_token.empty()) {
    LL_ASSIGN_OR_RETURN(PagePosition p, tokens_->Decode(filters, q.ascending, q.page_token));
    after = p;
  }

  // Pick the most selective index; the other filters are checked per record.
  Cf family = Cf::kByStored;
  std::string prefix;
  if (!q.learner.empty()) {
    family = Cf::kByLearner;
    prefix = EncodeStringPrefix(q.learner);
  } else if (q.registration) {
    family = Cf::kByRegistration;
    prefix = EncodeRegistrationPrefix(*q.registration);
  } else if (!q.activity.empty()) {
    family = Cf::kByActivity;
    prefix = EncodeStringPrefix(q.activity);
  } else if (!q.verb.empty()) {
    family = Cf::kByVerb;
    prefix = EncodeStringPrefix(q.verb);
  }

  std::string lower = prefix, upper = prefix;
  PutU64(&lower, q.since_us ? static_cast<uint64_t>(std::max<int64_t>(0, *q.since_us)) + 1 : 0);
  if (q.until_us && *q.until_us < 0) return StatementPage{};
  PutU64(&upper, q.until_us ? static_cast<uint64_t>(*q.until_us) : UINT64_MAX);
  upper.append(17, '\xff');  // id, and the reference marker
  std::string upper_exclusive = upper;
  upper_exclusive.push_back('\0');  // iterate_upper_bound is exclusive

  rocksdb::ReadOptions ro;
  rocksdb::Slice lower_slice(lower), upper_slice(upper_exclusive);
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  if (!prefix.empty()) ro.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(static_cast<int>(family))));

  if (after) {
    std::string key = prefix;
    PutU64(&key, after->seq);
    key.append(reinterpret_cast<const char*>(after->id.data()), 16);
    // Skip the entries of the statement at the position (its own entry and
    // a reference entry may both be there).
    if (q.ascending) {
      it->Seek(key);
      while (it->Valid() && it->key().starts_with(key)) it->Next();
    } else {
      it->SeekForPrev(key);
      while (it->Valid() && it->key().starts_with(key)) it->Prev();
    }
  } else if (q.ascending) {
    it->Seek(lower);
  } else {
    it->SeekForPrev(upper);
  }

  // Bound the work of one page when post-filters reject most entries; the
  // page then comes back short, with a token to continue. Records are read
  // in chunks with MultiGet (one sorted pass over the block cache).
  constexpr int kMaxScanned = 20000;
  StatementPage page;
  int scanned = 0;
  IndexEntry last{};
  bool more = false;
  std::optional<Uuid> previous_id;  // own and reference entries of one statement are adjacent
  struct Candidate {
    IndexEntry entry;
    // The record, decoded straight from the learner index's covering copy
    // while the iterator is on it; unset when it must be read by id.
    std::optional<StatementRecord> covered;
  };
  std::vector<Candidate> chunk;
  auto matches = [&](const StatementRecord& rec) -> absl::StatusOr<bool> {
    if (MatchesFilters(rec, q)) return true;
    if (!q.include_references || !rec.Has(RecordFlag::kReferencesStatement)) return false;
    // xAPI: a statement that refers (through StatementRefs) to a statement
    // matching the filters is returned too.
    std::optional<Uuid> target = RefTargetOf(rec);
    for (int depth = 0; target && depth < kMaxReferenceDepth; ++depth) {
      LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> t, LoadRecord(*target));
      if (!t) return false;
      if (MatchesFilters(*t, q)) return true;
      target = RefTargetOf(*t);
    }
    return false;
  };
  while (true) {
    chunk.clear();
    size_t need = static_cast<size_t>(q.page_size) - page.statements.size();
    for (; it->Valid() && chunk.size() < need && scanned < kMaxScanned;
         q.ascending ? it->Next() : it->Prev()) {
      ++scanned;
      LL_ASSIGN_OR_RETURN(IndexEntry entry,
                          DecodeIndexEntry(absl::string_view(it->key().data(), it->key().size()), prefix.size()));
      last = entry;
      if (entry.is_reference && !q.include_references) continue;
      if (previous_id && *previous_id == entry.id) continue;
      previous_id = entry.id;
      Candidate c{entry, std::nullopt};
      if (family == Cf::kByLearner && !entry.is_reference) {
        LL_ASSIGN_OR_RETURN(c.covered,
                            DecodeStatementRecord(absl::string_view(it->value().data(), it->value().size())));
      }
      chunk.push_back(std::move(c));
    }
    std::vector<std::string> keys;
    for (const Candidate& c : chunk) {
      if (!c.covered) keys.push_back(IdKey(c.entry.id));
    }
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(slices.size());
    std::vector<rocksdb::Status> statuses(slices.size());
    if (!slices.empty()) {
      db_->MultiGet(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kStatements)), slices.size(), slices.data(),
                    values.data(), statuses.data());
    }
    size_t fetched = 0;
    for (Candidate& c : chunk) {
      if (!c.covered) {
        size_t k = fetched++;
        if (statuses[k].IsNotFound()) continue;  // erased between index scan and read
        LL_RETURN_IF_ERROR(FromRocks(statuses[k], "read statement"));
        LL_ASSIGN_OR_RETURN(c.covered, DecodeStatementRecord(absl::string_view(values[k].data(), values[k].size())));
      }
      StatementRecord& rec = *c.covered;
      if (rec.Has(RecordFlag::kVoided)) continue;
      LL_ASSIGN_OR_RETURN(bool ok, matches(rec));
      if (!ok) continue;
      page.statements.push_back({c.entry.id, std::move(rec)});
    }
    if (!it->Valid()) break;
    if (static_cast<int>(page.statements.size()) >= q.page_size || scanned >= kMaxScanned) {
      more = true;
      break;
    }
  }
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "scan index"));
  if (more) {
    PagePosition p;
    p.ascending = q.ascending;
    p.seq = last.seq;
    p.id = last.id;
    page.next_page_token = tokens_->Encode(filters, p);
  }
  return page;
}

absl::Status RecordStore::ForEachOfLearner(
    const std::string& learner, const std::function<bool(const StoredStatement&)>& fn) const {
  std::string prefix = EncodeStringPrefix(learner);
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(static_cast<int>(Cf::kByLearner))));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    LL_ASSIGN_OR_RETURN(IndexEntry pos,
                        DecodeIndexEntry(absl::string_view(it->key().data(), it->key().size()), prefix.size()));
    if (pos.is_reference) continue;  // another learner's statement referring to this one's
    LL_ASSIGN_OR_RETURN(StatementRecord rec,
                        DecodeStatementRecord(absl::string_view(it->value().data(), it->value().size())));
    if (!fn(StoredStatement{pos.id, std::move(rec)})) break;
  }
  return FromRocks(it->status(), "scan learner index");
}

absl::Status RecordStore::ForEachAfter(uint64_t after_seq, int64_t limit,
                                       const std::function<bool(const StoredStatement&)>& fn) const {
  std::string start;
  PutU64(&start, after_seq == UINT64_MAX ? after_seq : after_seq + 1);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kByStored))));
  int64_t n = 0;
  it->Seek(start);
  // Records are read in sorted chunks with MultiGet.
  constexpr size_t kChunk = 256;
  std::vector<IndexPosition> chunk;
  std::vector<std::string> keys;
  while (it->Valid() && (limit <= 0 || n < limit)) {
    chunk.clear();
    keys.clear();
    for (; it->Valid() && chunk.size() < kChunk; it->Next()) {
      LL_ASSIGN_OR_RETURN(IndexPosition pos,
                          DecodeIndexTail(absl::string_view(it->key().data(), it->key().size()), 0));
      if (pos.seq <= after_seq) continue;
      chunk.push_back(pos);
      keys.push_back(IdKey(pos.id));
    }
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(slices.size());
    std::vector<rocksdb::Status> statuses(slices.size());
    db_->MultiGet(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kStatements)), slices.size(), slices.data(),
                  values.data(), statuses.data());
    for (size_t k = 0; k < chunk.size(); ++k) {
      if (limit > 0 && n >= limit) return absl::OkStatus();
      if (statuses[k].IsNotFound()) continue;  // erased meanwhile
      LL_RETURN_IF_ERROR(FromRocks(statuses[k], "read statement"));
      LL_ASSIGN_OR_RETURN(StatementRecord rec,
                          DecodeStatementRecord(absl::string_view(values[k].data(), values[k].size())));
      ++n;
      if (!fn(StoredStatement{chunk[k].id, std::move(rec)})) return absl::OkStatus();
    }
  }
  return FromRocks(it->status(), "scan stored index");
}

absl::StatusOr<int64_t> RecordStore::CountLearnerIndexEntries(const std::string& learner) const {
  std::string prefix = EncodeStringPrefix(learner);
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(static_cast<int>(Cf::kByLearner))));
  int64_t n = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++n;
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "scan learner index"));
  return n;
}

void RecordStore::SetChangeListener(std::function<void(const std::vector<std::string>&)> listener) {
  absl::MutexLock lock(&listener_mu_);
  change_listener_ = std::move(listener);
}

absl::StatusOr<uint64_t> RecordStore::WarmLearnerIndex(const std::atomic<bool>* stop) const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = true;
  ro.readahead_size = 2 << 20;  // sequential pass: read ahead
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(static_cast<int>(Cf::kByLearner))));
  uint64_t bytes = 0, n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    bytes += it->key().size() + it->value().size();
    if ((++n & 4095) == 0 && stop != nullptr && stop->load()) break;
  }
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "warm learner index"));
  return bytes;
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

absl::Status RecordStore::AppendAudit(const AuditEvent& e) {
  if (options_.log != nullptr) {
    // Replicated when this node may write; a follower (which serves reads,
    // and audits them) or a leader cut off from the log keeps the row in
    // its own store instead: an access is never left unaudited.
    absl::Status proposed = options_.log->ProposeAudit(e, options_.now_micros());
    if (proposed.code() != absl::StatusCode::kUnavailable) return proposed;
  }
  std::string key;
  PutU64(&key, static_cast<uint64_t>(e.time_us ? e.time_us : options_.now_micros()));
  PutU64(&key, audit_counter_.fetch_add(1, std::memory_order_relaxed));
  nlohmann::json j = {{"time", FormatTimestampMicros(e.time_us ? e.time_us : options_.now_micros())},
                      {"subject", e.subject},
                      {"role", e.role},
                      {"learner", e.learner},
                      {"operation", e.operation},
                      {"outcome", e.outcome},
                      {"detail", e.detail}};
  rocksdb::WriteOptions wo;
  wo.sync = false;
  return FromRocks(db_->Put(wo, cf(static_cast<int>(Cf::kAudit)), key,
                            j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)),
                   "append audit event");
}

absl::StatusOr<AuditPage> RecordStore::ListAudit(const AuditQuery& q) const {
  if (q.page_size < 1 || q.page_size > 1000) {
    return absl::InvalidArgumentError("page_size: must be between 1 and 1000");
  }
  std::string upper;
  if (!q.page_token.empty()) {
    if (!absl::WebSafeBase64Unescape(q.page_token, &upper) || upper.size() != 16) {
      return absl::InvalidArgumentError("page_token: malformed");
    }
  } else {
    PutU64(&upper, q.until_us ? static_cast<uint64_t>(std::max<int64_t>(0, *q.until_us)) : UINT64_MAX);
    upper.append(8, '\xff');
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kAudit))));
  it->SeekForPrev(upper);
  if (!q.page_token.empty() && it->Valid() && it->key() == rocksdb::Slice(upper)) it->Prev();
  AuditPage page;
  int scanned = 0;
  std::string last;
  for (; it->Valid() && static_cast<int>(page.events.size()) < q.page_size && scanned < 100000; it->Prev()) {
    ++scanned;
    if (it->key().size() != 16) return absl::InternalError("corrupt audit key");
    int64_t t = static_cast<int64_t>(GetU64(it->key().data()));
    if (q.since_us && t <= *q.since_us) break;
    last = it->key().ToString();
    nlohmann::json j = nlohmann::json::parse(it->value().ToString(), nullptr, false);
    if (!j.is_object()) return absl::InternalError("corrupt audit event");
    AuditEvent e;
    e.time_us = t;
    e.subject = j.value("subject", "");
    e.role = j.value("role", "");
    e.learner = j.value("learner", "");
    e.operation = j.value("operation", "");
    e.outcome = j.value("outcome", "");
    e.detail = j.value("detail", "");
    if (!q.learner.empty() && e.learner != q.learner) continue;
    if (!q.subject.empty() && e.subject != q.subject) continue;
    page.events.push_back(std::move(e));
  }
  LL_RETURN_IF_ERROR(FromRocks(it->status(), "scan audit log"));
  bool at_end = !it->Valid() || (q.since_us && it->Valid() && static_cast<int64_t>(GetU64(it->key().data())) <= *q.since_us);
  if (!at_end && !last.empty()) page.next_page_token = absl::WebSafeBase64Escape(last);
  return page;
}

absl::StatusOr<std::string> RecordStore::GetMeta(absl::string_view key) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kMeta)), rocksdb::Slice(key.data(), key.size()), &value);
  LL_RETURN_IF_ERROR(FromRocks(s, "read store metadata"));
  return value;
}

absl::Status RecordStore::WriteMeta(const std::vector<std::pair<std::string, std::optional<std::string>>>& edits) {
  if (options_.log != nullptr) return options_.log->ProposeMeta(edits, options_.now_micros());
  rocksdb::WriteBatch batch;
  for (const auto& [key, value] : edits) {
    if (value) {
      batch.Put(cf(static_cast<int>(Cf::kMeta)), key, *value);
    } else {
      batch.Delete(cf(static_cast<int>(Cf::kMeta)), key);
    }
  }
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

absl::Status RecordStore::CheckLogSeq(uint64_t seq) const {
  uint64_t applied = applied_log_seq_.load();
  if (seq <= applied) {
    return absl::FailedPreconditionError(
        absl::StrCat("log operation ", seq, " is not after the applied position ", applied));
  }
  return absl::OkStatus();
}

absl::Status RecordStore::WriteWithLogSeq(rocksdb::WriteBatch* batch, uint64_t seq) {
  batch->Put(cf(static_cast<int>(Cf::kMeta)), kMetaAppliedLogSeq, absl::StrCat(seq));
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  LL_RETURN_IF_ERROR(FromRocks(db_->Write(wo, batch), "apply log operation"));
  applied_log_seq_ = seq;
  return absl::OkStatus();
}

absl::Status RecordStore::ApplyLoggedRecords(std::vector<LoggedRecord>* ops) {
  if (ops->empty()) return absl::OkStatus();
  uint64_t previous = applied_log_seq_.load();
  for (const LoggedRecord& op : *ops) {
    if (op.seq <= previous) {
      return absl::FailedPreconditionError(
          absl::StrCat("log operation ", op.seq, " is not after the applied position ", previous));
    }
    previous = op.seq;
  }
  std::vector<std::vector<Prepared>> prepared(ops->size());
  std::vector<Writer> writers(ops->size());
  std::vector<Writer*> group;
  for (size_t i = 0; i < ops->size(); ++i) {
    LoggedRecord& op = (*ops)[i];
    // A copy: the operation is applied again when the write fails.
    absl::StatusOr<std::vector<Prepared>> p = Prepare(op.statements);
    writers[i].log_seq = op.seq;
    writers[i].now_us = op.now_us;
    if (!p.ok()) {
      op.result = p.status();  // deterministic: the same on every replica
      continue;
    }
    prepared[i] = std::move(*p);
    writers[i].statements = &prepared[i];
    group.push_back(&writers[i]);
  }
  std::vector<std::string> marks;
  for (const LoggedRecord& op : *ops) marks.insert(marks.end(), op.meta_marks.begin(), op.meta_marks.end());
  if (group.empty()) {
    rocksdb::WriteBatch batch;
    for (const std::string& key : marks) batch.Put(cf(static_cast<int>(Cf::kMeta)), key, rocksdb::Slice());
    return WriteWithLogSeq(&batch, ops->back().seq);
  }
  // The last operation may have failed in Prepare: the group still records
  // the position of the last one.
  group.back()->log_seq = ops->back().seq;
  absl::Status written;
  const uint64_t last_seq = last_seq_;
  const bool has_referrers = has_referrers_;
  std::vector<std::string> changed = CommitGroup(group, &written, &marks);
  if (!written.ok()) {
    // Nothing was written: the retry must assign the same stored sequences.
    last_seq_ = last_seq;
    has_referrers_ = has_referrers;
    return written;
  }
  for (size_t i = 0; i < ops->size(); ++i) {
    if (writers[i].statements == nullptr) continue;
    LoggedRecord& op = (*ops)[i];
    if (!writers[i].status.ok()) {
      op.result = writers[i].status;
    } else {
      op.result = Collect(prepared[i], writers[i]);
    }
  }
  NotifyChanged(std::move(changed));
  return absl::OkStatus();
}

absl::Status RecordStore::ApplyLoggedErase(uint64_t seq, int64_t now_us, const std::string& learner,
                                           absl::StatusOr<int64_t>* result) {
  LL_RETURN_IF_ERROR(CheckLogSeq(seq));
  Writer w;
  w.erase_learner = &learner;
  w.log_seq = seq;
  w.now_us = now_us;
  std::vector<std::string> changed = ApplyErase(&w);
  if (!w.status.ok()) {
    if (w.status.code() == absl::StatusCode::kUnavailable) return w.status;  // storage: nothing written
    // A deterministic failure: the operation's result; the position moves on.
    *result = w.status;
    rocksdb::WriteBatch batch;
    return WriteWithLogSeq(&batch, seq);
  }
  if (applied_log_seq_.load() != seq) {
    // Nothing was written by the erase (cannot happen: the epoch always is).
    rocksdb::WriteBatch batch;
    LL_RETURN_IF_ERROR(WriteWithLogSeq(&batch, seq));
  }
  NotifyChanged(std::move(changed));
  if (!w.erased_ranges.empty()) {
    absl::Status purged = PurgeErased(w.erased_ranges);
    if (!purged.ok()) LogError("erase_purge_failed", {{"error", std::string(purged.message())}});
  }
  *result = w.erased;
  return absl::OkStatus();
}

rocksdb::ColumnFamilyHandle* RecordStore::documents_family() const { return cf(static_cast<int>(Cf::kXapiDocuments)); }

absl::Status RecordStore::ApplyLoggedWrites(uint64_t seq, rocksdb::WriteBatch* batch) {
  LL_RETURN_IF_ERROR(CheckLogSeq(seq));
  return WriteWithLogSeq(batch, seq);
}

absl::Status RecordStore::ApplyLoggedMeta(
    uint64_t seq, const std::vector<std::pair<std::string, std::optional<std::string>>>& edits) {
  LL_RETURN_IF_ERROR(CheckLogSeq(seq));
  rocksdb::WriteBatch batch;
  for (const auto& [key, value] : edits) {
    if (value) {
      batch.Put(cf(static_cast<int>(Cf::kMeta)), key, *value);
    } else {
      batch.Delete(cf(static_cast<int>(Cf::kMeta)), key);
    }
  }
  return WriteWithLogSeq(&batch, seq);
}

absl::Status RecordStore::ApplyLoggedAudit(uint64_t seq, int64_t now_us, const AuditEvent& e) {
  LL_RETURN_IF_ERROR(CheckLogSeq(seq));
  int64_t t = e.time_us ? e.time_us : now_us;
  std::string key;
  PutU64(&key, static_cast<uint64_t>(std::max<int64_t>(0, t)));
  PutU64(&key, (uint64_t{1} << 63) | seq);
  nlohmann::json j = {{"time", FormatTimestampMicros(t)},
                      {"subject", e.subject},
                      {"role", e.role},
                      {"learner", e.learner},
                      {"operation", e.operation},
                      {"outcome", e.outcome},
                      {"detail", e.detail}};
  rocksdb::WriteBatch batch;
  batch.Put(cf(static_cast<int>(Cf::kAudit)), key, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return WriteWithLogSeq(&batch, seq);
}

absl::Status RecordStore::ApplyLoggedRestore(uint64_t seq, const std::vector<std::pair<Uuid, std::string>>& records,
                                             const std::string& delete_prefix,
                                             const std::vector<std::string>& meta_marks) {
  LL_RETURN_IF_ERROR(CheckLogSeq(seq));
  rocksdb::WriteBatch batch;
  std::vector<std::string> changed;
  for (const auto& [id, value] : records) {
    LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> present, LoadRecord(id));
    if (present) continue;
    absl::StatusOr<StatementRecord> rec = DecodeStatementRecord(value);
    if (!rec.ok()) return absl::DataLossError(absl::StrCat("restored statement ", FormatUuid(id), ": ",
                                                           rec.status().message()));
    batch.Put(cf(static_cast<int>(Cf::kStatements)), IdKey(id), value);
    for (auto& [family, key] : IndexKeys(id, *rec)) {
      batch.Put(cf(static_cast<int>(family)), key, family == Cf::kByLearner ? rocksdb::Slice(value) : rocksdb::Slice());
    }
    changed.insert(changed.end(), rec->learners.begin(), rec->learners.end());
  }
  if (!delete_prefix.empty()) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kMeta))));
    for (it->Seek(delete_prefix); it->Valid() && it->key().starts_with(delete_prefix); it->Next()) {
      batch.Delete(cf(static_cast<int>(Cf::kMeta)), it->key());
    }
    LL_RETURN_IF_ERROR(FromRocks(it->status(), "scan store metadata"));
  }
  for (const std::string& key : meta_marks) batch.Put(cf(static_cast<int>(Cf::kMeta)), key, rocksdb::Slice());
  LL_RETURN_IF_ERROR(WriteWithLogSeq(&batch, seq));
  NotifyChanged(std::move(changed));
  return absl::OkStatus();
}

RecordStoreStats RecordStore::stats() const {
  RecordStoreStats s;
  s.statements_written = statements_written_.load(std::memory_order_relaxed);
  s.groups_committed = groups_committed_.load(std::memory_order_relaxed);
  return s;
}

uint64_t RecordStore::ApproximateStatementCount() const {
  uint64_t n = 0;
  db_->GetIntProperty(cf(static_cast<int>(Cf::kStatements)), "rocksdb.estimate-num-keys", &n);
  return n;
}

}  // namespace lifelong::records
