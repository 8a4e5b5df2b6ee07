// Replicator: the record store replicated on NATS JetStream (issue #15;
// the contract shared with ops/cluster.sh and backups is
// docs/replication.md).
//
// The model is state-machine replication over a replicated log (as Kafka
// Streams keeps RocksDB as a state store materialised from a changelog):
//   - The log is the JetStream stream --replication_stream
//     ("LIFELONG_RECORDS"): file storage, --replicas copies (RAFT inside
//     nats-server; a publish is acknowledged once a quorum has it), subjects
//     "lifelong.records.>", a 2-minute duplicate window. Every mutating call
//     of the store (RecordStore in log mode: Record, EraseLearner, WriteMeta
//     -- kiosk passes --, AppendAudit; and the xAPI DocumentStore's Put,
//     Merge and Delete) is one message (log_op.h). A document write is
//     applied in one write batch with the log position (the documents are a
//     column family of the record database).
//     Statement batches carry Nats-Msg-Id = RecordMessageId (a hash of their
//     content) so that a retried publish is stored once.
//   - Every node, the leader included, applies the log in sequence order on
//     one applier thread (an ordered JetStream consumer starting at
//     RecordStore::AppliedLogSeq()+1) through the store's group commit,
//     writing replication/applied_seq in the same WriteBatch. An empty node
//     therefore rebuilds from the log, and a node restored from a backup
//     catches up from the backup's position. A message it cannot decode, or
//     a gap in delivery (LogCursor: a consumer sequence missing, or a
//     stream sequence jumped over that the log still holds), stops or
//     restarts the applier: nothing is ever skipped. An operation that
//     decodes but cannot be applied (the store refuses it the same way on
//     every try, e.g. a restored record that does not decode, or storage
//     failing for kApplyStallLimit) is retried every second, and meanwhile
//     the node gives the lease back, refuses writes, answers the proposals
//     waiting UNAVAILABLE and reports it (applier_error,
//     lifelong_replication_applier_stopped); before, a leader retried it
//     for ever, silently, kept the lease, and every write waited 30 s.
//   - The log must reach the store's position (log_consistency.h): a node
//     whose store has applied beyond the stream's last sequence, or that
//     finds no stream while its store has applied anything, stops applying,
//     never leads and reports it (applier_error and ahead_of_log in GET
//     /replication, lifelong_replication_store_ahead_of_log, the
//     replication_log_behind_store log line): the log lost operations it
//     holds, and new ones would reuse their sequences. It is checked before
//     the applier reads the log, on every lease tick, and on every PubAck (a
//     new message at a sequence already applied). Only a node whose store
//     has applied nothing creates a missing stream.
//   - A write (OpLog::Propose*) is answered once JetStream acknowledged the
//     message (quorum) AND the local applier applied it; the answer is the
//     apply result (e.g. ALREADY_EXISTS), so a read after an answered write
//     on the leader sees it.
//   - Leadership is a JetStream key-value lease: bucket LIFELONG_LEADER
//     (history 1, TTL --lease_ttl_ms), key "records", value the node id. The
//     leader renews it every TTL/4 with a revision-checked update; the others
//     read it and try to create it when it is absent (expired or released).
//     A node that wins becomes "catching_up" and accepts writes ("leader")
//     only once it has applied the stream's last sequence. A node steps down
//     when a renewal fails or its NATS connection drops. Two nodes that both
//     believe they lead (a partition inside one TTL) cannot make replicas
//     diverge: every decision that depends on the store's state (idempotency,
//     conflicts, voiding, stored order) is taken when the log is applied, in
//     log order, identically on every replica.
//   - Followers answer writes with UNAVAILABLE "not the leader; leader is
//     records-2" (xAPI: 503) and serve reads from their own store, which is
//     behind the leader by `lag` = log_last_seq - applied_seq operations
//     (GET /replication, lifelong_replication_lag; normally a few ms).
//
// Erasure and the log's retention: statements that all name one and the
// same learner (and that learner's kiosk-pass edits) are published on
// lifelong.records.stmt.<16 hex of SHA-256(learner key)>. Every node, right
// after applying an erasure at sequence E, erases that subject's messages
// below E one by one (JetStream message erase, by sequence; never a purge
// with a subject filter, which in nats-server 2.9 moves lagging consumers to
// the stream's end), so the stream keeps none of the erased learner's own
// statements once the erasure is applied on any node (milliseconds; at worst
// until the next node applies it). Statements
// naming several learners (Group actors, or batches mixing learners) go to
// lifelong.records.shared; each replica indexes which shared messages name
// which learner (meta keys "replication/shared_of/...", log_op.h). After
// applying an erasure, the leader reads those messages, publishes what they
// still hold for the other learners as one kRestore operation (the stored
// records, the erased learner already taken out; a replica rebuilt from the
// log inserts the ones it lacks), and then erases the messages from the
// stream (JetStream message erase, which overwrites them), all before the
// erasure is answered. If the leader dies in between, the shared messages
// stay until the learner is erased again (EraseLearner is idempotent).
// The restore is read at the erasure's position E but reaches the log later,
// at R; another learner's erasure may be ordered in between. So it carries
// E (built_at), and every replica leaves out of it the learners whose
// erasure it applied after E (RecordStore::ApplyLoggedRestore, from the
// per-learner erasure position each replica keeps): their statements stay
// erased, shared ones lose them as their erasure left them. Those learners'
// statements are still in message R: the leader then scrubs R as after an
// erasure (ScrubShared). Last, the leader waits until no node serves the
// learner: every other node reported the erasure applied, or the
// read-refusal bound passed (ProposeErase, AwaitErasureEverywhere).
//
// Thread-safety: all public methods are thread-safe. Lifetime: Connect, then
// RecordStore::Open with options.log = this, then Start(store); Stop() before
// the store is closed.
#ifndef LIFELONG_SERVICES_RECORDS_REPLICATION_REPLICATOR_H_
#define LIFELONG_SERVICES_RECORDS_REPLICATION_REPLICATOR_H_

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
#include "services/common/nats_config.h"
#include "services/records/record_store.h"
#include "services/records/replication/log_op.h"
#include "services/xapi/document_store.h"

