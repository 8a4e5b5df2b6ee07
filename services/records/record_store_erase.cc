// RecordStore (record_store.h), erasure: EraseLearner queues an erase
// Writer that runs alone in the write queue (ApplyErase): the learner's
// statements go (with their index and reference entries and their place in
// referrer lists), statements shared with other learners are rewritten
// without them (LeaveSharedStatement), other learners' statements that
// name them elsewhere are scrubbed of those mentions (ScrubMentionsOf, found
// through "by_mention"), all in one WriteBatch, with the
// erasure epoch that retires models and the families to purge
// (kMetaPurgePending). Then the erasure log records the count. The purge
// thread (PurgeLoop) compacts the touched key ranges so that the erased
// values leave the files (PurgeErased), in the background; a purge cut by a
// stop or a crash runs at the next Open, a failed one after
// purge_retry_delay.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include <rocksdb/write_batch.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/common/log.h"
#include "services/common/rocks_status.h"
#include "services/common/status_macros.h"
#include "services/records/column_families.h"
#include "services/records/record_store.h"
#include "services/records/record_store_internal.h"

namespace lifelong::records {

using internal::ChainPrefixes;
using internal::IdKey;
using internal::IndexKeys;
using internal::OwnIndexPrefixes;
using internal::Prefixes;
using internal::PutRecordWithCopies;
using internal::RecordLoader;
using internal::RefTargetOf;

namespace {

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

// EraseLearner on a statement that other learners share: `learner` leaves
// it. The record (statements family and the remaining learners' covering
// copies) is rewritten without them; their own learner-index entry
// `own_key` is deleted. Other index entries are keyed by id and stay.
absl::Status LeaveSharedStatement(const std::vector<rocksdb::ColumnFamilyHandle*>& handles, const std::string& learner,
                                  const Uuid& id, StatementRecord rec, const rocksdb::Slice& own_key,
                                  rocksdb::WriteBatch* batch) {
  absl::StatusOr<std::string> json = RemoveLearnerFromActor(rec.json, learner);
  if (json.ok()) json = ScrubLearnerMentions(*json, learner);  // also named elsewhere in it
  if (!json.ok()) {
    return absl::InternalError(absl::StrCat("stored statement ", FormatUuid(id), ": ", json.status().message()));
  }
  rec.json = std::move(*json);
  rec.learners.erase(std::remove(rec.learners.begin(), rec.learners.end(), learner), rec.learners.end());
  LL_RETURN_IF_ERROR(PutRecordWithCopies(handles, id, rec, batch));
  batch->Delete(handles.at(static_cast<int>(Cf::kByLearner)), own_key);
  return absl::OkStatus();
}

// EraseLearner on a statement of other learners that names `learner`
// outside its actor (a "by_mention" entry): the mentions are replaced by the
// erased placeholder in the record and its learners' covering copies; the
// entry `mention_key` goes. Index entries other than the learners' are keyed
// by id and stay.
absl::Status ScrubMentionsOf(const std::vector<rocksdb::ColumnFamilyHandle*>& handles, const std::string& learner,
                             const Uuid& id, StatementRecord rec, const rocksdb::Slice& mention_key,
                             rocksdb::WriteBatch* batch) {
  absl::StatusOr<std::string> json = ScrubLearnerMentions(rec.json, learner);
  if (!json.ok()) {
    return absl::InternalError(absl::StrCat("stored statement ", FormatUuid(id), ": ", json.status().message()));
  }
  batch->Delete(handles.at(static_cast<int>(Cf::kByMention)), mention_key);
  if (*json == rec.json) return absl::OkStatus();
  rec.json = std::move(*json);
  return PutRecordWithCopies(handles, id, rec, batch);
}

}  // namespace

absl::StatusOr<int64_t> RecordStore::EraseLearner(const std::string& learner, uint64_t* purge_ticket) {
  if (options_.log != nullptr) {
    absl::StatusOr<int64_t> erased = options_.log->ProposeErase(learner, options_.now_micros());
    // Applied before the proposal is answered: its purge is requested (maybe
    // with later ones).
    if (purge_ticket != nullptr) *purge_ticket = PurgeRequests();
    return erased;
  }
  Writer w;
  w.erase_learner = &learner;
  Enqueue(&w);
  if (!w.status.ok()) return w.status;
  if (purge_ticket != nullptr) *purge_ticket = w.purge_ticket;
  // The erasure, its epoch and its pending purge are written (ApplyErase);
  // the purge thread takes it from there.
  LL_RETURN_IF_ERROR(AppendErasureLog(learner, w.erased));
  return w.erased;
}

namespace {

bool GetBytes(absl::string_view* in, std::string* out) {
  if (in->size() < 8) return false;
  const uint64_t n = GetU64(in->data());
  in->remove_prefix(8);
  if (in->size() < n) return false;
  out->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

// A whole column family: both bounds empty (PurgeErased compacts it all).
bool IsWholeFamily(const std::pair<std::string, std::string>& range) {
  return range.first.empty() && range.second.empty();
}

// Widens `into` by `ranges` (per family, the smallest begin and largest end;
// a whole family stays whole).
void MergeRanges(const std::map<uint32_t, std::pair<std::string, std::string>>& ranges,
                 std::map<uint32_t, std::pair<std::string, std::string>>* into) {
  for (const auto& [family, range] : ranges) {
    auto [it, fresh] = into->try_emplace(family, range);
    if (fresh || IsWholeFamily(it->second)) continue;
    if (IsWholeFamily(range)) {
      it->second = range;
      continue;
    }
    if (range.first < it->second.first) it->second.first = range.first;
    if (range.second > it->second.second) it->second.second = range.second;
  }
}

}  // namespace

std::string RecordStore::EncodePendingPurge(const KeyRanges& more, int64_t more_since_us) const {
  KeyRanges all = purge_waiting_;
  MergeRanges(purge_running_, &all);
  MergeRanges(more, &all);
  if (all.empty()) return "";
  int64_t since = PendingSinceLocked();
  if (!more.empty() && (since == 0 || more_since_us < since)) since = more_since_us;
  std::string v = "families=";
  for (const auto& [family, range] : all) absl::StrAppend(&v, v.back() == '=' ? "" : ",", family);
  absl::StrAppend(&v, ";since=", since);
  return v;
}

absl::Status RecordStore::SavePendingPurge() {
  absl::MutexLock io(&purge_io_mu_);
  std::string v;
  {
    absl::MutexLock lock(&purge_mu_);
    v = EncodePendingPurge();
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (v.empty()) {
    return FromRocks(db_->Delete(wo, cf(static_cast<int>(Cf::kMeta)), kMetaPurgePending), "clear pending purge");
  }
  return FromRocks(db_->Put(wo, cf(static_cast<int>(Cf::kMeta)), kMetaPurgePending, v), "write pending purge");
}

int64_t RecordStore::PendingSinceLocked() const {
  int64_t since = 0;
  if (!purge_waiting_.empty()) since = purge_waiting_since_us_;
  if (!purge_running_.empty() && (since == 0 || purge_running_since_us_ < since)) since = purge_running_since_us_;
  return since;
}

RecordStore::KeyRanges RecordStore::LoadPendingPurge(int64_t* since_us) const {
  KeyRanges ranges;
  *since_us = 0;
  absl::StatusOr<std::string> v = GetMeta(kMetaPurgePending);
  if (v.status().code() == absl::StatusCode::kNotFound) return ranges;
  auto every_family = [](absl::string_view why) {
    LogError("erase_purge_pending_unreadable", {{"error", std::string(why)}, {"purging", "every family"}});
    KeyRanges all;
    for (const ColumnFamilySpec& f : kColumnFamilies) all[static_cast<uint32_t>(f.id)] = {"", ""};
    return all;
  };
  if (!v.ok()) return every_family(v.status().message());
  absl::string_view in = *v;
  if (absl::ConsumePrefix(&in, "families=")) {
    std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(in, absl::MaxSplits(';', 1));
    for (absl::string_view id : absl::StrSplit(parts.first, ',', absl::SkipEmpty())) {
      uint32_t family = 0;
      if (!absl::SimpleAtoi(id, &family)) return every_family("corrupt pending purge");
      ranges[family] = {"", ""};
    }
    absl::string_view since = parts.second;
    if (absl::ConsumePrefix(&since, "since=") && !absl::SimpleAtoi(since, since_us)) *since_us = 0;
    return ranges;
  }
  // The format before 2026-12-05: key ranges; their families are purged whole.
  while (!in.empty()) {
    std::string begin, end;
    if (in.size() < 8) return every_family("corrupt pending purge");
    const uint64_t family = GetU64(in.data());
    in.remove_prefix(8);
    if (!GetBytes(&in, &begin) || !GetBytes(&in, &end)) return every_family("corrupt pending purge");
    ranges[static_cast<uint32_t>(family)] = {"", ""};
  }
  return ranges;
}

void RecordStore::ResumePendingPurge() {
  int64_t since = 0;
  KeyRanges pending = LoadPendingPurge(&since);
  if (pending.empty()) return;
  absl::MutexLock lock(&purge_mu_);
  MergeRanges(pending, &purge_waiting_);
  purge_waiting_since_us_ = since > 0 ? since : std::max<int64_t>(1, options_.now_micros());
  RequestPurgeLocked();
}

void RecordStore::RequestPurgeLocked() {
  ++purge_requested_;
  if (stop_purge_) return;  // kept in kMetaPurgePending for the next Open
  if (!purge_thread_.joinable()) purge_thread_ = std::thread([this] { PurgeLoop(); });
  purge_cv_.SignalAll();
}

void RecordStore::PurgeLoop() {
  absl::MutexLock lock(&purge_mu_);
  absl::Time retry_at = absl::InfinitePast();
  while (true) {
    // Waits for waiting ranges; after a failure, for the retry time unless
    // a new erasure came since.
    while (!stop_purge_ && (purge_waiting_.empty() || (purge_requested_ == purge_failed_ && absl::Now() < retry_at))) {
      if (purge_waiting_.empty()) {
        purge_cv_.Wait(&purge_mu_);
      } else {
        purge_cv_.WaitWithDeadline(&purge_mu_, retry_at);
      }
    }
    if (stop_purge_) return;
    const uint64_t taken = purge_requested_;
    purge_running_ = std::move(purge_waiting_);
    purge_running_since_us_ = purge_waiting_since_us_;
    purge_waiting_.clear();
    purge_waiting_since_us_ = 0;
    absl::Status purged;
    {
      KeyRanges running = purge_running_;
      purge_mu_.Unlock();
      purged = PurgeErased(running);
      purge_mu_.Lock();
    }
    if (purged.ok()) {
      purge_running_.clear();
      ++purges_completed_;
      purge_last_error_.clear();
      // The record shrinks to what waits (a synced write: not under purge_mu_).
      purge_mu_.Unlock();
      absl::Status saved = SavePendingPurge();
      purge_mu_.Lock();
      if (!saved.ok()) LogError("erase_purge_save_failed", {{"error", std::string(saved.message())}});
      // Done once its record is saved too: WaitForPurge returns after it.
      purge_done_ = taken;
      retry_at = absl::InfinitePast();
    } else {
      // Kept (still in kMetaPurgePending): tried again after the delay, or
      // at the next Open when the store is closing.
      MergeRanges(purge_running_, &purge_waiting_);
      purge_running_.clear();
      if (purge_waiting_since_us_ == 0 || purge_running_since_us_ < purge_waiting_since_us_) {
        purge_waiting_since_us_ = purge_running_since_us_;
      }
      purge_failed_ = taken;
      if (!stop_purge_) {
        ++purge_failures_;
        purge_last_error_ = std::string(purged.message());
        LogError("erase_purge_failed",
                 {{"error", purge_last_error_}, {"retry_in_s", absl::ToInt64Seconds(options_.purge_retry_delay)}});
      }
      retry_at = absl::Now() + options_.purge_retry_delay;
    }
    purge_cv_.SignalAll();
  }
}

uint64_t RecordStore::PurgeRequests() const {
  absl::MutexLock lock(&purge_mu_);
  return purge_requested_;
}

absl::Status RecordStore::WaitForPurge(absl::Time deadline, uint64_t through) {
  absl::MutexLock lock(&purge_mu_);
  const uint64_t target = through == 0 ? purge_requested_ : std::min(through, purge_requested_);
  // An attempt covers `target` once it took at least that many requests.
  while (purge_done_ < target && purge_failed_ < target && !stop_purge_) {
    if (purge_cv_.WaitWithDeadline(&purge_mu_, deadline) && purge_done_ < target && purge_failed_ < target) {
      return absl::DeadlineExceededError("the erased statements are not purged from the store's files yet");
    }
  }
  if (purge_done_ >= target) return absl::OkStatus();
  if (stop_purge_) return absl::UnavailableError("the record store is closing; the purge resumes at its next start");
  return absl::UnavailableError(absl::StrCat("purging the erased statements from the store's files failed (",
                                             purge_last_error_,
                                             "); they are gone from every read, and the purge is tried again in ",
                                             absl::FormatDuration(options_.purge_retry_delay)));
}

RecordStore::PurgeStatus RecordStore::GetPurgeStatus() const {
  absl::MutexLock lock(&purge_mu_);
  PurgeStatus s;
  s.pending = !purge_waiting_.empty() || !purge_running_.empty();
  s.pending_since_us = PendingSinceLocked();
  s.completed = purges_completed_;
  s.failed = purge_failures_;
  s.last_error = purge_last_error_;
  return s;
}

absl::Status RecordStore::AppendErasureLog(const std::string& learner, int64_t erased) {
  std::string v;
  PutU64(&v, static_cast<uint64_t>(std::max<int64_t>(0, erased)));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(
      db_->Put(wo, cf(static_cast<int>(Cf::kMeta)),
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

absl::Status RecordStore::PurgeErased(const std::map<uint32_t, std::pair<std::string, std::string>>& ranges) {
  if (options_.test_hooks.before_purge) LL_RETURN_IF_ERROR(options_.test_hooks.before_purge());
  // 1. Flush every family: the erased values leave the memtables, and every
  //    write-ahead log that still held them becomes obsolete and is deleted
  //    (a log is kept while any family has unflushed data in it).
  LL_RETURN_IF_ERROR(FromRocks(db_->Flush(rocksdb::FlushOptions(), handles_), "erase: flush"));
  // 2. Compact the touched range of each family down to the last level,
  //    rewriting even last-level files, so that the deletions meet the values
  //    they delete and both are dropped. Writers go on meanwhile.
  rocksdb::CompactRangeOptions co;
  co.exclusive_manual_compaction = false;
  co.canceled = &purge_canceled_;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (const auto& [id, range] : ranges) {
    if (id >= handles_.size() || id == static_cast<uint32_t>(Cf::kMeta)) continue;  // meta: whole, below
    rocksdb::Slice begin(range.first), end(range.second);
    const bool whole = IsWholeFamily(range);
    LL_RETURN_IF_ERROR(FromRocks(db_->CompactRange(co, handles_[id], whole ? nullptr : &begin, whole ? nullptr : &end),
                                 "erase: compact"));
  }
  // The small meta family whole: the learner's kiosk pass (withdrawn by the
  // service just before) lives there.
  LL_RETURN_IF_ERROR(
      FromRocks(db_->CompactRange(co, cf(static_cast<int>(Cf::kMeta)), nullptr, nullptr), "erase: compact meta"));
  return absl::OkStatus();
}

std::vector<std::string> RecordStore::ApplyErase(Writer* w) {
  const std::string& learner = *w->erase_learner;
  std::vector<std::string> changed = {learner};  // and every other learner of an erased statement
  rocksdb::WriteBatch batch;
  std::string prefix = EncodeStringPrefix(learner);
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(static_cast<int>(Cf::kByLearner))));
  RecordLoader load = [this](const Uuid& id) { return LoadRecord(id); };
  // Referrers of the targets this erase touches (key_codec.h "by_target"),
  // read once and edited in memory; the marker is settled at the end.
  struct Referrers {
    bool marker = false;       // on disk
    std::vector<Uuid> listed;  // the marker's schema-1 list, as edited
    bool listed_changed = false;
    std::vector<Uuid> keyed;  // per-referrer keys, as edited
    bool gone = false;        // the target was erased: all of it deleted
  };
  std::map<Uuid, Referrers> referrer_edits;
  auto referrers = [&](const Uuid& target) -> absl::StatusOr<Referrers*> {
    auto found = referrer_edits.find(target);
    if (found != referrer_edits.end()) return &found->second;
    LL_ASSIGN_OR_RETURN(StoredReferrers stored, ReadReferrers(target));
    Referrers r;
    r.marker = stored.marker;
    r.listed = std::move(stored.listed);
    r.keyed = std::move(stored.keyed);
    return &(referrer_edits[target] = std::move(r));
  };
  int64_t erased = 0;
  int64_t scrubbed = 0;
  std::set<Uuid> handled;  // statements of the learner this erasure deletes or leaves
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
      handled.insert(entry->id);
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
        LL_ASSIGN_OR_RETURN(Referrers * list, referrers(*target));
        batch.Delete(cf(static_cast<int>(Cf::kByTarget)), EncodeReferrerKey(*target, entry->id));
        if (!list->gone) {
          auto in_list = std::remove(list->listed.begin(), list->listed.end(), entry->id);
          list->listed_changed |= in_list != list->listed.end();
          list->listed.erase(in_list, list->listed.end());
          list->keyed.erase(std::remove(list->keyed.begin(), list->keyed.end(), entry->id), list->keyed.end());
        }
      }
      // Statements that refer to this one lose their entries under its keys,
      // and it loses its referrers.
      LL_ASSIGN_OR_RETURN(Referrers * mine, referrers(entry->id));
      if (!mine->gone) {
        Prefixes own = OwnIndexPrefixes(*rec);
        for (const std::vector<Uuid>* ids : {&mine->listed, &mine->keyed}) {
          for (const Uuid& r : *ids) {
            LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> rr, LoadRecord(r));
            if (!rr) continue;
            for (const auto& [family, p] : own) {
              batch.Delete(cf(static_cast<int>(family)), EncodeReferenceIndexKey(p, rr->stored_seq, r));
            }
          }
        }
        for (const Uuid& r : mine->keyed) {
          batch.Delete(cf(static_cast<int>(Cf::kByTarget)), EncodeReferrerKey(entry->id, r));
        }
        mine->gone = true;
      }
      ++erased;
    }
    LL_RETURN_IF_ERROR(FromRocks(it->status(), "scan learner index"));
    // Other learners' statements that name this one outside their actor:
    // the mentions are scrubbed, the statements stay (key_codec.h
    // "by_mention"). A statement handled above was deleted or rewritten
    // without the learner already; only its entry goes.
    std::unique_ptr<rocksdb::Iterator> mentions(db_->NewIterator(ro, cf(static_cast<int>(Cf::kByMention))));
    for (mentions->Seek(prefix); mentions->Valid() && mentions->key().starts_with(prefix); mentions->Next()) {
      absl::StatusOr<IndexPosition> at =
          DecodeIndexTail(absl::string_view(mentions->key().data(), mentions->key().size()), prefix.size());
      if (!at.ok()) return absl::InternalError(at.status().message());
      if (handled.count(at->id) > 0) {
        batch.Delete(cf(static_cast<int>(Cf::kByMention)), mentions->key());
        continue;
      }
      LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> rec, LoadRecord(at->id));
      if (!rec) {  // dangling (should not exist): removed too
        batch.Delete(cf(static_cast<int>(Cf::kByMention)), mentions->key());
        continue;
      }
      changed.insert(changed.end(), rec->learners.begin(), rec->learners.end());
      LL_RETURN_IF_ERROR(ScrubMentionsOf(handles_, learner, at->id, std::move(*rec), mentions->key(), &batch));
      ++scrubbed;
    }
    LL_RETURN_IF_ERROR(FromRocks(mentions->status(), "scan mention index"));
    // A marker goes with its last referrer; a schema-1 list that lost some
    // is rewritten.
    for (const auto& [target, r] : referrer_edits) {
      if (!r.marker) continue;
      if (r.gone || (r.listed.empty() && r.keyed.empty())) {
        batch.Delete(cf(static_cast<int>(Cf::kByTarget)), EncodeTargetKey(target));
      } else if (r.listed_changed) {
        std::string value;
        for (const Uuid& id : r.listed) value.append(reinterpret_cast<const char*>(id.data()), 16);
        batch.Put(cf(static_cast<int>(Cf::kByTarget)), EncodeTargetKey(target), value);
      }
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    w->status = status;
    return {};
  }
  // Held until the batch is written (when this returns): the extension's
  // writes read, then write, and one of them must not straddle the erasure.
  std::unique_ptr<absl::MutexLock> extension_lock;
  if (erase_extension_) {
    if (erase_extension_mu_ != nullptr) extension_lock = std::make_unique<absl::MutexLock>(erase_extension_mu_);
    // The learner's xAPI documents, in the same batch.
    absl::StatusOr<int64_t> documents = erase_extension_(learner, &batch);
    if (!documents.ok()) {
      w->status = documents.status();
      return {};
    }
  }
  // The epoch that retires models goes with the erasure, in its batch, so
  // that no failure after the write leaves the models of an erased learner
  // current. Log mode: always (with the applied position), as every replica
  // applies the same; here only when statements were erased or scrubbed
  // (models hold data of statements only: an erasure that found none
  // supersedes none).
  if (w->log_seq != 0 || erased > 0 || scrubbed > 0) {
    absl::StatusOr<ErasureEpoch> e = GetErasureEpoch();
    if (!e.ok()) {
      w->status = e.status();
      return {};
    }
    std::string v;
    PutU64(&v, e->epoch + 1);
    PutU64(&v, static_cast<uint64_t>(std::max<int64_t>(0, w->now_us != 0 ? w->now_us : options_.now_micros())));
    batch.Put(cf(static_cast<int>(Cf::kMeta)), kMetaErasureEpoch, v);
  }
  if (w->log_seq != 0) batch.Put(cf(static_cast<int>(Cf::kMeta)), kMetaAppliedLogSeq, absl::StrCat(w->log_seq));
  // The ranges to purge, so that the erased values leave the files: every
  // key this batch deletes or rewrites, and the meta family whole (the
  // learner's kiosk pass and card, erased by the service just before, live
  // there even when no statement was erased). Handed to the purge thread in
  // this batch (kMetaPurgePending), so that no crash after the erasure
  // leaves it unpurged. purge_io_mu_ orders the writes of that key (this
  // batch, the purge thread's saves) without holding purge_mu_ across them;
  // the waiting ranges grow only once the batch is written.
  KeyRanges ranges = KeyRangesOf(batch);
  ranges[static_cast<uint32_t>(Cf::kMeta)] = {"", ""};
  {
    absl::MutexLock io(&purge_io_mu_);
    const int64_t now = std::max<int64_t>(1, options_.now_micros());
    {
      absl::MutexLock lock(&purge_mu_);
      batch.Put(cf(static_cast<int>(Cf::kMeta)), kMetaPurgePending, EncodePendingPurge(ranges, now));
    }
    rocksdb::WriteOptions wo;
    wo.sync = options_.sync;
    rocksdb::Status s = db_->Write(wo, &batch);
    if (!s.ok()) {
      w->status = FromRocks(s, "erase learner");
      return {};
    }
    if (w->log_seq != 0) applied_log_seq_ = w->log_seq;
    absl::MutexLock lock(&purge_mu_);
    MergeRanges(ranges, &purge_waiting_);
    if (purge_waiting_since_us_ == 0) purge_waiting_since_us_ = now;
    RequestPurgeLocked();
    w->purge_ticket = purge_requested_;
  }
  w->erased = erased;
  LogInfo("learner_erased", {{"statements", erased}, {"mentions_scrubbed", scrubbed}});
  return changed;
}

}  // namespace lifelong::records
