#include "services/records/records_service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/support/method_handler.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/auth/grpc_auth.h"
#include "services/auth/permissions.h"
#include "services/common/grpc_status.h"
#include "services/common/log.h"
#include "services/common/overload.h"
#include "services/common/raw_request.h"
#include "services/common/status_macros.h"
#include "services/domain/vocabulary.h"
#include "services/records/statement_access.h"
#include "services/records/transcript.h"

namespace lifelong::records {
namespace {

void SetTimestamp(int64_t micros, google::protobuf::Timestamp* ts) {
  int64_t secs = micros / 1000000;
  int64_t rem = micros % 1000000;
  if (rem < 0) {
    rem += 1000000;
    secs -= 1;
  }
  ts->set_seconds(secs);
  ts->set_nanos(static_cast<int32_t>(rem * 1000));
}

// Proto timestamps in requests: valid range is that of RFC 3339 (years 1-9999).
absl::StatusOr<int64_t> TimestampMicros(const google::protobuf::Timestamp& ts, absl::string_view field) {
  constexpr int64_t kMin = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
  if (ts.seconds() < kMin || ts.seconds() > kMax || ts.nanos() < 0 || ts.nanos() > 999999999) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": timestamp out of range"));
  }
  return ts.seconds() * 1000000 + ts.nanos() / 1000;
}

absl::StatusOr<ParsedStatement> ParseAt(const std::string& json, absl::string_view prefix) {
  absl::StatusOr<ParsedStatement> p = ParseStatement(json);
  if (!p.ok() && !prefix.empty()) {
    return absl::Status(p.status().code(), absl::StrCat(prefix, ": ", p.status().message()));
  }
  return p;
}

// Streams the statements a store scan yields to `writer`, stopping when the
// client cancels or goes away.
template <typename Scan>
absl::Status StreamStatements(grpc::ServerContext* ctx, grpc::ServerWriter<v1::Statement>* writer, bool with_json,
                              absl::Duration max_duration, StreamWatchdog* watchdog, const char* method, Scan scan) {
  bool cancelled = false, too_long = false;
  const absl::Time end = absl::Now() + max_duration;
  // Writes watched: a client that stops reading is cancelled (a Write that
  // waits past the stall timeout, or past the end and a stall timeout), so
  // that it cannot keep this thread, its in-flight slot and the scan.
  std::unique_ptr<StreamWatchdog::Stream> watched = watchdog->Watch(ctx, method, end);
  int64_t sent = 0;
  v1::Statement out;
  std::function<bool(const StoredStatement&)> fn = [&](const StoredStatement& st) {
    if (ctx->IsCancelled()) {
      cancelled = true;
      return false;
    }
    if ((++sent & 1023) == 0 && absl::Now() > end) {  // the server-side deadline of a stream
      too_long = true;
      return false;
    }
    out.Clear();
    ToProto(st, &out, with_json);
    return watched->Write(writer, out);
  };
  absl::Status s = scan(fn);
  const StreamWatchdog::Verdict verdict = watched->verdict();
  if (verdict == StreamWatchdog::Verdict::kStalled) {
    // The client sees CANCELLED; this status is for the access log and audit.
    return absl::DeadlineExceededError(absl::StrCat("stream: cancelled, the client took no message for ",
                                                    absl::FormatDuration(watchdog->stall_timeout())));
  }
  if (too_long || verdict == StreamWatchdog::Verdict::kTooLong) {
    return absl::DeadlineExceededError(absl::StrCat("stream: longer than the server's limit of ",
                                                    absl::FormatDuration(max_duration),
                                                    "; resume after the cursor of the last statement received"));
  }
  if (cancelled) return absl::CancelledError("export cancelled by the client");
  return s;
}

// The value of a request's metadata `key`, or "".
absl::string_view MetadataValue(grpc::ServerContextBase* ctx, absl::string_view key) {
  if (ctx == nullptr) return "";
  auto it = ctx->client_metadata().find(grpc::string_ref(key.data(), key.size()));
  return it == ctx->client_metadata().end() ? absl::string_view()
                                            : absl::string_view(it->second.data(), it->second.size());
}

absl::StatusOr<std::string> LearnerFrom(const std::string& key) { return CanonicalLearnerKey(key, "learner"); }

constexpr char kServicePrefix[] = "/lifelong.v1.LearningRecordService/";
constexpr absl::Duration kKioskSessionTtl = absl::Minutes(5);

// One RecordStatement call's place among the writes in flight
// (RecordsService::pending_writes_): taken when made, given back by Release
// or else when destroyed, once either way. Not thread-safe (one call's).
class PendingWriteSlot {
 public:
  explicit PendingWriteSlot(std::atomic<int>* pending)
      : pending_(pending), writes_before_(pending->fetch_add(1, std::memory_order_relaxed)) {}
  PendingWriteSlot(const PendingWriteSlot&) = delete;
  PendingWriteSlot& operator=(const PendingWriteSlot&) = delete;
  ~PendingWriteSlot() { Release(); }

  // The writes in flight when this one was taken.
  int writes_before() const { return writes_before_; }
  void Release() {
    if (pending_ != nullptr) pending_->fetch_sub(1, std::memory_order_relaxed);
    pending_ = nullptr;
  }

 private:
  std::atomic<int>* pending_;
  const int writes_before_;
};

}  // namespace

RecordsService::RecordsService(RecordStore* store, Options options) : store_(store), options_(std::move(options)) {
  if (options_.authorizer == nullptr) {
    trust_everyone_ = std::make_unique<auth::Authorizer>(auth::AuthOptions{});
    auth_ = trust_everyone_.get();
  } else {
    auth_ = options_.authorizer;
  }
  passes_ = std::make_unique<KioskPasses>(store_, options_.kiosk_passes);
  cards_ = std::make_unique<LearnerCards>(store_, options_.learner_cards);
  audit_ = std::make_unique<AuditLog>(store_, options_.audit);
  watchdog_ = std::make_unique<StreamWatchdog>(options_.stream_stall_timeout > absl::ZeroDuration()
                                                   ? options_.stream_stall_timeout
                                                   : RecordsService::Options().stream_stall_timeout);
  store_->SetChangeListener([feed = feed_](const std::vector<std::string>& learners) { feed->Publish(learners); });
  RegisterMethods();
}

RecordsService::~RecordsService() { feed_->Close(); }

grpc::Status RecordsService::WatchLearnerChanges(
    grpc::ServerContext* ctx, grpc::ServerReaderWriter<v1::LearnerChanges, grpc::ByteBuffer>* stream) {
  return Run(ctx, "WatchLearnerChanges", true, [&](const auth::AccessGrant&, std::string*) {
    return ServeLearnerChanges(feed_.get(), ctx, stream, watchdog_.get());
  });
}

bool RecordsService::Admit(grpc::ServerContextBase* ctx, const std::string& op,
                           absl::StatusOr<auth::AccessGrant>* grant, grpc::Status* refused) {
  // Authentication first, on its own: a call refused for its role or rate is
  // then audited with the principal it proved.
  if (!auth_->enabled()) {
    *grant = auth::AuthorizeCall(auth_, ctx, op);
  } else {
    absl::StatusOr<auth::Principal> principal = absl::UnknownError("not authenticated");
    if (!Authenticate(ctx, op, &principal, refused)) return false;
    *grant = auth_->AuthorizePrincipal(*principal, op);
    if (!grant->ok()) {
      audit_->RecordCall(*principal, op, "", absl::StatusCodeToString(grant->status().code()),
                         grant->status().message().substr(0, 200));
      *refused = ToGrpcStatus(grant->status());
      return false;
    }
  }
  if (!grant->ok()) {
    *refused = ToGrpcStatus(grant->status());
    return false;
  }
  return true;
}

