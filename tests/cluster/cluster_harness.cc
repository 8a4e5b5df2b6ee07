#include "tests/cluster/cluster_harness.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "services/records/test_statements.h"

namespace lifelong::cluster_testing {
namespace {

// Picks `n` distinct free ports.
absl::Status PickPorts(std::vector<int*> ports) {
  std::set<int> seen;
  for (int* p : ports) {
    for (int tries = 0;; ++tries) {
      absl::StatusOr<int> port = testing::FreeLoopbackPort();
      if (!port.ok()) return port.status();
      if (seen.insert(*port).second) {
        *p = *port;
        break;
      }
      if (tries > 100) return absl::UnavailableError("no free ports");
    }
  }
  return absl::OkStatus();
}

// The first of `candidates` that is an executable file; $env_name wins.
std::string FindProgram(const char* env_name, std::vector<std::string> candidates) {
  if (const char* env = std::getenv(env_name); env != nullptr && *env) return env;
  for (const std::string& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return candidates.front();
}

absl::StatusOr<std::pair<int, std::string>> HttpGet(int port, const std::string& path,
                                                    std::chrono::milliseconds timeout = std::chrono::seconds(1)) {
  httplib::Client client("127.0.0.1", port);
  client.set_url_encode(false);  // HAProxy's "/;csv" must go as written
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(timeout - secs);
  client.set_connection_timeout(secs.count(), usecs.count());
  client.set_read_timeout(secs.count(), usecs.count());
  httplib::Result r = client.Get(path.c_str());
  if (!r)
    return absl::UnavailableError(absl::StrCat("GET 127.0.0.1:", port, path, ": ", httplib::to_string(r.error())));
  return std::make_pair(r->status, r->body);
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string Tail(const std::string& path, size_t bytes = 3000) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Start(const std::string& dir, ClusterOptions options) {
  // The ports are picked before the configurations that name them are written, so another
  // process may bind one in between; a failed start is retried from scratch on new ports.
  constexpr int kAttempts = 3;
  absl::Status last;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    absl::StatusOr<std::unique_ptr<Cluster>> c = StartOnce(dir, options);
    if (c.ok()) return c;
    last = c.status();
    std::fprintf(stderr, "cluster start, attempt %d of %d, failed: %s\n", attempt, kAttempts,
                 std::string(last.message()).c_str());
  }
  return last;
}

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::StartOnce(const std::string& dir, const ClusterOptions& options) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);  // a failed attempt's processes are gone with its Cluster
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": ", ec.message()));
  std::unique_ptr<Cluster> c(new Cluster(dir, options));
  std::vector<int*> ports = {&c->haproxy_grpc_port_, &c->haproxy_xapi_port_, &c->haproxy_stats_port_};
  for (int i = 0; i < kNodes; ++i) {
    for (int* p : {&c->nats_[i].client_port, &c->nats_[i].route_port, &c->nats_[i].http_port, &c->nodes_[i].grpc_port,
                   &c->nodes_[i].xapi_port, &c->nodes_[i].metrics_port}) {
      ports.push_back(p);
    }
  }
  if (absl::Status s = PickPorts(ports); !s.ok()) return s;
  if (absl::Status s = c->StartNats(); !s.ok()) return s;
  for (int n = 1; n <= kNodes; ++n) {
    Node& node = c->node(n);
    node.data_dir = absl::StrCat(dir, "/records-", n);
    node.documents_dir = absl::StrCat(dir, "/xapi-documents-", n);
    node.log = absl::StrCat(dir, "/records-", n, ".log");
    if (absl::Status s = c->StartNode(n); !s.ok()) return s;
  }
  if (absl::Status s = c->StartHaproxy(); !s.ok()) return s;
  absl::StatusOr<int> leader = c->WaitForLeader(std::chrono::seconds(60));
  if (!leader.ok()) return leader.status();
  return c;
}

Cluster::~Cluster() {
  if (haproxy_) haproxy_.reset();
  for (Node& n : nodes_) n.process.reset();
  for (Nats& n : nats_) n.process.reset();
}

