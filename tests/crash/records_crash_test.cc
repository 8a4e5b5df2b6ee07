// Crash test: a separate records_server process receives a stream of writes
// from concurrent clients and is killed with SIGKILL mid-stream. After a
// restart on the same data directory, every acknowledged statement must be
// there with all of its index entries, and no statement may be visible
// through one path but missing from another (nothing half-written).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/health_client.h"
#include "services/domain/vocabulary.h"
#include "services/records/test_statements.h"
#include "tests/testing/service_process.h"
#include "tests/testing/store_files.h"

namespace lifelong {
namespace {

using records::testing::MakeStatement;
using records::testing::TestUuid;

struct Server {
  testing::ServiceProcess process;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::LearningRecordService::Stub> stub;
};

Server StartServer(const std::string& dir, int round) {
  testing::ServiceOptions o;
  o.binary = "services/records/records_server";
  o.data_dir = dir + "/db";
  o.port_file = dir + "/port" + std::to_string(round);
  o.log_path = dir + "/server.log";
  o.flags = {"--xapi_port=-1"};
  absl::StatusOr<testing::ServiceProcess> proc = testing::ServiceProcess::Start(o);
  EXPECT_TRUE(proc.ok()) << proc.status();
  Server s{*std::move(proc), nullptr, nullptr};
  s.channel = grpc::CreateChannel(s.process.address(), grpc::InsecureChannelCredentials());
  s.stub = v1::LearningRecordService::NewStub(s.channel);
  return s;
}

// Every statement id reachable through `list` for each filter in `filters`.
std::set<std::string> ListAll(v1::LearningRecordService::Stub* stub, v1::ListStatementsRequest req) {
  std::set<std::string> ids;
  req.set_page_size(1000);
  for (;;) {
    grpc::ClientContext ctx;
    v1::ListStatementsResponse resp;
    grpc::Status s = stub->ListStatements(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) break;
    for (const auto& st : resp.statements()) ids.insert(st.id());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return ids;
}

TEST(RecordsCrash, AcknowledgedWritesSurviveSigkill) {
  std::string dir = testing::FreshTempDir("crash");
  constexpr int kClients = 8;
  constexpr int kLearners = 5;
  std::mutex mu;
  std::set<std::string> acked;
  std::set<std::string> attempted;
  {
    Server server = StartServer(dir, 0);
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        for (int i = 0; !stop.load(); ++i) {
          int n = c * 1000000 + i;
          std::string id = TestUuid(n);
          {
            std::lock_guard<std::mutex> lock(mu);
            attempted.insert(id);
          }
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
          grpc::Status s;
          if (i % 5 == 4) {  // every fifth call is a batch of three
            v1::RecordStatementsRequest batch;
            std::vector<std::string> ids = {id, TestUuid(n + 500000), TestUuid(n + 700000)};
            for (const std::string& bid : ids) {
              batch.add_statement_json(MakeStatement(
                  {.id = bid, .learner = "u" + std::to_string(n % kLearners), .course = "c" + std::to_string(n % 7)}));
            }
            {
              std::lock_guard<std::mutex> lock(mu);
              attempted.insert(ids.begin(), ids.end());
            }
            v1::RecordStatementsResponse resp;
            s = server.stub->RecordStatements(&ctx, batch, &resp);
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(mu);
              acked.insert(ids.begin(), ids.end());
            }
          } else {
            v1::RecordStatementRequest req;
            req.set_statement_json(MakeStatement(
                {.id = id, .learner = "u" + std::to_string(n % kLearners), .course = "c" + std::to_string(n % 7)}));
            v1::Statement resp;
            s = server.stub->RecordStatement(&ctx, req, &resp);
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(mu);
              acked.insert(id);
            }
          }
          if (!s.ok()) break;  // the server is gone
        }
      });
    }
    // Let writes flow, then kill the server without warning.
    while (true) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::lock_guard<std::mutex> lock(mu);
      if (acked.size() >= 300) break;
    }
    absl::StatusOr<int> status = server.process.Stop(SIGKILL);
    ASSERT_TRUE(status.ok());
    EXPECT_TRUE(WIFSIGNALED(*status));
    stop = true;
    for (auto& t : clients) t.join();
  }
  ASSERT_GE(acked.size(), 300u);

  Server server = StartServer(dir, 1);
  // Every acknowledged statement is there.
  for (const std::string& id : acked) {
    grpc::ClientContext ctx;
    v1::GetStatementRequest req;
    req.set_id(id);
    v1::Statement st;
    ASSERT_TRUE(server.stub->GetStatement(&ctx, req, &st).ok()) << "acknowledged " << id << " lost";
  }
  // The set of statements is the same through every index.
  std::set<std::string> by_learner, by_activity;
  for (int l = 0; l < kLearners; ++l) {
    v1::ListStatementsRequest req;
    req.set_learner("u" + std::to_string(l));
    for (const auto& id : ListAll(server.stub.get(), req)) by_learner.insert(id);
  }
  for (int c = 0; c < 7; ++c) {
    v1::ListStatementsRequest req;
    req.set_activity(vocab::CourseIri("c" + std::to_string(c)));
    for (const auto& id : ListAll(server.stub.get(), req)) by_activity.insert(id);
  }
  v1::ListStatementsRequest by_verb_req;
  by_verb_req.set_verb(std::string(vocab::kCompleted));
  std::set<std::string> by_verb = ListAll(server.stub.get(), by_verb_req);
  std::set<std::string> by_stored = ListAll(server.stub.get(), v1::ListStatementsRequest());
  std::set<std::string> gettable;
  for (const std::string& id : attempted) {
    grpc::ClientContext ctx;
    v1::GetStatementRequest req;
    req.set_id(id);
    v1::Statement st;
    if (server.stub->GetStatement(&ctx, req, &st).ok()) gettable.insert(id);
  }
  EXPECT_EQ(by_learner, gettable);
  EXPECT_EQ(by_activity, gettable);
  EXPECT_EQ(by_verb, gettable);
  EXPECT_EQ(by_stored, gettable);
  for (const std::string& id : acked) EXPECT_TRUE(gettable.count(id)) << id;

  // The restarted server keeps accepting writes, and SIGTERM stops it cleanly.
  grpc::ClientContext ctx;
  v1::RecordStatementRequest req;
  req.set_statement_json(MakeStatement({.id = TestUuid(999999999)}));
  v1::Statement st;
  EXPECT_TRUE(server.stub->RecordStatement(&ctx, req, &st).ok());
  absl::StatusOr<int> status = server.process.Stop(SIGTERM);
  ASSERT_TRUE(status.ok());
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

