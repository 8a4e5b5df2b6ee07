// The gRPC handler of lifelong.v1.LearningRecordService: authorizes each call
// (auth::Authorizer and the role table), validates requests, calls
// RecordStore, audits personal-data access, and maps absl::Status to gRPC
// status once, on the way out. Thread-safe; owns neither store nor authorizer.
#ifndef LIFELONG_SERVICES_RECORDS_RECORDS_SERVICE_H_
#define LIFELONG_SERVICES_RECORDS_RECORDS_SERVICE_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/common/raw_request.h"
#include "services/common/stream_watchdog.h"
#include "services/records/audit_log.h"
#include "services/records/backups.h"
#include "services/records/kiosk_passes.h"
#include "services/records/learner_cards.h"
#include "services/records/learner_change_feed.h"
#include "services/records/record_store.h"
#include "services/records/statement_access.h"

namespace lifelong::records {

// Initial metadata of ExportStatements: the store's erasure epoch when the
// export started (RecordStore::GetErasureEpoch), in decimal.
inline constexpr absl::string_view kErasureEpochHeader = "x-lifelong-erasure-epoch";

// Largest batch accepted by RecordStatements.
inline constexpr int kMaxBatchStatements = 1000;
// The largest gRPC request records_server accepts (larger: RESOURCE_EXHAUSTED
// from the transport, before any handler), as the xAPI endpoint's body limit.
// A statement is at most 1 MiB; a RecordStatements batch of bigger ones is
// split by the client (`lifelong import` cuts its batches at
// kImportBatchBytes). Requests are parsed before their credentials are
// checked, RecordStatements' excepted (its raw path): the bound keeps what a
// caller without credentials can make the server parse small (gRPC's default
// was 64 MiB).
inline constexpr int kRecordsMaxReceiveBytes = 16 << 20;
// The largest request of every method but RecordStatement(s) (ids, filters,
// page tokens, a PIN: under a kilobyte in practice). Checked before the
// request is parsed.
inline constexpr size_t kMaxQueryRequestBytes = 64 << 10;

// Echo is a callback-API (reactor) method, answered on gRPC's own thread
// without the sync server's hand-off to a handler thread (it never blocks:
// with authentication on it checks the token against the verified-token
// cache and, only for a refused call, writes one audit row); the other
// methods but RecordStatement (below) are synchronous, because they read or
// write RocksDB. Interceptors
// (metrics, request ids, access log) and authentication apply to Echo as to
// every method; the --max_concurrent_calls thread quota does not (it bounds
// handler threads, and Echo takes none). Measured: docs/benchmarks.md,
// "Share of the bare gRPC server (issue 16)".
//
// RecordStatement is a callback method too, without blocking gRPC's thread on
// the fsync: the handler authorizes, validates and checks the statement on
// gRPC's thread, hands it to the store's group commit
// (RecordStore::RecordAsync) and returns; the thread that committed the group
// audits the call and finishes it once the write is synced (the reply is never
// sent before the statement is durable). Outside the thread quota, the
// writes in flight are bounded by Options::max_pending_writes: past it a call
// is refused at once, before authentication, with the overload refusal of
// the thread quota (overload.h: RESOURCE_EXHAUSTED, retry hint,
// grpc-retry-pushback-ms trailer). A call cancelled by its client (or past its
// deadline) while its write is queued is still written and then finished
// (gRPC discards the reply), as a synchronous handler would have done; the
// call's request, reply and context live until that Finish.
//
// No request is parsed before its caller has proved who they are, nor past
// its method's limit (kMaxQueryRequestBytes; RecordStatement and
// RecordStatements: a wire walk counting their fields, within
// kRecordsMaxReceiveBytes): parsing costs memory, up to 30 bytes a wire byte
// for a message of empty or unknown fields, and gRPC would parse every
// request before any handler runs. So the service registers its methods
// itself (RegisterMethods) instead of deriving from the generated
// LearningRecordService::Service: the same names and kinds, each request
// received as raw bytes. Echo, RecordStatement and RecordStatements are
// callback methods on those bytes; every synchronous method runs behind
// GateRequest, which authenticates the caller, checks the size and only then
// parses, and then runs the method as before (Run authorizes as ever). A call
// refused there answers UNAUTHENTICATED (audited and limited per address, as
// Run does) or RESOURCE_EXHAUSTED naming the method's limit; bytes that do
// not parse are INVALID_ARGUMENT. In-process callers call the methods
// directly, with parsed requests.
class RecordsService final : public grpc::Service {
 public:
  struct Options {
    // nullptr: every caller is trusted (tests and local development).
    auth::Authorizer* authorizer = nullptr;
    // Run by EraseLearner after the learner's statements are gone (the xAPI
    // documents of the learner); returns how many items it erased.
    std::function<absl::StatusOr<int64_t>(const std::string& learner)> erase_hook;
    // Server-side deadline of the export streams: past it a stream ends with
    // DEADLINE_EXCEEDED (clients resume from the last cursor). Unary calls
    // are bounded by their page and batch limits.
    absl::Duration max_stream_duration = absl::Minutes(30);
    // An export stream whose client takes no message for this long (one
    // Write held back by flow control: the client does not read) is
    // cancelled, and so is one whose Write still waits this long past
    // max_stream_duration (services/common/stream_watchdog.h): a client that
    // stops reading cannot keep a handler thread, its in-flight slot and a
    // store scan. The change feed's writes and its waits for a watcher's
    // acknowledgement are watched the same way. records_server's
    // --stream_stall_timeout_seconds. > 0.
    absl::Duration stream_stall_timeout = absl::Seconds(30);
    // Kiosk passes: lifetime, per-kiosk guess limit (kiosk_passes.h).
    KioskPassOptions kiosk_passes;
    // Sampling of refusals and the per-address limit on calls without a
    // valid credential (audit_log.h).
    AuditLogOptions audit;
    // CreateBackup/ListBackups/VerifyBackup; null: FAILED_PRECONDITION.
    // Not owned.
    BackupManager* backups = nullptr;
    // Learner cards: PIN hashing, per-card lock and block, per-kiosk limit
    // (learner_cards.h).
    LearnerCardOptions learner_cards;
    // Most RecordStatement writes queued or committing at once (the callback
    // method takes no handler thread, so the thread quota does not bound
    // it); 0: no limit. records_server sets it to --max_concurrent_calls.
    int max_pending_writes = 0;
    // A learner erases their own records at most once in this interval
    // (RESOURCE_EXHAUSTED before): each erasure flushes every column family
    // and compacts what it touched, so a learner writing and erasing in a
    // loop made the whole store flush and compact ~90 times a second.
    // Operators' erasures are not limited. Zero: no limit.
    absl::Duration learner_erase_interval = absl::Minutes(1);
    // Whether this node's store is current enough to serve reads of learner
    // data (a replicated node: Replicator::CheckServingReads); unset: always.
    // While it is not, the methods that read learner data (GetStatement,
    // ListStatements, GetTranscript, the exports, GetErasureEpoch,
    // WatchLearnerChanges, the kiosk-pass and card redemptions and
    // GetLearnerCard) answer its UNAVAILABLE, except to an operator who asks
    // with the metadata kStaleReadsHeader: "allow" (statement_access.h).
    ReadGate read_gate;
  };
  explicit RecordsService(RecordStore* store) : RecordsService(store, Options()) {}
  // Registers the service's change feed as the store's change listener (one
  // RecordsService per store). The listener keeps the feed alive, so either
  // may be destroyed first; the destructor closes the feed.
  RecordsService(RecordStore* store, Options options);
  ~RecordsService() override;