// libnats types (nats/nats.h), declared here so that the header does not
// pull in the C client.
struct __jsCtx;
struct __natsMsg;
struct jsPubAck;
struct jsPubAckErr;

namespace lifelong::metrics {
class Gauge;
}  // namespace lifelong::metrics

namespace lifelong::records::replication {

struct ReplicatorOptions {
  std::vector<std::string> servers;  // nats://host:port, at least one
  // The NATS user and password, when the servers demand them
  // (ReadNatsCredentialsFile); empty: none, or those inside the URLs.
  std::string user;
  std::string password;
  std::string node_id;  // e.g. "records-1"; [A-Za-z0-9_.-]+
  std::string stream = "LIFELONG_RECORDS";
  std::string subject_prefix = "lifelong.records";
  int replicas = 3;  // 1..5; the stream's and the lease bucket's
  int64_t lease_ttl_ms = 3000;
  std::string lease_bucket = "LIFELONG_LEADER";
  std::string lease_key = "records";
  // How long a proposal waits for its operation to be applied locally.
  absl::Duration apply_timeout = absl::Seconds(30);
  // How long Connect retries creating the stream and bucket (a cluster
  // whose members are still starting has no JetStream quorum yet).
  absl::Duration setup_timeout = absl::Seconds(60);
  // Log retention (log_retention.h; docs/replication.md, "Log retention"):
  // the bucket where nodes report their positions, how often each reports,
  // how often the leader removes what every node has applied and backed up
  // (zero: never), and after how long a silent node stops holding it back.
  std::string positions_bucket = "LIFELONG_LOG";
  absl::Duration position_interval = absl::Seconds(5);
  absl::Duration trim_interval = absl::Minutes(1);
  absl::Duration forget_node_after = absl::Hours(24 * 7);
  // How long the applier's subscription may deliver nothing while the log
  // holds operations this node has not applied before it is dropped and
  // made again from the store's position (a consumer the server lost, or
  // one the client library failed to re-create, is otherwise silent for
  // ever: the node falls behind with no error anywhere).
  absl::Duration consumer_stall_timeout = absl::Seconds(5);
  // Tests only: called by the lease thread at the start of each round (a
  // test blocks in it to stall the lease thread, as a paused process or a
  // NATS call that hangs would).
  std::function<void()> test_lease_tick_hook;
  // Tests only: the re-publishing of an erased learner's shared messages
  // (ScrubShared) fails as a publish that timed out would.
  std::atomic<bool>* test_scrub_publish_fails = nullptr;
  // Tests only: while set, the applier's current subscription delivers
  // nothing (its messages are dropped), as a consumer lost on the server
  // would; cleared when the applier subscribes again.
  std::atomic<bool>* test_silence_consumer = nullptr;
};

// The flag parsers, shared with the catalog's log (services/common/nats_config.h).
using ::lifelong::nats::ParseServerList;
using ::lifelong::nats::ReadNatsCredentialsFile;

struct ReplicationStatus {
  std::string node;
  std::string role;    // "leader", "catching_up" or "follower"
  std::string leader;  // the lease holder's node id; "" when none is known
  uint64_t applied_seq = 0;
  uint64_t log_last_seq = 0;  // as last read from the stream (every TTL/4); 0: no stream
  uint64_t lag = 0;           // log_last_seq - applied_seq (0 when ahead)
  // How far this node's store is beyond the log's end, once found (the log
  // lost operations; the node stopped, applier_error says what to do). 0:
  // not found.
  uint64_t ahead_of_log = 0;
  uint64_t leader_changes = 0;
  // Times the applier dropped a subscription that had gone silent while the
  // log held operations it had not applied (consumer_stall_timeout).
  uint64_t consumer_restarts = 0;
  // Erasures this node (as leader) answered only after ReadRefusalBound(),
  // because some node did not report having applied them (down, cut off,
  // behind or stalled; docs/replication.md, "Erasure and follower reads").
  uint64_t erasures_unconfirmed = 0;
  bool connected = false;
  std::string applier_error;   // why the applier is stopped or stalled; "" when it runs
  uint64_t trimmed_below = 0;  // the log holds no operation below this (0: never trimmed)
};

class Replicator : public OpLog, public xapi::DocumentLog {
 public:
  // Connects to NATS and makes sure the lease and positions buckets exist
  // (creating them) and that an existing stream has options.replicas
  // (updating it). A missing stream is not created here: Start's applier
  // creates it only when the store has applied nothing (log_consistency.h).
  // INVALID_ARGUMENT for bad options (naming the flag); UNAVAILABLE when NATS
  // or JetStream cannot be reached within setup_timeout.
  static absl::StatusOr<std::unique_ptr<Replicator>> Connect(ReplicatorOptions options);
  ~Replicator() override;
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Starts the applier (from store->AppliedLogSeq()+1) and the lease
  // thread. `store` must have been opened with options.log = this.
  void Start(RecordStore* store);
  // The xAPI document store the applier writes document operations to (and
  // erases an erased learner's documents from), opened with SetLog(this).
  // Call before Start; null: document operations cannot be applied and stop
  // the applier (a node of a cluster always opens its document store).
  void SetDocumentStore(xapi::DocumentStore* documents) { documents_ = documents; }
  // The log position of the oldest backup this node keeps (nullopt: none),
  // reported for log retention (log_retention.h). Unset: the node reports
  // no backup, so the log is never trimmed. Callable at any time.
  using OldestBackupSource = std::function<absl::StatusOr<std::optional<uint64_t>>()>;
  void SetOldestBackupSource(OldestBackupSource source);
  // Stops both threads, releases the lease when held (so that another node
  // takes over at once) and closes the connection. Proposals in flight end
  // with UNAVAILABLE. Idempotent.
  void Stop();

