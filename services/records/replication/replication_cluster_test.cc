// The replicated record service as real processes: a 3-member NATS
// JetStream cluster (nats-server) and records_server nodes on it, each with
// its own RocksDB under TEST_TMPDIR, talking gRPC on real ports.
//
//  - writes on the leader are on every follower; a follower refuses writes
//    with UNAVAILABLE naming the leader;
//  - SIGKILL of the leader: another node takes the lease, and every
//    acknowledged statement is on it and on the other follower, identical;
//  - an erased learner's statements are gone from every node and their
//    messages from the stream;
//  - a node started on an empty data directory rebuilds the same store.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/records/replication/log_op.h"
#include "services/records/test_statements.h"
#include "tests/testing/alert_metrics.h"
#include "tests/testing/nats_cluster.h"
#include "tests/testing/service_process.h"
#include "tests/testing/subprocess.h"

namespace lifelong::records::replication {
namespace {

using lifelong::testing::HttpGet;
using lifelong::testing::HttpRequest;
using lifelong::testing::NatsServerBinary;

using records::testing::MakeStatement;
using records::testing::TestUuid;
using Stub = v1::LearningRecordService::Stub;

constexpr int kLeaseTtlMs = 1500;

constexpr char kXapiUser[] = "replication-test:Zq8-not-a-real-secret";

std::pair<int, std::string> Xapi(int port, const std::string& method, const std::string& path,
                                 const std::string& body = "") {
  return HttpRequest(port, method, "/xapi" + path,
                     "Authorization: Basic " + absl::Base64Escape(kXapiUser) +
                         "\r\nX-Experience-API-Version: 1.0.3\r\nContent-Type: application/json\r\n",
                     body);
}

struct Node;
// A node that does not apply the log refuses client reads of learner data
// (its store may hold records erased since its position), over gRPC and
// xAPI, at once and saying why; statement `id` is one it holds.
void ExpectReadsRefused(const Node& n, const std::string& id);

struct Node {
  std::string id;
  std::string data_dir;
  int metrics_port = 0;
  int xapi_port = 0;
  std::optional<lifelong::testing::Subprocess> process;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<Stub> stub;

  nlohmann::json Replication() const { return lifelong::testing::ReplicationStatus(metrics_port); }
  uint64_t Applied() const { return lifelong::testing::AppliedSeq(metrics_port); }
};

void StartNode(Node* n, const std::string& dir, const std::string& nats_urls) {
  std::string port_file = absl::StrCat(dir, "/", n->id, ".port");
  unlink(port_file.c_str());
  const std::string credentials = dir + "/xapi-credentials.txt";
  {
    std::ofstream out(credentials);
    out << kXapiUser << "\n";
  }
  const std::string log = absl::StrCat(dir, "/", n->id, ".log");
  const size_t log_from = lifelong::testing::FileSize(log);
  auto p = lifelong::testing::Subprocess::Start(
      {lifelong::testing::RunfilePath("services/records/records_server"), "--port=0", "--port_file=" + port_file,
       "--data_dir=" + n->data_dir, "--xapi_port=0", "--xapi_credentials=" + credentials,
       "--xapi_documents_dir=" + n->data_dir + "-documents", "--metrics_port=0", "--warm_cache=false",
       "--block_cache_mb=16", "--replication_nats=" + nats_urls, "--node_id=" + n->id,
       absl::StrCat("--lease_ttl_ms=", kLeaseTtlMs), "--replicas=3"},
      log);
  ASSERT_TRUE(p.ok()) << p.status();
  n->process = std::move(*p);
  absl::StatusOr<int> port = lifelong::testing::WaitForPortFile(port_file, std::chrono::seconds(90));
  ASSERT_TRUE(port.ok()) << port.status();
  // The server binds its metrics and xAPI ports itself and logs them.
  absl::StatusOr<int> metrics_port = lifelong::testing::LoggedPort(log, log_from, "serving", "metrics_port");
  ASSERT_TRUE(metrics_port.ok()) << metrics_port.status();
  n->metrics_port = *metrics_port;
  absl::StatusOr<int> xapi_port = lifelong::testing::LoggedPort(log, log_from, "xapi_serving", "port");
  ASSERT_TRUE(xapi_port.ok()) << xapi_port.status();
  n->xapi_port = *xapi_port;
  n->channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port), grpc::InsecureChannelCredentials());
  n->stub = v1::LearningRecordService::NewStub(n->channel);
}

// The node that reports role "leader" (caught up), waiting up to `timeout`.
Node* WaitForLeader(std::vector<Node*> nodes, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    for (Node* n : nodes) {
      if (HttpGet(n->metrics_port, "/leader").first == 200) return n;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return nullptr;
}

// The last `lines` lines of the node's log (for a failure's message).
std::string LogTail(const Node& n, size_t lines = 40) {
  std::ifstream in(n.data_dir + ".log");
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(std::move(line));
    if (tail.size() > lines) tail.pop_front();
  }
  return absl::StrJoin(tail, "\n");
}

::testing::AssertionResult WaitForApplied(const Node& n, uint64_t seq, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (n.Applied() >= seq) return ::testing::AssertionSuccess();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return ::testing::AssertionFailure() << n.id << " has not applied " << seq << " after " << timeout
                                       << "; GET /replication: " << n.Replication().dump() << "\nits log ends:\n"
                                       << LogTail(n);
}

grpc::Status Record(Stub* stub, const std::string& json) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::RecordStatementRequest req;
  req.set_statement_json(json);
  v1::Statement resp;
  return stub->RecordStatement(&ctx, req, &resp);
}

