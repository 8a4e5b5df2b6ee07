// A replicated record service on this machine, for the drills in
// tests/cluster: three nats-server processes forming a JetStream cluster (the
// statement log), three records_server nodes applying it
// (--replication_nats, --node_id), and HAProxy sending the client port to the
// node whose metrics port answers 200 on GET /leader, configured as
// ops/cluster.sh configures it. Everything binds ports picked free on
// 127.0.0.1 and keeps its files under one directory (TEST_TMPDIR).
//
// Also: LoadWriters, concurrent writers that record statements through one
// address and retry UNAVAILABLE/DEADLINE_EXCEEDED as the CLI does, keeping
// what was acknowledged and when.
//
// Not thread-safe (one test thread drives a Cluster); LoadWriters is.
#ifndef LIFELONG_TESTS_CLUSTER_CLUSTER_HARNESS_H_
#define LIFELONG_TESTS_CLUSTER_CLUSTER_HARNESS_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "tests/testing/subprocess.h"

namespace lifelong::cluster_testing {

using Clock = std::chrono::steady_clock;

// GET /replication of one node (REPLICATION_CONTRACT.md).
struct ReplicationInfo {
  std::string node;
  std::string role;  // leader | follower | catching_up | single
  std::string leader;
  uint64_t applied_seq = 0;
  uint64_t log_last_seq = 0;
  int64_t lag = 0;
  uint64_t trimmed_below = 0;  // the log holds nothing below this (0: never trimmed)
  std::string applier_error;   // why the node's applier stopped; "" when it runs
};

struct ClusterOptions {
  int lease_ttl_ms = 3000;
  // How often HAProxy asks each node's GET /leader (ops/cluster.sh: 250 ms).
  int check_interval_ms = 250;
  std::vector<std::string> extra_node_flags;
};

class Cluster {
 public:
  static constexpr int kNodes = 3;

  // Starts NATS (waits for JetStream to report healthy on every member), the
  // three nodes and HAProxy, then waits up to 60 s for a leader behind
  // HAProxy. Files go under `dir`, which is emptied first. A start that fails (a picked port
  // taken by another process before it was bound, say) is retried up to twice on new ports.
  static absl::StatusOr<std::unique_ptr<Cluster>> Start(const std::string& dir, ClusterOptions options = {});
  ~Cluster();  // SIGKILLs whatever still runs

  // The client address (HAProxy): "127.0.0.1:port".
  std::string Address() const { return "127.0.0.1:" + std::to_string(haproxy_grpc_port_); }
  std::string XapiAddress() const { return "127.0.0.1:" + std::to_string(haproxy_xapi_port_); }
  // Node n (1..3) directly.
  std::string NodeAddress(int n) const { return "127.0.0.1:" + std::to_string(node(n).grpc_port); }
  std::string DataDir(int n) const { return node(n).data_dir; }
  bool NodeRunning(int n);

  // Starts node n on its ports and data directory (after Kill/Stop);
  // returns once its gRPC port is bound.
  absl::Status StartNode(int n);
  // SIGKILL (no flush, no goodbye); returns once the process is gone.
  absl::Status KillNode(int n);
  // SIGTERM, and waits (up to 30 s) for a clean exit.
  absl::Status StopNode(int n);
  // SIGSTOP / SIGCONT: node n stops reading the log (its JetStream consumer
  // falls behind) without losing its connections or its lease state.
  absl::Status PauseNode(int n);
  absl::Status ResumeNode(int n);

  // GET /replication of node n; UNAVAILABLE when it does not answer.
  absl::StatusOr<ReplicationInfo> Replication(int n);
  // The node that answers 200 on GET /leader, if any.
  std::optional<int> Leader();
  // The node HAProxy routes the client port to now (its records_grpc server
  // line is UP), if any.
  std::optional<int> RoutedNode();
  // Waits until some node leads and HAProxy routes to it (a Health check
  // through Address() answers SERVING); DEADLINE_EXCEEDED after `timeout`.
  absl::StatusOr<int> WaitForLeader(std::chrono::milliseconds timeout);
  // Waits until every running node reports lag 0 and the same applied_seq,
  // equal to the log's last sequence; returns that sequence.
  absl::StatusOr<uint64_t> WaitConverged(std::chrono::milliseconds timeout);

  // A channel to the client address (or to node n directly).
  std::shared_ptr<grpc::Channel> Channel() const;
  std::shared_ptr<grpc::Channel> NodeChannel(int n) const;

