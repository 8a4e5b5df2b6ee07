// RecordStore: the durable store of xAPI statements and their indexes, on
// RocksDB (layouts in key_codec.h, column families in column_families.h).
//
// Writes go through one group-commit queue (leveldb's writer queue): the
// writer at the head of the queue becomes the leader, takes the writes queued
// behind it, assigns stored sequences in commit order, checks idempotency and
// voiding against the store, and commits the whole group in one synced
// WriteBatch. Every write is therefore in the WAL and fsynced before Record()
// returns, concurrent writers share one fsync, and a statement is never
// visible without all of its index entries. Because sequences are assigned in
// commit order, a cursor over stored order never misses a statement that
// becomes visible later.
//
// Build ahead: once a leader's batch is built and its RocksDB Write starts,
// the next head leads: it builds the next group (reading the group in
// flight's records where the store does not hold them yet) while that Write
// runs, takes in writers arriving meanwhile, and writes as soon as the Write
// before it returns. At most one group is built ahead; RocksDB Writes are
// one at a time, in sequence order; change listeners hear of groups in that
// order. When a Write fails, the group built ahead of it is not written (its
// writers get the same error). An erasure waits until every group before it
// is written and answered, and runs alone. Log mode's apply is one group at
// a time.
//
// Thread-safety: all methods are safe to call concurrently.
#ifndef LIFELONG_SERVICES_RECORDS_RECORD_STORE_H_
#define LIFELONG_SERVICES_RECORDS_RECORD_STORE_H_

#include <rocksdb/db.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/records/key_codec.h"
#include "services/records/page_token.h"
#include "services/records/statement.h"