absl::Status Cluster::StartNats() {
  const std::string program = FindProgram("NATS_SERVER", {"/usr/sbin/nats-server", "/usr/bin/nats-server"});
  std::vector<std::string> routes;
  for (const Nats& n : nats_) routes.push_back(absl::StrCat("nats-route://127.0.0.1:", n.route_port));
  for (int i = 0; i < kNodes; ++i) {
    const std::string conf = absl::StrCat(dir_, "/nats-", i + 1, ".conf");
    // As ops/cluster.sh writes it (authentication aside: the drills run an open cluster).
    const std::string text = absl::StrCat(
        "server_name: nats-", i + 1, "\nlisten: 127.0.0.1:", nats_[i].client_port,
        "\nhttp: 127.0.0.1:", nats_[i].http_port, "\nmax_payload: 8MB\njetstream {\n  store_dir: \"", dir_, "/nats-",
        i + 1,
        "\"\n  max_memory_store: 256MB\n  max_file_store: 8GB\n}\ncluster {\n  name: lifelong\n  listen: 127.0.0.1:",
        nats_[i].route_port, "\n  routes: [", absl::StrJoin(routes, ", "), "]\n}\n");
    if (absl::Status s = WriteFile(conf, text); !s.ok()) return s;
    absl::StatusOr<testing::Subprocess> p =
        testing::Subprocess::Start({program, "-c", conf}, absl::StrCat(dir_, "/nats-", i + 1, ".log"));
    if (!p.ok()) return p.status();
    nats_[i].process = std::move(*p);
  }
  // JetStream is usable once every member reports healthy (meta leader elected).
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  for (int i = 0; i < kNodes; ++i) {
    while (true) {
      absl::StatusOr<std::pair<int, std::string>> r = HttpGet(nats_[i].http_port, "/healthz");
      if (r.ok() && r->first == 200) break;
      if (!nats_[i].process->Running()) {
        return absl::UnavailableError(
            absl::StrCat("nats-", i + 1, " exited: ", Tail(absl::StrCat(dir_, "/nats-", i + 1, ".log"))));
      }
      if (Clock::now() > deadline) return absl::DeadlineExceededError(absl::StrCat("nats-", i + 1, " not healthy"));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return absl::OkStatus();
}

std::string Cluster::NatsUrls() const {
  std::vector<std::string> urls;
  for (const Nats& n : nats_) urls.push_back(absl::StrCat("nats://127.0.0.1:", n.client_port));
  return absl::StrJoin(urls, ",");
}

absl::Status Cluster::StartNode(int n) {
  Node& nd = node(n);
  if (nd.process && nd.process->Running()) return absl::FailedPreconditionError(absl::StrCat("records-", n, " runs"));
  const std::string port_file = absl::StrCat(dir_, "/records-", n, ".port");
  std::filesystem::remove(port_file);
  std::vector<std::string> argv = {
      testing::RunfilePath("services/records/records_server"),
      "--host=127.0.0.1",
      absl::StrCat("--port=", nd.grpc_port),
      absl::StrCat("--port_file=", port_file),
      absl::StrCat("--metrics_port=", nd.metrics_port),
      absl::StrCat("--xapi_port=", nd.xapi_port),
      "--data_dir=" + nd.data_dir,
      "--xapi_documents_dir=" + nd.documents_dir,
      "--xapi_credentials=" + testing::RunfilePath("ops/xapi/dev-credentials.txt"),
      "--block_cache_mb=64",
      "--warm_cache=false",
      "--replication_nats=" + NatsUrls(),
      absl::StrCat("--node_id=records-", n),
      "--replicas=3",
      absl::StrCat("--lease_ttl_ms=", options_.lease_ttl_ms),
  };
  for (const std::string& f : options_.extra_node_flags) argv.push_back(f);
  absl::StatusOr<testing::Subprocess> p = testing::Subprocess::Start(argv, nd.log);
  if (!p.ok()) return p.status();
  nd.process = std::move(*p);
  // Up to 60 s, but a node that exits (a port taken, say) fails at once.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!testing::WaitForPortFile(port_file, std::chrono::milliseconds(200)).ok()) {
    if (!nd.process->Running() || Clock::now() > deadline) {
      return absl::UnavailableError(absl::StrCat("records-", n, " did not start: ", NodeLogTail(n)));
    }
  }
  return absl::OkStatus();
}

bool Cluster::NodeRunning(int n) { return node(n).process && node(n).process->Running(); }

absl::Status Cluster::KillNode(int n) {
  Node& nd = node(n);
  if (!nd.process) return absl::FailedPreconditionError(absl::StrCat("records-", n, " is not running"));
  absl::StatusOr<int> status = nd.process->Stop(SIGKILL);
  nd.process.reset();
  return status.ok() ? absl::OkStatus() : status.status();
}

absl::Status Cluster::StopNode(int n) {
  Node& nd = node(n);
  if (!nd.process) return absl::FailedPreconditionError(absl::StrCat("records-", n, " is not running"));
  absl::StatusOr<int> status = nd.process->Stop(SIGTERM, std::chrono::seconds(30));
  nd.process.reset();
  if (!status.ok()) return status.status();
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return absl::InternalError(absl::StrCat("records-", n, " exited with status ", *status, ": ", NodeLogTail(n)));
  }
  return absl::OkStatus();
}

