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
//
// This file is flags only: RecordsServer (records_server.h) assembles and
// stops the server.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/auth/auth_flags.h"
#include "services/auth/authorizer.h"
#include "services/common/grpc_tls.h"
#include "services/common/interceptors.h"
#include "services/common/log.h"
#include "services/common/metrics.h"
#include "services/common/metrics_process.h"
#include "services/common/server.h"
#include "services/common/server_flags.h"
#include "services/common/tls_flags.h"
#include "services/records/backups.h"
#include "services/records/records_server.h"
#include "services/records/replication/replicator.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on (0.0.0.0 for all interfaces)");
ABSL_FLAG(int, port, 7001, "gRPC port (0 picks a free port)");
ABSL_FLAG(std::string, data_dir, "var/records", "directory of the RocksDB store (created if missing)");
ABSL_FLAG(int, block_cache_mb, 1024, "RocksDB block cache size in MiB");
ABSL_FLAG(int, store_write_slot_nice, lifelong::records::RecordStoreOptions().write_slot_nice,
          "nice value of the store's write slot thread, which writes the group commits one after the other "
          "(lowering it needs CAP_SYS_NICE; 0: the process's priority)");
ABSL_FLAG(int, shutdown_grace_ms, 10000, "how long in-flight calls may run after SIGTERM");
ABSL_FLAG(int, max_pollers, 64,
          "gRPC sync-server threads kept waiting for calls; writes block on the group commit, so fewer "
          "than the concurrent callers makes gRPC start and stop a thread per call");
ABSL_FLAG(int, stream_stall_timeout_seconds,
          absl::ToInt64Seconds(lifelong::records::RecordsService::Options().stream_stall_timeout),
          "an export stream whose client takes no message, or a change-feed watcher that sends no acknowledgement, "
          "for this long is cancelled, so that it cannot hold a handler thread and a store scan (1-3600)");
ABSL_FLAG(bool, warm_cache, true, "read the learner index into the block cache in the background at start-up");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1", "address of the HTTP /metrics and /healthz endpoint");
ABSL_FLAG(int, metrics_port, 9001, "port of the /metrics endpoint (0 picks a free port)");
ABSL_FLAG(std::string, port_file, "", "if set, the bound port is written here once serving");
ABSL_FLAG(int, xapi_port, 8080, "xAPI HTTP port (0 picks a free port, -1 disables the endpoint)");
ABSL_FLAG(std::string, xapi_host, "127.0.0.1", "xAPI HTTP address to listen on");
ABSL_FLAG(std::string, xapi_documents_dir, "var/xapi-documents",
          "where versions before the documents moved into the record database kept the xAPI State/Profile "
          "documents: imported once at start-up, then renamed <dir>.imported (docs/xapi.md, \"Documents\")");
ABSL_FLAG(std::string, xapi_default_version, "2.0.0",
          "xAPI version reported to requests that name none (2.0.0 or 1.0.3)");
ABSL_FLAG(std::string, xapi_credentials, "ops/xapi/dev-credentials.txt",
          "file of user:password lines for xAPI Basic authentication");
ABSL_FLAG(int, xapi_max_connections_per_address, 256,
          "xAPI connections one client address may hold open (raise it behind a reverse proxy, "
          "where every client has the proxy's address); docs/security.md");
ABSL_FLAG(int64_t, xapi_max_held_mib_per_address, 128,
          "MiB of xAPI request bytes one client address may have read and not yet answered (partial "
          "uploads included; beyond it: 503); raise it behind a reverse proxy; docs/security.md");
ABSL_FLAG(int64_t, xapi_max_held_mib, 1024,
          "MiB of xAPI request bytes all clients together may have read and not yet answered (beyond it: 503)");
ABSL_FLAG(std::string, backup_dir, "",
          "directory of the store's backups and erasure ledger (docs/records.md, \"Backups\"); empty: "
          "<data_dir>-backups beside --data_dir (var/records -> var/records-backups); \"off\": no backups");
ABSL_FLAG(absl::Duration, backup_interval, absl::ZeroDuration(),
          "take a backup this often (e.g. 6h; 0 = no scheduled backups, CreateBackup still works)");
