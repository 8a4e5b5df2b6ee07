#include "services/catalog/replication/catalog_replicator.h"

#include <nats/nats.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/catalog/catalog_codec.h"
#include "services/common/log.h"
#include "services/common/nats_client.h"
#include "services/common/nats_config.h"

namespace lifelong::catalog {
namespace {

// How long the log must be found behind the store before the node halts (a
// JetStream stream leader just elected may answer from stale state).
constexpr absl::Duration kBehindConfirmation = absl::Seconds(3);

std::string NatsError(natsStatus s, jsErrCode err = static_cast<jsErrCode>(0)) { return nats::NatsErrorText(s, err); }

absl::Status Unavailable(absl::string_view what, natsStatus s, jsErrCode err = static_cast<jsErrCode>(0)) {
  return nats::NatsUnavailable("catalog log", what, s, err);
}

// Nats-Msg-Id of an entry planned at `expected_last`: a publish retried
// after a lost acknowledgement is the same message.
std::string MessageId(CatalogLogEntry kind, const std::string& payload, uint64_t expected_last) {
  const std::string data = absl::StrCat(expected_last, "/", CatalogLogEntryName(kind), "/", payload);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::StrCat("cat-", absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 16)));
}

}  // namespace

struct CatalogReplicator::Nats {
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  ~Nats() {
    if (js != nullptr) jsCtx_Destroy(js);
    if (nc != nullptr) {
      natsConnection_Close(nc);
      natsConnection_Destroy(nc);
    }
    if (opts != nullptr) natsOptions_Destroy(opts);
  }
};

CatalogReplicator::CatalogReplicator(CatalogReplicatorOptions options)
    : options_(std::move(options)), nats_(std::make_unique<Nats>()) {}

CatalogReplicator::~CatalogReplicator() { Stop(); }

absl::StatusOr<std::unique_ptr<CatalogReplicator>> CatalogReplicator::Connect(CatalogReplicatorOptions options) {
  if (absl::Status s = nats::ValidateLogFlags(options.servers, options.node_id, options.stream, options.replicas);
      !s.ok()) {
    return s;
  }
  std::unique_ptr<CatalogReplicator> r(new CatalogReplicator(std::move(options)));
  if (absl::Status s = r->Setup(); !s.ok()) return s;
  return r;
}

absl::Status CatalogReplicator::Setup() {
  Nats& n = *nats_;
  natsStatus s =
      nats::NewLogConnectionOptions(options_.servers, options_.node_id, options_.user, options_.password, &n.opts);
  if (s != NATS_OK) return Unavailable("options", s);
  natsOptions_SetDisconnectedCB(
      n.opts,
      [](natsConnection*, void* self) {
        static_cast<CatalogReplicator*>(self)->connected_ = false;
        LogInfo("catalog_log_disconnected", {});
      },
      this);
  natsOptions_SetReconnectedCB(
      n.opts,
      [](natsConnection*, void* self) {
        static_cast<CatalogReplicator*>(self)->connected_ = true;
        LogInfo("catalog_log_reconnected", {});
      },
      this);
  const absl::Time deadline = absl::Now() + options_.setup_timeout;
  absl::Status last = absl::UnavailableError("catalog log: not tried");
  while (absl::Now() < deadline) {
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
    s = natsConnection_JetStream(&n.js, n.nc, &jo);
    if (s != NATS_OK) return Unavailable("JetStream context", s);
    LogInfo("catalog_log_connected",
            {{"node", options_.node_id}, {"stream", options_.stream}, {"replicas", options_.replicas}});
    return absl::OkStatus();
  }
  return last;
}

absl::Status CatalogReplicator::Start(CatalogStore* store) {
  if (const uint64_t unlogged = store->UnloggedWrites(); unlogged > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the catalog database holds writes made without the replicated log (a single-node catalog at "
                     "generation ",
                     unlogged,
                     "): it cannot join the log; "
                     "start this node on an empty --data_dir (it rebuilds the catalog from the log), or load the "
                     "courses through a replicated node (docs/catalog.md, \"Replication\")"));
  }
  store_ = store;
  {
    absl::MutexLock lock(&mu_);
    applied_ = store->AppliedLogSeq();
  }
  applier_ = std::thread([this] { ApplierLoop(); });
  poller_ = std::thread([this] { PollLoop(); });
  return absl::OkStatus();
}

void CatalogReplicator::Stop() {
  if (stop_.exchange(true)) return;
  if (applier_.joinable()) applier_.join();
  if (poller_.joinable()) poller_.join();
  nats_.reset();
  LogInfo("catalog_log_stopped", {{"node", options_.node_id}});
}