  // Ends every WatchLearnerChanges stream; call before shutting the server
  // down, so that the streams do not hold the shutdown for its grace period.
  void CloseChangeFeed() { feed_->Close(); }
  const LearnerChangeFeed& change_feed() const { return *feed_; }
  // Streams (exports, change-feed watchers) cancelled for a client that
  // stopped reading or acknowledging, or for running past their limit while
  // blocked (lifelong_grpc_streams_cancelled_total).
  StreamWatchdog::Stats stream_watchdog_stats() const { return watchdog_->stats(); }
  AuditLog& audit_log() { return *audit_; }
  // RecordStatement and RecordStatements (wire) calls admitted whose write
  // is not finished yet.
  int pending_writes() const { return pending_writes_.load(std::memory_order_relaxed); }

  // On the wire: raw bytes, parsed once the caller is admitted and the bytes
  // hold at most 16 fields (a statement over kMaxStatementBytes is then
  // refused by its parse, INVALID_ARGUMENT naming it).
  grpc::ServerUnaryReactor* RecordStatement(grpc::CallbackServerContext*, const grpc::ByteBuffer*, grpc::ByteBuffer*);
  // On the wire: raw bytes, parsed only once the caller is admitted and
  // the bytes hold at most kMaxBatchStatements statements (a message of
  // millions of empty strings was parsed, some 30 bytes of memory a wire
  // byte, before its credentials were looked at); written asynchronously
  // like RecordStatement, under the same pending-write bound.
  grpc::ServerUnaryReactor* RecordStatements(grpc::CallbackServerContext*, const grpc::ByteBuffer*, grpc::ByteBuffer*);
  // The same call on a parsed request, synchronously (in-process callers).
  grpc::Status RecordStatements(grpc::ServerContext*, const v1::RecordStatementsRequest*,
                                v1::RecordStatementsResponse*);
  grpc::Status GetStatement(grpc::ServerContext*, const v1::GetStatementRequest*, v1::Statement*);
  grpc::Status ListStatements(grpc::ServerContext*, const v1::ListStatementsRequest*, v1::ListStatementsResponse*);
  grpc::Status VoidStatement(grpc::ServerContext*, const v1::VoidStatementRequest*, v1::Statement*);
  grpc::Status GetTranscript(grpc::ServerContext*, const v1::GetTranscriptRequest*, v1::Transcript*);
  grpc::Status ExportLearner(grpc::ServerContext*, const v1::ExportLearnerRequest*, grpc::ServerWriter<v1::Statement>*);
  grpc::Status EraseLearner(grpc::ServerContext*, const v1::EraseLearnerRequest*, v1::EraseLearnerResponse*);
  grpc::Status GetErasureEpoch(grpc::ServerContext*, const v1::GetErasureEpochRequest*, v1::ErasureEpoch*);
  grpc::Status ExportStatements(grpc::ServerContext*, const v1::ExportStatementsRequest*,
                                grpc::ServerWriter<v1::Statement>*);
  // Acknowledgements arrive as raw bytes, parsed (within
  // kMaxLearnerChangesAckBytes) once Run has admitted the caller.
  grpc::Status WatchLearnerChanges(grpc::ServerContext*,
                                   grpc::ServerReaderWriter<v1::LearnerChanges, grpc::ByteBuffer>*);
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext*, const grpc::ByteBuffer*, grpc::ByteBuffer*);
  grpc::Status ListAuditEvents(grpc::ServerContext*, const v1::ListAuditEventsRequest*, v1::ListAuditEventsResponse*);
  grpc::Status CreateKioskPass(grpc::ServerContext*, const v1::CreateKioskPassRequest*, v1::KioskPass*);
  grpc::Status RedeemKioskPass(grpc::ServerContext*, const v1::RedeemKioskPassRequest*, v1::KioskSession*);
  grpc::Status CreateBackup(grpc::ServerContext*, const v1::CreateBackupRequest*, v1::Backup*);
  grpc::Status ListBackups(grpc::ServerContext*, const v1::ListBackupsRequest*, v1::ListBackupsResponse*);
  grpc::Status VerifyBackup(grpc::ServerContext*, const v1::VerifyBackupRequest*, v1::Backup*);
  grpc::Status BindLearnerCard(grpc::ServerContext*, const v1::BindLearnerCardRequest*, v1::LearnerCard*);
  grpc::Status UnbindLearnerCard(grpc::ServerContext*, const v1::UnbindLearnerCardRequest*, v1::LearnerCard*);
  grpc::Status GetLearnerCard(grpc::ServerContext*, const v1::GetLearnerCardRequest*, v1::LearnerCard*);
  grpc::Status RedeemLearnerCard(grpc::ServerContext*, const v1::RedeemLearnerCardRequest*, v1::KioskSession*);