// Every stored statement: id -> stored JSON (ExportStatements, FULL).
// `allow_stale`: as `lifelong export --allow_stale` (an operator's recovery
// read of a node that does not apply the log).
std::map<std::string, std::string> Export(Stub* stub, bool allow_stale = false) {
  std::map<std::string, std::string> out;
  grpc::ClientContext ctx;
  if (allow_stale) ctx.AddMetadata("x-lifelong-stale-reads", "allow");  // the wire name is the contract
  v1::ExportStatementsRequest req;
  auto reader = stub->ExportStatements(&ctx, req);
  v1::Statement st;
  while (reader->Read(&st)) out[st.id()] = st.json();
  grpc::Status s = reader->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  return out;
}

void ExpectReadsRefused(const Node& n, const std::string& id) {
  const absl::Time asked = absl::Now();
  grpc::ClientContext ctx;
  v1::GetStatementRequest get;
  get.set_id(id);
  v1::Statement st;
  grpc::Status s = n.stub->GetStatement(&ctx, get, &st);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << n.id << ": " << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), n.id + " does not apply the replicated log")) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "read through the client address")) << s.error_message();
  EXPECT_LT(absl::Now() - asked, absl::Seconds(5)) << n.id;
  grpc::ClientContext list_ctx;
  v1::ListStatementsRequest list;
  list.set_learner("u1");
  v1::ListStatementsResponse page;
  EXPECT_EQ(n.stub->ListStatements(&list_ctx, list, &page).error_code(), grpc::StatusCode::UNAVAILABLE) << n.id;
  auto [status, body] = Xapi(n.xapi_port, "GET", "/statements?statementId=" + id);
  EXPECT_EQ(status, 503) << n.id << ": " << body;
}

// After an erasure was answered: `n` never serves its statement `id` or
// xAPI document `state_path` again. A follower may refuse reads for a while
// (UNAVAILABLE / 503: it has not applied the erasure, or what follows it, as
// on a loaded machine); once it serves them they are NOT_FOUND / 404.
void ExpectErasedOn(const Node& n, const std::string& id, const std::string& state_path) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  grpc::Status s;
  do {
    grpc::ClientContext ctx;
    v1::GetStatementRequest get;
    get.set_id(id);
    v1::Statement st;
    s = n.stub->GetStatement(&ctx, get, &st);
    ASSERT_NE(s.error_code(), grpc::StatusCode::OK) << n.id << " served an erased statement: " << st.json();
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << n.id << ": " << s.error_message();
  std::pair<int, std::string> got;
  do {
    got = Xapi(n.xapi_port, "GET", state_path);
    ASSERT_NE(got.first, 200) << n.id << " served an erased document: " << got.second;
    if (got.first != 503) break;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  EXPECT_EQ(got.first, 404) << n.id << ": " << got.second;
}

// Every message of the stream, decoded (js_GetMsg over 1..last sequence).
std::vector<LogOp> AllMessages(const std::string& nats_url) {
  std::vector<LogOp> out;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  jsStreamInfo* si = nullptr;
  if (natsConnection_ConnectTo(&nc, nats_url.c_str()) == NATS_OK &&
      natsConnection_JetStream(&js, nc, nullptr) == NATS_OK &&
      js_GetStreamInfo(&si, js, "LIFELONG_RECORDS", nullptr, nullptr) == NATS_OK) {
    for (uint64_t seq = si->State.FirstSeq; seq <= si->State.LastSeq; ++seq) {
      natsMsg* m = nullptr;
      if (js_GetMsg(&m, js, "LIFELONG_RECORDS", seq, nullptr, nullptr) != NATS_OK) continue;
      absl::StatusOr<LogOp> op =
          DecodeLogOp(absl::string_view(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m))));
      natsMsg_Destroy(m);
      EXPECT_TRUE(op.ok()) << seq << ": " << op.status();
      if (op.ok()) out.push_back(std::move(*op));
    }
    jsStreamInfo_Destroy(si);
  } else {
    ADD_FAILURE() << "cannot read the stream at " << nats_url;
  }
  if (js != nullptr) jsCtx_Destroy(js);
  if (nc != nullptr) natsConnection_Destroy(nc);
  return out;
}

// Log messages whose statements (or restored records) mention `needle`.
int MessagesMentioning(const std::string& nats_url, const std::string& needle) {
  int n = 0;
  for (const LogOp& op : AllMessages(nats_url)) {
    bool hit = false;
    for (const ParsedStatement& p : op.statements) hit |= absl::StrContains(p.text, needle);
    for (const auto& [id, record] : op.restored) hit |= absl::StrContains(record, needle);
    n += hit;
  }
  return n;
}

// Messages the stream holds on `subject`.
uint64_t StreamMessages(const std::string& nats_url, const std::string& subject) {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  jsStreamInfo* si = nullptr;
  uint64_t n = UINT64_MAX;
  if (natsConnection_ConnectTo(&nc, nats_url.c_str()) == NATS_OK &&
      natsConnection_JetStream(&js, nc, nullptr) == NATS_OK) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Stream.Info.SubjectsFilter = subject.c_str();
    if (js_GetStreamInfo(&si, js, "LIFELONG_RECORDS", &jo, nullptr) == NATS_OK) {
      n = 0;
      if (si->State.Subjects != nullptr) {
        for (int i = 0; i < si->State.Subjects->Count; ++i) n += si->State.Subjects->List[i].Msgs;
      }
      jsStreamInfo_Destroy(si);
    }
  }
  if (js != nullptr) jsCtx_Destroy(js);
  if (nc != nullptr) natsConnection_Destroy(nc);
  return n;
}

class ReplicationCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    if (NatsServerBinary().empty()) GTEST_SKIP() << "nats-server is not installed (ops/bootstrap.sh installs it)";
    dir_ = lifelong::testing::FreshTempDir("replication");
    nats_ = lifelong::testing::StartNatsCluster(dir_);
    for (int i = 1; i <= 3; ++i) {
      auto n = std::make_unique<Node>();
      n->id = absl::StrCat("records-", i);
      n->data_dir = absl::StrCat(dir_, "/", n->id);
      nodes_.push_back(std::move(n));
    }
    for (auto& n : nodes_) {
      StartNode(n.get(), dir_, nats_.urls);
      if (HasFatalFailure()) return;
    }
  }

  std::vector<Node*> Live() {
    std::vector<Node*> out;
    for (auto& n : nodes_) {
      if (n->process && n->process->Running()) out.push_back(n.get());
    }
    return out;
  }

  std::string dir_;
  lifelong::testing::NatsCluster nats_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(ReplicationCluster, LeaderWritesReachFollowersAndSurviveLeaderKill) {
  Node* leader = WaitForLeader(Live(), absl::Seconds(60));
  ASSERT_NE(leader, nullptr);

  // Writes on the leader, single and batched, are on every follower.
  std::set<std::string> acked;
  for (int i = 0; i < 20; ++i) {
    std::string id = TestUuid(i);
    grpc::Status s = Record(leader->stub.get(), MakeStatement({.id = id, .learner = absl::StrCat("u", i % 4)}));
    ASSERT_TRUE(s.ok()) << s.error_message();
    acked.insert(id);
  }
  {
    grpc::ClientContext ctx;
    v1::RecordStatementsRequest batch;
    for (int i = 100; i < 105; ++i) {
      batch.add_statement_json(MakeStatement({.id = TestUuid(i), .learner = "u1"}));
      acked.insert(TestUuid(i));
    }
    v1::RecordStatementsResponse resp;
    grpc::Status s = leader->stub->RecordStatements(&ctx, batch, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // Conflicting content under an acknowledged id: the apply result comes back.
  grpc::Status conflict = Record(leader->stub.get(), MakeStatement({.id = TestUuid(0), .learner = "u9"}));
  EXPECT_EQ(conflict.error_code(), grpc::StatusCode::ALREADY_EXISTS) << conflict.error_message();

  // A batch larger than a log message may be (nats-server max_payload,
  // 1 MiB by default) is refused as too large, naming the limit.
  {
    grpc::ClientContext ctx;
    v1::RecordStatementsRequest big;
    for (int i = 300; i < 303; ++i) {
      big.add_statement_json(MakeStatement({.id = TestUuid(i), .learner = "u1", .title = std::string(450000, 'x')}));
    }
    v1::RecordStatementsResponse resp;
    grpc::Status s = leader->stub->RecordStatements(&ctx, big, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), "max_payload")) << s.error_message();
  }
  uint64_t applied = leader->Applied();
  ASSERT_GT(applied, 0u);
  std::map<std::string, std::string> on_leader = Export(leader->stub.get());
  EXPECT_EQ(on_leader.size(), acked.size());
  for (Node* n : Live()) {
    if (n == leader) continue;
    ASSERT_TRUE(WaitForApplied(*n, applied, absl::Seconds(30))) << n->id;
    // The same statements, byte for byte (stored times and authority
    // decided by the proposer).
    EXPECT_EQ(Export(n->stub.get()), on_leader) << n->id;
    // A follower refuses writes, naming the leader once it has read the
    // lease (every TTL/4; later on a loaded machine).
    const absl::Time knows_by = absl::Now() + absl::Seconds(10);
    while (n->Replication().value("leader", "") != leader->id && absl::Now() < knows_by) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    grpc::Status refused = Record(n->stub.get(), MakeStatement({.id = TestUuid(500), .learner = "u1"}));
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_TRUE(absl::StrContains(refused.error_message(), "not the leader; leader is " + leader->id))
        << refused.error_message();
    EXPECT_EQ(HttpGet(n->metrics_port, "/leader").first, 503);
    nlohmann::json r = n->Replication();
    EXPECT_EQ(r["role"], "follower");
    EXPECT_EQ(r["leader"], leader->id);
  }
  // xAPI documents are replicated too: written on the leader, read on every
  // follower; a follower refuses document writes with 503.
  const std::string state =
      absl::StrCat("/activities/state?activityId=", "https%3A%2F%2Fcourses.dongcheng.gov.cn%2Fc%2F1",
                   "&agent=%7B%22account%22%3A%7B%22homePage%22%3A%22https%3A%2F%2Fid.dongcheng.gov.cn%22%2C%22name%22%"
                   "3A%22u1%22%7D%7D",
                   "&stateId=bookmark");
  auto [put_status, put_body] = Xapi(leader->xapi_port, "PUT", state, R"({"page":12,"note":"第三章"})");
  ASSERT_EQ(put_status, 204) << put_body;
  applied = leader->Applied();
  for (Node* n : Live()) {
    if (n == leader) continue;
    ASSERT_TRUE(WaitForApplied(*n, applied, absl::Seconds(30))) << n->id;
    auto [get_status, got] = Xapi(n->xapi_port, "GET", state);
    EXPECT_EQ(get_status, 200) << n->id << ": " << got;
    EXPECT_EQ(got, R"({"page":12,"note":"第三章"})") << n->id;
    auto [refused_status, refused_body] = Xapi(n->xapi_port, "PUT", state, R"({"page":1})");
    EXPECT_EQ(refused_status, 503) << refused_body;
    EXPECT_TRUE(absl::StrContains(refused_body, "not the leader")) << refused_body;
  }
  // A conditional write that fails on the leader fails the same way (the
  // condition is checked where the log is applied).
  auto [cond_status, cond_body] =
      HttpRequest(leader->xapi_port, "PUT", "/xapi" + state,
                  "Authorization: Basic " + absl::Base64Escape(kXapiUser) +
                      "\r\nX-Experience-API-Version: 1.0.3\r\nContent-Type: application/json\r\nIf-Match: \"0000\"\r\n",
                  R"({"page":13})");
  EXPECT_EQ(cond_status, 412) << cond_body;

  auto [metrics_status, metrics] = HttpGet(leader->metrics_port, "/metrics");
  EXPECT_EQ(metrics_status, 200);
  EXPECT_TRUE(absl::StrContains(metrics, "lifelong_replication_leader 1")) << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, "lifelong_replication_applied_seq"));
  EXPECT_TRUE(absl::StrContains(metrics, "lifelong_replication_lag"));
  EXPECT_TRUE(absl::StrContains(metrics, "lifelong_replication_leader_changes_total"));
  // The replication alerts (ops/prometheus/alerts.yml) use only metrics a
  // node exports.
  absl::StatusOr<std::set<std::string>> alert_names =
      lifelong::testing::AlertMetricNames(lifelong::testing::RunfilePath(lifelong::testing::kAlertRulesPath));
  ASSERT_TRUE(alert_names.ok()) << alert_names.status();
  EXPECT_THAT(lifelong::testing::UndeclaredMetrics(*alert_names, {"lifelong_replication_"}, {metrics}),
              ::testing::IsEmpty());

  // Writers under load; the leader is killed mid-stream.
  std::mutex mu;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        std::string id = TestUuid(10000 + w * 100000 + i);
        if (Record(leader->stub.get(), MakeStatement({.id = id, .learner = absl::StrCat("u", i % 5)})).ok()) {
          std::lock_guard<std::mutex> lock(mu);
          acked.insert(id);
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(700));
  absl::Time killed = absl::Now();
  ASSERT_TRUE(leader->process->Stop(SIGKILL).ok());
  stop = true;
  for (auto& t : writers) t.join();
  leader->process.reset();

  Node* next = WaitForLeader(Live(), absl::Seconds(60));
  ASSERT_NE(next, nullptr);
  EXPECT_NE(next, leader);
  std::cout << "new leader " << next->id << " after " << absl::FormatDuration(absl::Now() - killed) << " (lease TTL "
            << kLeaseTtlMs << " ms)\n";
  // Writes resume on the new leader.
  grpc::Status resumed = Record(next->stub.get(), MakeStatement({.id = TestUuid(900000), .learner = "u1"}));
  ASSERT_TRUE(resumed.ok()) << resumed.error_message();
  acked.insert(TestUuid(900000));

  // Every acknowledged statement is on the new leader and on the follower,
  // and both hold the same store.
  std::map<std::string, std::string> after = Export(next->stub.get());
  for (const std::string& id : acked) EXPECT_EQ(after.count(id), 1u) << "acknowledged " << id << " lost";
  for (Node* n : Live()) {
    if (n == next) continue;
    ASSERT_TRUE(WaitForApplied(*n, next->Applied(), absl::Seconds(30)));
    EXPECT_EQ(Export(n->stub.get()), after) << n->id;
  }

  // The killed node comes back on its data directory and catches up.
  StartNode(leader, dir_, nats_.urls);
  ASSERT_TRUE(WaitForApplied(*leader, next->Applied(), absl::Seconds(60)));
  EXPECT_EQ(Export(leader->stub.get()), after);

  // A leader stopped with SIGTERM (a rolling restart) hands the lease over
  // as it shuts down; writes go on on the next one.
  absl::Time stopped = absl::Now();
  ASSERT_EQ(kill(next->process->pid(), SIGTERM), 0);
  std::vector<Node*> others;
  for (Node* n : Live()) {
    if (n != next) others.push_back(n);
  }
  Node* third = WaitForLeader(others, absl::Seconds(60));
  ASSERT_NE(third, nullptr);
  std::cout << "leader after SIGTERM: " << third->id << " after " << absl::FormatDuration(absl::Now() - stopped)
            << "\n";
  absl::StatusOr<int> exit = next->process->Wait(std::chrono::seconds(30));
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0);
  next->process.reset();
  grpc::Status again = Record(third->stub.get(), MakeStatement({.id = TestUuid(900001), .learner = "u2"}));
  EXPECT_TRUE(again.ok()) << again.error_message();
}

