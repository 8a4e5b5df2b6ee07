// `lifelong import` against a record service that refuses batches the way a
// stopping replicated node does (CANCELLED, nothing written) or is briefly
// unreachable (UNAVAILABLE): every batch is sent again with the same statement
// ids, so the import completes without losing or duplicating anything; other
// errors are not retried.
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/cli/cli.h"

namespace lifelong::cli {
namespace {

namespace v1 = ::lifelong::v1;

// Refuses the first `refusals` calls with `code`, then stores by id.
class FlakyRecords final : public v1::LearningRecordService::Service {
 public:
  FlakyRecords(grpc::StatusCode code, int refusals) : code_(code), refusals_(refusals) {}

  grpc::Status RecordStatements(grpc::ServerContext*, const v1::RecordStatementsRequest* req,
                                v1::RecordStatementsResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    if (refusals_ > 0) {
      --refusals_;
      return grpc::Status(code_, "refused by the test");
    }
    for (const std::string& text : req->statement_json()) {
      nlohmann::json j = nlohmann::json::parse(text);
      const std::string id = j.at("id").get<std::string>();
      ++stored_[id];
      v1::Statement* s = resp->add_statements();
      s->set_id(id);
      s->set_json(text);
      s->mutable_stored()->set_seconds(2000000000);  // after the import started: "new"
    }
    return grpc::Status::OK;
  }

  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::map<std::string, int> stored() {
    std::lock_guard<std::mutex> lock(mu_);
    return stored_;
  }

 private:
  std::mutex mu_;
  const grpc::StatusCode code_;
  int refusals_;
  int calls_ = 0;
  std::map<std::string, int> stored_;
};

struct Server {
  std::unique_ptr<grpc::Server> server;
  std::string address;
};

Server Start(FlakyRecords* service) {
  int port = 0;
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  b.RegisterService(service);
  Server s;
  s.server = b.BuildAndStart();
  s.address = absl::StrCat("127.0.0.1:", port);
  return s;
}

std::string InteractionsFile(int n) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/import_retry_", n, ".jsonl");
  std::ofstream out(path, std::ios::trunc);
  for (int i = 0; i < n; ++i) {
    out << "{\"learner\":\"u2000" << i % 10 << "\",\"course\":\"c0000" << i % 7
        << "\",\"verb\":\"completed\",\"timestamp\":\"2026-10-01T09:00:" << (10 + i % 50) << "Z\"}\n";
  }
  return path;
}

int Import(const std::string& address, const std::string& file, std::string* err) {
  std::ostringstream out, errs;
  CliContext ctx;
  ctx.out = &out;
  ctx.err = &errs;
  ctx.env["LIFELONG_RECORDS"] = address;
  int code = RunCli({"import", file, "--batch", "4"}, ctx);
  *err = errs.str();
  return code;
}

TEST(ImportRetry, CancelledByAStoppingNodeIsSentAgainWithoutDuplicates) {
  FlakyRecords service(grpc::StatusCode::CANCELLED, 2);
  Server s = Start(&service);
  std::string err;
  ASSERT_EQ(Import(s.address, InteractionsFile(12), &err), 0) << err;
  std::map<std::string, int> stored = service.stored();
  EXPECT_EQ(stored.size(), 12u);
  for (const auto& [id, n] : stored) EXPECT_EQ(n, 1) << id;
  EXPECT_GE(service.calls(), 3 + 2);  // three batches, two refusals
  s.server->Shutdown();
}

TEST(ImportRetry, UnavailableIsSentAgain) {
  FlakyRecords service(grpc::StatusCode::UNAVAILABLE, 1);
  Server s = Start(&service);
  std::string err;
  ASSERT_EQ(Import(s.address, InteractionsFile(8), &err), 0) << err;
  EXPECT_EQ(service.stored().size(), 8u);
  s.server->Shutdown();
}

TEST(ImportRetry, OtherErrorsAreNotRetried) {
  FlakyRecords service(grpc::StatusCode::PERMISSION_DENIED, 100);
  Server s = Start(&service);
  std::string err;
  EXPECT_NE(Import(s.address, InteractionsFile(4), &err), 0);
  EXPECT_NE(err.find("PERMISSION_DENIED"), std::string::npos) << err;
  EXPECT_EQ(service.calls(), 1);
  EXPECT_TRUE(service.stored().empty());
  s.server->Shutdown();
}

}  // namespace
}  // namespace lifelong::cli
