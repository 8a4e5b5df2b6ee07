// bench_replication: the cost of replication. Durable writes through
// RecordStore alone (the single-node server's path) and through the
// replicated path (RecordStore in log mode: publish to a JetStream stream
// with quorum acknowledgement, then apply on the local applier), in the same
// run, on the same disk, with the same closed-loop writers.
//
//   bazel run -c opt //services/records/replication:bench_replication -- \
//       --members=3 --seconds=10 --writers=16
//
// Starts its own nats-server members (JetStream, file storage, on free
// ports under a temporary directory) and prints one line per case: writes/s
// (statements), calls/s, p50 and p99 latency.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "services/common/child_process.h"
#include "services/records/record_store.h"
#include "services/records/replication/replicator.h"
#include "services/records/statement.h"
#include "services/records/test_statements.h"

ABSL_FLAG(int, members, 3, "nats-server members (and stream replicas)");
ABSL_FLAG(int, seconds, 10, "seconds per case");
ABSL_FLAG(int, writers, 16, "concurrent writers");
ABSL_FLAG(int, batch, 100, "statements per call in the batched cases");
ABSL_FLAG(std::string, dir, "", "working directory (default: a fresh one under /tmp, removed at the end)");
ABSL_FLAG(std::string, nats_server, "/usr/sbin/nats-server", "the nats-server binary");

namespace lifelong::records::replication {
namespace {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

struct Result {
  double statements_per_sec = 0, calls_per_sec = 0, p50_ms = 0, p99_ms = 0;
  int64_t errors = 0;
};

Result Run(RecordStore* store, int writers, int per_call, int seconds, std::atomic<int64_t>* next_id) {
  std::vector<std::vector<double>> latencies(writers);
  std::atomic<int64_t> errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  absl::Time start = absl::Now();
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      while (!stop.load()) {
        std::vector<ParsedStatement> batch;
        for (int k = 0; k < per_call; ++k) {
          int64_t n = next_id->fetch_add(1);
          batch.push_back(*ParseStatement(testing::MakeStatement(
              {.id = testing::TestUuid(static_cast<int>(n)), .learner = absl::StrCat("u", n % 1000),
               .course = absl::StrCat("c", n % 50)})));
        }
        absl::Time t0 = absl::Now();
        absl::StatusOr<std::vector<StoredStatement>> r = store->Record(std::move(batch));
        latencies[w].push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
        if (!r.ok()) {
          if (errors.fetch_add(1) == 0) std::fprintf(stderr, "write failed: %s\n", r.status().ToString().c_str());
        }
      }
    });
  }
  absl::SleepFor(absl::Seconds(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Result res;
  res.errors = errors.load();
  res.calls_per_sec = all.size() / elapsed;
  res.statements_per_sec = (all.size() - res.errors) * per_call / elapsed;
  if (!all.empty()) {
    res.p50_ms = all[all.size() / 2];
    res.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return res;
}

void Print(const std::string& name, const Result& r) {
  std::printf("%-34s %10.0f statements/s %9.0f calls/s  p50 %7.2f ms  p99 %7.2f ms  errors %lld\n", name.c_str(),
              r.statements_per_sec, r.calls_per_sec, r.p50_ms, r.p99_ms, static_cast<long long>(r.errors));
  std::fflush(stdout);
}

int Main() {
  std::string dir = absl::GetFlag(FLAGS_dir);
  bool remove = false;
  if (dir.empty()) {
    char tmpl[] = "/tmp/bench_replication.XXXXXX";
    dir = mkdtemp(tmpl);
    remove = true;
  }
  const int members = absl::GetFlag(FLAGS_members);
  const int seconds = absl::GetFlag(FLAGS_seconds);
  const int writers = absl::GetFlag(FLAGS_writers);
  const int batch = absl::GetFlag(FLAGS_batch);
  std::printf("bench_replication: %d nats-server member(s), %d writers, %d s per case, batches of %d, dir %s\n",
              members, writers, seconds, batch, dir.c_str());

  std::atomic<int64_t> next_id{1};
  {
    RecordStoreOptions o;
    o.block_cache_bytes = 256 << 20;
    auto store = RecordStore::Open(dir + "/single", o);
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
      return 1;
    }
    Print("single node, 1 statement/call", Run(store->get(), writers, 1, seconds, &next_id));
    Print(absl::StrCat("single node, ", batch, " statements/call"), Run(store->get(), writers, batch, seconds, &next_id));
  }

  std::vector<int> client(members), cluster(members);
  std::vector<std::string> routes, urls;
  for (int i = 0; i < members; ++i) {
    client[i] = FreePort();
    cluster[i] = FreePort();
    routes.push_back(absl::StrCat("nats://127.0.0.1:", cluster[i]));
    urls.push_back(absl::StrCat("nats://127.0.0.1:", client[i]));
  }
  std::vector<pid_t> pids;
  for (int i = 0; i < members; ++i) {
    std::vector<std::string> argv = {absl::GetFlag(FLAGS_nats_server), "-js", "-sd", absl::StrCat(dir, "/nats-", i),
                                     "-a", "127.0.0.1", "-p", std::to_string(client[i]), "-n",
                                     absl::StrCat("nats-", i)};
    if (members > 1) {
      argv.insert(argv.end(), {"--cluster_name", "bench", "--cluster", routes[i], "--routes", absl::StrJoin(routes, ",")});
    }
    absl::StatusOr<pid_t> pid = SpawnChild(argv, absl::StrCat(dir, "/nats-", i, ".log"));
    if (!pid.ok()) {
      std::fprintf(stderr, "%s\n", pid.status().ToString().c_str());
      return 1;
    }
    pids.push_back(*pid);
  }
  int rc = 0;
  {
    ReplicatorOptions ro;
    ro.servers = urls;
    ro.node_id = "bench-1";
    ro.replicas = members;
    absl::StatusOr<std::unique_ptr<Replicator>> rep = Replicator::Connect(ro);
    if (!rep.ok()) {
      std::fprintf(stderr, "%s\n", rep.status().ToString().c_str());
      rc = 1;
    } else {
      RecordStoreOptions o;
      o.block_cache_bytes = 256 << 20;
      o.log = rep->get();
      auto store = RecordStore::Open(dir + "/replicated", o);
      if (!store.ok()) {
        std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
        rc = 1;
      } else {
        (*rep)->Start(store->get());
        for (int i = 0; i < 600 && !(*rep)->IsLeader(); ++i) absl::SleepFor(absl::Milliseconds(50));
        std::string name = absl::StrCat("replicated R", members, ", ");
        Print(name + "1 statement/call", Run(store->get(), writers, 1, seconds, &next_id));
        Print(absl::StrCat(name, batch, " statements/call"), Run(store->get(), writers, batch, seconds, &next_id));
        (*rep)->Stop();
      }
    }
  }
  for (pid_t p : pids) {
    kill(p, SIGTERM);
    WaitForChildExit(p, absl::Seconds(10));
  }
  if (remove) std::filesystem::remove_all(dir);
  return rc;
}

}  // namespace
}  // namespace lifelong::records::replication

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return lifelong::records::replication::Main();
}