absl::StatusOr<uint64_t> CatalogReplicator::ReadLogLastSeq() const {
  jsStreamInfo* si = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, nats_->js, options_.stream.c_str(), nullptr, &err);
  if (s == NATS_NOT_FOUND) return absl::NotFoundError(absl::StrCat("no stream ", options_.stream));
  if (s != NATS_OK) return Unavailable("stream info", s, err);
  const uint64_t last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  return last;
}

absl::Status CatalogReplicator::CreateStream() {
  const std::string subjects = absl::StrCat(options_.subject_prefix, ".>");
  const char* subject_list[] = {subjects.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = options_.stream.c_str();
  cfg.Subjects = subject_list;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = options_.replicas;
  cfg.Retention = js_LimitsPolicy;
  cfg.Duplicates = int64_t{120} * 1000 * 1000 * 1000;  // 2 minutes
  jsStreamInfo* si = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, nats_->js, &cfg, nullptr, &err);
  if (si != nullptr) jsStreamInfo_Destroy(si);
  if (s != NATS_OK && err != JSStreamNameExistErr) return Unavailable("create stream", s, err);
  LogInfo("catalog_log_stream_created", {{"stream", options_.stream}, {"replicas", options_.replicas}});
  return absl::OkStatus();
}

void CatalogReplicator::Halt(const std::string& why) {
  {
    // Under mu_: WaitApplied's waiters re-check (halted_) when it is released.
    absl::MutexLock lock(&mu_);
    if (!applier_error_.empty()) return;
    applier_error_ = why;
    halted_ = true;
  }
  LogError("catalog_log_halted", {{"node", options_.node_id}, {"error", why}});
}

