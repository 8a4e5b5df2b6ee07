// RecordsServer: the whole learning-record server assembled from options —
// the record store, the xAPI document store, backups and the erasure ledger,
// the replicated log (optional), the gRPC service (health, reflection), the
// xAPI HTTP endpoint and the /metrics endpoint. records_main.cc turns flags
// into RecordsServerOptions and runs one; tests that want a whole record
// server in their own process start one the same way.
//
// Start order: replicator (connects to NATS) -> record store -> document
// store (when the xAPI endpoint is on or the node is replicated) -> applier
// -> backups -> gRPC -> xAPI -> SERVING -> /metrics -> cache warmer and
// backup scheduler. Shutdown undoes it: hand the lease over, stop the
// scheduler and the warmer, NOT_SERVING, end the change-feed streams, stop
// xAPI, stop gRPC (in-flight calls get `shutdown_grace`), stop /metrics, stop
// the applier, close backups, the document store and, last, the record store
// (flushed). Every acknowledged write is in the store's synced WAL before its
// answer, so a Shutdown at any point loses none.
//
// Erasure: EraseLearner erases the learner's statements, then their xAPI
// documents (single node: here; replicated: every node's applier, see
// replicator.h), then appends the learner to the erasure ledger that a
// restore re-applies (backups.h).
//
// Thread-safety: accessors may be called from any thread; Shutdown is
// idempotent and may be called from any thread; Wait blocks until it is done.
#ifndef LIFELONG_SERVICES_RECORDS_RECORDS_SERVER_H_
#define LIFELONG_SERVICES_RECORDS_RECORDS_SERVER_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/http_server.h"
#include "services/common/server.h"
#include "services/records/backups.h"
#include "services/records/record_store.h"
#include "services/records/records_service.h"
#include "services/records/replication/replicator.h"
#include "services/xapi/credentials.h"
#include "services/xapi/document_store.h"
#include "services/xapi/xapi_handler.h"
#include "services/xapi/xapi_http_server.h"

namespace lifelong::records {

// The xAPI HTTP endpoint of a records server.
struct RecordsXapiOptions {
  // Host, port (0 picks a free one), TLS, connection limits.
  xapi::XapiHttpOptions http;
  // File of user:password lines for Basic authentication (credentials.h).
  // With authentication on (service.authorizer enabled), a file marked
  // development-only or holding a password from the repository is refused.
  std::string credentials_file;
  // Reported to requests that name no version ("2.0.0" or "1.0.3").
  std::string default_version = "2.0.0";
};

struct RecordsServerOptions {
  // The RocksDB store (created if missing) and its shared block cache.
  std::string data_dir;
  size_t block_cache_bytes = size_t{1} << 30;
  // The store's write slot thread's nice value (RecordStoreOptions::
  // write_slot_nice; 0: the process's priority).
  int store_write_slot_nice = RecordStoreOptions().write_slot_nice;
  // Read the learner index into the block cache in the background after
  // start ("cache_warmed" is logged when done).
  bool warm_cache = false;

  // The gRPC server: address (port 0 picks a free one), pollers, limits,
  // credentials. Start sets health_service_names.
  GrpcServerOptions grpc;
  // How long calls in flight may run once Shutdown starts.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // The service: authorizer (not owned, must outlive the server; null
  // trusts every caller), kiosk passes, learner cards, audit sampling,
  // stream deadline. `backups` and `erase_hook` are set by Start.
  RecordsService::Options service;

  // The xAPI documents live in the record database ("xapi_documents"
  // family). A document database that an earlier version kept here (a
  // RocksDB directory) is imported into it at start, before serving, and
  // then renamed "<dir>.imported" (a crash in between imports it again,
  // which leaves the same documents). Empty: nothing to import.
  std::string xapi_documents_dir;
  // The xAPI endpoint; nullopt: none.
  std::optional<RecordsXapiOptions> xapi;

  // Directory of the backups and the erasure ledger (docs/records.md,
  // "Backups"); empty: no backups (CreateBackup is FAILED_PRECONDITION).
  std::string backup_dir;
  // Take a backup this often (zero: none scheduled; must not be negative),
  // keeping the newest `backup_keep` (at least 1).
  absl::Duration backup_interval = absl::ZeroDuration();
  int backup_keep = 7;

