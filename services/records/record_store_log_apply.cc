// RecordStore (record_store.h), log mode: applying the operations of the
// replicated log (ApplyLogged*). Each operation must be after the applied
// position (CheckLogSeq), and its effect and the new position are written in
// one WriteBatch (WriteWithLogSeq, or CommitGroup/ApplyErase with the
// Writer's log_seq). A deterministic failure becomes the operation's result
// and the position moves on; a storage failure writes nothing and is
// returned, so the applier retries the same operation.
//
// Each replica also keeps, per learner, the log position of their latest
// erasure, so that a restore built before it cannot bring their statements
// back (ApplyLoggedRestore; docs/replication.md, "Erasure and log
// retention"):
//   "replication/erased_at/" | SHA-256(learner key):32   (LearnerDigest)
//       value = u64 seq of the learner's latest applied erasure
//               | u64 seq of the one before it (0: none; while an erasure
//               is being applied, the one to go back to if it fails)
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <rocksdb/write_batch.h>

#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/rocks_status.h"
#include "services/common/status_macros.h"
#include "services/records/column_families.h"
#include "services/records/key_codec.h"
#include "services/records/record_store.h"
#include "services/records/record_store_internal.h"
#include "services/records/statement.h"

namespace lifelong::records {

using internal::IdKey;
using internal::IndexKeys;

namespace {

constexpr char kMetaErasedAtPrefix[] = "replication/erased_at/";

std::string ErasedAtKey(absl::string_view learner) { return kMetaErasedAtPrefix + LearnerDigest(learner); }

struct ErasedAt {
  uint64_t seq = 0;       // the latest erasure (0: never erased)
  uint64_t previous = 0;  // the one before it
};

std::string EncodeErasedAt(const ErasedAt& e) {
  std::string v;
  PutU64(&v, e.seq);
  PutU64(&v, e.previous);
  return v;
}

absl::StatusOr<ErasedAt> ReadErasedAt(const RecordStore& store, absl::string_view learner) {
  absl::StatusOr<std::string> v = store.GetMeta(ErasedAtKey(learner));
  if (v.status().code() == absl::StatusCode::kNotFound) return ErasedAt{};
  LL_RETURN_IF_ERROR(v.status());
  if (v->size() != 16) return absl::DataLossError("corrupt replication/erased_at value: not 16 bytes");
  return ErasedAt{GetU64(v->data()), GetU64(v->data() + 8)};
}

}  // namespace

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
      op.result = Collect(&prepared[i]);
    }
  }
  NotifyChanged(std::move(changed));
  return absl::OkStatus();
}

absl::Status RecordStore::ApplyLoggedErase(uint64_t seq, int64_t now_us, const std::string& learner,
                                           absl::StatusOr<int64_t>* result) {
  LL_RETURN_IF_ERROR(CheckLogSeq(seq));
  // The learner's erasure position goes first, synced: ApplyErase builds and
  // writes the erasure's batch itself. Until that batch moves the applied
  // position to `seq`, no later operation is applied (a restore reading the
  // position comes after `seq`), and applying `seq` again after a crash
  // writes the same position. A deterministic failure puts the previous one
  // back, with the applied position.
  const std::string mark = ErasedAtKey(learner);
  LL_ASSIGN_OR_RETURN(ErasedAt before, ReadErasedAt(*this, learner));
  const ErasedAt now{seq, before.seq == seq ? before.previous : before.seq};
  {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    LL_RETURN_IF_ERROR(
        FromRocks(db_->Put(wo, cf(static_cast<int>(Cf::kMeta)), mark, EncodeErasedAt(now)), "write erasure position"));
  }
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
    if (now.previous == 0) {
      batch.Delete(cf(static_cast<int>(Cf::kMeta)), mark);
    } else {
      batch.Put(cf(static_cast<int>(Cf::kMeta)), mark, EncodeErasedAt({now.previous, 0}));
    }
    return WriteWithLogSeq(&batch, seq);
  }
  if (applied_log_seq_.load() != seq) {
    // Nothing was written by the erase (cannot happen: the epoch always is).
    rocksdb::WriteBatch batch;
    LL_RETURN_IF_ERROR(WriteWithLogSeq(&batch, seq));
  }
  NotifyChanged(std::move(changed));
  // The erased bytes leave the files on the purge thread (its pending
  // record went with the erasure's batch), not on this one: the log's later
  // operations are not held up meanwhile.
  *result = w.erased;
  return absl::OkStatus();
}

absl::Status RecordStore::ApplyLoggedWrites(uint64_t seq, rocksdb::WriteBatch* batch) {
  LL_RETURN_IF_ERROR(CheckLogSeq(seq));
  return WriteWithLogSeq(batch, seq);
}

absl::Status RecordStore::ApplyLoggedMeta(
    uint64_t seq, const std::vector<std::pair<std::string, std::optional<std::string>>>& edits) {
  LL_RETURN_IF_ERROR(CheckLogSeq(seq));
  rocksdb::WriteBatch batch;
  AddMetaEdits(edits, &batch);
  return WriteWithLogSeq(&batch, seq);
}

