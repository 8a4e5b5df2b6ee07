// catalog_server: the course catalog (lifelong.v1.CourseCatalogService).
//
//   catalog_server --port=7002 --data_dir=var/catalog
//
// Serves gRPC with health checking ("" and "lifelong.v1.CourseCatalogService"
// report SERVING once the store is open) and reflection. On SIGTERM/SIGINT it
// stops accepting calls, lets in-flight calls finish (up to
// --shutdown_grace_ms), then closes the database. Exit 1 when the store cannot
// be opened (e.g. another server holds --data_dir) or the port cannot be bound.
// Prometheus metrics and /healthz are served over HTTP on
// --metrics_host:--metrics_port (docs/observability.md).
//
// Backups (docs/catalog.md, "Backups"): --backup_dir (default
// <data_dir>-backups; "off": none) holds the catalog's backups, taken every
// --backup_interval (0: only on CreateBackup) and purged to the newest
// --backup_keep. Exit 1 on a bad backup setting, a backup directory another
// server holds, or a data_dir an interrupted restore moved aside.
//
// Replicated (docs/catalog.md, "Replication";
// services/catalog/replication/catalog_replicator.h): with --replication_nats
// every write goes through a NATS JetStream log that every catalog node
// applies, and any node takes writes. Health reports SERVING (and GET /ready
// on the metrics port 200) once the node has applied the log up to its end;
// GET /replication shows the node's position. Exit 1 when NATS cannot be
// reached within a minute, or the database holds writes made without the log.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/auth/auth_flags.h"
#include "services/catalog/catalog_backups.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/catalog_store.h"
#include "services/catalog/replication/catalog_replicator.h"
#include "services/common/grpc_tls.h"
#include "services/common/http_server.h"
#include "services/common/interceptors.h"
#include "services/common/log.h"
#include "services/common/metrics.h"
#include "services/common/metrics_process.h"
#include "services/common/nats_config.h"
#include "services/common/server.h"
#include "services/common/server_flags.h"
#include "services/common/tls_flags.h"
#include "services/storage/backup_metrics.h"
#include "services/storage/restore_swap.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on (0.0.0.0 for all interfaces)");
ABSL_FLAG(int, port, 7002, "gRPC port (0 picks a free port)");
ABSL_FLAG(std::string, data_dir, "var/catalog", "directory of the RocksDB catalog (created if missing)");
ABSL_FLAG(int, shutdown_grace_ms, 10000, "how long in-flight calls may run after SIGTERM");
ABSL_FLAG(int, shutdown_drain_ms, 0,
          "on SIGTERM, report not ready (GET /ready 503, health NOT_SERVING) and keep answering for this long "
          "before closing the port, so a load balancer moves new connections away first (ops/cluster.sh: 1000)");
ABSL_FLAG(int, max_pollers, 8, "most gRPC sync-server polling threads (concurrent handlers)");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1", "address of the HTTP /metrics and /healthz endpoint");
ABSL_FLAG(int, metrics_port, 9002, "port of the /metrics endpoint (0 picks a free port)");
ABSL_FLAG(std::string, port_file, "", "if set, the bound port is written here once serving");
ABSL_FLAG(std::string, backup_dir, "",
          "directory of the catalog's backups (docs/catalog.md, \"Backups\"); empty: <data_dir>-backups beside "
          "--data_dir (var/catalog -> var/catalog-backups); \"off\": no backups");
ABSL_FLAG(absl::Duration, backup_interval, absl::ZeroDuration(),
          "take a backup this often (e.g. 6h; 0 = no scheduled backups, CreateBackup still works)");
ABSL_FLAG(int, backup_keep, 7, "scheduled backups keep the newest N backups (retention; >= 1)");
ABSL_FLAG(std::string, replication_nats, "",
          "replicate the catalog through this NATS JetStream cluster (nats://host:port,...; empty: a single "
          "node; docs/catalog.md, \"Replication\")");
ABSL_FLAG(std::string, replication_nats_credentials_file, "",
          "file (mode 600) with one line user:password for NATS, when its servers demand one");
