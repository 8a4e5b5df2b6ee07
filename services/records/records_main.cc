// records_server: the learning-record service (lifelong.v1.LearningRecordService).
//
//   records_server --port=7001 --data_dir=var/records
//
// Serves gRPC with health checking and reflection. On SIGTERM/SIGINT it stops
// accepting calls, lets in-flight calls finish (up to --shutdown_grace_ms),
// then flushes and closes the store. Prometheus metrics and /healthz are served
// over HTTP on --metrics_host:--metrics_port (docs/observability.md).
//
// Replicated (issue #15, services/records/replication/replicator.h): with
// --replication_nats the store's writes go through a NATS JetStream log that
// every node applies; only the lease holder accepts writes. The metrics
// port then also serves GET /replication (JSON: node, role, leader,
// applied_seq, log_last_seq, lag) and GET /leader (200 "leader" when this
// node leads and has caught up, else 503: the load balancer's check).
// Without it the server is the single-node server it always was.
#include <atomic>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "services/auth/auth_flags.h"
#include "services/auth/authorizer.h"
#include "services/common/grpc_tls.h"
#include "services/common/http_server.h"
#include "services/common/interceptors.h"
#include "services/common/log.h"
#include "services/common/metrics.h"
#include "services/common/metrics_process.h"
#include "services/common/server.h"
#include "services/common/server_flags.h"
#include "services/common/tls_flags.h"
#include "services/records/backups.h"
#include "services/records/record_store.h"
#include "services/records/records_service.h"
#include "services/records/replication/replicator.h"
#include "services/xapi/xapi_http_server.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on (0.0.0.0 for all interfaces)");
ABSL_FLAG(int, port, 7001, "gRPC port (0 picks a free port)");
ABSL_FLAG(std::string, data_dir, "var/records", "directory of the RocksDB store (created if missing)");
ABSL_FLAG(int, block_cache_mb, 1024, "RocksDB block cache size in MiB");
ABSL_FLAG(int, shutdown_grace_ms, 10000, "how long in-flight calls may run after SIGTERM");
ABSL_FLAG(int, max_pollers, 64,
          "gRPC sync-server threads kept waiting for calls; writes block on the group commit, so fewer "
          "than the concurrent callers makes gRPC start and stop a thread per call");
ABSL_FLAG(bool, warm_cache, true,
          "read the learner index into the block cache in the background at start-up");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1",
          "address of the HTTP /metrics and /healthz endpoint");
ABSL_FLAG(int, metrics_port, 9001, "port of the /metrics endpoint (0 picks a free port)");
ABSL_FLAG(std::string, port_file, "", "if set, the bound port is written here once serving");
ABSL_FLAG(int, xapi_port, 8080, "xAPI HTTP port (0 picks a free port, -1 disables the endpoint)");
ABSL_FLAG(std::string, xapi_host, "127.0.0.1", "xAPI HTTP address to listen on");
ABSL_FLAG(std::string, xapi_documents_dir, "var/xapi-documents",
          "directory of the xAPI State/Profile document store (created if missing)");
ABSL_FLAG(std::string, xapi_default_version, "2.0.0",
          "xAPI version reported to requests that name none (2.0.0 or 1.0.3)");
ABSL_FLAG(std::string, xapi_credentials, "ops/xapi/dev-credentials.txt",
          "file of user:password lines for xAPI Basic authentication");
ABSL_FLAG(int, xapi_max_connections_per_address, 256,
          "xAPI connections one client address may hold open (raise it behind a reverse proxy, "
          "where every client has the proxy's address); docs/security.md");
ABSL_FLAG(std::string, backup_dir, "",
          "directory of the store's backups and erasure ledger (docs/records.md, \"Backups\"); empty: "
          "<data_dir>-backups beside --data_dir (var/records -> var/records-backups); \"off\": no backups");
ABSL_FLAG(absl::Duration, backup_interval, absl::ZeroDuration(),
          "take a backup this often (e.g. 6h; 0 = no scheduled backups, CreateBackup still works)");
ABSL_FLAG(int, backup_keep, 7, "scheduled backups keep the newest N backups (retention; >= 1)");
ABSL_FLAG(bool, xapi_require_client_cert, false,
          "with --tls_cert: also demand client certificates on the xAPI port (LMSs authenticate "
          "with Basic auth; --tls_require_client_cert covers gRPC and /metrics)");

