// RecordStore (record_store.h), the write path: Record() prepares each
// statement in the caller's thread (Prepare: the record value encoded with
// placeholders for the stored sequence), queues a Writer, and the writer at
// the head of the queue leads its group (Enqueue, LeadGroup): builds one
// WriteBatch (BuildInto: idempotent replays, voiding, index entries,
// StatementRef reference entries, FileReferences), hands the queue to the
// next head, writes (WriteBuilt), tells the change listener (NotifyChanged)
// and answers. Build ahead: the next head builds its group while the group
// before it is in RocksDB's Write, reading that group's records (Built) where
// the store does not hold them yet; the write slot's thread (WriteSlotLoop,
// at a raised priority) seals and writes it as soon as that Write returned
// (never when it failed), without waking a thread between two Writes. Change listeners hear of a group before any of
// its writers is answered, and of groups in sequence order. ApplyErase shares the queue and runs alone (LeadErase,
// record_store_erase.cc); log mode feeds CommitGroup directly, one group at a time (record_store_log_apply.cc).
// RecordAsync queues a writer that the committing thread answers (Complete);
// committer threads (CommitLoop) lead the groups whose head is such a writer.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <forward_list>
#include <memory>
#include <thread>
#include <unordered_map>
#include <utility>

#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/write_batch.h>

#include "absl/container/flat_hash_map.h"
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
using internal::RefuseStatement;

using internal::IdHash;

namespace {

// Committer threads (RecordAsync): one builds the next group while another
// writes the group before it and a third answers the one before that.
constexpr int kCommitters = 3;

// Length of FormatTimestampMicros() output for years 1000-9999.
constexpr size_t kTimestampLen = kStoredTimestampLen;
constexpr char kStoredMember[] = ",\"stored\":\"";
constexpr char kTimestampMember[] = ",\"timestamp\":\"";

// This thread's CPU time, in microseconds.
int64_t ThreadCpuMicros() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return int64_t{t.tv_sec} * 1000000 + t.tv_nsec / 1000;
}

// Offsets in an encoded StatementRecord (key_codec.h, layout v1) of the
// fields the leader patches: flags, and the voiding statement's id.
constexpr size_t kRecordFlagsAt = 1;
constexpr size_t kRecordVoidedByAt = 18;

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
  return Collect(&prepared);
}

