// bench_replication: durable writes through the replicated path (three nodes,
// the statement log in a three-member NATS JetStream cluster, acknowledged
// after the quorum has the write and the leader has applied it) against the
// single-node store, in the same run on the same machine; prints calls/s,
// statements/s and latency percentiles of each, and the cost of replication
// (replicated / single-node throughput, extra p50 latency).
//
//   ops/bench_replication.sh [seconds_each]
//   bazel run -c opt //tests/cluster:bench_replication -- --seconds=8
//
// Phases, each against the single node, the cluster through HAProxy (the
// address clients use) and the cluster's leader directly (without the proxy
// hop): one statement a call at concurrency 1, 16 and 64; batches of 100 at
// concurrency 4. Every call records new statements (fresh ids), each
// durable (synced) before it is answered on both paths.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/bench_driver.h"
#include "services/records/test_statements.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/testing/subprocess.h"

ABSL_FLAG(double, seconds, 8, "seconds per phase and target");
ABSL_FLAG(std::string, work_dir, "", "where the stores and logs go (default: a fresh directory under /tmp)");
ABSL_FLAG(int, batch, 100, "statements per batched call");

namespace lifelong {
namespace {

using bench::LoadResult;
using cluster_testing::Cluster;

std::atomic<int> next_statement{1};

// A closed-loop writer phase against `channel`.
LoadResult RunWrites(const std::string& name, const std::shared_ptr<grpc::Channel>& channel, int concurrency,
                     int per_call, double seconds) {
  auto stub = v1::LearningRecordService::NewStub(channel);
  if (per_call == 1) {
    return bench::RunClosedLoop<v1::Statement>(
        name, concurrency, seconds, [&](grpc::ClientContext* ctx, int64_t, grpc::CompletionQueue* cq) {
          const int n = next_statement.fetch_add(1);
          v1::RecordStatementRequest req;
          req.set_statement_json(records::testing::MakeStatement({.id = records::testing::TestUuid(n),
                                                                  .learner = absl::StrCat("b", n % 1000),
                                                                  .course = absl::StrCat("c", n % 50)}));
          return stub->AsyncRecordStatement(ctx, req, cq);
        });
  }
  return bench::RunClosedLoop<v1::RecordStatementsResponse>(
      name, concurrency, seconds, [&](grpc::ClientContext* ctx, int64_t, grpc::CompletionQueue* cq) {
        const int n0 = next_statement.fetch_add(per_call);
        v1::RecordStatementsRequest req;
        for (int k = 0; k < per_call; ++k) {
          const int n = n0 + k;
          req.add_statement_json(records::testing::MakeStatement({.id = records::testing::TestUuid(n),
                                                                  .learner = absl::StrCat("b", n % 1000),
                                                                  .course = absl::StrCat("c", n % 50)}));
        }
        return stub->AsyncRecordStatements(ctx, req, cq);
      });
}

int Main() {
  std::string dir = absl::GetFlag(FLAGS_work_dir);
  if (dir.empty()) {
    char tmpl[] = "/tmp/bench_replication.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = tmpl;
  }
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const int batch = absl::GetFlag(FLAGS_batch);
  std::printf("bench_replication: %.0f s a phase, batches of %d; files in %s\n", seconds, batch, dir.c_str());

  // The single-node store: today's records_server, no replication flags.
  std::filesystem::create_directories(dir + "/single");
  absl::StatusOr<testing::Subprocess> single = testing::Subprocess::Start(
      {testing::RunfilePath("services/records/records_server"), "--port=0", "--port_file=" + dir + "/single/port",
       "--metrics_port=0", "--xapi_port=-1", "--warm_cache=false", "--data_dir=" + dir + "/single/records"},
      dir + "/single/server.log");
  if (!single.ok()) {
    std::fprintf(stderr, "single node: %s\n", single.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<int> single_port = testing::WaitForPortFile(dir + "/single/port");
  if (!single_port.ok()) {
    std::fprintf(stderr, "single node did not start (log %s/single/server.log)\n", dir.c_str());
    return 1;
  }
  auto single_channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", *single_port), grpc::InsecureChannelCredentials());

  std::printf("starting the cluster (3 nats-server, 3 records nodes, HAProxy)...\n");
  std::fflush(stdout);
  absl::StatusOr<std::unique_ptr<Cluster>> cluster = Cluster::Start(dir + "/cluster");
  if (!cluster.ok()) {
    std::fprintf(stderr, "cluster: %s\n", cluster.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<int> leader = (*cluster)->WaitForLeader(std::chrono::seconds(30));
  if (!leader.ok()) {
    std::fprintf(stderr, "cluster: %s\n", leader.status().ToString().c_str());
    return 1;
  }
  auto proxy_channel = (*cluster)->Channel();
  auto leader_channel = (*cluster)->NodeChannel(*leader);
  std::printf("leader records-%d; client address %s\n\n", *leader, (*cluster)->Address().c_str());

  struct Phase {
    int concurrency;
    int per_call;
  };
  const std::vector<Phase> phases = {{1, 1}, {16, 1}, {64, 1}, {4, batch}};
  std::vector<std::string> summary;
  for (const Phase& p : phases) {
    const std::string what = p.per_call == 1 ? "single" : absl::StrCat("batch", p.per_call);
    // Warm the connections (and the cluster's consumers) outside the measurement.
    RunWrites("warm-up", single_channel, p.concurrency, p.per_call, 0.5);
    RunWrites("warm-up", proxy_channel, p.concurrency, p.per_call, 0.5);
    LoadResult one = RunWrites(absl::StrCat(what, " single-node"), single_channel, p.concurrency, p.per_call, seconds);
    bench::PrintResult(one, p.per_call);
    LoadResult rep =
        RunWrites(absl::StrCat(what, " replicated via haproxy"), proxy_channel, p.concurrency, p.per_call, seconds);
    bench::PrintResult(rep, p.per_call);
    LoadResult direct =
        RunWrites(absl::StrCat(what, " replicated, leader direct"), leader_channel, p.concurrency, p.per_call, seconds);
    bench::PrintResult(direct, p.per_call);
    summary.push_back(absl::StrFormat(
        "%-8s conc=%-3d  single-node %8.0f st/s p50 %6.2f ms | replicated %8.0f st/s p50 %6.2f ms p99 %6.2f ms "
        "| %3.0f%% of single-node throughput, +%.2f ms p50",
        what, p.concurrency, one.calls_per_sec * p.per_call, one.p50_ms, rep.calls_per_sec * p.per_call, rep.p50_ms,
        rep.p99_ms, one.calls_per_sec > 0 ? 100.0 * rep.calls_per_sec / one.calls_per_sec : 0,
        rep.p50_ms - one.p50_ms));
    std::printf("\n");
  }
  std::printf("cost of replication (durable writes; replicated = through HAProxy, as clients call):\n");
  for (const std::string& line : summary) std::printf("  %s\n", line.c_str());
  (void)single->Stop(SIGTERM);
  return 0;
}

}  // namespace
}  // namespace lifelong

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return lifelong::Main();
}