 private:
  // A handler body: runs with the call's grant and names the learner whose
  // records it touched (for the audit log).
  using Body = std::function<absl::Status(const auth::AccessGrant&, std::string* learner)>;
  // Authenticates and authorizes `method`, runs `body`, audits the outcome
  // when authentication is on (every call with a verified principal when
  // `audited`; calls without a valid credential always, sampled, and limited
  // per client address), and maps the status.
  // `ctx` may be null (direct calls from benchmarks); a CallbackServerContext for Echo.
  grpc::Status Run(grpc::ServerContextBase* ctx, absl::string_view method, bool audited, const Body& body);
  // Run's parts. Admit authenticates and authorizes `op` (the full method
  // name): false with `*refused` set (and audited as Run does) when the call
  // may not go on. Conclude audits the outcome `s` of an admitted call as Run
  // does and maps it.
  bool Admit(grpc::ServerContextBase* ctx, const std::string& op, absl::StatusOr<auth::AccessGrant>* grant,
             grpc::Status* refused);
  // Admit's first half, with authentication on: the caller's principal, or
  // false with `*refused` set (audited and limited per address).
  bool Authenticate(grpc::ServerContextBase* ctx, const std::string& op, absl::StatusOr<auth::Principal>* principal,
                    grpc::Status* refused);
  // The size check and parse of a request's bytes (the gate; see the class
  // comment): RESOURCE_EXHAUSTED over `max_bytes` (audited with `principal`;
  // null: not audited here), INVALID_ARGUMENT for bytes that do not parse.
  absl::Status ParseRequest(const std::string& op, const auth::Principal* principal, size_t max_bytes,
                            const grpc::ByteBuffer& raw, google::protobuf::Message* req);
  // The gate in front of a synchronous method: authenticates the caller, then
  // ParseRequest with kMaxQueryRequestBytes. Not OK: the call's answer.
  grpc::Status GateRequest(grpc::ServerContext* ctx, absl::string_view method, const grpc::ByteBuffer& raw,
                           google::protobuf::Message* req);
  // The service's methods, as gRPC's generated Service would add them but
  // for their requests, raw bytes until the gate has passed them
  // (constructor).
  void RegisterMethods();
  grpc::Status Conclude(grpc::ServerContextBase* ctx, const std::string& op, bool audited, const auth::AccessGrant& g,
                        const std::string& learner, const absl::Status& s);
  // Mints the kiosk session of `learner` for the kiosk of `g` (pass codes and
  // learner cards alike).
  absl::Status MintKioskSession(const auth::AccessGrant& g, const std::string& learner, v1::KioskSession* resp);
  // One statement of RecordStatement, ready for the store: parsed, checked
  // (actor, voiding) and its issuer set; `learner` names whose it is.
  absl::StatusOr<ParsedStatement> CheckOne(const auth::AccessGrant& g, const std::string& json, std::string* learner);
  // RecordStatements' checks of every statement (INVALID_ARGUMENT naming
  // statement_json[i], PERMISSION_DENIED, ...), and its answer.
  absl::StatusOr<std::vector<ParsedStatement>> CheckBatch(const auth::AccessGrant& g,
                                                          const v1::RecordStatementsRequest& req, std::string* learner);
  static void FillBatchResponse(const v1::RecordStatementsRequest& req, std::vector<StoredStatement> stored,
                                v1::RecordStatementsResponse* resp);
  // A write on the callback API (RecordStatement, RecordStatements on the
  // wire): a pending-write slot (RESOURCE_EXHAUSTED over
  // max_pending_writes), Admit, the deadline, then `prepare` builds the
  // batch (its error answers the call), RecordStore::RecordAsync writes it,
  // and `answer` fills the response on the committing thread before Finish.
  // Audited as Run audits.
  using PrepareWrite =
      std::function<absl::StatusOr<std::vector<ParsedStatement>>(const auth::AccessGrant&, std::string* learner)>;
  using AnswerWrite = std::function<void(std::vector<StoredStatement>)>;
  grpc::ServerUnaryReactor* StartWrite(grpc::CallbackServerContext* ctx, absl::string_view method, PrepareWrite prepare,
                                       AnswerWrite answer);
  // EraseLearner's wait_for_purge: waits for the store's purge requests up
  // to `ticket` (RecordStore::PurgeRequests). true once purged; false when
  // the call's deadline is about to pass or the call was cancelled (the
  // purge goes on); a failed purge's error.
  absl::StatusOr<bool> WaitForPurge(grpc::ServerContext* ctx, uint64_t ticket) const;

