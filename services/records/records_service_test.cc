// Service tests through a real gRPC server on a port picked at runtime.
#include "services/records/records_service.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

#include "services/auth/authorizer.h"
#include "services/auth/oidc.h"
#include "services/auth/token.h"
#include "services/common/health_client.h"
#include "services/common/server.h"
#include "services/domain/vocabulary.h"
#include "services/records/test_statements.h"
#include "tests/testing/bounded_wait.h"
#include "tests/testing/subprocess.h"

namespace lifelong::records {
namespace {

using testing::MakeStatement;
using testing::StatementSpec;
using testing::TestUuid;

// A store of its own under TEST_TMPDIR/`name`, empty.
std::unique_ptr<RecordStore> FreshStore(const std::string& name) {
  return std::move(*RecordStore::Open(lifelong::testing::FreshTempDir(name)));
}

// Bearer-token authentication on, with the tests' signing key.
auth::AuthOptions TokenAuth() {
  auth::AuthOptions ao;
  ao.enabled = true;
  ao.token.key = "records-service-test-key-0123456789abcdef";
  return ao;
}

class RecordsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    dir_ =
        std::string(base ? base : "/tmp") + "/svc_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    store_ = std::move(*RecordStore::Open(dir_));
    service_ = std::make_unique<RecordsService>(store_.get());
    GrpcServerOptions options;
    options.health_service_names = {"lifelong.v1.LearningRecordService"};
    auto server = StartGrpcServer(options, {service_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->SetServing(true);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials());
    stub_ = v1::LearningRecordService::NewStub(channel_);
  }

  void TearDown() override {
    server_.reset();
    store_.reset();
  }

  grpc::Status Record(const StatementSpec& spec, v1::Statement* out = nullptr) {
    grpc::ClientContext ctx;
    v1::RecordStatementRequest req;
    req.set_statement_json(MakeStatement(spec));
    req.set_view(v1::STATEMENT_VIEW_FULL);
    v1::Statement resp;
    grpc::Status s = stub_->RecordStatement(&ctx, req, &resp);
    if (out) *out = resp;
    return s;
  }