namespace lifelong::records {

struct AuditEvent;
class OpLog;

struct RecordStoreOptions {
  // Shared LRU block cache for all column families (uncompressed blocks; the
  // covering learner index is what "a learner's latest statements" reads).
  size_t block_cache_bytes = size_t{1} << 30;
  // Largest number of statements committed in one group.
  size_t max_group_statements = 8192;
  // fsync the WAL before acknowledging (tests of throughput may turn it off;
  // servers never do).
  bool sync = true;
  // The `authority` set on a stored statement (an xAPI Agent) whose
  // ParsedStatement::authority_json (its issuer, issuer.h) is empty.
  std::string authority_json =
      R"({"objectType":"Agent","account":{"homePage":"https://id.dongcheng.gov.cn","name":"lifelong-records"}})";
  // Clock, microseconds since the Unix epoch (injectable for tests).
  std::function<int64_t()> now_micros;
  // RocksDB environment (file system); null: the default. Not owned; must
  // outlive the store. The power-loss test injects one that drops unsynced
  // writes at a simulated crash (tests/crash/power_loss_fs.h).
  rocksdb::Env* env = nullptr;
  // Log mode (issue #15, replication/replicator.h): when set, every mutating
  // call (Record, EraseLearner, WriteMeta, AppendAudit) is handed to the log
  // as one operation and returns what applying it gave; the log applies
  // operations in log order through the Apply* methods below. Not owned;
  // must outlive the store. Null: the single-node store.
  OpLog* log = nullptr;
  // Before a one-way schema upgrade of an existing store (Open), a checkpoint
  // of it as it was, at "<path>.before-schema-<kSchemaVersion>", that the
  // previous release opens (docs/records.md, "Schema version"); Open fails
  // without changing the store when it cannot be made. false: none.
  bool checkpoint_before_upgrade = true;
  // Build ahead (record_store_write.cc): while one group of statements is in
  // RocksDB's Write, the next group's leader already builds its group (id
  // check, stored sequences, WriteBatch); RocksDB Writes stay one at a time,
  // in the order the sequences were assigned. false: one group at a time,
  // built and written (as before 2026-12-03; kept for comparisons).
  bool build_ahead = true;
  // Build ahead: the nice value of the write slot's thread, which writes the
  // groups built ahead one after the other (0: the process's own). The one
  // RocksDB Write in flight is the store's serial resource; under CPU
  // contention its memtable inserts otherwise wait for a core behind the
  // request threads validating later batches. Lowering a nice value needs
  // CAP_SYS_NICE (or RLIMIT_NICE); without it the thread keeps the process's
  // priority (logged once, "store_write_slot_priority").
  int write_slot_nice = -5;
  // The work of one List page when post-filters reject most entries: index
  // entries examined, and reference entries passed over (a query without
  // include_references), each counted apart; the page then comes back short,
  // with a token to continue. Tests lower them to reach them quickly.
  int max_scanned_per_page = 20000;
  int max_skipped_references_per_page = 1000000;
  // Tests only: observe and fail steps of the write queue (record_store_write.cc).
  struct WriteHooks {
    // Called before each RocksDB Write of a group of statements, on the
    // committing thread, outside the store's locks. A non-OK status fails
    // that write as a failed RocksDB write would (nothing of the group is
    // written; its writers get the status).
    std::function<absl::Status()> before_write;
    // Called each time a leader has built writers into its group's batch,
    // before it waits for the previous group's write.
    std::function<void()> built;
    // Called when an erasure's leader starts waiting for the groups queued
    // before it to be written and answered.
    std::function<void()> erase_waiting;
    // Called before an erasure's purge (flush and compaction of the erased
    // ranges), on the purge thread; a non-OK status fails the purge as a
    // failed flush would.
    std::function<absl::Status()> before_purge;
  };
  WriteHooks test_hooks;
  // How long the purge thread waits before it tries a failed purge again
  // (record_store_erase.cc); a new erasure does not wait for it.
  absl::Duration purge_retry_delay = absl::Seconds(30);
};

// The RocksDB configuration RecordStore::Open uses: database options and one
// descriptor per column family, in kColumnFamilies order, sharing one LRU
// block cache of `block_cache_bytes`. Exposed so that bench_records can
// measure RocksDB alone under exactly the store's configuration.
struct RecordStoreRocksConfig {
  rocksdb::DBOptions db;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
};
RecordStoreRocksConfig MakeRecordStoreRocksConfig(size_t block_cache_bytes);

// Flushes the memtables of `handles` and blocks until `db` has no flush or
// compaction pending or running (RecordStore::WaitForBackgroundWork; also
// used by bench_records on a database opened with the config above).
absl::Status WaitForRocksBackgroundWork(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& handles);

// A statement as stored.
struct StoredStatement {
  Uuid id{};
  StatementRecord record;  // record.json is the stored xAPI JSON
};

// StatementQuery::max_page_json_bytes by default: 3 MiB of statement JSON
// leaves room for the response's other fields under gRPC's 4 MiB.
inline constexpr size_t kMaxPageJsonBytes = 3 << 20;

// Filters of List(). Strings empty / optionals unset mean "any".
struct StatementQuery {
  std::string learner;  // canonical learner key
  // With `learner`: also the statements whose object is that learner's Agent
  // or a Group naming them (its identifier or a member's; xAPI's `agent`
  // filter: "the Actor or Object"), found in the mention index
  // (key_codec.h "by_mention") merged with the learner index in (seq, id)
  // order, each statement once. Mentions elsewhere (instructor, team,
  // context agents) do not match. Bound into the page tokens.
  bool learner_as_object = false;
  std::string verb;
  std::string activity;
  std::optional<Uuid> registration;
  std::optional<int64_t> since_us;  // stored strictly after
  std::optional<int64_t> until_us;  // stored at or before
  bool ascending = false;
  int page_size = 50;
  std::string page_token;
  // Optional extra predicate on each candidate (e.g. xAPI related_agents);
  // `extra_filter_id` names it for page-token binding. With a predicate and
  // no learner/registration/activity/verb filter the stored-order index is
  // scanned, at most RecordStoreOptions::max_scanned_per_page entries per
  // page (reference entries passed over without include_references: up to
  // max_skipped_references_per_page more).
  std::function<bool(const StatementRecord&)> extra_filter;
  std::string extra_filter_id;
  // xAPI "filter conditions for StatementRefs": also return statements that
  // refer (via StatementRef objects, voiding included, up to
  // kMaxReferenceDepth deep) to a statement matching the filters, even a
  // voided one. since/until/order/page size apply to the returned statements.
  bool include_references = false;
  // The page ends once its statements' stored JSON reaches this many bytes
  // (it always holds at least one statement), with a token to continue: a
  // page of 1,000 of the largest statements (kMaxStatementBytes) would be
  // 1 GiB built in memory for one call, and past gRPC's default 4 MiB
  // receive limit for every client. 0: no limit.
  size_t max_page_json_bytes = kMaxPageJsonBytes;
  // false: the page's records come without their JSON (`json` empty; the
  // filters still see it) and max_page_json_bytes does not apply, so a page
  // holds a few small fields a statement however large the statements are
  // (the record service's BASIC view, e.g. the recommender's history reads).
  bool with_json = true;
};

struct StatementPage {
  std::vector<StoredStatement> statements;
  std::string next_page_token;  // empty at the end
};

// One access to personal data (who, which learner, what, when, outcome).
struct AuditEvent {
  int64_t time_us = 0;
  std::string subject;  // the caller
  std::string role;
  std::string learner;    // whose records (empty: several or none)
  std::string operation;  // gRPC method or xAPI resource
  std::string outcome;    // "OK" or the status code name
  std::string detail;     // e.g. the error message
};

struct AuditQuery {
  std::string learner;  // empty: any
  std::string subject;  // empty: any
  std::optional<int64_t> since_us, until_us;
  int page_size = 100;
  std::string page_token;
};

struct AuditPage {
  std::vector<AuditEvent> events;  // newest first
  std::string next_page_token;
};

struct RecordStoreStats {
  uint64_t statements_written = 0;
  uint64_t groups_committed = 0;  // = WAL syncs when sync is on
  // Groups of statements whose RocksDB Write failed (a full disk, a failed
  // fsync): each of their writers got UNAVAILABLE, nothing was acknowledged.
  uint64_t write_failures = 0;
  // Wall time the group leaders spent committing groups of statements:
  // building the group's WriteBatch (BuildInto: idempotency lookups, stored
  // sequences, index keys), then in RocksDB's Write (WAL, its sync when sync
  // is on, memtable inserts). Builds are one at a time and so are Writes,
  // but with build ahead a build overlaps the Write before it (see
  // commit_wait_micros).
  uint64_t commit_build_micros = 0;
  uint64_t commit_write_micros = 0;
  // The leaders' CPU time building batches (of commit_build_micros): what
  // the machine's other load does not inflate.
  uint64_t commit_build_cpu_micros = 0;
  // Build ahead: wall time built groups waited for the previous group's
  // write to end. Builds overlap the previous group's write, so
  // commit_build_micros + commit_write_micros may exceed the wall time; RocksDB
  // Writes never overlap, so commit_write_micros over the wall time is how
  // busy the one write slot was.
  uint64_t commit_wait_micros = 0;
  // Of commit_write_micros, RocksDB's own split of its Write (its perf
  // context, timed on the writing thread around each group's Write): the
  // WAL (append and, with sync on, its fdatasync) and the memtable inserts.
  // The rest is the Write's own bookkeeping (write queue, sequence
  // publication).
  uint64_t commit_wal_micros = 0;
  uint64_t commit_memtable_micros = 0;
};

// A replicated log of the store's mutating operations (implemented by
// replication::Replicator). Each method proposes one operation and returns
// once it is in the log on a quorum and applied to the local store, with the
// result of applying it: the same outcomes as the RecordStore method of the
// same name, plus UNAVAILABLE when this node may not write (not the leader:
// the message names it) or the log cannot be reached. `now_us` is the
// proposer's clock, carried in the operation so that every replica stores
// the same times. Thread-safe.
class OpLog {
 public:
  virtual ~OpLog() = default;
  virtual absl::StatusOr<std::vector<StoredStatement>> ProposeRecord(std::vector<ParsedStatement> statements,
                                                                     int64_t now_us) = 0;
  virtual absl::StatusOr<int64_t> ProposeErase(const std::string& learner, int64_t now_us) = 0;
  virtual absl::Status ProposeMeta(const std::vector<std::pair<std::string, std::optional<std::string>>>& edits,
                                   int64_t now_us) = 0;
  virtual absl::Status ProposeAudit(const AuditEvent& event, int64_t now_us) = 0;
};

// One record operation of the replicated log, for RecordStore::ApplyLoggedRecords.
struct LoggedRecord {
  uint64_t seq = 0;    // log sequence
  int64_t now_us = 0;  // the proposer's clock
  std::vector<ParsedStatement> statements;
  // Meta keys written (empty values) in the same batch, whatever the
  // result (the replicator's index of shared messages, replicator.h).
  std::vector<std::string> meta_marks;
  // Set by ApplyLoggedRecords: what Record() would have returned.
  absl::StatusOr<std::vector<StoredStatement>> result = absl::UnknownError("not applied");
};

// The absl::Status payload by which a refusal of Record() and RecordAsync()
// (log mode included) names the statement it refused: that statement's index
// in the caller's `statements`, in decimal ASCII. Set on every refusal of one
// statement (ALREADY_EXISTS for an id stored with other content, the
// refusals of a voiding statement, a statement that cannot be encoded),
// whose message names the field from `statement` on ("statement.id: ...",
// "statement.object.id: ..."); never on a failure of the whole call
// (UNAVAILABLE, INTERNAL).
inline constexpr char kRefusedStatementIndexUrl[] = "type.lifelong/records.refused_statement_index";

// The statement index `status` carries (kRefusedStatementIndexUrl); nullopt
// when it carries none (an OK status included) or a malformed one.
std::optional<size_t> RefusedStatementIndex(const absl::Status& status);

class RecordStore {
 public:
  // Opens (creating if missing) the store at `path`. UNAVAILABLE when the
  // directory cannot be opened (e.g. locked by another process).
  static absl::StatusOr<std::unique_ptr<RecordStore>> Open(const std::string& path, RecordStoreOptions options = {});
  // Flushes memtables and closes the database.
  ~RecordStore();