absl::Status Cluster::PauseNode(int n) {
  Node& nd = node(n);
  if (!nd.process) return absl::FailedPreconditionError(absl::StrCat("records-", n, " is not running"));
  if (::kill(nd.process->pid(), SIGSTOP) != 0) return absl::InternalError(absl::StrCat("SIGSTOP records-", n));
  return absl::OkStatus();
}

absl::Status Cluster::ResumeNode(int n) {
  Node& nd = node(n);
  if (!nd.process) return absl::FailedPreconditionError(absl::StrCat("records-", n, " is not running"));
  if (::kill(nd.process->pid(), SIGCONT) != 0) return absl::InternalError(absl::StrCat("SIGCONT records-", n));
  return absl::OkStatus();
}

absl::Status Cluster::StartHaproxy() {
  const std::string program = FindProgram("HAPROXY", {"/usr/sbin/haproxy", "/usr/bin/haproxy"});
  const std::string cfg_path = dir_ + "/haproxy.cfg";
  const int inter = options_.check_interval_ms;
  // The same settings as ops/cluster.sh's write_haproxy_cfg, less its per-address
  // connection cap (every client of the drills and benchmarks is on 127.0.0.1).
  std::string cfg = absl::StrCat(
      "global\n    maxconn 4000\n\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 1h\n"
      "    timeout server 1h\n    timeout tunnel 1h\n    timeout check 1s\n"
      "    default-server inter ",
      inter, "ms fastinter ", inter, "ms downinter ", inter,
      "ms fall 2 rise 1 on-marked-down shutdown-sessions\n\n"
      "frontend records_grpc\n    bind 127.0.0.1:",
      haproxy_grpc_port_,
      "\n    default_backend records_grpc\n\n"
      "frontend records_xapi\n    bind 127.0.0.1:",
      haproxy_xapi_port_,
      "\n    default_backend records_xapi\n\n"
      "frontend stats\n    mode http\n    bind 127.0.0.1:",
      haproxy_stats_port_, "\n    stats enable\n    stats uri /\n\n");
  for (const char* backend : {"grpc", "xapi"}) {
    absl::StrAppend(
        &cfg, "backend records_", backend,
        "\n    option httpchk\n    http-check send meth GET uri /leader\n    http-check expect status 200\n");
    for (int n = 1; n <= kNodes; ++n) {
      const int port = std::string(backend) == "grpc" ? node(n).grpc_port : node(n).xapi_port;
      absl::StrAppend(&cfg, "    server records-", n, " 127.0.0.1:", port, " check port ", node(n).metrics_port, "\n");
    }
    absl::StrAppend(&cfg, "\n");
  }
  if (absl::Status s = WriteFile(cfg_path, cfg); !s.ok()) return s;
  absl::StatusOr<testing::Subprocess> p =
      testing::Subprocess::Start({program, "-f", cfg_path, "-db"}, dir_ + "/haproxy.log");
  if (!p.ok()) return p.status();
  haproxy_ = std::move(*p);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!HttpGet(haproxy_stats_port_, "/;csv").ok()) {
    if (!haproxy_->Running()) return absl::UnavailableError("haproxy exited: " + Tail(dir_ + "/haproxy.log"));
    if (Clock::now() > deadline) return absl::DeadlineExceededError("haproxy: no stats page");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::OkStatus();
}