// An erasure answered before its purge (the default): the server killed
// right after the answer, its store's files may still hold the erased bytes,
// and the purge kept in the store runs again at the restart. Also: the erased
// statements never come back.
TEST(RecordsCrash, AnErasureKilledBeforeItsPurgeIsPurgedAfterTheRestart) {
  std::string dir = testing::FreshTempDir("crash_erase");
  const std::string marker = "擦除标记-crash-6e2b";
  {
    Server server = StartServer(dir, 0);
    for (int i = 0; i < 200; ++i) {
      grpc::ClientContext ctx;
      v1::RecordStatementRequest req;
      req.set_statement_json(MakeStatement({.id = TestUuid(i),
                                            .learner = i % 10 == 0 ? "u-erased" : "u" + std::to_string(i % 7),
                                            .course = "c" + std::to_string(i % 9),
                                            .title = i % 10 == 0 ? marker : ""}));
      v1::Statement st;
      ASSERT_TRUE(server.stub->RecordStatement(&ctx, req, &st).ok());
    }
    ASSERT_TRUE(testing::AnyFileContains(dir + "/db", marker)) << "(the check can fail)";
    // A clean stop flushes the statements into table files (a purge must
    // rewrite them; a write-ahead log alone is replayed and dropped).
    absl::StatusOr<int> stopped = server.process.Stop(SIGTERM);
    ASSERT_TRUE(stopped.ok());
  }
  {
    Server server = StartServer(dir, 1);
    grpc::ClientContext ctx;
    v1::EraseLearnerRequest req;
    req.set_learner("u-erased");
    v1::EraseLearnerResponse resp;
    ASSERT_TRUE(server.stub->EraseLearner(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.erased_statements(), 20);
    EXPECT_FALSE(resp.purged());
    absl::StatusOr<int> status = server.process.Stop(SIGKILL);
    ASSERT_TRUE(status.ok());
    EXPECT_TRUE(WIFSIGNALED(*status));
  }
  Server server = StartServer(dir, 2);
  EXPECT_EQ(ListAll(server.stub.get(),
                    [] {
                      v1::ListStatementsRequest r;
                      r.set_learner("u-erased");
                      return r;
                    }())
                .size(),
            0u);
  // Waits for every purge so far: the resumed one included (this erasure
  // finds nothing and purges only the meta family itself).
  grpc::ClientContext ctx;
  v1::EraseLearnerRequest req;
  req.set_learner("u-nobody");
  req.set_wait_for_purge(true);
  v1::EraseLearnerResponse resp;
  grpc::Status s = server.stub->EraseLearner(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(resp.purged());
  EXPECT_FALSE(testing::AnyFileContains(dir + "/db", marker)) << "the erased bytes are still in the store's files";
  EXPECT_EQ(ListAll(server.stub.get(), v1::ListStatementsRequest()).size(), 180u);
}

}  // namespace
}  // namespace lifelong