  RecordStore(const RecordStore&) = delete;
  RecordStore& operator=(const RecordStore&) = delete;

  // Stores `statements` all-or-nothing and returns them as stored, in order.
  // A statement whose id is already stored with the same content is returned
  // as stored before (not written again); with different content the whole
  // call fails with ALREADY_EXISTS. A voiding statement marks its target
  // voided; INVALID_ARGUMENT when the target is itself a voiding statement,
  // PERMISSION_DENIED when the statement's void_right does not allow voiding
  // the target. Each refusal of one statement carries its index
  // (RefusedStatementIndex). UNAVAILABLE when the write fails (nothing of
  // the call is stored).
  absl::StatusOr<std::vector<StoredStatement>> Record(std::vector<ParsedStatement> statements);

  // Record() without waiting: `done` is called exactly once with what
  // Record() would have returned, after the write is synced (so never before
  // the statements are durable), and without the calling thread ever waiting
  // for the group commit. The writes join the same group-commit queue as
  // Record(): `done` runs on the thread that committed the group (a Record()
  // caller that led it, or the store's committer thread, started at the
  // first call), after the change listener heard of the group, outside the
  // store's locks; it must not block for long (it delays the next group's
  // answers) and may call any method of the store. A statement that fails
  // before it is queued (encoding) is answered on the calling thread. Log
  // mode: the proposal blocks, so it runs on a thread of its own per call
  // (the caller bounds how many are in flight); `done` runs there. Every
  // queued call is answered before the destructor returns.
  using RecordCallback = std::function<void(absl::StatusOr<std::vector<StoredStatement>>)>;
  void RecordAsync(std::vector<ParsedStatement> statements, RecordCallback done);