TEST_F(ReplicationCluster, ErasureLeavesTheLogAndAnEmptyNodeRebuilds) {
  Node* leader = WaitForLeader(Live(), absl::Seconds(60));
  ASSERT_NE(leader, nullptr);
  const std::string erased = "u-erase-7f3";
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Record(leader->stub.get(), MakeStatement({.id = TestUuid(i), .learner = erased})).ok());
    ASSERT_TRUE(Record(leader->stub.get(), MakeStatement({.id = TestUuid(100 + i), .learner = "u-stays"})).ok());
  }
  // Messages on the shared subject: a group statement of both learners,
  // and a batch mixing their statements.
  ASSERT_TRUE(
      Record(leader->stub.get(), MakeStatement({.id = TestUuid(200), .learner = "", .group = {erased, "u-stays"}}))
          .ok());
  {
    grpc::ClientContext ctx;
    v1::RecordStatementsRequest batch;
    batch.add_statement_json(MakeStatement({.id = TestUuid(201), .learner = erased}));
    batch.add_statement_json(MakeStatement({.id = TestUuid(202), .learner = "u-stays"}));
    v1::RecordStatementsResponse resp;
    grpc::Status s = leader->stub->RecordStatements(&ctx, batch, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // A statement of u-stays that names them as its instructor (their
  // mention is scrubbed from the store and from the log).
  {
    std::string named = MakeStatement({.id = TestUuid(203), .learner = "u-stays"});
    named.insert(
        named.size() - 1,
        absl::StrCat(R"(,"context":{"instructor":{"account":{"homePage":"https://id.dongcheng.gov.cn","name":")",
                     erased, R"("}}})"));
    ASSERT_TRUE(Record(leader->stub.get(), named).ok());
  }
  // And an xAPI state document of theirs.
  const std::string state = absl::StrCat(
      "/activities/state?activityId=https%3A%2F%2Fcourses.dongcheng.gov.cn%2Fc%2F1",
      "&agent=%7B%22account%22%3A%7B%22homePage%22%3A%22https%3A%2F%2Fid.dongcheng.gov.cn%22%2C%22name%22%3A%22",
      erased, "%22%7D%7D&stateId=bookmark");
  ASSERT_EQ(Xapi(leader->xapi_port, "PUT", state, R"({"page":3})").first, 204);
  const std::string first_url = nats_.urls.substr(0, nats_.urls.find(','));
  const std::string subject = LearnerSubject(erased, "lifelong.records");
  EXPECT_EQ(StreamMessages(first_url, subject), 11u);  // 10 statements and the document
  EXPECT_EQ(MessagesMentioning(first_url, erased), 13);

  grpc::ClientContext ctx;
  v1::EraseLearnerRequest req;
  req.set_learner(erased);
  v1::EraseLearnerResponse resp;
  grpc::Status s = leader->stub->EraseLearner(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.erased_statements(), 12);  // 11 of theirs alone, and they leave the group statement

  // Once the erasure is answered no node shows the learner (a follower has
  // applied it, or refuses reads until it has), and it is gone from every
  // node's store and from the stream.
  uint64_t applied = leader->Applied();
  for (Node* n : Live()) ExpectErasedOn(*n, TestUuid(3), state);
  for (Node* n : Live()) ASSERT_TRUE(WaitForApplied(*n, applied, absl::Seconds(30)));
  EXPECT_EQ(StreamMessages(first_url, subject), 0u);
  EXPECT_EQ(StreamMessages(first_url, LearnerSubject("u-stays", "lifelong.records")), 10u);
  // No statement in the log names the erased learner any more, shared
  // messages included (what they held for u-stays was published again).
  EXPECT_EQ(MessagesMentioning(first_url, erased), 0);

  // A fourth node on an empty data directory rebuilds the same store from
  // the log.
  std::map<std::string, std::string> expected = Export(leader->stub.get());
  EXPECT_EQ(expected.size(), 13u);  // u-stays' 10, the group statement, the batch's other one, the named one
  for (const int n : {200, 203}) {
    ASSERT_EQ(expected.count(TestUuid(n)), 1u) << n;
    EXPECT_FALSE(absl::StrContains(expected[TestUuid(n)], erased)) << expected[TestUuid(n)];
  }
  auto fresh = std::make_unique<Node>();
  fresh->id = "records-4";
  fresh->data_dir = dir_ + "/records-4";
  StartNode(fresh.get(), dir_, nats_.urls);
  ASSERT_TRUE(WaitForApplied(*fresh, leader->Applied(), absl::Seconds(60)));
  EXPECT_EQ(Export(fresh->stub.get()), expected);
  EXPECT_EQ(fresh->Replication()["role"], "follower");
  nodes_.push_back(std::move(fresh));

  // A message that is not an operation (someone with access to NATS
  // publishing on the log's subjects) is never skipped: every node stops
  // applying at it, says so, and no node accepts writes.
  {
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    ASSERT_EQ(natsConnection_ConnectTo(&nc, first_url.c_str()), NATS_OK);
    ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
    jsPubAck* ack = nullptr;
    ASSERT_EQ(js_Publish(&ack, js, "lifelong.records.shared", "garbage", 7, nullptr, nullptr), NATS_OK);
    const uint64_t poison = ack->Sequence;
    jsPubAck_Destroy(ack);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    for (Node* n : Live()) {
      absl::Time deadline = absl::Now() + absl::Seconds(30);
      nlohmann::json r;
      while (absl::Now() < deadline) {
        r = n->Replication();
        if (r.contains("applier_error")) break;
        absl::SleepFor(absl::Milliseconds(50));
      }
      ASSERT_TRUE(r.contains("applier_error")) << n->id << ": " << r.dump();
      EXPECT_TRUE(absl::StrContains(r["applier_error"].get<std::string>(), absl::StrCat("operation ", poison, ": ")))
          << r.dump();
      EXPECT_LT(r["applied_seq"].get<uint64_t>(), poison);
      EXPECT_NE(r["role"], "leader");
      grpc::Status refused = Record(n->stub.get(), MakeStatement({.id = TestUuid(7000), .learner = "u1"}));
      EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << n->id;
      EXPECT_TRUE(absl::StrContains(refused.error_message(), "replication stopped on " + n->id))
          << refused.error_message();
    }
  }
}