absl::Status RecordStore::ApplyLoggedAudit(uint64_t seq, int64_t now_us, const AuditEvent& e) {
  LL_RETURN_IF_ERROR(CheckLogSeq(seq));
  int64_t t = e.time_us ? e.time_us : now_us;
  std::string key;
  PutU64(&key, static_cast<uint64_t>(std::max<int64_t>(0, t)));
  PutU64(&key, (uint64_t{1} << 63) | seq);
  nlohmann::json j = {
      {"time", FormatTimestampMicros(t)}, {"subject", e.subject}, {"role", e.role},    {"learner", e.learner},
      {"operation", e.operation},         {"outcome", e.outcome}, {"detail", e.detail}};
  rocksdb::WriteBatch batch;
  batch.Put(cf(static_cast<int>(Cf::kAudit)), key, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return WriteWithLogSeq(&batch, seq);
}

absl::Status RecordStore::ApplyLoggedRestore(uint64_t seq, uint64_t built_at,
                                             const std::vector<std::pair<Uuid, std::string>>& records,
                                             const std::string& delete_prefix,
                                             const std::vector<std::string>& meta_marks,
                                             std::vector<std::string>* left_out) {
  LL_RETURN_IF_ERROR(CheckLogSeq(seq));
  // Whether a learner was erased after the records were read (between
  // built_at and seq): the leader read them before that erasure, and
  // writing them now would undo it.
  std::map<std::string, bool> erased_since;
  auto erased_after_built = [&](const std::string& learner) -> absl::StatusOr<bool> {
    auto found = erased_since.find(learner);
    if (found != erased_since.end()) return found->second;
    LL_ASSIGN_OR_RETURN(ErasedAt e, ReadErasedAt(*this, learner));
    return erased_since[learner] = e.seq > built_at;
  };
  std::set<std::string> left;
  rocksdb::WriteBatch batch;
  std::vector<std::string> changed;
  for (const auto& [id, value] : records) {
    LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> present, LoadRecord(id));
    if (present) continue;
    absl::StatusOr<StatementRecord> rec = DecodeStatementRecord(value);
    if (!rec.ok())
      return absl::DataLossError(absl::StrCat("restored statement ", FormatUuid(id), ": ", rec.status().message()));
    std::string rewritten;  // the record without learners erased since built_at
    if (built_at != 0) {
      std::vector<std::string> gone;
      for (const std::string& l : rec->learners) {
        LL_ASSIGN_OR_RETURN(bool erased, erased_after_built(l));
        if (erased) gone.push_back(l);
      }
      if (!gone.empty()) {
        left.insert(gone.begin(), gone.end());
        for (const std::string& l : gone) {
          rec->learners.erase(std::remove(rec->learners.begin(), rec->learners.end(), l), rec->learners.end());
        }
        if (rec->learners.empty()) continue;  // theirs alone: it stays erased
        // Shared with others: they keep it, as the erasure left it
        // (RecordStore::ApplyErase, LeaveSharedStatement).
        for (const std::string& l : gone) {
          absl::StatusOr<std::string> json = RemoveLearnerFromActor(rec->json, l);
          if (!json.ok()) {
            return absl::DataLossError(
                absl::StrCat("restored statement ", FormatUuid(id), ": ", json.status().message()));
          }
          rec->json = std::move(*json);
        }
        LL_ASSIGN_OR_RETURN(rewritten, EncodeStatementRecord(*rec));
      }
      // Learners it names elsewhere, erased since: scrubbed as their erasure
      // scrubbed them (ApplyErase, ScrubMentionsOf).
      if (rec->Has(RecordFlag::kNamesOthers)) {
        absl::StatusOr<std::vector<std::string>> mentioned = MentionedLearners(rec->json);
        if (!mentioned.ok()) {
          return absl::DataLossError(
              absl::StrCat("restored statement ", FormatUuid(id), ": ", mentioned.status().message()));
        }
        bool scrubbed = false;
        for (const std::string& l : *mentioned) {
          LL_ASSIGN_OR_RETURN(bool erased, erased_after_built(l));
          if (!erased) continue;
          absl::StatusOr<std::string> json = ScrubLearnerMentions(rec->json, l);
          if (!json.ok()) {
            return absl::DataLossError(
                absl::StrCat("restored statement ", FormatUuid(id), ": ", json.status().message()));
          }
          rec->json = std::move(*json);
          scrubbed = true;
        }
        if (scrubbed) {
          LL_ASSIGN_OR_RETURN(rewritten, EncodeStatementRecord(*rec));
        }
      }
    }
    const std::string& stored = rewritten.empty() ? value : rewritten;
    batch.Put(cf(static_cast<int>(Cf::kStatements)), IdKey(id), stored);
    for (auto& [family, key] : IndexKeys(id, *rec)) {
      batch.Put(cf(static_cast<int>(family)), key,
                family == Cf::kByLearner ? rocksdb::Slice(stored) : rocksdb::Slice());
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
  if (left_out != nullptr) left_out->insert(left_out->end(), left.begin(), left.end());
  return absl::OkStatus();
}

}  // namespace lifelong::records