  // NOT_FOUND when no statement has `id`. Voided statements are returned.
  absl::StatusOr<StoredStatement> Get(const Uuid& id) const;

  // Statements matching all filters of `query`, voided ones left out.
  // INVALID_ARGUMENT for a bad page token or page size.
  absl::StatusOr<StatementPage> List(const StatementQuery& query) const;

  // Calls `fn` for every statement of `learner` (voided included), oldest
  // first, until `fn` returns false.
  absl::Status ForEachOfLearner(const std::string& learner,
                                const std::function<bool(const StoredStatement&)>& fn) const;

  // Calls `fn` for statements stored after `after_seq` in stored order, at
  // most `limit` of them (0: no limit), until `fn` returns false.
  absl::Status ForEachAfter(uint64_t after_seq, int64_t limit,
                            const std::function<bool(const StoredStatement&)>& fn) const;

  // Erases `learner`'s records in one synced write and returns how many
  // statements left them. A statement of `learner` alone is deleted with all
  // its index entries. A statement other learners share (a Group actor) stays
  // theirs: `learner` is taken out of it (their index entry deleted, their
  // identifier removed from the actor, see RemoveLearnerFromActor, and the
  // record and the others' covering copies rewritten). When statements were
  // erased, the erasure epoch (GetErasureEpoch) grows in the same write. Then
  // appends an entry to the erasure log (key_codec.h "erasure_log/";
  // backups.h re-applies it) and returns: from then on no read, export or
  // backup restore returns the erased statements.
  //
  // The erased bytes are purged from the store's files in the background
  // (the purge thread: every family flushed, so that the write-ahead logs
  // holding them are deleted, and the touched key ranges compacted through
  // the last level; seconds on a large store). The families to purge are
  // written with the erasure (kMetaPurgePending) and kept until purged, so a
  // purge cut by a crash or a failed one (a full disk) runs again: at the
  // next Open (those families whole), or after purge_retry_delay (at once
  // when another erasure comes). Erasures arriving while a purge runs share
  // the next one. WaitForPurge waits for it; GetPurgeStatus reports it. Files
  // pinned by a live iterator or snapshot (an export stream in progress) are
  // deleted when it ends.
  // `purge_ticket` (optional) gets the erasure's purge request, for
  // WaitForPurge's `through`.
  absl::StatusOr<int64_t> EraseLearner(const std::string& learner, uint64_t* purge_ticket = nullptr);

  // The background purge of erased bytes (EraseLearner).
  struct PurgeStatus {
    bool pending = false;          // some erased bytes may still be in the files
    int64_t pending_since_us = 0;  // store clock: when the oldest of them was erased (0: none pending)
    uint64_t completed = 0;        // purges finished since Open
    uint64_t failed = 0;           // purge attempts that failed since Open
    std::string last_error;        // of the latest attempt; empty when it succeeded
  };
  PurgeStatus GetPurgeStatus() const;
  // Blocks until every erasure completed before the call (with `through`:
  // the first `through` purge requests, a PurgeRequests() result) is purged
  // from the store's files and its pending record (kMetaPurgePending) saved
  // without them (OK), the purge attempt that covered them failed
  // (its error; the purge is tried again later), or `deadline` passes
  // (DEADLINE_EXCEEDED; the purge goes on). UNAVAILABLE once the store is
  // closing (the purge resumes at the next Open).
  absl::Status WaitForPurge(absl::Time deadline = absl::InfiniteFuture(), uint64_t through = 0);
  // How many purges were requested so far (one per erasure, and one at Open
  // when a purge was pending).
  uint64_t PurgeRequests() const;