// The stream's last sequence at `nats_url`; nullopt when it does not exist.
std::optional<uint64_t> StreamLastSeq(const std::string& nats_url) {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  jsStreamInfo* si = nullptr;
  std::optional<uint64_t> last;
  EXPECT_EQ(natsConnection_ConnectTo(&nc, nats_url.c_str()), NATS_OK);
  EXPECT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  natsStatus s = js_GetStreamInfo(&si, js, "LIFELONG_RECORDS", nullptr, nullptr);
  if (s == NATS_OK) {
    last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
  } else {
    EXPECT_EQ(s, NATS_NOT_FOUND);
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return last;
}

// The stream deleted (`create` false), or created empty with the nodes'
// configuration and `messages` messages published into it, through the
// NATS API, as an operator or a lost JetStream store would leave it.
void ResetStream(const std::string& nats_url, bool create, int messages) {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_url.c_str()), NATS_OK);
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  if (!create) {
    EXPECT_EQ(js_DeleteStream(js, "LIFELONG_RECORDS", nullptr, nullptr), NATS_OK);
  } else {
    const char* subjects[] = {"lifelong.records.>"};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = "LIFELONG_RECORDS";
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = 3;
    jsStreamInfo* si = nullptr;
    EXPECT_EQ(js_AddStream(&si, js, &cfg, nullptr, nullptr), NATS_OK);
    if (si != nullptr) jsStreamInfo_Destroy(si);
    for (int i = 0; i < messages; ++i) {
      EXPECT_EQ(js_Publish(nullptr, js, "lifelong.records.audit", "x", 1, nullptr, nullptr), NATS_OK);
    }
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

// Waits until `n` reports an applier error, and returns GET /replication.
nlohmann::json WaitForApplierError(const Node& n, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  nlohmann::json r;
  while (absl::Now() < deadline) {
    r = n.Replication();
    if (r.contains("applier_error")) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return r;
}

// A node whose store is beyond the log's end (the stream lost, re-created
// empty, or short of its tail) neither applies nor leads, and says why
// (GET /replication, /metrics, a refused write), naming both positions;
// restarted, it does not re-create the stream.
TEST_F(ReplicationCluster, NoNodeLeadsOrAppliesALogBehindItsStore) {
  Node* leader = WaitForLeader(Live(), absl::Seconds(60));
  ASSERT_NE(leader, nullptr);
  for (int i = 0; i < 6; ++i) {
    grpc::Status s =
        Record(leader->stub.get(), MakeStatement({.id = TestUuid(i), .learner = absl::StrCat("u", i % 3)}));
    ASSERT_TRUE(s.ok()) << leader->id << ": " << s.error_message();
  }
  const uint64_t applied = leader->Applied();
  ASSERT_GT(applied, 0u);
  for (Node* n : Live()) ASSERT_TRUE(WaitForApplied(*n, applied, absl::Seconds(30))) << n->id;
  const std::string first_url = nats_.urls.substr(0, nats_.urls.find(','));

  // The log is lost under the running nodes.
  ResetStream(first_url, /*create=*/false, 0);
  auto expect_stopped = [&](Node* n, const std::string& log_end) {
    nlohmann::json r = WaitForApplierError(*n, absl::Seconds(30));
    ASSERT_TRUE(r.contains("applier_error")) << n->id << ": " << r.dump();
    const std::string error = r["applier_error"].get<std::string>();
    EXPECT_TRUE(absl::StrContains(error, absl::StrCat(n->id, " has applied log position ", applied))) << error;
    EXPECT_TRUE(absl::StrContains(error, log_end)) << error;
    EXPECT_TRUE(absl::StrContains(error, "lifelong backup restore")) << error;
    EXPECT_NE(r["role"], "leader") << n->id;
    EXPECT_EQ(r["applied_seq"].get<uint64_t>(), applied) << n->id;
    EXPECT_GT(r["ahead_of_log"].get<uint64_t>(), 0u) << n->id;
    EXPECT_EQ(HttpGet(n->metrics_port, "/leader").first, 503) << n->id;
    auto [metrics_status, metrics] = HttpGet(n->metrics_port, "/metrics");
    EXPECT_TRUE(absl::StrContains(metrics, "lifelong_replication_store_ahead_of_log ")) << metrics;
    EXPECT_FALSE(absl::StrContains(metrics, "lifelong_replication_store_ahead_of_log 0\n")) << metrics;
    grpc::Status refused = Record(n->stub.get(), MakeStatement({.id = TestUuid(7000), .learner = "u1"}));
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << n->id;
    EXPECT_TRUE(absl::StrContains(refused.error_message(), "replication stopped on " + n->id))
        << refused.error_message();
    // Clients are refused what the node holds; the operator's recovery
    // export (docs/replication.md) still reads it.
    ExpectReadsRefused(*n, TestUuid(1));
    EXPECT_EQ(Export(n->stub.get(), /*allow_stale=*/true).size(), 6u) << n->id;
  };
  for (Node* n : Live()) expect_stopped(n, "the log (stream LIFELONG_RECORDS) does not exist");
  EXPECT_EQ(StreamLastSeq(first_url), std::nullopt);  // nobody started a new, empty log

  // Restarted, they stay stopped and start no log of their own.
  for (Node* n : Live()) {
    ASSERT_EQ(kill(n->process->pid(), SIGTERM), 0);
    ASSERT_TRUE(n->process->Wait(std::chrono::seconds(30)).ok()) << n->id;
    n->process.reset();
  }
  for (auto& n : nodes_) {
    StartNode(n.get(), dir_, nats_.urls);
    if (HasFatalFailure()) return;
  }
  for (Node* n : Live()) expect_stopped(n, "the log (stream LIFELONG_RECORDS) does not exist");
  EXPECT_EQ(WaitForLeader(Live(), absl::Seconds(3)), nullptr);
  EXPECT_EQ(StreamLastSeq(first_url), std::nullopt);

  // A stream that is back but short of the stores' position (re-created,
  // or restored from an older copy): still no node applies or leads.
  ResetStream(first_url, /*create=*/true, 2);
  Node* restarted = nodes_[1].get();
  ASSERT_EQ(kill(restarted->process->pid(), SIGTERM), 0);
  ASSERT_TRUE(restarted->process->Wait(std::chrono::seconds(30)).ok());
  restarted->process.reset();
  StartNode(restarted, dir_, nats_.urls);
  ASSERT_FALSE(HasFatalFailure());
  expect_stopped(restarted, "the log (stream LIFELONG_RECORDS) ends at 2");
  EXPECT_EQ(WaitForLeader(Live(), absl::Seconds(3)), nullptr);
  EXPECT_EQ(StreamLastSeq(first_url), std::optional<uint64_t>(2));  // nothing applied, nothing written
}

// An operation that decodes but that no store can apply (here a restore
// whose record is not a statement record: DATA_LOSS on every try) is never
// skipped, and it does not leave a leader holding the lease while its
// applier retries for ever in silence (before: no applier_error, /leader
// 200, every write waited 30 s for an apply that never came, no alert):
// every node says so, gives up leading and refuses writes at once.
TEST_F(ReplicationCluster, AnOperationNoStoreCanApplyStopsLeadingAndSaysSo) {
  Node* leader = WaitForLeader(Live(), absl::Seconds(60));
  ASSERT_NE(leader, nullptr);
  grpc::Status s = Record(leader->stub.get(), MakeStatement({.id = TestUuid(1), .learner = "u1"}));
  ASSERT_TRUE(s.ok()) << s.error_message();
  const uint64_t applied = leader->Applied();
  for (Node* n : Live()) ASSERT_TRUE(WaitForApplied(*n, applied, absl::Seconds(30))) << n->id;

  LogOp bad;
  bad.kind = LogOpKind::kRestore;
  bad.learner = "u-erased";
  bad.restored.emplace_back(*ParseUuid(TestUuid(900)), "not a statement record");
  const std::string data = EncodeLogOp(bad);
  ASSERT_TRUE(DecodeLogOp(data).ok());  // it decodes: only applying it fails
  const std::string first_url = nats_.urls.substr(0, nats_.urls.find(','));
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, first_url.c_str()), NATS_OK);
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  jsPubAck* ack = nullptr;
  ASSERT_EQ(
      js_Publish(&ack, js, "lifelong.records.shared", data.data(), static_cast<int>(data.size()), nullptr, nullptr),
      NATS_OK);
  const uint64_t bad_seq = ack->Sequence;
  jsPubAck_Destroy(ack);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);

  for (Node* n : Live()) {
    nlohmann::json r = WaitForApplierError(*n, absl::Seconds(20));
    ASSERT_TRUE(r.contains("applier_error")) << n->id << ": " << r.dump();
    const std::string error = r["applier_error"].get<std::string>();
    EXPECT_TRUE(absl::StrContains(error, absl::StrCat("cannot apply log operation ", bad_seq))) << error;
    EXPECT_TRUE(absl::StrContains(error, "DATA_LOSS")) << error;
    EXPECT_EQ(r["applied_seq"].get<uint64_t>(), bad_seq - 1) << n->id;  // nothing skipped
    EXPECT_NE(r["role"], "leader") << n->id;
    auto [metrics_status, metrics] = HttpGet(n->metrics_port, "/metrics");
    EXPECT_TRUE(absl::StrContains(metrics, "lifelong_replication_applier_stopped 1\n")) << n->id;
    const absl::Time asked = absl::Now();
    grpc::Status refused = Record(n->stub.get(), MakeStatement({.id = TestUuid(7000), .learner = "u1"}));
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << n->id << ": " << refused.error_message();
    EXPECT_TRUE(absl::StrContains(refused.error_message(), "replication stopped on " + n->id))
        << refused.error_message();
    EXPECT_LT(absl::Now() - asked, absl::Seconds(5)) << n->id;  // refused, not left waiting for the apply
    ExpectReadsRefused(*n, TestUuid(1));
  }
  // The lease goes back and nobody takes it.
  absl::SleepFor(absl::Milliseconds(2 * kLeaseTtlMs));
  EXPECT_EQ(WaitForLeader(Live(), absl::Seconds(2)), nullptr);
  for (Node* n : Live()) EXPECT_EQ(n->Applied(), bad_seq - 1) << n->id;
}