bool RecordsService::Authenticate(grpc::ServerContextBase* ctx, const std::string& op,
                                  absl::StatusOr<auth::Principal>* principal, grpc::Status* refused) {
  *principal = auth_->Authenticate(auth::AuthorizationHeader(ctx));
  if (principal->ok()) return true;
  std::string address = ctx != nullptr ? AddressOfPeer(ctx->peer()) : "";
  absl::Status refusal = principal->status();
  if (!audit_->AllowUnauthenticated(address)) {
    refusal = absl::ResourceExhaustedError(absl::StrCat("too many calls without a valid credential from ",
                                                        address.empty() ? "this client" : address, "; slow down (",
                                                        principal->status().message().substr(0, 100), ")"));
  }
  audit_->RecordUnauthenticated(address, op, refusal);
  *refused = ToGrpcStatus(refusal);
  return false;
}

absl::Status RecordsService::ParseRequest(const std::string& op, const auth::Principal* principal, size_t max_bytes,
                                          const grpc::ByteBuffer& raw, google::protobuf::Message* req) {
  absl::Status s = ParseRawRequest(absl::string_view(op).substr(sizeof(kServicePrefix) - 1), max_bytes, raw, req);
  // A request over the bound is audited (a principal's misuse to see).
  if (absl::IsResourceExhausted(s) && principal != nullptr) {
    audit_->RecordCall(*principal, op, "", "RESOURCE_EXHAUSTED", std::string(s.message()));
  }
  return s;
}

grpc::Status RecordsService::GateRequest(grpc::ServerContext* ctx, absl::string_view method,
                                         const grpc::ByteBuffer& raw, google::protobuf::Message* req) {
  const std::string op = absl::StrCat(kServicePrefix, method);
  absl::StatusOr<auth::Principal> principal = absl::UnknownError("authentication off");
  grpc::Status refused;
  if (auth_->enabled()) {
    if (!Authenticate(ctx, op, &principal, &refused)) return refused;
    // A role the method is not granted to at all is refused before the
    // parse, with the refusal (and audit entry) the handler's Admit gives.
    if (absl::Status granted = auth_->CheckRoleGranted(*principal, op); !granted.ok()) {
      audit_->RecordCall(*principal, op, "", absl::StatusCodeToString(granted.code()),
                         granted.message().substr(0, 200));
      return ToGrpcStatus(granted);
    }
  }
  return ToGrpcStatus(ParseRequest(op, principal.ok() ? &*principal : nullptr, kMaxQueryRequestBytes, raw, req));
}

void RecordsService::RegisterMethods() {
  // In proto order. request_gate_test checks that every method of the
  // proto's service is served, and through the gate.
  auto unary = [this](const char* method, auto handler) {
    AddMethod(GatedUnaryMethod(method_paths_.Path(method), method, this, &RecordsService::GateRequest, handler));
  };
  auto server_stream = [this](const char* method, auto handler) {
    AddMethod(GatedServerStreamMethod(method_paths_.Path(method), method, this, &RecordsService::GateRequest, handler));
  };
  using RawHandler = grpc::ServerUnaryReactor* (RecordsService::*)(grpc::CallbackServerContext*,
                                                                   const grpc::ByteBuffer*, grpc::ByteBuffer*);
  auto raw_callback = [this](const char* method, RawHandler handler) {
    AddMethod(RawCallbackMethod(method_paths_.Path(method), this, handler));
  };
  raw_callback("RecordStatement", &RecordsService::RecordStatement);
  raw_callback("RecordStatements", &RecordsService::RecordStatements);
  unary("GetStatement", &RecordsService::GetStatement);
  unary("ListStatements", &RecordsService::ListStatements);
  unary("VoidStatement", &RecordsService::VoidStatement);
  unary("GetTranscript", &RecordsService::GetTranscript);
  server_stream("ExportLearner", &RecordsService::ExportLearner);
  unary("EraseLearner", &RecordsService::EraseLearner);
  server_stream("ExportStatements", &RecordsService::ExportStatements);
  unary("GetErasureEpoch", &RecordsService::GetErasureEpoch);
  // A stream of acknowledgements as raw bytes, each parsed by the method
  // itself (at most kMaxLearnerChangesAckBytes) once Run has admitted the
  // caller.
  AddMethod(new grpc::internal::RpcServiceMethod(
      method_paths_.Path("WatchLearnerChanges"), grpc::internal::RpcMethod::BIDI_STREAMING,
      new grpc::internal::BidiStreamingHandler<RecordsService, grpc::ByteBuffer, v1::LearnerChanges>(
          [](RecordsService* self, grpc::ServerContext* ctx,
             grpc::ServerReaderWriter<v1::LearnerChanges, grpc::ByteBuffer>* stream) {
            return self->WatchLearnerChanges(ctx, stream);
          },
          this)));
  raw_callback("Echo", &RecordsService::Echo);
  unary("ListAuditEvents", &RecordsService::ListAuditEvents);
  unary("CreateKioskPass", &RecordsService::CreateKioskPass);
  unary("RedeemKioskPass", &RecordsService::RedeemKioskPass);
  unary("BindLearnerCard", &RecordsService::BindLearnerCard);
  unary("UnbindLearnerCard", &RecordsService::UnbindLearnerCard);
  unary("GetLearnerCard", &RecordsService::GetLearnerCard);
  unary("RedeemLearnerCard", &RecordsService::RedeemLearnerCard);
  unary("CreateBackup", &RecordsService::CreateBackup);
  unary("ListBackups", &RecordsService::ListBackups);
  unary("VerifyBackup", &RecordsService::VerifyBackup);
}

grpc::Status RecordsService::Conclude(grpc::ServerContextBase* ctx, const std::string& op, bool audited,
                                      const auth::AccessGrant& g, const std::string& learner, const absl::Status& s) {
  if (audited && auth_->enabled()) {
    std::string detail(s.message().substr(0, 200));
    // The recommender names the end user it reads a history for.
    if (g.principal().role == auth::Role::kRecommender && ctx != nullptr) {
      auto it = ctx->client_metadata().find("x-lifelong-on-behalf-of");
      if (it != ctx->client_metadata().end()) {
        detail = absl::StrCat("on behalf of ", std::string(it->second.data(), std::min<size_t>(it->second.size(), 200)),
                              detail.empty() ? "" : "; ", detail);
      }
    }
    audit_->RecordCall(g.principal(), op, learner, s.ok() ? "OK" : absl::StatusCodeToString(s.code()), detail);
  }
  return ToGrpcStatus(s);
}