  // The erasure epoch: how many EraseLearner calls that erased statements
  // have completed on this store (0: none), and when the latest did. It grows only after an
  // erasure's deletions are durable, so an export that reads epoch N at its
  // start holds nothing of erasures N+1, N+2, ...; a model trained on it is
  // superseded once a model trained at a larger epoch exists (docs/models.md,
  // "Erasure and model versions").
  struct ErasureEpoch {
    uint64_t epoch = 0;
    int64_t latest_us = 0;  // the store's clock; 0 when epoch is 0
  };
  absl::StatusOr<ErasureEpoch> GetErasureEpoch() const;

  // Counts index entries under `learner` in the learner index (used to prove
  // erasure).
  absl::StatusOr<int64_t> CountLearnerIndexEntries(const std::string& learner) const;

  // Appends an audit event. Written to the WAL without an fsync of its own
  // (it survives a process crash; the next synced write covers power loss).
  // Log mode: replicated through the log when this node accepts writes;
  // otherwise (a follower auditing the reads it serves) written to this
  // node's store only, under a local key (key_codec.h).
  absl::Status AppendAudit(const AuditEvent& event);
  // Audit events, newest first. INVALID_ARGUMENT for a bad page token or size.
  absl::StatusOr<AuditPage> ListAudit(const AuditQuery& query) const;

  // Small records of the store's own bookkeeping in the "meta" column family
  // (kiosk passes, the erasure log; key and value layouts in key_codec.h).
  // GetMeta: NOT_FOUND when `key` is absent.
  absl::StatusOr<std::string> GetMeta(absl::string_view key) const;
  // Applies puts (value set) and deletes (value nullopt) in one synced write.
  absl::Status WriteMeta(const std::vector<std::pair<std::string, std::optional<std::string>>>& edits);
  // Calls `fn` for every meta entry whose key starts with `prefix`, in key
  // order, until it returns false.
  absl::Status ForEachMeta(absl::string_view prefix,
                           const std::function<bool(absl::string_view key, absl::string_view value)>& fn) const;

  // Log mode: applying the replicated log (replication/replicator.h). Only
  // the log's single applier thread calls these, in log order; each writes
  // kMetaAppliedLogSeq = its sequence in the same WriteBatch as the
  // operation's effects, so a restart resumes after the last applied one.
  // The operation's own outcome (e.g. ALREADY_EXISTS) is its result; the
  // returned status is not OK only when nothing was written (UNAVAILABLE:
  // storage failed, apply it again) or when `seq` is not after
  // AppliedLogSeq() (FAILED_PRECONDITION: an operation is never applied
  // twice). Apply is deterministic: times come from `now_us`, the
  // authority from the operation.
  //
  // Applies consecutive record operations in one group commit (ascending
  // seq), setting each one's result.
  absl::Status ApplyLoggedRecords(std::vector<LoggedRecord>* ops);
  // An erasure; `*result` gets EraseLearner's result. In log mode every
  // applied erasure bumps the erasure epoch (even one that found nothing,
  // because a replica rebuilt from a log whose erased messages were purged
  // finds nothing either, and epochs must agree), and records `seq` as the
  // learner's latest erasure (meta "replication/erased_at/", for
  // ApplyLoggedRestore; layout in record_store_log_apply.cc).
  absl::Status ApplyLoggedErase(uint64_t seq, int64_t now_us, const std::string& learner,
                                absl::StatusOr<int64_t>* result);
  // `batch` (an xAPI document write, prepared by xapi::DocumentStore::
  // Apply) and the applied position in one write.
  absl::Status ApplyLoggedWrites(uint64_t seq, rocksdb::WriteBatch* batch);
  absl::Status ApplyLoggedMeta(uint64_t seq,
                               const std::vector<std::pair<std::string, std::optional<std::string>>>& edits);
  // The audit row's key is its time | 0x8000000000000000 | seq.
  absl::Status ApplyLoggedAudit(uint64_t seq, int64_t now_us, const AuditEvent& event);
  // Statements re-published after an erasure took the log messages that
  // held them (replicator.h): each (id, encoded StatementRecord) not in the
  // store is written with its index entries, as it was stored (a replica
  // rebuilt from the log gets them here); present ones are left alone.
  // `built_at` is the log position the records were read at: a learner
  // erased after it (an erasure applied between built_at and seq) is taken
  // out of them, so that a statement of theirs is not written again and a
  // shared one is written without them; those learners are appended to
  // `left_out` (optional). built_at 0 (a restore from before the field):
  // no such check. Deletes the meta keys under `delete_prefix` and puts
  // `meta_marks`.
  absl::Status ApplyLoggedRestore(uint64_t seq, uint64_t built_at,
                                  const std::vector<std::pair<Uuid, std::string>>& records,
                                  const std::string& delete_prefix, const std::vector<std::string>& meta_marks,
                                  std::vector<std::string>* left_out = nullptr);
  // The sequence of the last applied log operation (0: none), as stored in
  // kMetaAppliedLogSeq.
  uint64_t AppliedLogSeq() const { return applied_log_seq_.load(); }

