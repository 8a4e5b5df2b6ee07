// The backup drill end to end: a real records_server process, `lifelong
// backup create|list|verify` against it, the server stopped, `lifelong backup
// restore` into a new directory, a server started on it serving exactly the
// backed-up statements (less a learner erased after the backup).
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "services/cli/cli.h"
#include "services/records/backups.h"
#include "tests/testing/subprocess.h"

namespace lifelong::cli {
namespace {

using ::lifelong::testing::FreshTempDir;
using ::lifelong::testing::RunfilePath;
using ::lifelong::testing::Subprocess;
using ::lifelong::testing::WaitForPortFile;

struct Result {
  int code;
  std::string out;
  std::string err;
};

struct Server {
  Subprocess process;
  std::string address;
};

// records_server on free ports over `root`/records, its xAPI documents in
// `root`/docs, backups in `backup_dir`.
std::unique_ptr<Server> StartRecords(const std::string& root, const std::string& backup_dir, int n) {
  std::filesystem::create_directories(root);
  const std::string port_file = absl::StrCat(root, "/port-", n);
  const std::string credentials = absl::StrCat(root, "-xapi-credentials.txt");
  std::ofstream(credentials) << "feed:backup-cli-test-secret role=loader\n";
  std::vector<std::string> argv = {RunfilePath("services/records/records_server"),
                                   "--port=0",
                                   "--host=127.0.0.1",
                                   "--metrics_port=0",
                                   "--xapi_port=0",
                                   "--warm_cache=false",
                                   absl::StrCat("--data_dir=", root, "/records"),
                                   absl::StrCat("--xapi_documents_dir=", root, "/docs"),
                                   absl::StrCat("--xapi_credentials=", credentials),
                                   absl::StrCat("--backup_dir=", backup_dir),
                                   absl::StrCat("--port_file=", port_file)};
  auto p = Subprocess::Start(argv, absl::StrCat(root, "/server-", n, ".log"));
  if (!p.ok()) return nullptr;
  auto port = WaitForPortFile(port_file);
  if (!port.ok()) return nullptr;
  return std::make_unique<Server>(Server{std::move(*p), absl::StrCat("127.0.0.1:", *port)});
}

Result Cli(const std::string& records, std::vector<std::string> args) {
  std::ostringstream out, err;
  CliContext ctx;
  ctx.out = &out;
  ctx.err = &err;
  ctx.env["LIFELONG_RECORDS"] = records;
  int code = RunCli(args, ctx);
  return {code, out.str(), err.str()};
}

// id -> stored JSON of every statement (lifelong export).
std::map<std::string, std::string> Export(const std::string& records) {
  Result r = Cli(records, {"export"});
  EXPECT_EQ(r.code, 0) << r.err;
  std::map<std::string, std::string> out;
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line);
    out[j["id"].get<std::string>()] = j.dump();
  }
  return out;
}