  // Gives up leadership for good (a node shutting down): releases the lease
  // when held, so that another node takes over at once, and refuses new
  // writes; the applier keeps running, so writes in flight are answered.
  // Returns once the lease is released (at most about TTL/2).
  void Resign();

  ReplicationStatus Status() const;
  // Status() as the JSON of GET /replication.
  std::string StatusJson() const;
  // True when this node leads, has caught up (GET /leader: 200) and its
  // lease has not run out: a node whose lease thread or NATS calls stall
  // (a pause of the process, a slow or cut-off NATS server) stops answering
  // true, and stops taking writes, when the lease it last renewed would
  // expire, whether or not the lease thread has noticed yet, so two nodes
  // never both answer true (another takes the lease only once it expired).
  bool IsLeader() const;
  // Whether this node's store is current enough to serve reads of learner
  // data (records_service.h, read gate): OK while the applier runs, the node
  // is connected, it read the log's end within the last lease TTL and, unless
  // it leads, has applied what that read found (a read younger than
  // kReadLagGrace may still be ahead of the applier by operations in
  // flight). Otherwise UNAVAILABLE
  // saying why: such a store may still hold records erased or voided since
  // its position, so a client reads through the leader instead.
  absl::Status CheckServingReads() const;
  static constexpr absl::Duration kReadLagGrace = absl::Milliseconds(500);
  // How long after an operation reached the log every node that has not
  // applied it refuses reads (CheckServingReads): a node reads the log's end
  // every lease tick (TTL/4) and refuses kReadLagGrace after a read that
  // found what it has not applied; one whose reads stop refuses a TTL after
  // the start of its last one. Plus a tick for a read in flight.
  absl::Duration ReadRefusalBound() const;
  // Blocks until the applier has applied `seq` or `timeout` passes.
  bool WaitApplied(uint64_t seq, absl::Duration timeout) const;
  // The stream's last sequence, read now. NOT_FOUND when the stream does
  // not exist; UNAVAILABLE when JetStream is unreachable.
  absl::StatusOr<uint64_t> ReadLogLastSeq() const;
  // How many messages the stream holds on `subject` (tests prove purges).
  absl::StatusOr<uint64_t> CountMessages(const std::string& subject) const;