void CatalogReplicator::PollLoop() {
  bool init_tried = false;
  absl::Time setup_logged = absl::InfinitePast();
  while (!stop_.load()) {
    const uint64_t applied = store_->AppliedLogSeq();
    absl::StatusOr<uint64_t> last = ReadLogLastSeq();
    if (absl::IsNotFound(last.status()) && applied == 0) {
      if (absl::Status c = CreateStream(); !c.ok() && absl::Now() - setup_logged >= absl::Seconds(5)) {
        setup_logged = absl::Now();  // every 5 s at most while it keeps failing
        LogError("catalog_log_setup_failed", {{"error", c.ToString()}});
      }
      last = ReadLogLastSeq();
    }
    // A store that applied nothing and finds no stream only waits for one
    // (its creation above failed: e.g. too few NATS servers for --replicas).
    if (last.ok() || (absl::IsNotFound(last.status()) && applied > 0)) {
      const uint64_t end = last.ok() ? *last : 0;
      if (last.ok()) stream_ready_ = true;
      if (end < applied || !last.ok()) {
        // The log lost what this store applied (or the stream is gone):
        // new entries would reuse those positions. Confirmed for 3 s.
        if (behind_since_ == absl::InfiniteFuture()) behind_since_ = absl::Now();
        if (absl::Now() - behind_since_ >= kBehindConfirmation && !halted_.load()) {
          Halt(absl::StrCat("this node's catalog has applied log position ", applied, " but the log ",
                            last.ok() ? absl::StrCat("ends at ", end) : std::string("is gone"),
                            ": the log lost entries; restore the log's servers, or rebuild this node from the log "
                            "(docs/catalog.md, \"Replication\")"));
        }
      } else {
        behind_since_ = absl::InfiniteFuture();
        log_last_seq_ = end;
        {
          absl::MutexLock lock(&mu_);
          if (!ready_known_) {
            ready_known_ = true;
            ready_at_ = std::max<uint64_t>(end, 1);  // the init entry at least
          }
        }
        // A new log: its first entry is the page-token secret every node
        // adopts (only one such entry can land: ExpectNoMessage makes the
        // publish conditional on no message on the init subject).
        if (end == 0 && applied == 0 && !init_tried) {
          init_tried = true;
          std::string secret(codec::kPageTokenSecretBytes, '\0');
          if (RAND_bytes(reinterpret_cast<unsigned char*>(&secret[0]), static_cast<int>(secret.size())) == 1) {
            absl::StatusOr<bool> landed = Append(CatalogLogEntry::kInit, secret, 0);
            LogInfo("catalog_log_initialised", {{"node", options_.node_id}, {"by_this_node", landed.ok() && *landed}});
            if (!landed.ok()) init_tried = false;
          }
        }
      }
    }
    for (absl::Duration slept; slept < options_.poll_interval && !stop_.load(); slept += absl::Milliseconds(50)) {
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
}

void CatalogReplicator::ApplierLoop() {
  int gaps_at_same_position = 0;
  uint64_t last_gap_position = 0;
  while (!stop_.load() && !halted_.load()) {
    if (!stream_ready_.load()) {
      absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    const uint64_t from = store_->AppliedLogSeq() + 1;
    natsSubscription* sub = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    natsStatus s = nats::SubscribeOrderedFrom(nats_->js, options_.stream, options_.subject_prefix, from, &sub, &err);
    if (s != NATS_OK) {
      LogError("catalog_log_subscribe_failed", {{"error", NatsError(s, err)}});
      absl::SleepFor(absl::Milliseconds(500));
      continue;
    }
    bool resubscribe = false;
    nats::ConsumerStallWatch stall(options_.consumer_stall_timeout);
    while (!stop_.load() && !resubscribe && !halted_.load()) {
      natsMsg* msg = nullptr;
      s = natsSubscription_NextMsg(&msg, sub, 200);
      if (s == NATS_TIMEOUT) {
        const uint64_t applied = store_->AppliedLogSeq();
        const uint64_t log_last = log_last_seq_.load();
        if (stall.Stalled(applied, log_last)) {
          // Behind the log and nothing delivered: the consumer is gone (the
          // client library does not always notice). Subscribe again.
          consumer_restarts_.fetch_add(1);
          LogError("catalog_log_consumer_stalled", {{"node", options_.node_id},
                                                    {"applied_seq", static_cast<int64_t>(applied)},
                                                    {"log_last_seq", static_cast<int64_t>(log_last)},
                                                    {"silent_ms", absl::ToInt64Milliseconds(stall.Silent())}});
          resubscribe = true;
        }
        continue;
      }
      if (s != NATS_OK) {
        LogError("catalog_log_consumer_failed", {{"error", NatsError(s)}});
        resubscribe = true;
        break;
      }
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
        natsMsg_Destroy(msg);
        continue;  // not a JetStream message
      }
      const uint64_t seq = meta->Sequence.Stream;
      jsMsgMetaData_Destroy(meta);
      stall.Delivered();
      const uint64_t applied = store_->AppliedLogSeq();
      if (seq <= applied) {
        natsMsg_Destroy(msg);
        continue;
      }
      if (seq != applied + 1) {
        // Entries are never removed: a gap is a fault. Ask again; stop
        // applying when the log keeps skipping the same position.
        natsMsg_Destroy(msg);
        gaps_at_same_position = last_gap_position == applied ? gaps_at_same_position + 1 : 1;
        last_gap_position = applied;
        LogError("catalog_log_gap", {{"applied", static_cast<int64_t>(applied)}, {"got", static_cast<int64_t>(seq)}});
        if (gaps_at_same_position >= 5) {
          Halt(absl::StrCat("the log has no entry ", applied + 1, " (it delivered ", seq,
                            "): entries are missing from the log; rebuild the log's servers"));
        }
        resubscribe = true;
        break;
      }
      const std::string subject = natsMsg_GetSubject(msg);  // a copy: msg is destroyed below
      const absl::string_view name = absl::string_view(subject).substr(subject.rfind('.') + 1);
      std::optional<CatalogLogEntry> kind;
      for (CatalogLogEntry k : {CatalogLogEntry::kInit, CatalogLogEntry::kCourse, CatalogLogEntry::kProgramme}) {
        if (CatalogLogEntryName(k) == name) kind = k;
      }
      const std::string payload(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
      natsMsg_Destroy(msg);
      absl::Status applied_status =
          kind ? store_->ApplyLogged(seq, *kind, payload)
               : absl::DataLossError(absl::StrCat("catalog log entry ", seq, ": unknown subject ", subject,
                                                  " (written by a newer version?)"));
      while (absl::IsUnavailable(applied_status) && !stop_.load()) {
        absl::SleepFor(absl::Milliseconds(200));
        applied_status = store_->ApplyLogged(seq, *kind, payload);
      }
      if (!applied_status.ok()) {
        if (!stop_.load()) Halt(applied_status.ToString());
        break;
      }
      absl::MutexLock lock(&mu_);
      applied_ = seq;
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    if (resubscribe) absl::SleepFor(absl::Milliseconds(200));
  }
}

bool CatalogReplicator::WaitApplied(uint64_t seq, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto done = [this, seq]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return applied_ >= seq || halted_.load(); };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return applied_ >= seq;
}

absl::StatusOr<bool> CatalogReplicator::Append(CatalogLogEntry kind, const std::string& payload,
                                               uint64_t expected_last) {
  if (halted_.load()) {
    absl::MutexLock lock(&mu_);
    return absl::UnavailableError(absl::StrCat("catalog log: this node stopped applying: ", applier_error_));
  }
  if (kind != CatalogLogEntry::kInit && expected_last == 0) {
    return absl::UnavailableError("catalog log: this node has not applied the log's first entry yet; retry");
  }
  const std::string subject = absl::StrCat(options_.subject_prefix, ".", CatalogLogEntryName(kind));
  const std::string msg_id = MessageId(kind, payload, expected_last);
  const absl::Time deadline = absl::Now() + options_.apply_timeout;
  absl::Status last = absl::UnavailableError("catalog log: stopping");
  while (!stop_.load() && absl::Now() < deadline) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id.c_str();
    po.ExpectStream = options_.stream.c_str();
    po.MaxWait = 2000;
    if (kind == CatalogLogEntry::kInit) {
      po.ExpectNoMessage = true;  // no message on the init subject yet: one init entry, ever
    } else {
      po.ExpectLastSeq = expected_last;
    }
    jsPubAck* ack = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    natsStatus s =
        js_Publish(&ack, nats_->js, subject.c_str(), payload.data(), static_cast<int>(payload.size()), &po, &err);
    if (s == NATS_OK) {
      const uint64_t seq = ack->Sequence;
      jsPubAck_Destroy(ack);
      if (!WaitApplied(seq, deadline - absl::Now())) {
        return absl::UnavailableError(absl::StrCat("catalog log: the write is in the log at ", seq,
                                                   " but this node did not apply it in time; read it again"));
      }
      return true;
    }
    if (err == JSStreamWrongLastSequenceErr) {
      // Another write landed first: catch up, then the store plans again.
      absl::StatusOr<uint64_t> end = ReadLogLastSeq();
      WaitApplied(end.ok() ? *end : expected_last + 1, deadline - absl::Now());
      return false;
    }
    last = Unavailable("publish", s, err);
    if (s != NATS_TIMEOUT && s != NATS_NO_RESPONDERS && s != NATS_CONNECTION_DISCONNECTED) return last;
    // Published again with the same message id: JetStream answers a copy it
    // already stored as a duplicate, with its position, before it checks the
    // expected last sequence (nats-server 2.9, single and clustered streams).
    absl::SleepFor(absl::Milliseconds(100));
  }
  return last;
}

absl::Status CatalogReplicator::CatchUp() {
  if (halted_.load()) {
    absl::MutexLock lock(&mu_);
    return absl::UnavailableError(absl::StrCat("catalog log: this node stopped applying: ", applier_error_));
  }
  absl::StatusOr<uint64_t> end = ReadLogLastSeq();
  if (!end.ok()) return absl::UnavailableError(absl::StrCat("catalog log: ", end.status().message()));
  if (!WaitApplied(*end, options_.apply_timeout)) {
    return absl::UnavailableError(absl::StrCat("catalog log: this node did not reach the log's end (", *end,
                                               ") within ", absl::FormatDuration(options_.apply_timeout)));
  }
  return absl::OkStatus();
}

CatalogReplicationStatus CatalogReplicator::Status() const {
  CatalogReplicationStatus st;
  st.node = options_.node_id;
  st.connected = connected_.load();
  st.log_last_seq = log_last_seq_.load();
  st.consumer_restarts = consumer_restarts_.load();
  absl::MutexLock lock(&mu_);
  st.applied_seq = applied_;
  st.lag = st.log_last_seq > applied_ ? st.log_last_seq - applied_ : 0;
  st.applier_error = applier_error_;
  st.ready = ready_known_ && applied_ >= ready_at_ && applier_error_.empty() && st.connected;
  return st;
}

bool CatalogReplicator::Ready() const { return Status().ready; }

std::string CatalogReplicator::StatusJson() const {
  const CatalogReplicationStatus st = Status();
  nlohmann::json j = {{"node", st.node},
                      {"applied_seq", st.applied_seq},
                      {"log_last_seq", st.log_last_seq},
                      {"lag", st.lag},
                      {"consumer_restarts", st.consumer_restarts},
                      {"connected", st.connected},
                      {"ready", st.ready},
                      {"applier_error", st.applier_error}};
  return j.dump();
}

}  // namespace lifelong::catalog