// Binds and listens on a free loopback port (`*fd`, `*port`): the port is
// taken until the caller closes `*fd`.
void ListenOnAFreePort(int* fd, int* port) {
  *fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(*fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(*fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(*fd, 1), 0);
  ASSERT_EQ(::getsockname(*fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  *port = ntohs(addr.sin_port);
}

// GET /leader on the metrics port is the load balancer's check: a node that
// could not bind it must not run, or it could win the lease and be the leader
// no client reaches (every write refused until it stops). It must not even
// campaign first: with no other node running (the lease free), it never wins
// the lease on its way out.
TEST_F(ReplicationCluster, ANodeWithoutItsLeaderCheckDoesNotStart) {
  ASSERT_NE(WaitForLeader(Live(), absl::Seconds(60)), nullptr);
  for (Node* n : Live()) {  // SIGTERM: each hands the lease over on its way out
    ASSERT_EQ(kill(n->process->pid(), SIGTERM), 0);
    ASSERT_TRUE(n->process->Wait(std::chrono::seconds(30)).ok()) << n->id;
    n->process.reset();
  }
  int taken = -1, port = 0;
  ASSERT_NO_FATAL_FAILURE(ListenOnAFreePort(&taken, &port));
  const std::string log = dir_ + "/records-4.log";
  auto p = lifelong::testing::Subprocess::Start(
      {lifelong::testing::RunfilePath("services/records/records_server"), "--port=0", "--xapi_port=-1",
       absl::StrCat("--metrics_port=", port), "--data_dir=" + dir_ + "/records-4", "--warm_cache=false",
       "--block_cache_mb=16", "--replication_nats=" + nats_.urls, "--node_id=records-4",
       absl::StrCat("--lease_ttl_ms=", kLeaseTtlMs), "--replicas=3"},
      log);
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<int> status = p->Wait(std::chrono::seconds(30));
  ::close(taken);
  ASSERT_TRUE(status.ok()) << "records-4 still runs without its leader check: " << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << *status;
  const std::string text = lifelong::testing::ReadFile(log);
  EXPECT_TRUE(absl::StrContains(text, "metrics_listen_failed")) << text;
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat(port))) << text;
  EXPECT_FALSE(absl::StrContains(text, "replication_lease_won")) << text;
  // The others, started again, go on: one of them leads, reachable by its check.
  for (auto& n : nodes_) {
    StartNode(n.get(), dir_, nats_.urls);
    if (HasFatalFailure()) return;
  }
  EXPECT_NE(WaitForLeader(Live(), absl::Seconds(30)), nullptr);
}

// The contrast: a single node (no --replication_nats) has no lease to win,
// so it serves on without /metrics when its metrics port is taken (a second
// server on a machine must not fail because 9001 is in use), and says so.
TEST(SingleNode, ServesWithoutItsMetricsPortAndSaysSo) {
  const std::string dir = lifelong::testing::FreshTempDir("single-metrics");
  int taken = -1, port = 0;
  ASSERT_NO_FATAL_FAILURE(ListenOnAFreePort(&taken, &port));
  const std::string log = dir + "/records.log", port_file = dir + "/records.port";
  auto p = lifelong::testing::Subprocess::Start(
      {lifelong::testing::RunfilePath("services/records/records_server"), "--port=0", "--port_file=" + port_file,
       "--xapi_port=-1", absl::StrCat("--metrics_port=", port), "--data_dir=" + dir + "/records", "--warm_cache=false",
       "--block_cache_mb=16"},
      log);
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<int> grpc_port = lifelong::testing::WaitForPortFile(port_file, std::chrono::seconds(60));
  ::close(taken);
  ASSERT_TRUE(grpc_port.ok()) << grpc_port.status() << "\n" << lifelong::testing::ReadFile(log);
  auto stub = v1::LearningRecordService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", *grpc_port), grpc::InsecureChannelCredentials()));
  grpc::Status s = Record(stub.get(), MakeStatement({.id = TestUuid(1), .learner = "u1"}));
  EXPECT_TRUE(s.ok()) << s.error_message();
  const std::string text = lifelong::testing::ReadFile(log);
  EXPECT_TRUE(absl::StrContains(text, "metrics_listen_failed")) << text;
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat(port))) << text;
  EXPECT_TRUE(absl::StrContains(text, "\"metrics_port\":-1")) << text;  // in its "serving" line
  EXPECT_TRUE(p->Running());
}