  RecordStoreStats stats() const;
  // Called with the (sorted, distinct) learner keys whose records a write
  // changed (statements recorded or voided, a learner erased), after the
  // write is durable and before any of its writers is answered; it may block
  // (LearnerChangeFeed::Publish waits for its watchers). Null: none.
  void SetChangeListener(std::function<void(const std::vector<std::string>&)> listener);

  // Reads the whole learner index once through the block cache, so that the
  // first "latest statements of a learner" queries after a start are served
  // from memory rather than from disk (records_server runs it in the
  // background at start-up; the index is the hot read path). Returns the
  // bytes read. Stops early, with OK, when `stop` becomes true.
  absl::StatusOr<uint64_t> WarmLearnerIndex(const std::atomic<bool>* stop = nullptr) const;

  // Flushes memtables and blocks until no flush or compaction is pending or
  // running (benchmarks call it after a bulk load, so that the load's
  // compaction backlog does not run during the measurement).
  absl::Status WaitForBackgroundWork();
  // Approximate number of stored statements (RocksDB estimate).
  uint64_t ApproximateStatementCount() const;

  // For backups.cc only: the database and its column-family handles (in
  // kColumnFamilies order). The store keeps ownership; valid while it lives.
  rocksdb::DB* rocks_for_backup() const { return db_.get(); }
  // The database and its xAPI document family, for xapi::DocumentStore::
  // InDatabase (the store keeps owning both).
  rocksdb::DB* rocks_for_documents() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* documents_family() const;
  // More deletions for every erasure's write batch (the learner's xAPI
  // documents), called on the writer thread while the batch is built;
  // returns how many it added. An error fails the erasure and writes
  // nothing. `held_until_written` (optional) is held from the extension's
  // call until the batch is written: the lock of the extension's own writes
  // (DocumentStore::write_mutex), so that none of them reads a document
  // before the erasure and writes it back after. Set before serving (before
  // the log's applier starts).
  using EraseExtension = std::function<absl::StatusOr<int64_t>(const std::string& learner, rocksdb::WriteBatch* batch)>;
  void SetEraseExtension(EraseExtension extension, absl::Mutex* held_until_written = nullptr) {
    erase_extension_ = std::move(extension);
    erase_extension_mu_ = held_until_written;
  }
  const std::vector<rocksdb::ColumnFamilyHandle*>& rocks_families_for_backup() const { return handles_; }

 private:
  struct Prepared;
  struct Writer;
  struct Built;
  struct Flight;
  RecordStore() = default;

