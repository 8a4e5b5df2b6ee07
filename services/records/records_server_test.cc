// RecordsServer assembled in-process: gRPC and xAPI over one store, erasure
// reaching the xAPI documents and the erasure ledger, acknowledged writes
// surviving Shutdown and a restart, and each misconfiguration refused with
// the part that failed.
#include "services/records/records_server.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/health_client.h"
#include "services/domain/learner_key.h"
#include "services/records/test_statements.h"
#include "services/xapi/document_store.h"
#include "tests/testing/bounded_wait.h"
#include "tests/testing/subprocess.h"

namespace lifelong::records {
namespace {

using ::lifelong::testing::ReadFile;
using ::lifelong::testing::WaitOrFail;
using testing::MakeStatement;
using testing::TestUuid;

std::string FreshDir(const std::string& name) {
  std::string d = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// A whole server under `dir`: gRPC, xAPI and backups, every port 0.
RecordsServerOptions Options(const std::string& dir) {
  std::ofstream(dir + "/xapi-credentials.txt") << "lrs:s3cret-for-this-test\n";
  RecordsServerOptions o;
  o.data_dir = dir + "/records";
  o.block_cache_bytes = 8 << 20;
  o.xapi_documents_dir = dir + "/documents";
  RecordsXapiOptions x;
  x.http.port = 0;
  x.credentials_file = dir + "/xapi-credentials.txt";
  o.xapi = x;
  o.backup_dir = dir + "/backups";
  o.shutdown_grace = absl::Seconds(2);
  return o;
}

const char kAgentU1[] =
    "%7B%22account%22%3A%7B%22homePage%22%3A%22https%3A%2F%2Fid.dongcheng.gov.cn%22%2C%22name%22%3A%22u1%22%7D%7D";

// The xAPI State document "s1" of learner u1 on activity http://a/1.
std::string StateOfU1() {
  return absl::StrCat("/xapi/activities/state?activityId=http%3A%2F%2Fa%2F1&stateId=s1&agent=", kAgentU1);
}

class Client {
 public:
  explicit Client(const RecordsServer& s)
      : stub_(v1::LearningRecordService::NewStub(
            grpc::CreateChannel(absl::StrCat("127.0.0.1:", s.port()), grpc::InsecureChannelCredentials()))),
        http_("127.0.0.1", s.xapi_port()) {}

  grpc::Status Record(int id, const std::string& learner) {
    grpc::ClientContext c;
    v1::RecordStatementRequest req;
    req.set_statement_json(MakeStatement({.id = TestUuid(id), .learner = learner}));
    v1::Statement out;
    return stub_->RecordStatement(&c, req, &out);
  }
  grpc::Status Erase(const std::string& learner) {
    grpc::ClientContext c;
    v1::EraseLearnerRequest req;
    req.set_learner(learner);
    v1::EraseLearnerResponse out;
    return stub_->EraseLearner(&c, req, &out);
  }
  int Xapi(const std::string& method, const std::string& path, const std::string& body = "") {
    httplib::Headers h = {{"X-Experience-API-Version", "2.0.0"},
                          {"Authorization", "Basic " + absl::Base64Escape("lrs:s3cret-for-this-test")}};
    httplib::Result r = method == "PUT"    ? http_.Put(path.c_str(), h, body, "application/json")
                        : method == "POST" ? http_.Post(path.c_str(), h, body, "application/json")
                                           : http_.Get(path.c_str(), h);
    return r ? r->status : -1;
  }

 private:
  std::unique_ptr<v1::LearningRecordService::Stub> stub_;
  httplib::Client http_;
};

TEST(RecordsServer, ServesOneStoreOverGrpcAndXapiAndKeepsWritesAcrossARestart) {
  const std::string dir = FreshDir("restart");
  {
    absl::StatusOr<std::unique_ptr<RecordsServer>> s = RecordsServer::Start(Options(dir));
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_GT((*s)->port(), 0);
    EXPECT_GT((*s)->xapi_port(), 0);
    EXPECT_EQ((*s)->metrics_port(), -1) << "no /metrics unless asked";
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*s)->port()), grpc::InsecureChannelCredentials());
    EXPECT_EQ(*CheckHealth(channel, "lifelong.v1.LearningRecordService"), HealthState::kServing);
    Client c(**s);
    ASSERT_TRUE(c.Record(1, "u1").ok());
    EXPECT_EQ(c.Xapi("GET", "/xapi/statements?statementId=" + TestUuid(1)), 200) << "written over gRPC, read over xAPI";
    (*s)->Shutdown();
    (*s)->Shutdown();  // idempotent
    (*s)->Wait();      // returns at once after Shutdown
    EXPECT_FALSE(CheckHealth(channel, "", std::chrono::milliseconds(500)).ok()) << "no longer listening";
  }
  // The acknowledged write is in the store the next server opens.
  absl::StatusOr<std::unique_ptr<RecordsServer>> s = RecordsServer::Start(Options(dir));
  ASSERT_TRUE(s.ok()) << s.status();
  Client c(**s);
  EXPECT_EQ(c.Xapi("GET", "/xapi/statements?statementId=" + TestUuid(1)), 200);
  EXPECT_TRUE((*s)->store().Get(*ParseUuid(TestUuid(1))).ok());
}

