#include "services/records/replication/replicator.h"

#include <sys/stat.h>

#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <random>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/common/log.h"
#include "services/common/metrics.h"
#include "services/common/nats_client.h"
#include "services/common/status_macros.h"
#include "services/records/replication/log_consistency.h"
#include "services/records/replication/log_retention.h"

namespace lifelong::records::replication {
namespace {

constexpr char kMsgIdHeader[] = "Nats-Msg-Id";
// Correlates an asynchronous publish with its PubAck (OnPubAck).
constexpr char kCorrelationHeader[] = "Lifelong-Publish-Id";
constexpr int64_t kDuplicateWindowNs = int64_t{120} * 1000 * 1000 * 1000;  // 2 minutes
// How long the log must be found behind the store (every read agreeing)
// before the node halts: a JetStream stream leader just elected may answer
// for a moment from a store that has not applied all it holds, and a
// cluster that is electing may not find the stream.
constexpr absl::Duration kBehindConfirmation = absl::Seconds(3);
// How long storage failures (UNAVAILABLE) may keep the applier from applying
// the next operation before the node gives the lease up and refuses writes
// (it keeps retrying). A failure of any other code is the same on every try
// (a record the message carries that does not decode, a corrupt store):
// at once.
constexpr absl::Duration kApplyStallLimit = absl::Seconds(10);

std::string NatsError(natsStatus s, jsErrCode err = static_cast<jsErrCode>(0)) { return nats::NatsErrorText(s, err); }

absl::Status Unavailable(absl::string_view what, natsStatus s, jsErrCode err = static_cast<jsErrCode>(0)) {
  return nats::NatsUnavailable("replicated log", what, s, err);
}

// A clock that does not jump with the wall clock, for the lease deadline.
int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string RandomMessageId() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return absl::StrCat("op-", absl::Hex(rng(), absl::kZeroPad16), absl::Hex(rng(), absl::kZeroPad16));
}

}  // namespace

struct Replicator::Nats {
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  kvStore* kv = nullptr;      // the leader lease
  kvStore* log_kv = nullptr;  // positions and the trim point (log_retention.h)
  ~Nats() {
    if (kv != nullptr) kvStore_Destroy(kv);
    if (log_kv != nullptr) kvStore_Destroy(log_kv);
    if (js != nullptr) jsCtx_Destroy(js);
    if (nc != nullptr) {
      natsConnection_Close(nc);
      natsConnection_Destroy(nc);
    }
    if (opts != nullptr) natsOptions_Destroy(opts);
  }
};

// A proposal waiting for its operation to be applied.
struct Replicator::Waiter {
  LogOpKind kind = LogOpKind::kRecord;
  bool done = false;
  uint64_t seq = 0;      // the operation's place in the log, once published
  absl::Time published;  // when its PubAck came
  absl::StatusOr<std::vector<StoredStatement>> records = absl::UnknownError("not applied");
  absl::StatusOr<int64_t> erased = absl::UnknownError("not applied");
  absl::Status status;
};

Replicator::Replicator(ReplicatorOptions options) : options_(std::move(options)), nats_(std::make_unique<Nats>()) {
  absl::StatusOr<metrics::Gauge*> ahead = metrics::DefaultRegistry().AddGauge(
      "lifelong_replication_store_ahead_of_log",
      "Log operations this node's store has applied beyond the replicated log's end: the log lost them, and the "
      "node neither applies nor leads (0: not found; docs/replication.md, \"A log behind the store\").");
  if (ahead.ok()) ahead_of_log_gauge_ = *ahead;
  absl::StatusOr<metrics::Gauge*> stopped = metrics::DefaultRegistry().AddGauge(
      "lifelong_replication_applier_stopped",
      "1 while this node does not apply the replicated log (applier_error in GET /replication: an operation it "
      "cannot decode or apply, a log trimmed past it or behind its store): it neither leads nor takes writes, and "
      "its reads grow stale (docs/replication.md, \"An operation that cannot be applied\"); 0 otherwise.");
  if (stopped.ok()) applier_stopped_gauge_ = *stopped;
}

absl::StatusOr<std::unique_ptr<Replicator>> Replicator::Connect(ReplicatorOptions options) {
  if (absl::Status s = nats::ValidateLogFlags(options.servers, options.node_id, options.stream, options.replicas);
      !s.ok()) {
    return s;
  }
  if (options.lease_ttl_ms < 200 || options.lease_ttl_ms > 600000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--lease_ttl_ms: ", options.lease_ttl_ms, " is not between 200 and 600000"));
  }
  std::unique_ptr<Replicator> r(new Replicator(std::move(options)));
  LL_RETURN_IF_ERROR(r->Setup());
  return r;
}

namespace {

// Opens key-value bucket `name`, creating it (history 1, file storage,
// `ttl_ns` nanoseconds per entry, 0: none) when absent. *kv stays null on
// failure.
natsStatus OpenBucket(jsCtx* js, const std::string& name, int64_t ttl_ns, int replicas, kvStore** kv) {
  natsStatus s = js_KeyValue(kv, js, name.c_str());
  if (s == NATS_NOT_FOUND) {
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = name.c_str();
    kc.History = 1;
    kc.TTL = ttl_ns;  // nanoseconds in libnats 3.4
    kc.StorageType = js_FileStorage;
    kc.Replicas = replicas;
    s = js_CreateKeyValue(kv, js, &kc);
  }
  if (s != NATS_OK) *kv = nullptr;
  return s;
}

// js_AddStream (`create`) or js_UpdateStream with the stream configuration
// of `o`.
natsStatus PutStream(jsCtx* js, const ReplicatorOptions& o, bool create, jsErrCode* err) {
  const std::string subjects = absl::StrCat(o.subject_prefix, ".>");
  const char* subject_list[] = {subjects.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = o.stream.c_str();
  cfg.Subjects = subject_list;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = o.replicas;
  cfg.Duplicates = kDuplicateWindowNs;
  cfg.Retention = js_LimitsPolicy;
  jsStreamInfo* si = nullptr;
  natsStatus s = create ? js_AddStream(&si, js, &cfg, nullptr, err) : js_UpdateStream(&si, js, &cfg, nullptr, err);
  if (si != nullptr) jsStreamInfo_Destroy(si);
  return s;
}

}  // namespace

absl::Status Replicator::Setup() {
  Nats& n = *nats_;
  natsStatus s =
      nats::NewLogConnectionOptions(options_.servers, options_.node_id, options_.user, options_.password, &n.opts);
  if (s != NATS_OK) return Unavailable("options", s);
  // A node whose connection drops stops being the leader at once.
  natsOptions_SetDisconnectedCB(
      n.opts,
      [](natsConnection*, void* self) {
        auto* r = static_cast<Replicator*>(self);
        r->connected_ = false;
        r->role_ = kRoleFollower;
        LogInfo("replication_disconnected", {});
      },
      this);
  natsOptions_SetReconnectedCB(
      n.opts,
      [](natsConnection*, void* self) {
        static_cast<Replicator*>(self)->connected_ = true;
        LogInfo("replication_reconnected", {});
      },
      this);

  const absl::Time deadline = absl::Now() + options_.setup_timeout;
  absl::Status last = absl::UnavailableError("replicated log: not tried");
  absl::Time logged = absl::InfinitePast();
  for (bool first = true; absl::Now() < deadline; first = false) {
    if (!first && absl::Now() - logged > absl::Seconds(5)) {
      logged = absl::Now();
      LogInfo("replication_setup_retrying", {{"error", std::string(last.message())}});
    }
    if (n.nc == nullptr) {
      s = natsConnection_Connect(&n.nc, n.opts);
      if (s != NATS_OK) {
        n.nc = nullptr;
        last = Unavailable("connect", s);
        absl::SleepFor(absl::Milliseconds(250));
        continue;
      }
      connected_ = true;
      jsOptions jo;
      jsOptions_Init(&jo);
      jo.Wait = 5000;
      jo.PublishAsync.AckHandler = &Replicator::OnPubAck;
      jo.PublishAsync.AckHandlerClosure = this;
      jo.PublishAsync.MaxPending = 4096;
      s = natsConnection_JetStream(&n.js, n.nc, &jo);
      if (s != NATS_OK) return Unavailable("JetStream context", s);
    }
    // The stream, when it exists: its replica count. A missing one is not
    // created here, before the store's position is known: only a node whose
    // store has applied nothing may start a new log (CheckLog); one that
    // applied operations from a log that is gone must not start an empty
    // one and reuse their sequences.
    jsStreamInfo* si = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    s = js_GetStreamInfo(&si, n.js, options_.stream.c_str(), nullptr, &err);
    const bool resize = s == NATS_OK && si->Config->Replicas != options_.replicas;
    if (si != nullptr) jsStreamInfo_Destroy(si);
    if (resize) s = PutStream(n.js, options_, /*create=*/false, &err);
    const bool stream_exists = s != NATS_NOT_FOUND;
    if (!stream_exists) s = NATS_OK;
    if (s != NATS_OK) {
      last = Unavailable(absl::StrCat("stream ", options_.stream), s, err);
      absl::SleepFor(absl::Milliseconds(250));
      continue;
    }
    // The lease bucket (entries expire after the TTL), and the positions
    // bucket (no TTL: a node's last position stays known).
    if (n.kv == nullptr) {
      s = OpenBucket(n.js, options_.lease_bucket, options_.lease_ttl_ms * 1000000, options_.replicas, &n.kv);
      if (s != NATS_OK) {
        last = Unavailable(absl::StrCat("lease bucket ", options_.lease_bucket), s);
        absl::SleepFor(absl::Milliseconds(250));
        continue;
      }
    }
    if (n.log_kv == nullptr) {
      s = OpenBucket(n.js, options_.positions_bucket, 0, options_.replicas, &n.log_kv);
      if (s != NATS_OK) {
        last = Unavailable(absl::StrCat("positions bucket ", options_.positions_bucket), s);
        absl::SleepFor(absl::Milliseconds(250));
        continue;
      }
    }
    LogInfo("replication_connected", {{"node", options_.node_id},
                                      {"stream", options_.stream},
                                      {"stream_exists", stream_exists},
                                      {"replicas", options_.replicas},
                                      {"lease_ttl_ms", options_.lease_ttl_ms}});
    return absl::OkStatus();
  }
  return last;
}

Replicator::~Replicator() { Stop(); }

void Replicator::Start(RecordStore* store) {
  store_ = store;
  {
    absl::MutexLock lock(&mu_);
    applied_ = store->AppliedLogSeq();
  }
  applier_ = std::thread([this] { ApplierLoop(); });
  lease_ = std::thread([this] { LeaseLoop(); });
  retention_ = std::thread([this] { RetentionLoop(); });
}

void Replicator::SetOldestBackupSource(OldestBackupSource source) {
  absl::MutexLock lock(&backup_source_mu_);
  backup_source_ = std::move(source);
}

void Replicator::Stop() {
  if (stop_.exchange(true)) return;
  if (applier_.joinable()) applier_.join();
  if (lease_.joinable()) lease_.join();
  if (retention_.joinable()) retention_.join();
  role_ = kRoleFollower;
  if (leading_ && nats_->kv != nullptr) {
    // Hand over at once instead of after the TTL.
    kvStore_Delete(nats_->kv, options_.lease_key.c_str());
    leading_ = false;
  }
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, w] : waiters_) {
      if (!w->done) {
        w->done = true;
        absl::Status stopped = absl::UnavailableError("record service stopping");
        w->records = stopped;
        w->erased = stopped;
        w->status = stopped;
      }
    }
  }
  // Proposals still publishing use the connection.
  for (int i = 0; i < 1000 && in_flight_.load() > 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  nats_.reset();  // closes the connection
}