  void Enqueue(Writer* w);
  // With write_mu_ held and the queue's head `head` to lead: takes the group
  // behind it and builds it (releasing write_mu_ meanwhile), waits for the
  // previous group's write, hands the queue to the next head (pops the
  // group, wakes the next head), writes the group, tells the listener in
  // order, and returns the group's asynchronous writers, to be answered
  // (Complete) once write_mu_ is released. An erasure: LeadErase.
  std::vector<Writer*> LeadGroup(Writer* head) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Answers and deletes asynchronous writers (RecordAsync), in order.
  void Complete(const std::vector<Writer*>& async_writers);
  // Wakes whoever leads next: the head's own thread (Record, EraseLearner) or,
  // for an asynchronous head, the committer thread.
  void WakeHead() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // A committer thread: leads groups whose head is asynchronous.
  void CommitLoop();
  // The write slot's thread (build ahead): writes each group built ahead as
  // soon as the Write before it returned and its leader is not building, so
  // that no thread has to be woken between two Writes (SealFlight, then
  // WriteBuilt). Started with the first group built ahead.
  void WriteSlotLoop();
  // With write_mu_ held: `f` leaves the queue (its writers popped, the next
  // head woken) and becomes the flight to write next; not written when the
  // group before it failed (same status).
  void SealFlight(Flight* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Writes sealed `f` (WriteBuilt, write_mu_ released meanwhile) and sets its
  // write_status and written; nothing when sealing already failed it. The
  // caller wakes the waiters.
  void WriteSealedFlight(Flight* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Both return the learners whose records the write changed (empty when
  // nothing was written).
  // `write_status` (optional) gets the status of the RocksDB write. One
  // group, built and written (log mode's apply).
  std::vector<std::string> CommitGroup(const std::vector<Writer*>& group, absl::Status* write_status = nullptr,
                                       const std::vector<std::string>* meta_marks = nullptr);
  // With write_mu_ held, `head` (an erasure) leading: waits for the groups
  // before it, erases alone, pops it and wakes the next head.
  void LeadErase(Writer* head) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Writers at the head of the queue from position `from` on, that may join
  // a group of `count` statements (none past an erasure).
  std::vector<Writer*> TakeWriters(size_t from, size_t count) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Adds `writers` to `out`'s batch: idempotency check, stored sequences,
  // voiding, index and reference entries; a writer that fails gets its
  // status and adds nothing. `previous` (null: none) is the group whose
  // Write may still be running: its records are read before the store's.
  void BuildInto(const std::vector<Writer*>& writers, const Built* previous, Built* out);
  // Writes `built` (nothing when its batch is empty); on failure sets the
  // status of every writer of `group` still OK and returns it.
  absl::Status WriteBuilt(const std::vector<Writer*>& group, Built* built);
  void NotifyChanged(std::vector<std::string> changed);
  absl::StatusOr<std::vector<Prepared>> Prepare(std::vector<ParsedStatement> statements) const;
  // The statements of a committed writer as stored, in order; moves the
  // records and values out of `prepared`.
  absl::StatusOr<std::vector<StoredStatement>> Collect(std::vector<Prepared>* prepared) const;
  absl::Status CheckLogSeq(uint64_t seq) const;
  absl::Status WriteWithLogSeq(rocksdb::WriteBatch* batch, uint64_t seq);
  // Adds metadata edits (a value puts the key, none deletes it) to `batch`:
  // WriteMeta's and ApplyLoggedMeta's one encoding of them.
  void AddMetaEdits(const std::vector<std::pair<std::string, std::optional<std::string>>>& edits,
                    rocksdb::WriteBatch* batch) const;
  std::vector<std::string> ApplyErase(Writer* w);
  // Flushes every family and compacts `ranges` through the last level (the
  // purge thread's work); cancelled (an error) when the store closes.
  absl::Status PurgeErased(const std::map<uint32_t, std::pair<std::string, std::string>>& ranges);
  // One more purge request (after the waiting ranges grew): wakes the purge
  // thread, started at the first call (not once the store is closing).
  void RequestPurgeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(purge_mu_);
  // The purge thread: purges the waiting ranges as one, again and again,
  // until the store closes.
  void PurgeLoop();
  // kMetaPurgePending's value for the ranges not yet purged (waiting and
  // running; key_codec.h), empty when none; SavePendingPurge writes it (or
  // deletes the key) in a synced write.
  // `more` (erased at `more_since_us`) is added to them.
  std::string EncodePendingPurge(const std::map<uint32_t, std::pair<std::string, std::string>>& more = {},
                                 int64_t more_since_us = 0) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(purge_mu_);
  absl::Status SavePendingPurge() ABSL_LOCKS_EXCLUDED(purge_io_mu_, purge_mu_);
  // When the oldest erasure not yet purged was made (0: none).
  int64_t PendingSinceLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(purge_mu_);
  // Reads kMetaPurgePending (empty when absent; every family when
  // unreadable) and when its oldest erasure was made (0: not recorded).
  std::map<uint32_t, std::pair<std::string, std::string>> LoadPendingPurge(int64_t* since_us) const;
  // Open: hands a purge a stop or a crash cut (or a failed one) to the
  // purge thread.
  void ResumePendingPurge();
  // Appends the erasure log entry of a completed erasure (key_codec.h
  // kMetaErasureLogPrefix), synced.
  absl::Status AppendErasureLog(const std::string& learner, int64_t erased);
  absl::StatusOr<std::optional<StatementRecord>> LoadRecord(const Uuid& id) const;
  // The referrers of `target` on disk (key_codec.h, "by_target"): whether its
  // marker exists, the marker's schema-1 list and the per-referrer keys. One
  // bloom-filtered Get when nothing refers to it.
  struct StoredReferrers {
    bool marker = false;
    std::vector<Uuid> listed;  // in the marker's value (schema 1)
    std::vector<Uuid> keyed;   // a key each (schema 2)
  };
  absl::StatusOr<StoredReferrers> ReadReferrers(const Uuid& target) const;
  rocksdb::ColumnFamilyHandle* cf(int id) const { return handles_[id]; }
  uint64_t NextSeq(int64_t now_us);

 public:
  // The largest stored sequence (microseconds) assigned so far; a new
  // replication leader starts its proposals above it. Thread-safe.
  uint64_t LastAssignedSeq() const { return max_assigned_seq_.load(std::memory_order_acquire); }

 private:
  RecordStoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  EraseExtension erase_extension_;
  absl::Mutex* erase_extension_mu_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<PageTokenCodec> tokens_;
  std::string authority_json_;

  absl::Mutex listener_mu_;
  std::function<void(const std::vector<std::string>&)> change_listener_ ABSL_GUARDED_BY(listener_mu_);
  absl::Mutex write_mu_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(write_mu_);
  // The committer threads (RecordAsync; started at its first call) and what
  // wakes them; stop_committer_ is set by the destructor, which joins them
  // once the queue is empty. Several, so that one builds the next group
  // while another writes, notifies and answers the one before.
  std::vector<std::thread> committers_ ABSL_GUARDED_BY(write_mu_);
  absl::CondVar committer_cv_;
  bool stop_committer_ ABSL_GUARDED_BY(write_mu_) = false;
  // Someone leads the head of writers_ (building its group; cleared when the
  // group leaves the queue).
  bool head_led_ ABSL_GUARDED_BY(write_mu_) = false;
  // Groups that left the queue and are not yet answered, in sequence order:
  // at most one not yet written (written == false).
  std::deque<Flight*> flights_ ABSL_GUARDED_BY(write_mu_);
  // Signalled when a flight is written or released, when a reader of one is
  // done, and, while a built-ahead leader waits (extend_waiting_), when a
  // writer is queued.
  absl::CondVar flight_cv_;
  bool extend_waiting_ ABSL_GUARDED_BY(write_mu_) = false;
  // The group built ahead whose leader waits for the write slot's thread to
  // seal and write it (null: none), that thread, what wakes it, and its
  // stop flag (set by the destructor once the committers are joined).
  Flight* write_next_ ABSL_GUARDED_BY(write_mu_) = nullptr;
  std::thread write_slot_ ABSL_GUARDED_BY(write_mu_);
  absl::CondVar write_slot_cv_;
  bool write_slot_waiting_ ABSL_GUARDED_BY(write_mu_) = false;
  bool stop_write_slot_ ABSL_GUARDED_BY(write_mu_) = false;
  // Log mode: RecordAsync calls whose thread has not finished yet (the
  // destructor waits for none).
  int log_async_in_flight_ ABSL_GUARDED_BY(write_mu_) = 0;
  absl::CondVar log_async_cv_;
  // Touched only by the leader building a group (one at a time: the next
  // one starts when this one's group leaves the queue), or the log applier.
  uint64_t last_seq_ = 0;
  // The largest stored sequence assigned so far (at least last_seq_), for
  // other threads (LastAssignedSeq).
  std::atomic<uint64_t> max_assigned_seq_{0};
  bool has_referrers_ = false;  // a StatementRef has ever been stored

  std::atomic<uint64_t> audit_counter_{0};
  std::atomic<uint64_t> applied_log_seq_{0};
  std::atomic<uint64_t> statements_written_{0};
  std::atomic<uint64_t> groups_committed_{0};
  std::atomic<uint64_t> write_failures_{0};
  std::atomic<uint64_t> commit_build_micros_{0};
  std::atomic<uint64_t> commit_write_micros_{0};
  std::atomic<uint64_t> commit_build_cpu_micros_{0};
  std::atomic<uint64_t> commit_wait_micros_{0};
  std::atomic<uint64_t> commit_wal_micros_{0};
  std::atomic<uint64_t> commit_memtable_micros_{0};

  // The purge thread's state (record_store_erase.cc). An erasure adds its
  // ranges to purge_waiting_ and bumps purge_requested_; the thread moves
  // the waiting ranges to purge_running_, purges them, and sets purge_done_
  // (success) or purge_failed_ (failure; the ranges wait again) to the
  // request count it took. Both maps are saved in kMetaPurgePending, with
  // the time of the oldest erasure in each (the *_since_us_).
  using KeyRanges = std::map<uint32_t, std::pair<std::string, std::string>>;
  // Orders the writes of kMetaPurgePending (an erasure's batch, the purge
  // thread's saves); taken before purge_mu_, which is never held across a
  // write (GetPurgeStatus, called by the metrics scrape, takes it).
  absl::Mutex purge_io_mu_ ABSL_ACQUIRED_BEFORE(purge_mu_);
  mutable absl::Mutex purge_mu_;
  absl::CondVar purge_cv_;  // work for the thread, or an attempt ended
  KeyRanges purge_waiting_ ABSL_GUARDED_BY(purge_mu_);
  KeyRanges purge_running_ ABSL_GUARDED_BY(purge_mu_);
  uint64_t purge_requested_ ABSL_GUARDED_BY(purge_mu_) = 0;
  uint64_t purge_done_ ABSL_GUARDED_BY(purge_mu_) = 0;
  uint64_t purge_failed_ ABSL_GUARDED_BY(purge_mu_) = 0;
  int64_t purge_waiting_since_us_ ABSL_GUARDED_BY(purge_mu_) = 0;
  int64_t purge_running_since_us_ ABSL_GUARDED_BY(purge_mu_) = 0;
  uint64_t purges_completed_ ABSL_GUARDED_BY(purge_mu_) = 0;
  uint64_t purge_failures_ ABSL_GUARDED_BY(purge_mu_) = 0;
  std::string purge_last_error_ ABSL_GUARDED_BY(purge_mu_);
  bool stop_purge_ ABSL_GUARDED_BY(purge_mu_) = false;
  std::thread purge_thread_ ABSL_GUARDED_BY(purge_mu_);
  // Set when the store closes: cancels a compaction in progress.
  std::atomic<bool> purge_canceled_{false};
};

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_RECORD_STORE_H_