TEST(BackupCli, CreateListVerifyStopRestoreStartSameStatements) {
  const std::string dir = FreshTempDir("backup_cli");
  const std::string backups = dir + "/backups";
  std::unique_ptr<Server> a = StartRecords(dir + "/a", backups, 1);
  ASSERT_NE(a, nullptr) << "records_server did not start";

  for (int i = 0; i < 6; ++i) {
    Result r = Cli(a->address, {"record", "--learner", absl::StrCat("u10000", i % 3), "--verb", "completed", "--course",
                                absl::StrCat("c0000", i), "--title", "太极拳入门（和平里）", "--credits", "1"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  ASSERT_EQ(Cli(a->address, {"record", "--learner", "u200001", "--verb", "attended", "--course", "c00009"}).code, 0);
  ASSERT_EQ(Cli(a->address, {"backup", "list"}).out, "no backups yet (lifelong backup create)\n");

  Result created = Cli(a->address, {"backup", "create", "--json"});
  ASSERT_EQ(created.code, 0) << created.err;
  nlohmann::json c = nlohmann::json::parse(created.out);
  EXPECT_EQ(c["backup_id"], 1);
  EXPECT_EQ(c["statements"], 7);
  EXPECT_EQ(c["applied_seq"], 0);
  EXPECT_EQ(c["documents"], true);
  std::map<std::string, std::string> at_backup = Export(a->address);
  ASSERT_EQ(at_backup.size(), 7u);
  Result human = Cli(a->address, {"backup", "create"});
  ASSERT_EQ(human.code, 0) << human.err;
  EXPECT_NE(human.out.find("backup 2 created: 7 statement(s)"), std::string::npos) << human.out;

  Result listed = Cli(a->address, {"backup", "list"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_NE(listed.out.find("STATEMENTS"), std::string::npos) << listed.out;
  Result listed_json = Cli(a->address, {"backup", "list", "--json"});
  ASSERT_EQ(listed_json.code, 0);
  std::vector<std::string> lines = absl::StrSplit(listed_json.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["backup_id"], 1);

  Result verified = Cli(a->address, {"backup", "verify", "1"});
  ASSERT_EQ(verified.code, 0) << verified.err;
  EXPECT_NE(verified.out.find("backup 1 verified"), std::string::npos) << verified.out;
  Result unknown = Cli(a->address, {"backup", "verify", "9"});
  EXPECT_EQ(unknown.code, 3) << unknown.err;  // NOT_FOUND
  EXPECT_NE(unknown.err.find("backup_id"), std::string::npos) << unknown.err;
  EXPECT_EQ(Cli(a->address, {"backup", "verify", "one"}).code, 2);
  EXPECT_EQ(Cli(a->address, {"backup", "verify"}).code, 2);

  // After backup 1: more writes, and u200001 is erased.
  ASSERT_EQ(Cli(a->address, {"record", "--learner", "u100000", "--verb", "completed", "--course", "c00099"}).code, 0);
  ASSERT_EQ(Cli(a->address, {"erase-learner", "u200001", "--yes"}).code, 0);
  std::map<std::string, std::string> expected = at_backup;
  for (auto it = expected.begin(); it != expected.end();) {
    it = it->second.find("u200001") != std::string::npos ? expected.erase(it) : std::next(it);
  }
  ASSERT_EQ(expected.size(), 6u);

  // A running server's directory is never restored over, even with --force.
  Result live =
      Cli("", {"backup", "restore", "1", "--data_dir", dir + "/a/records", "--backup_dir", backups, "--force"});
  EXPECT_NE(live.code, 0);
  EXPECT_NE(live.err.find("lock"), std::string::npos) << live.err;
  ASSERT_TRUE(a->process.Stop(SIGTERM).ok());

  // Restore needs --data_dir; refuses a non-empty target without --force.
  EXPECT_EQ(Cli("", {"backup", "restore", "1"}).code, 2);
  Result occupied = Cli("", {"backup", "restore", "1", "--data_dir", dir + "/a/records", "--backup_dir", backups});
  EXPECT_NE(occupied.code, 0);
  EXPECT_NE(occupied.err.find("--force"), std::string::npos) << occupied.err;
  Result missing = Cli("", {"backup", "restore", "5", "--data_dir", dir + "/b/records", "--backup_dir", backups});
  EXPECT_EQ(missing.code, 3) << missing.err;
  // "latest" is the newest backup (2, taken before the erasure as well).
  Result latest =
      Cli("", {"backup", "restore", "latest", "--data_dir", dir + "/c/records", "--backup_dir", backups, "--json"});
  ASSERT_EQ(latest.code, 0) << latest.err;
  nlohmann::json lj = nlohmann::json::parse(latest.out);
  EXPECT_EQ(lj["backup_id"], 2);
  EXPECT_EQ(lj["statements"], 6);  // u200001 erased again
  EXPECT_EQ(lj["reerased_learners"], 1);
  EXPECT_EQ(lj["not_removed"], nlohmann::json::array());
  EXPECT_EQ(lj["leftovers"], nlohmann::json::array());

  // --force replaces the stopped server's directory: the old store is moved
  // aside, then deleted once the restored one is in place; what an earlier,
  // interrupted restore left beside it is named and kept.
  const std::string stale = dir + "/a/records.replaced-123";
  std::filesystem::create_directories(stale);
  Result forced =
      Cli("", {"backup", "restore", "1", "--data_dir", dir + "/a/records", "--backup_dir", backups, "--force"});
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(forced.out.find("interrupted restore"), std::string::npos) << forced.out;
  EXPECT_NE(forced.out.find(stale), std::string::npos) << forced.out;
  std::vector<std::string> beside;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/a")) {
    if (e.path().filename().string().rfind("records", 0) == 0) beside.push_back(e.path().string());
  }
  std::sort(beside.begin(), beside.end());
  EXPECT_EQ(beside, (std::vector<std::string>{dir + "/a/records", stale})) << ::testing::PrintToString(beside);

  Result restored = Cli("", {"backup", "restore", "1", "--data_dir", dir + "/b/records", "--backup_dir", backups,
                             "--xapi_documents_dir", dir + "/b/docs"});
  ASSERT_EQ(restored.code, 0) << restored.err;
  EXPECT_NE(restored.out.find("restored backup 1"), std::string::npos) << restored.out;
  EXPECT_NE(restored.out.find("erased again: 1 learner(s)"), std::string::npos) << restored.out;
  EXPECT_NE(restored.out.find("records_server --data_dir="), std::string::npos) << restored.out;

  std::unique_ptr<Server> b = StartRecords(dir + "/b", backups, 2);
  ASSERT_NE(b, nullptr) << "records_server did not start on the restored directory";
  EXPECT_EQ(Export(b->address), expected);
  Result history = Cli(b->address, {"history", "u200001", "--json"});
  EXPECT_EQ(history.code, 0) << history.err;
  EXPECT_EQ(history.out, "");
  // The restored server takes writes and backups into the same directory.
  ASSERT_EQ(Cli(b->address, {"record", "--learner", "u100001", "--verb", "completed", "--course", "c00042"}).code, 0);
  Result third = Cli(b->address, {"backup", "create", "--json"});
  ASSERT_EQ(third.code, 0) << third.err;
  EXPECT_EQ(nlohmann::json::parse(third.out)["backup_id"], 3);
  EXPECT_EQ(nlohmann::json::parse(third.out)["statements"], 7);
  ASSERT_TRUE(b->process.Stop(SIGTERM).ok());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// records_server --backup_interval: scheduled backups in a real process,
// retention, the backup metrics; bad settings stop the start.
TEST(BackupCli, ScheduledBackupsKeepTheNewestNAndExportMetrics) {
  const std::string dir = FreshTempDir("backup_schedule");
  const std::string log = dir + "/server.log";
  auto start = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {RunfilePath("services/records/records_server"),
                                     "--port=0",
                                     "--host=127.0.0.1",
                                     "--metrics_port=0",
                                     "--xapi_port=-1",
                                     "--warm_cache=false",
                                     absl::StrCat("--data_dir=", dir, "/records"),
                                     absl::StrCat("--port_file=", dir, "/port")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Subprocess::Start(argv, log);
  };
  for (const char* bad : {"--backup_keep=0", "--backup_interval=-1s"}) {
    auto p = start({bad});
    ASSERT_TRUE(p.ok());
    absl::StatusOr<int> status = p->Wait(std::chrono::seconds(30));
    ASSERT_TRUE(status.ok()) << bad << " did not stop the start";
    EXPECT_NE(*status, 0) << bad;
    EXPECT_NE(ReadFile(log).find("backup_config"), std::string::npos) << ReadFile(log);
  }
  auto p = start({"--backup_interval=50ms", "--backup_keep=2"});
  ASSERT_TRUE(p.ok());
  auto port = WaitForPortFile(dir + "/port");
  ASSERT_TRUE(port.ok()) << ReadFile(log);
  const std::string records = absl::StrCat("127.0.0.1:", *port);
  ASSERT_EQ(Cli(records, {"record", "--learner", "u100001", "--verb", "completed", "--course", "c00001"}).code, 0);
  // Wait (bounded) for four scheduled backups.
  auto count = [&](const std::string& needle) {
    std::string text = ReadFile(log);
    int n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  };
  for (int i = 0; i < 600 && count("\"backup_created\"") < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(count("\"backup_created\""), 4) << ReadFile(log);
  EXPECT_EQ(count("backup_failed"), 0) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("\"trigger\":\"schedule\""), std::string::npos);
  // The metrics endpoint (its port is in the "serving" log line).
  std::string text = ReadFile(log);
  size_t at = text.find("\"metrics_port\":");
  ASSERT_NE(at, std::string::npos) << text;
  int metrics_port = std::atoi(text.c_str() + at + 15);
  ASSERT_GT(metrics_port, 0);
  httplib::Client http("127.0.0.1", metrics_port);
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("lifelong_backups_total{outcome=\"error\"} 0"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("lifelong_backups_total{outcome=\"ok\"}"), std::string::npos);
  EXPECT_EQ(res->body.find("lifelong_backup_age_seconds +Inf"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("lifelong_backup_last_success_timestamp 1"), std::string::npos) << res->body;
  // A second server on the same backup directory does not start.
  {
    std::vector<std::string> argv = {RunfilePath("services/records/records_server"),
                                     "--port=0",
                                     "--metrics_port=0",
                                     "--xapi_port=-1",
                                     absl::StrCat("--data_dir=", dir, "/other"),
                                     absl::StrCat("--backup_dir=", dir, "/records-backups")};
    auto second = Subprocess::Start(argv, dir + "/second.log");
    ASSERT_TRUE(second.ok());
    absl::StatusOr<int> status = second->Wait(std::chrono::seconds(30));
    ASSERT_TRUE(status.ok()) << "the second server kept running";
    EXPECT_NE(*status, 0);
    EXPECT_NE(ReadFile(dir + "/second.log").find("backup_dir_unusable"), std::string::npos)
        << ReadFile(dir + "/second.log");
  }
  ASSERT_TRUE(p->Stop(SIGTERM).ok());
  // Stopped after a whole round: exactly the newest two are kept.
  const int taken = count("\"backup_created\"");
  absl::StatusOr<std::vector<records::BackupInfo>> left = records::ListBackupsIn(dir + "/records-backups");
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[1].id, static_cast<uint32_t>(taken));
  EXPECT_EQ((*left)[1].statements, 1u);
}

}  // namespace
}  // namespace lifelong::cli