TEST(RecordsServer, ErasureTakesTheLearnersDocumentsAndIsLedgered) {
  const std::string dir = FreshDir("erasure");
  absl::StatusOr<std::unique_ptr<RecordsServer>> s = RecordsServer::Start(Options(dir));
  ASSERT_TRUE(s.ok()) << s.status();
  Client c(**s);
  ASSERT_TRUE(c.Record(1, "u1").ok());
  const std::string state = StateOfU1();
  ASSERT_EQ(c.Xapi("PUT", state, R"({"step":1})"), 204);
  ASSERT_EQ(c.Xapi("GET", state), 200);
  EXPECT_TRUE(ReadFile(dir + "/backups/" + kErasureLedgerFile).empty());
  ASSERT_TRUE(c.Erase("u1").ok());
  EXPECT_EQ(c.Xapi("GET", "/xapi/statements?statementId=" + TestUuid(1)), 404);
  EXPECT_EQ(c.Xapi("GET", state), 404) << "the learner's xAPI state went with their statements";
  const std::string ledger = ReadFile(dir + "/backups/" + kErasureLedgerFile);
  EXPECT_EQ(std::count(ledger.begin(), ledger.end(), '\n'), 1) << "one ledger line for the restore to re-apply";
}

// A document write that read the learner's document before their erasure
// cannot write it back after: the erasure waits for the write in progress
// (it holds the documents' write lock until its batch is written) and then
// takes the merged document too. Without that lock the merge below wrote
// {"secret":1,"n":1} back after the erasure had answered.
TEST(RecordsServer, AnErasureIsNotUndoneByADocumentWriteInProgress) {
  const std::string dir = FreshDir("erase-vs-merge");
  absl::StatusOr<std::unique_ptr<RecordsServer>> s = RecordsServer::Start(Options(dir));
  ASSERT_TRUE(s.ok()) << s.status();
  Client c(**s), merging(**s);
  ASSERT_TRUE(c.Record(1, "u1").ok());
  const std::string state = StateOfU1();
  ASSERT_EQ(c.Xapi("PUT", state, R"({"secret":1})"), 204);
  absl::Notification merge_read, release_merge, erased;
  std::atomic<bool> first{true};
  (*s)->documents()->SetBeforeWriteHookForTest([&] {
    if (!first.exchange(false)) return;
    merge_read.Notify();
    WaitOrFail(release_merge, "the test to release the merge");
  });
  std::thread merge([&] { EXPECT_EQ(merging.Xapi("POST", state, R"({"n":1})"), 204); });
  WaitOrFail(merge_read, "the merge to read the stored document");
  grpc::Status erase_status;
  std::thread erase([&] {
    erase_status = c.Erase("u1");
    erased.Notify();
  });
  EXPECT_FALSE(erased.WaitForNotificationWithTimeout(absl::Milliseconds(500)))
      << "the erasure answered while a write that read the learner's document was in progress";
  release_merge.Notify();
  merge.join();
  erase.join();
  EXPECT_TRUE(erase_status.ok()) << erase_status.error_message();
  EXPECT_EQ(c.Xapi("GET", state), 404) << "the erased state came back with the merge";
}