ABSL_FLAG(std::string, node_id, "catalog-1", "this node's name in the catalog log's logs and GET /replication");
ABSL_FLAG(std::string, replication_stream, "LIFELONG_CATALOG", "JetStream stream of the catalog's log");
ABSL_FLAG(int, replicas, 3, "copies JetStream keeps of the catalog's log (1-5)");

int main(int argc, char** argv) {
  lifelong::InstallFailureStackTraces(argv[0]);
  lifelong::BlockTerminationSignals();
  absl::ParseCommandLine(argc, argv);
  lifelong::SetLogService("catalog");
  lifelong::RaiseOpenFileLimit();
  // TLS on every port when --tls_cert is set (docs/security.md, "TLS").
  absl::StatusOr<lifelong::TlsConfig> tls = lifelong::ServingTlsFromFlags();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> grpc_credentials =
      tls.ok() ? lifelong::ServerCredentialsFor(*tls) : tls.status();
  if (!grpc_credentials.ok()) {
    lifelong::LogError("tls_config", {{"error", std::string(grpc_credentials.status().message())}});
    return 1;
  }

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  std::string backup_dir = absl::GetFlag(FLAGS_backup_dir);
  if (backup_dir.empty()) backup_dir = lifelong::storage::DefaultBackupDir(data_dir);
  if (backup_dir == "off") backup_dir.clear();
  const absl::Duration backup_interval = absl::GetFlag(FLAGS_backup_interval);
  const int backup_keep = absl::GetFlag(FLAGS_backup_keep);
  if (!backup_dir.empty() && backup_keep < 1) {
    lifelong::LogError("backup_config", {{"error", "--backup_keep: must be at least 1"}});
    return 1;
  }
  if (!backup_dir.empty() && backup_interval < absl::ZeroDuration()) {
    lifelong::LogError("backup_config", {{"error", "--backup_interval: must not be negative"}});
    return 1;
  }
  // A data_dir an interrupted restore moved aside: starting would create an
  // empty catalog beside both complete copies.
  if (absl::Status s = lifelong::storage::CheckNoInterruptedRestore(data_dir); !s.ok()) {
    lifelong::LogError("data_dir_unusable", {{"data_dir", data_dir}, {"error", std::string(s.message())}});
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    lifelong::LogError("data_dir_unusable", {{"data_dir", data_dir}, {"error", ec.message()}});
    return 1;
  }
  // Replicated: the log first, the store writes through it.
  std::unique_ptr<lifelong::catalog::CatalogReplicator> replicator;
  if (!absl::GetFlag(FLAGS_replication_nats).empty()) {
    lifelong::catalog::CatalogReplicatorOptions ro;
    absl::StatusOr<std::vector<std::string>> servers =
        lifelong::nats::ParseServerList(absl::GetFlag(FLAGS_replication_nats));
    absl::Status setup = servers.status();
    if (setup.ok()) ro.servers = *servers;
    const std::string cred_file = absl::GetFlag(FLAGS_replication_nats_credentials_file);
    if (setup.ok() && !cred_file.empty()) {
      absl::StatusOr<std::pair<std::string, std::string>> cred = lifelong::nats::ReadNatsCredentialsFile(cred_file);
      setup = cred.status();
      if (cred.ok()) std::tie(ro.user, ro.password) = *cred;
    }
    ro.node_id = absl::GetFlag(FLAGS_node_id);
    ro.stream = absl::GetFlag(FLAGS_replication_stream);
    ro.replicas = absl::GetFlag(FLAGS_replicas);
    absl::StatusOr<std::unique_ptr<lifelong::catalog::CatalogReplicator>> r =
        setup.ok() ? lifelong::catalog::CatalogReplicator::Connect(std::move(ro)) : setup;
    if (!r.ok()) {
      lifelong::LogError("replication_setup_failed", {{"error", std::string(r.status().message())}});
      return 1;
    }
    replicator = *std::move(r);
  }
  lifelong::catalog::CatalogStoreOptions store_options;
  store_options.log = replicator.get();
  absl::StatusOr<std::unique_ptr<lifelong::catalog::CatalogStore>> store =
      lifelong::catalog::CatalogStore::Open(data_dir, store_options);
  if (!store.ok()) {
    lifelong::LogError("store_open_failed", {{"data_dir", data_dir}, {"error", store.status().ToString()}});
    return 1;
  }
  if (replicator) {
    if (absl::Status started = replicator->Start(store->get()); !started.ok()) {
      lifelong::LogError("replication_setup_failed",
                         {{"data_dir", data_dir}, {"error", std::string(started.message())}});
      replicator->Stop();
      (*store)->Close().IgnoreError();
      return 1;
    }
  }
  // Declared after the store, so destroyed before it on every return below:
  // the replicator's threads never outlive the store they apply to.
  struct StopReplicatorFirst {
    lifelong::catalog::CatalogReplicator* replicator;
    ~StopReplicatorFirst() {
      if (replicator != nullptr) replicator->Stop();
    }
  } stop_replicator_first{replicator.get()};
  absl::StatusOr<std::unique_ptr<lifelong::auth::Authorizer>> authorizer_or = lifelong::auth::AuthorizerFromFlags();
  if (!authorizer_or.ok()) {
    lifelong::LogError("auth_config", {{"error", std::string(authorizer_or.status().message())}});
    return 1;
  }
  lifelong::auth::Authorizer& authorizer = **authorizer_or;
  std::unique_ptr<lifelong::catalog::CatalogBackupManager> backups;
  if (!backup_dir.empty()) {
    lifelong::catalog::CatalogBackupOptions bo;
    bo.backup_dir = backup_dir;
    absl::StatusOr<std::unique_ptr<lifelong::catalog::CatalogBackupManager>> m =
        lifelong::catalog::CatalogBackupManager::Open(store->get(), bo);
    if (!m.ok()) {
      lifelong::LogError("backup_dir_unusable", {{"backup_dir", backup_dir}, {"error", m.status().ToString()}});
      (*store)->Close().IgnoreError();
      return 1;
    }
    backups = *std::move(m);
  }
  lifelong::catalog::CatalogService service(store->get(), &authorizer, backups.get());

  // Observability: RPC metrics, request ids and access logs for every call,
  // plus the catalog's counters, sampled at each scrape.
  namespace metrics = lifelong::metrics;
  using metrics::MetricType;
  const lifelong::catalog::CatalogStore* stats_store = store->get();
  auto info_field = [stats_store](int64_t (lifelong::v1::CatalogInfo::*field)() const) {
    return [stats_store, field] {
      absl::StatusOr<lifelong::v1::CatalogInfo> info = stats_store->GetCatalogInfo();
      return info.ok() ? double(((*info).*field)()) : std::nan("");
    };
  };
  absl::Status observed = lifelong::InstallServerObservability({});
  if (observed.ok()) observed = metrics::RegisterProcessMetrics(&metrics::DefaultRegistry());
  if (observed.ok()) {
    observed = metrics::DefaultRegistry().AddCallbacks({
        {MetricType::kGauge,
         "lifelong_store_items",
         "Items in a service's store.",
         {{"service", "catalog"}, {"kind", "courses"}},
         info_field(&lifelong::v1::CatalogInfo::course_count)},
        {MetricType::kGauge,
         "lifelong_store_items",
         "Items in a service's store.",
         {{"service", "catalog"}, {"kind", "archived_courses"}},
         info_field(&lifelong::v1::CatalogInfo::archived_count)},
        {MetricType::kCounter,
         "lifelong_store_writes_total",
         "Items written to a service's store since start.",
         {{"service", "catalog"}},
         info_field(&lifelong::v1::CatalogInfo::generation)},
    });
  }
  if (observed.ok() && replicator) {
    const lifelong::catalog::CatalogReplicator* r = replicator.get();
    observed = metrics::DefaultRegistry().AddCallbacks({
        {MetricType::kGauge,
         "lifelong_catalog_log_lag",
         "Catalog log entries this node has not applied yet (docs/catalog.md, \"Replication\").",
         {},
         [r] { return double(r->Status().lag); }},
        {MetricType::kGauge,
         "lifelong_catalog_log_applied_seq",
         "The catalog log position this node has applied.",
         {},
         [r] { return double(r->Status().applied_seq); }},
        {MetricType::kGauge,
         "lifelong_catalog_log_stopped",
         "1 when this catalog node stopped applying its log (GET /replication says why), else 0.",
         {},
         [r] { return r->Status().applier_error.empty() ? 0.0 : 1.0; }},
        {MetricType::kCounter,
         "lifelong_catalog_log_consumer_restarts_total",
         "Times this node's applier dropped a subscription that delivered nothing for 5 s while the log held "
         "entries it had not applied (a consumer lost on the server), and subscribed again.",
         {},
         [r] { return double(r->Status().consumer_restarts); }},
    });
  }
  if (observed.ok() && backups) {
    const lifelong::catalog::CatalogBackupManager* b = backups.get();
    observed = metrics::DefaultRegistry().AddCallbacks(
        lifelong::storage::BackupMetricSpecs("lifelong_catalog_", "catalog backup", [b] { return b->stats(); }));
  }
  if (!observed.ok()) {
    lifelong::LogError("metrics_setup_failed", {{"error", observed.ToString()}});
    return 1;
  }

  lifelong::GrpcServerOptions options;
  options.address = absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
  options.max_pollers = absl::GetFlag(FLAGS_max_pollers);
  options.max_receive_bytes = lifelong::catalog::kCatalogMaxReceiveBytes;
  options.health_service_names = {std::string(lifelong::v1::CourseCatalogService::service_full_name())};
  if (absl::Status flags = lifelong::ApplyServerFlags(&options); !flags.ok()) {
    lifelong::LogError("server_flags", {{"error", std::string(flags.message())}});
    return 1;
  }
  options.credentials = *grpc_credentials;
  absl::StatusOr<std::unique_ptr<lifelong::RunningGrpcServer>> server = lifelong::StartGrpcServer(options, {&service});
  if (!server.ok()) {
    lifelong::LogError("listen_failed", {{"address", options.address}, {"error", server.status().ToString()}});
    (*store)->Close().IgnoreError();
    return 1;
  }
  // A replicated node serves once it has applied the log up to its end as
  // read at start (an empty node rebuilding the catalog does not answer
  // with a partial one); until then gRPC health answers NOT_SERVING and
  // GET /ready 503, which HAProxy checks.
  std::atomic<bool> serving{replicator == nullptr};
  (*server)->SetServing(serving.load());  // also every name in health_service_names
  std::map<std::string, lifelong::HttpHandler> routes;
  if (replicator) {
    const lifelong::catalog::CatalogReplicator* r = replicator.get();
    routes["/replication"] = [r] {
      lifelong::HttpResponse response;
      response.content_type = "application/json";
      response.body = r->StatusJson() + "\n";
      return response;
    };
    routes["/ready"] = [&serving] {
      lifelong::HttpResponse response;
      response.status = serving.load() ? 200 : 503;
      response.content_type = "text/plain";
      response.body = serving.load() ? "ready\n" : "catching up\n";
      return response;
    };
  }
  lifelong::HttpServerOptions metrics_options;
  metrics_options.host = absl::GetFlag(FLAGS_metrics_host);
  metrics_options.port = absl::GetFlag(FLAGS_metrics_port);
  metrics_options.tls = *tls;
  std::unique_ptr<lifelong::HttpServer> metrics_server = lifelong::StartMetricsHttpServerOrLog(
      metrics_options, &metrics::DefaultRegistry(), [&serving] { return serving.load(); }, std::move(routes));
  // Readiness follows the node: ready once caught up, not ready while it is
  // cut off from NATS or has stopped applying (HAProxy then sends clients to
  // the others), ready again when it is back.
  std::thread readiness;
  std::atomic<bool> stopping{false};
  if (replicator) {
    readiness = std::thread([&] {
      bool caught_up_logged = false;
      while (!stopping.load()) {
        const bool ready = replicator->Ready();
        if (ready != serving.load()) {
          serving = ready;
          (*server)->SetServing(ready);
          const lifelong::catalog::CatalogReplicationStatus st = replicator->Status();
          if (ready && !caught_up_logged) {
            caught_up_logged = true;
            lifelong::LogInfo("catalog_log_caught_up", {{"applied_seq", static_cast<int64_t>(st.applied_seq)}});
          } else {
            lifelong::LogInfo("catalog_log_readiness",
                              {{"ready", ready}, {"connected", st.connected}, {"applier_error", st.applier_error}});
          }
        }
        absl::SleepFor(absl::Milliseconds(100));
      }
    });
  }
  lifelong::WritePortFile(absl::GetFlag(FLAGS_port_file), (*server)->port());
  absl::StatusOr<lifelong::v1::CatalogInfo> info = (*store)->GetCatalogInfo();
  lifelong::LogInfo("serving", {{"port", (*server)->port()},
                                {"metrics_port", metrics_server ? metrics_server->port() : -1},
                                {"data_dir", data_dir},
                                {"tls", lifelong::ServingTlsMode(*tls)},
                                {"courses", info.ok() ? info->course_count() : -1},
                                {"generation", info.ok() ? info->generation() : -1},
                                {"backup_dir", backup_dir.empty() ? "off" : backup_dir},
                                {"replication", replicator ? absl::GetFlag(FLAGS_node_id) : std::string("off")}});

  // Scheduled backups on their own thread; writers are never blocked.
  std::unique_ptr<lifelong::catalog::CatalogBackupScheduler> scheduler;
  if (backups && backup_interval > absl::ZeroDuration()) {
    lifelong::catalog::CatalogBackupSchedulerOptions so;
    so.interval = backup_interval;
    so.keep = backup_keep;
    so.on_result = [](const absl::StatusOr<lifelong::catalog::CatalogBackupInfo>& b) {
      if (b.ok()) {
        lifelong::LogInfo("backup_created", {{"backup_id", static_cast<int64_t>(b->id)},
                                             {"generation", static_cast<int64_t>(b->generation)},
                                             {"courses", static_cast<int64_t>(b->courses)},
                                             {"trigger", "schedule"}});
      } else {
        lifelong::LogError("backup_failed", {{"error", std::string(b.status().message())}});
      }
    };
    scheduler = std::make_unique<lifelong::catalog::CatalogBackupScheduler>(backups.get(), so);
    scheduler->Start();
    lifelong::LogInfo(
        "backups_scheduled",
        {{"backup_dir", backup_dir}, {"interval", absl::FormatDuration(backup_interval)}, {"keep", backup_keep}});
  }

  const int sig = lifelong::WaitForTerminationSignal();
  lifelong::LogInfo("shutting_down", {{"signal", sig}});
  stopping = true;
  if (readiness.joinable()) readiness.join();
  serving = false;
  if (const int drain_ms = absl::GetFlag(FLAGS_shutdown_drain_ms); drain_ms > 0) {
    (*server)->SetServing(false);
    lifelong::LogInfo("draining", {{"drain_ms", drain_ms}});
    absl::SleepFor(absl::Milliseconds(drain_ms));
  }
  (*server)->Shutdown(std::chrono::milliseconds(absl::GetFlag(FLAGS_shutdown_grace_ms)));
  if (metrics_server) metrics_server->Shutdown();  // before the store closes
  if (scheduler) scheduler->Stop();                // waits for a backup in progress
  backups.reset();
  if (replicator) replicator->Stop();  // no more applies; the store closes after
  absl::Status closed = (*store)->Close();
  if (!closed.ok()) {
    lifelong::LogError("store_close_failed", {{"error", closed.ToString()}});
    return 1;
  }
  lifelong::LogInfo("stopped");
  return 0;
}