void Replicator::Resign() {
  role_ = kRoleFollower;
  resign_ = true;
  if (!lease_.joinable()) return;
  for (int i = 0; i < 400 && !resigned_.load() && !stop_.load(); ++i) absl::SleepFor(absl::Milliseconds(5));
  LogInfo("replication_resigned", {{"node", options_.node_id}});
}

absl::Status Replicator::CheckWritable() const {
  if (stop_.load() || resign_.load()) {
    return absl::UnavailableError(absl::StrCat(options_.node_id, " is shutting down; retry on the leader"));
  }
  {
    absl::MutexLock lock(&mu_);
    if (const std::string& why = StoppedReasonLocked(); !why.empty()) {
      return absl::UnavailableError(absl::StrCat("replication stopped on ", options_.node_id, ": ", why));
    }
  }
  int role = role_.load();
  if (role == kRoleLeader) {
    if (SteadyNowNs() < lease_deadline_ns_.load()) return absl::OkStatus();
    return absl::UnavailableError(absl::StrCat("not the leader; the lease of ", options_.node_id,
                                               " ran out before it was renewed; retry on the leader"));
  }
  if (role == kRoleCatchingUp) {
    return absl::UnavailableError(absl::StrCat("not the leader yet; ", options_.node_id,
                                               " is catching up with the log before it accepts writes"));
  }
  absl::MutexLock lock(&mu_);
  if (leader_.empty() || leader_ == options_.node_id) {
    return absl::UnavailableError("not the leader; no leader is elected at the moment");
  }
  return absl::UnavailableError(absl::StrCat("not the leader; leader is ", leader_));
}

absl::Status Replicator::CheckServingReads() const {
  const std::string hint = "; read through the client address (the leader)";
  if (stop_.load()) return absl::UnavailableError(absl::StrCat(options_.node_id, " is shutting down", hint));
  uint64_t applied;
  {
    absl::MutexLock lock(&mu_);
    if (const std::string& why = StoppedReasonLocked(); !why.empty()) {
      return absl::UnavailableError(absl::StrCat(options_.node_id, " does not apply the replicated log (", why,
                                                 "), so its store may be stale", hint));
    }
    applied = applied_;
  }
  if (!log_checked_.load()) {
    return absl::UnavailableError(
        absl::StrCat(options_.node_id, " has not yet found the replicated log in step with its store", hint));
  }
  if (!connected_.load()) {
    return absl::UnavailableError(
        absl::StrCat(options_.node_id, " is cut off from NATS, so its store may be stale", hint));
  }
  const int64_t read_ns = log_last_read_ns_.load();
  const int64_t age_ns = SteadyNowNs() - read_ns;
  if (read_ns == 0 || age_ns > options_.lease_ttl_ms * 1000000) {
    return absl::UnavailableError(absl::StrCat(options_.node_id, " has not read the replicated log's end for over ",
                                               options_.lease_ttl_ms, " ms, so its store may be stale", hint));
  }
  // The leader is the only proposer: what the log holds beyond its store is
  // its own writes in flight, not yet answered to anyone. A follower
  // refuses from kReadLagGrace after it first saw an operation it has still
  // not applied (not after its latest read of the log's end, which is never
  // that old while it reads every tick: a follower that stayed behind
  // served stale reads until it caught up).
  const uint64_t last = log_last_seq_.load();
  if (!IsLeader() && last > applied) {
    int64_t seen_ns = 0;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [seq, at_ns] : unapplied_seen_) {
        if (seq > applied_) {
          seen_ns = at_ns;
          break;
        }
      }
    }
    if (seen_ns != 0 && SteadyNowNs() - seen_ns > absl::ToInt64Nanoseconds(kReadLagGrace)) {
      return absl::UnavailableError(absl::StrCat(options_.node_id, " is ", last - applied,
                                                 " operation(s) behind the replicated log (catching up)", hint));
    }
  }
  return absl::OkStatus();
}

struct Replicator::PubWait {
  bool done = false;
  natsStatus status = NATS_OK;
  jsErrCode err = static_cast<jsErrCode>(0);
  uint64_t seq = 0;
  bool duplicate = false;
};

void Replicator::OnPubAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* self = static_cast<Replicator*>(closure);
  const char* corr = nullptr;
  if (natsMsgHeader_Get(msg, kCorrelationHeader, &corr) == NATS_OK && corr != nullptr) {
    absl::MutexLock lock(&self->pub_mu_);
    auto it = self->pub_waits_.find(corr);
    if (it != self->pub_waits_.end()) {
      PubWait* w = it->second;
      if (pa != nullptr) {
        w->seq = pa->Sequence;
        w->duplicate = pa->Duplicate;
      } else {
        w->status = pae != nullptr ? pae->Err : NATS_ERR;
        w->err = pae != nullptr ? pae->ErrCode : static_cast<jsErrCode>(0);
        if (w->status == NATS_OK) w->status = NATS_ERR;
      }
      w->done = true;
      self->pub_waits_.erase(it);
    }
  }
  natsMsg_Destroy(msg);
}

