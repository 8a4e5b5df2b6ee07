// Service tokens expire (ops/stack.sh mints them for 30 days and re-mints
// them daily): the processes that hold one for longer than it lives send the
// current token of their --token_file, read again when the file is replaced
// (docs/security.md, "Service tokens"). Real record and catalog services with
// authentication on (no clock skew allowed), real ports, and
//   - recommend_server, given a recommender token that expires in 3 s: once
//     it has expired, Recommend for a learner (every one read from the
//     record service: no history cache) fails; the file is re-minted and
//     Recommend answers again, without a restart;
//   - `lifelong train --every`, given a trainer token that expires in 3 s:
//     once it has expired, its checks cannot read the record service's
//     erasure epoch; the file is re-minted and they can again.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "services/auth/token.h"
#include "services/recommend/test_support.h"
#include "tests/testing/nats_cluster.h"
#include "tests/testing/service_process.h"
#include "tests/testing/subprocess.h"

namespace lifelong {
namespace {

using testing::ReadFile;
using testing::RunfilePath;

constexpr char kKey[] = "service-token-reload-test-key-0123456789abcdef";

int CountOf(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

class ServiceTokenReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::ofstream(dir_ + "/jwt.key") << kKey << "\n";
    records_ = Start("records", "services/records/records_server", {"--xapi_port=-1", "--backup_dir=off"});
    catalog_ = Start("catalog", "services/catalog/catalog_server", {"--backup_dir=off"});
  }

  // A server with authentication on: tokens are checked to the second.
  std::unique_ptr<testing::ServiceProcess> Start(const std::string& name, const std::string& binary,
                                                 std::vector<std::string> flags) {
    testing::ServiceOptions o;
    o.binary = binary;
    if (name != "recommend") o.data_dir = dir_ + "/" + name;
    o.port_file = dir_ + "/" + name + ".port";
    o.log_path = dir_ + "/" + name + ".log";
    o.flags = std::move(flags);
    o.flags.insert(o.flags.end(),
                   {"--metrics_port=0", "--auth_key_file=" + dir_ + "/jwt.key", "--auth_clock_skew_s=0"});
    absl::StatusOr<testing::ServiceProcess> p = testing::ServiceProcess::Start(o);
    EXPECT_TRUE(p.ok()) << name << ": " << p.status() << "\n" << ReadFile(o.log_path);
    return p.ok() ? std::make_unique<testing::ServiceProcess>(*std::move(p)) : nullptr;
  }

  static std::string Mint(auth::Role role, const std::string& subject, absl::Duration ttl) {
    auth::Principal p;
    p.role = role;
    p.subject = subject;
    p.token_id = absl::StrCat(subject, "-", absl::ToUnixNanos(absl::Now()));
    auth::TokenOptions o;
    o.key = kKey;
    absl::StatusOr<std::string> token = auth::MintToken(p, ttl, o);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? *token : "";
  }

  // As ops/stack.sh's token refresher: a new file renamed over the old one.
  static void WriteTokenFile(const std::string& path, const std::string& token) {
    std::ofstream(path + ".new") << token << "\n";
    ASSERT_EQ(std::rename((path + ".new").c_str(), path.c_str()), 0);
  }

  std::string dir_;
  std::unique_ptr<testing::ServiceProcess> records_;
  std::unique_ptr<testing::ServiceProcess> catalog_;
};

TEST_F(ServiceTokenReloadTest, TheRecommenderSendsTheReMintedTokenWithoutARestart) {
  ASSERT_NE(records_, nullptr);
  ASSERT_NE(catalog_, nullptr);
  ASSERT_TRUE(recommend::testing::WriteTestModel(dir_ + "/models").ok());
  const std::string token_file = dir_ + "/recommender.token";
  WriteTokenFile(token_file, Mint(auth::Role::kRecommender, "svc-recommend", absl::Seconds(3)));
  std::unique_ptr<testing::ServiceProcess> recommend =
      Start("recommend", "services/recommend/recommend_server",
            {"--model_dir=" + dir_ + "/models", "--records=" + records_->address(), "--catalog=" + catalog_->address(),
             "--token_file=" + token_file, "--history_cache_learners=0", "--catalog_max_staleness_s=3600"});
  ASSERT_NE(recommend, nullptr);
  auto stub =
      v1::RecommendationService::NewStub(grpc::CreateChannel(recommend->address(), grpc::InsecureChannelCredentials()));
  const std::string operator_token = Mint(auth::Role::kOperator, "operator-test", absl::Minutes(10));
  auto recommend_call = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ctx.AddMetadata("authorization", "Bearer " + operator_token);
    v1::RecommendRequest request;
    request.set_learner("u000001");  // read from the record service at every call
    request.set_k(3);
    v1::RecommendResponse response;
    return stub->Recommend(&ctx, request, &response);
  };