  // The tail of node n's log, for failure messages.
  std::string NodeLogTail(int n) const;
  const std::string& dir() const { return dir_; }

 private:
  struct Node {
    int grpc_port = 0, xapi_port = 0, metrics_port = 0;
    std::string data_dir, documents_dir, log;
    std::optional<testing::Subprocess> process;
  };
  struct Nats {
    int client_port = 0, route_port = 0, http_port = 0;
    std::optional<testing::Subprocess> process;
  };
  Cluster(std::string dir, ClusterOptions options) : dir_(std::move(dir)), options_(std::move(options)) {}
  static absl::StatusOr<std::unique_ptr<Cluster>> StartOnce(const std::string& dir, const ClusterOptions& options);
  const Node& node(int n) const { return nodes_[n - 1]; }
  Node& node(int n) { return nodes_[n - 1]; }
  absl::Status StartNats();
  absl::Status StartHaproxy();
  std::string NatsUrls() const;

  std::string dir_;
  ClusterOptions options_;
  Nats nats_[kNodes];
  Node nodes_[kNodes];
  int haproxy_grpc_port_ = 0, haproxy_xapi_port_ = 0, haproxy_stats_port_ = 0;
  std::optional<testing::Subprocess> haproxy_;
};

// One acknowledged write.
struct Ack {
  std::vector<std::string> ids;     // the statements it recorded
  Clock::time_point attempt_start;  // when the attempt that succeeded began
  Clock::time_point acked;
  int attempts = 1;
};

// Writers that keep recording statements through `channel` until Stop():
// single statements, and every fifth call a batch of three. A call that
// fails with UNAVAILABLE or DEADLINE_EXCEEDED is retried with the same
// statements (the same ids: a retry of a write that did land is answered as
// stored before) every `retry_pause`, up to `give_up_after`; any other error,
// or giving up, counts as a failed write.
class LoadWriters {
 public:
  struct Options {
    int writers = 6;
    int learners = 20;
    std::chrono::milliseconds call_deadline{3000};
    std::chrono::milliseconds retry_pause{50};
    std::chrono::milliseconds give_up_after{30000};
    int id_base = 0;  // statement numbers start here (distinct per test)
    // Also retry CANCELLED: what a records_server stopping on SIGTERM answers
    // to calls it had accepted but not started (gRPC's shutdown). Nothing of
    // such a call was written; the retries are counted (CancelledRetries).
    bool retry_cancelled = false;
  };
  LoadWriters(std::shared_ptr<grpc::Channel> channel, Options options);
  ~LoadWriters();  // stops

  void Start();
  void Stop();

  // Snapshot of what was acknowledged so far.
  std::vector<Ack> Acks() const;
  int64_t AckedStatements() const;
  // Failed writes: [attempted ids, last error].
  std::vector<std::pair<std::vector<std::string>, std::string>> Failures() const;
  // Waits until `n` more statements are acknowledged than now; false after `timeout`.
  bool WaitForMoreAcks(int64_t n, std::chrono::milliseconds timeout) const;
  // Every statement id any writer attempted.
  std::set<std::string> Attempted() const;
  int learners() const { return options_.learners; }
  // Calls answered CANCELLED and retried (Options::retry_cancelled).
  int64_t CancelledRetries() const { return cancelled_retries_.load(); }

 private:
  void Run(int writer);
  std::shared_ptr<grpc::Channel> channel_;
  Options options_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> cancelled_retries_{0};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::vector<Ack> acks_;
  int64_t acked_statements_ = 0;
  std::set<std::string> attempted_;
  std::vector<std::pair<std::vector<std::string>, std::string>> failures_;
};

// The learner key of writer statements number `n` (LoadWriters' learners are
// "w0".."w<learners-1>").
std::string WriterLearner(int64_t n, int learners);

// Every statement id that ListStatements returns for `learner` through
// `stub`, with repeats kept (a statement listed twice is a duplicate).
// `allow_stale`: asked as an operator's recovery read (x-lifelong-stale-reads:
// allow), which a node that does not apply the log answers too; the harness
// runs without authentication, so every caller is an operator.
absl::StatusOr<std::vector<std::string>> ListLearnerIds(v1::LearningRecordService::Stub* stub,
                                                        const std::string& learner, bool allow_stale = false);

// Percentile p (0..100) of `values` (copied and sorted).
double Percentile(std::vector<double> values, double p);

}  // namespace lifelong::cluster_testing

#endif  // LIFELONG_TESTS_CLUSTER_CLUSTER_HARNESS_H_
