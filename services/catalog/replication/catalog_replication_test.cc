// The replicated catalog as real processes: a 3-member NATS JetStream
// cluster (nats-server) and catalog_server nodes on it, each with its own
// RocksDB under TEST_TMPDIR, talking gRPC on real ports.
//
//  - a write on any node is on every node, and a page token from one node
//    continues the listing on another;
//  - writers on two nodes at once lose nothing, and every node ends with the
//    same catalog (courses, counters, generation);
//  - a stale etag is refused on another node (ABORTED), as on one;
//  - consumers lost on the server are made again (writes go on);
//  - a SIGKILLed node catches up; a node on an empty disk rebuilds the
//    catalog; the loss of one NATS server does not stop writes;
//  - a single-node catalog database cannot join a log (exit 1, saying why).
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "services/catalog/test_courses.h"
#include "tests/testing/alert_metrics.h"
#include "tests/testing/nats_cluster.h"
#include "tests/testing/service_process.h"
#include "tests/testing/subprocess.h"

namespace lifelong::catalog {
namespace {

using lifelong::testing::HttpGet;
using v1::Course;
using Stub = v1::CourseCatalogService::Stub;

Course MakeCourse(const std::string& id) { return testing::ValidCourse(id); }

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  return ctx;
}

struct Node {
  std::string id;
  std::string data_dir;
  int metrics_port = 0;
  std::optional<lifelong::testing::ServiceProcess> process;
  std::unique_ptr<Stub> stub;

  nlohmann::json Replication() const { return lifelong::testing::ReplicationStatus(metrics_port); }
  uint64_t Applied() const { return lifelong::testing::AppliedSeq(metrics_port); }
  bool Ready() const { return HttpGet(metrics_port, "/ready").first == 200; }