  // The replicated log (services/records/replication/replicator.h); nullopt:
  // a single node, always the one that takes writes.
  std::optional<replication::ReplicatorOptions> replication;
  // This node's name in GET /replication of a single node (a replicated
  // node reports replication->node_id).
  std::string node_id = "records-1";

  // Serve /metrics, /healthz, /replication and /leader over HTTP
  // (docs/observability.md) with the store's, replication's and backups'
  // gauges registered in metrics::DefaultRegistry() — once per process, so
  // at most one server per process sets this. An address that cannot be
  // bound is logged (metrics_listen_failed) and a single node runs without
  // it; a replicated node does not start (GET /leader is the load balancer's
  // check: without it a node could win the lease unreachable).
  bool serve_metrics = false;
  HttpServerOptions metrics;
};

class RecordsServer {
 public:
  // Starts everything, in the order of the file comment. Errors: those of
  // the part that failed (RecordStore::Open, DocumentStore::Open,
  // Replicator::Connect, BackupManager::Open, ErasureLedger::Open,
  // Credentials::LoadFile and CheckUsableWithAuthentication,
  // StartGrpcServer, XapiHttpServer::Start), INVALID_ARGUMENT for
  // backup_keep < 1 or a negative backup_interval; the parts already started
  // are stopped again. StartupStep(error) names the part.
  static absl::StatusOr<std::unique_ptr<RecordsServer>> Start(RecordsServerOptions options);
  // The part of Start that returned `error`, as the event name records_main
  // logs ("store_open_failed", "xapi_credentials", "backup_config", ...);
  // "records_start_failed" for a status that does not come from Start.
  static std::string StartupStep(const absl::Status& error);

  // Shuts down (as Shutdown) if that has not happened yet.
  ~RecordsServer();
  RecordsServer(const RecordsServer&) = delete;
  RecordsServer& operator=(const RecordsServer&) = delete;

  // The bound ports (still answered after Shutdown); -1 when there is no
  // xAPI endpoint / no /metrics endpoint.
  int port() const { return port_; }
  int xapi_port() const { return xapi_port_; }
  int metrics_port() const { return metrics_port_; }
  // The parts, valid until Shutdown.
  RecordStore& store() { return *store_; }
  RecordsService& service() { return *service_; }
  // Null when not opened (no xAPI endpoint and a single node).
  xapi::DocumentStore* documents() { return documents_.get(); }
  // Null without backups / without replication.
  BackupManager* backups() { return backups_.get(); }
  replication::Replicator* replicator() { return replicator_.get(); }

  // Stops everything in the order of the file comment and closes the
  // stores. Idempotent; concurrent callers return once it is done.
  void Shutdown();
  // Blocks until Shutdown has finished.
  void Wait();

 private:
  RecordsServer() = default;
  absl::Status StartParts();
  absl::Status RegisterMetrics();
  absl::Status StartMetricsServer();
  void StartBackground();

  RecordsServerOptions options_;
  int port_ = -1, xapi_port_ = -1, metrics_port_ = -1;
  std::unique_ptr<replication::Replicator> replicator_;
  std::unique_ptr<RecordStore> store_;
  std::unique_ptr<xapi::DocumentStore> documents_;
  std::unique_ptr<BackupManager> backups_;
  std::unique_ptr<ErasureLedger> ledger_;
  std::unique_ptr<RecordsService> service_;
  std::unique_ptr<RunningGrpcServer> grpc_;
  std::unique_ptr<xapi::Credentials> credentials_;
  std::unique_ptr<xapi::XapiHandler> xapi_handler_;
  std::unique_ptr<xapi::XapiHttpServer> xapi_server_;
  std::unique_ptr<HttpServer> metrics_server_;
  std::atomic<bool> serving_{false};
  std::atomic<bool> stop_warming_{false};
  std::thread warmer_;
  std::unique_ptr<BackupScheduler> scheduler_;

  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_RECORDS_SERVER_H_
