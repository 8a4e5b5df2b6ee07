// RecordStore (record_store.h), the write path: Record() prepares each
// statement in the caller's thread (Prepare: the record value encoded with
// placeholders for the stored sequence), queues a Writer, and the writer at
// the head of the queue commits its group (Enqueue, CommitGroup) in one
// WriteBatch: idempotent replays, voiding, index entries, StatementRef
// reference entries (FileReferences). Change listeners hear of a group
// before any of its writers is answered (NotifyChanged). ApplyErase shares
// the queue (record_store_erase.cc); log mode feeds CommitGroup directly
// (record_store_log_apply.cc).
#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <utility>

#include <rocksdb/write_batch.h>

#include "absl/strings/str_cat.h"
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
using internal::RecordLoader;

namespace {

struct IdHash {
  size_t operator()(const Uuid& u) const {
    size_t h;
    std::memcpy(&h, u.data(), sizeof(h));
    return h;
  }
};

// Length of FormatTimestampMicros() output for years 1000-9999.
constexpr size_t kTimestampLen = 27;
constexpr char kStoredMember[] = ",\"stored\":\"";
constexpr char kTimestampMember[] = ",\"timestamp\":\"";

void PatchU64(std::string* s, size_t pos, uint64_t v) {
  for (int i = 0; i < 8; ++i) (*s)[pos + i] = static_cast<char>(v >> (56 - 8 * i));
}

}  // namespace

uint64_t RecordStore::NextSeq(int64_t now_us) {
  uint64_t now = static_cast<uint64_t>(std::max<int64_t>(0, now_us != 0 ? now_us : options_.now_micros()));
  last_seq_ = std::max(now, last_seq_ + 1);
  if (last_seq_ > max_assigned_seq_.load(std::memory_order_relaxed)) {
    max_assigned_seq_.store(last_seq_, std::memory_order_release);
  }
  return last_seq_;
}

absl::StatusOr<std::vector<StoredStatement>> RecordStore::Record(std::vector<ParsedStatement> statements) {
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

absl::StatusOr<std::vector<RecordStore::Prepared>> RecordStore::Prepare(std::vector<ParsedStatement> statements) const {
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

void RecordStore::SetChangeListener(std::function<void(const std::vector<std::string>&)> listener) {
  absl::MutexLock lock(&listener_mu_);
  change_listener_ = std::move(listener);
}

namespace {

// Writes the reference entries a newly stored statement `p` causes (see
// key_codec.h): its own under its target chain's keys, and those of earlier
// statements that refer to it. `referrer_edits` receives updated by_target
// values.
absl::Status FileReferences(const std::vector<rocksdb::ColumnFamilyHandle*>& handles, const ParsedStatement& p,
                            const StatementRecord& record,
                            const std::function<absl::StatusOr<std::optional<StatementRecord>>(const Uuid&)>& load,
                            const std::function<absl::StatusOr<std::string>(const Uuid&)>& referrers_of,
                            std::unordered_map<Uuid, std::string, IdHash>* referrer_edits, bool may_have_referrers,
                            rocksdb::WriteBatch* batch) {
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
      batch->Put(handles.at(static_cast<int>(family)), EncodeReferenceIndexKey(prefix, rec->stored_seq, r),
                 rocksdb::Slice());
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
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kByTarget)), EncodeTargetKey(target), &value);
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
          status = absl::AlreadyExistsError(
              absl::StrCat("statement.id: ", FormatUuid(p.id), " already exists with different content"));
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
            status = absl::InvalidArgumentError(absl::StrCat("statement.object.id: ", FormatUuid(p.void_target),
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
      status = FileReferences(
          handles_, p, x.record, load(mine), [&](const Uuid& t) { return referrers_of(t, mine_referrers); },
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

}  // namespace lifelong::records