  grpc::Status Create(const Course& c, Course* out = nullptr) {
    v1::CreateCourseRequest req;
    *req.mutable_course() = c;
    Course resp;
    grpc::Status s = stub->CreateCourse(Ctx().get(), req, &resp);
    if (out != nullptr) *out = resp;
    return s;
  }
  absl::StatusOr<Course> Get(const std::string& id) {
    v1::GetCourseRequest req;
    req.set_id(id);
    Course resp;
    grpc::Status s = stub->GetCourse(Ctx().get(), req, &resp);
    if (!s.ok()) return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    return resp;
  }
  v1::CatalogInfo Info() {
    v1::CatalogInfo info;
    grpc::Status s = stub->GetCatalogInfo(Ctx().get(), v1::GetCatalogInfoRequest(), &info);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return info;
  }
  // Every course (archived included), as listed.
  std::vector<std::string> AllCourses() {
    std::vector<std::string> out;
    v1::ListCoursesRequest req;
    req.set_show_archived(true);
    req.set_page_size(1000);
    v1::ListCoursesResponse resp;
    grpc::Status s = stub->ListCourses(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const Course& c : resp.courses()) out.push_back(c.SerializeAsString());
    return out;
  }
};

class CatalogReplicationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (lifelong::testing::NatsServerBinary().empty()) {
      GTEST_SKIP() << "nats-server is not installed (ops/bootstrap.sh installs it)";
    }
    dir_ = lifelong::testing::FreshTempDir(
        absl::StrCat("catalog_replication_", ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    nats_ = lifelong::testing::StartNatsCluster(dir_);
  }

  // Starts (or restarts) `n` on the cluster and waits until it is ready.
  void Start(Node* n, bool wait_ready = true) {
    lifelong::testing::ServiceOptions o;
    o.binary = "services/catalog/catalog_server";
    o.data_dir = n->data_dir;
    o.port_file = absl::StrCat(dir_, "/", n->id, ".port");
    o.log_path = absl::StrCat(dir_, "/", n->id, ".log");
    o.host = "127.0.0.1";
    // The server binds its metrics port itself and logs it (LoggedPort).
    o.flags = {"--metrics_port=0", "--backup_dir=off", "--replication_nats=" + nats_.urls, "--node_id=" + n->id,
               "--replicas=3"};
    o.start_timeout = std::chrono::seconds(90);
    unlink(o.port_file.c_str());
    absl::StatusOr<lifelong::testing::ServiceProcess> p = lifelong::testing::ServiceProcess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status() << "\n" << Log(*n);
    n->process = std::move(*p);
    absl::StatusOr<int> metrics_port = n->process->LoggedPort("serving", "metrics_port");
    ASSERT_TRUE(metrics_port.ok()) << metrics_port.status() << "\n" << Log(*n);
    n->metrics_port = *metrics_port;
    n->stub = v1::CourseCatalogService::NewStub(
        grpc::CreateChannel(n->process->address(), grpc::InsecureChannelCredentials()));
    if (wait_ready) {
      const absl::Time deadline = absl::Now() + absl::Seconds(60);
      while (!n->Ready() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
      ASSERT_TRUE(n->Ready()) << n->id << " not ready: " << n->Replication().dump() << "\n" << Log(*n);
    }
  }

  std::unique_ptr<Node> NewNode(const std::string& id) {
    auto n = std::make_unique<Node>();
    n->id = id;
    n->data_dir = absl::StrCat(dir_, "/", id);
    return n;
  }

  std::string Log(const Node& n) const { return lifelong::testing::ReadFile(absl::StrCat(dir_, "/", n.id, ".log")); }

  // Waits until `n` has applied `seq`.
  static bool CaughtUp(const Node& n, uint64_t seq) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      if (n.Applied() >= seq) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  std::string dir_;
  lifelong::testing::NatsCluster nats_;
};

TEST_F(CatalogReplicationTest, AWriteOnAnyNodeIsOnEveryNodeAndPageTokensWorkEverywhere) {
  auto a = NewNode("catalog-1");
  auto b = NewNode("catalog-2");
  Start(a.get());
  Start(b.get());

  Course created;
  ASSERT_TRUE(a->Create(MakeCourse("taiji-101"), &created).ok());
  ASSERT_TRUE(CaughtUp(*b, a->Applied()));
  absl::StatusOr<Course> on_b = b->Get("taiji-101");
  ASSERT_TRUE(on_b.ok()) << on_b.status();
  EXPECT_EQ(on_b->SerializeAsString(), created.SerializeAsString()) << "the same stored course, times included";

  // An update on the other node, with the etag read on the first.
  v1::UpdateCourseRequest up;
  *up.mutable_course() = created;
  up.mutable_course()->set_title("太极拳进阶");
  up.mutable_update_mask()->add_paths("title");
  Course updated;
  grpc::Status s = b->stub->UpdateCourse(Ctx().get(), up, &updated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(updated.revision(), 2);
  ASSERT_TRUE(CaughtUp(*a, b->Applied()));
  EXPECT_EQ(a->Get("taiji-101")->title(), "太极拳进阶");

  // A programme written on b is on a.
  v1::PutProgrammeRequest pp;
  pp.mutable_programme()->set_id("jiankang");
  pp.mutable_programme()->set_name("健康生活证书");
  pp.mutable_programme()->add_required_course_ids("taiji-101");
  v1::Programme programme;
  s = b->stub->PutProgramme(Ctx().get(), pp, &programme);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(CaughtUp(*a, b->Applied()));
  v1::GetProgrammeRequest gp;
  gp.set_id("jiankang");
  v1::Programme on_a;
  s = a->stub->GetProgramme(Ctx().get(), gp, &on_a);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(on_a.SerializeAsString(), programme.SerializeAsString());

  // A listing started on a continues on b (HAProxy may send the next page
  // to any node): the page-token secret is the log's.
  ASSERT_TRUE(a->Create(MakeCourse("yangsheng-201")).ok());
  ASSERT_TRUE(CaughtUp(*b, a->Applied()));
  v1::ListCoursesRequest list;
  list.set_page_size(1);
  v1::ListCoursesResponse first, second;
  ASSERT_TRUE(a->stub->ListCourses(Ctx().get(), list, &first).ok());
  ASSERT_EQ(first.courses_size(), 1);
  ASSERT_FALSE(first.next_page_token().empty());
  list.set_page_token(first.next_page_token());
  s = b->stub->ListCourses(Ctx().get(), list, &second);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(second.courses_size(), 1);
  EXPECT_EQ(second.courses(0).id(), "yangsheng-201");

  EXPECT_EQ(a->Info().SerializeAsString(), b->Info().SerializeAsString());
  nlohmann::json r = a->Replication();
  EXPECT_EQ(r["node"], "catalog-1");
  EXPECT_EQ(r["lag"], 0) << r.dump();
  EXPECT_EQ(r["applier_error"], "") << r.dump();

  // The catalog alerts (ops/prometheus/alerts.yml) use only metrics a node
  // exports.
  auto [metrics_status, metrics] = HttpGet(a->metrics_port, "/metrics");
  ASSERT_EQ(metrics_status, 200);
  EXPECT_TRUE(absl::StrContains(metrics, "lifelong_catalog_log_stopped 0")) << metrics;
  absl::StatusOr<std::set<std::string>> alert_names =
      lifelong::testing::AlertMetricNames(lifelong::testing::RunfilePath(lifelong::testing::kAlertRulesPath));
  ASSERT_TRUE(alert_names.ok()) << alert_names.status();
  EXPECT_THAT(lifelong::testing::UndeclaredMetrics(*alert_names, {"lifelong_catalog_log_"}, {metrics}),
              ::testing::IsEmpty());
}

TEST_F(CatalogReplicationTest, ConcurrentWritersOnTwoNodesLoseNothingAndEveryNodeAgrees) {
  auto a = NewNode("catalog-1");
  auto b = NewNode("catalog-2");
  Start(a.get());
  Start(b.get());
  constexpr int kPerNode = 15;
  std::vector<std::string> failures;
  std::mutex mu;
  auto writer = [&](Node* n, const std::string& prefix) {
    for (int i = 0; i < kPerNode; ++i) {
      grpc::Status s = n->Create(MakeCourse(absl::StrCat(prefix, "-", i)));
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back(absl::StrCat(prefix, "-", i, ": ", s.error_message()));
      }
    }
  };
  std::thread ta(writer, a.get(), "a");
  std::thread tb(writer, b.get(), "b");
  ta.join();
  tb.join();
  EXPECT_TRUE(failures.empty()) << failures.front();
  const uint64_t end = std::max(a->Applied(), b->Applied());
  ASSERT_TRUE(CaughtUp(*a, end));
  ASSERT_TRUE(CaughtUp(*b, end));
  const v1::CatalogInfo info = a->Info();
  EXPECT_EQ(info.course_count(), 2 * kPerNode);
  EXPECT_EQ(info.generation(), 2 * kPerNode);
  EXPECT_EQ(info.SerializeAsString(), b->Info().SerializeAsString());
  EXPECT_EQ(a->AllCourses(), b->AllCourses());

  // Both nodes racing to create the same id: exactly one wins.
  grpc::Status sa, sb;
  std::thread ra([&] { sa = a->Create(MakeCourse("same-id")); });
  std::thread rb([&] { sb = b->Create(MakeCourse("same-id")); });
  ra.join();
  rb.join();
  EXPECT_EQ(sa.ok() + sb.ok(), 1) << sa.error_message() << " / " << sb.error_message();
  EXPECT_TRUE(sa.error_code() == grpc::StatusCode::ALREADY_EXISTS ||
              sb.error_code() == grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(CatalogReplicationTest, AStaleEtagIsRefusedOnAnotherNode) {
  auto a = NewNode("catalog-1");
  auto b = NewNode("catalog-2");
  Start(a.get());
  Start(b.get());
  Course created;
  ASSERT_TRUE(a->Create(MakeCourse("shufa-1"), &created).ok());
  v1::UpdateCourseRequest up;
  *up.mutable_course() = created;
  up.mutable_course()->set_title("书法 A");
  up.mutable_update_mask()->add_paths("title");
  Course updated;
  ASSERT_TRUE(a->stub->UpdateCourse(Ctx().get(), up, &updated).ok());
  // b may not have applied a's update yet when the call arrives: it plans on
  // its own state, the log refuses the plan, b catches up and refuses the etag.
  up.mutable_course()->set_title("书法 B");
  grpc::Status s = b->stub->UpdateCourse(Ctx().get(), up, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "course.etag")) << s.error_message();
  ASSERT_TRUE(CaughtUp(*b, a->Applied()));
  EXPECT_EQ(b->Get("shufa-1")->title(), "书法 A");
}

TEST_F(CatalogReplicationTest, AKilledNodeCatchesUpAndAnEmptyNodeRebuildsTheCatalog) {
  auto a = NewNode("catalog-1");
  auto b = NewNode("catalog-2");
  Start(a.get());
  Start(b.get());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a->Create(MakeCourse(absl::StrCat("c-", i))).ok());
  ASSERT_TRUE(b->process->Stop(SIGKILL).ok());
  for (int i = 5; i < 10; ++i) ASSERT_TRUE(a->Create(MakeCourse(absl::StrCat("c-", i))).ok());
  Start(b.get());  // ready: caught up to the log's end as it found it
  EXPECT_EQ(b->Info().course_count(), 10);
  EXPECT_EQ(b->AllCourses(), a->AllCourses());

  // A machine lost with its disk: a new node on an empty directory.
  auto c = NewNode("catalog-3");
  Start(c.get());
  EXPECT_EQ(c->AllCourses(), a->AllCourses());
  EXPECT_EQ(c->Info().SerializeAsString(), a->Info().SerializeAsString());
  // And it takes writes that the others see.
  ASSERT_TRUE(c->Create(MakeCourse("from-c")).ok());
  ASSERT_TRUE(CaughtUp(*a, c->Applied()));
  EXPECT_TRUE(a->Get("from-c").ok());
}

// The consumers the nodes' appliers read through are lost on the server (as
// a stream leader's failover can lose them): a write is still applied and
// answered within its 10 s apply timeout, and every node catches up (before:
// nodes waited for the client library to notice, after its missed
// heartbeats, and the write timed out).
TEST_F(CatalogReplicationTest, ConsumersLostOnTheServerAreMadeAgain) {
  auto a = NewNode("catalog-1");
  auto b = NewNode("catalog-2");
  Start(a.get());
  Start(b.get());
  ASSERT_TRUE(a->Create(MakeCourse("before")).ok());
  ASSERT_TRUE(CaughtUp(*b, a->Applied()));
  const std::string first_url = nats_.urls.substr(0, nats_.urls.find(','));
  EXPECT_GE(lifelong::testing::DeleteStreamConsumers(first_url, "LIFELONG_CATALOG"), 2);
  grpc::Status s = a->Create(MakeCourse("after"));
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << Log(*a);
  ASSERT_TRUE(CaughtUp(*b, a->Applied())) << b->Replication().dump();
  EXPECT_TRUE(b->Get("after").ok());
  EXPECT_GE(a->Replication()["consumer_restarts"].get<uint64_t>(), 1u) << a->Replication().dump();
  EXPECT_TRUE(absl::StrContains(Log(*a), "catalog_log_consumer_stalled")) << Log(*a);
  EXPECT_FALSE(absl::StrContains(HttpGet(a->metrics_port, "/metrics").second,
                                 "lifelong_catalog_log_consumer_restarts_total 0\n"));
}

TEST_F(CatalogReplicationTest, WritesGoOnWhenOneNatsServerIsLost) {
  auto a = NewNode("catalog-1");
  Start(a.get());
  ASSERT_TRUE(a->Create(MakeCourse("before")).ok());
  ASSERT_TRUE(nats_.servers[0].Stop(SIGKILL).ok());
  // The stream may elect a new leader: give the write a few tries.
  grpc::Status s;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  do {
    s = a->Create(MakeCourse("after"));
    if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) s = grpc::Status::OK;  // an earlier try landed
    if (!s.ok()) absl::SleepFor(absl::Milliseconds(500));
  } while (!s.ok() && absl::Now() < deadline);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(a->Get("after").ok());
  // A node started now rebuilds from the two servers left.
  auto b = NewNode("catalog-2");
  Start(b.get());
  EXPECT_EQ(b->AllCourses(), a->AllCourses());
}

TEST_F(CatalogReplicationTest, ANodeCutOffFromTheLogLeavesTheRotationUntilItIsBack) {
  auto a = NewNode("catalog-1");
  Start(a.get());
  ASSERT_TRUE(a->Create(MakeCourse("before")).ok());
  for (auto& server : nats_.servers) ASSERT_TRUE(server.Stop(SIGKILL).ok());
  // Not ready (HAProxy sends clients elsewhere); reads still answer from its copy.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (a->Ready() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(a->Ready()) << a->Replication().dump();
  EXPECT_EQ(a->Replication()["connected"], false);
  EXPECT_TRUE(a->Get("before").ok());
  for (int i = 0; i < 3; ++i) lifelong::testing::RestartNatsMember(&nats_, dir_, i);
  const absl::Time back = absl::Now() + absl::Seconds(60);
  while (!a->Ready() && absl::Now() < back) absl::SleepFor(absl::Milliseconds(100));
  ASSERT_TRUE(a->Ready()) << a->Replication().dump() << "\n" << Log(*a);
  grpc::Status s;
  const absl::Time write_deadline = absl::Now() + absl::Seconds(30);
  do {
    s = a->Create(MakeCourse("after"));
    if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) s = grpc::Status::OK;
    if (!s.ok()) absl::SleepFor(absl::Milliseconds(500));
  } while (!s.ok() && absl::Now() < write_deadline);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(CatalogReplicationTest, AFirstNodeWaitsForTheLogWhenItCannotBeCreatedYet) {
  // Three copies need three NATS servers: with one down the stream cannot be
  // created. The empty node waits (it has lost nothing), and starts once it can.
  ASSERT_TRUE(nats_.servers[2].Stop(SIGKILL).ok());
  auto a = NewNode("catalog-1");
  Start(a.get(), /*wait_ready=*/false);
  absl::SleepFor(absl::Seconds(6));  // past the 3 s a store ahead of its log is given
  nlohmann::json r = a->Replication();
  EXPECT_EQ(r["applier_error"], "") << r.dump();
  EXPECT_FALSE(a->Ready());
  lifelong::testing::RestartNatsMember(&nats_, dir_, 2);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!a->Ready() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(100));
  ASSERT_TRUE(a->Ready()) << a->Replication().dump() << "\n" << Log(*a);
  EXPECT_TRUE(a->Create(MakeCourse("first")).ok());
}