absl::StatusOr<ReplicationInfo> Cluster::Replication(int n) {
  absl::StatusOr<std::pair<int, std::string>> r = HttpGet(node(n).metrics_port, "/replication");
  if (!r.ok()) return r.status();
  if (r->first != 200) return absl::UnavailableError(absl::StrCat("GET /replication: ", r->first, " ", r->second));
  nlohmann::json j = nlohmann::json::parse(r->second, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::InternalError("GET /replication: not a JSON object: " + r->second);
  ReplicationInfo info;
  info.node = j.value("node", "");
  info.role = j.value("role", "");
  info.leader = j.value("leader", "");
  info.applied_seq = j.value("applied_seq", uint64_t{0});
  info.log_last_seq = j.value("log_last_seq", uint64_t{0});
  info.lag = j.value("lag", int64_t{0});
  info.trimmed_below = j.value("trimmed_below", uint64_t{0});
  info.applier_error = j.value("applier_error", std::string());
  return info;
}

std::optional<int> Cluster::Leader() {
  for (int n = 1; n <= kNodes; ++n) {
    if (!NodeRunning(n)) continue;
    absl::StatusOr<std::pair<int, std::string>> r = HttpGet(node(n).metrics_port, "/leader");
    if (r.ok() && r->first == 200) return n;
  }
  return std::nullopt;
}

std::optional<int> Cluster::RoutedNode() {
  absl::StatusOr<std::pair<int, std::string>> stats = HttpGet(haproxy_stats_port_, "/;csv");
  if (!stats.ok()) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(stats->second, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, ',');
    if (f.size() > 17 && f[0] == "records_grpc" && f[17] == "UP" && absl::StartsWith(f[1], "records-")) {
      return std::atoi(f[1].c_str() + 8);
    }
  }
  return std::nullopt;
}