  // OpLog.
  absl::StatusOr<std::vector<StoredStatement>> ProposeRecord(std::vector<ParsedStatement> statements,
                                                             int64_t now_us) override;
  // Answered only once no node serves the learner's records: every node in
  // the positions bucket reported it applied the erasure (each reports at
  // once after applying one), or, failing that, ReadRefusalBound() has
  // passed since it reached the log, after which a node that has not
  // applied it refuses reads. (Before, a healthy follower could serve the
  // erased records for up to a lease tick plus kReadLagGrace after the
  // answer.) Counted in ReplicationStatus::erasures_unconfirmed when the
  // bound had to pass.
  absl::StatusOr<int64_t> ProposeErase(const std::string& learner, int64_t now_us) override;
  absl::Status ProposeMeta(const std::vector<std::pair<std::string, std::optional<std::string>>>& edits,
                           int64_t now_us) override;
  absl::Status ProposeAudit(const AuditEvent& event, int64_t now_us) override;
  // xapi::DocumentLog.
  absl::Status ProposeDocument(const xapi::DocWrite& write) override;

 private:
  struct Nats;  // the libnats handles
  struct Waiter;
  struct PubWait;
  enum Role : int { kRoleFollower = 0, kRoleCatchingUp = 1, kRoleLeader = 2 };