namespace {
// A call whose deadline passed while it queued is not started.
bool DeadlinePassed(grpc::ServerContextBase* ctx) {
  return ctx != nullptr && ctx->deadline() < std::chrono::system_clock::now();
}
constexpr char kDeadlinePassedMessage[] = "the call's deadline passed before it started";

// The methods that answer from a learner's stored records (or from the
// erasures and cards that decide whose they are): refused while the read
// gate says the store may be stale (Options::read_gate).
bool ReadsLearnerData(absl::string_view method) {
  static const auto* const kMethods = new absl::flat_hash_set<absl::string_view>{
      "GetStatement",    "ListStatements",      "GetTranscript",   "ExportLearner",  "ExportStatements",
      "GetErasureEpoch", "WatchLearnerChanges", "RedeemKioskPass", "GetLearnerCard", "RedeemLearnerCard"};
  return kMethods->contains(method);
}
}  // namespace

grpc::Status RecordsService::Run(grpc::ServerContextBase* ctx, absl::string_view method, bool audited,
                                 const Body& body) {
  std::string op = absl::StrCat(kServicePrefix, method);
  absl::StatusOr<auth::AccessGrant> grant = absl::UnknownError("not authorized");
  grpc::Status refused;
  if (!Admit(ctx, op, &grant, &refused)) return refused;
  std::string learner;
  absl::Status s;
  if (DeadlinePassed(ctx)) {
    s = absl::DeadlineExceededError(kDeadlinePassedMessage);
  } else if (ReadsLearnerData(method) &&
             !(s = CheckReadGate(options_.read_gate, grant->principal(), MetadataValue(ctx, kStaleReadsHeader))).ok()) {
    // A replicated node whose store may be stale (statement_access.h).
  } else {
    s = body(*grant, &learner);
  }
  return Conclude(ctx, op, audited, *grant, learner, s);
}

namespace {
// Whether `r` is a completion whose issuer may award credits (the flag set at
// write time with the stored authority; no JSON parse on the list path).
bool VerifiedCompletion(const StatementRecord& r) {
  return (r.verb == vocab::kCompleted || r.verb == vocab::kPassed) && r.Has(RecordFlag::kVerifiedIssuer);
}

void SetIndexedFields(const StoredStatement& s, v1::Statement* out) {
  const StatementRecord& r = s.record;
  out->set_id(FormatUuid(s.id));
  SetTimestamp(static_cast<int64_t>(r.stored_seq), out->mutable_stored());
  SetTimestamp(r.timestamp_us, out->mutable_timestamp());
  out->set_voided(r.Has(RecordFlag::kVoided));
  if (r.Has(RecordFlag::kVoided) && r.voided_by != Uuid{}) out->set_voided_by(FormatUuid(r.voided_by));
  out->set_cursor(absl::StrCat(r.stored_seq));
}
}  // namespace

void ToProto(const StoredStatement& s, v1::Statement* out, bool with_json) {
  const StatementRecord& r = s.record;
  out->set_verified(VerifiedCompletion(r));
  if (with_json) out->set_json(r.json);
  if (!r.learners.empty()) out->set_learner(r.learners.front());
  out->set_verb(r.verb);
  out->set_activity(r.activity);
  SetIndexedFields(s, out);
}

namespace {
// A store refusal of one statement of a RecordStatements batch (it carries
// the statement's index, RefusedStatementIndex), with its code, named by the
// statement's place in the batch: the store's "statement.id: <uuid> already
// exists ..." becomes "statement_json[i].id: <uuid> already exists ..." (the
// CLI's importer reads `i` from it); a message not naming a field of
// `statement` gets "statement_json[i]: " before it. Any other status as it is.
absl::Status NameRefusedStatement(const absl::Status& s) {
  const std::optional<size_t> index = RefusedStatementIndex(s);
  if (!index) return s;
  static constexpr absl::string_view kField = "statement";
  absl::string_view rest = s.message();
  std::string message;
  if (absl::StartsWith(rest, kField) && rest.size() > kField.size() &&
      (rest[kField.size()] == '.' || rest[kField.size()] == ':')) {
    message = absl::StrCat("statement_json[", *index, "]", rest.substr(kField.size()));
  } else {
    message = absl::StrCat("statement_json[", *index, "]: ", rest);
  }
  absl::Status named(s.code(), message);
  s.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) { named.SetPayload(url, payload); });
  return named;
}
}  // namespace

void ToProto(StoredStatement&& s, v1::Statement* out, bool with_json) {
  StatementRecord& r = s.record;
  out->set_verified(VerifiedCompletion(r));
  if (with_json) out->set_json(std::move(r.json));
  if (!r.learners.empty()) out->set_learner(std::move(r.learners.front()));
  out->set_verb(std::move(r.verb));
  out->set_activity(std::move(r.activity));
  SetIndexedFields(s, out);
}

grpc::ServerUnaryReactor* RecordsService::StartWrite(grpc::CallbackServerContext* ctx, absl::string_view method,
                                                     PrepareWrite prepare, AnswerWrite answer) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // What the committing thread needs once the write is synced (the grant is
  // move-only; a std::function must be copyable). Its slot among the
  // pending writes is taken here and given back before Finish, or when the
  // last copy of `pending` goes, whichever way the call ends (an exception
  // thrown before Finish included: the slot cannot leak).
  struct Pending {
    explicit Pending(std::atomic<int>* pending_writes) : slot(pending_writes) {}
    PendingWriteSlot slot;
    std::string op;
    absl::StatusOr<auth::AccessGrant> grant = absl::UnknownError("not authorized");
    std::string learner;
  };
  auto pending = std::make_shared<Pending>(&pending_writes_);
  pending->op = absl::StrCat(kServicePrefix, method);
  // Bounded as the thread quota bounds the synchronous methods: refused at
  // once, before any work, with the same refusal (overload.h).
  if (options_.max_pending_writes > 0 && pending->slot.writes_before() >= options_.max_pending_writes) {
    pending->slot.Release();
    const int ms = OverloadRetryAfterMs();
    ctx->AddTrailingMetadata(kRetryPushbackTrailer, std::to_string(ms));
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, OverloadRefusalMessage(ms)));
    return reactor;
  }
  // Audits the outcome and finishes the call. The grant is released (the
  // principal's in-flight slot, as Run releases it) before Finish, and Finish
  // is the last touch of this service by the call: after it the server (and
  // this service) may be shut down.
  auto finish = [this, ctx, reactor, pending](const absl::Status& s) {
    grpc::Status out = Conclude(ctx, pending->op, true, *pending->grant, pending->learner, s);
    pending->grant = absl::UnknownError("finished");
    pending->slot.Release();
    reactor->Finish(out);
  };
  grpc::Status refused;
  if (!Admit(ctx, pending->op, &pending->grant, &refused)) {
    pending->slot.Release();
    reactor->Finish(refused);
    return reactor;
  }
  if (DeadlinePassed(ctx)) {
    finish(absl::DeadlineExceededError(kDeadlinePassedMessage));
    return reactor;
  }
  absl::StatusOr<std::vector<ParsedStatement>> batch = prepare(*pending->grant, &pending->learner);
  if (!batch.ok()) {
    finish(batch.status());
    return reactor;
  }
  // A store refusal of one of RecordStatements' statements names its
  // statement_json[i] (NameRefusedStatement); RecordStatement's field is
  // `statement`, as the store names it.
  const bool batch_call = method == "RecordStatements";
  store_->RecordAsync(std::move(*batch), [answer = std::move(answer), finish = std::move(finish),
                                          batch_call](absl::StatusOr<std::vector<StoredStatement>> stored) {
    // On the committing thread, after the write is synced: `ctx` and the
    // response live until Finish, even when the client has cancelled meanwhile.
    if (stored.ok()) answer(std::move(*stored));
    finish(batch_call ? NameRefusedStatement(stored.status()) : stored.status());
  });
  return reactor;
}