absl::StatusOr<std::vector<StoredStatement>> RecordStore::Collect(std::vector<Prepared>* prepared) const {
  std::vector<StoredStatement> out;
  out.reserve(prepared->size());
  for (Prepared& x : *prepared) {
    if (x.replay) {
      LL_ASSIGN_OR_RETURN(StatementRecord r, DecodeStatementRecord(x.value));
      out.push_back({x.parsed.id, std::move(r)});
      continue;
    }
    // The record as written: the leader set its stored sequence (and the
    // timestamp it assigned); its JSON is the tail of the encoded value.
    StoredStatement s{x.parsed.id, std::move(x.record)};
    s.record.json = std::move(x.value);
    s.record.json.erase(0, x.json_at);
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<RecordStore::Prepared>> RecordStore::Prepare(std::vector<ParsedStatement> statements) const {
  std::vector<Prepared> prepared(statements.size());
  for (size_t i = 0; i < statements.size(); ++i) {
    Prepared& x = prepared[i];
    ParsedStatement& p = statements[i];
    StatementRecord& r = x.record;
    r.learners = std::move(p.learners);
    r.verb = std::move(p.verb);
    r.activity = std::move(p.activity);
    if (p.registration) {
      r.registration = *p.registration;
      r.Set(RecordFlag::kHasRegistration, true);
    }
    if (p.is_voiding) r.Set(RecordFlag::kVoiding, true);
    if (p.is_voiding && p.voids_in_advance && !p.void_right) r.Set(RecordFlag::kVoidsInAdvance, true);
    if (p.ref_target) r.Set(RecordFlag::kReferencesStatement, true);
    if (p.verified_issuer && !p.authority_json.empty()) r.Set(RecordFlag::kVerifiedIssuer, true);
    if (!p.mentioned.empty()) r.Set(RecordFlag::kNamesOthers, true);
    if (p.timestamp_us) {
      r.timestamp_us = *p.timestamp_us;
    } else {
      r.Set(RecordFlag::kTimestampAssigned, true);
    }
    x.index_keys = IndexKeys(p.id, r, &p.mentioned);  // stored sequence 0 until the leader sets it
    // The stored JSON: the statement's body, then `stored` (and `timestamp`
    // when absent) as fixed-width placeholders the leader patches, and
    // `authority`, spliced in before the closing brace; written straight
    // after the record's header.
    constexpr absl::string_view kAuthorityMember = ",\"authority\":";
    const std::string& authority = p.authority_json.empty() ? authority_json_ : p.authority_json;
    const size_t member_len = sizeof(kStoredMember) - 1 + kTimestampLen + 1;
    const size_t ts_len = p.timestamp_us ? 0 : sizeof(kTimestampMember) - 1 + kTimestampLen + 1;
    const size_t json_size = p.text.size() + member_len + ts_len + kAuthorityMember.size() + authority.size();
    if (absl::Status s = AppendStatementRecordHeader(r, json_size, &x.value); !s.ok()) {
      return RefuseStatement(std::move(s), i);
    }
    x.json_at = x.value.size();
    x.value.append(p.text, 0, p.body_end);
    x.value.append(kStoredMember);
    x.stored_pos = x.value.size();
    x.value.append(kTimestampLen, '0').push_back('"');
    if (!p.timestamp_us) {
      x.value.append(kTimestampMember);
      x.timestamp_pos = x.value.size();
      x.value.append(kTimestampLen, '0').push_back('"');
    }
    x.value.append(kAuthorityMember.data(), kAuthorityMember.size());
    x.value.append(authority);
    x.value.append(p.text, p.body_end, std::string::npos);
    x.parsed = std::move(p);
  }
  return prepared;
}

void RecordStore::RecordAsync(std::vector<ParsedStatement> statements, RecordCallback done) {
  if (statements.empty()) {
    done(std::vector<StoredStatement>{});
    return;
  }
  if (options_.log != nullptr) {
    // The proposal waits for a quorum: on a thread of its own, never the
    // caller's. The destructor waits for these threads' calls to end.
    {
      absl::MutexLock lock(&write_mu_);
      ++log_async_in_flight_;
    }
    std::thread([this, statements = std::move(statements), done = std::move(done)]() mutable {
      {
        RecordCallback answer = std::move(done);  // gone before the destructor may go on
        answer(Record(std::move(statements)));
      }
      absl::MutexLock lock(&write_mu_);
      if (--log_async_in_flight_ == 0) log_async_cv_.SignalAll();
    }).detach();
    return;
  }
  absl::StatusOr<std::vector<Prepared>> prepared = Prepare(std::move(statements));
  if (!prepared.ok()) {
    done(prepared.status());
    return;
  }
  auto* w = new Writer;
  w->owned = std::move(*prepared);
  w->statements = &w->owned;
  w->callback = std::move(done);
  absl::MutexLock lock(&write_mu_);
  if (committers_.empty()) {
    for (int i = 0; i < kCommitters; ++i) committers_.emplace_back([this] { CommitLoop(); });
  }
  writers_.push_back(w);
  if (extend_waiting_) flight_cv_.SignalAll();
  if (writers_.front() == w && !head_led_) committer_cv_.Signal();
}

void RecordStore::CommitLoop() {
  write_mu_.Lock();
  while (true) {
    // Lead when the head is asynchronous and nobody leads it yet; a
    // synchronous head leads itself.
    while (writers_.empty() ? !stop_committer_ : (!writers_.front()->callback || head_led_)) {
      committer_cv_.Wait(&write_mu_);
    }
    if (writers_.empty()) break;  // stopping, and nothing is left to commit
    std::vector<Writer*> answer = LeadGroup(writers_.front());
    write_mu_.Unlock();
    Complete(answer);
    write_mu_.Lock();
  }
  write_mu_.Unlock();
}

void RecordStore::Complete(const std::vector<Writer*>& async_writers) {
  for (Writer* x : async_writers) {
    RecordCallback callback = std::move(x->callback);
    absl::StatusOr<std::vector<StoredStatement>> result =
        x->status.ok() ? Collect(&x->owned) : absl::StatusOr<std::vector<StoredStatement>>(x->status);
    delete x;
    callback(std::move(result));
  }
}

void RecordStore::WakeHead() {
  if (writers_.empty()) {
    // Committers waiting for a led head to leave, while the store closes.
    if (stop_committer_) committer_cv_.SignalAll();
    return;
  }
  if (writers_.front()->callback) {
    committer_cv_.Signal();
  } else {
    writers_.front()->cv.Signal();
  }
}

void RecordStore::Enqueue(Writer* w) {
  std::vector<Writer*> answer;
  {
    absl::MutexLock lock(&write_mu_);
    writers_.push_back(w);
    if (extend_waiting_) flight_cv_.SignalAll();
    while (!w->done && (writers_.front() != w || head_led_)) w->cv.Wait(&write_mu_);
    if (w->done) return;
    answer = LeadGroup(w);
  }
  // The asynchronous writers of the group this thread committed.
  Complete(answer);
}

std::vector<RecordStore::Writer*> RecordStore::TakeWriters(size_t from, size_t count) const {
  std::vector<Writer*> out;
  for (size_t i = from; i < writers_.size(); ++i) {
    Writer* x = writers_[i];
    if (x->erase_learner != nullptr) break;  // an erasure runs alone
    if (count > 0 && count + x->statements->size() > options_.max_group_statements) break;
    out.push_back(x);
    count += x->statements->size();
  }
  return out;
}

namespace {

// The learners a written group changed, sorted and distinct.
std::vector<std::string> ChangedLearners(std::vector<absl::string_view>* changed) {
  std::sort(changed->begin(), changed->end());
  changed->erase(std::unique(changed->begin(), changed->end()), changed->end());
  return std::vector<std::string>(changed->begin(), changed->end());
}

}  // namespace

void RecordStore::LeadErase(Writer* w) {
  // Every group before the erasure is written and answered first (none is
  // built ahead of it: the erasure leads the queue), and none after it is
  // built before it is done.
  if (!flights_.empty() && options_.test_hooks.erase_waiting) {
    write_mu_.Unlock();
    options_.test_hooks.erase_waiting();
    write_mu_.Lock();
  }
  while (!flights_.empty()) flight_cv_.Wait(&write_mu_);
  write_mu_.Unlock();
  NotifyChanged(ApplyErase(w));
  write_mu_.Lock();
  writers_.pop_front();
  w->done = true;
  head_led_ = false;
  WakeHead();
}

std::vector<RecordStore::Writer*> RecordStore::LeadGroup(Writer* w) {
  head_led_ = true;
  if (w->erase_learner != nullptr) {
    LeadErase(w);
    return {};
  }
  // Without build ahead, the group before is written and answered first.
  if (!options_.build_ahead) {
    while (!flights_.empty()) flight_cv_.Wait(&write_mu_);
  }
  // The group whose Write may still be running (at most one: a group leaves
  // the queue only once the one before it is written): this group is built
  // on its records, and written only after it.
  Flight* previous = nullptr;
  if (!flights_.empty() && !flights_.back()->written) {
    previous = flights_.back();
    ++previous->readers;
  }
  auto statements_of = [](const std::vector<Writer*>& writers) {
    size_t n = 0;
    for (const Writer* x : writers) n += x->statements->size();
    return n;
  };
  // This thread owns the flight; flights_ lists it until it is answered.
  auto flight = std::make_unique<Flight>();
  Flight* f = flight.get();
  f->group = TakeWriters(0, 0);
  size_t count = statements_of(f->group);

  write_mu_.Unlock();
  BuildInto(f->group, previous != nullptr ? &previous->built : nullptr, &f->built);
  if (options_.test_hooks.built) options_.test_hooks.built();
  write_mu_.Lock();

  f->previous = previous;
  if (previous == nullptr) {
    // Nothing in flight: this thread writes its group itself.
    SealFlight(f);
    WriteSealedFlight(f);
    flight_cv_.SignalAll();
    // A group built ahead of this one may be waiting for the write slot.
    if (write_slot_waiting_) write_slot_cv_.Signal();
  } else {
    // Until the previous Write returns, writers queued meanwhile join this
    // group (as they would have joined it had it been built after that
    // Write): the batch grows while the write slot is busy anyway. The
    // write slot's thread (WriteSlotLoop) seals and writes the group as
    // soon as that Write returned and this thread is not building more of
    // it (parked): the Writes follow each other without a thread wake-up.
    if (!write_slot_.joinable()) write_slot_ = std::thread([this] { WriteSlotLoop(); });
    write_next_ = f;
    int64_t waited_us = 0;
    while (!f->sealed) {
      std::vector<Writer*> more;
      if (!previous->written) more = TakeWriters(f->group.size(), count);
      if (more.empty()) {
        f->parked = true;
        extend_waiting_ = !previous->written;
        if (previous->written && write_slot_waiting_) write_slot_cv_.Signal();
        const auto wait_start = std::chrono::steady_clock::now();
        flight_cv_.Wait(&write_mu_);
        // Waiting for the write slot ends when the group is sealed.
        const auto wait_end = f->sealed ? f->sealed_at : std::chrono::steady_clock::now();
        waited_us += std::chrono::duration_cast<std::chrono::microseconds>(wait_end - wait_start).count();
        continue;
      }
      f->parked = false;
      extend_waiting_ = false;
      f->group.insert(f->group.end(), more.begin(), more.end());
      count += statements_of(more);
      write_mu_.Unlock();
      BuildInto(more, &previous->built, &f->built);
      if (options_.test_hooks.built) options_.test_hooks.built();
      write_mu_.Lock();
    }
    commit_wait_micros_.fetch_add(waited_us, std::memory_order_relaxed);
    while (!f->written) flight_cv_.Wait(&write_mu_);
  }

  // Listeners hear of groups in sequence order, and of each before any of
  // its writers is answered.
  while (flights_.front() != f) flight_cv_.Wait(&write_mu_);
  if (f->write_status.ok() && !f->built.changed.empty()) {
    write_mu_.Unlock();
    NotifyChanged(ChangedLearners(&f->built.changed));
    write_mu_.Lock();
  }
  // The next group's build may still read this group's records.
  while (f->readers > 0) flight_cv_.Wait(&write_mu_);
  flights_.pop_front();
  flight_cv_.SignalAll();

  std::vector<Writer*> answer;
  for (Writer* x : f->group) {
    x->done = true;
    if (x->callback) {
      answer.push_back(x);
    } else if (x != w) {
      x->cv.Signal();
    }
  }
  return answer;
}

void RecordStore::SealFlight(Flight* f) {
  absl::Status previous_status;
  if (f->previous != nullptr) {
    previous_status = f->previous->write_status;
    --f->previous->readers;  // `previous` may be released from here on
    f->previous = nullptr;
    flight_cv_.SignalAll();
  }
  // Hand the queue to the next head: its group is built while this one is
  // written.
  for (size_t i = 0; i < f->group.size(); ++i) writers_.pop_front();
  flights_.push_back(f);
  if (!previous_status.ok()) {
    // Built on the records of a group that is not stored: not written. (A
    // replay of that group's statement, or a conflict with one, would not
    // be one.)
    for (Writer* x : f->group) x->status = previous_status;
    f->write_status = previous_status;
    f->written = true;
  }
  f->sealed = true;
  f->sealed_at = std::chrono::steady_clock::now();
  f->parked = false;
  extend_waiting_ = false;
  head_led_ = false;
  WakeHead();
}

void RecordStore::WriteSealedFlight(Flight* f) {
  if (f->written) return;  // sealed behind a failed Write: not written
  write_mu_.Unlock();
  absl::Status written = WriteBuilt(f->group, &f->built);
  write_mu_.Lock();
  f->write_status = written;
  f->written = true;
}

void RecordStore::WriteSlotLoop() {
  if (options_.write_slot_nice != 0 &&
      setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.write_slot_nice) != 0) {
    LogWarn("store_write_slot_priority",
            {{"nice", options_.write_slot_nice}, {"error", std::strerror(errno)}, {"effect", "process priority kept"}});
  }
  write_mu_.Lock();
  while (true) {
    // The next group may be written once the one before it was (this thread
    // usually wrote it, just now) and its leader is not adding to it.
    auto ready = [this] { return write_next_ != nullptr && write_next_->parked && write_next_->previous->written; };
    while (!ready() && !stop_write_slot_) {
      write_slot_waiting_ = true;
      write_slot_cv_.Wait(&write_mu_);
    }
    write_slot_waiting_ = false;
    if (!ready()) break;  // stopping (no group is left to write then)
    Flight* f = write_next_;
    write_next_ = nullptr;
    SealFlight(f);
    WriteSealedFlight(f);
    // Wakes f's leader (it notifies and answers), and the next group's.
    flight_cv_.SignalAll();
  }
  write_mu_.Unlock();
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
// statements that refer to it. `referrers` are the sorted, distinct
// referrers of `p` known before its own reference is filed (on disk or
// written by the group; the caller read them once, for voiding in advance
// too): `p` itself is added when it refers to itself. `has_marker(t)`
// whether t's "by_target" marker exists or is being written. `added`
// receives the referrers this statement adds, by target.
absl::Status FileReferences(const std::vector<rocksdb::ColumnFamilyHandle*>& handles, const ParsedStatement& p,
                            const StatementRecord& record,
                            const std::function<absl::StatusOr<std::optional<StatementRecord>>(const Uuid&)>& load,
                            std::vector<Uuid> referrers,
                            const std::function<absl::StatusOr<bool>(const Uuid&)>& has_marker,
                            std::unordered_map<Uuid, std::vector<Uuid>, IdHash>* added, rocksdb::WriteBatch* batch) {
  Prefixes chain;
  if (p.ref_target) {
    // File the statement under the keys of its target chain, and add it to
    // the target's referrers (the target may not be stored yet): one key,
    // and the marker if it is the first.
    LL_ASSIGN_OR_RETURN(chain, ChainPrefixes(*p.ref_target, load));
    for (const auto& [family, prefix] : chain) {
      batch->Put(handles.at(static_cast<int>(family)), EncodeReferenceIndexKey(prefix, record.stored_seq, p.id),
                 rocksdb::Slice());
    }
    rocksdb::ColumnFamilyHandle* by_target = handles.at(static_cast<int>(Cf::kByTarget));
    LL_ASSIGN_OR_RETURN(bool marked, has_marker(*p.ref_target));
    if (!marked) batch->Put(by_target, EncodeTargetKey(*p.ref_target), rocksdb::Slice());
    batch->Put(by_target, EncodeReferrerKey(*p.ref_target, p.id), rocksdb::Slice());
    (*added)[*p.ref_target].push_back(p.id);
    if (*p.ref_target == p.id) {  // its own referrer now, as a fresh read would find
      auto at = std::lower_bound(referrers.begin(), referrers.end(), p.id);
      if (at == referrers.end() || *at != p.id) referrers.insert(at, p.id);
    }
  }
  // Statements stored earlier that refer to this one: file them under this
  // statement's keys and its chain's keys now.
  if (referrers.empty()) return absl::OkStatus();
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
  Built built;
  BuildInto(group, nullptr, &built);
  // Log mode: the position applied, and the replicator's marks, in the same
  // batch.
  uint64_t log_seq = 0;
  for (Writer* w : group) log_seq = std::max(log_seq, w->log_seq);
  if (log_seq != 0) built.batch->Put(cf(static_cast<int>(Cf::kMeta)), kMetaAppliedLogSeq, absl::StrCat(log_seq));
  if (meta_marks != nullptr) {
    for (const std::string& key : *meta_marks) {
      built.batch->Put(cf(static_cast<int>(Cf::kMeta)), key, rocksdb::Slice());
    }
  }
  absl::Status written = WriteBuilt(group, &built);
  if (write_status != nullptr) *write_status = written;
  if (!written.ok()) return {};
  if (log_seq != 0) applied_log_seq_ = log_seq;
  return ChangedLearners(&built.changed);
}

absl::Status RecordStore::WriteBuilt(const std::vector<Writer*>& group, Built* built) {
  if (built->batch->Count() == 0) return absl::OkStatus();  // every statement was a replay or failed
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  absl::Status status = options_.test_hooks.before_write ? options_.test_hooks.before_write() : absl::OkStatus();
  const auto write_start = std::chrono::steady_clock::now();
  if (status.ok()) {
    // RocksDB's split of the Write (WAL and its sync, memtable inserts),
    // timed for this Write only: a few clock reads per group.
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableTimeExceptForMutex);
    rocksdb::PerfContext* perf = rocksdb::get_perf_context();
    perf->Reset();
    status = FromRocks(db_->Write(wo, &*built->batch), "commit statements");
    commit_wal_micros_.fetch_add(perf->write_wal_time / 1000, std::memory_order_relaxed);
    commit_memtable_micros_.fetch_add(perf->write_memtable_time / 1000, std::memory_order_relaxed);
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  }
  commit_write_micros_.fetch_add(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - write_start).count(),
      std::memory_order_relaxed);
  if (!status.ok()) {
    write_failures_.fetch_add(1, std::memory_order_relaxed);
    LogError("store_write_failed", {{"error", std::string(status.message())}});
    for (Writer* w : group) {
      if (w->status.ok()) w->status = status;
    }
    return status;
  }
  groups_committed_.fetch_add(1, std::memory_order_relaxed);
  statements_written_.fetch_add(built->fresh, std::memory_order_relaxed);
  return absl::OkStatus();
}