ABSL_FLAG(int, backup_keep, 7, "scheduled backups keep the newest N backups (retention; >= 1)");
ABSL_FLAG(std::vector<std::string>, xapi_proxy_protocol_from, {},
          "comma-separated numeric addresses of load balancers that send the PROXY protocol (v1 or v2; "
          "HAProxy's send-proxy) on the xAPI port: then only they may connect, and the address their header "
          "names is the client's (per-address limits, password backoff, logs); empty: off. docs/xapi.md");
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
ABSL_FLAG(absl::Duration, replication_trim_interval, absl::Minutes(1),
          "how often the leader removes from the log what every node has applied and holds in its oldest "
          "backup (docs/replication.md, \"Log retention\"); 0 = never");
ABSL_FLAG(absl::Duration, replication_position_interval, absl::Seconds(5),
          "how often a node reports its applied position and oldest backup for log retention");
ABSL_FLAG(absl::Duration, replication_forget_node_after, absl::Hours(24 * 7),
          "a node silent this long no longer holds the log back (when it returns, restore it from a backup)");
ABSL_FLAG(int64_t, lease_ttl_ms, 3000, "leader lease TTL: a dead leader is replaced within about this long");

int main(int argc, char** argv) {
  lifelong::InstallFailureStackTraces(argv[0]);
  lifelong::BlockTerminationSignals();
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil with deadlock detection on; it costs every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  lifelong::SetLogService("records");
  lifelong::RaiseOpenFileLimit();
  namespace records = lifelong::records;
  namespace replication = lifelong::records::replication;
  // TLS on every port when --tls_cert is set (docs/security.md, "TLS").
  absl::StatusOr<lifelong::TlsConfig> tls = lifelong::ServingTlsFromFlags();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> grpc_credentials =
      tls.ok() ? lifelong::ServerCredentialsFor(*tls) : tls.status();
  if (grpc_credentials.ok() && absl::GetFlag(FLAGS_xapi_require_client_cert) &&
      (tls->cert_file.empty() || tls->ca_file.empty())) {
    grpc_credentials =
        absl::InvalidArgumentError("--xapi_require_client_cert needs --tls_cert, --tls_key and --tls_ca");
  }
  if (!grpc_credentials.ok()) {
    lifelong::LogError("tls_config", {{"error", std::string(grpc_credentials.status().message())}});
    return 1;
  }

  records::RecordsServerOptions o;
  o.data_dir = absl::GetFlag(FLAGS_data_dir);
  o.block_cache_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_block_cache_mb)) << 20;
  o.store_write_slot_nice = absl::GetFlag(FLAGS_store_write_slot_nice);
  o.warm_cache = absl::GetFlag(FLAGS_warm_cache);
  o.node_id = absl::GetFlag(FLAGS_node_id);
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
    if (!setup.ok()) {
      lifelong::LogError("replication_setup_failed", {{"error", std::string(setup.message())}});
      return 1;
    }
    ro.servers = *servers;
    ro.node_id = absl::GetFlag(FLAGS_node_id);
    ro.stream = absl::GetFlag(FLAGS_replication_stream);
    ro.replicas = absl::GetFlag(FLAGS_replicas);
    ro.lease_ttl_ms = absl::GetFlag(FLAGS_lease_ttl_ms);
    ro.trim_interval = absl::GetFlag(FLAGS_replication_trim_interval);
    ro.position_interval = absl::GetFlag(FLAGS_replication_position_interval);
    ro.forget_node_after = absl::GetFlag(FLAGS_replication_forget_node_after);
    if (ro.trim_interval < absl::ZeroDuration() || ro.position_interval <= absl::ZeroDuration() ||
        ro.forget_node_after <= absl::ZeroDuration()) {
      lifelong::LogError("replication_setup_failed",
                         {{"error",
                           "--replication_trim_interval must not be negative; "
                           "--replication_position_interval and --replication_forget_node_after "
                           "must be positive"}});
      return 1;
    }
    o.replication = std::move(ro);
  }
  o.xapi_documents_dir = absl::GetFlag(FLAGS_xapi_documents_dir);
  if (absl::GetFlag(FLAGS_xapi_port) >= 0) {
    records::RecordsXapiOptions xo;
    xo.http.host = absl::GetFlag(FLAGS_xapi_host);
    xo.http.port = absl::GetFlag(FLAGS_xapi_port);
    xo.http.tls = *tls;
    xo.http.tls.require_client_cert = absl::GetFlag(FLAGS_xapi_require_client_cert);
    xo.http.max_connections_per_address = absl::GetFlag(FLAGS_xapi_max_connections_per_address);
    xo.http.max_held_bytes_per_address =
        static_cast<size_t>(std::max<int64_t>(0, absl::GetFlag(FLAGS_xapi_max_held_mib_per_address))) << 20;
    xo.http.max_held_bytes = static_cast<size_t>(std::max<int64_t>(0, absl::GetFlag(FLAGS_xapi_max_held_mib))) << 20;
    xo.http.proxy_protocol_from = absl::GetFlag(FLAGS_xapi_proxy_protocol_from);
    xo.credentials_file = absl::GetFlag(FLAGS_xapi_credentials);
    xo.default_version = absl::GetFlag(FLAGS_xapi_default_version);
    o.xapi = std::move(xo);
  }
  // Backups (docs/records.md, "Backups"): the manager, and the erasure
  // ledger that a restore re-applies.
  std::string backup_dir = absl::GetFlag(FLAGS_backup_dir);
  if (backup_dir.empty()) backup_dir = records::DefaultBackupDir(absl::GetFlag(FLAGS_data_dir));
  if (backup_dir != "off") {
    o.backup_dir = backup_dir;
    o.backup_interval = absl::GetFlag(FLAGS_backup_interval);
    o.backup_keep = absl::GetFlag(FLAGS_backup_keep);
    if (o.backup_keep < 1) {
      lifelong::LogError("backup_config", {{"error", "--backup_keep: must be at least 1"}});
      return 1;
    }
    if (o.backup_interval < absl::ZeroDuration()) {
      lifelong::LogError("backup_config", {{"error", "--backup_interval: must not be negative"}});
      return 1;
    }
  }
  absl::StatusOr<std::unique_ptr<lifelong::auth::Authorizer>> authorizer = lifelong::auth::AuthorizerFromFlags();
  if (!authorizer.ok()) {
    lifelong::LogError("auth_config", {{"error", std::string(authorizer.status().message())}});
    return 1;
  }
  o.service.authorizer = authorizer->get();
  const int stall_seconds = absl::GetFlag(FLAGS_stream_stall_timeout_seconds);
  if (stall_seconds < 1 || stall_seconds > 3600) {
    lifelong::LogError(
        "stream_config",
        {{"error", absl::StrCat("--stream_stall_timeout_seconds: ", stall_seconds, " is outside 1-3600")}});
    return 1;
  }
  o.service.stream_stall_timeout = absl::Seconds(stall_seconds);
  o.grpc.address = absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
  o.grpc.max_pollers = absl::GetFlag(FLAGS_max_pollers);
  if (absl::Status flags = lifelong::ApplyServerFlags(&o.grpc); !flags.ok()) {
    lifelong::LogError("server_flags", {{"error", std::string(flags.message())}});
    return 1;
  }
  o.grpc.credentials = *grpc_credentials;
  o.shutdown_grace = absl::Milliseconds(absl::GetFlag(FLAGS_shutdown_grace_ms));
  o.serve_metrics = true;
  o.metrics.host = absl::GetFlag(FLAGS_metrics_host);
  o.metrics.port = absl::GetFlag(FLAGS_metrics_port);
  o.metrics.tls = *tls;

  // Observability: RPC metrics, request ids and access logs for every call
  // (the server adds its store's, replication's and backups' gauges).
  absl::Status observed = lifelong::InstallServerObservability({});
  if (observed.ok()) observed = lifelong::metrics::RegisterProcessMetrics(&lifelong::metrics::DefaultRegistry());
  if (!observed.ok()) {
    lifelong::LogError("metrics_setup_failed", {{"error", observed.ToString()}});
    return 1;
  }

  absl::StatusOr<std::unique_ptr<records::RecordsServer>> server = records::RecordsServer::Start(std::move(o));
  if (!server.ok()) {
    lifelong::LogError(records::RecordsServer::StartupStep(server.status()),
                       {{"error", std::string(server.status().message())}});
    return 1;
  }
  lifelong::WritePortFile(absl::GetFlag(FLAGS_port_file), (*server)->port());
  lifelong::LogInfo("serving", {{"port", (*server)->port()},
                                {"metrics_port", (*server)->metrics_port()},
                                {"data_dir", absl::GetFlag(FLAGS_data_dir)},
                                {"replication", (*server)->replicator() != nullptr ? absl::GetFlag(FLAGS_node_id)
                                                                                   : std::string("off")},
                                {"tls", lifelong::ServingTlsMode(*tls)},
                                {"statements", (*server)->store().ApproximateStatementCount()}});

  int sig = lifelong::WaitForTerminationSignal();
  lifelong::LogInfo("shutting_down", {{"signal", sig}});
  (*server)->Shutdown();
  lifelong::LogInfo("stopped");
  return 0;
}