TEST(ReplicationFlags, BadFlagsStopTheServerNamingTheFlag) {
  if (NatsServerBinary().empty()) GTEST_SKIP() << "nats-server is not installed";
  std::string dir = lifelong::testing::FreshTempDir("flags");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--replication_nats=http://127.0.0.1:4222"}, "--replication_nats"},
      {{"--replication_nats=nats://127.0.0.1:1", "--node_id=records 1;rm"}, "--node_id"},
      {{"--replication_nats=nats://127.0.0.1:1", "--replicas=0"}, "--replicas"},
      {{"--replication_nats=nats://127.0.0.1:1", "--lease_ttl_ms=10"}, "--lease_ttl_ms"},
      {{"--replication_nats=nats://127.0.0.1:1", "--replication_stream=a.b"}, "--replication_stream"},
  };
  int i = 0;
  for (const auto& [flags, named] : cases) {
    std::vector<std::string> argv = {lifelong::testing::RunfilePath("services/records/records_server"), "--port=0",
                                     "--xapi_port=-1", "--metrics_port=0", absl::StrCat("--data_dir=", dir, "/db", i)};
    argv.insert(argv.end(), flags.begin(), flags.end());
    std::string log = absl::StrCat(dir, "/server", i++, ".log");
    auto p = lifelong::testing::Subprocess::Start(argv, log);
    ASSERT_TRUE(p.ok());
    absl::StatusOr<int> status = p->Wait(std::chrono::seconds(30));
    ASSERT_TRUE(status.ok()) << named;
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << named;
    const std::string text = lifelong::testing::ReadFile(log);
    EXPECT_TRUE(absl::StrContains(text, "replication_setup_failed")) << text;
    EXPECT_TRUE(absl::StrContains(text, named)) << text;
  }
}

}  // namespace
}  // namespace lifelong::records::replication
