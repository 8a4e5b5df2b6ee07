// CatalogReplicator: the course catalog on several nodes, replicated through
// a NATS JetStream stream (docs/catalog.md, "Replication"). It implements
// CatalogLog (catalog_log.h) for CatalogStore.
//
//   - The log is the stream --replication_stream ("LIFELONG_CATALOG"): file
//     storage, --replicas copies (RAFT inside nats-server; a publish is
//     acknowledged once a quorum has it), subjects "lifelong.catalog.>".
//     Each entry is one write's result: a course or a programme as stored,
//     on "lifelong.catalog.course" / ".programme"; the first entry,
//     "lifelong.catalog.init", carries the catalog's page-token secret, so
//     that a page token from one node is good on every node. Entries are
//     never removed (a catalog is thousands of courses, edited by staff).
//   - Every node applies the log in order on one applier thread (an ordered
//     JetStream consumer from CatalogStore::AppliedLogSeq()+1), writing the
//     position in the same batch (CatalogStore::ApplyLogged). An empty node
//     rebuilds the catalog from the log; a node restored from a backup
//     catches up from the backup's position. An entry that does not decode,
//     or a gap in the sequence (nothing is ever removed, so a gap is a fault),
//     stops the applier: nothing is ever skipped.
//   - There is no leader. A write is planned on the node's state at log
//     position A and published with JetStream's Nats-Expected-Last-Sequence
//     A: it lands only if nothing else landed since; otherwise the node
//     catches up and the store plans it again (CatalogStore::RunWrite). The
//     publish carries Nats-Msg-Id = a hash of (A, entry), so a publish
//     retried after a lost acknowledgement is stored once. A write is
//     answered once JetStream acknowledged it (quorum) AND this node applied
//     it, so a read on the same node sees it.
//   - The log must reach the store's position: a store that applied beyond
//     the stream's end (or whose stream is gone) stops applying and refuses
//     writes (applier_error in GET /replication); only a node whose store
//     applied nothing creates a missing stream. A database with writes made
//     without a log (a single-node catalog) cannot join one (Start fails).
//   - Ready() (GET /ready, HAProxy's check; gRPC health) once the node has
//     applied the log up to its end as first read after start, and for as
//     long as it is connected to NATS and applying (a halted or cut-off node
//     leaves HAProxy's rotation).
//
// Thread-safety: all public methods are thread-safe. Lifetime: Connect,
// CatalogStore::Open with options.log = this, Start(store); Stop() before
// the store is closed.
#ifndef LIFELONG_SERVICES_CATALOG_REPLICATION_CATALOG_REPLICATOR_H_
#define LIFELONG_SERVICES_CATALOG_REPLICATION_CATALOG_REPLICATOR_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/catalog/catalog_log.h"
#include "services/catalog/catalog_store.h"

namespace lifelong::catalog {

struct CatalogReplicatorOptions {
  std::vector<std::string> servers;  // nats://host:port, at least one
  // The NATS user and password (ReadNatsCredentialsFile); empty: none.
  std::string user;
  std::string password;
  std::string node_id;  // e.g. "catalog-1"; [A-Za-z0-9_.-]+
  std::string stream = "LIFELONG_CATALOG";
  std::string subject_prefix = "lifelong.catalog";
  int replicas = 3;  // 1..5
  // How long a write waits for its publish and its local application.
  absl::Duration apply_timeout = absl::Seconds(10);
  // How long Connect retries reaching JetStream.
  absl::Duration setup_timeout = absl::Seconds(60);
  // How often the stream's end is read (lag, readiness, the store-ahead check).
  absl::Duration poll_interval = absl::Milliseconds(500);
  // How long the applier's subscription may deliver nothing while the log
  // holds entries this node has not applied before it is dropped and made
  // again from the store's position (a consumer lost on the server).
  absl::Duration consumer_stall_timeout = absl::Seconds(5);
};

struct CatalogReplicationStatus {
  std::string node;
  uint64_t applied_seq = 0;
  uint64_t log_last_seq = 0;  // as last read; 0: no stream or not read yet
  uint64_t lag = 0;           // log_last_seq - applied_seq (0 when ahead)
  // Times the applier dropped a subscription gone silent while behind.
  uint64_t consumer_restarts = 0;
  bool connected = false;
  bool ready = false;
  std::string applier_error;  // why the node stopped applying; "" when it runs
};

class CatalogReplicator : public CatalogLog {
 public:
  // Connects to NATS (retrying for setup_timeout). INVALID_ARGUMENT for bad
  // options (naming the flag); UNAVAILABLE when NATS cannot be reached.
  static absl::StatusOr<std::unique_ptr<CatalogReplicator>> Connect(CatalogReplicatorOptions options);
  ~CatalogReplicator() override;
  CatalogReplicator(const CatalogReplicator&) = delete;
  CatalogReplicator& operator=(const CatalogReplicator&) = delete;

  // Starts the applier and the poller. `store` must have been opened with
  // options.log = this. FAILED_PRECONDITION when the store holds writes
  // made without a log.
  absl::Status Start(CatalogStore* store);
  // Stops both threads and closes the connection. Call once no Append can be
  // in flight (catalog_main: after the gRPC server has shut down). Idempotent.
  void Stop();

  CatalogReplicationStatus Status() const;
  // Status() as the JSON of GET /replication.
  std::string StatusJson() const;
  bool Ready() const;
  // Blocks until the applier has applied `seq` or `timeout` passes.
  bool WaitApplied(uint64_t seq, absl::Duration timeout) const;

  // CatalogLog.
  absl::StatusOr<bool> Append(CatalogLogEntry kind, const std::string& payload, uint64_t expected_last) override;
  absl::Status CatchUp() override;

 private:
  struct Nats;

  explicit CatalogReplicator(CatalogReplicatorOptions options);
  absl::Status Setup();
  void ApplierLoop();
  void PollLoop();
  // The stream's last sequence; NOT_FOUND when there is no stream.
  absl::StatusOr<uint64_t> ReadLogLastSeq() const;
  absl::Status CreateStream();
  void Halt(const std::string& why);

  const CatalogReplicatorOptions options_;
  std::unique_ptr<Nats> nats_;
  CatalogStore* store_ = nullptr;

  std::atomic<bool> stop_{false};
  std::atomic<bool> halted_{false};
  std::atomic<bool> connected_{false};
  std::atomic<bool> stream_ready_{false};  // the stream exists (the applier may subscribe)
  std::atomic<uint64_t> log_last_seq_{0};
  std::atomic<uint64_t> consumer_restarts_{0};
  std::thread applier_;
  std::thread poller_;

  mutable absl::Mutex mu_;
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  // The log's end as first read after start; ready once applied reaches it.
  uint64_t ready_at_ ABSL_GUARDED_BY(mu_) = 0;
  bool ready_known_ ABSL_GUARDED_BY(mu_) = false;
  std::string applier_error_ ABSL_GUARDED_BY(mu_);

  // Touched by the poller only: since when the log has been found behind
  // the store.
  absl::Time behind_since_ = absl::InfiniteFuture();
};

}  // namespace lifelong::catalog

#endif  // LIFELONG_SERVICES_CATALOG_REPLICATION_CATALOG_REPLICATOR_H_