  explicit Replicator(ReplicatorOptions options);
  absl::Status Setup();
  // Publishes `op` and waits for its local application; `w` gets the result.
  absl::Status Propose(const LogOp& op, Waiter* w);
  absl::Status CheckWritable() const;
  // Publishes `op` once, as JetStream message `msg_id`, and waits for the
  // PubAck: its stream sequence and whether it was a duplicate. A record
  // operation first takes its range of stored sequences (ReserveRange):
  // `op->now_us` becomes the range's start, and ranges reach the log in the
  // order they were taken, so every replica stores statement i of the
  // operation at op.now_us + i whatever else the log held or an erasure
  // purged (RecordStore::NextSeq gives max(now_us + i, last + 1)).
  // `retry` is set when publishing again may succeed (a timeout, no
  // responders).
  absl::StatusOr<std::pair<uint64_t, bool>> PublishOnce(LogOp* op, const std::string& subject,
                                                        const std::string& msg_id, bool* retry);
  // The stream's last sequence; nullopt when the stream does not exist.
  absl::StatusOr<std::optional<uint64_t>> ReadStreamLastSeq() const;
  // Before the applier reads the log: the stream exists and reaches the
  // store's position (creating it for a store that applied nothing). OK:
  // apply; UNAVAILABLE: ask again later; FAILED_PRECONDITION: the log is
  // behind the store and the node is halted.
  absl::Status CheckLog();
  // `applied` (read before the stream) is beyond the log's end `last`: when
  // every read, 500 ms apart, agrees for 3 s (a JetStream cluster electing
  // its leaders may answer from stale state for a moment), halts the node
  // (FAILED_PRECONDITION); UNAVAILABLE otherwise.
  absl::Status HaltIfStillBehind(uint64_t applied, std::optional<uint64_t> last);
  // Stops applying and leading for good (until restarted): `why` becomes
  // the applier error; proposals waiting are answered UNAVAILABLE.
  void Halt(absl::string_view event, const std::string& why, uint64_t ahead_of_log);
  // Stops applying for good (until restarted): `why` becomes the applier
  // error (unless one is set), the proposals waiting are answered
  // UNAVAILABLE, the node stops leading (the lease thread gives the lease
  // back) and lifelong_replication_applier_stopped is 1; logs `event`.
  void StopApplier(absl::string_view event, const std::string& why,
                   std::optional<uint64_t> ahead_of_log = std::nullopt);
  // The applier could not apply operation `seq` (`failure`; it has been
  // failing since `failing_since`) and will try it again. A failure that is
  // not UNAVAILABLE is the same on every try, and UNAVAILABLE for longer
  // than kApplyStallLimit is a store that cannot write: either way the node
  // stops leading and taking writes (apply_stalled_, shown as the applier
  // error; proposals waiting are answered UNAVAILABLE) until ApplyRecovered.
  // Never skips the operation. Applier thread only.
  void ApplyFailed(uint64_t seq, const absl::Status& failure, absl::Time failing_since);
  // The operation that failed is applied: the stall is over.
  void ApplyRecovered();
  void FailWaitersLocked(const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // applier_error_, or else apply_stalled_: why this node does not apply
  // the log now ("" when it does).
  const std::string& StoppedReasonLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // libnats's PubAck callback (jsOptions.PublishAsync.AckHandler).
  static void OnPubAck(::__jsCtx* js, ::__natsMsg* msg, ::jsPubAck* pa, ::jsPubAckErr* pae, void* closure);
  void ApplierLoop();
  // Applies one run of messages; false when the applier must re-subscribe.
  void LeaseLoop();
  void StepDown(absl::string_view why);
  void SetLeader(const std::string& leader);
  void Deliver(const std::string& msg_id, uint64_t seq, const std::function<void(Waiter*)>& fill);
  // After applying an erasure at `erase_seq`: erases the learner's own
  // subject's messages below it from the stream. UNAVAILABLE (logged) when
  // some could not be listed or erased.
  absl::Status PurgeErased(const std::string& learner, uint64_t erase_seq);
  // The stream sequences of the messages on `subject` below `below`.
  absl::StatusOr<std::vector<uint64_t>> SequencesOn(const std::string& subject, uint64_t below) const;
  // Whether the stream is known not to hold the message at `seq` (erased,
  // deleted or trimmed); false when it holds it or cannot be asked.
  bool GoneFromLog(uint64_t seq) const;
  // Whether the stream still holds the message at `seq` (LogCursor).
  absl::StatusOr<bool> StillInLog(uint64_t seq) const;
  // Log retention: this node's position into the positions bucket; on the
  // leader, every trim_interval, the log below FirstSeqToKeep removed.
  void RetentionLoop();
  void ReportPosition();
  // The positions bucket's keys of every node but this one (nullopt when
  // the bucket cannot be read), and whether one of them reports an applied
  // position of at least `seq` (true when its key is gone; false when it
  // cannot be read).
  std::optional<std::vector<std::string>> OtherNodePositionKeys() const;
  bool NodeReportsApplied(const std::string& key, uint64_t seq) const;
  // Leader, after its erasure at `seq` was applied here: waits until
  // every other node reports `seq` applied or ReadRefusalBound() since
  // `published` (logged and counted then).
  void AwaitErasureEverywhere(uint64_t seq, absl::Time published);
  // The lease thread's round: TTL/4, at least 50 ms.
  absl::Duration LeaseTick() const;
  // A read of the log's end, started at `read_start_ns`, found `last`:
  // remembered in unapplied_seen_ while this node has not applied it.
  void NoteLogEnd(uint64_t last, int64_t read_start_ns);
  void TrimLog();
  // The "trimmed_below" key (0 when absent).
  absl::StatusOr<uint64_t> ReadTrimmedBelow() const;
  // Leader only, after applying an erasure at `erase_seq`: re-publishes what
  // the shared messages naming `learner` still hold for others (a kRestore
  // operation), then erases those messages from the stream. UNAVAILABLE
  // (logged) when a step failed: the messages it could not re-publish stay
  // in the log (and marked), so that the erasure asked again scrubs them;
  // the erasure is then not answered as done.
  absl::Status ScrubShared(const std::string& learner, uint64_t erase_seq);

  const ReplicatorOptions options_;
  std::unique_ptr<Nats> nats_;
  RecordStore* store_ = nullptr;
  xapi::DocumentStore* documents_ = nullptr;

  std::atomic<bool> stop_{false};
  std::atomic<bool> resign_{false};
  std::atomic<bool> resigned_{false};  // the lease thread released the lease
  std::atomic<bool> connected_{false};
  std::atomic<int> role_{kRoleFollower};
  std::atomic<uint64_t> log_last_seq_{0};
  // When log_last_seq_ was last read from the stream (steady clock, ns; 0:
  // never).
  std::atomic<int64_t> log_last_read_ns_{0};
  std::atomic<uint64_t> leader_changes_{0};
  std::atomic<uint64_t> consumer_restarts_{0};
  std::atomic<uint64_t> erasures_unconfirmed_{0};
  // The applier applied an erasure: the retention thread reports this
  // node's position now rather than at its next interval.
  std::atomic<bool> report_position_now_{false};
  // When the lease this node last won or renewed counts as expired
  // (steady clock, ns; 0: not held). Written by the lease thread.
  std::atomic<int64_t> lease_deadline_ns_{0};
  std::atomic<int> in_flight_{0};  // proposals between CheckWritable and their answer
  std::thread applier_;
  std::thread lease_;
  std::thread retention_;
  std::atomic<uint64_t> trimmed_below_{0};
  // CheckLog found the log in step with the store: the lease may be taken.
  std::atomic<bool> log_checked_{false};
  std::atomic<bool> halted_{false};  // Halt: nothing more is applied or led
  std::atomic<uint64_t> ahead_of_log_{0};
  metrics::Gauge* ahead_of_log_gauge_ = nullptr;            // lifelong_replication_store_ahead_of_log
  metrics::Gauge* applier_stopped_gauge_ = nullptr;         // lifelong_replication_applier_stopped
  absl::Time apply_failure_logged_ = absl::InfinitePast();  // applier thread only
  absl::Mutex backup_source_mu_;
  OldestBackupSource backup_source_ ABSL_GUARDED_BY(backup_source_mu_);

  mutable absl::Mutex mu_;
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  std::string leader_ ABSL_GUARDED_BY(mu_);
  std::string applier_error_ ABSL_GUARDED_BY(mu_);  // stopped for good (until restarted)
  // The next operation fails to apply and is being retried (ApplyFailed);
  // "" once it applies.
  std::string apply_stalled_ ABSL_GUARDED_BY(mu_);
  std::multimap<std::string, Waiter*> waiters_ ABSL_GUARDED_BY(mu_);  // by message id
  // Ends of the log this node has read and not yet applied, each with the
  // start of the read that first found it (steady ns), in increasing order:
  // the first one above applied_ says since when this node is behind
  // (CheckServingReads). At most kMaxUnappliedSeen.
  static constexpr size_t kMaxUnappliedSeen = 64;
  std::deque<std::pair<uint64_t, int64_t>> unapplied_seen_ ABSL_GUARDED_BY(mu_);

  // Stored-sequence ranges of record operations, taken in publish order.
  absl::Mutex order_mu_;
  uint64_t reserved_end_ ABSL_GUARDED_BY(order_mu_) = 0;
  // Asynchronous publishes waiting for their PubAck, by correlation header.
  absl::Mutex pub_mu_;
  std::map<std::string, PubWait*> pub_waits_ ABSL_GUARDED_BY(pub_mu_);

  // Touched by the lease thread only.
  bool leading_ = false;
  uint64_t lease_revision_ = 0;
  absl::Time last_renewal_;
  // Consecutive ticks that found the log behind the store, since when.
  int behind_reads_ = 0;
  absl::Time behind_since_;
};

}  // namespace lifelong::records::replication

#endif  // LIFELONG_SERVICES_RECORDS_REPLICATION_REPLICATOR_H_