TEST_F(CatalogReplicationTest, ASingleNodeCatalogCannotJoinALog) {
  auto solo = NewNode("solo");
  {
    lifelong::testing::ServiceOptions o;
    o.binary = "services/catalog/catalog_server";
    o.data_dir = solo->data_dir;
    o.port_file = dir_ + "/solo.port";
    o.log_path = dir_ + "/solo-single.log";
    o.host = "127.0.0.1";
    o.flags = {"--metrics_port=0", "--backup_dir=off"};
    absl::StatusOr<lifelong::testing::ServiceProcess> p = lifelong::testing::ServiceProcess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status();
    solo->stub =
        v1::CourseCatalogService::NewStub(grpc::CreateChannel(p->address(), grpc::InsecureChannelCredentials()));
    ASSERT_TRUE(solo->Create(MakeCourse("local-only")).ok());
    ASSERT_TRUE(p->Stop(SIGTERM).ok());
  }
  absl::StatusOr<lifelong::testing::Subprocess> p = lifelong::testing::Subprocess::Start(
      {lifelong::testing::RunfilePath("services/catalog/catalog_server"), "--host=127.0.0.1", "--port=0",
       "--metrics_port=0", "--backup_dir=off", "--data_dir=" + solo->data_dir, "--replication_nats=" + nats_.urls,
       "--node_id=solo"},
      dir_ + "/solo.log");
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<int> status = p->Wait(std::chrono::seconds(60));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1);
  EXPECT_TRUE(absl::StrContains(Log(*solo), "writes made without the replicated log")) << Log(*solo);
}