  RecordStore* store_;
  Options options_;
  std::shared_ptr<LearnerChangeFeed> feed_ = std::make_shared<LearnerChangeFeed>();
  // The export streams' and change-feed watchers' (Options::stream_stall_timeout).
  std::unique_ptr<StreamWatchdog> watchdog_;
  std::unique_ptr<auth::Authorizer> trust_everyone_;
  auth::Authorizer* auth_;

  std::unique_ptr<KioskPasses> passes_;
  std::unique_ptr<LearnerCards> cards_;
  std::unique_ptr<AuditLog> audit_;
  MethodPaths method_paths_{"lifelong.v1.LearningRecordService"};
  // RecordStatement writes admitted and not yet finished.
  std::atomic<int> pending_writes_{0};
  // When each learner last erased their own records (Options::
  // learner_erase_interval); entries older than the interval are dropped.
  absl::Mutex erase_mu_;
  std::map<std::string, absl::Time> last_self_erase_ ABSL_GUARDED_BY(erase_mu_);
};

// Fills `out` from a stored statement; without `json` unless `with_json`.
void ToProto(const StoredStatement& s, v1::Statement* out, bool with_json = true);
// The same, moving the record's strings into `out` instead of copying them.
void ToProto(StoredStatement&& s, v1::Statement* out, bool with_json = true);

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_RECORDS_SERVICE_H_