void RecordStore::BuildInto(const std::vector<Writer*>& writers, const Built* previous, Built* out) {
  const auto build_start = std::chrono::steady_clock::now();
  const int64_t build_cpu_start = ThreadCpuMicros();
  size_t statements = 0;
  for (const Writer* w : writers) statements += w->statements->size();
  if (!out->batch) {
    // Room for every record twice (statements family and the covering
    // learner index) and its index keys, so that the batch is not regrown
    // and copied while it is built.
    size_t batch_bytes = 64;
    for (const Writer* w : writers) {
      for (const Prepared& x : *w->statements) batch_bytes += 2 * x.value.size() + 320;
    }
    out->batch.emplace(batch_bytes);
  }
  rocksdb::WriteBatch& batch = *out->batch;
  // Records written (or rewritten, for voiding) by this group so far, which
  // later statements of the group must see (out->records). A writer that
  // fails takes its entries back out (`undo`).
  auto& pending = out->records;
  pending.reserve(pending.size() + statements);
  struct Undo {
    Uuid id;
    const std::string* previous;  // null: absent before
  };
  std::vector<Undo> undo;
  auto remember = [&](const Uuid& id, const std::string* value) {
    auto [it, inserted] = pending.try_emplace(id, value);
    undo.push_back({id, inserted ? nullptr : it->second});
    it->second = value;
  };
  // The record of `id` in the group whose Write may still be running (null:
  // not there).
  auto in_previous = [&](const Uuid& id) -> const std::string* {
    if (previous == nullptr) return nullptr;
    auto it = previous->records.find(id);
    return it == previous->records.end() ? nullptr : it->second;
  };
  auto lookup = [&](const Uuid& id) -> absl::StatusOr<std::optional<std::string>> {
    if (auto it = pending.find(id); it != pending.end()) return std::optional<std::string>(*it->second);
    if (const std::string* v = in_previous(id)) return std::optional<std::string>(*v);
    rocksdb::PinnableSlice value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kStatements)),
                                 rocksdb::Slice(reinterpret_cast<const char*>(id.data()), id.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    LL_RETURN_IF_ERROR(FromRocks(s, "read statement"));
    return std::optional<std::string>(value.ToString());
  };
  RecordLoader load = [&](const Uuid& id) -> absl::StatusOr<std::optional<StatementRecord>> {
    LL_ASSIGN_OR_RETURN(std::optional<std::string> v, lookup(id));
    if (!v) return std::optional<StatementRecord>();
    absl::StatusOr<StatementRecord> r = DecodeStatementRecord(*v);
    if (!r.ok()) return absl::InternalError(r.status().message());
    return std::optional<StatementRecord>(std::move(*r));
  };
  // The idempotency check reads every statement id of these writers at once
  // (one MultiGet: one pass over the memtables and each file's filter for the
  // sorted ids, instead of a Get each). Only group leaders write the
  // statements family, one group's build at a time (the log applier calls
  // this on the same terms), and what the group before this one writes, its
  // Write perhaps still running, is read from `previous` first; so what the
  // MultiGet reads stays current until this group's own write, and a
  // statement sees the group's earlier ones in `pending` first: an id sent
  // twice in one group, or re-proposed in log mode after its first copy was
  // applied, finds that copy as a Get each would.
  std::vector<rocksdb::Slice> ids;
  ids.reserve(statements);
  for (const Writer* w : writers) {
    for (const Prepared& x : *w->statements) {
      ids.emplace_back(reinterpret_cast<const char*>(x.parsed.id.data()), x.parsed.id.size());
    }
  }
  std::vector<rocksdb::PinnableSlice> stored(ids.size());
  std::vector<rocksdb::Status> stored_status(ids.size());
  if (!ids.empty()) {
    db_->MultiGet(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kStatements)), ids.size(), ids.data(), stored.data(),
                  stored_status.data());
  }
  // The stored copy of the `k`th statement of `writers` (whose id is `id`).
  auto existing_copy = [&](const Uuid& id, size_t k) -> absl::StatusOr<std::optional<std::string>> {
    if (auto it = pending.find(id); it != pending.end()) return std::optional<std::string>(*it->second);
    if (const std::string* v = in_previous(id)) return std::optional<std::string>(*v);
    if (stored_status[k].IsNotFound()) return std::optional<std::string>();
    LL_RETURN_IF_ERROR(FromRocks(stored_status[k], "read statement"));
    return std::optional<std::string>(stored[k].ToString());
  };
  // Referrers added by this group so far (out->referrers), by the writer
  // being built (`mine`), or by the group before: not on disk yet, or just.
  using ReferrerOverlay = std::unordered_map<Uuid, std::vector<Uuid>, IdHash>;
  // (Asked for every fresh statement once the store holds a StatementRef: no
  // allocation here; a missing group before is an empty overlay.)
  static const ReferrerOverlay kNoOverlay;
  auto overlays = [&](const ReferrerOverlay& mine) {
    return std::array<const ReferrerOverlay*, 3>{&mine, &out->referrers,
                                                 previous != nullptr ? &previous->referrers : &kNoOverlay};
  };
  auto has_marker = [&](const Uuid& target, const ReferrerOverlay& mine) -> absl::StatusOr<bool> {
    for (const ReferrerOverlay* o : overlays(mine)) {
      if (o->count(target) != 0) return true;
    }
    rocksdb::PinnableSlice value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf(static_cast<int>(Cf::kByTarget)), EncodeTargetKey(target), &value);
    if (s.IsNotFound()) return false;
    LL_RETURN_IF_ERROR(FromRocks(s, "read referrers"));
    return true;
  };
  auto referrers_of = [&](const Uuid& target, const ReferrerOverlay& mine) -> absl::StatusOr<std::vector<Uuid>> {
    LL_ASSIGN_OR_RETURN(StoredReferrers stored, ReadReferrers(target));
    std::vector<Uuid> all = std::move(stored.listed);
    all.insert(all.end(), stored.keyed.begin(), stored.keyed.end());
    for (const ReferrerOverlay* o : overlays(mine)) {
      if (auto it = o->find(target); it != o->end()) all.insert(all.end(), it->second.begin(), it->second.end());
    }
    std::sort(all.begin(), all.end());  // a group's referrer may be on disk already
    all.erase(std::unique(all.begin(), all.end()), all.end());
    return all;
  };
  // Of a statement's `referrers`, the earliest stored voiding statement that
  // may void in advance, if any.
  auto voided_in_advance = [&](const std::vector<Uuid>& referrers) -> absl::StatusOr<std::optional<Uuid>> {
    std::optional<Uuid> voider;
    uint64_t voider_seq = 0;
    for (const Uuid& r : referrers) {
      LL_ASSIGN_OR_RETURN(std::optional<StatementRecord> rec, load(r));
      if (!rec || !rec->Has(RecordFlag::kVoiding) || !rec->Has(RecordFlag::kVoidsInAdvance)) continue;
      if (!voider || rec->stored_seq < voider_seq) {
        voider = r;
        voider_seq = rec->stored_seq;
      }
    }
    return voider;
  };
  std::vector<absl::string_view>& changed = out->changed;

  size_t first = 0;  // the index (in `writers`) of `w`'s first statement
  for (Writer* w : writers) {
    const size_t base = first;
    first += w->statements->size();
    batch.SetSavePoint();
    undo.clear();
    const size_t changed_before = changed.size();
    ReferrerOverlay mine_referrers;
    absl::Status status;
    uint64_t fresh = 0;
    // `i`: the statement's index in its caller's batch, which a refusal of
    // it names (RefuseStatement).
    for (size_t i = 0; i < w->statements->size(); ++i) {
      Prepared& x = (*w->statements)[i];
      const ParsedStatement& p = x.parsed;
      absl::StatusOr<std::optional<std::string>> existing = existing_copy(p.id, base + i);
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
          status = RefuseStatement(absl::AlreadyExistsError(absl::StrCat("statement.id: ", FormatUuid(p.id),
                                                                         " already exists with different content")),
                                   i);
          break;
        }
        x.value = std::move(**existing);  // returned as stored before
        x.replay = true;
        continue;
      }

      // Assign the stored sequence and patch it into the prepared value.
      uint64_t seq = NextSeq(w->now_us);
      x.record.stored_seq = seq;
      char stamp[kStoredTimestampLen];
      if (!FormatStoredTimestamp(seq, stamp)) {
        status = absl::InternalError("clock outside years 1000-9999");
        break;
      }
      PatchU64(&x.value, 2, seq);
      std::memcpy(&x.value[x.stored_pos], stamp, kTimestampLen);
      if (x.timestamp_pos != std::string::npos) {
        PatchU64(&x.value, 10, seq);
        x.record.timestamp_us = static_cast<int64_t>(seq);
        std::memcpy(&x.value[x.timestamp_pos], stamp, kTimestampLen);
      }

      if (p.is_voiding) {
        absl::StatusOr<std::optional<std::string>> target = lookup(p.void_target);
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
          // The issuer's right, checked again on the target as committed: the
          // front end found no target, or this one (statements are not
          // changed after they are stored, only voided or erased).
          if (p.void_right) {
            status = CheckVoidRight(*p.void_right, t->learners, t->activity, "statement.object.id");
            if (!status.ok()) {
              status = RefuseStatement(std::move(status), i);
              break;
            }
          }
          if (t->Has(RecordFlag::kVoiding)) {
            status = RefuseStatement(
                absl::InvalidArgumentError(absl::StrCat("statement.object.id: ", FormatUuid(p.void_target),
                                                        " is a voiding statement, which cannot be voided")),
                i);
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
            out->owned.push_front(std::move(*tv));
            remember(p.void_target, &out->owned.front());
            for (std::string& l : t->learners) {
              out->owned_learners.push_front(std::move(l));
              changed.push_back(out->owned_learners.front());
            }
          }
        }
      }

      // The statement's referrers before its own reference is filed, read
      // once for voiding in advance and FileReferences (nullopt: not read;
      // only ever asked once the store has held a StatementRef).
      std::optional<std::vector<Uuid>> referrers;
      auto read_referrers = [&]() -> absl::Status {
        if (referrers) return absl::OkStatus();
        absl::StatusOr<std::vector<Uuid>> r = referrers_of(p.id, mine_referrers);
        if (!r.ok()) return r.status();
        referrers = std::move(*r);
        return absl::OkStatus();
      };
      // A voiding statement stored before this one that may void in advance
      // (RecordFlag::kVoidsInAdvance) voids it as it is stored: the earliest
      // such one, as if it had come after. Voiding statements are not voided.
      if (has_referrers_ && !p.is_voiding) {
        status = read_referrers();
        if (!status.ok()) break;
        absl::StatusOr<std::optional<Uuid>> voider = voided_in_advance(*referrers);
        if (!voider.ok()) {
          status = voider.status();
          break;
        }
        if (voider->has_value()) {
          x.record.Set(RecordFlag::kVoided, true);
          x.record.voided_by = **voider;
          x.value[kRecordFlagsAt] = static_cast<char>(x.record.flags);
          std::memcpy(&x.value[kRecordVoidedByAt], x.record.voided_by.data(), x.record.voided_by.size());
        }
      }

      batch.Put(cf(static_cast<int>(Cf::kStatements)),
                rocksdb::Slice(reinterpret_cast<const char*>(p.id.data()), p.id.size()), x.value);
      for (auto& [family, key] : x.index_keys) {
        PatchU64(&key, key.size() - 24, seq);  // = IndexKeys(p.id, x.record)
        // The learner index is covering: it holds a copy of the record, so
        // "a learner's latest statements" is one sequential scan.
        batch.Put(cf(static_cast<int>(family)), key,
                  family == Cf::kByLearner ? rocksdb::Slice(x.value) : rocksdb::Slice());
      }
      if (p.ref_target) has_referrers_ = true;
      // Reference entries: only once the store has held a StatementRef (until
      // then nothing can be waiting for this statement).
      if (p.ref_target || has_referrers_) {
        status = read_referrers();
        if (!status.ok()) break;
        status = FileReferences(
            handles_, p, x.record, load, *std::move(referrers),
            [&](const Uuid& t) { return has_marker(t, mine_referrers); }, &mine_referrers, &batch);
        if (!status.ok()) break;
      }
      remember(p.id, &x.value);
      for (const std::string& l : x.record.learners) changed.push_back(l);
      ++fresh;
    }
    if (!status.ok()) {
      batch.RollbackToSavePoint();
      for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
        if (it->previous == nullptr) {
          pending.erase(it->id);
        } else {
          pending[it->id] = it->previous;
        }
      }
      changed.resize(changed_before);
      w->status = status;
      continue;
    }
    batch.PopSavePoint();
    for (auto& [target, ids] : mine_referrers) {
      std::vector<Uuid>& group_ids = out->referrers[target];
      group_ids.insert(group_ids.end(), ids.begin(), ids.end());
    }
    out->fresh += fresh;
  }

  const int64_t build_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - build_start).count();
  commit_build_micros_.fetch_add(build_us, std::memory_order_relaxed);
  commit_build_cpu_micros_.fetch_add(ThreadCpuMicros() - build_cpu_start, std::memory_order_relaxed);
}

}  // namespace lifelong::records
