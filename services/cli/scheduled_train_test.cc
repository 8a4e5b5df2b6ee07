// `lifelong train --every` against real services: a record service, a
// catalog and a small demo district; the scheduler trains the first model,
// retrains within its check interval after an erasure (so the model trained
// before it is retired and deleted), and stops cleanly on SIGTERM.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "models/model_bundle.h"
#include "models/model_retirement.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "tests/testing/service_process.h"
#include "tests/testing/subprocess.h"

namespace lifelong {
namespace {

using testing::ReadFile;
using testing::RunfilePath;
using testing::RunToCompletion;

testing::ServiceProcess StartService(const std::string& dir, const std::string& name, const std::string& binary,
                                     std::vector<std::string> flags) {
  testing::ServiceOptions o;
  o.binary = binary;
  o.data_dir = dir + "/" + name;
  o.port_file = dir + "/" + name + ".port";
  o.log_path = dir + "/" + name + ".log";
  o.flags = std::move(flags);
  o.flags.push_back("--metrics_port=0");
  absl::StatusOr<testing::ServiceProcess> p = testing::ServiceProcess::Start(o);
  EXPECT_TRUE(p.ok()) << name << ": " << p.status();
  return *std::move(p);
}

// Waits up to `timeout` for `done`, polling.
template <typename F>
bool WaitFor(F done, std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return done();
}

std::vector<int64_t> Versions(const std::string& root) {
  absl::StatusOr<std::vector<int64_t>> v = models::ListCompleteVersions(root);
  return v.ok() ? *v : std::vector<int64_t>();
}

TEST(ScheduledTraining, TrainsThenRetrainsAfterAnErasureAndStopsOnSigterm) {
  const std::string dir = testing::FreshTempDir("scheduled_train");
  testing::ServiceProcess records =
      StartService(dir, "records", "services/records/records_server", {"--xapi_port=-1", "--backup_dir=off"});
  testing::ServiceProcess catalog = StartService(dir, "catalog", "services/catalog/catalog_server", {});
  ASSERT_EQ(RunToCompletion({RunfilePath("services/demo/demo_loader"), "--records=" + records.address(),
                             "--catalog=" + catalog.address(), "--learners=120", "--courses=40", "--seed=3",
                             "--parallel=2", "--allow_demo_data"},
                            dir + "/demo.log"),
            0)
      << ReadFile(dir + "/demo.log");

  const std::string root = dir + "/models";
  const std::string log = dir + "/train.log";
  const std::vector<std::string> common = {"--records=" + records.address(), "--catalog=" + catalog.address(),
                                           "--model_root=" + root, "--trainer=" + RunfilePath("models/train")};
  // A bad schedule is refused, naming the flag.
  {
    std::vector<std::string> argv = {RunfilePath("services/cli/lifelong"), "train", "--every=0s"};
    argv.insert(argv.end(), common.begin(), common.end());
    EXPECT_NE(RunToCompletion(argv, dir + "/bad.log"), 0);
    EXPECT_TRUE(absl::StrContains(ReadFile(dir + "/bad.log"), "--every: must be a positive duration"))
        << ReadFile(dir + "/bad.log");
    for (const auto& [flag, message] : std::vector<std::pair<std::string, std::string>>{
             {"--training_share=0", "--training_share: must be a number above 0 and at most 1"},
             {"--training_share=1.5", "--training_share: must be a number above 0 and at most 1"},
             {"--nice=20", "--nice: must be a whole number from 0 to 19"},
             {"--nice=-1", "--nice: must be a whole number from 0 to 19"},
             // Hex and trailing junk are not numbers (0x0.4 was read as 0.25).
             {"--training_share=0x0.4", "--training_share: not a number: '0x0.4'"},
             {"--training_share=0.25x", "--training_share: not a number: '0.25x'"},
             {"--nice=0x5", "--nice: not an integer: '0x5'"},
             {"--nice=5x", "--nice: not an integer: '5x'"}}) {
      std::vector<std::string> bad = {RunfilePath("services/cli/lifelong"), "train", "--every=1h", flag};
      bad.insert(bad.end(), common.begin(), common.end());
      EXPECT_NE(RunToCompletion(bad, dir + "/bad.log"), 0) << flag;
      EXPECT_TRUE(absl::StrContains(ReadFile(dir + "/bad.log"), message)) << flag << ": " << ReadFile(dir + "/bad.log");
    }
    EXPECT_FALSE(std::filesystem::exists(root)) << "a refused schedule trained or made its model root";
  }

  // --training_share 0.05: after a training that took T the next waits 19T
  // (several seconds here, where a training takes under a second).
  std::vector<std::string> argv = {RunfilePath("services/cli/lifelong"), "train", "--every=1h", "--check_every=1s",
                                   "--training_share=0.05"};
  argv.insert(argv.end(), common.begin(), common.end());
  argv.insert(argv.end(), {"--", "--tune=false"});
  absl::StatusOr<testing::Subprocess> scheduler = testing::Subprocess::Start(argv, log);
  ASSERT_TRUE(scheduler.ok()) << scheduler.status();

  // The schedule and the trainer it starts run at nice 10 (--nice), below the
  // services a kiosk waits on (field 19 of /proc/PID/stat).
  {
    ASSERT_TRUE(WaitFor([&] { return absl::StrContains(ReadFile(log), "train: scheduled"); }, std::chrono::seconds(30)))
        << ReadFile(log);
    std::vector<std::string> fields =
        absl::StrSplit(ReadFile(absl::StrCat("/proc/", scheduler->pid(), "/stat")), ' ', absl::SkipEmpty());
    ASSERT_GT(fields.size(), 18u);
    EXPECT_EQ(fields[18], "10");
  }

  // One schedule per model root: a second is refused, naming the holder.
  {
    ASSERT_TRUE(
        WaitFor([&] { return std::filesystem::exists(root + "/.train-schedule.lock"); }, std::chrono::seconds(30)));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // locked right after the file is made
    std::vector<std::string> second = {RunfilePath("services/cli/lifelong"), "train", "--every=1h"};
    second.insert(second.end(), common.begin(), common.end());
    EXPECT_NE(RunToCompletion(second, dir + "/second.log"), 0);
    EXPECT_TRUE(absl::StrContains(ReadFile(dir + "/second.log"), "another `lifelong train --every` runs on"))
        << ReadFile(dir + "/second.log");
  }

  // No model: the first one is trained at once.
  ASSERT_TRUE(WaitFor([&] { return !Versions(root).empty(); }, std::chrono::seconds(240))) << ReadFile(log);
  EXPECT_EQ(Versions(root), std::vector<int64_t>({1})) << ReadFile(log);
  EXPECT_TRUE(absl::StrContains(ReadFile(log), "train: training now: no model yet")) << ReadFile(log);
  // Young and erasure-clean: not retrained at the next checks.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(Versions(root), std::vector<int64_t>({1})) << ReadFile(log);
  EXPECT_TRUE(absl::StrContains(ReadFile(log), "train: up to date (model 1 is")) << ReadFile(log);

  // An erasure: retrained within the check interval plus a training run; the
  // model trained before it is retired and deleted.
  auto stub =
      v1::LearningRecordService::NewStub(grpc::CreateChannel(records.address(), grpc::InsecureChannelCredentials()));
  // Erases the first demo learner who still has statements.
  auto erase_a_learner = [&] {
    std::string learner;
    for (int i = 1; i <= 120 && learner.empty(); ++i) {
      grpc::ClientContext ctx;
      v1::ListStatementsRequest list;
      list.set_learner(absl::StrFormat("u%06d", i));
      list.set_page_size(1);
      v1::ListStatementsResponse page;
      if (stub->ListStatements(&ctx, list, &page).ok() && page.statements_size() > 0) learner = list.learner();
    }
    ASSERT_FALSE(learner.empty());
    grpc::ClientContext ctx;
    v1::EraseLearnerRequest erase;
    erase.set_learner(learner);
    v1::EraseLearnerResponse erased;
    grpc::Status s = stub->EraseLearner(&ctx, erase, &erased);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_GT(erased.erased_statements(), 0);
  };
  erase_a_learner();
  ASSERT_TRUE(WaitFor([&] { return Versions(root) == std::vector<int64_t>({2}); }, std::chrono::seconds(240)))
      << ReadFile(log);
  EXPECT_TRUE(absl::StrContains(ReadFile(log), "train: training now: an erasure since model 1")) << ReadFile(log);
  absl::StatusOr<std::set<int64_t>> retired = models::RetiredVersions(root);
  ASSERT_TRUE(retired.ok()) << retired.status();
  EXPECT_TRUE(retired->empty());

  // Another erasure right after that training: due at once, but it waits
  // 19 times as long as the last training took (--training_share 0.05), then
  // trains.
  erase_a_learner();
  ASSERT_TRUE(WaitFor([&] { return Versions(root) == std::vector<int64_t>({3}); }, std::chrono::seconds(240)))
      << ReadFile(log);
  EXPECT_TRUE(absl::StrContains(ReadFile(log), "train: due, waiting: an erasure since model 2")) << ReadFile(log);
  EXPECT_TRUE(absl::StrContains(ReadFile(log), "trainings take at most 5% of the time (--training_share)"))
      << ReadFile(log);

  // SIGTERM: stops promptly and cleanly.
  absl::StatusOr<int> status = scheduler->Stop(SIGTERM, std::chrono::seconds(20));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_TRUE(absl::StrContains(ReadFile(log), "train: stopped")) << ReadFile(log);
}

}  // namespace
}  // namespace lifelong
