#include "models/records_export.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/domain/vocabulary.h"

namespace lifelong::models {
namespace {

using lifelong::v1::ExportStatementsRequest;
using lifelong::v1::LearningRecordService;
using lifelong::v1::Statement;

Statement MakeStatement(const std::string& learner, absl::string_view verb, const std::string& activity,
                        int64_t seconds, const std::string& cursor, bool voided = false) {
  Statement s;
  s.set_learner(learner);
  s.set_verb(std::string(verb));
  s.set_activity(activity);
  s.mutable_timestamp()->set_seconds(seconds);
  s.mutable_stored()->set_seconds(seconds + 5);
  s.set_cursor(cursor);
  s.set_voided(voided);
  s.set_json("{}");
  return s;
}

// An in-process LearningRecordService that serves a fixed statement list from
// ExportStatements, honouring after_cursor and limit; optionally fails with
// UNAVAILABLE once after `fail_after` statements.
class FakeRecords final : public LearningRecordService::Service {
 public:
  explicit FakeRecords(std::vector<Statement> statements, int fail_after = -1)
      : statements_(std::move(statements)), fail_after_(fail_after) {}

  grpc::Status ExportStatements(grpc::ServerContext*, const ExportStatementsRequest* req,
                                grpc::ServerWriter<Statement>* writer) override {
    requests_.push_back(*req);
    int sent = 0;
    for (const Statement& s : statements_) {
      if (!req->after_cursor().empty() && s.cursor() <= req->after_cursor()) continue;
      if (req->limit() > 0 && sent >= req->limit()) break;
      if (fail_after_ >= 0 && sent == fail_after_) {
        fail_after_ = -1;
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "injected");
      }
      writer->Write(s);
      ++sent;
    }
    return grpc::Status::OK;
  }

  std::vector<ExportStatementsRequest> requests_;

 private:
  std::vector<Statement> statements_;
  int fail_after_;
};

class RecordsExportTest : public ::testing::Test {
 protected:
  void Start(std::vector<Statement> statements, int fail_after = -1) {
    service_ = std::make_unique<FakeRecords>(std::move(statements), fail_after);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }

