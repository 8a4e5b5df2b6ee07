#include "services/records/records_server.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/log.h"
#include "services/common/metrics.h"
#include "services/common/status_macros.h"
#include "services/storage/backup_metrics.h"

namespace lifelong::records {
namespace {

// Imports a document database an earlier version kept in `dir` (a RocksDB
// directory with CURRENT) into `documents`, then renames it "<dir>.imported"
// (".imported-<micros>" when that exists). Nothing to do without one.
absl::Status ImportLegacyDocuments(const std::string& dir, xapi::DocumentStore* documents) {
  std::error_code ec;
  if (dir.empty() || !std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", ec)) return absl::OkStatus();
  int64_t n = 0;
  {
    LL_ASSIGN_OR_RETURN(std::unique_ptr<xapi::DocumentStore> legacy, xapi::DocumentStore::Open(dir));
    LL_ASSIGN_OR_RETURN(n, documents->ImportFrom(*legacy));
  }
  std::string to = dir + ".imported";
  if (std::filesystem::exists(to, ec)) to = absl::StrCat(to, "-", absl::ToUnixMicros(absl::Now()));
  std::filesystem::rename(dir, to, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("rename ", dir, " to ", to, ": ", ec.message()));
  LogInfo("xapi_documents_imported", {{"from", dir}, {"documents", n}, {"renamed_to", to}});
  return absl::OkStatus();
}

constexpr char kServiceName[] = "lifelong.v1.LearningRecordService";
// The status payload that names the part of Start that failed.
constexpr char kStartupStepUrl[] = "type.lifelong/records_server.startup_step";

absl::Status Step(absl::string_view step, absl::Status error) {
  error.SetPayload(kStartupStepUrl, absl::Cord(step));
  return error;
}

}  // namespace

std::string RecordsServer::StartupStep(const absl::Status& error) {
  auto step = error.GetPayload(kStartupStepUrl);  // absl::optional<absl::Cord>
  return step ? std::string(*step) : std::string("records_start_failed");
}

absl::StatusOr<std::unique_ptr<RecordsServer>> RecordsServer::Start(RecordsServerOptions options) {
  std::unique_ptr<RecordsServer> s(new RecordsServer());
  s->options_ = std::move(options);
  absl::Status started = s->StartParts();
  if (!started.ok()) return started;  // the destructor stops what did start
  return s;
}

absl::Status RecordsServer::StartParts() {
  const RecordsServerOptions& o = options_;
  if (!o.backup_dir.empty()) {
    if (o.backup_keep < 1) {
      return Step("backup_config", absl::InvalidArgumentError("backup_keep: must be at least 1"));
    }
    if (o.backup_interval < absl::ZeroDuration()) {
      return Step("backup_config", absl::InvalidArgumentError("backup_interval: must not be negative"));
    }
  }
  if (o.replication) {
    absl::StatusOr<std::unique_ptr<replication::Replicator>> r = replication::Replicator::Connect(*o.replication);
    if (!r.ok()) return Step("replication_setup_failed", r.status());
    replicator_ = std::move(*r);
  }
  RecordStoreOptions store_options;
  store_options.block_cache_bytes = o.block_cache_bytes;
  store_options.write_slot_nice = o.store_write_slot_nice;
  store_options.log = replicator_.get();
  if (absl::Status interrupted = CheckNoInterruptedRestore(o.data_dir); !interrupted.ok()) {
    return Step("store_open_failed", interrupted);
  }
  absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(o.data_dir, store_options);
  if (!store.ok()) return Step("store_open_failed", store.status());
  store_ = std::move(*store);
  // The xAPI documents: a family of the record database, erased in the
  // same batch as the learner's statements (document_store.h).
  documents_ = xapi::DocumentStore::InDatabase(store_->rocks_for_documents(), store_->documents_family());
  xapi::DocumentStore* docs = documents_.get();
  store_->SetEraseExtension(
      [docs](const std::string& learner, rocksdb::WriteBatch* batch) { return docs->EraseLearnerInto(learner, batch); },
      docs->write_mutex());
  if (absl::Status imported = ImportLegacyDocuments(o.xapi_documents_dir, documents_.get()); !imported.ok()) {
    return Step("xapi_documents_import_failed", imported);
  }
  if (replicator_) {
    documents_->SetLog(replicator_.get());
    replicator_->SetDocumentStore(documents_.get());
  }
  auth::Authorizer* authorizer = o.service.authorizer;
  if (o.xapi) {
    absl::StatusOr<xapi::Credentials> creds = xapi::Credentials::LoadFile(o.xapi->credentials_file);
    if (!creds.ok()) return Step("xapi_credentials", creds.status());
    if (authorizer != nullptr && authorizer->enabled()) {
      // Credentials anyone can read in the repository never open a service
      // with authentication on (issue #13 item 5).
      if (absl::Status usable = creds->CheckUsableWithAuthentication(); !usable.ok()) {
        return Step("xapi_credentials",
                    absl::Status(usable.code(),
                                 absl::StrCat("xAPI credentials ", o.xapi->credentials_file, ": ", usable.message())));
      }
    }
    credentials_ = std::make_unique<xapi::Credentials>(std::move(*creds));
  }
  // Backups of the record database hold the documents too.
  if (!o.backup_dir.empty()) {
    BackupManagerOptions bo;
    bo.backup_dir = o.backup_dir;
    absl::StatusOr<std::unique_ptr<BackupManager>> m = BackupManager::Open(store_.get(), bo);
    absl::StatusOr<std::unique_ptr<ErasureLedger>> l =
        m.ok() ? ErasureLedger::Open((std::filesystem::path(o.backup_dir) / kErasureLedgerFile).string()) : m.status();
    if (!l.ok()) {
      return Step("backup_dir_unusable",
                  absl::Status(l.status().code(), absl::StrCat(o.backup_dir, ": ", l.status().message())));
    }
    backups_ = std::move(*m);
    ledger_ = std::move(*l);
    if (replicator_) {
      // Log retention: the log is kept from this node's oldest backup on.
      BackupManager* b = backups_.get();
      replicator_->SetOldestBackupSource([b]() -> absl::StatusOr<std::optional<uint64_t>> {
        LL_ASSIGN_OR_RETURN(std::vector<BackupInfo> all, b->List());
        std::optional<uint64_t> oldest;
        for (const BackupInfo& info : all) oldest = std::min(oldest.value_or(info.applied_seq), info.applied_seq);
        return oldest;
      });
    }
  }
  RecordsService::Options service_options = o.service;
  service_options.backups = backups_.get();
  // RecordStatement (a callback method) is bounded like the thread quota.
  if (service_options.max_pending_writes == 0) service_options.max_pending_writes = o.grpc.max_concurrent_calls;
  ErasureLedger* ledger = ledger_.get();
  // The caller's hook (o.service.erase_hook), if any, runs first.
  service_options.erase_hook =
      [ledger, outer = std::move(service_options.erase_hook)](const std::string& learner) -> absl::StatusOr<int64_t> {
    int64_t erased = 0;
    if (outer) {
      absl::StatusOr<int64_t> n = outer(learner);
      if (!n.ok()) return n.status();
      erased = *n;
    }
    // After the store's erasure (statements and documents): a restore of an
    // older backup erases the learner again (backups.h).
    if (ledger != nullptr) {
      absl::Status s = ledger->Append(learner, absl::ToUnixMicros(absl::Now()));
      if (!s.ok()) return s;
    }
    return erased;
  };
  if (replicator_) {
    // Reads of learner data only while this node's store is current.
    service_options.read_gate = [rep = replicator_.get()] { return rep->CheckServingReads(); };
  }
  ReadGate read_gate = service_options.read_gate;
  service_ = std::make_unique<RecordsService>(store_.get(), std::move(service_options));
  if (o.serve_metrics) {
    if (absl::Status m = RegisterMetrics(); !m.ok()) return Step("metrics_setup_failed", m);
  }

  GrpcServerOptions grpc_options = o.grpc;
  grpc_options.max_receive_bytes = std::min(grpc_options.max_receive_bytes, kRecordsMaxReceiveBytes);
  grpc_options.health_service_names = {kServiceName};
  absl::StatusOr<std::unique_ptr<RunningGrpcServer>> grpc = StartGrpcServer(grpc_options, {service_.get()});
  if (!grpc.ok()) return Step("listen_failed", grpc.status());
  grpc_ = std::move(*grpc);
  port_ = grpc_->port();
  // The xAPI endpoint serves the same store over HTTP.
  if (o.xapi) {
    // One audit log for both protocols (one clock, one set of counters).
    xapi_handler_ = std::make_unique<xapi::XapiHandler>(store_.get(), documents_.get(), credentials_.get(), "/xapi",
                                                        o.xapi->default_version, authorizer, &service_->audit_log());
    xapi_handler_->SetReadGate(read_gate);
    absl::StatusOr<std::unique_ptr<xapi::XapiHttpServer>> http =
        xapi::XapiHttpServer::Start(o.xapi->http, xapi_handler_.get());
    if (!http.ok()) return Step("xapi_listen_failed", http.status());
    xapi_server_ = std::move(*http);
    xapi_port_ = xapi_server_->port();
    LogInfo("xapi_serving", {{"port", xapi_server_->port()}, {"base", "/xapi"}});
  }
  grpc_->SetServing(true);
  serving_ = true;
  if (o.serve_metrics) {
    if (absl::Status m = StartMetricsServer(); !m.ok()) return Step("metrics_listen_failed", m);
  }
  // The applier and the lease campaign start only once every port is bound:
  // a node that cannot serve never wins the lease. Until then the read gate
  // refuses reads (the log not yet checked) and writes are refused (not the
  // leader), both UNAVAILABLE.
  if (replicator_) replicator_->Start(store_.get());
  StartBackground();
  return absl::OkStatus();
}

absl::Status RecordsServer::RegisterMetrics() {
  // The store's size and write/sync counts, sampled at each scrape.
  using metrics::MetricType;
  const RecordStore* stats_store = store_.get();
  const RecordsService* stats_service = service_.get();
  // One help text for both phases of the committer's time (Prometheus wants
  // one per metric name).
  static constexpr char kCommitSecondsHelp[] =
      "Wall time the group committers spent on groups of statements: building a group's batch (while the group "
      "before is in RocksDB's write), and in RocksDB's write (one at a time: WAL, fsync, memtable).";
  static constexpr char kStreamsCancelledHelp[] =
      "Streams the server cancelled while it waited on the client: reason stalled, an export's client took no "
      "message or a change-feed watcher sent no acknowledgement for --stream_stall_timeout_seconds; too_long, an "
      "export still waiting that long past the stream's limit.";
  static constexpr char kWritePartSecondsHelp[] =
      "Of the store's RocksDB Write time (lifelong_store_commit_seconds_total phase=write): its WAL "
      "(append and fdatasync) and its memtable inserts, by RocksDB's perf context.";
  absl::Status observed = metrics::DefaultRegistry().AddCallbacks({
      {MetricType::kGauge,
       "lifelong_store_items",
       "Items in a service's store.",
       {{"service", "records"}, {"kind", "statements_approx"}},
       [stats_store] { return double(stats_store->ApproximateStatementCount()); }},
      {MetricType::kCounter,
       "lifelong_store_writes_total",
       "Items written to a service's store since start.",
       {{"service", "records"}},
       [stats_store] { return double(stats_store->stats().statements_written); }},
      {MetricType::kCounter,
       "lifelong_store_syncs_total",
       "Synced write groups (WAL fsyncs) of a service's store since start.",
       {{"service", "records"}},
       [stats_store] { return double(stats_store->stats().groups_committed); }},
      {MetricType::kCounter,
       "lifelong_store_write_failures_total",
       "Write groups of a service's store whose storage write failed (full disk, failed fsync); their callers got "
       "UNAVAILABLE.",
       {{"service", "records"}},
       [stats_store] { return double(stats_store->stats().write_failures); }},
      {MetricType::kCounter,
       "lifelong_store_commit_seconds_total",
       kCommitSecondsHelp,
       {{"service", "records"}, {"phase", "build"}},
       [stats_store] { return 1e-6 * double(stats_store->stats().commit_build_micros); }},
      {MetricType::kCounter,
       "lifelong_store_commit_seconds_total",
       kCommitSecondsHelp,
       {{"service", "records"}, {"phase", "write"}},
       [stats_store] { return 1e-6 * double(stats_store->stats().commit_write_micros); }},
      {MetricType::kCounter,
       "lifelong_store_write_part_seconds_total",
       kWritePartSecondsHelp,
       {{"service", "records"}, {"part", "wal"}},
       [stats_store] { return 1e-6 * double(stats_store->stats().commit_wal_micros); }},
      {MetricType::kCounter,
       "lifelong_store_write_part_seconds_total",
       kWritePartSecondsHelp,
       {{"service", "records"}, {"part", "memtable"}},
       [stats_store] { return 1e-6 * double(stats_store->stats().commit_memtable_micros); }},
      {MetricType::kGauge,
       "lifelong_store_erasure_purge_pending",
       "1 while erased statements may still be in the store's files (their background purge is waiting, running or "
       "failed), else 0.",
       {{"service", "records"}},
       [stats_store] { return stats_store->GetPurgeStatus().pending ? 1.0 : 0.0; }},
      {MetricType::kGauge,
       "lifelong_store_erasure_purge_age_seconds",
       "Seconds since the oldest erasure whose statements are not yet purged from the store's files (0: none).",
       {{"service", "records"}},
       [stats_store] {
         const int64_t since = stats_store->GetPurgeStatus().pending_since_us;
         return since == 0 ? 0.0 : std::max(0.0, 1e-6 * double(absl::ToUnixMicros(absl::Now()) - since));
       }},
      {MetricType::kCounter,
       "lifelong_store_erasure_purges_total",
       "Background purges of erased statements from the store's files since start, by outcome.",
       {{"service", "records"}, {"outcome", "ok"}},
       [stats_store] { return double(stats_store->GetPurgeStatus().completed); }},
      {MetricType::kCounter,
       "lifelong_store_erasure_purges_total",
       "Background purges of erased statements from the store's files since start, by outcome.",
       {{"service", "records"}, {"outcome", "failed"}},
       [stats_store] { return double(stats_store->GetPurgeStatus().failed); }},
      {MetricType::kCounter,
       "lifelong_grpc_streams_cancelled_total",
       kStreamsCancelledHelp,
       {{"reason", "stalled"}},
       [stats_service] { return double(stats_service->stream_watchdog_stats().cancelled_stalled); }},
      {MetricType::kCounter,
       "lifelong_grpc_streams_cancelled_total",
       kStreamsCancelledHelp,
       {{"reason", "too_long"}},
       [stats_service] { return double(stats_service->stream_watchdog_stats().cancelled_too_long); }},
  });
  if (observed.ok() && replicator_) {
    const replication::Replicator* rep = replicator_.get();
    observed = metrics::DefaultRegistry().AddCallbacks({
        {MetricType::kGauge,
         "lifelong_replication_applied_seq",
         "Sequence of the last replicated-log operation applied to this node's store.",
         {},
         [rep] { return double(rep->Status().applied_seq); }},
        {MetricType::kGauge,
         "lifelong_replication_lag",
         "Log operations not yet applied on this node (how stale its reads may be).",
         {},
         [rep] { return double(rep->Status().lag); }},
        {MetricType::kGauge,
         "lifelong_replication_leader",
         "1 when this node holds the leader lease and has caught up (accepts writes), else 0.",
         {},
         [rep] { return rep->IsLeader() ? 1.0 : 0.0; }},
        {MetricType::kCounter,
         "lifelong_replication_leader_changes_total",
         "Changes of the leader this node has seen since start.",
         {},
         [rep] { return double(rep->Status().leader_changes); }},
        {MetricType::kCounter,
         "lifelong_replication_consumer_restarts_total",
         "Times this node's applier dropped a subscription that delivered nothing for 5 s while the log held "
         "operations it had not applied (a consumer lost on the server), and subscribed again.",
         {},
         [rep] { return double(rep->Status().consumer_restarts); }},
        {MetricType::kCounter,
         "lifelong_replication_erasures_unconfirmed_total",
         "Erasures this node answered as leader only after the read-refusal bound (about the lease TTL), because a "
         "node did not report having applied them (down, cut off or behind; such a node refuses reads).",
         {},
         [rep] { return double(rep->Status().erasures_unconfirmed); }},
        {MetricType::kGauge,
         "lifelong_replication_log_trimmed_below",
         "The replicated log holds no operation below this sequence (0: never trimmed; docs/replication.md, "
         "\"Log retention\").",
         {},
         [rep] { return double(rep->Status().trimmed_below); }},
    });
  }
  if (observed.ok() && backups_) {
    const BackupManager* b = backups_.get();
    observed = metrics::DefaultRegistry().AddCallbacks(
        storage::BackupMetricSpecs("lifelong_", "backup", [b] { return b->stats(); }));
  }
  return observed;
}

absl::Status RecordsServer::StartMetricsServer() {
  std::map<std::string, HttpHandler> replication_routes;
  if (replicator_) {
    // GET /replication (JSON: node, role, leader, applied_seq, log_last_seq,
    // lag) and GET /leader (200 "leader" when this node leads and has caught
    // up, else 503: the load balancer's check).
    const replication::Replicator* rep = replicator_.get();
    replication_routes["/replication"] = [rep] {
      HttpResponse r;
      r.content_type = "application/json";
      r.body = rep->StatusJson() + "\n";
      return r;
    };
    replication_routes["/leader"] = [rep] {
      HttpResponse r;
      r.status = rep->IsLeader() ? 200 : 503;
      r.body = rep->IsLeader() ? "leader\n" : "not leader\n";
      return r;
    };
  } else {
    // A single node: always the one that takes writes.
    replication_routes["/replication"] = [node = options_.node_id] {
      HttpResponse r;
      r.content_type = "application/json";
      nlohmann::json j = {{"node", node},     {"role", "single"},  {"leader", node},
                          {"applied_seq", 0}, {"log_last_seq", 0}, {"lag", 0}};
      r.body = j.dump() + "\n";
      return r;
    };
    replication_routes["/leader"] = [] {
      HttpResponse r;
      r.body = "leader\n";
      return r;
    };
  }
  absl::StatusOr<std::unique_ptr<HttpServer>> server = StartMetricsHttpServer(
      options_.metrics, &metrics::DefaultRegistry(), [this] { return serving_.load(); }, std::move(replication_routes));
  if (!server.ok()) {
    // GET /leader is how the load balancer finds the leader: a replicated
    // node without it could win the lease and take no client's writes (none
    // would reach it). A single node serves on without /metrics.
    if (replicator_) return server.status();
    LogError("metrics_listen_failed", {{"error", server.status().ToString()}});
    return absl::OkStatus();
  }
  metrics_server_ = std::move(*server);
  metrics_port_ = metrics_server_->port();
  return absl::OkStatus();
}

void RecordsServer::StartBackground() {
  // "Latest statements of a learner" (kiosks, the app, the recommender) is
  // the hot read path: read its index into the block cache while serving.
  if (options_.warm_cache) {
    warmer_ = std::thread([this] {
      absl::Time t0 = absl::Now();
      absl::StatusOr<uint64_t> bytes = store_->WarmLearnerIndex(&stop_warming_);
      if (!bytes.ok()) {
        LogError("cache_warm_failed", {{"error", std::string(bytes.status().message())}});
        return;
      }
      LogInfo("cache_warmed", {{"index", "by_learner"},
                               {"bytes", static_cast<int64_t>(*bytes)},
                               {"seconds", absl::ToDoubleSeconds(absl::Now() - t0)}});
    });
  }
  // Scheduled backups on their own thread; writers are never blocked.
  if (backups_ && options_.backup_interval > absl::ZeroDuration()) {
    BackupSchedulerOptions so;
    so.interval = options_.backup_interval;
    so.keep = options_.backup_keep;
    so.on_result = [](const absl::StatusOr<BackupInfo>& b) {
      if (b.ok()) {
        LogInfo("backup_created", {{"backup_id", static_cast<int64_t>(b->id)},
                                   {"statements", static_cast<int64_t>(b->statements)},
                                   {"trigger", "schedule"}});
      } else {
        LogError("backup_failed", {{"error", std::string(b.status().message())}});
      }
    };
    scheduler_ = std::make_unique<BackupScheduler>(backups_.get(), so);
    scheduler_->Start();
    LogInfo("backups_scheduled",
            {{"backup_dir", options_.backup_dir}, {"interval", absl::FormatDuration(so.interval)}, {"keep", so.keep}});
  }
}

void RecordsServer::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      mu_.Await(absl::Condition(&shut_down_));
      return;
    }
    shutting_down_ = true;
  }
  // Hand the lease over first: another node takes writes while this one
  // finishes the calls in flight (rolling restarts).
  if (replicator_) replicator_->Resign();
  if (scheduler_) scheduler_->Stop();  // waits for a backup in progress
  stop_warming_ = true;
  if (warmer_.joinable()) warmer_.join();
  serving_ = false;
  if (service_) service_->CloseChangeFeed();  // watch streams end now, not at the grace deadline
  absl::Time t_stop = absl::Now();
  if (xapi_server_) xapi_server_->Stop();
  if (grpc_) LogInfo("xapi_stopped", {{"seconds", absl::ToDoubleSeconds(absl::Now() - t_stop)}});
  if (grpc_) {
    grpc_->Shutdown(std::chrono::milliseconds(absl::ToInt64Milliseconds(options_.shutdown_grace)));
    LogInfo("grpc_stopped", {{"seconds", absl::ToDoubleSeconds(absl::Now() - t_stop)}});
  }
  // Before the store that the metrics callbacks read goes away.
  if (metrics_server_) metrics_server_->Shutdown();
  // The applier stops before the stores it writes close.
  if (replicator_) replicator_->Stop();
  scheduler_.reset();
  backups_.reset();
  xapi_server_.reset();
  xapi_handler_.reset();
  grpc_.reset();
  service_.reset();
  documents_.reset();
  store_.reset();  // flush and close
  ledger_.reset();
  replicator_.reset();
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
}

void RecordsServer::Wait() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&shut_down_));
}

RecordsServer::~RecordsServer() { Shutdown(); }

}  // namespace lifelong::records