  // The token expires: the record service (and the catalog) refuse the
  // recommender's calls, and Recommend fails.
  grpc::Status s;
  const absl::Time until = absl::Now() + absl::Seconds(60);
  do {
    s = recommend_call();
    if (!s.ok() && absl::StrContains(s.error_message(), "expired")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  } while (absl::Now() < until);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  ASSERT_TRUE(absl::StrContains(s.error_message(), "expired")) << s.error_message();

  // Re-minted: Recommend answers again within the file's check interval (2 s), same process.
  const pid_t pid = recommend->process().pid();
  WriteTokenFile(token_file, Mint(auth::Role::kRecommender, "svc-recommend", absl::Hours(1)));
  const absl::Time again = absl::Now() + absl::Seconds(20);
  do {
    s = recommend_call();
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  } while (absl::Now() < again);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message() << "\n" << ReadFile(dir_ + "/recommend.log");
  EXPECT_EQ(recommend->process().pid(), pid);
  EXPECT_TRUE(recommend->process().Running());
  EXPECT_TRUE(absl::StrContains(ReadFile(dir_ + "/recommend.log"), "token_file_reloaded"))
      << ReadFile(dir_ + "/recommend.log");

  // Its metrics show the expiry of the token it sends now, the re-minted
  // one (LifelongServiceTokenExpiring fires when that comes near: the
  // token refresher stopped).
  absl::StatusOr<int> metrics_port = recommend->LoggedPort("serving", "metrics_port");
  ASSERT_TRUE(metrics_port.ok()) << metrics_port.status();
  const auto [status, page] = testing::HttpGet(*metrics_port, "/metrics");
  ASSERT_EQ(status, 200) << page;
  const std::string kSeries = "\nlifelong_service_token_expiry_timestamp_seconds ";
  const size_t at = page.find(kSeries);
  ASSERT_NE(at, std::string::npos) << page;
  const double expiry = std::strtod(page.c_str() + at + kSeries.size(), nullptr);
  const double in_an_hour = absl::ToDoubleSeconds(absl::Now() + absl::Hours(1) - absl::UnixEpoch());
  EXPECT_NEAR(expiry, in_an_hour, 60) << page.substr(at, 80);
}

TEST_F(ServiceTokenReloadTest, ScheduledTrainingSendsTheReMintedToken) {
  ASSERT_NE(records_, nullptr);
  ASSERT_NE(catalog_, nullptr);
  // A young model: the schedule only checks (the record service's erasure
  // epoch, every second), it does not train.
  const std::string root = dir_ + "/models";
  ASSERT_TRUE(recommend::testing::WriteTestModel(root).ok());
  const std::string token_file = dir_ + "/trainer.token";
  WriteTokenFile(token_file, Mint(auth::Role::kTrainer, "svc-trainer", absl::Seconds(3)));
  const std::string log = dir_ + "/train.log";
  absl::StatusOr<testing::Subprocess> scheduler = testing::Subprocess::Start(
      {RunfilePath("services/cli/lifelong"), "train", "--every=1h", "--check_every=1s", "--model_root=" + root,
       "--records=" + records_->address(), "--catalog=" + catalog_->address(), "--token_file=" + token_file,
       "--trainer=/bin/false"},
      log);
  ASSERT_TRUE(scheduler.ok()) << scheduler.status();
  const std::string failed = "cannot read the record service's erasure epoch";

  // The token expires: the checks fail.
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (absl::Now() < until && !absl::StrContains(ReadFile(log), failed)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_TRUE(absl::StrContains(ReadFile(log), failed)) << ReadFile(log);
  EXPECT_TRUE(absl::StrContains(ReadFile(log), "expired")) << ReadFile(log);

  // Re-minted: the checks read the epoch again (no failure for 3 checks in a row).
  WriteTokenFile(token_file, Mint(auth::Role::kTrainer, "svc-trainer", absl::Hours(1)));
  int failures = CountOf(ReadFile(log), failed);
  absl::Time last_failure = absl::Now();
  const absl::Time again = absl::Now() + absl::Seconds(20);
  bool quiet = false;
  while (absl::Now() < again) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    const int now_failures = CountOf(ReadFile(log), failed);
    if (now_failures != failures) {
      failures = now_failures;
      last_failure = absl::Now();
    } else if (absl::Now() - last_failure >= absl::Milliseconds(3500)) {
      quiet = true;
      break;
    }
  }
  const std::string text = ReadFile(log);
  EXPECT_TRUE(quiet) << "the checks still fail after the token file was re-minted:\n" << text;
  EXPECT_TRUE(absl::StrContains(text.substr(text.rfind(failed)), "train: up to date (model 1")) << text;
  ASSERT_TRUE(scheduler->Stop(SIGTERM).ok());
  EXPECT_TRUE(absl::StrContains(ReadFile(log), "train: stopped")) << ReadFile(log);
}

}  // namespace
}  // namespace lifelong