  std::unique_ptr<FakeRecords> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

std::vector<Statement> SampleStatements() {
  const std::string c1 = vocab::CourseIri("c1");
  const std::string c2 = vocab::CourseIri("书法入门");
  return {
      MakeStatement("u1", vocab::kCompleted, c1, 100, "0001"),
      MakeStatement("u1", vocab::kAttended, c2, 200, "0002"),
      MakeStatement("u2", vocab::kFailed, c1, 300, "0003"),        // not positive
      MakeStatement("u2", vocab::kPassed, c2, 400, "0004", true),  // voided
      MakeStatement("u2", vocab::kVoided, "", 450, "0005"),        // voiding statement
      MakeStatement("u3", vocab::kCompleted, "https://other.example/x", 500, "0006"),
      MakeStatement("u3", vocab::kRegistered, c1, 600, "0007"),
  };
}

TEST_F(RecordsExportTest, MapsStatementsToInteractions) {
  Start(SampleStatements());
  absl::StatusOr<RecordsExportResult> r = ReadInteractionsFromRecords(Address());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->statements, 7);
  EXPECT_EQ(r->skipped, 4);
  EXPECT_EQ(r->last_cursor, "0007");
  ASSERT_EQ(r->interactions.size(), 3u);
  EXPECT_EQ(r->interactions[0].learner, "u1");
  EXPECT_EQ(r->interactions[0].course_id, "c1");
  EXPECT_EQ(r->interactions[0].order, 100 * 1000000LL);
  EXPECT_FLOAT_EQ(r->interactions[0].weight, 1.0f);
  EXPECT_EQ(r->interactions[1].course_id, "书法入门");
  EXPECT_FLOAT_EQ(r->interactions[1].weight, VerbWeight(vocab::kAttended));
  EXPECT_LT(r->interactions[1].weight, r->interactions[0].weight);
  EXPECT_EQ(r->interactions[2].learner, "u3");
  EXPECT_FLOAT_EQ(r->interactions[2].weight, VerbWeight(vocab::kRegistered));
}

// Two stores holding the same statements in different stored orders (as
// concurrent loaders leave them) give the trainer the same input: by learner,
// then order, with same-time events in a fixed order too.
TEST_F(RecordsExportTest, InteractionsDoNotDependOnStoredOrder) {
  const std::string c1 = vocab::CourseIri("c1");
  const std::string c2 = vocab::CourseIri("c2");
  const std::string c3 = vocab::CourseIri("c3");
  std::vector<Statement> a = {
      MakeStatement("u2", vocab::kCompleted, c1, 100, "0001"), MakeStatement("u1", vocab::kAttended, c2, 300, "0002"),
      MakeStatement("u2", vocab::kAttended, c3, 200, "0003"),  MakeStatement("u1", vocab::kCompleted, c1, 300, "0004"),
      MakeStatement("u3", vocab::kPassed, c2, 50, "0005"),     MakeStatement("u1", vocab::kRegistered, c3, 100, "0006"),
  };
  // The same statements, learners interleaved the other way and u1's two
  // same-time events swapped.
  std::vector<Statement> b = {a[4], a[5], a[3], a[1], a[0], a[2]};
  for (size_t i = 0; i < b.size(); ++i) b[i].set_cursor(absl::StrCat("000", i + 1));

  Start(a);
  absl::StatusOr<RecordsExportResult> ra = ReadInteractionsFromRecords(Address());
  ASSERT_TRUE(ra.ok()) << ra.status();
  server_->Shutdown();
  server_.reset();
  Start(b);
  absl::StatusOr<RecordsExportResult> rb = ReadInteractionsFromRecords(Address());
  ASSERT_TRUE(rb.ok()) << rb.status();

  auto flat = [](const RecordsExportResult& r) {
    std::vector<std::string> out;
    for (const Interaction& it : r.interactions)
      out.push_back(absl::StrCat(it.learner, " ", it.course_id, " ", it.order, " ", it.weight));
    return out;
  };
  const std::vector<std::string> expected = {
      absl::StrCat("u1 c3 ", 100 * 1000000LL, " ", VerbWeight(vocab::kRegistered)),
      absl::StrCat("u1 c1 ", 300 * 1000000LL, " ", VerbWeight(vocab::kCompleted)),
      absl::StrCat("u1 c2 ", 300 * 1000000LL, " ", VerbWeight(vocab::kAttended)),
      absl::StrCat("u2 c1 ", 100 * 1000000LL, " ", VerbWeight(vocab::kCompleted)),
      absl::StrCat("u2 c3 ", 200 * 1000000LL, " ", VerbWeight(vocab::kAttended)),
      absl::StrCat("u3 c2 ", 50 * 1000000LL, " ", VerbWeight(vocab::kPassed)),
  };
  EXPECT_EQ(flat(*ra), expected);
  EXPECT_EQ(flat(*rb), expected);
}

TEST_F(RecordsExportTest, ResumesFromCursorAndHonoursLimit) {
  Start(SampleStatements());
  RecordsExportOptions options;
  options.after_cursor = "0002";
  options.limit = 3;
  absl::StatusOr<RecordsExportResult> r = ReadInteractionsFromRecords(Address(), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->statements, 3);
  EXPECT_EQ(r->last_cursor, "0005");
  EXPECT_TRUE(r->interactions.empty());
  ASSERT_FALSE(service_->requests_.empty());
  EXPECT_EQ(service_->requests_[0].after_cursor(), "0002");
  EXPECT_EQ(service_->requests_[0].limit(), 3);
}

TEST_F(RecordsExportTest, ReopensStreamAfterUnavailableMidStream) {
  Start(SampleStatements(), /*fail_after=*/2);
  absl::StatusOr<RecordsExportResult> r = ReadInteractionsFromRecords(Address());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->statements, 7);
  EXPECT_EQ(r->interactions.size(), 3u);
  ASSERT_EQ(service_->requests_.size(), 2u);
  EXPECT_EQ(service_->requests_[1].after_cursor(), "0002");
}

TEST_F(RecordsExportTest, UnreachableServiceIsUnavailable) {
  Start({});
  const std::string address = Address();
  server_->Shutdown();
  server_.reset();
  RecordsExportOptions options;
  options.deadline = absl::Seconds(5);
  absl::StatusOr<RecordsExportResult> r = ReadInteractionsFromRecords(address, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST(StatementToInteraction, UsesStoredTimeWhenTimestampUnset) {
  Statement s = MakeStatement("u9", vocab::kCompleted, vocab::CourseIri("c7"), 10, "1");
  s.clear_timestamp();
  std::optional<Interaction> it = StatementToInteraction(s);
  ASSERT_TRUE(it.has_value());
  EXPECT_EQ(it->order, 15 * 1000000LL);
}

}  // namespace
}  // namespace lifelong::models