namespace {
// Most fields a RecordStatementsRequest may carry on the wire: a statement
// each, the view, and a few more a newer client may send; a
// RecordStatementRequest: its statement, its view and the same few.
constexpr int kMaxBatchRequestFields = kMaxBatchStatements + 16;
constexpr int kMaxStatementRequestFields = 16;

// Walks the wire bytes of a request whose field 1 is its statements
// (RecordStatementsRequest, RecordStatementRequest) without parsing them:
// more than `max_statements` statements, or more than `max_fields` fields in
// all, is INVALID_ARGUMENT naming the field, before anything is allocated for
// them (parsing empty strings costs some 30 bytes of memory a wire byte: 16
// MiB of them were half a gigabyte). A statement's own size is checked by its
// parse (ParseStatement), which costs a byte a byte.
absl::Status CheckStatementsWire(absl::string_view bytes, int max_statements, int max_fields) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  int statements = 0, fields = 0;
  for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
    if (google::protobuf::internal::WireFormatLite::GetTagFieldNumber(tag) == 1 && ++statements > max_statements) {
      return absl::InvalidArgumentError(
          absl::StrCat("statement_json: at most ", max_statements, " statements per batch"));
    }
    if (++fields > max_fields) {
      return absl::InvalidArgumentError(absl::StrCat("request: more than ", max_fields, " fields"));
    }
    // A group's fields would be parsed one by one (unknown ones too) without
    // being counted here; the request has none.
    if (google::protobuf::internal::WireFormatLite::GetTagWireType(tag) ==
        google::protobuf::internal::WireFormatLite::WIRETYPE_START_GROUP) {
      return absl::InvalidArgumentError("request: field groups are not accepted");
    }
    if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) break;
  }
  return absl::OkStatus();  // malformed bytes: the parse below says so
}

// `raw` parsed into `req` once CheckStatementsWire has passed it.
absl::Status ParseStatementsWire(const grpc::ByteBuffer& raw, int max_statements, int max_fields,
                                 google::protobuf::Message* req) {
  // A request that arrived in one slice (most do) is read in place.
  grpc::Slice single;
  std::string joined;
  absl::string_view bytes;
  if (raw.TrySingleSlice(&single).ok()) {
    bytes = absl::string_view(reinterpret_cast<const char*>(single.begin()), single.size());
  } else {
    std::vector<grpc::Slice> slices;
    if (!raw.Dump(&slices).ok()) return absl::InvalidArgumentError("request: unreadable");
    joined.reserve(raw.Length());
    for (const grpc::Slice& slice : slices) joined.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    bytes = joined;
  }
  LL_RETURN_IF_ERROR(CheckStatementsWire(bytes, max_statements, max_fields));
  if (!req->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(absl::StrCat("request: not a ", req->GetDescriptor()->full_name()));
  }
  return absl::OkStatus();
}
}  // namespace

grpc::ServerUnaryReactor* RecordsService::RecordStatement(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* raw,
                                                          grpc::ByteBuffer* raw_response) {
  // Parsed once the caller is admitted (StartWrite runs `prepare` after
  // Admit); answered from the committing thread.
  // The request lives on this thread only (the committing thread frees
  // nothing of it); the answer needs only its view.
  auto with_json = std::make_shared<bool>(false);
  return StartWrite(
      ctx, "RecordStatement",
      [this, raw, with_json](const auth::AccessGrant& g,
                             std::string* learner) -> absl::StatusOr<std::vector<ParsedStatement>> {
        v1::RecordStatementRequest req;
        LL_RETURN_IF_ERROR(ParseStatementsWire(*raw, kMaxStatementRequestFields, kMaxStatementRequestFields, &req));
        *with_json = req.view() == v1::STATEMENT_VIEW_FULL;
        LL_ASSIGN_OR_RETURN(ParsedStatement p, CheckOne(g, req.statement_json(), learner));
        std::vector<ParsedStatement> batch;
        batch.push_back(std::move(p));
        return batch;
      },
      [with_json, raw_response](std::vector<StoredStatement> stored) {
        v1::Statement resp;
        ToProto(std::move(stored.front()), &resp, *with_json);
        bool own = false;
        grpc::SerializationTraits<v1::Statement>::Serialize(resp, raw_response, &own);
      });
}

grpc::ServerUnaryReactor* RecordsService::RecordStatements(grpc::CallbackServerContext* ctx,
                                                           const grpc::ByteBuffer* raw,
                                                           grpc::ByteBuffer* raw_response) {
  // Parsed only once the caller is admitted and the wire bytes are checked
  // (CheckStatementsWire); answered from the committing thread.
  auto req = std::make_shared<v1::RecordStatementsRequest>();
  return StartWrite(
      ctx, "RecordStatements",
      [this, raw, req](const auth::AccessGrant& g,
                       std::string* learner) -> absl::StatusOr<std::vector<ParsedStatement>> {
        LL_RETURN_IF_ERROR(ParseStatementsWire(*raw, kMaxBatchStatements, kMaxBatchRequestFields, req.get()));
        return CheckBatch(g, *req, learner);
      },
      [req, raw_response](std::vector<StoredStatement> stored) {
        v1::RecordStatementsResponse resp;
        FillBatchResponse(*req, std::move(stored), &resp);
        std::string out = resp.SerializeAsString();
        grpc::Slice slice(std::move(out));
        *raw_response = grpc::ByteBuffer(&slice, 1);
      });
}