absl::StatusOr<std::pair<uint64_t, bool>> Replicator::PublishOnce(LogOp* op, const std::string& subject,
                                                                  const std::string& msg_id, bool* retry) {
  *retry = false;
  PubWait pw;
  const std::string corr = RandomMessageId();
  {
    // Taking the range and handing the message to the connection under one
    // lock puts the ranges into the log in the order they were taken (one
    // connection delivers in order); the PubAck is awaited outside it.
    absl::MutexLock order(&order_mu_);
    if (op->kind == LogOpKind::kRecord) {
      const uint64_t start = std::max<uint64_t>(static_cast<uint64_t>(std::max<int64_t>(0, op->now_us)), reserved_end_);
      op->now_us = static_cast<int64_t>(start);
      reserved_end_ = start + std::max<uint64_t>(1, op->statements.size());
    }
    const std::string data = EncodeLogOp(*op);
    // Leave room for the headers (message ids) under the server's limit.
    const int64_t max_payload = natsConnection_GetMaxPayload(nats_->nc);
    if (max_payload > 0 && static_cast<int64_t>(data.size()) + 512 > max_payload) {
      return absl::ResourceExhaustedError(
          absl::StrCat("replicated write of ", data.size(), " bytes exceeds the log's message limit of ", max_payload,
                       " bytes (nats-server max_payload); send fewer or smaller statements per call"));
    }
    natsMsg* m = nullptr;
    natsStatus s = natsMsg_Create(&m, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
    if (s == NATS_OK) s = natsMsgHeader_Set(m, kCorrelationHeader, corr.c_str());
    if (s != NATS_OK) {
      natsMsg_Destroy(m);
      return Unavailable("publish", s);
    }
    {
      absl::MutexLock lock(&pub_mu_);
      pub_waits_[corr] = &pw;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id.c_str();
    po.MaxWait = 5000;
    po.ExpectStream = options_.stream.c_str();
    s = js_PublishMsgAsync(nats_->js, &m, &po);
    if (s != NATS_OK) {
      natsMsg_Destroy(m);  // still ours when the library refused it
      absl::MutexLock lock(&pub_mu_);
      pub_waits_.erase(corr);
      *retry = s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS;
      return Unavailable("publish", s);
    }
  }
  absl::MutexLock lock(&pub_mu_);
  auto acked = [&pw]() { return pw.done; };
  // The library reports a missing PubAck after MaxWait; this is a backstop.
  if (!pub_mu_.AwaitWithTimeout(absl::Condition(&acked), absl::Seconds(10))) {
    pub_waits_.erase(corr);
    *retry = true;
    return Unavailable("publish", NATS_TIMEOUT);
  }
  if (pw.status != NATS_OK) {
    *retry = pw.status == NATS_TIMEOUT || pw.status == NATS_NO_RESPONDERS;
    return Unavailable("publish", pw.status, pw.err);
  }
  return std::make_pair(pw.seq, pw.duplicate);
}

absl::Status Replicator::Propose(const LogOp& op, Waiter* w) {
  in_flight_.fetch_add(1);
  struct Done {
    std::atomic<int>* n;
    ~Done() { n->fetch_sub(1); }
  } done{&in_flight_};
  LL_RETURN_IF_ERROR(CheckWritable());
  const std::string subject = SubjectOf(op, options_.subject_prefix);
  std::string msg_id = op.kind == LogOpKind::kRecord ? RecordMessageId(op) : RandomMessageId();
  w->kind = op.kind;
  LogOp to_publish = op;  // a record operation gets its sequence range when published
  // At most twice: the second time when the first was a duplicate whose
  // result this call cannot learn (applied before it registered).
  for (int round = 0; round < 2; ++round) {
    std::multimap<std::string, Waiter*>::iterator registered;
    uint64_t applied_before = 0;  // what this node had applied before publishing
    {
      absl::MutexLock lock(&mu_);
      registered = waiters_.emplace(msg_id, w);
      applied_before = applied_;
    }
    auto unregister = [&] {
      absl::MutexLock lock(&mu_);
      waiters_.erase(registered);
    };
    absl::StatusOr<std::pair<uint64_t, bool>> acked = absl::UnavailableError("replicated log: stopping");
    // A timed-out publish may have been stored: retry with the same id. "No
    // responders" is a stream with no leader yet (just created by the
    // applier on a new cluster, or electing one after a NATS server left):
    // retried for up to 5 s, as elections take under load.
    const absl::Time give_up = absl::Now() + absl::Seconds(5);
    for (int attempt = 0; !stop_.load(); ++attempt) {
      bool retry = false;
      acked = PublishOnce(&to_publish, subject, msg_id, &retry);
      if (acked.ok() || !retry || (attempt >= 2 && absl::Now() >= give_up)) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    if (!acked.ok()) {
      unregister();
      return acked.status();
    }
    const uint64_t seq = acked->first;
    const bool duplicate = acked->second;
    w->seq = seq;
    w->published = absl::Now();
    if (!duplicate && seq <= applied_before) {
      // A new message at a sequence this node has already applied: the
      // log's end went back (it lost operations). This node would never
      // apply it; it stops instead (log_consistency.h).
      unregister();
      const std::string why = LogBehindStoreMessage(options_.node_id, options_.stream, applied_before, seq);
      Halt("replication_log_behind_store", why, applied_before - seq);
      return absl::UnavailableError(absl::StrCat("replication stopped on ", options_.node_id, ": ", why));
    }

    absl::MutexLock lock(&mu_);
    auto applied_or_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return w->done || applied_ >= seq; };
    mu_.AwaitWithTimeout(absl::Condition(&applied_or_done), options_.apply_timeout);
    if (w->done) {
      waiters_.erase(registered);
      return absl::OkStatus();
    }
    waiters_.erase(registered);
    if (applied_ < seq) {
      return absl::UnavailableError(absl::StrCat("replicated log: operation ", seq,
                                                 " is in the log but not yet applied on ", options_.node_id, " after ",
                                                 absl::FormatDuration(options_.apply_timeout)));
    }
    if (!duplicate) {
      return absl::InternalError(absl::StrCat("replicated log: operation ", seq, " was applied without its result"));
    }
    // A duplicate of an operation applied before this call: propose it
    // again under a fresh id (applying it again is idempotent).
    msg_id = RandomMessageId();
  }
  return absl::UnavailableError("replicated log: the operation was a duplicate twice");
}

absl::StatusOr<std::vector<StoredStatement>> Replicator::ProposeRecord(std::vector<ParsedStatement> statements,
                                                                       int64_t now_us) {
  LogOp op;
  op.kind = LogOpKind::kRecord;
  op.now_us = now_us;
  op.statements = std::move(statements);
  Waiter w;
  LL_RETURN_IF_ERROR(Propose(op, &w));
  return std::move(w.records);
}

absl::StatusOr<int64_t> Replicator::ProposeErase(const std::string& learner, int64_t now_us) {
  LogOp op;
  op.kind = LogOpKind::kErase;
  op.now_us = now_us;
  op.learner = learner;
  Waiter w;
  LL_RETURN_IF_ERROR(Propose(op, &w));
  if (w.erased.ok()) AwaitErasureEverywhere(w.seq, w.published);
  return w.erased;
}

void Replicator::NoteLogEnd(uint64_t last, int64_t read_start_ns) {
  absl::MutexLock lock(&mu_);
  while (!unapplied_seen_.empty() && unapplied_seen_.front().first <= applied_) unapplied_seen_.pop_front();
  if (last <= applied_ || (!unapplied_seen_.empty() && unapplied_seen_.back().first >= last)) return;
  if (unapplied_seen_.size() >= kMaxUnappliedSeen) {
    // The newest two become one: the larger end, seen at the older time
    // (only ever more refusals, never fewer).
    const uint64_t newest = unapplied_seen_.back().first;
    unapplied_seen_.pop_back();
    unapplied_seen_.back().first = newest;
  }
  unapplied_seen_.emplace_back(last, read_start_ns);
}

absl::Duration Replicator::LeaseTick() const {
  return absl::Milliseconds(std::max<int64_t>(50, options_.lease_ttl_ms / 4));
}

absl::Duration Replicator::ReadRefusalBound() const {
  return std::max(LeaseTick() + kReadLagGrace, absl::Milliseconds(options_.lease_ttl_ms)) + LeaseTick();
}

std::optional<std::vector<std::string>> Replicator::OtherNodePositionKeys() const {
  kvKeysList keys;
  natsStatus s = kvStore_Keys(&keys, nats_->log_kv, nullptr);
  if (s == NATS_NOT_FOUND) return std::vector<std::string>{};  // no node has reported
  if (s != NATS_OK) return std::nullopt;
  std::vector<std::string> out;
  for (int i = 0; i < keys.Count; ++i) {
    absl::string_view node = keys.Keys[i];
    if (absl::ConsumePrefix(&node, kNodePositionKeyPrefix) && node != options_.node_id) out.emplace_back(keys.Keys[i]);
  }
  kvKeysList_Destroy(&keys);
  return out;
}

bool Replicator::NodeReportsApplied(const std::string& key, uint64_t seq) const {
  kvEntry* e = nullptr;
  natsStatus s = kvStore_Get(&e, nats_->log_kv, key.c_str());
  if (s == NATS_NOT_FOUND) return true;  // gone from the bucket: no longer a node
  if (s != NATS_OK) return false;
  absl::string_view node = key;
  absl::ConsumePrefix(&node, kNodePositionKeyPrefix);
  absl::StatusOr<NodePosition> p = DecodeNodePosition(node, kvEntry_ValueString(e));
  kvEntry_Destroy(e);
  return p.ok() && p->applied_seq >= seq;
}

void Replicator::AwaitErasureEverywhere(uint64_t seq, absl::Time published) {
  const absl::Time deadline = published + ReadRefusalBound();
  // The other nodes as listed once (a node that joins later starts behind
  // the erasure and refuses reads until it has applied it).
  std::optional<std::vector<std::string>> waiting;
  while (!stop_.load()) {
    if (!waiting) waiting = OtherNodePositionKeys();
    if (waiting) {
      waiting->erase(std::remove_if(waiting->begin(), waiting->end(),
                                    [&](const std::string& key) { return NodeReportsApplied(key, seq); }),
                     waiting->end());
      if (waiting->empty()) return;
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  erasures_unconfirmed_.fetch_add(1);
  std::string nodes = "(the positions bucket could not be read)";
  if (waiting) {
    nodes.clear();
    for (absl::string_view key : *waiting) {
      absl::ConsumePrefix(&key, kNodePositionKeyPrefix);
      absl::StrAppend(&nodes, nodes.empty() ? "" : ",", key);
    }
  }
  LogWarn("replication_erasure_unconfirmed",
          {{"seq", static_cast<int64_t>(seq)},
           {"waited_ms", absl::ToInt64Milliseconds(absl::Now() - published)},
           {"nodes", nodes},
           {"why", "these nodes have not reported applying the erasure; each refuses reads until it has"}});
}

absl::Status Replicator::ProposeMeta(const std::vector<std::pair<std::string, std::optional<std::string>>>& edits,
                                     int64_t now_us) {
  LogOp op;
  op.kind = LogOpKind::kMeta;
  op.now_us = now_us;
  op.meta = edits;
  Waiter w;
  LL_RETURN_IF_ERROR(Propose(op, &w));
  return w.status;
}

absl::Status Replicator::ProposeAudit(const AuditEvent& event, int64_t now_us) {
  LogOp op;
  op.kind = LogOpKind::kAudit;
  op.now_us = now_us;
  op.audit = event;
  Waiter w;
  LL_RETURN_IF_ERROR(Propose(op, &w));
  return w.status;
}

absl::Status Replicator::ProposeDocument(const xapi::DocWrite& write) {
  LogOp op;
  op.kind = LogOpKind::kDocument;
  op.now_us = write.now_us;
  op.document = write;
  Waiter w;
  LL_RETURN_IF_ERROR(Propose(op, &w));
  return w.status;
}

void Replicator::Deliver(const std::string& msg_id, uint64_t seq, const std::function<void(Waiter*)>& fill) {
  absl::MutexLock lock(&mu_);
  if (!msg_id.empty()) {
    auto [begin, end] = waiters_.equal_range(msg_id);
    for (auto it = begin; it != end; ++it) {
      if (it->second->done) continue;
      fill(it->second);
      it->second->done = true;
    }
  }
  applied_ = std::max(applied_, seq);
}

absl::Status Replicator::PurgeErased(const std::string& learner, uint64_t erase_seq) {
  // Not js_PurgeStream with a subject filter: nats-server 2.9 then moves
  // every consumer that is behind to the stream's end, so that replicas
  // behind would skip operations (docs/replication.md, "nats-server 2.9
  // purge"). Each message is erased by its sequence instead, which no
  // consumer notices beyond not receiving it.
  const std::string subject = LearnerSubject(learner, options_.subject_prefix);
  absl::StatusOr<std::vector<uint64_t>> seqs = SequencesOn(subject, erase_seq);
  if (!seqs.ok()) {
    LogError("replication_purge_failed", {{"subject", subject}, {"error", seqs.status().ToString()}});
    return absl::UnavailableError(
        absl::StrCat("cannot list the learner's messages in the log: ", seqs.status().message()));
  }
  int64_t erased = 0;
  absl::Status status;
  for (uint64_t seq : *seqs) {
    jsErrCode err = static_cast<jsErrCode>(0);
    // Erase overwrites the message's bytes in the stream's files.
    natsStatus s = js_EraseMsg(nats_->js, options_.stream.c_str(), seq, nullptr, &err);
    if (s != NATS_OK && s != NATS_NOT_FOUND) s = js_DeleteMsg(nats_->js, options_.stream.c_str(), seq, nullptr, &err);
    if (s == NATS_OK) {
      ++erased;
    } else if (s != NATS_NOT_FOUND && !GoneFromLog(seq)) {  // gone: another replica erased it first
      LogError("replication_purge_failed",
               {{"subject", subject}, {"seq", static_cast<int64_t>(seq)}, {"error", NatsError(s, err)}});
      status = absl::UnavailableError(absl::StrCat("cannot erase log message ", seq, ": ", NatsError(s, err)));
    }
  }
  LogInfo("replication_purged",
          {{"subject", subject}, {"before_seq", static_cast<int64_t>(erase_seq)}, {"messages", erased}});
  return status;
}

absl::StatusOr<std::vector<uint64_t>> Replicator::SequencesOn(const std::string& subject, uint64_t below) const {
  std::vector<uint64_t> seqs;
  LL_ASSIGN_OR_RETURN(uint64_t count, CountMessages(subject));
  if (count == 0) return seqs;
  natsSubscription* sub = nullptr;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = options_.stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverAll;
  so.Config.HeadersOnly = true;  // sequences only: no statement leaves the server
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_SubscribeSync(&sub, nats_->js, subject.c_str(), nullptr, &so, &err);
  if (s != NATS_OK) return Unavailable("list subject", s, err);
  absl::Status status;
  while (true) {
    natsMsg* msg = nullptr;
    s = natsSubscription_NextMsg(&msg, sub, 2000);
    if (s == NATS_TIMEOUT) {
      // Nothing more came: the messages still to come were erased after
      // they were counted (every node erases an erased learner's
      // messages), or the server is slow. Its own count tells which.
      jsConsumerInfo* ci = nullptr;
      jsErrCode ci_err = static_cast<jsErrCode>(0);
      natsStatus cs = natsSubscription_GetConsumerInfo(&ci, sub, nullptr, &ci_err);
      const bool drained = cs == NATS_OK && ci->NumPending == 0;
      if (ci != nullptr) jsConsumerInfo_Destroy(ci);
      if (drained) break;
    }
    if (s != NATS_OK) {
      status = Unavailable("list subject", s, static_cast<jsErrCode>(0));
      break;
    }
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
      natsMsg_Destroy(msg);
      continue;  // a status message
    }
    const uint64_t seq = meta->Sequence.Stream;
    const uint64_t pending = meta->NumPending;
    jsMsgMetaData_Destroy(meta);
    natsMsg_Destroy(msg);
    if (seq >= below) break;
    seqs.push_back(seq);
    if (pending == 0) break;
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  LL_RETURN_IF_ERROR(status);
  return seqs;
}

bool Replicator::GoneFromLog(uint64_t seq) const {
  // JetStream answers an erase of a message already erased with an error
  // (10043, "sequence N not found"), not with NOT_FOUND.
  natsMsg* msg = nullptr;
  natsStatus s = js_GetMsg(&msg, nats_->js, options_.stream.c_str(), seq, nullptr, nullptr);
  if (s == NATS_OK) natsMsg_Destroy(msg);
  return s == NATS_NOT_FOUND;
}

absl::StatusOr<bool> Replicator::StillInLog(uint64_t seq) const {
  natsMsg* msg = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_GetMsg(&msg, nats_->js, options_.stream.c_str(), seq, nullptr, &err);
  if (s == NATS_NOT_FOUND) {
    // Erased or deleted: fine. Trimmed: this node cannot catch up from the
    // log; the applier re-subscribes and says so.
    LL_ASSIGN_OR_RETURN(uint64_t trimmed, ReadTrimmedBelow());
    if (seq < trimmed) {
      return absl::FailedPreconditionError(
          absl::StrCat("operation ", seq, " was trimmed from the log (it starts at ", trimmed, ")"));
    }
    return false;
  }
  if (s != NATS_OK) return Unavailable("get message", s, err);
  natsMsg_Destroy(msg);
  return true;
}

absl::StatusOr<uint64_t> Replicator::ReadTrimmedBelow() const {
  kvEntry* e = nullptr;
  natsStatus s = kvStore_Get(&e, nats_->log_kv, kTrimmedBelowKey);
  if (s == NATS_NOT_FOUND) return 0;
  if (s != NATS_OK) return Unavailable("read the trim point", s);
  const std::string v = kvEntry_ValueString(e);
  const bool put = kvEntry_Operation(e) == kvOp_Put;
  kvEntry_Destroy(e);
  if (!put) return 0;
  uint64_t trimmed = 0;
  if (!absl::SimpleAtoi(v, &trimmed)) {
    return absl::DataLossError(
        absl::StrCat(options_.positions_bucket, " ", kTrimmedBelowKey, ": \"", v, "\" is not a log sequence"));
  }
  return trimmed;
}

void Replicator::RetentionLoop() {
  absl::Time next_report = absl::InfinitePast();
  absl::Time next_trim = absl::Now() + options_.trim_interval;
  while (!stop_.load()) {
    const absl::Time now = absl::Now();
    if (now >= next_report || report_position_now_.exchange(false)) {
      next_report = now + options_.position_interval;
      ReportPosition();
    }
    if (options_.trim_interval > absl::ZeroDuration() && now >= next_trim) {
      next_trim = now + options_.trim_interval;
      if (role_.load() == kRoleLeader) TrimLog();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

void Replicator::ReportPosition() {
  NodePosition p;
  p.node = options_.node_id;
  p.applied_seq = store_->AppliedLogSeq();
  OldestBackupSource source;
  {
    absl::MutexLock lock(&backup_source_mu_);
    source = backup_source_;
  }
  if (source) {
    absl::StatusOr<std::optional<uint64_t>> oldest = source();
    if (!oldest.ok()) {
      LogError("replication_position_failed", {{"error", oldest.status().ToString()}});
      return;  // nothing reported rather than "no backup"
    }
    p.oldest_backup_seq = *oldest;
  }
  p.updated_us = absl::ToUnixMicros(absl::Now());
  const std::string key = absl::StrCat(kNodePositionKeyPrefix, options_.node_id);
  natsStatus s = kvStore_PutString(nullptr, nats_->log_kv, key.c_str(), EncodeNodePosition(p).c_str());
  if (s != NATS_OK) LogError("replication_position_failed", {{"error", NatsError(s)}});
  if (absl::StatusOr<uint64_t> trimmed = ReadTrimmedBelow(); trimmed.ok()) trimmed_below_ = *trimmed;
}

void Replicator::TrimLog() {
  kvKeysList keys;
  natsStatus s = kvStore_Keys(&keys, nats_->log_kv, nullptr);
  if (s == NATS_NOT_FOUND) return;
  if (s != NATS_OK) {
    LogError("replication_trim_failed", {{"error", NatsError(s)}});
    return;
  }
  std::vector<NodePosition> nodes;
  bool complete = true;
  for (int i = 0; i < keys.Count && complete; ++i) {
    absl::string_view key = keys.Keys[i];
    if (!absl::ConsumePrefix(&key, kNodePositionKeyPrefix)) continue;
    kvEntry* e = nullptr;
    s = kvStore_Get(&e, nats_->log_kv, keys.Keys[i]);
    if (s == NATS_NOT_FOUND) continue;
    if (s != NATS_OK) {
      LogError("replication_trim_failed", {{"error", NatsError(s)}});
      complete = false;
      break;
    }
    absl::StatusOr<NodePosition> p = DecodeNodePosition(key, kvEntry_ValueString(e));
    kvEntry_Destroy(e);
    if (!p.ok()) {  // in doubt, keep the log
      LogError("replication_trim_failed", {{"error", p.status().ToString()}});
      complete = false;
      break;
    }
    nodes.push_back(*p);
  }
  kvKeysList_Destroy(&keys);
  if (!complete) return;
  const uint64_t keep = FirstSeqToKeep(nodes, absl::ToUnixMicros(absl::Now()), options_.forget_node_after);
  absl::StatusOr<uint64_t> trimmed = ReadTrimmedBelow();
  if (!trimmed.ok()) {
    LogError("replication_trim_failed", {{"error", trimmed.status().ToString()}});
    return;
  }
  if (keep <= std::max<uint64_t>(*trimmed, 1)) return;
  // The point first: a node behind it then stops (ApplierLoop) instead of
  // taking the missing operations for erased ones.
  s = kvStore_PutString(nullptr, nats_->log_kv, kTrimmedBelowKey, absl::StrCat(keep).c_str());
  if (s != NATS_OK) {
    LogError("replication_trim_failed", {{"error", NatsError(s)}});
    return;
  }
  trimmed_below_ = keep;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Stream.Purge.Sequence = keep;  // everything below; no subject filter (see PurgeErased)
  jsErrCode err = static_cast<jsErrCode>(0);
  s = js_PurgeStream(nats_->js, options_.stream.c_str(), &jo, &err);
  if (s != NATS_OK) {
    LogError("replication_trim_failed", {{"error", NatsError(s, err)}});
    return;
  }
  LogInfo("replication_log_trimmed",
          {{"below_seq", static_cast<int64_t>(keep)}, {"nodes", static_cast<int64_t>(nodes.size())}});
}

absl::Status Replicator::ScrubShared(const std::string& learner, uint64_t erase_seq) {
  const std::string prefix = SharedMarkPrefix(learner);
  std::vector<uint64_t> seqs;
  absl::Status listed = store_->ForEachMeta(prefix, [&](absl::string_view key, absl::string_view) {
    absl::StatusOr<uint64_t> seq = SeqOfSharedMark(key, prefix);
    if (seq.ok() && *seq < erase_seq) seqs.push_back(*seq);
    return true;
  });
  if (!listed.ok()) {
    LogError("replication_scrub_failed", {{"error", listed.ToString()}});
    return absl::UnavailableError(absl::StrCat("cannot list the shared messages: ", listed.message()));
  }
  if (seqs.empty()) return absl::OkStatus();
  // What the messages held that is still stored (other learners' statements,
  // shared ones without the erased learner), to publish again.
  LogOp restore;
  restore.kind = LogOpKind::kRestore;
  restore.learner = learner;
  // The position the records below are read at (this thread applies the
  // log, so nothing moves meanwhile): learners erased after it, before the
  // restore reaches the log, are left out where it is applied.
  restore.built_at = store_->AppliedLogSeq();
  std::set<Uuid> seen;
  std::vector<uint64_t> present;
  for (uint64_t seq : seqs) {
    natsMsg* msg = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    natsStatus s = js_GetMsg(&msg, nats_->js, options_.stream.c_str(), seq, nullptr, &err);
    if (s == NATS_NOT_FOUND) continue;  // already gone
    if (s != NATS_OK) {
      LogError("replication_scrub_failed", {{"seq", static_cast<int64_t>(seq)}, {"error", NatsError(s, err)}});
      // Nothing is erased from the log before everything is saved.
      return absl::UnavailableError(absl::StrCat("cannot read shared log message ", seq, ": ", NatsError(s, err)));
    }
    absl::StatusOr<LogOp> op =
        DecodeLogOp(absl::string_view(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))));
    natsMsg_Destroy(msg);
    if (!op.ok()) {
      LogError("replication_scrub_failed", {{"seq", static_cast<int64_t>(seq)}, {"error", op.status().ToString()}});
      return absl::UnavailableError(
          absl::StrCat("cannot decode shared log message ", seq, ": ", op.status().message()));
    }
    present.push_back(seq);
    std::vector<Uuid> ids;
    for (const ParsedStatement& p : op->statements) ids.push_back(p.id);
    for (const auto& [id, record] : op->restored) ids.push_back(id);
    for (const Uuid& id : ids) {
      if (!seen.insert(id).second) continue;
      absl::StatusOr<StoredStatement> st = store_->Get(id);
      if (st.status().code() == absl::StatusCode::kNotFound) continue;
      absl::StatusOr<std::string> value = st.ok() ? EncodeStatementRecord(st->record) : st.status();
      if (!value.ok()) {
        LogError("replication_scrub_failed", {{"error", value.status().ToString()}});
        return absl::UnavailableError(
            absl::StrCat("cannot read statement ", FormatUuid(id), " to re-publish it: ", value.status().message()));
      }
      restore.restored.emplace_back(id, std::move(*value));
    }
  }
  if (present.empty()) return absl::OkStatus();
  // In messages within the log's limit (512 bytes of headroom for headers,
  // as PublishOnce): a learner spread over many mixed batches restores more
  // than one message holds, and an oversized publish failed every time.
  const int64_t max_payload = natsConnection_GetMaxPayload(nats_->nc);
  const std::string subject = SubjectOf(restore, options_.subject_prefix);
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = NATS_OK;
  for (const LogOp& part : SplitRestore(restore, max_payload > 0 ? max_payload - 512 : 0)) {
    const std::string data = EncodeLogOp(part);
    const std::string msg_id = RandomMessageId();
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id.c_str();
    po.MaxWait = 5000;
    jsPubAck* ack = nullptr;
    s = options_.test_scrub_publish_fails != nullptr && options_.test_scrub_publish_fails->load()
            ? NATS_TIMEOUT
            : js_Publish(&ack, nats_->js, subject.c_str(), data.data(), static_cast<int>(data.size()), &po, &err);
    if (s != NATS_OK) {
      // Nothing is erased from the log before every record is saved again
      // (parts already published restore what is stored: harmless twice).
      LogError("replication_scrub_failed", {{"error", NatsError(s, err)}});
      return absl::UnavailableError(
          absl::StrCat("cannot re-publish what the shared messages hold for others: ", NatsError(s, err)));
    }
    jsPubAck_Destroy(ack);
  }
  absl::Status status;
  for (uint64_t seq : present) {
    // Erase overwrites the message's bytes in the stream's files.
    s = js_EraseMsg(nats_->js, options_.stream.c_str(), seq, nullptr, &err);
    if (s != NATS_OK) s = js_DeleteMsg(nats_->js, options_.stream.c_str(), seq, nullptr, &err);
    if (s != NATS_OK && s != NATS_NOT_FOUND && !GoneFromLog(seq)) {
      LogError("replication_scrub_failed", {{"seq", static_cast<int64_t>(seq)}, {"error", NatsError(s, err)}});
      status = absl::UnavailableError(absl::StrCat("cannot erase shared log message ", seq, ": ", NatsError(s, err)));
    }
  }
  LogInfo("replication_scrubbed", {{"messages", static_cast<int64_t>(present.size())},
                                   {"restored", static_cast<int64_t>(restore.restored.size())}});
  return status;
}

namespace {

// A message taken off the consumer, decoded.
struct Delivered {
  uint64_t seq = 0;
  std::string msg_id;
  LogOp op;
};

}  // namespace

void Replicator::ApplierLoop() {
  absl::Time logged = absl::InfinitePast();
  while (!stop_.load()) {
    if (halted_.load()) {
      while (!stop_.load()) absl::SleepFor(absl::Milliseconds(200));
      break;
    }
    if (absl::Status checked = CheckLog(); !checked.ok()) {
      if (checked.code() != absl::StatusCode::kFailedPrecondition && absl::Now() - logged > absl::Seconds(5)) {
        logged = absl::Now();
        LogError("replication_log_check_failed", {{"error", checked.ToString()}});
      }
      if (!halted_.load()) absl::SleepFor(absl::Milliseconds(500));
      continue;
    }
    const uint64_t from = store_->AppliedLogSeq() + 1;
    absl::StatusOr<uint64_t> trimmed = ReadTrimmedBelow();
    if (!trimmed.ok()) {
      LogError("replication_subscribe_failed", {{"error", trimmed.status().ToString()}});
      absl::SleepFor(absl::Milliseconds(500));
      continue;
    }
    trimmed_below_ = *trimmed;
    if (from < *trimmed) {
      // The operations this store needs next are gone from the log: never
      // skip them. Only a restore from a backup helps.
      std::string why = absl::StrCat(
          "this node's store is at log position ", from - 1, " but the log was trimmed below ", *trimmed,
          ": restore the store from a backup (lifelong backup restore latest --force --data_dir=<this node's> "
          "--backup_dir=<any node's backup directory>; docs/replication.md, \"Log retention\") and start "
          "the node again");
      StopApplier("replication_behind_trimmed_log", why);
      while (!stop_.load()) absl::SleepFor(absl::Milliseconds(200));
      break;
    }
    natsSubscription* sub = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    natsStatus s = nats::SubscribeOrderedFrom(nats_->js, options_.stream, options_.subject_prefix, from, &sub, &err);
    if (s != NATS_OK) {
      LogError("replication_subscribe_failed", {{"error", NatsError(s, err)}});
      absl::SleepFor(absl::Milliseconds(500));
      continue;
    }
    LogCursor cursor(store_->AppliedLogSeq(), [this](uint64_t seq) { return StillInLog(seq); });
    bool resubscribe = false;
    nats::ConsumerStallWatch stall(options_.consumer_stall_timeout);
    while (!stop_.load() && !resubscribe && !halted_.load()) {
      // Take what is there (up to 512 messages), waiting up to 200 ms for
      // the first.
      std::vector<Delivered> batch;
      bool poisoned = false;
      std::string poison;  // why, when poisoned
      for (int i = 0; i < 512; ++i) {
        if (i > 0) {
          int pending = 0;
          if (natsSubscription_GetPending(sub, &pending, nullptr) != NATS_OK || pending == 0) break;
        }
        natsMsg* msg = nullptr;
        s = natsSubscription_NextMsg(&msg, sub, i == 0 ? 200 : 10);
        if (s == NATS_TIMEOUT) break;
        if (s != NATS_OK) {
          LogError("replication_consumer_failed", {{"error", NatsError(s)}});
          resubscribe = true;
          break;
        }
        if (options_.test_silence_consumer != nullptr && options_.test_silence_consumer->load()) {
          natsMsg_Destroy(msg);
          continue;
        }
        jsMsgMetaData* meta = nullptr;
        if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
          natsMsg_Destroy(msg);
          continue;  // not a JetStream message (e.g. a status message)
        }
        stall.Delivered();
        const uint64_t seq = meta->Sequence.Stream;
        absl::Status next = cursor.Next(seq, meta->Sequence.Consumer);
        jsMsgMetaData_Destroy(meta);
        if (next.code() == absl::StatusCode::kAlreadyExists) {
          natsMsg_Destroy(msg);
          continue;
        }
        if (!next.ok()) {
          LogError("replication_delivery_gap", {{"error", std::string(next.message())}});
          natsMsg_Destroy(msg);
          resubscribe = true;
          break;
        }
        absl::StatusOr<LogOp> op =
            DecodeLogOp(absl::string_view(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))));
        const char* id = nullptr;
        std::string msg_id;
        if (natsMsgHeader_Get(msg, kMsgIdHeader, &id) == NATS_OK && id != nullptr) msg_id = id;
        natsMsg_Destroy(msg);
        if (!op.ok()) {
          // Never skip an operation: apply what came before it, then stop
          // applying, loudly (an operator must look at the log).
          poison = absl::StrCat("operation ", seq, ": ", op.status().message());
          {
            // No write is taken from here on (CheckWritable).
            absl::MutexLock lock(&mu_);
            applier_error_ = poison;
          }
          poisoned = true;
          break;
        }
        // Apply the position only once it is applied (below).
        batch.push_back({seq, std::move(msg_id), std::move(*op)});
        cursor.Applied(seq);
      }
      if (batch.empty() && !poisoned && !resubscribe) {
        const uint64_t applied = store_->AppliedLogSeq();
        const uint64_t log_last = log_last_seq_.load();
        if (stall.Stalled(applied, log_last)) {
          // Behind the log and nothing delivered: the consumer is gone (the
          // client library does not always notice). Subscribe again.
          consumer_restarts_.fetch_add(1);
          LogError("replication_consumer_stalled", {{"node", options_.node_id},
                                                    {"applied_seq", static_cast<int64_t>(applied)},
                                                    {"log_last_seq", static_cast<int64_t>(log_last)},
                                                    {"silent_ms", absl::ToInt64Milliseconds(stall.Silent())}});
          resubscribe = true;
        }
      }
      // Apply the batch in order: consecutive record operations in one group
      // (nothing once the log was found behind the store: what it holds after
      // this node's position is not what this node is missing).
      size_t i = 0;
      while (i < batch.size() && !stop_.load() && !halted_.load()) {
        if (batch[i].op.kind == LogOpKind::kRecord) {
          size_t j = i;
          std::vector<LoggedRecord> ops;
          for (; j < batch.size() && batch[j].op.kind == LogOpKind::kRecord; ++j) {
            LoggedRecord r;
            r.seq = batch[j].seq;
            r.now_us = batch[j].op.now_us;
            r.meta_marks = SharedMarks(batch[j].op, batch[j].seq);
            r.statements = std::move(batch[j].op.statements);
            ops.push_back(std::move(r));
          }
          absl::Status applied;
          const absl::Time failing_since = absl::Now();
          while (!(applied = store_->ApplyLoggedRecords(&ops)).ok() && !stop_.load()) {
            if (applied.code() == absl::StatusCode::kFailedPrecondition) break;  // already applied
            ApplyFailed(ops.front().seq, applied, failing_since);
            absl::SleepFor(absl::Seconds(1));
          }
          if (applied.ok()) ApplyRecovered();
          for (size_t k = 0; k < ops.size(); ++k) {
            Deliver(batch[i + k].msg_id, ops[k].seq, [&](Waiter* w) { w->records = ops[k].result; });
          }
          i = j;
          continue;
        }
        Delivered& d = batch[i];
        absl::Status applied;
        absl::StatusOr<int64_t> erased = absl::UnknownError("not applied");
        absl::Status doc_result;            // a document write's own outcome
        std::vector<std::string> left_out;  // a restore's learners erased since it was built
        const absl::Time failing_since = absl::Now();
        do {
          switch (d.op.kind) {
            case LogOpKind::kErase:
              applied = store_->ApplyLoggedErase(d.seq, d.op.now_us, d.op.learner, &erased);
              break;
            case LogOpKind::kMeta:
              applied = store_->ApplyLoggedMeta(d.seq, d.op.meta);
              break;
            case LogOpKind::kAudit:
              applied = store_->ApplyLoggedAudit(d.seq, d.op.now_us, d.op.audit);
              break;
            case LogOpKind::kDocument: {
              if (documents_ == nullptr) {
                applied = absl::UnavailableError("no xAPI document store on this node to apply a document write");
                break;
              }
              // The document and the log position in one write.
              rocksdb::WriteBatch batch;
              doc_result = documents_->Apply(d.op.document, &batch);
              if (doc_result.code() == absl::StatusCode::kUnavailable) {
                applied = doc_result;  // storage: apply it again
                break;
              }
              if (!doc_result.ok()) batch.Clear();  // a refused write changes nothing; the position moves on
              applied = store_->ApplyLoggedWrites(d.seq, &batch);
              break;
            }
            case LogOpKind::kRestore:
              left_out.clear();
              applied = store_->ApplyLoggedRestore(d.seq, d.op.built_at, d.op.restored, SharedMarkPrefix(d.op.learner),
                                                   SharedMarks(d.op, d.seq), &left_out);
              break;
            case LogOpKind::kRecord:
              break;
          }
          if (applied.ok() || applied.code() == absl::StatusCode::kFailedPrecondition) break;
          // Never skipped: retried until it applies (ApplyFailed says so).
          ApplyFailed(d.seq, applied, failing_since);
          absl::SleepFor(absl::Seconds(1));
        } while (!stop_.load());
        if (applied.ok()) ApplyRecovered();
        if (d.op.kind == LogOpKind::kErase && applied.ok()) {
          // The leader waits for every node's report before it answers the
          // erasure (AwaitErasureEverywhere).
          report_position_now_ = true;
          // (The learner's xAPI documents went with the statements, in the
          // erasure's batch: RecordStore::SetEraseExtension.)
          absl::Status from_log = PurgeErased(d.op.learner, d.seq);
          // The leader also takes the learner out of the shared messages
          // (before the erasure is answered).
          if (role_.load() == kRoleLeader) {
            if (absl::Status scrubbed = ScrubShared(d.op.learner, d.seq); from_log.ok()) from_log = scrubbed;
          }
          if (!from_log.ok() && erased.ok()) {
            // Erased from every store, not (yet) from the log: the erasure
            // is not answered as done. Asked again (EraseLearner is
            // idempotent), the leader lists what is left and erases it
            // (the shared marks stay until a restore is applied).
            erased = absl::UnavailableError(
                absl::StrCat("the learner's records are erased from the store but not yet from the replicated log (",
                             from_log.message(), "); erase the learner again"));
          }
        }
        if (d.op.kind == LogOpKind::kRestore && applied.ok() && role_.load() == kRoleLeader) {
          // Learners erased between the restore's reading and its place in
          // the log: nothing of theirs was applied, but this message holds
          // their statements; it is scrubbed like a shared message at their
          // erasure (the marks of this message name them).
          // (No one waits on a restore: a failure is logged, and the
          // learner's erasure asked again scrubs what is left.)
          for (const std::string& l : left_out) ScrubShared(l, d.seq + 1).IgnoreError();
        }
        Deliver(d.msg_id, d.seq, [&](Waiter* w) {
          w->erased = erased;
          w->status = applied.code() == absl::StatusCode::kFailedPrecondition ? absl::OkStatus() : applied;
          if (d.op.kind == LogOpKind::kDocument && applied.ok()) w->status = doc_result;
        });
        ++i;
      }
      if (poisoned) {
        // What came before it is applied and answered; what waits on later
        // operations is answered now.
        StopApplier("replication_applier_stopped", poison);
        while (!stop_.load()) absl::SleepFor(absl::Milliseconds(200));
      }
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    if (options_.test_silence_consumer != nullptr) options_.test_silence_consumer->store(false);
  }
}

void Replicator::SetLeader(const std::string& leader) {
  absl::MutexLock lock(&mu_);
  if (leader != leader_) {
    if (!leader.empty()) {
      leader_changes_.fetch_add(1);
      LogInfo("replication_leader", {{"node", options_.node_id}, {"leader", leader}});
    }
    leader_ = leader;
  }
}

void Replicator::StepDown(absl::string_view why) {
  if (leading_ || role_.load() != kRoleFollower) {
    LogInfo("replication_step_down", {{"node", options_.node_id}, {"why", std::string(why)}});
  }
  leading_ = false;
  lease_deadline_ns_ = 0;
  role_ = kRoleFollower;
}

bool Replicator::IsLeader() const { return role_.load() == kRoleLeader && SteadyNowNs() < lease_deadline_ns_.load(); }

void Replicator::LeaseLoop() {
  const absl::Duration tick = LeaseTick();
  // How long a lease counts as held from the moment its create or update was
  // sent: the bucket's TTL runs from when the server stored it (later), less
  // a tenth for clocks that do not run quite alike.
  const int64_t lease_valid_ns = options_.lease_ttl_ms * 1000000 / 10 * 9;
  kvStore* kv = nats_->kv;
  const char* key = options_.lease_key.c_str();
  const char* me = options_.node_id.c_str();
  while (!stop_.load()) {
    if (options_.test_lease_tick_hook) options_.test_lease_tick_hook();
    const absl::Time started = absl::Now();
    if (resign_.load()) {
      if (leading_) {
        kvStore_Delete(kv, key);
        StepDown("resigned (shutting down)");
      }
      role_ = kRoleFollower;
      resigned_ = true;
      absl::SleepFor(tick);
      continue;
    }
    // The store's position first: the log may only grow after it is read.
    const uint64_t applied_before = store_->AppliedLogSeq();
    // A read's result is the log's end as of its start at the earliest: its
    // age counts from there (ReadRefusalBound).
    const int64_t read_start_ns = SteadyNowNs();
    if (absl::StatusOr<std::optional<uint64_t>> last = ReadStreamLastSeq(); last.ok()) {
      log_last_seq_ = last->value_or(0);
      log_last_read_ns_ = read_start_ns;
      NoteLogEnd(last->value_or(0), read_start_ns);
      if (log_checked_.load() && !halted_.load()) {
        // Halted only once the finding holds for kBehindConfirmation (a
        // stream leader just elected may answer from a store that has not
        // applied everything yet). Meanwhile a write cannot slip through:
        // its PubAck, at a sequence already applied, halts at once (Propose).
        if (CheckLogAgainstStore(applied_before, *last) != LogVerdict::kBehindStore) {
          behind_reads_ = 0;
        } else if (behind_reads_++ == 0) {
          behind_since_ = started;
        } else if (behind_reads_ >= 3 && started - behind_since_ >= kBehindConfirmation) {
          Halt("replication_log_behind_store",
               LogBehindStoreMessage(options_.node_id, options_.stream, applied_before, *last),
               applied_before - last->value_or(0));
        }
      }
    }
    bool applier_stopped;
    {
      absl::MutexLock lock(&mu_);
      applier_stopped = !StoppedReasonLocked().empty();
    }
    if (applier_stopped || !log_checked_.load()) {
      // (Not checked yet: the applier has not yet found the log in step with
      // the store; no lease before it has.)
      // A node that cannot apply the log never leads: it gives the lease
      // back at once rather than hold it without ever taking writes.
      if (leading_) {
        kvStore_Delete(kv, key);
        StepDown("the applier is stopped");
        SetLeader("");
      }
      kvEntry* e = nullptr;
      if (kvStore_Get(&e, kv, key) == NATS_OK) {
        std::string holder = kvEntry_ValueString(e);
        bool put = kvEntry_Operation(e) == kvOp_Put;
        kvEntry_Destroy(e);
        SetLeader(put ? holder : "");
      }
    } else if (!connected_.load()) {
      StepDown("disconnected from NATS");
    } else if (leading_ && started - last_renewal_ < tick) {
      // Catching up polls faster than the lease needs renewing.
    } else if (leading_) {
      last_renewal_ = started;
      uint64_t rev = 0;
      const int64_t sent = SteadyNowNs();
      natsStatus s = kvStore_UpdateString(&rev, kv, key, me, lease_revision_);
      if (s == NATS_OK) {
        lease_revision_ = rev;
        lease_deadline_ns_ = sent + lease_valid_ns;
      } else {
        StepDown(absl::StrCat("lease renewal failed: ", NatsError(s)));
        SetLeader("");
      }
    } else {
      kvEntry* e = nullptr;
      natsStatus s = kvStore_Get(&e, kv, key);
      if (s == NATS_OK) {
        std::string holder = kvEntry_ValueString(e);
        uint64_t rev = kvEntry_Revision(e);
        bool put = kvEntry_Operation(e) == kvOp_Put;
        kvEntry_Destroy(e);
        if (put && holder == options_.node_id) {
          // Our previous incarnation's lease: take it back.
          uint64_t next = 0;
          const int64_t sent = SteadyNowNs();
          if (kvStore_UpdateString(&next, kv, key, me, rev) == NATS_OK) {
            leading_ = true;
            lease_revision_ = next;
            lease_deadline_ns_ = sent + lease_valid_ns;
            last_renewal_ = started;
            role_ = kRoleCatchingUp;
          }
        }
        SetLeader(put ? holder : "");
      } else if (s == NATS_NOT_FOUND) {
        SetLeader("");
        uint64_t rev = 0;
        const int64_t sent = SteadyNowNs();
        if (kvStore_CreateString(&rev, kv, key, me) == NATS_OK) {
          leading_ = true;
          lease_revision_ = rev;
          lease_deadline_ns_ = sent + lease_valid_ns;
          last_renewal_ = started;
          role_ = kRoleCatchingUp;
          SetLeader(options_.node_id);
          LogInfo("replication_lease_won", {{"node", options_.node_id}});
        }
      }
    }
    if (leading_ && SteadyNowNs() >= lease_deadline_ns_.load()) StepDown("lease expired before it was renewed");
    if (leading_ && role_.load() == kRoleCatchingUp) {
      // Writes only once everything in the log before the lease is applied,
      // and never with a store beyond the log's end.
      const uint64_t applied_now = store_->AppliedLogSeq();
      absl::StatusOr<uint64_t> last = ReadLogLastSeq();
      if (last.ok() && applied_now <= *last && WaitApplied(*last, absl::ZeroDuration())) {
        bool clean;
        {
          absl::MutexLock lock(&mu_);
          clean = StoppedReasonLocked().empty();
        }
        if (clean && connected_.load()) {
          {
            // Proposals of this leader start above every sequence applied,
            // whoever proposed it.
            absl::MutexLock order(&order_mu_);
            if (store_ != nullptr) reserved_end_ = std::max(reserved_end_, store_->LastAssignedSeq() + 1);
          }
          role_ = kRoleLeader;
          LogInfo("replication_leading", {{"node", options_.node_id}, {"applied_seq", static_cast<int64_t>(*last)}});
        }
      }
    }
    absl::Duration spent = absl::Now() - started;
    absl::Duration wait = role_.load() == kRoleCatchingUp ? absl::Milliseconds(20) : tick;
    if (spent < wait) absl::SleepFor(wait - spent);
  }
}

absl::StatusOr<std::optional<uint64_t>> Replicator::ReadStreamLastSeq() const {
  if (nats_ == nullptr) return absl::UnavailableError("replicated log: stopped");
  jsStreamInfo* si = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, nats_->js, options_.stream.c_str(), nullptr, &err);
  if (s == NATS_NOT_FOUND) return std::optional<uint64_t>();
  if (s != NATS_OK) return Unavailable("stream info", s, err);
  uint64_t last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  return std::optional<uint64_t>(last);
}

absl::StatusOr<uint64_t> Replicator::ReadLogLastSeq() const {
  LL_ASSIGN_OR_RETURN(std::optional<uint64_t> last, ReadStreamLastSeq());
  if (!last) return absl::NotFoundError(absl::StrCat("replicated log: stream ", options_.stream, " does not exist"));
  return *last;
}

absl::Status Replicator::CheckLog() {
  for (int attempt = 0;; ++attempt) {
    const uint64_t applied = store_->AppliedLogSeq();  // before the stream
    const int64_t read_start_ns = SteadyNowNs();
    LL_ASSIGN_OR_RETURN(std::optional<uint64_t> last, ReadStreamLastSeq());
    switch (CheckLogAgainstStore(applied, last)) {
      case LogVerdict::kInStep:
        log_last_seq_ = *last;
        log_last_read_ns_ = read_start_ns;
        log_checked_ = true;
        return absl::OkStatus();
      case LogVerdict::kBehindStore:
        return HaltIfStillBehind(applied, last);
      case LogVerdict::kCreateLog: {
        if (attempt > 0) return absl::UnavailableError("replicated log: the stream created is not there yet");
        // A new cluster: every empty node may try; the same configuration
        // twice is one stream.
        jsErrCode err = static_cast<jsErrCode>(0);
        natsStatus s = PutStream(nats_->js, options_, /*create=*/true, &err);
        if (s != NATS_OK) return Unavailable(absl::StrCat("create stream ", options_.stream), s, err);
        LogInfo("replication_stream_created", {{"node", options_.node_id}, {"stream", options_.stream}});
        break;
      }
    }
  }
}

absl::Status Replicator::HaltIfStillBehind(uint64_t applied, std::optional<uint64_t> last) {
  for (const absl::Time since = absl::Now(); absl::Now() - since < kBehindConfirmation;) {
    absl::SleepFor(absl::Milliseconds(500));
    if (stop_.load()) return absl::UnavailableError("replicated log: stopping");
    LL_ASSIGN_OR_RETURN(last, ReadStreamLastSeq());
    if (CheckLogAgainstStore(applied, last) != LogVerdict::kBehindStore) {
      return absl::UnavailableError("replicated log: its end moved while it was checked");
    }
  }
  const std::string why = LogBehindStoreMessage(options_.node_id, options_.stream, applied, last);
  Halt("replication_log_behind_store", why, applied - last.value_or(0));
  return absl::FailedPreconditionError(why);
}

void Replicator::Halt(absl::string_view event, const std::string& why, uint64_t ahead_of_log) {
  halted_ = true;
  ahead_of_log_ = ahead_of_log;
  if (ahead_of_log_gauge_ != nullptr) ahead_of_log_gauge_->Set(static_cast<double>(ahead_of_log));
  StopApplier(event, why, ahead_of_log);
}

void Replicator::FailWaitersLocked(const std::string& why) {
  for (auto& [id, w] : waiters_) {
    if (w->done) continue;
    w->done = true;
    absl::Status stopped = absl::UnavailableError(absl::StrCat("replication stopped on ", options_.node_id, ": ", why));
    w->records = stopped;
    w->erased = stopped;
    w->status = stopped;
  }
}

void Replicator::StopApplier(absl::string_view event, const std::string& why, std::optional<uint64_t> ahead_of_log) {
  {
    absl::MutexLock lock(&mu_);
    if (applier_error_.empty()) applier_error_ = why;
    // What is waiting for the applier will not be applied here.
    FailWaitersLocked(why);
  }
  role_ = kRoleFollower;
  if (applier_stopped_gauge_ != nullptr) applier_stopped_gauge_->Set(1);
  nlohmann::json fields = {{"node", options_.node_id}, {"error", why}};
  if (ahead_of_log) fields["ahead_of_log"] = static_cast<int64_t>(*ahead_of_log);
  LogError(std::string(event), fields);
}

void Replicator::ApplyFailed(uint64_t seq, const absl::Status& failure, absl::Time failing_since) {
  const absl::Time now = absl::Now();
  const bool same_every_try = failure.code() != absl::StatusCode::kUnavailable;
  if (now - apply_failure_logged_ >= absl::Seconds(10)) {
    apply_failure_logged_ = now;
    LogError("replication_apply_failed", {{"seq", static_cast<int64_t>(seq)}, {"error", failure.ToString()}});
  }
  if (!same_every_try && now - failing_since < kApplyStallLimit) return;  // a storage hiccup, so far
  const std::string why = absl::StrCat(
      "cannot apply log operation ", seq, " (", failure.ToString(), "); ",
      same_every_try
          ? "it fails the same way on every try"
          : absl::StrCat("failing for ", absl::FormatDuration(absl::Trunc(now - failing_since, absl::Seconds(1)))),
      ". Nothing is skipped: it is tried again every second; meanwhile this node neither leads nor takes writes "
      "and its reads do not move on (docs/replication.md, \"An operation that cannot be applied\")");
  bool first;
  {
    absl::MutexLock lock(&mu_);
    first = apply_stalled_.empty();
    apply_stalled_ = why;
    FailWaitersLocked(why);
  }
  role_ = kRoleFollower;  // the lease thread gives the lease back
  if (applier_stopped_gauge_ != nullptr) applier_stopped_gauge_->Set(1);
  if (first) LogError("replication_apply_stalled", {{"node", options_.node_id}, {"error", why}});
}

void Replicator::ApplyRecovered() {
  {
    absl::MutexLock lock(&mu_);
    if (apply_stalled_.empty()) return;
    apply_stalled_.clear();
    if (!applier_error_.empty()) return;
  }
  if (applier_stopped_gauge_ != nullptr) applier_stopped_gauge_->Set(0);
  LogInfo("replication_apply_resumed", {{"node", options_.node_id}});
}

const std::string& Replicator::StoppedReasonLocked() const {
  return applier_error_.empty() ? apply_stalled_ : applier_error_;
}

absl::StatusOr<uint64_t> Replicator::CountMessages(const std::string& subject) const {
  if (nats_ == nullptr) return absl::UnavailableError("replicated log: stopped");
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Stream.Info.SubjectsFilter = subject.c_str();
  jsStreamInfo* si = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, nats_->js, options_.stream.c_str(), &jo, &err);
  if (s != NATS_OK) return Unavailable("stream info", s, err);
  uint64_t n = 0;
  if (si->State.Subjects != nullptr) {
    for (int i = 0; i < si->State.Subjects->Count; ++i) n += si->State.Subjects->List[i].Msgs;
  }
  jsStreamInfo_Destroy(si);
  return n;
}

bool Replicator::WaitApplied(uint64_t seq, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return applied_ >= seq; };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

ReplicationStatus Replicator::Status() const {
  ReplicationStatus st;
  st.node = options_.node_id;
  switch (role_.load()) {
    case kRoleLeader:
      st.role = "leader";
      break;
    case kRoleCatchingUp:
      st.role = "catching_up";
      break;
    default:
      st.role = "follower";
  }
  st.connected = connected_.load();
  st.leader_changes = leader_changes_.load();
  st.consumer_restarts = consumer_restarts_.load();
  st.erasures_unconfirmed = erasures_unconfirmed_.load();
  st.log_last_seq = log_last_seq_.load();
  absl::MutexLock lock(&mu_);
  st.leader = leader_;
  st.applied_seq = applied_;
  st.lag = st.log_last_seq > st.applied_seq ? st.log_last_seq - st.applied_seq : 0;
  st.applier_error = StoppedReasonLocked();
  st.trimmed_below = trimmed_below_.load();
  st.ahead_of_log = ahead_of_log_.load();
  return st;
}

std::string Replicator::StatusJson() const {
  ReplicationStatus st = Status();
  nlohmann::json j = {{"node", st.node},
                      {"role", st.role},
                      {"leader", st.leader},
                      {"applied_seq", st.applied_seq},
                      {"log_last_seq", st.log_last_seq},
                      {"lag", st.lag},
                      {"leader_changes", st.leader_changes},
                      {"consumer_restarts", st.consumer_restarts},
                      {"erasures_unconfirmed", st.erasures_unconfirmed},
                      {"connected", st.connected},
                      {"trimmed_below", st.trimmed_below},
                      {"ahead_of_log", st.ahead_of_log}};
  if (!st.applier_error.empty()) j["applier_error"] = st.applier_error;
  return j.dump();
}

}  // namespace lifelong::records::replication