  std::string dir_;
  std::unique_ptr<RecordStore> store_;
  std::unique_ptr<RecordsService> service_;
  std::unique_ptr<RunningGrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LearningRecordService::Stub> stub_;
};

TEST_F(RecordsServiceTest, RecordGetAndIdempotentReplay) {
  v1::Statement out;
  ASSERT_TRUE(Record({.id = TestUuid(1), .learner = "u7", .course = "c3"}, &out).ok());
  EXPECT_EQ(out.id(), TestUuid(1));
  EXPECT_EQ(out.learner(), "u7");
  EXPECT_EQ(out.activity(), vocab::CourseIri("c3"));
  EXPECT_GT(out.stored().seconds(), 0);
  EXPECT_TRUE(Record({.id = TestUuid(1), .learner = "u7", .course = "c3"}).ok());
  grpc::Status conflict = Record({.id = TestUuid(1), .learner = "u7", .course = "c4"});
  EXPECT_EQ(conflict.error_code(), grpc::StatusCode::ALREADY_EXISTS);

  grpc::ClientContext ctx;
  v1::GetStatementRequest get;
  get.set_id(TestUuid(1));
  v1::Statement got;
  ASSERT_TRUE(stub_->GetStatement(&ctx, get, &got).ok());
  EXPECT_EQ(got.json(), out.json());
  // The default (BASIC) reply leaves the JSON out.
  grpc::ClientContext basic_ctx;
  v1::RecordStatementRequest basic;
  basic.set_statement_json(MakeStatement({.id = TestUuid(1), .learner = "u7", .course = "c3"}));
  v1::Statement basic_out;
  ASSERT_TRUE(stub_->RecordStatement(&basic_ctx, basic, &basic_out).ok());
  EXPECT_TRUE(basic_out.json().empty());
  EXPECT_EQ(basic_out.id(), TestUuid(1));
}

TEST_F(RecordsServiceTest, BadInputGetsInvalidArgumentNamingTheField) {
  grpc::ClientContext c1;
  v1::RecordStatementRequest req;
  req.set_statement_json(R"({"actor":{"mbox":"mailto:a@b.cn"},"verb":{"id":"nope"},"object":{"id":"http://x/y"}})");
  v1::Statement out;
  grpc::Status s = stub_->RecordStatement(&c1, req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("statement.verb.id"), std::string::npos) << s.error_message();

  grpc::ClientContext c2;
  v1::GetStatementRequest get;
  get.set_id("123");
  s = stub_->GetStatement(&c2, get, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("id:"), std::string::npos);

  grpc::ClientContext c3;
  get.set_id(TestUuid(99));
  EXPECT_EQ(stub_->GetStatement(&c3, get, &out).error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext c4;
  v1::ListStatementsRequest list;
  list.set_learner("ftp:bad");
  v1::ListStatementsResponse lr;
  s = stub_->ListStatements(&c4, list, &lr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("learner"), std::string::npos);

  grpc::ClientContext c5;
  list.set_learner("u1");
  list.set_page_token("forged");
  s = stub_->ListStatements(&c5, list, &lr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("page_token"), std::string::npos);

  grpc::ClientContext c6;
  list.set_page_token("");
  list.mutable_since()->set_seconds(-99999999999999);
  EXPECT_EQ(stub_->ListStatements(&c6, list, &lr).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Filters longer than anything stored are named, not answered with an empty page.
  list.clear_since();
  for (const char* field : {"verb", "activity"}) {
    v1::ListStatementsRequest longer = list;
    const std::string iri = "http://x/" + std::string(5000, 'v');
    if (std::string(field) == "verb")
      longer.set_verb(iri);
    else
      longer.set_activity(iri);
    grpc::ClientContext c7;
    s = stub_->ListStatements(&c7, longer, &lr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_NE(s.error_message().find(std::string(field) + ": longer than 4096"), std::string::npos)
        << s.error_message();
  }
}

// A learner's largest statements (about 1 MiB each) come back over pages
// that a client with gRPC's default 4 MiB receive limit can take; the basic
// view (no JSON) is not cut.
TEST_F(RecordsServiceTest, PagesOfLargeStatementsFitAClientsDefaultReceiveLimit) {
  std::vector<ParsedStatement> batch;
  for (int i = 0; i < 8; ++i) {
    batch.push_back(*ParseStatement(MakeStatement({.id = TestUuid(i), .title = std::string(900 << 10, 'x')})));
  }
  ASSERT_TRUE(store_->Record(std::move(batch)).ok());
  v1::ListStatementsRequest list;
  list.set_learner("u1");
  list.set_page_size(100);
  std::set<std::string> seen;
  int pages = 0;
  do {
    grpc::ClientContext ctx;
    v1::ListStatementsResponse lr;
    grpc::Status s = stub_->ListStatements(&ctx, list, &lr);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_LT(lr.ByteSizeLong(), size_t{4} << 20);
    for (const v1::Statement& st : lr.statements()) {
      EXPECT_FALSE(st.json().empty());
      EXPECT_TRUE(seen.insert(st.id()).second) << st.id() << " twice";
    }
    list.set_page_token(lr.next_page_token());
    ++pages;
  } while (!list.page_token().empty() && pages < 10);
  EXPECT_EQ(seen.size(), 8u);
  EXPECT_GE(pages, 3);  // 3 statements a page (2.7 MB): a fourth would pass 3 MiB
  grpc::ClientContext ctx;
  list.set_page_token("");
  list.set_view(v1::STATEMENT_VIEW_BASIC);
  v1::ListStatementsResponse basic;
  ASSERT_TRUE(stub_->ListStatements(&ctx, list, &basic).ok());
  EXPECT_EQ(basic.statements_size(), 8);
  EXPECT_TRUE(basic.next_page_token().empty());
}

TEST_F(RecordsServiceTest, BatchAllOrNothingAndLimits) {
  grpc::ClientContext c1;
  v1::RecordStatementsRequest batch;
  batch.add_statement_json(MakeStatement({.id = TestUuid(1)}));
  batch.add_statement_json(R"({"actor":{}})");
  v1::RecordStatementsResponse resp;
  grpc::Status s = stub_->RecordStatements(&c1, batch, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("statement_json[1]"), std::string::npos) << s.error_message();
  grpc::ClientContext c2;
  v1::GetStatementRequest get;
  get.set_id(TestUuid(1));
  v1::Statement out;
  EXPECT_EQ(stub_->GetStatement(&c2, get, &out).error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext c3;
  v1::RecordStatementsRequest big;
  for (int i = 0; i <= kMaxBatchStatements; ++i) big.add_statement_json(MakeStatement({.id = TestUuid(i)}));
  EXPECT_EQ(stub_->RecordStatements(&c3, big, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext c4;
  big.mutable_statement_json()->RemoveLast();
  ASSERT_TRUE(stub_->RecordStatements(&c4, big, &resp).ok());
  EXPECT_EQ(resp.statements_size(), kMaxBatchStatements);
}

// A batch's statement whose id is stored with other content is named by its
// place in the batch, so that a client can leave that one out.
TEST_F(RecordsServiceTest, BatchConflictNamesTheStatementsIndex) {
  ASSERT_TRUE(Record({.id = TestUuid(2), .course = "c1"}).ok());
  grpc::ClientContext ctx;
  v1::RecordStatementsRequest batch;
  batch.add_statement_json(MakeStatement({.id = TestUuid(1)}));
  batch.add_statement_json(MakeStatement({.id = TestUuid(2), .course = "c2"}));  // other content
  batch.add_statement_json(MakeStatement({.id = TestUuid(3)}));
  v1::RecordStatementsResponse resp;
  grpc::Status s = stub_->RecordStatements(&ctx, batch, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(s.error_message(),
            absl::StrCat("statement_json[1].id: ", TestUuid(2), " already exists with different content"));
}

// Of an id sent twice in one batch with different content, the copy that
// conflicts (the second) is the one named, on the wire and in process.
TEST_F(RecordsServiceTest, BatchConflictNamesTheSecondCopyOfARepeatedId) {
  v1::RecordStatementsRequest batch;
  batch.add_statement_json(MakeStatement({.id = TestUuid(5), .course = "c1"}));
  batch.add_statement_json(MakeStatement({.id = TestUuid(6)}));
  batch.add_statement_json(MakeStatement({.id = TestUuid(5), .course = "c2"}));  // other content
  const std::string expected =
      absl::StrCat("statement_json[2].id: ", TestUuid(5), " already exists with different content");
  grpc::ClientContext ctx;
  v1::RecordStatementsResponse resp;
  grpc::Status s = stub_->RecordStatements(&ctx, batch, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(s.error_message(), expected);
  grpc::Status direct = service_->RecordStatements(nullptr, &batch, &resp);  // the synchronous path
  EXPECT_EQ(direct.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(direct.error_message(), expected);
}

// A store refusal other than a conflict (here: voiding a voiding statement)
// names the refused statement by its place in the batch too, with its code.
TEST_F(RecordsServiceTest, BatchStoreRefusalNamesTheStatementsIndex) {
  ASSERT_TRUE(Record({.id = TestUuid(1)}).ok());
  ASSERT_TRUE(Record({.id = TestUuid(2), .verb = "voided", .course = TestUuid(1)}).ok());
  v1::RecordStatementsRequest batch;
  batch.add_statement_json(MakeStatement({.id = TestUuid(3)}));
  batch.add_statement_json(MakeStatement({.id = TestUuid(4)}));
  batch.add_statement_json(MakeStatement({.id = TestUuid(5), .verb = "voided", .course = TestUuid(2)}));
  const std::string expected =
      absl::StrCat("statement_json[2].object.id: ", TestUuid(2), " is a voiding statement, which cannot be voided");
  grpc::ClientContext ctx;
  v1::RecordStatementsResponse resp;
  grpc::Status s = stub_->RecordStatements(&ctx, batch, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), expected);
  grpc::Status direct = service_->RecordStatements(nullptr, &batch, &resp);  // the synchronous path
  EXPECT_EQ(direct.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(direct.error_message(), expected);
  // RecordStatement names its one statement `statement`, as before.
  grpc::ClientContext one_ctx;
  v1::RecordStatementRequest one;
  one.set_statement_json(batch.statement_json(2));
  v1::Statement out;
  grpc::Status single = stub_->RecordStatement(&one_ctx, one, &out);
  EXPECT_EQ(single.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(single.error_message(),
            absl::StrCat("statement.object.id: ", TestUuid(2), " is a voiding statement, which cannot be voided"));
}

TEST_F(RecordsServiceTest, OversizeStatementRejected) {
  grpc::ClientContext ctx;
  v1::RecordStatementRequest req;
  req.set_statement_json(std::string(2 << 20, ' ') + MakeStatement({}));
  v1::Statement out;
  grpc::Status s = stub_->RecordStatement(&ctx, req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("larger than"), std::string::npos);

  // Under the limit, a request that arrives in many slices is read whole.
  grpc::ClientContext big_ctx;
  v1::RecordStatementRequest big;
  big.set_statement_json(std::string(512 << 10, ' ') + MakeStatement({.id = TestUuid(9), .learner = "u9"}));
  big.set_view(v1::STATEMENT_VIEW_FULL);
  v1::Statement big_out;
  ASSERT_TRUE(stub_->RecordStatement(&big_ctx, big, &big_out).ok());
  EXPECT_EQ(big_out.id(), TestUuid(9));
  EXPECT_EQ(big_out.learner(), "u9");
  EXPECT_GT(big_out.json().size(), size_t{512} << 10);  // as sent, with what the store adds
}

TEST_F(RecordsServiceTest, ListPagesWithOpaqueTokens) {
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(Record({.id = TestUuid(i), .learner = "u1"}).ok());
  v1::ListStatementsRequest req;
  req.set_learner("u1");
  req.set_page_size(3);
  std::vector<std::string> ids;
  for (;;) {
    grpc::ClientContext ctx;
    v1::ListStatementsResponse resp;
    ASSERT_TRUE(stub_->ListStatements(&ctx, req, &resp).ok());
    for (const auto& s : resp.statements()) ids.push_back(s.id());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  ASSERT_EQ(ids.size(), 7u);
  EXPECT_EQ(ids.front(), TestUuid(6));
  EXPECT_EQ(ids.back(), TestUuid(0));
}

TEST_F(RecordsServiceTest, VoidStatement) {
  ASSERT_TRUE(Record({.id = TestUuid(1), .learner = "u1"}).ok());
  grpc::ClientContext c1;
  v1::VoidStatementRequest req;
  req.set_id(TestUuid(1));
  v1::Statement voiding;
  ASSERT_TRUE(stub_->VoidStatement(&c1, req, &voiding).ok());
  EXPECT_EQ(voiding.verb(), vocab::kVoided);

  grpc::ClientContext c2;
  v1::GetStatementRequest get;
  get.set_id(TestUuid(1));
  v1::Statement got;
  ASSERT_TRUE(stub_->GetStatement(&c2, get, &got).ok());
  EXPECT_TRUE(got.voided());
  EXPECT_EQ(got.voided_by(), voiding.id());  // what `lifelong export --learner` fetches

  grpc::ClientContext c3;
  v1::ListStatementsRequest list;
  list.set_learner("u1");
  v1::ListStatementsResponse lr;
  ASSERT_TRUE(stub_->ListStatements(&c3, list, &lr).ok());
  EXPECT_EQ(lr.statements_size(), 0);

  grpc::ClientContext c4;
  req.set_id(voiding.id());
  EXPECT_EQ(stub_->VoidStatement(&c4, req, &got).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  grpc::ClientContext c5;
  req.set_id(TestUuid(50));
  EXPECT_EQ(stub_->VoidStatement(&c5, req, &got).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RecordsServiceTest, TranscriptExportAndErase) {
  ASSERT_TRUE(Record({.id = TestUuid(1),
                      .learner = "u1",
                      .verb = "passed",
                      .course = "c1",
                      .credits = 2,
                      .hours = 10,
                      .mode = "offline",
                      .xuequ = "东四学区"})
                  .ok());
  ASSERT_TRUE(Record({.id = TestUuid(2), .learner = "u1", .verb = "attended", .course = "c2"}).ok());
  ASSERT_TRUE(Record({.id = TestUuid(3), .learner = "u2", .verb = "passed", .course = "c1"}).ok());

  grpc::ClientContext c1;
  v1::GetTranscriptRequest treq;
  treq.set_learner("u1");
  v1::Transcript t;
  ASSERT_TRUE(stub_->GetTranscript(&c1, treq, &t).ok());
  ASSERT_EQ(t.entries_size(), 1);
  EXPECT_EQ(t.entries(0).outcome(), "passed");
  EXPECT_DOUBLE_EQ(t.credits(), 2);
  // Authentication off: every caller is the operator "anonymous", an
  // entitled issuer (docs/records.md, "Credits and issuers").
  EXPECT_TRUE(t.entries(0).verified());
  EXPECT_EQ(t.entries(0).issuer(), "operator:anonymous");
  EXPECT_EQ(t.unverified_courses(), 0);
  ASSERT_EQ(t.by_xuequ_size(), 1);
  EXPECT_EQ(t.by_xuequ(0).key(), "东四学区");

  auto export_count = [&](const std::string& learner) {
    grpc::ClientContext ctx;
    v1::ExportLearnerRequest req;
    req.set_learner(learner);
    auto reader = stub_->ExportLearner(&ctx, req);
    v1::Statement s;
    int n = 0;
    while (reader->Read(&s)) ++n;
    EXPECT_TRUE(reader->Finish().ok());
    return n;
  };
  EXPECT_EQ(export_count("u1"), 2);

  grpc::ClientContext c2;
  v1::EraseLearnerRequest ereq;
  ereq.set_learner("u1");
  v1::EraseLearnerResponse eresp;
  ASSERT_TRUE(stub_->EraseLearner(&c2, ereq, &eresp).ok());
  EXPECT_EQ(eresp.erased_statements(), 2);
  EXPECT_EQ(export_count("u1"), 0);
  EXPECT_EQ(export_count("u2"), 1);
  grpc::ClientContext c3;
  v1::GetStatementRequest get;
  get.set_id(TestUuid(1));
  v1::Statement got;
  EXPECT_EQ(stub_->GetStatement(&c3, get, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(eresp.purged()) << "answered without waiting for the purge of the files";
  // wait_for_purge: answered once the store's files are rewritten too.
  grpc::ClientContext c4;
  ereq.set_learner("u2");
  ereq.set_wait_for_purge(true);
  ASSERT_TRUE(stub_->EraseLearner(&c4, ereq, &eresp).ok());
  EXPECT_EQ(eresp.erased_statements(), 1);
  EXPECT_TRUE(eresp.purged());
}

// The retraining schedule's probe: the epoch counts erasures that removed
// statements, and carries when the latest completed.
TEST_F(RecordsServiceTest, GetErasureEpochCountsErasuresThatRemovedStatements) {
  auto epoch = [&] {
    grpc::ClientContext ctx;
    v1::ErasureEpoch out;
    EXPECT_TRUE(stub_->GetErasureEpoch(&ctx, v1::GetErasureEpochRequest(), &out).ok());
    return out;
  };
  EXPECT_EQ(epoch().epoch(), 0u);
  EXPECT_FALSE(epoch().has_latest_erasure_time());
  ASSERT_TRUE(Record({.id = TestUuid(1), .learner = "u1", .verb = "attended", .course = "c2"}).ok());
  auto erase = [&](const std::string& learner) {
    grpc::ClientContext ctx;
    v1::EraseLearnerRequest req;
    req.set_learner(learner);
    v1::EraseLearnerResponse out;
    EXPECT_TRUE(stub_->EraseLearner(&ctx, req, &out).ok());
  };
  erase("u-nobody");  // nothing erased: no new epoch
  EXPECT_EQ(epoch().epoch(), 0u);
  erase("u1");
  const v1::ErasureEpoch after = epoch();
  EXPECT_EQ(after.epoch(), 1u);
  EXPECT_TRUE(after.has_latest_erasure_time());
  EXPECT_GT(after.latest_erasure_time().seconds(), 0);
}

TEST_F(RecordsServiceTest, ExportStatementsResumesFromCursor) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Record({.id = TestUuid(i)}).ok());
  std::string cursor;
  {
    grpc::ClientContext ctx;
    v1::ExportStatementsRequest req;
    req.set_limit(2);
    auto reader = stub_->ExportStatements(&ctx, req);
    v1::Statement s;
    int n = 0;
    while (reader->Read(&s)) {
      ++n;
      cursor = s.cursor();
    }
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(n, 2);
  }
  grpc::ClientContext ctx;
  v1::ExportStatementsRequest req;
  req.set_after_cursor(cursor);
  auto reader = stub_->ExportStatements(&ctx, req);
  v1::Statement s;
  std::vector<std::string> ids;
  while (reader->Read(&s)) ids.push_back(s.id());
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(ids, (std::vector<std::string>{TestUuid(2), TestUuid(3), TestUuid(4)}));

  grpc::ClientContext bad;
  req.set_after_cursor("abc");
  auto r2 = stub_->ExportStatements(&bad, req);
  while (r2->Read(&s)) {
  }
  EXPECT_EQ(r2->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// The change feed over gRPC: the first message says "live"; a recorded
// statement, a voided one and an erasure each name the learners whose
// records changed; and a write is answered only after the watcher
// acknowledged the change.
TEST_F(RecordsServiceTest, WatchLearnerChangesTellsWhoseRecordsChangedBeforeTheWriteIsAnswered) {
  grpc::ClientContext wctx;
  auto watch = stub_->WatchLearnerChanges(&wctx);
  v1::LearnerChanges m;
  ASSERT_TRUE(watch->Read(&m));
  EXPECT_EQ(m.sequence(), 0);
  EXPECT_EQ(m.learners_size(), 0);

  auto ack = [&](const v1::LearnerChanges& c) {
    v1::LearnerChangesAck a;
    a.set_sequence(c.sequence());
    return watch->Write(a);
  };
  // The next change: heartbeats (no learners, sent while nothing changes)
  // are acknowledged and passed over; each repeats the last sequence sent.
  int64_t last_sequence = 0;
  auto read_change = [&](v1::LearnerChanges* c) {
    while (watch->Read(c)) {
      if (c->learners_size() > 0) {
        EXPECT_GT(c->sequence(), last_sequence);
        last_sequence = c->sequence();
        return true;
      }
      EXPECT_EQ(c->sequence(), last_sequence) << "a heartbeat repeats the last sequence";
      if (!ack(*c)) return false;
    }
    return false;
  };
  // While nothing changes, heartbeats: the last sequence again, no learners.
  ASSERT_TRUE(watch->Read(&m));
  EXPECT_EQ(m.sequence(), 0);
  EXPECT_EQ(m.learners_size(), 0);
  ASSERT_TRUE(ack(m));
  // The writer is answered only once the watcher acknowledges (here late).
  std::atomic<bool> answered{false};
  std::thread writer([&] {
    EXPECT_TRUE(Record({.id = TestUuid(1), .learner = "u7", .course = "c3"}).ok());
    answered = true;
  });
  ASSERT_TRUE(read_change(&m));
  EXPECT_GT(m.sequence(), 0);
  ASSERT_EQ(m.learners_size(), 1);
  EXPECT_EQ(m.learners(0), "u7");
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_FALSE(answered.load());
  ASSERT_TRUE(ack(m));
  writer.join();
  EXPECT_TRUE(answered.load());

  // Voiding changes the target's learner (and the voiding actor's).
  std::thread voider([&] {
    grpc::ClientContext ctx;
    v1::VoidStatementRequest req;
    req.set_id(TestUuid(1));
    req.set_actor("u9");
    v1::Statement out;
    EXPECT_TRUE(stub_->VoidStatement(&ctx, req, &out).ok());
  });
  ASSERT_TRUE(read_change(&m));
  std::vector<std::string> got(m.learners().begin(), m.learners().end());
  EXPECT_EQ(got, (std::vector<std::string>{"u7", "u9"}));
  ASSERT_TRUE(ack(m));
  voider.join();

  // Erasure.
  std::thread eraser([&] {
    grpc::ClientContext ctx;
    v1::EraseLearnerRequest req;
    req.set_learner("u7");
    v1::EraseLearnerResponse out;
    EXPECT_TRUE(stub_->EraseLearner(&ctx, req, &out).ok());
  });
  ASSERT_TRUE(read_change(&m));
  ASSERT_GE(m.learners_size(), 1);
  EXPECT_EQ(m.learners(0), "u7");
  ASSERT_TRUE(ack(m));
  eraser.join();

  // Closing the feed (server shutdown) ends the stream with UNAVAILABLE.
  service_->CloseChangeFeed();
  while (watch->Read(&m)) {  // a heartbeat sent before the close
    EXPECT_EQ(m.learners_size(), 0);
    if (!ack(m)) break;
  }
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

// A watcher that never acknowledges is dropped (its stream ends) and writes
// go on without it.
TEST_F(RecordsServiceTest, AWatcherThatStopsAcknowledgingIsDropped) {
  grpc::ClientContext wctx;
  auto watch = stub_->WatchLearnerChanges(&wctx);
  v1::LearnerChanges m;
  ASSERT_TRUE(watch->Read(&m));
  absl::Time t0 = absl::Now();
  ASSERT_TRUE(Record({.id = TestUuid(2), .learner = "u1", .course = "c1"}).ok());
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));
  EXPECT_EQ(service_->change_feed().dropped_watchers(), 1);
  while (watch->Read(&m)) {
  }
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::CANCELLED);  // cut by the server
  t0 = absl::Now();
  ASSERT_TRUE(Record({.id = TestUuid(3), .learner = "u1", .course = "c1"}).ok());
  EXPECT_LT(absl::Now() - t0, absl::Milliseconds(400));
}

// An acknowledgement is a sequence number: a larger one is refused before
// it is parsed (records_server parses acknowledgements itself).
TEST_F(RecordsServiceTest, AcknowledgementsAreBoundedBeforeTheyAreParsed) {
  grpc::ClientContext wctx;
  wctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));  // accepted: heartbeats until then
  auto watch = stub_->WatchLearnerChanges(&wctx);
  v1::LearnerChanges m;
  ASSERT_TRUE(watch->Read(&m));
  // The write waits for the watcher's acknowledgement (or its drop).
  std::thread write([&] { Record({.id = TestUuid(4), .learner = "u1", .course = "c1"}); });
  ASSERT_TRUE(watch->Read(&m));
  ASSERT_GT(m.sequence(), 0);
  v1::LearnerChangesAck ack;
  ack.set_sequence(m.sequence());
  ack.GetReflection()->MutableUnknownFields(&ack)->AddLengthDelimited(99, std::string(100 << 10, '\0'));
  watch->Write(ack);
  while (watch->Read(&m)) {
  }
  write.join();
  grpc::Status s = watch->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(s.error_message(), "request: 102407 bytes, more than the 1024 bytes WatchLearnerChanges accepts");
}

TEST_F(RecordsServiceTest, HealthReportsServing) {
  EXPECT_EQ(*CheckHealth(channel_, ""), HealthState::kServing);
  EXPECT_EQ(*CheckHealth(channel_, "lifelong.v1.LearningRecordService"), HealthState::kServing);
}

}  // namespace
}  // namespace lifelong::records

namespace lifelong::records {
namespace {

// Server-side limits: request size (RESOURCE_EXHAUSTED) and the stream
// deadline (DEADLINE_EXCEEDED, resumable from the last cursor).
TEST_F(RecordsServiceTest, BackupsWithoutABackupDirectoryAreAFailedPrecondition) {
  grpc::ClientContext c1, c2, c3;
  v1::Backup b;
  grpc::Status s = stub_->CreateBackup(&c1, v1::CreateBackupRequest(), &b);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("--backup_dir"), std::string::npos) << s.error_message();
  v1::ListBackupsResponse listed;
  EXPECT_EQ(stub_->ListBackups(&c2, v1::ListBackupsRequest(), &listed).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::VerifyBackupRequest verify;  // the id is checked first
  EXPECT_EQ(stub_->VerifyBackup(&c3, verify, &b).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// wait_for_purge with a purge still running: answered purged:false before
// the call's deadline (not DEADLINE_EXCEEDED for an erasure that happened);
// once the purge is done, purged:true; a failed purge: UNAVAILABLE naming it.
TEST(RecordsServicePurge, WaitForPurgeAnswersBeforeTheDeadlineAndReportsAFailedPurge) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(base ? base : "/tmp") + "/svc_purge";
  std::filesystem::remove_all(dir);
  // 0: hold the purge until `release`; 1: fail it; 2: let it run.
  auto mode = std::make_shared<std::atomic<int>>(0);
  auto release = std::make_shared<absl::Notification>();
  RecordStoreOptions so;
  so.purge_retry_delay = absl::Hours(1);
  so.test_hooks.before_purge = [mode, release]() -> absl::Status {
    if (mode->load() == 0) ::lifelong::testing::WaitOrFail(*release, "the test to release the held purge");
    if (mode->load() == 1) return absl::UnavailableError("no space left on device");
    return absl::OkStatus();
  };
  auto store = std::move(*RecordStore::Open(dir, so));
  RecordsService service(store.get());
  auto server = std::move(*StartGrpcServer(GrpcServerOptions{}, {&service}));
  auto stub = v1::LearningRecordService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
  auto erase = [&](const std::string& learner, absl::Duration timeout, v1::EraseLearnerResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::EraseLearnerRequest req;
    req.set_learner(learner);
    req.set_wait_for_purge(true);
    return stub->EraseLearner(&ctx, req, resp);
  };
  for (const char* l : {"u1", "u2", "u3"}) {
    grpc::ClientContext ctx;
    v1::RecordStatementRequest req;
    req.set_statement_json(MakeStatement({.id = TestUuid(l[1]), .learner = l}));
    v1::Statement st;
    ASSERT_TRUE(stub->RecordStatement(&ctx, req, &st).ok());
  }
  v1::EraseLearnerResponse held;
  const absl::Time start = absl::Now();
  grpc::Status s = erase("u1", absl::Seconds(2), &held);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(held.erased_statements(), 1);
  EXPECT_FALSE(held.purged()) << "the purge is held";
  mode->store(2);
  release->Notify();
  v1::EraseLearnerResponse done;
  s = erase("u2", absl::Seconds(30), &done);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(done.erased_statements(), 1);
  EXPECT_TRUE(done.purged());
  mode->store(1);
  v1::EraseLearnerResponse failed;
  s = erase("u3", absl::Seconds(30), &failed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(s.error_message().find("are erased, but"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("no space left on device"), std::string::npos) << s.error_message();
  EXPECT_EQ(store->CountLearnerIndexEntries("u3").value(), 0) << "erased nonetheless";
  server.reset();
}

TEST(RecordsServiceBackups, CreateListVerifyAndACorruptBackupIsDataLoss) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(base ? base : "/tmp") + "/svc_backups";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = std::move(*RecordStore::Open(dir + "/records"));
  BackupManagerOptions bo;
  bo.backup_dir = dir + "/backups";
  auto backups = std::move(*BackupManager::Open(store.get(), bo));
  RecordsService::Options o;
  o.backups = backups.get();
  RecordsService service(store.get(), o);
  auto server = std::move(*StartGrpcServer(GrpcServerOptions{}, {&service}));
  auto stub = v1::LearningRecordService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext ctx;
    v1::RecordStatementRequest req;
    req.set_statement_json(MakeStatement({.id = TestUuid(i), .learner = "u" + std::to_string(i % 4)}));
    v1::Statement out;
    ASSERT_TRUE(stub->RecordStatement(&ctx, req, &out).ok());
  }
  v1::Backup created;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->CreateBackup(&ctx, v1::CreateBackupRequest(), &created).ok());
  }
  EXPECT_EQ(created.backup_id(), 1u);
  EXPECT_EQ(created.statements(), 20u);
  EXPECT_EQ(created.applied_seq(), 0u);
  EXPECT_TRUE(created.has_documents());  // a family of the record database
  EXPECT_GT(created.create_time().seconds(), 0);
  EXPECT_GT(created.size_bytes(), 0u);
  {
    grpc::ClientContext ctx;
    v1::ListBackupsResponse listed;
    ASSERT_TRUE(stub->ListBackups(&ctx, v1::ListBackupsRequest(), &listed).ok());
    ASSERT_EQ(listed.backups_size(), 1);
    EXPECT_EQ(listed.backups(0).statements(), 20u);
  }
  v1::VerifyBackupRequest verify;
  verify.set_backup_id(1);
  v1::Backup verified;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->VerifyBackup(&ctx, verify, &verified).ok());
  }
  // Truncate every table file of the backup.
  int cut = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir + "/backups/records")) {
    if (e.is_regular_file() && e.path().extension() == ".sst") {
      std::filesystem::resize_file(e.path(), e.file_size() / 2);
      ++cut;
    }
  }
  ASSERT_GT(cut, 0);
  grpc::ClientContext ctx;
  grpc::Status s = stub->VerifyBackup(&ctx, verify, &verified);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_NE(s.error_message().find("backup 1"), std::string::npos) << s.error_message();
}

TEST(RecordsServiceLimits, OversizedRequestsAndOverlongStreamsAreCut) {
  auto store = FreshStore("svc_limits");
  RecordsService::Options o;
  o.max_stream_duration = absl::ZeroDuration();
  RecordsService service(store.get(), o);
  GrpcServerOptions options;
  options.max_receive_bytes = 256 << 10;
  auto server = StartGrpcServer(options, {&service});
  ASSERT_TRUE(server.ok());
  auto stub = v1::LearningRecordService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()), grpc::InsecureChannelCredentials()));

  v1::RecordStatementsRequest big;
  for (int i = 0; i < 1000; ++i) big.add_statement_json(MakeStatement({.learner = "u" + std::to_string(i)}));
  ASSERT_GT(big.ByteSizeLong(), 256u << 10);
  v1::RecordStatementsResponse resp;
  grpc::ClientContext c1;
  EXPECT_EQ(stub->RecordStatements(&c1, big, &resp).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(store->ApproximateStatementCount(), 0u) << "nothing of the refused request is stored";

  for (int b = 0; b < 3; ++b) {
    v1::RecordStatementsRequest r;
    for (int i = 0; i < 400; ++i) r.add_statement_json(MakeStatement({.learner = "u" + std::to_string(i)}));
    grpc::ClientContext c;
    ASSERT_TRUE(stub->RecordStatements(&c, r, &resp).ok());
  }
  grpc::ClientContext c2;
  auto reader = stub->ExportStatements(&c2, v1::ExportStatementsRequest());
  v1::Statement st;
  int n = 0;
  std::string last_cursor;
  while (reader->Read(&st)) {
    ++n;
    last_cursor = st.cursor();
  }
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  EXPECT_GE(n, 1000);
  EXPECT_LT(n, 1200);
  EXPECT_FALSE(last_cursor.empty());
}

// A server over a store of ~27 MB of one learner's statements (9 KB titles):
// more than HTTP/2 flow control (without BDP probing) and the sockets
// buffer, so that a client that stops reading an export holds the server's
// Write.
struct BigExportServer {
  explicit BigExportServer(const std::string& name, RecordsService::Options o, int max_concurrent_calls = 0) {
    store = FreshStore(name);
    service = std::make_unique<RecordsService>(store.get(), std::move(o));
    GrpcServerOptions options;
    options.max_concurrent_calls = max_concurrent_calls;
    server = std::move(*StartGrpcServer(options, {service.get()}));
    address = "127.0.0.1:" + std::to_string(server->port());
    std::string title;
    for (int i = 0; i < 3000; ++i) title += "学";
    auto stub = Stub(0);
    for (int b = 0; b < 30; ++b) {
      v1::RecordStatementsRequest r;
      for (int i = 0; i < 100; ++i) {
        r.add_statement_json(
            MakeStatement({.id = TestUuid(b * 100 + i), .course = "c" + std::to_string(i), .title = title}));
      }
      grpc::ClientContext c;
      v1::RecordStatementsResponse resp;
      grpc::Status s = stub->RecordStatements(&c, r, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
  }
  // A stub on a connection of its own (`n` apart). A reader that stops
  // reading keeps HTTP/2's initial window (no BDP probing: gRPC would
  // otherwise grow the window, on loopback past the whole export).
  std::unique_ptr<v1::LearningRecordService::Stub> Stub(int n, bool stops_reading = false) const {
    grpc::ChannelArguments args;
    args.SetInt("lifelong.test.connection", n);
    if (stops_reading) args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    return v1::LearningRecordService::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  std::unique_ptr<RecordStore> store;
  std::unique_ptr<RecordsService> service;
  std::unique_ptr<RunningGrpcServer> server;
  std::string address;
  static constexpr int kStatements = 3000;
};

// A client that opens an export and then reads nothing (flow control holds
// the server's Write) kept the handler thread, its in-flight slot and the
// store scan for as long as it kept its connection: four such clients
// stopped a server of 4 handler threads for everyone, for good. A stream
// whose Write waits longer than stream_stall_timeout is now cancelled; a
// reader that pauses for less gets the whole export.
TEST(RecordsServiceLimits, AnExportWhoseClientStopsReadingIsCancelled) {
  RecordsService::Options o;
  o.stream_stall_timeout = absl::Seconds(1);
  BigExportServer big("svc_stalled_export", o, /*max_concurrent_calls=*/4);
  auto honest = big.Stub(100);
  struct Stalled {
    std::unique_ptr<v1::LearningRecordService::Stub> stub;
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<v1::Statement>> reader;
  };
  std::vector<std::unique_ptr<Stalled>> stalled;
  for (int i = 0; i < 4; ++i) {
    auto s = std::make_unique<Stalled>();
    s->stub = big.Stub(1 + i, /*stops_reading=*/true);
    v1::ExportLearnerRequest req;
    req.set_learner("u1");
    s->reader = s->stub->ExportLearner(&s->ctx, req);
    v1::Statement first;
    ASSERT_TRUE(s->reader->Read(&first)) << "stream " << i;  // then reads nothing
    stalled.push_back(std::move(s));
  }
  // The honest client is served again once the stalled streams are cancelled
  // (about a second; without the watchdog, never).
  const absl::Time start = absl::Now();
  grpc::Status last;
  while (absl::Now() - start < absl::Seconds(20)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::ListStatementsRequest req;
    req.set_learner("u1");
    req.set_page_size(1);
    v1::ListStatementsResponse resp;
    last = honest->ListStatements(&ctx, req, &resp);
    if (last.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(last.ok()) << "an honest call still refused 20 s after four clients stopped reading: "
                         << last.error_code() << " " << last.error_message();
  // Every stalled stream is cancelled (the last ones may stall later than
  // the first: under load each fills its window at its own pace)...
  for (int i = 0; i < 200 && big.service->stream_watchdog_stats().cancelled_stalled < 4; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(big.service->stream_watchdog_stats().cancelled_stalled, 4);
  // ...and none of their clients got the export as if complete.
  for (auto& s : stalled) {
    v1::Statement st;
    int more = 0;
    while (s->reader->Read(&st)) ++more;
    EXPECT_LT(more + 1, BigExportServer::kStatements);
    EXPECT_EQ(s->reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }

  // A reader that pauses (0.4 s, under the stall timeout) gets all of it.
  v1::ExportLearnerRequest req;
  req.set_learner("u1");
  grpc::ClientContext ctx;
  auto reader = honest->ExportLearner(&ctx, req);
  v1::Statement st;
  int n = 0;
  while (reader->Read(&st)) {
    if (++n % 600 == 0) absl::SleepFor(absl::Milliseconds(400));
  }
  grpc::Status s = reader->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(n, BigExportServer::kStatements);
  EXPECT_EQ(big.service->stream_watchdog_stats().cancelled_stalled, 4);
}

// A change-feed watcher that stops acknowledging while nothing changes held
// its handler thread until the next write dropped it (a quiet night: for
// hours). Its wait for an acknowledgement is watched like an export's Write.
TEST(RecordsServiceLimits, AWatcherThatStopsAcknowledgingIsCancelledWithoutAWrite) {
  auto store = FreshStore("svc_silent_watcher");
  RecordsService::Options o;
  o.stream_stall_timeout = absl::Seconds(1);
  RecordsService service(store.get(), o);
  auto server = std::move(*StartGrpcServer(GrpcServerOptions{}, {&service}));
  auto stub = v1::LearningRecordService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto watch = stub->WatchLearnerChanges(&ctx);
  v1::LearnerChanges m;
  ASSERT_TRUE(watch->Read(&m));  // "live from here on"; then heartbeats, never acknowledged
  const absl::Time start = absl::Now();
  while (watch->Read(&m)) {
  }
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::CANCELLED);  // by the server, not the 20 s deadline
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(service.stream_watchdog_stats().cancelled_stalled, 1);
}

// A reader so slow that the server's own check of the stream's limit (between
// writes, every 1,024 statements) is far away is cancelled once a Write still
// waits a stall timeout past the limit.
TEST(RecordsServiceLimits, ASlowReaderPastTheStreamLimitIsCancelled) {
  RecordsService::Options o;
  o.max_stream_duration = absl::ZeroDuration();
  o.stream_stall_timeout = absl::Seconds(1);
  BigExportServer big("svc_slow_export", o);
  auto stub = big.Stub(1, /*stops_reading=*/true);
  v1::ExportLearnerRequest req;
  req.set_learner("u1");
  grpc::ClientContext ctx;
  auto reader = stub->ExportLearner(&ctx, req);
  v1::Statement st;
  int n = 0;
  const absl::Time start = absl::Now();
  while (reader->Read(&st)) {  // 100 a second: 10 s to the 1,024th
    ++n;
    absl::SleepFor(absl::Milliseconds(10));
    ASSERT_LT(absl::Now() - start, absl::Seconds(30)) << "not cancelled";
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_LT(n, 1024);
  EXPECT_EQ(big.service->stream_watchdog_stats().cancelled_too_long, 1);
  EXPECT_EQ(big.service->stream_watchdog_stats().cancelled_stalled, 0);
}

// RecordStatement is answered by the thread that commits its write. A client
// that cancels, or whose deadline passes, while its write is queued gets its
// status at once; the write is still made and the call finished afterwards
// (no use of a freed call). Writes in flight are bounded: past
// max_pending_writes a call is refused at once with the overload refusal.
TEST(RecordsServiceAsyncWrites, CancelledAndTimedOutCallsWhileQueuedAndBoundedQueue) {
  auto store = FreshStore("svc_async_writes");
  RecordsService::Options o;
  o.max_pending_writes = 2;
  RecordsService service(store.get(), o);
  auto server = std::move(*StartGrpcServer(GrpcServerOptions{}, {&service}));
  auto stub = v1::LearningRecordService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
  // The committing thread tells the store's change listener of each group
  // before answering it: held there, the first write stays committing and the
  // second queued behind it.
  absl::Notification release;
  std::atomic<int> groups{0};
  store->SetChangeListener([&](const std::vector<std::string>&) {
    ++groups;
    ::lifelong::testing::WaitOrFail(release, "the test to release the held group");
  });
  auto request = [](int i) {
    v1::RecordStatementRequest req;
    req.set_statement_json(MakeStatement({.id = TestUuid(i), .learner = "u" + std::to_string(i)}));
    return req;
  };
  auto wait_for = [](const std::function<bool()>& cond) {
    for (int i = 0; i < 2000 && !cond(); ++i) absl::SleepFor(absl::Milliseconds(5));
    return cond();
  };
  // The first call's deadline passes while its write is committing.
  grpc::Status timed_out;
  std::thread first([&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    v1::Statement out;
    timed_out = stub->RecordStatement(&ctx, request(1), &out);
  });
  ASSERT_TRUE(wait_for([&] { return groups.load() == 1; }));
  // The second is cancelled by its client while queued.
  grpc::ClientContext cancelled_ctx;
  grpc::Status cancelled;
  std::thread second([&] {
    v1::Statement out;
    cancelled = stub->RecordStatement(&cancelled_ctx, request(2), &out);
  });
  ASSERT_TRUE(wait_for([&] { return service.pending_writes() == 2; }));
  // A third finds the queue full: refused at once, with the retry hint.
  {
    grpc::ClientContext ctx;
    v1::Statement out;
    grpc::Status s = stub->RecordStatement(&ctx, request(3), &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_NE(s.error_message().find("server overloaded"), std::string::npos) << s.error_message();
    auto hint = ctx.GetServerTrailingMetadata().find("grpc-retry-pushback-ms");
    ASSERT_NE(hint, ctx.GetServerTrailingMetadata().end());
    EXPECT_EQ(std::string(hint->second.data(), hint->second.size()), "50");
  }
  cancelled_ctx.TryCancel();
  second.join();
  first.join();
  EXPECT_EQ(cancelled.error_code(), grpc::StatusCode::CANCELLED) << cancelled.error_message();
  EXPECT_EQ(timed_out.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << timed_out.error_message();
  EXPECT_EQ(service.pending_writes(), 2);  // still committing / queued on the server
  release.Notify();
  ASSERT_TRUE(wait_for([&] { return service.pending_writes() == 0; }));
  // Both writes were made; the refused one was not.
  for (int i : {1, 2, 3}) {
    grpc::ClientContext ctx;
    v1::GetStatementRequest get;
    get.set_id(TestUuid(i));
    v1::Statement out;
    EXPECT_EQ(stub->GetStatement(&ctx, get, &out).error_code(),
              i == 3 ? grpc::StatusCode::NOT_FOUND : grpc::StatusCode::OK)
        << i;
  }
  // And the server goes on answering writes.
  {
    grpc::ClientContext ctx;
    v1::Statement out;
    EXPECT_TRUE(stub->RecordStatement(&ctx, request(3), &out).ok());
  }
  server->Shutdown();
}

// Shutting the server down while a write is queued: the write is made and
// the call finished before the server (and then the store) goes away.
TEST(RecordsServiceAsyncWrites, ShutdownWithAWriteInFlightWaitsForIt) {
  const std::string dir = lifelong::testing::FreshTempDir("svc_async_shutdown");
  auto store = std::move(*RecordStore::Open(dir));
  auto service = std::make_unique<RecordsService>(store.get());
  auto server = std::move(*StartGrpcServer(GrpcServerOptions{}, {service.get()}));
  auto stub = v1::LearningRecordService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
  absl::Notification release;
  std::atomic<int> groups{0};
  store->SetChangeListener([&](const std::vector<std::string>&) {
    ++groups;
    ::lifelong::testing::WaitOrFail(release, "the test to release the held group");
  });
  grpc::Status first;
  std::thread call([&] {
    grpc::ClientContext ctx;
    v1::RecordStatementRequest req;
    req.set_statement_json(MakeStatement({.id = TestUuid(7)}));
    v1::Statement out;
    first = stub->RecordStatement(&ctx, req, &out);
  });
  for (int i = 0; i < 2000 && groups.load() == 0; ++i) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(groups.load(), 1);
  std::thread shutdown([&] { server->Shutdown(std::chrono::milliseconds(50)); });
  absl::SleepFor(absl::Milliseconds(200));  // past the grace: the call is cancelled, its write still held
  release.Notify();
  shutdown.join();
  call.join();
  server.reset();
  service.reset();
  store.reset();
  store = std::move(*RecordStore::Open(dir));
  EXPECT_TRUE(store->Get(*ParseUuid(TestUuid(7))).ok());
}

// A bearer token whose header is {"alg":1} (or {"alg":null}, ...) reached a
// JSON read that threw (nlohmann's type_error) once an identity provider was
// configured: each such RecordStatement left its slot among the pending
// writes taken (gRPC answered UNIMPLEMENTED), and after max_pending_writes of
// them every write of everyone got RESOURCE_EXHAUSTED until a restart; the
// refusal was not audited nor counted against the address either. Now
// refused UNAUTHENTICATED and audited, and the slot is given back whatever
// happens.
TEST(RecordsServiceAsyncWrites, MalformedTokensDoNotLeakWriteSlots) {
  auto store = FreshStore("svc_malformed_tokens");
  auth::AuthOptions ao = TokenAuth();
  auth::OidcOptions oo;
  // One 2048-bit RSA public key; no token here is signed with it.
  oo.jwks_json = absl::StrCat(
      R"({"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","e":"AQAB","n":")",
      "rUAElfAat8JQLokk7M6lrFJvodZVdfkE_zbAWfkcXYz3r1erh3rTqgLp3fSrEiArMkDbuQ4T5EA9dH0nq3RTs8yhCZfUY6Ca-",
      "jBBCW7aWZ9lAMw55Xu4b1oERLsuSrjbF5qclqGYSDu9Z8lZ0wY_7mSS9JTcZ3HhCsewVROUBJqzXujIa7uggAW4EV5fBmK4MpzU1aQ265rz",
      "e1ksdtzag9KqX5ABV2XpZfvrr7iqBBr4uUoUMfKsNZkm8bc6fqtIPQKiNIljL0yGL23aWv5DZqlR1Kqrh0Qh76nCiaSCEj7_q3CXiHDo83CF",
      "mMqVdizCXEQZYNK18spWo-V2aP0KpQ", R"("}]})");
  oo.issuer = "https://id.dongcheng.gov.cn";
  oo.audience = "lifelong-app";
  auto oidc = auth::OidcVerifier::Create(oo);
  ASSERT_TRUE(oidc.ok()) << oidc.status();
  ao.oidc = std::shared_ptr<const auth::OidcVerifier>(std::move(*oidc));
  auth::Authorizer authorizer(ao);
  RecordsService::Options o;
  o.authorizer = &authorizer;
  o.max_pending_writes = 256;  // records_server's --max_concurrent_calls default
  const absl::Time t0 = absl::Now();
  o.audit.now = [t0] { return t0; };  // the address's budget is not refilled during the test
  RecordsService service(store.get(), o);
  auto server = std::move(*StartGrpcServer(GrpcServerOptions{}, {&service}));
  auto stub = v1::LearningRecordService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
  auto write = [&](const std::string& token, int i) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    v1::RecordStatementRequest req;
    req.set_statement_json(MakeStatement({.id = TestUuid(i), .learner = "u000001"}));
    v1::Statement out;
    return stub->RecordStatement(&ctx, req, &out);
  };
  // The report's token ({"alg":1}.{} and a one-byte signature), then headers
  // whose alg, kid or typ is not a string, for ID tokens and the services'
  // own alike.
  const std::vector<std::string> headers = {R"({"alg":1})",
                                            R"({"alg":null})",
                                            R"({"alg":[]})",
                                            R"({"alg":{}})",
                                            R"({"alg":"RS256","kid":1})",
                                            R"({"alg":"RS256","kid":"k1","typ":[]})",
                                            R"({"alg":"HS256","kid":{}})"};
  for (int i = 0; i < 300; ++i) {
    const std::string token = i == 0 ? "eyJhbGciOjF9.e30.AA"
                                     : absl::StrCat(absl::WebSafeBase64Escape(headers[i % headers.size()]), ".e30.AA");
    grpc::Status s = write(token, 1000 + i);
    // Refused as any bad credential is: UNAUTHENTICATED, then, past the
    // address's budget (AuditLogOptions::unauthenticated_burst, 50), the
    // per-address limit.
    if (i < 50) {
      ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << i << ": " << s.error_message();
    } else {
      ASSERT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << i << ": " << s.error_message();
      ASSERT_NE(s.error_message().find("without a valid credential"), std::string::npos)
          << i << ": " << s.error_message();
    }
  }
  EXPECT_EQ(service.pending_writes(), 0);
  EXPECT_EQ(service.audit_log().stats().unauthenticated, 300u) << "every refusal is audited";
  EXPECT_EQ(service.audit_log().stats().address_limited, 250u);
  // A learner's own write goes through.
  auth::Principal learner;
  learner.subject = "u000001";
  learner.role = auth::Role::kLearner;
  grpc::Status s = write(*auth::MintToken(learner, absl::Minutes(5), ao.token), 1);
  EXPECT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  EXPECT_EQ(service.pending_writes(), 0);
  server->Shutdown();
}

// RecordStatements on the wire: a message of millions of empty strings (two
// wire bytes each, some 30 bytes of memory each once parsed: 40 MB were
// over a gigabyte) was parsed before the caller's credentials were looked
// at. Now the raw bytes are kept until the caller is admitted, and walked
// (not parsed) for the statement count: refused without credentials, and
// with them INVALID_ARGUMENT naming statement_json (or the field count, for
// unknown fields), with the server's peak memory far below a parse's.
TEST(RecordsServiceLimits, AHugeBatchIsRefusedBeforeItIsParsed) {
  auto store = FreshStore("svc_huge_batch");
  auth::AuthOptions ao = TokenAuth();
  auth::Authorizer authorizer(ao);
  RecordsService::Options o;
  o.authorizer = &authorizer;
  RecordsService service(store.get(), o);
  auto server = std::move(*StartGrpcServer(GrpcServerOptions{}, {&service}));  // the 64 MiB default
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials());
  auth::Principal learner;
  learner.subject = "u000001";
  learner.role = auth::Role::kLearner;
  const std::string token = *auth::MintToken(learner, absl::Minutes(5), ao.token);
  auto send = [&](const std::string& bytes, bool with_token) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    if (with_token) ctx.AddMetadata("authorization", "Bearer " + token);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer req(&slice, 1), resp;
    std::promise<grpc::Status> done;
    grpc::GenericStub(channel).UnaryCall(&ctx, "/lifelong.v1.LearningRecordService/RecordStatements",
                                         grpc::StubOptions(), &req, &resp,
                                         [&done](grpc::Status st) { done.set_value(std::move(st)); });
    return done.get_future().get();
  };
  auto peak_mb = [] {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
  };
  std::string empties;
  for (int i = 0; i < 20 * 1000 * 1000; ++i) empties.append("\x0a\x00", 2);  // 40 MB: statement_json ""
  std::string unknown;
  for (int i = 0; i < 20 * 1000 * 1000; ++i) unknown.append("\x98\x06\x00", 3);  // 60 MB: field 99 = 0
  // The same inside one group (field 98), which the field count would not see.
  const std::string grouped = "\x93\x06" + unknown + "\x94\x06";
  const long before = peak_mb();

  grpc::Status s = send(empties, false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  s = send(empties, true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message(), "statement_json: at most 1000 statements per batch");
  s = send(unknown, true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message(), "request: more than 1016 fields");
  s = send(grouped, true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message(), "request: field groups are not accepted");
  // The requests' bytes, a copy each and gRPC's buffers; a parse of either
  // is over a gigabyte.
  EXPECT_LT(peak_mb() - before, 600) << "MB more at the peak";
  EXPECT_EQ(service.pending_writes(), 0);

  // A good batch on the same path is written and answered.
  v1::RecordStatementsRequest good;
  good.add_statement_json(MakeStatement({.id = TestUuid(1), .learner = "u000001"}));
  good.add_statement_json(MakeStatement({.id = TestUuid(2), .learner = "u000001"}));
  good.set_view(v1::STATEMENT_VIEW_FULL);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token);
  v1::RecordStatementsResponse out;
  s = v1::LearningRecordService::NewStub(channel)->RecordStatements(&ctx, good, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(out.statements_size(), 2);
  EXPECT_EQ(out.statements(1).id(), TestUuid(2));
  EXPECT_FALSE(out.statements(0).json().empty());
  EXPECT_TRUE(store->Get(*ParseUuid(TestUuid(2))).ok());
  server->Shutdown();
}

// A replicated node whose store may be stale (records_server sets the gate
// to Replicator::CheckServingReads) refuses the reads of learner data with
// the gate's UNAVAILABLE; an operator who asks with x-lifelong-stale-reads:
// allow (the recovery export) is served, a learner asking so is not.
TEST(RecordsServiceReadGate, StaleReadsAreRefusedButToAnOperatorWhoAsks) {
  auto store = FreshStore("svc_read_gate");
  auth::AuthOptions ao = TokenAuth();
  auth::Authorizer authorizer(ao);
  std::atomic<bool> stale{false};
  RecordsService::Options o;
  o.authorizer = &authorizer;
  o.read_gate = [&stale] {
    return stale.load() ? absl::UnavailableError("records-2 does not apply the replicated log (test)")
                        : absl::OkStatus();
  };
  RecordsService service(store.get(), o);
  auto server = std::move(*StartGrpcServer(GrpcServerOptions{}, {&service}));
  auto stub = v1::LearningRecordService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
  auto token = [&](auth::Role role, const std::string& subject) {
    auth::Principal p;
    p.subject = subject;
    p.role = role;
    return *auth::MintToken(p, absl::Minutes(5), ao.token);
  };
  const std::string learner = token(auth::Role::kLearner, "u000001");
  const std::string op = token(auth::Role::kOperator, "ops-1");
  auto context = [](const std::string& bearer, bool allow) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + bearer);
    if (allow) ctx->AddMetadata("x-lifelong-stale-reads", "allow");
    return ctx;
  };
  {
    v1::RecordStatementRequest req;
    req.set_statement_json(MakeStatement({.id = TestUuid(1), .learner = "u000001"}));
    v1::Statement out;
    grpc::Status s = stub->RecordStatement(context(learner, false).get(), req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // Each read of learner data, as `bearer` (allow: with the metadata).
  auto reads = [&](const std::string& bearer, bool allow) {
    std::vector<std::pair<std::string, grpc::Status>> out;
    v1::GetStatementRequest get;
    get.set_id(TestUuid(1));
    v1::Statement st;
    out.emplace_back("GetStatement", stub->GetStatement(context(bearer, allow).get(), get, &st));
    v1::ListStatementsRequest list;
    list.set_learner("u000001");
    v1::ListStatementsResponse page;
    out.emplace_back("ListStatements", stub->ListStatements(context(bearer, allow).get(), list, &page));
    v1::GetTranscriptRequest tr;
    tr.set_learner("u000001");
    v1::Transcript transcript;
    out.emplace_back("GetTranscript", stub->GetTranscript(context(bearer, allow).get(), tr, &transcript));
    v1::ExportLearnerRequest ex;
    ex.set_learner("u000001");
    auto ctx = context(bearer, allow);
    auto reader = stub->ExportLearner(ctx.get(), ex);
    while (reader->Read(&st)) {
    }
    out.emplace_back("ExportLearner", reader->Finish());
    return out;
  };
  for (const auto& [method, s] : reads(learner, false)) EXPECT_TRUE(s.ok()) << method << ": " << s.error_message();

  // The operator's export (`lifelong export`), counting what it read.
  auto export_all = [&](bool allow, int* n) {
    auto ctx = context(op, allow);
    auto all = stub->ExportStatements(ctx.get(), v1::ExportStatementsRequest());
    v1::Statement st;
    while (all->Read(&st)) ++*n;
    return all->Finish();
  };

  stale = true;
  for (const bool allow : {false, true}) {  // a learner may not ask for a stale read
    for (const auto& [method, s] : reads(learner, allow)) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << method << " allow=" << allow;
      EXPECT_EQ(s.error_message(), "records-2 does not apply the replicated log (test)") << method;
    }
  }
  int n = 0;
  grpc::Status refused = export_all(false, &n);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_EQ(n, 0);
  // The erasure epoch (the trainer's schedule) too: a stale node would
  // report an epoch from before an erasure.
  v1::ErasureEpoch epoch;
  EXPECT_EQ(stub->GetErasureEpoch(context(op, false).get(), v1::GetErasureEpochRequest(), &epoch).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // The operator who asks is served: the recovery export.
  grpc::Status served = export_all(true, &n);
  EXPECT_TRUE(served.ok()) << served.error_message();
  EXPECT_EQ(n, 1);
  EXPECT_TRUE(stub->GetErasureEpoch(context(op, true).get(), v1::GetErasureEpochRequest(), &epoch).ok());

  stale = false;
  for (const auto& [method, s] : reads(learner, false)) EXPECT_TRUE(s.ok()) << method << ": " << s.error_message();
  server->Shutdown();
}

}  // namespace
}  // namespace lifelong::records