grpc::Status RecordsService::RecordStatements(grpc::ServerContext* ctx, const v1::RecordStatementsRequest* req,
                                              v1::RecordStatementsResponse* resp) {
  return Run(ctx, "RecordStatements", true, [&](const auth::AccessGrant& g, std::string* learner) -> absl::Status {
    LL_ASSIGN_OR_RETURN(std::vector<ParsedStatement> batch, CheckBatch(g, *req, learner));
    absl::StatusOr<std::vector<StoredStatement>> stored = store_->Record(std::move(batch));
    if (!stored.ok()) return NameRefusedStatement(stored.status());
    FillBatchResponse(*req, *std::move(stored), resp);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<ParsedStatement>> RecordsService::CheckBatch(const auth::AccessGrant& g,
                                                                        const v1::RecordStatementsRequest& req,
                                                                        std::string* learner) {
  if (req.statement_json_size() == 0) {
    return absl::InvalidArgumentError("statement_json: at least one statement is required");
  }
  if (req.statement_json_size() > kMaxBatchStatements) {
    return absl::InvalidArgumentError(
        absl::StrCat("statement_json: at most ", kMaxBatchStatements, " statements per batch"));
  }
  std::vector<ParsedStatement> batch;
  batch.reserve(req.statement_json_size());
  for (int i = 0; i < req.statement_json_size(); ++i) {
    // The field name for error messages, on the stack (no allocation per
    // statement; kMaxBatchStatements has at most 4 digits).
    char field_buf[32];
    const absl::string_view field(field_buf, std::snprintf(field_buf, sizeof(field_buf), "statement_json[%d]", i));
    LL_ASSIGN_OR_RETURN(ParsedStatement p, ParseAt(req.statement_json(i), field));
    LL_RETURN_IF_ERROR(CheckStatementWrite(g, p, field));
    if (p.is_voiding) {
      LL_RETURN_IF_ERROR(CheckVoidingWrite(g, &p, *store_, absl::StrCat(field, ".object.id")));
    }
    SetIssuer(g, &p);
    if (i == 0 && !p.learners.empty()) *learner = p.learners.front();
    if (!p.learners.empty() && p.learners.front() != *learner) *learner = "(several)";
    batch.push_back(std::move(p));
  }
  return batch;
}

void RecordsService::FillBatchResponse(const v1::RecordStatementsRequest& req, std::vector<StoredStatement> stored,
                                       v1::RecordStatementsResponse* resp) {
  const bool full = req.view() == v1::STATEMENT_VIEW_FULL;
  resp->mutable_statements()->Reserve(static_cast<int>(stored.size()));
  for (StoredStatement& s : stored) ToProto(std::move(s), resp->add_statements(), full);
}

absl::StatusOr<ParsedStatement> RecordsService::CheckOne(const auth::AccessGrant& g, const std::string& json,
                                                         std::string* learner) {
  LL_ASSIGN_OR_RETURN(ParsedStatement p, ParseStatement(json));
  if (!p.learners.empty()) *learner = p.learners.front();
  LL_RETURN_IF_ERROR(CheckStatementWrite(g, p, "statement"));
  LL_RETURN_IF_ERROR(CheckVoidingWrite(g, &p, *store_, "statement.object.id"));
  SetIssuer(g, &p);
  return p;
}

grpc::Status RecordsService::GetStatement(grpc::ServerContext* ctx, const v1::GetStatementRequest* req,
                                          v1::Statement* resp) {
  return Run(ctx, "GetStatement", true, [&](const auth::AccessGrant& g, std::string* learner) -> absl::Status {
    absl::StatusOr<Uuid> id = ParseUuid(req->id());
    if (!id.ok()) return absl::InvalidArgumentError(absl::StrCat("id: ", id.status().message()));
    LL_ASSIGN_OR_RETURN(StoredStatement s, store_->Get(*id));
    if (!s.record.learners.empty()) *learner = s.record.learners.front();
    // A statement the caller may not read is reported as absent.
    if (!CheckStatementRead(g, s.record, "id").ok()) {
      return absl::NotFoundError(absl::StrCat("statement ", req->id(), " not found"));
    }
    ToProto(s, resp);
    return absl::OkStatus();
  });
}

grpc::Status RecordsService::ListStatements(grpc::ServerContext* ctx, const v1::ListStatementsRequest* req,
                                            v1::ListStatementsResponse* resp) {
  return Run(ctx, "ListStatements", true, [&](const auth::AccessGrant& g, std::string* learner) -> absl::Status {
    StatementQuery q;
    if (!req->learner().empty()) {
      LL_ASSIGN_OR_RETURN(q.learner, LearnerFrom(req->learner()));
      *learner = q.learner;
    }
    // No stored verb or activity is longer than kMaxKeyString: a longer
    // filter is a mistake, said as such (not an empty page).
    for (const auto& [name, value] : {std::pair<const char*, const std::string*>{"verb", &req->verb()},
                                      std::pair<const char*, const std::string*>{"activity", &req->activity()}}) {
      if (value->size() > kMaxKeyString) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": longer than ", kMaxKeyString, " bytes"));
      }
    }
    if (!req->verb().empty()) {
      if (!IsAbsoluteIri(req->verb())) return absl::InvalidArgumentError("verb: not an absolute IRI");
      q.verb = req->verb();
    }
    if (!req->activity().empty()) {
      if (!IsAbsoluteIri(req->activity())) return absl::InvalidArgumentError("activity: not an absolute IRI");
      q.activity = req->activity();
    }
    // Scope: a learner lists their own records, a teacher one of their
    // courses; either filter is then required.
    if (g.scope() == auth::Scope::kCourses) {
      LL_RETURN_IF_ERROR(auth::CheckCourse(g, vocab::CourseIdFromIri(q.activity), "activity"));
    } else {
      LL_RETURN_IF_ERROR(auth::CheckLearner(g, q.learner, "learner"));
    }
    if (!req->registration().empty()) {
      absl::StatusOr<Uuid> r = ParseUuid(req->registration());
      if (!r.ok()) return absl::InvalidArgumentError(absl::StrCat("registration: ", r.status().message()));
      q.registration = *r;
    }
    if (req->has_since()) {
      LL_ASSIGN_OR_RETURN(q.since_us, TimestampMicros(req->since(), "since"));
    }
    if (req->has_until()) {
      LL_ASSIGN_OR_RETURN(q.until_us, TimestampMicros(req->until(), "until"));
    }
    q.ascending = req->ascending();
    q.page_size = req->page_size() == 0 ? 50 : req->page_size();
    q.page_token = req->page_token();
    const bool basic = req->view() == v1::STATEMENT_VIEW_BASIC;
    // The byte budget bounds pages that carry the JSON; a basic page is a
    // few small fields a statement, and its records are kept without their
    // JSON (a page of 1,000 of the largest statements would hold 1 GiB).
    q.with_json = !basic;
    LL_ASSIGN_OR_RETURN(StatementPage page, store_->List(q));
    resp->mutable_statements()->Reserve(static_cast<int>(page.statements.size()));
    for (StoredStatement& s : page.statements) ToProto(std::move(s), resp->add_statements(), !basic);
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status RecordsService::VoidStatement(grpc::ServerContext* ctx, const v1::VoidStatementRequest* req,
                                           v1::Statement* resp) {
  return Run(ctx, "VoidStatement", true, [&](const auth::AccessGrant& g, std::string* learner) -> absl::Status {
    absl::StatusOr<Uuid> id = ParseUuid(req->id());
    if (!id.ok()) return absl::InvalidArgumentError(absl::StrCat("id: ", id.status().message()));
    LL_ASSIGN_OR_RETURN(StoredStatement target, store_->Get(*id));
    if (!target.record.learners.empty()) *learner = target.record.learners.front();
    if (!CheckStatementRead(g, target.record, "id").ok()) {
      return absl::NotFoundError(absl::StrCat("statement ", req->id(), " not found"));
    }
    if (target.record.Has(RecordFlag::kVoiding)) {
      return absl::FailedPreconditionError(
          absl::StrCat("id: ", req->id(), " is a voiding statement, which cannot be voided"));
    }
    std::string actor_key = req->actor();
    if (g.scope() != auth::Scope::kAny) {
      // A learner or a teacher voids as themself: naming another actor would
      // file "X voided ..." under a learner X who never did (only operators
      // and trusted feeds, scope any, record a correction in another's name).
      if (!actor_key.empty() && actor_key != g.principal().subject) {
        return absl::PermissionDeniedError(
            absl::StrCat("actor: a ", auth::RoleName(g.principal().role), " voids statements as themself"));
      }
      actor_key = g.principal().subject;
    }
    nlohmann::ordered_json actor;
    if (actor_key.empty()) {
      actor = {{"objectType", "Agent"},
               {"account", {{"homePage", std::string(vocab::kDistrictIdp)}, {"name", "district-operator"}}}};
    } else {
      LL_ASSIGN_OR_RETURN(std::string k, CanonicalLearnerKey(actor_key, "actor"));
      actor = {{"objectType", "Agent"}};
      if (k.rfind("mailto:", 0) == 0) {
        actor["mbox"] = k;
      } else if (k.rfind("sha1:", 0) == 0) {
        actor["mbox_sha1sum"] = k.substr(5);
      } else if (k.rfind("openid:", 0) == 0) {
        actor["openid"] = k.substr(7);
      } else if (k.rfind("account:", 0) == 0) {
        size_t bar = k.rfind('|');
        actor["account"] = {{"homePage", k.substr(8, bar - 8)}, {"name", k.substr(bar + 1)}};
      } else {
        actor["account"] = {{"homePage", std::string(vocab::kDistrictIdp)}, {"name", k}};
      }
    }
    nlohmann::ordered_json voiding = {
        {"actor", actor},
        {"verb", {{"id", std::string(vocab::kVoided)}, {"display", {{"en-US", "voided"}, {"zh-CN", "作废"}}}}},
        {"object", {{"objectType", "StatementRef"}, {"id", FormatUuid(*id)}}}};
    // The voiding statement is the grant holder's own act on a statement they
    // may read; it is stored without the actor check of CheckOne, but voiding
    // writes into the target's records: a learner voids only a statement of
    // their own alone (not a group's).
    LL_ASSIGN_OR_RETURN(ParsedStatement p, ParseStatement(voiding.dump()));
    LL_RETURN_IF_ERROR(CheckVoidingWrite(g, &p, *store_, "id"));
    SetIssuer(g, &p);
    std::vector<ParsedStatement> batch;
    batch.push_back(std::move(p));
    LL_ASSIGN_OR_RETURN(std::vector<StoredStatement> stored, store_->Record(std::move(batch)));
    ToProto(stored.front(), resp);
    return absl::OkStatus();
  });
}

grpc::Status RecordsService::GetTranscript(grpc::ServerContext* ctx, const v1::GetTranscriptRequest* req,
                                           v1::Transcript* resp) {
  return Run(ctx, "GetTranscript", true, [&](const auth::AccessGrant& g, std::string* learner) -> absl::Status {
    LL_ASSIGN_OR_RETURN(*learner, LearnerFrom(req->learner()));
    LL_RETURN_IF_ERROR(auth::CheckLearner(g, *learner, "learner"));
    // One statement at a time: the scan never holds the learner's statements.
    TranscriptBuilder builder;
    LL_RETURN_IF_ERROR(store_->ForEachOfLearner(*learner, [&](const StoredStatement& st) {
      builder.Add(st);
      return true;
    }));
    TranscriptData t = std::move(builder).Finish();
    resp->set_learner(*learner);
    for (const TranscriptLine& l : t.lines) {
      v1::TranscriptEntry* e = resp->add_entries();
      e->set_activity(l.activity);
      e->set_title(l.title);
      e->set_outcome(l.outcome);
      SetTimestamp(l.achieved_us, e->mutable_achieved());
      e->set_hours(l.hours);
      e->set_credits(l.credits);
      e->set_mode(l.mode);
      e->set_xuequ(l.xuequ);
      e->set_statement_id(l.statement_id);
      e->set_issuer(l.issuer);
      e->set_verified(l.verified);
      e->set_claimed_hours(l.claimed_hours);
      e->set_claimed_credits(l.claimed_credits);
    }
    resp->set_unverified_courses(t.total.unverified_courses);
    resp->set_courses(t.total.courses);
    resp->set_hours(t.total.hours);
    resp->set_credits(t.total.credits);
    auto fill = [](const std::map<std::string, TranscriptTotals>& m,
                   google::protobuf::RepeatedPtrField<v1::TranscriptTotal>* out) {
      for (const auto& [key, tot] : m) {
        v1::TranscriptTotal* x = out->Add();
        x->set_key(key);
        x->set_courses(tot.courses);
        x->set_hours(tot.hours);
        x->set_credits(tot.credits);
      }
    };
    fill(t.by_mode, resp->mutable_by_mode());
    fill(t.by_xuequ, resp->mutable_by_xuequ());
    return absl::OkStatus();
  });
}

grpc::Status RecordsService::ExportLearner(grpc::ServerContext* ctx, const v1::ExportLearnerRequest* req,
                                           grpc::ServerWriter<v1::Statement>* writer) {
  return Run(ctx, "ExportLearner", true, [&](const auth::AccessGrant& g, std::string* learner) -> absl::Status {
    LL_ASSIGN_OR_RETURN(*learner, LearnerFrom(req->learner()));
    LL_RETURN_IF_ERROR(auth::CheckLearner(g, *learner, "learner"));
    return StreamStatements(ctx, writer, /*with_json=*/true, options_.max_stream_duration, watchdog_.get(),
                            "ExportLearner", [&](const auto& fn) { return store_->ForEachOfLearner(*learner, fn); });
  });
}

grpc::Status RecordsService::EraseLearner(grpc::ServerContext* ctx, const v1::EraseLearnerRequest* req,
                                          v1::EraseLearnerResponse* resp) {
  return Run(ctx, "EraseLearner", true, [&](const auth::AccessGrant& g, std::string* learner) -> absl::Status {
    LL_ASSIGN_OR_RETURN(*learner, LearnerFrom(req->learner()));
    LL_RETURN_IF_ERROR(auth::CheckLearner(g, *learner, "learner"));
    if (g.scope() == auth::Scope::kSelf && options_.learner_erase_interval > absl::ZeroDuration()) {
      absl::MutexLock lock(&erase_mu_);
      const absl::Time now = absl::Now();
      for (auto it = last_self_erase_.begin(); it != last_self_erase_.end();) {
        it = now - it->second >= options_.learner_erase_interval ? last_self_erase_.erase(it) : std::next(it);
      }
      auto [it, first] = last_self_erase_.emplace(*learner, now);
      if (!first) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "learner: ", *learner, " erased their records less than ",
            absl::FormatDuration(options_.learner_erase_interval), " ago; retry in ",
            absl::FormatDuration(absl::Ceil(it->second + options_.learner_erase_interval - now, absl::Seconds(1)))));
      }
    }
    bool erased = false;  // the erasure itself happened (not only its purge)
    absl::Status done = [&]() -> absl::Status {
      // The live kiosk pass first, so that the store's purge covers it too.
      LL_RETURN_IF_ERROR(passes_->EraseLearner(*learner));
      LL_RETURN_IF_ERROR(cards_->EraseLearner(*learner));
      uint64_t purge_ticket = 0;
      LL_ASSIGN_OR_RETURN(int64_t n, store_->EraseLearner(*learner, &purge_ticket));
      if (options_.erase_hook) LL_RETURN_IF_ERROR(options_.erase_hook(*learner).status());
      erased = true;
      resp->set_erased_statements(n);
      if (req->wait_for_purge()) {
        LL_ASSIGN_OR_RETURN(bool purged, WaitForPurge(ctx, purge_ticket));
        resp->set_purged(purged);
      }
      return absl::OkStatus();
    }();
    if (!erased && g.scope() == auth::Scope::kSelf) {
      // A failed erasure (a full disk, say) may be retried at once: only
      // erasures that happened count against the interval.
      absl::MutexLock lock(&erase_mu_);
      last_self_erase_.erase(*learner);
    }
    if (!done.ok() && erased) {
      return absl::Status(done.code(), absl::StrCat("wait_for_purge: the statements of ", *learner, " are erased, but ",
                                                    done.message()));
    }
    return done;
  });
}