absl::StatusOr<int> Cluster::WaitForLeader(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (std::optional<int> leader = Leader()) {
      // HAProxy routes to it: its server line in records_grpc is UP.
      absl::StatusOr<std::pair<int, std::string>> stats = HttpGet(haproxy_stats_port_, "/;csv");
      if (stats.ok()) {
        for (absl::string_view line : absl::StrSplit(stats->second, '\n')) {
          std::vector<std::string> f = absl::StrSplit(line, ',');
          if (f.size() > 17 && f[0] == "records_grpc" && f[1] == absl::StrCat("records-", *leader) && f[17] == "UP") {
            return *leader;
          }
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string logs;
  for (int n = 1; n <= kNodes; ++n) absl::StrAppend(&logs, "\n--- records-", n, ":\n", NodeLogTail(n));
  return absl::DeadlineExceededError("no leader behind HAProxy" + logs);
}

absl::StatusOr<uint64_t> Cluster::WaitConverged(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string last;
  while (Clock::now() < deadline) {
    std::set<uint64_t> applied;
    bool ok = true;
    last.clear();
    for (int n = 1; n <= kNodes; ++n) {
      if (!NodeRunning(n)) continue;
      absl::StatusOr<ReplicationInfo> info = Replication(n);
      if (!info.ok()) {
        ok = false;
        absl::StrAppend(&last, " records-", n, ": ", info.status().ToString());
        continue;
      }
      absl::StrAppend(&last, " records-", n, ": ", info->role, " applied ", info->applied_seq, " log ",
                      info->log_last_seq, " lag ", info->lag, ";");
      if (info->lag != 0 || info->applied_seq != info->log_last_seq) ok = false;
      applied.insert(info->applied_seq);
    }
    if (ok && applied.size() == 1) return *applied.begin();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError("replicas did not converge:" + last);
}

std::shared_ptr<grpc::Channel> Cluster::Channel() const {
  grpc::ChannelArguments args;
  // Reconnect within a second after the proxy closes a session (failover):
  // gRPC's default backoff grows to minutes. The connect timeout stays at its
  // default (GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20 s): set low, it cuts off
  // handshakes through HAProxy that would have succeeded.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(Address(), grpc::InsecureChannelCredentials(), args);
}

std::shared_ptr<grpc::Channel> Cluster::NodeChannel(int n) const {
  return grpc::CreateChannel(NodeAddress(n), grpc::InsecureChannelCredentials());
}

std::string Cluster::NodeLogTail(int n) const { return Tail(node(n).log); }

// ---------------------------------------------------------------- LoadWriters

std::string WriterLearner(int64_t n, int learners) { return absl::StrCat("w", n % learners); }

LoadWriters::LoadWriters(std::shared_ptr<grpc::Channel> channel, Options options)
    : channel_(std::move(channel)), options_(options) {}

LoadWriters::~LoadWriters() { Stop(); }

void LoadWriters::Start() {
  stop_ = false;
  for (int w = 0; w < options_.writers; ++w) threads_.emplace_back([this, w] { Run(w); });
}

void LoadWriters::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void LoadWriters::Run(int writer) {
  auto stub = v1::LearningRecordService::NewStub(channel_);
  for (int64_t i = 0; !stop_.load(); ++i) {
    // Statement numbers: id_base + writer * 10^7 + 4i (+1, +2 in a batch).
    const int64_t n = options_.id_base + int64_t{writer} * 10000000 + 4 * i;
    std::vector<std::string> ids = {records::testing::TestUuid(static_cast<int>(n))};
    const bool batch = i % 5 == 4;
    if (batch) {
      ids.push_back(records::testing::TestUuid(static_cast<int>(n + 1)));
      ids.push_back(records::testing::TestUuid(static_cast<int>(n + 2)));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      attempted_.insert(ids.begin(), ids.end());
    }
    std::vector<std::string> json;
    for (size_t k = 0; k < ids.size(); ++k) {
      json.push_back(records::testing::MakeStatement({.id = ids[k],
                                                      .learner = WriterLearner(n + k, options_.learners),
                                                      .course = absl::StrCat("c", (n + k) % 7)}));
    }
    const auto first_attempt = Clock::now();
    int attempts = 0;
    grpc::Status status;
    Clock::time_point attempt_start;
    while (true) {
      ++attempts;
      attempt_start = Clock::now();
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + options_.call_deadline);
      // Wait for a connection instead of failing fast while the channel
      // reconnects: a call that waits drives the channel's I/O, so the new
      // connection is used at once. Calls that fail fast leave that to gRPC's
      // backup poller, which runs every 5 s (GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS):
      // writes then resumed on that 5 s grid, up to 9.8 s after a kill.
      ctx.set_wait_for_ready(true);
      if (batch) {
        v1::RecordStatementsRequest req;
        for (const std::string& j : json) req.add_statement_json(j);
        v1::RecordStatementsResponse resp;
        status = stub->RecordStatements(&ctx, req, &resp);
      } else {
        v1::RecordStatementRequest req;
        req.set_statement_json(json[0]);
        v1::Statement resp;
        status = stub->RecordStatement(&ctx, req, &resp);
      }
      const bool cancelled = status.error_code() == grpc::StatusCode::CANCELLED && options_.retry_cancelled;
      if (cancelled) ++cancelled_retries_;
      const bool retryable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                             status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED || cancelled;
      if (!retryable || Clock::now() - first_attempt > options_.give_up_after) break;
      // A stopped test still finishes the write in hand (it may have landed).
      std::this_thread::sleep_for(options_.retry_pause);
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (status.ok()) {
      acks_.push_back({ids, attempt_start, Clock::now(), attempts});
      acked_statements_ += static_cast<int64_t>(ids.size());
    } else {
      failures_.push_back({ids, absl::StrCat(status.error_code(), ": ", status.error_message())});
    }
  }
}

std::vector<Ack> LoadWriters::Acks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acks_;
}

int64_t LoadWriters::AckedStatements() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_statements_;
}

std::vector<std::pair<std::vector<std::string>, std::string>> LoadWriters::Failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

std::set<std::string> LoadWriters::Attempted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return attempted_;
}

bool LoadWriters::WaitForMoreAcks(int64_t n, std::chrono::milliseconds timeout) const {
  const int64_t target = AckedStatements() + n;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (AckedStatements() >= target) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

absl::StatusOr<std::vector<std::string>> ListLearnerIds(v1::LearningRecordService::Stub* stub,
                                                        const std::string& learner, bool allow_stale) {
  std::vector<std::string> ids;
  v1::ListStatementsRequest req;
  req.set_learner(learner);
  req.set_page_size(1000);
  for (;;) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (allow_stale) ctx.AddMetadata("x-lifelong-stale-reads", "allow");
    v1::ListStatementsResponse resp;
    grpc::Status s = stub->ListStatements(&ctx, req, &resp);
    if (!s.ok()) return absl::UnavailableError(absl::StrCat("ListStatements(", learner, "): ", s.error_message()));
    for (const auto& st : resp.statements()) ids.push_back(st.id());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return ids;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t i = static_cast<size_t>(p / 100.0 * (values.size() - 1) + 0.5);
  return values[std::min(i, values.size() - 1)];
}

}  // namespace lifelong::cluster_testing