// Documents are a family of the record database: a document database an
// earlier version kept in --xapi_documents_dir is imported once, at start,
// and renamed; the next start does not import it again.
TEST(RecordsServer, ImportsAnEarlierVersionsDocumentDatabaseOnce) {
  const std::string dir = FreshDir("import");
  const std::string state = StateOfU1();
  const xapi::DocKey key{xapi::DocKind::kState, "http://a/1",
                         domain::AccountLearnerKey("https://id.dongcheng.gov.cn", "u1"), "", "s1"};
  {
    // As an earlier version left it: documents in a database of their own.
    absl::StatusOr<std::unique_ptr<xapi::DocumentStore>> legacy = xapi::DocumentStore::Open(dir + "/documents");
    ASSERT_TRUE(legacy.ok()) << legacy.status();
    ASSERT_TRUE((*legacy)->Put(key, "application/json", R"({"step":7})", {}, 1'700'000'000'000'000).ok());
  }
  {
    absl::StatusOr<std::unique_ptr<RecordsServer>> s = RecordsServer::Start(Options(dir));
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_FALSE(std::filesystem::exists(dir + "/documents")) << "renamed after the import";
    EXPECT_TRUE(std::filesystem::exists(dir + "/documents.imported/CURRENT"));
    Client c(**s);
    EXPECT_EQ(c.Xapi("GET", state), 200) << "served from the record database";
    absl::StatusOr<xapi::Document> d = (*s)->documents()->Get(key);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->content, R"({"step":7})");
    EXPECT_EQ(d->updated_us, 1'700'000'000'000'000) << "imported as stored";
    EXPECT_FALSE(d->etag.empty());
    // A learner's erasure now takes the imported documents in its batch.
    ASSERT_TRUE(c.Erase("u1").ok());
    EXPECT_EQ(c.Xapi("GET", state), 404);
  }
  // Restarted: nothing imported again (the erased document stays erased).
  absl::StatusOr<std::unique_ptr<RecordsServer>> s = RecordsServer::Start(Options(dir));
  ASSERT_TRUE(s.ok()) << s.status();
  Client c(**s);
  EXPECT_EQ(c.Xapi("GET", state), 404);
}

// An erasure whose document part fails writes nothing: the statements stay.
TEST(RecordsServer, AnErasureIsOneBatchWithTheDocuments) {
  const std::string dir = FreshDir("one-batch");
  absl::StatusOr<std::unique_ptr<RecordsServer>> s = RecordsServer::Start(Options(dir));
  ASSERT_TRUE(s.ok()) << s.status();
  Client c(**s);
  ASSERT_TRUE(c.Record(1, "u1").ok());
  const std::string state = StateOfU1();
  ASSERT_EQ(c.Xapi("PUT", state, R"({"step":1})"), 204);
  (*s)->store().SetEraseExtension([](const std::string&, rocksdb::WriteBatch*) -> absl::StatusOr<int64_t> {
    return absl::UnavailableError("documents: disk unavailable");
  });
  grpc::Status erased = c.Erase("u1");
  EXPECT_FALSE(erased.ok());
  EXPECT_EQ(c.Xapi("GET", "/xapi/statements?statementId=" + TestUuid(1)), 200) << "nothing half-erased";
  EXPECT_EQ(c.Xapi("GET", state), 200);
}

TEST(RecordsServer, GrpcAndXapiCallsAreAuditedThroughOneLog) {
  const std::string dir = FreshDir("one_audit_log");
  auth::AuthOptions ao;
  ao.enabled = true;
  ao.token.key = "records-server-test-key-0123456789abcdef";
  auth::Authorizer authorizer(ao);
  RecordsServerOptions o = Options(dir);
  o.service.authorizer = &authorizer;
  std::ofstream(o.xapi->credentials_file) << "lrs:s3cret-for-this-test role=loader subject=svc-feed\n";
  absl::StatusOr<std::unique_ptr<RecordsServer>> s = RecordsServer::Start(std::move(o));
  ASSERT_TRUE(s.ok()) << s.status();
  AuditLog& log = (*s)->service().audit_log();
  const uint64_t before = log.stats().rows_written;
  Client c(**s);
  EXPECT_EQ(c.Xapi("GET", "/xapi/statements?statementId=" + TestUuid(1)), 404);
  EXPECT_EQ(log.stats().rows_written, before + 1) << "the xAPI row went through the service's AuditLog";
  EXPECT_EQ(c.Record(1, "u1").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(log.stats().unauthenticated, 1u);
  absl::StatusOr<AuditPage> rows = (*s)->store().ListAudit({.page_size = 10});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->events.size(), 2u);
  EXPECT_EQ(rows->events[1].operation, "xapi:GET /statements");
  EXPECT_EQ(rows->events[1].subject, "svc-feed");
  EXPECT_EQ(rows->events[0].subject, kUnauthenticatedSubject);
}

TEST(RecordsServer, WaitReturnsWhenAnotherThreadShutsDown) {
  absl::StatusOr<std::unique_ptr<RecordsServer>> s = RecordsServer::Start(Options(FreshDir("wait")));
  ASSERT_TRUE(s.ok()) << s.status();
  std::thread stopper([&] { (*s)->Shutdown(); });
  (*s)->Wait();
  stopper.join();
}

TEST(RecordsServer, EachMisconfigurationIsRefusedNamingThePart) {
  const std::string dir = FreshDir("refusals");
  {
    RecordsServerOptions o = Options(dir);
    o.backup_keep = 0;
    absl::Status s = RecordsServer::Start(std::move(o)).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_TRUE(absl::StartsWith(s.message(), "backup_keep:")) << s;
    EXPECT_EQ(RecordsServer::StartupStep(s), "backup_config");
  }
  {
    RecordsServerOptions o = Options(dir);
    o.backup_interval = -absl::Seconds(1);
    absl::Status s = RecordsServer::Start(std::move(o)).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_EQ(RecordsServer::StartupStep(s), "backup_config");
  }
  {
    RecordsServerOptions o = Options(dir);
    std::ofstream(dir + "/not-a-directory") << "x";
    o.data_dir = dir + "/not-a-directory";
    absl::Status s = RecordsServer::Start(std::move(o)).status();
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(RecordsServer::StartupStep(s), "store_open_failed") << s;
  }
  {
    RecordsServerOptions o = Options(dir);
    o.xapi->credentials_file = dir + "/missing-credentials.txt";
    absl::Status s = RecordsServer::Start(std::move(o)).status();
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(RecordsServer::StartupStep(s), "xapi_credentials") << s;
  }
  {
    // With authentication on, a password from the repository is refused.
    std::ofstream(dir + "/published.txt") << "lrs:lifelong-dev\n";
    auth::AuthOptions ao;
    ao.enabled = true;
    ao.token.key = "records-server-test-key-0123456789abcdef";
    auth::Authorizer authorizer(ao);
    RecordsServerOptions o = Options(dir);
    o.service.authorizer = &authorizer;
    o.xapi->credentials_file = dir + "/published.txt";
    absl::Status s = RecordsServer::Start(std::move(o)).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_EQ(RecordsServer::StartupStep(s), "xapi_credentials") << s;
  }
  {
    // A second server on the same store: RocksDB's lock refuses it, and the
    // first keeps serving.
    absl::StatusOr<std::unique_ptr<RecordsServer>> first = RecordsServer::Start(Options(dir));
    ASSERT_TRUE(first.ok()) << first.status();
    RecordsServerOptions o = Options(dir);
    o.backup_dir.clear();
    absl::Status s = RecordsServer::Start(std::move(o)).status();
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(RecordsServer::StartupStep(s), "store_open_failed") << s;
    EXPECT_TRUE(Client(**first).Record(1, "u1").ok());
  }
  EXPECT_EQ(RecordsServer::StartupStep(absl::InternalError("elsewhere")), "records_start_failed");
}

}  // namespace
}  // namespace lifelong::records