absl::StatusOr<bool> RecordsService::WaitForPurge(grpc::ServerContext* ctx, uint64_t ticket) const {
  // Answered a little before the caller's deadline (purged: false) rather
  // than past it, and in slices, so that a cancelled call or a server
  // shutting down (which cancels its calls) does not hold a thread.
  constexpr absl::Duration kSlice = absl::Milliseconds(250);
  const absl::Time deadline = absl::FromChrono(ctx->deadline()) - absl::Milliseconds(500);
  while (true) {
    const absl::Time slice_end = std::min(deadline, absl::Now() + kSlice);
    absl::Status purged = store_->WaitForPurge(slice_end, ticket);
    if (purged.ok()) return true;
    if (purged.code() != absl::StatusCode::kDeadlineExceeded) return purged;
    if (ctx->IsCancelled() || absl::Now() >= deadline) return false;
  }
}

grpc::Status RecordsService::ExportStatements(grpc::ServerContext* ctx, const v1::ExportStatementsRequest* req,
                                              grpc::ServerWriter<v1::Statement>* writer) {
  return Run(ctx, "ExportStatements", true, [&](const auth::AccessGrant&, std::string* learner) -> absl::Status {
    *learner = "(all)";
    uint64_t after = 0;
    if (!req->after_cursor().empty() && !absl::SimpleAtoi(req->after_cursor(), &after)) {
      return absl::InvalidArgumentError("after_cursor: not a cursor returned by this service");
    }
    if (req->limit() < 0) return absl::InvalidArgumentError("limit: must not be negative");
    // The erasure epoch as of the start of this export: recorded in the
    // manifest of a model trained on it (docs/models.md).
    LL_ASSIGN_OR_RETURN(RecordStore::ErasureEpoch epoch, store_->GetErasureEpoch());
    ctx->AddInitialMetadata(std::string(kErasureEpochHeader), absl::StrCat(epoch.epoch));
    return StreamStatements(ctx, writer, req->view() != v1::STATEMENT_VIEW_BASIC, options_.max_stream_duration,
                            watchdog_.get(), "ExportStatements",
                            [&](const auto& fn) { return store_->ForEachAfter(after, req->limit(), fn); });
  });
}