TEST_F(CatalogReplicationTest, ANodeOfTheLogCannotBeStartedAlone) {
  auto a = NewNode("catalog-1");
  Start(a.get());
  ASSERT_TRUE(a->Create(MakeCourse("logged")).ok());
  ASSERT_TRUE(a->process->Stop(SIGTERM).ok());
  // Writes there would be on this node only, and it could not rejoin.
  absl::StatusOr<lifelong::testing::Subprocess> p = lifelong::testing::Subprocess::Start(
      {lifelong::testing::RunfilePath("services/catalog/catalog_server"), "--host=127.0.0.1", "--port=0",
       "--metrics_port=0", "--backup_dir=off", "--data_dir=" + a->data_dir},
      dir_ + "/alone.log");
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<int> status = p->Wait(std::chrono::seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1);
  const std::string log = lifelong::testing::ReadFile(dir_ + "/alone.log");
  EXPECT_TRUE(absl::StrContains(log, "start it with --replication_nats")) << log;
}

TEST_F(CatalogReplicationTest, BadReplicationFlagsStopTheStartNamingTheFlag) {
  for (const std::vector<std::string>& flags : std::vector<std::vector<std::string>>{
           {"--replication_nats=http://127.0.0.1:1"},
           {"--replication_nats=" + nats_.urls, "--node_id=bad id"},
           {"--replication_nats=" + nats_.urls, "--replicas=9"},
       }) {
    std::vector<std::string> argv = {lifelong::testing::RunfilePath("services/catalog/catalog_server"),
                                     "--host=127.0.0.1",
                                     "--port=0",
                                     "--metrics_port=0",
                                     "--backup_dir=off",
                                     "--data_dir=" + dir_ + "/bad"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    absl::StatusOr<lifelong::testing::Subprocess> p = lifelong::testing::Subprocess::Start(argv, dir_ + "/bad.log");
    ASSERT_TRUE(p.ok()) << p.status();
    absl::StatusOr<int> status = p->Wait(std::chrono::seconds(30));
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << flags.back();
    const std::string log = lifelong::testing::ReadFile(dir_ + "/bad.log");
    const std::string flag = flags.back().substr(0, flags.back().find('='));
    EXPECT_TRUE(absl::StrContains(log, flag)) << log;
  }
}

}  // namespace
}  // namespace lifelong::catalog