ABSL_FLAG(std::string, replication_nats, "",
          "NATS servers of the replicated log, nats://host:port[,nats://...]; empty: a single node "
          "(services/records/replication/replicator.h)");
ABSL_FLAG(std::string, replication_nats_credentials_file, "",
          "file (mode 600) with one line user:password for the NATS servers of the replicated log; keeps "
          "the password out of the process arguments");
ABSL_FLAG(std::string, node_id, "records-1", "this node's name in the replication lease and logs");
ABSL_FLAG(std::string, replication_stream, "LIFELONG_RECORDS", "JetStream stream of the replicated log");
ABSL_FLAG(int, replicas, 3, "copies JetStream keeps of the log and of the leader lease (1-5)");
ABSL_FLAG(int64_t, lease_ttl_ms, 3000,
          "leader lease TTL: a dead leader is replaced within about this long");

int main(int argc, char** argv) {
  lifelong::BlockTerminationSignals();
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil with deadlock detection on; it costs every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  lifelong::SetLogService("records");
  // TLS on every port when --tls_cert is set (docs/security.md, "TLS").
  absl::StatusOr<lifelong::TlsConfig> tls = lifelong::ServingTlsFromFlags();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> grpc_credentials =
      tls.ok() ? lifelong::ServerCredentialsFor(*tls) : tls.status();
  if (grpc_credentials.ok() && absl::GetFlag(FLAGS_xapi_require_client_cert) &&
      (tls->cert_file.empty() || tls->ca_file.empty())) {
    grpc_credentials = absl::InvalidArgumentError(
        "--xapi_require_client_cert needs --tls_cert, --tls_key and --tls_ca");
  }
  if (!grpc_credentials.ok()) {
    lifelong::LogError("tls_config", {{"error", std::string(grpc_credentials.status().message())}});
    return 1;
  }

  namespace replication = lifelong::records::replication;
  std::unique_ptr<replication::Replicator> replicator;
  if (!absl::GetFlag(FLAGS_replication_nats).empty()) {
    replication::ReplicatorOptions ro;
    absl::StatusOr<std::vector<std::string>> servers =
        replication::ParseServerList(absl::GetFlag(FLAGS_replication_nats));
    absl::Status setup = servers.status();
    const std::string cred_file = absl::GetFlag(FLAGS_replication_nats_credentials_file);
    if (setup.ok() && !cred_file.empty()) {
      absl::StatusOr<std::pair<std::string, std::string>> cred = replication::ReadNatsCredentialsFile(cred_file);
      if (cred.ok()) {
        ro.user = cred->first;
        ro.password = cred->second;
      } else {
        setup = cred.status();
      }
    }
    absl::StatusOr<std::unique_ptr<replication::Replicator>> r = absl::UnknownError("not connected");
    if (!setup.ok()) {
      r = setup;
    } else {
      ro.servers = *servers;
      ro.node_id = absl::GetFlag(FLAGS_node_id);
      ro.stream = absl::GetFlag(FLAGS_replication_stream);
      ro.replicas = absl::GetFlag(FLAGS_replicas);
      ro.lease_ttl_ms = absl::GetFlag(FLAGS_lease_ttl_ms);
      r = replication::Replicator::Connect(ro);
    }
    if (!r.ok()) {
      lifelong::LogError("replication_setup_failed", {{"error", std::string(r.status().message())}});
      return 1;
    }
    replicator = std::move(*r);
  }
  absl::StatusOr<std::unique_ptr<lifelong::records::RecordStore>> store =
      lifelong::records::RecordStore::Open(absl::GetFlag(FLAGS_data_dir), [&replicator] {
        lifelong::records::RecordStoreOptions o;
        o.block_cache_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_block_cache_mb)) << 20;
        o.log = replicator.get();
        return o;
      }());
  if (!store.ok()) {
    lifelong::LogError("store_open_failed", {{"error", std::string(store.status().message())}});
    return 1;
  }
  // A replicated node always has its xAPI document store (the log carries
  // document writes, which every node applies), opened before applying.
  std::unique_ptr<lifelong::xapi::DocumentStore> documents;
  if (replicator) {
    auto docs = lifelong::xapi::DocumentStore::Open(absl::GetFlag(FLAGS_xapi_documents_dir));
    if (!docs.ok()) {
      lifelong::LogError("xapi_documents_open_failed", {{"error", std::string(docs.status().message())}});
      return 1;
    }
    documents = std::move(*docs);
    documents->SetLog(replicator.get());
    replicator->SetDocumentStore(documents.get());
    replicator->Start(store->get());
  }
  // The applier must stop before the stores it writes close, on every way
  // out of main (destroyed before `documents` and `store`).
  struct StopReplicationFirst {
    replication::Replicator* r;
    ~StopReplicationFirst() {
      if (r != nullptr) r->Stop();
    }
  } stop_replication_first{replicator.get()};
  absl::StatusOr<std::unique_ptr<lifelong::auth::Authorizer>> authorizer_or = lifelong::auth::AuthorizerFromFlags();
  if (!authorizer_or.ok()) {
    lifelong::LogError("auth_config", {{"error", std::string(authorizer_or.status().message())}});
    return 1;
  }
  lifelong::auth::Authorizer& authorizer = **authorizer_or;
  // The xAPI documents of a learner go with their statements on erasure
  // (replicated: every node's applier erases them, see replicator.h).
  std::atomic<lifelong::xapi::DocumentStore*> erase_documents{nullptr};  // set once the xAPI store is open
  // Backups (docs/records.md, "Backups"): the manager, and the erasure
  // ledger that a restore re-applies.
  std::unique_ptr<lifelong::records::BackupManager> backups;
  std::unique_ptr<lifelong::records::ErasureLedger> ledger;
  std::string backup_dir = absl::GetFlag(FLAGS_backup_dir);
  if (backup_dir.empty()) backup_dir = lifelong::records::DefaultBackupDir(absl::GetFlag(FLAGS_data_dir));
  if (backup_dir != "off") {
    if (absl::GetFlag(FLAGS_backup_keep) < 1) {
      lifelong::LogError("backup_config", {{"error", "--backup_keep: must be at least 1"}});
      return 1;
    }
    if (absl::GetFlag(FLAGS_backup_interval) < absl::ZeroDuration()) {
      lifelong::LogError("backup_config", {{"error", "--backup_interval: must not be negative"}});
      return 1;
    }
    lifelong::records::BackupManagerOptions bo;
    bo.backup_dir = backup_dir;
    bo.documents_db = [&erase_documents]() -> rocksdb::DB* {
      lifelong::xapi::DocumentStore* docs = erase_documents.load();
      return docs == nullptr ? nullptr : docs->rocks_for_backup();
    };
    auto m = lifelong::records::BackupManager::Open(store->get(), bo);
    absl::StatusOr<std::unique_ptr<lifelong::records::ErasureLedger>> l =
        m.ok() ? lifelong::records::ErasureLedger::Open(
                     (std::filesystem::path(backup_dir) / lifelong::records::kErasureLedgerFile).string())
               : m.status();
    if (!l.ok()) {
      lifelong::LogError("backup_dir_unusable",
                         {{"backup_dir", backup_dir}, {"error", std::string(l.status().message())}});
      return 1;
    }
    backups = std::move(*m);
    ledger = std::move(*l);
  }
  lifelong::records::RecordsService::Options service_options;
  service_options.authorizer = &authorizer;
  service_options.backups = backups.get();
  service_options.erase_hook = [&erase_documents, &ledger](const std::string& learner) -> absl::StatusOr<int64_t> {
    lifelong::xapi::DocumentStore* docs = erase_documents.load();
    absl::StatusOr<int64_t> n = docs == nullptr ? absl::StatusOr<int64_t>(0) : docs->EraseLearner(learner);
    // After the store's erasure (even when the documents failed: the call
    // fails and is retried, and the statements are gone already): a restore
    // of an older backup erases the learner again (backups.h).
    if (ledger) {
      absl::Status s = ledger->Append(learner, absl::ToUnixMicros(absl::Now()));
      if (!s.ok()) return s;
    }
    return n;
  };
  lifelong::records::RecordsService service(store->get(), service_options);

  // Observability: RPC metrics, request ids and access logs for every call,
  // plus the store's size and write/sync counts, sampled at each scrape.
  namespace metrics = lifelong::metrics;
  const lifelong::records::RecordStore* stats_store = store->get();
  using metrics::MetricType;
  absl::Status observed = lifelong::InstallServerObservability({});
  if (observed.ok()) observed = metrics::RegisterProcessMetrics(&metrics::DefaultRegistry());
  if (observed.ok()) {
    observed = metrics::DefaultRegistry().AddCallbacks({
        {MetricType::kGauge, "lifelong_store_items", "Items in a service's store.",
         {{"service", "records"}, {"kind", "statements_approx"}},
         [stats_store] { return double(stats_store->ApproximateStatementCount()); }},
        {MetricType::kCounter, "lifelong_store_writes_total",
         "Items written to a service's store since start.", {{"service", "records"}},
         [stats_store] { return double(stats_store->stats().statements_written); }},
        {MetricType::kCounter, "lifelong_store_syncs_total",
         "Synced write groups (WAL fsyncs) of a service's store since start.",
         {{"service", "records"}},
         [stats_store] { return double(stats_store->stats().groups_committed); }},
    });
  }
  if (observed.ok() && replicator) {
    const replication::Replicator* rep = replicator.get();
    observed = metrics::DefaultRegistry().AddCallbacks({
        {MetricType::kGauge, "lifelong_replication_applied_seq",
         "Sequence of the last replicated-log operation applied to this node's store.", {},
         [rep] { return double(rep->Status().applied_seq); }},
        {MetricType::kGauge, "lifelong_replication_lag",
         "Log operations not yet applied on this node (how stale its reads may be).", {},
         [rep] { return double(rep->Status().lag); }},
        {MetricType::kGauge, "lifelong_replication_leader",
         "1 when this node holds the leader lease and has caught up (accepts writes), else 0.", {},
         [rep] { return rep->IsLeader() ? 1.0 : 0.0; }},
        {MetricType::kCounter, "lifelong_replication_leader_changes_total",
         "Changes of the leader this node has seen since start.", {},
         [rep] { return double(rep->Status().leader_changes); }},
    });
  }
  if (observed.ok() && backups) {
    const lifelong::records::BackupManager* b = backups.get();
    observed = metrics::DefaultRegistry().AddCallbacks({
        {MetricType::kGauge, "lifelong_backup_age_seconds",
         "Seconds since the newest backup started (+Inf: no backup yet).", {},
         [b] {
           int64_t last = b->stats().last_success_us;
           if (last == 0) return std::numeric_limits<double>::infinity();
           return double(absl::ToUnixMicros(absl::Now()) - last) / 1e6;
         }},
        {MetricType::kGauge, "lifelong_backup_last_success_timestamp",
         "Unix time (seconds) when the newest backup started (0: none).", {},
         [b] { return double(b->stats().last_success_us) / 1e6; }},
        {MetricType::kCounter, "lifelong_backups_total", "Backups attempted since start, by outcome.",
         {{"outcome", "ok"}}, [b] { return double(b->stats().created); }},
        {MetricType::kCounter, "lifelong_backups_total", "Backups attempted since start, by outcome.",
         {{"outcome", "error"}}, [b] { return double(b->stats().failed); }},
    });
  }
  if (!observed.ok()) {
    lifelong::LogError("metrics_setup_failed", {{"error", observed.ToString()}});
    return 1;
  }

  lifelong::GrpcServerOptions options;
  options.address = absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
  options.max_pollers = absl::GetFlag(FLAGS_max_pollers);
  options.health_service_names = {"lifelong.v1.LearningRecordService"};
  if (absl::Status flags = lifelong::ApplyServerFlags(&options); !flags.ok()) {
    lifelong::LogError("server_flags", {{"error", std::string(flags.message())}});
    return 1;
  }
  options.credentials = *grpc_credentials;
  auto server = lifelong::StartGrpcServer(options, {&service});
  if (!server.ok()) {
    lifelong::LogError("listen_failed", {{"error", std::string(server.status().message())}});
    return 1;
  }
  // The xAPI endpoint serves the same store over HTTP.
  std::unique_ptr<lifelong::xapi::Credentials> credentials;
  std::unique_ptr<lifelong::xapi::XapiHandler> xapi_handler;
  std::unique_ptr<lifelong::xapi::XapiHttpServer> xapi_server;
  if (absl::GetFlag(FLAGS_xapi_port) >= 0) {
    auto creds = lifelong::xapi::Credentials::LoadFile(absl::GetFlag(FLAGS_xapi_credentials));
    if (!creds.ok()) {
      lifelong::LogError("xapi_credentials", {{"error", std::string(creds.status().message())}});
      return 1;
    }
    if (authorizer.enabled()) {
      // Credentials anyone can read in the repository never open a service
      // with authentication on (issue #13 item 5).
      if (absl::Status usable = creds->CheckUsableWithAuthentication(); !usable.ok()) {
        lifelong::LogError("xapi_credentials",
                           {{"error", absl::StrCat("--xapi_credentials=", absl::GetFlag(FLAGS_xapi_credentials),
                                                   ": ", usable.message())}});
        return 1;
      }
    }
    credentials = std::make_unique<lifelong::xapi::Credentials>(std::move(*creds));
    if (!documents) {
      auto docs = lifelong::xapi::DocumentStore::Open(absl::GetFlag(FLAGS_xapi_documents_dir));
      if (!docs.ok()) {
        lifelong::LogError("xapi_documents_open_failed", {{"error", std::string(docs.status().message())}});
        return 1;
      }
      documents = std::move(*docs);
    }
    if (!replicator) erase_documents = documents.get();
    xapi_handler = std::make_unique<lifelong::xapi::XapiHandler>(store->get(), documents.get(), credentials.get(),
                                                                 "/xapi", absl::GetFlag(FLAGS_xapi_default_version),
                                                                 &authorizer);
    lifelong::xapi::XapiHttpOptions xo;
    xo.host = absl::GetFlag(FLAGS_xapi_host);
    xo.port = absl::GetFlag(FLAGS_xapi_port);
    xo.tls = *tls;
    xo.tls.require_client_cert = absl::GetFlag(FLAGS_xapi_require_client_cert);
    xo.max_connections_per_address = absl::GetFlag(FLAGS_xapi_max_connections_per_address);
    auto http = lifelong::xapi::XapiHttpServer::Start(xo, xapi_handler.get());
    if (!http.ok()) {
      lifelong::LogError("xapi_listen_failed", {{"error", std::string(http.status().message())}});
      return 1;
    }
    xapi_server = std::move(*http);
    lifelong::LogInfo("xapi_serving", {{"port", xapi_server->port()}, {"base", "/xapi"}});
  }
  (*server)->SetServing(true);
  std::atomic<bool> serving{true};
  lifelong::HttpServerOptions metrics_options;
  metrics_options.host = absl::GetFlag(FLAGS_metrics_host);
  metrics_options.port = absl::GetFlag(FLAGS_metrics_port);
  metrics_options.tls = *tls;
  std::map<std::string, lifelong::HttpHandler> replication_routes;
  if (replicator) {
    const replication::Replicator* rep = replicator.get();
    replication_routes["/replication"] = [rep] {
      lifelong::HttpResponse r;
      r.content_type = "application/json";
      r.body = rep->StatusJson() + "\n";
      return r;
    };
    replication_routes["/leader"] = [rep] {
      lifelong::HttpResponse r;
      r.status = rep->IsLeader() ? 200 : 503;
      r.body = rep->IsLeader() ? "leader\n" : "not leader\n";
      return r;
    };
  } else {
    // A single node: always the one that takes writes.
    replication_routes["/replication"] = [] {
      lifelong::HttpResponse r;
      r.content_type = "application/json";
      nlohmann::json j = {{"node", absl::GetFlag(FLAGS_node_id)}, {"role", "single"},
                          {"leader", absl::GetFlag(FLAGS_node_id)}, {"applied_seq", 0}, {"log_last_seq", 0},
                          {"lag", 0}};
      r.body = j.dump() + "\n";
      return r;
    };
    replication_routes["/leader"] = [] {
      lifelong::HttpResponse r;
      r.body = "leader\n";
      return r;
    };
  }
  std::unique_ptr<lifelong::HttpServer> metrics_server = lifelong::StartMetricsHttpServerOrLog(
      metrics_options, &metrics::DefaultRegistry(), [&serving] { return serving.load(); },
      std::move(replication_routes));
  lifelong::WritePortFile(absl::GetFlag(FLAGS_port_file), (*server)->port());
  lifelong::LogInfo("serving", {{"port", (*server)->port()},
                                {"metrics_port",
                                 metrics_server ? metrics_server->port() : -1},
                                {"data_dir", absl::GetFlag(FLAGS_data_dir)},
                                {"replication", replicator ? absl::GetFlag(FLAGS_node_id) : std::string("off")},
                                {"tls", lifelong::ServingTlsMode(*tls)},
                                {"statements", (*store)->ApproximateStatementCount()}});

  // "Latest statements of a learner" (kiosks, the app, the recommender) is
  // the hot read path: read its index into the block cache while serving.
  std::atomic<bool> stop_warming{false};
  std::thread warmer;
  if (absl::GetFlag(FLAGS_warm_cache)) {
    warmer = std::thread([&store, &stop_warming] {
      absl::Time t0 = absl::Now();
      absl::StatusOr<uint64_t> bytes = (*store)->WarmLearnerIndex(&stop_warming);
      if (!bytes.ok()) {
        lifelong::LogError("cache_warm_failed", {{"error", std::string(bytes.status().message())}});
        return;
      }
      lifelong::LogInfo("cache_warmed", {{"index", "by_learner"},
                                         {"bytes", static_cast<int64_t>(*bytes)},
                                         {"seconds", absl::ToDoubleSeconds(absl::Now() - t0)}});
    });
  }

  // Scheduled backups on their own thread; writers are never blocked.
  std::unique_ptr<lifelong::records::BackupScheduler> scheduler;
  if (backups && absl::GetFlag(FLAGS_backup_interval) > absl::ZeroDuration()) {
    lifelong::records::BackupSchedulerOptions so;
    so.interval = absl::GetFlag(FLAGS_backup_interval);
    so.keep = absl::GetFlag(FLAGS_backup_keep);
    so.on_result = [](const absl::StatusOr<lifelong::records::BackupInfo>& b) {
      if (b.ok()) {
        lifelong::LogInfo("backup_created", {{"backup_id", static_cast<int64_t>(b->id)},
                                             {"statements", static_cast<int64_t>(b->statements)},
                                             {"trigger", "schedule"}});
      } else {
        lifelong::LogError("backup_failed", {{"error", std::string(b.status().message())}});
      }
    };
    scheduler = std::make_unique<lifelong::records::BackupScheduler>(backups.get(), so);
    scheduler->Start();
    lifelong::LogInfo("backups_scheduled", {{"backup_dir", backup_dir},
                                            {"interval", absl::FormatDuration(so.interval)},
                                            {"keep", so.keep}});
  }

  int sig = lifelong::WaitForTerminationSignal();
  lifelong::LogInfo("shutting_down", {{"signal", sig}});
  // Hand the lease over first: another node takes writes while this one
  // finishes the calls in flight (rolling restarts).
  if (replicator) replicator->Resign();
  if (scheduler) scheduler->Stop();  // waits for a backup in progress
  stop_warming = true;
  if (warmer.joinable()) warmer.join();
  serving = false;
  service.CloseChangeFeed();  // watch streams end now, not at the grace deadline
  absl::Time t_stop = absl::Now();
  if (xapi_server) xapi_server->Stop();
  lifelong::LogInfo("xapi_stopped", {{"seconds", absl::ToDoubleSeconds(absl::Now() - t_stop)}});
  (*server)->Shutdown(std::chrono::milliseconds(absl::GetFlag(FLAGS_shutdown_grace_ms)));
  lifelong::LogInfo("grpc_stopped", {{"seconds", absl::ToDoubleSeconds(absl::Now() - t_stop)}});
  // Before the store that the metrics callbacks read goes away.
  if (metrics_server) metrics_server->Shutdown();
  if (replicator) replicator->Stop();  // hands the lease over; before the store closes
  backups.reset();
  store->reset();  // flush and close
  lifelong::LogInfo("stopped");
  return 0;
}