grpc::Status RecordsService::GetErasureEpoch(grpc::ServerContext* ctx, const v1::GetErasureEpochRequest*,
                                             v1::ErasureEpoch* resp) {
  return Run(ctx, "GetErasureEpoch", /*audited=*/false, [&](const auth::AccessGrant&, std::string*) -> absl::Status {
    LL_ASSIGN_OR_RETURN(RecordStore::ErasureEpoch epoch, store_->GetErasureEpoch());
    resp->set_epoch(epoch.epoch);
    if (epoch.epoch > 0) SetTimestamp(epoch.latest_us, resp->mutable_latest_erasure_time());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RecordsService::Echo(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* raw,
                                               grpc::ByteBuffer* raw_response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const std::string op = absl::StrCat(kServicePrefix, "Echo");
  // Parsed after the caller is admitted, as every request (class comment).
  auto answer = [&](const auth::Principal* principal) -> absl::Status {
    v1::EchoRequest req;
    LL_RETURN_IF_ERROR(ParseRequest(op, principal, kMaxQueryRequestBytes, *raw, &req));
    v1::EchoResponse resp;
    resp.set_allocated_payload(req.release_payload());
    bool own = false;
    return FromGrpcStatus(grpc::SerializationTraits<v1::EchoResponse>::Serialize(resp, raw_response, &own));
  };
  if (!auth_->enabled()) {  // the benchmark baseline: no work but the echo
    reactor->Finish(ToGrpcStatus(answer(nullptr)));
    return reactor;
  }
  reactor->Finish(
      Run(ctx, "Echo", false, [&](const auth::AccessGrant& g, std::string*) { return answer(&g.principal()); }));
  return reactor;
}

grpc::Status RecordsService::ListAuditEvents(grpc::ServerContext* ctx, const v1::ListAuditEventsRequest* req,
                                             v1::ListAuditEventsResponse* resp) {
  return Run(ctx, "ListAuditEvents", true, [&](const auth::AccessGrant&, std::string* learner) -> absl::Status {
    AuditQuery q;
    if (!req->learner().empty()) {
      LL_ASSIGN_OR_RETURN(q.learner, LearnerFrom(req->learner()));
    }
    *learner = q.learner;
    q.subject = req->subject();
    if (req->has_since()) {
      LL_ASSIGN_OR_RETURN(q.since_us, TimestampMicros(req->since(), "since"));
    }
    if (req->has_until()) {
      LL_ASSIGN_OR_RETURN(q.until_us, TimestampMicros(req->until(), "until"));
    }
    q.page_size = req->page_size() == 0 ? 100 : req->page_size();
    q.page_token = req->page_token();
    audit_->Flush();  // the counts of refusals so far are part of the answer
    LL_ASSIGN_OR_RETURN(AuditPage page, store_->ListAudit(q));
    for (const AuditEvent& e : page.events) {
      v1::AuditEvent* out = resp->add_events();
      SetTimestamp(e.time_us, out->mutable_time());
      out->set_subject(e.subject);
      out->set_role(e.role);
      out->set_learner(e.learner);
      out->set_operation(e.operation);
      out->set_outcome(e.outcome);
      out->set_detail(e.detail);
    }
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status RecordsService::CreateKioskPass(grpc::ServerContext* ctx, const v1::CreateKioskPassRequest*,
                                             v1::KioskPass* resp) {
  return Run(ctx, "CreateKioskPass", true, [&](const auth::AccessGrant& g, std::string* learner) -> absl::Status {
    if (!auth_->enabled()) return absl::FailedPreconditionError("kiosk passes need authentication to be configured");
    *learner = g.principal().subject;
    LL_ASSIGN_OR_RETURN(KioskPass pass, passes_->Create(*learner));
    resp->set_code(pass.code);
    SetTimestamp(absl::ToUnixMicros(pass.expires), resp->mutable_expire_time());
    return absl::OkStatus();
  });
}

grpc::Status RecordsService::RedeemKioskPass(grpc::ServerContext* ctx, const v1::RedeemKioskPassRequest* req,
                                             v1::KioskSession* resp) {
  return Run(ctx, "RedeemKioskPass", true, [&](const auth::AccessGrant& g, std::string* learner) -> absl::Status {
    if (!auth_->enabled()) return absl::FailedPreconditionError("kiosk passes need authentication to be configured");
    LL_ASSIGN_OR_RETURN(*learner, passes_->Redeem(g.principal().subject, req->code()));
    return MintKioskSession(g, *learner, resp);
  });
}

namespace {

void ToProto(const BackupInfo& b, v1::Backup* out) {
  out->set_backup_id(b.id);
  SetTimestamp(b.created_us, out->mutable_create_time());
  out->set_size_bytes(b.size_bytes);
  out->set_files(b.files);
  out->set_applied_seq(b.applied_seq);
  out->set_statements(b.statements);
  out->set_erasure_epoch(b.erasure_epoch);
  out->set_has_documents(b.documents_backup_id != 0 || b.documents_in_records);
}

absl::StatusOr<BackupManager*> Backups(BackupManager* m) {
  if (m == nullptr) {
    return absl::FailedPreconditionError("backups are not configured on this server (records_server --backup_dir)");
  }
  return m;
}

}  // namespace

grpc::Status RecordsService::CreateBackup(grpc::ServerContext* ctx, const v1::CreateBackupRequest*, v1::Backup* resp) {
  return Run(ctx, "CreateBackup", true, [&](const auth::AccessGrant&, std::string* learner) -> absl::Status {
    *learner = "(all)";
    LL_ASSIGN_OR_RETURN(BackupManager * m, Backups(options_.backups));
    LL_ASSIGN_OR_RETURN(BackupInfo b, m->Create());
    LogInfo("backup_created", {{"backup_id", static_cast<int64_t>(b.id)},
                               {"statements", static_cast<int64_t>(b.statements)},
                               {"trigger", "rpc"}});
    ToProto(b, resp);
    return absl::OkStatus();
  });
}

grpc::Status RecordsService::ListBackups(grpc::ServerContext* ctx, const v1::ListBackupsRequest*,
                                         v1::ListBackupsResponse* resp) {
  return Run(ctx, "ListBackups", true, [&](const auth::AccessGrant&, std::string*) -> absl::Status {
    LL_ASSIGN_OR_RETURN(BackupManager * m, Backups(options_.backups));
    LL_ASSIGN_OR_RETURN(std::vector<BackupInfo> all, m->List());
    for (const BackupInfo& b : all) ToProto(b, resp->add_backups());
    return absl::OkStatus();
  });
}

grpc::Status RecordsService::VerifyBackup(grpc::ServerContext* ctx, const v1::VerifyBackupRequest* req,
                                          v1::Backup* resp) {
  return Run(ctx, "VerifyBackup", true, [&](const auth::AccessGrant&, std::string*) -> absl::Status {
    if (req->backup_id() == 0) return absl::InvalidArgumentError("backup_id: required (see ListBackups)");
    LL_ASSIGN_OR_RETURN(BackupManager * m, Backups(options_.backups));
    LL_ASSIGN_OR_RETURN(BackupInfo b, m->Verify(req->backup_id()));
    ToProto(b, resp);
    return absl::OkStatus();
  });
}

// ---------- learner cards (learner_cards.h) ----------

absl::Status RecordsService::MintKioskSession(const auth::AccessGrant& g, const std::string& learner,
                                              v1::KioskSession* resp) {
  absl::Time now = absl::Now();
  auth::Principal session = g.principal();
  session.learner = learner;
  // A revoked learner (sub:<learner>) gets no session: it would be refused
  // on use anyway (auth::Authorizer::IsRevoked).
  if (auth_->IsRevoked(session)) {
    return absl::PermissionDeniedError(absl::StrCat("learner: the credentials of ", learner, " are revoked"));
  }
  // The session's id names no part of the code or card (ids appear in
  // revocation lists and audit rows).
  session.token_id = absl::StrCat("kiosk-session-", g.principal().subject, "-", absl::ToUnixMicros(now));
  // Never beyond the presenting token's own expiry: a session may redeem the
  // next code or card, so a longer one would renew an expiring kiosk token
  // for ever.
  absl::Duration ttl = kKioskSessionTtl;
  if (g.principal().expires_us != 0) {
    ttl = std::min(ttl, absl::FromUnixMicros(g.principal().expires_us) - now);
    if (ttl <= absl::ZeroDuration()) return absl::UnauthenticatedError("authorization: the kiosk's token has expired");
  }
  absl::StatusOr<std::string> token = auth::MintToken(session, ttl, auth_->options().token);
  if (absl::IsFailedPrecondition(token.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("kiosk sessions: this server holds no key that signs them (give it --auth_session_key_file, the "
                     "kiosk-session private key): ",
                     token.status().message()));
  }
  if (!token.ok()) return token.status();
  resp->set_token(*token);
  resp->set_learner(learner);
  SetTimestamp(absl::ToUnixMicros(now + ttl), resp->mutable_expire_time());
  return absl::OkStatus();
}

namespace {
void CardToProto(const LearnerCardStatus& c, v1::LearnerCard* out) {
  out->set_card_number(c.card_number);
  out->set_learner(c.learner);
  if (c.bound != absl::InfinitePast()) SetTimestamp(absl::ToUnixMicros(c.bound), out->mutable_bound_time());
  out->set_failed_attempts(c.failed_attempts);
  if (c.locked_until > absl::Now()) SetTimestamp(absl::ToUnixMicros(c.locked_until), out->mutable_locked_until());
  out->set_blocked(c.blocked);
}
}  // namespace

grpc::Status RecordsService::BindLearnerCard(grpc::ServerContext* ctx, const v1::BindLearnerCardRequest* req,
                                             v1::LearnerCard* resp) {
  return Run(ctx, "BindLearnerCard", true, [&](const auth::AccessGrant& g, std::string* learner) -> absl::Status {
    LL_ASSIGN_OR_RETURN(*learner, LearnerFrom(req->learner()));
    LL_RETURN_IF_ERROR(auth::CheckLearner(g, *learner, "learner"));
    LL_ASSIGN_OR_RETURN(LearnerCardStatus c, cards_->Bind(req->card_number(), *learner, req->pin()));
    CardToProto(c, resp);
    return absl::OkStatus();
  });
}

grpc::Status RecordsService::UnbindLearnerCard(grpc::ServerContext* ctx, const v1::UnbindLearnerCardRequest* req,
                                               v1::LearnerCard* resp) {
  return Run(ctx, "UnbindLearnerCard", true, [&](const auth::AccessGrant& g, std::string* learner) -> absl::Status {
    LL_ASSIGN_OR_RETURN(LearnerCardStatus c, cards_->Get(req->card_number()));
    *learner = c.learner;
    LL_RETURN_IF_ERROR(auth::CheckLearner(g, c.learner, "card_number"));
    LL_ASSIGN_OR_RETURN(c, cards_->Unbind(req->card_number()));
    CardToProto(c, resp);
    return absl::OkStatus();
  });
}

grpc::Status RecordsService::GetLearnerCard(grpc::ServerContext* ctx, const v1::GetLearnerCardRequest* req,
                                            v1::LearnerCard* resp) {
  return Run(ctx, "GetLearnerCard", true, [&](const auth::AccessGrant& g, std::string* learner) -> absl::Status {
    LL_ASSIGN_OR_RETURN(LearnerCardStatus c, cards_->Get(req->card_number()));
    *learner = c.learner;
    LL_RETURN_IF_ERROR(auth::CheckLearner(g, c.learner, "card_number"));
    CardToProto(c, resp);
    return absl::OkStatus();
  });
}

grpc::Status RecordsService::RedeemLearnerCard(grpc::ServerContext* ctx, const v1::RedeemLearnerCardRequest* req,
                                               v1::KioskSession* resp) {
  return Run(ctx, "RedeemLearnerCard", true, [&](const auth::AccessGrant& g, std::string* learner) -> absl::Status {
    if (!auth_->enabled()) return absl::FailedPreconditionError("learner cards need authentication to be configured");
    // The holder goes into the audit row even when the PIN is wrong (the
    // learner's own audit trail shows attempts on their card).
    LL_ASSIGN_OR_RETURN(std::string holder,
                        cards_->Redeem(g.principal().subject, req->card_number(), req->pin(), learner));
    return MintKioskSession(g, holder, resp);
  });
}

}  // namespace lifelong::records
