// The backup drill end to end: a real records_server process, `lifelong
// backup create|list|verify` against it, the server stopped, `lifelong backup
// restore` into a new directory, a server started on it serving exactly the
// backed-up statements (less a learner erased after the backup). The same
// with --service=catalog against a real catalog_server: its courses and
// programmes come back as they were at the backup.
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

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "services/catalog/catalog_backups.h"
#include "services/cli/cli.h"
#include "services/records/backups.h"
#include "tests/testing/subprocess.h"

namespace lifelong::cli {
namespace {

using ::lifelong::testing::FreshTempDir;
using ::lifelong::testing::ReadFile;
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
  // The stopped store holds a statement recorded after backup 1: a forced
  // restore alone refuses to lose it, naming how many and the way out.
  Result newer =
      Cli("", {"backup", "restore", "1", "--data_dir", dir + "/a/records", "--backup_dir", backups, "--force"});
  EXPECT_EQ(newer.code, 1) << newer.err;  // FAILED_PRECONDITION
  EXPECT_NE(newer.err.find("1 statement(s) recorded after backup 1"), std::string::npos) << newer.err;
  EXPECT_NE(newer.err.find("--discard_newer"), std::string::npos) << newer.err;
  Result forced = Cli("", {"backup", "restore", "1", "--data_dir", dir + "/a/records", "--backup_dir", backups,
                           "--force", "--discard_newer"});
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(forced.out.find("lost: 1 statement(s) recorded after the backup"), std::string::npos) << forced.out;
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

// How often `needle` occurs in the file at `path`.
int CountIn(const std::string& path, const std::string& needle) {
  const std::string text = ReadFile(path);
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Waits (bounded) until the server logging to `log` has logged `n` scheduled
// backups.
void WaitForBackups(const std::string& log, int n) {
  for (int i = 0; i < 600 && CountIn(log, "\"backup_created\"") < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// The /metrics page of the server whose "serving" line (with its
// metrics_port) is in `log`; empty when there is none.
std::string ScrapeMetrics(const std::string& log) {
  const std::string text = ReadFile(log);
  const size_t at = text.find("\"metrics_port\":");
  if (at == std::string::npos) return "";
  const int port = std::atoi(text.c_str() + at + 15);
  if (port <= 0) return "";
  httplib::Client http("127.0.0.1", port);
  auto res = http.Get("/metrics");
  return res ? res->body : "";
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
  for (const auto& [bad, event] :
       std::vector<std::pair<const char*, const char*>>{{"--backup_keep=0", "backup_config"},
                                                        {"--backup_interval=-1s", "backup_config"},
                                                        {"--stream_stall_timeout_seconds=0", "stream_config"}}) {
    auto p = start({bad});
    ASSERT_TRUE(p.ok());
    absl::StatusOr<int> status = p->Wait(std::chrono::seconds(30));
    ASSERT_TRUE(status.ok()) << bad << " did not stop the start";
    EXPECT_NE(*status, 0) << bad;
    EXPECT_NE(ReadFile(log).find(event), std::string::npos) << ReadFile(log);
  }
  auto p = start({"--backup_interval=50ms", "--backup_keep=2"});
  ASSERT_TRUE(p.ok());
  auto port = WaitForPortFile(dir + "/port");
  ASSERT_TRUE(port.ok()) << ReadFile(log);
  const std::string records = absl::StrCat("127.0.0.1:", *port);
  ASSERT_EQ(Cli(records, {"record", "--learner", "u100001", "--verb", "completed", "--course", "c00001"}).code, 0);
  // Wait (bounded) for four scheduled backups.
  auto count = [&](const std::string& needle) { return CountIn(log, needle); };
  WaitForBackups(log, 4);
  ASSERT_GE(count("\"backup_created\""), 4) << ReadFile(log);
  EXPECT_EQ(count("backup_failed"), 0) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("\"trigger\":\"schedule\""), std::string::npos);
  // The metrics endpoint (its port is in the "serving" log line).
  const std::string metrics = ScrapeMetrics(log);
  ASSERT_FALSE(metrics.empty()) << ReadFile(log);
  EXPECT_NE(metrics.find("lifelong_backups_total{outcome=\"error\"} 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("lifelong_backups_total{outcome=\"ok\"}"), std::string::npos);
  EXPECT_EQ(metrics.find("lifelong_backup_age_seconds +Inf"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("lifelong_backup_last_success_timestamp 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("lifelong_grpc_streams_cancelled_total{reason=\"stalled\"} 0"), std::string::npos) << metrics;
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

// ---------- the catalog (--service=catalog) ----------

// catalog_server on free ports over `data_dir`, backups in `backup_dir`,
// `extra` flags; its log is `log`.
std::unique_ptr<Server> StartCatalog(const std::string& data_dir, const std::string& backup_dir, const std::string& log,
                                     std::vector<std::string> extra = {}) {
  const std::string port_file = log + ".port";
  std::filesystem::remove(port_file);
  std::vector<std::string> argv = {RunfilePath("services/catalog/catalog_server"),
                                   "--port=0",
                                   "--host=127.0.0.1",
                                   "--metrics_port=0",
                                   absl::StrCat("--data_dir=", data_dir),
                                   absl::StrCat("--backup_dir=", backup_dir),
                                   absl::StrCat("--port_file=", port_file)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto p = Subprocess::Start(argv, log);
  if (!p.ok()) return nullptr;
  auto port = WaitForPortFile(port_file);
  if (!port.ok()) return nullptr;
  return std::make_unique<Server>(Server{std::move(*p), absl::StrCat("127.0.0.1:", *port)});
}

Result CatalogCli(const std::string& catalog, std::vector<std::string> args) {
  std::ostringstream out, err;
  CliContext ctx;
  ctx.out = &out;
  ctx.err = &err;
  ctx.env["LIFELONG_CATALOG"] = catalog;
  ctx.env["LIFELONG_RECORDS"] = "127.0.0.1:1";  // never the one asked
  int code = RunCli(args, ctx);
  return {code, out.str(), err.str()};
}

std::unique_ptr<v1::CourseCatalogService::Stub> CatalogStub(const std::string& address) {
  return v1::CourseCatalogService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

v1::Course Course(const std::string& id, const std::string& title) {
  v1::Course c;
  c.set_id(id);
  c.set_title(title);
  c.set_category("传统文化");
  c.mutable_provider()->set_name("东四街道市民学校");
  c.mutable_provider()->set_kind(v1::Provider::RESIDENTS_SCHOOL);
  c.set_mode(v1::Course::ONLINE);
  c.set_state(v1::Course::OPEN);
  c.set_capacity(20);
  c.set_seats_taken(5);
  return c;
}

void CreateCourse(v1::CourseCatalogService::Stub* stub, const std::string& id, const std::string& title) {
  grpc::ClientContext ctx;
  v1::CreateCourseRequest req;
  *req.mutable_course() = Course(id, title);
  v1::Course out;
  grpc::Status s = stub->CreateCourse(&ctx, req, &out);
  ASSERT_TRUE(s.ok()) << id << ": " << s.error_message();
}

void PutProgramme(v1::CourseCatalogService::Stub* stub, const std::string& id, const std::string& course) {
  grpc::ClientContext ctx;
  v1::PutProgrammeRequest req;
  req.mutable_programme()->set_id(id);
  req.mutable_programme()->set_name(absl::StrCat("社区教育证书 ", id));
  req.mutable_programme()->set_credits(6);
  req.mutable_programme()->add_required_course_ids(course);
  v1::Programme out;
  grpc::Status s = stub->PutProgramme(&ctx, req, &out);
  ASSERT_TRUE(s.ok()) << id << ": " << s.error_message();
}

// id -> (title, seats taken) of every course, and the programme ids.
std::pair<std::map<std::string, std::string>, std::set<std::string>> CatalogContents(const std::string& address) {
  auto stub = CatalogStub(address);
  std::map<std::string, std::string> courses;
  grpc::ClientContext ctx;
  v1::ListCoursesRequest req;
  req.set_show_archived(true);
  req.set_page_size(1000);
  v1::ListCoursesResponse resp;
  grpc::Status s = stub->ListCourses(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  for (const v1::Course& c : resp.courses()) courses[c.id()] = absl::StrCat(c.title(), "|", c.seats_taken());
  std::set<std::string> programmes;
  grpc::ClientContext pctx;
  v1::ListProgrammesResponse listed;
  s = stub->ListProgrammes(&pctx, v1::ListProgrammesRequest(), &listed);
  EXPECT_TRUE(s.ok()) << s.error_message();
  for (const v1::Programme& p : listed.programmes()) programmes.insert(p.id());
  return {courses, programmes};
}

TEST(BackupCli, CatalogCreateListVerifyStopRestoreStartSameCourses) {
  const std::string dir = FreshTempDir("catalog_backup_cli");
  const std::string backups = dir + "/catalog-backups";
  const std::string live = dir + "/a/catalog";
  std::unique_ptr<Server> a = StartCatalog(live, backups, dir + "/a.log");
  ASSERT_NE(a, nullptr) << "catalog_server did not start: " << ReadFile(dir + "/a.log");
  auto stub = CatalogStub(a->address);
  CreateCourse(stub.get(), "c1", "太极拳入门（和平里）");
  CreateCourse(stub.get(), "c2", "书法 楷书");
  PutProgramme(stub.get(), "p1", "c1");

  EXPECT_EQ(CatalogCli(a->address, {"backup", "list", "--service=catalog"}).out,
            "no catalog backups yet (lifelong backup create --service=catalog)\n");
  Result created = CatalogCli(a->address, {"backup", "create", "--service", "catalog", "--json"});
  ASSERT_EQ(created.code, 0) << created.err;
  nlohmann::json c = nlohmann::json::parse(created.out);
  EXPECT_EQ(c["service"], "catalog");
  EXPECT_EQ(c["backup_id"], 1);
  EXPECT_EQ(c["courses"], 2);
  EXPECT_EQ(c["programmes"], 1);
  EXPECT_EQ(c["generation"], 3);
  const auto at_backup = CatalogContents(a->address);
  // --server names the catalog when --service=catalog picks it.
  Result human = CatalogCli("127.0.0.1:1", {"backup", "create", "--service=catalog", "--server", a->address});
  ASSERT_EQ(human.code, 0) << human.err;
  EXPECT_NE(human.out.find("catalog backup 2 created: 2 course(s), 1 programme(s)"), std::string::npos) << human.out;

  Result listed = CatalogCli(a->address, {"backup", "list", "--service=catalog"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_NE(listed.out.find("PROGRAMMES"), std::string::npos) << listed.out;
  Result listed_json = CatalogCli(a->address, {"backup", "list", "--service=catalog", "--json"});
  ASSERT_EQ(listed_json.code, 0);
  std::vector<std::string> lines = absl::StrSplit(listed_json.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["backup_id"], 1);

  Result verified = CatalogCli(a->address, {"backup", "verify", "1", "--service=catalog"});
  ASSERT_EQ(verified.code, 0) << verified.err;
  EXPECT_NE(verified.out.find("catalog backup 1 verified"), std::string::npos) << verified.out;
  Result unknown = CatalogCli(a->address, {"backup", "verify", "9", "--service=catalog"});
  EXPECT_EQ(unknown.code, 3) << unknown.err;  // NOT_FOUND
  EXPECT_NE(unknown.err.find("catalog at"), std::string::npos) << unknown.err;
  EXPECT_EQ(CatalogCli(a->address, {"backup", "list", "--service=recommend"}).code, 2);

  // After backup 1: a new course, changed seats, a new programme. A restore
  // loses them.
  CreateCourse(stub.get(), "c3", "摄影 基础");
  PutProgramme(stub.get(), "p2", "c3");
  ASSERT_NE(CatalogContents(a->address), at_backup);

  // The running server's directory is never restored over, even with --force.
  Result held = CatalogCli(
      "", {"backup", "restore", "1", "--service=catalog", "--data_dir", live, "--backup_dir", backups, "--force"});
  EXPECT_NE(held.code, 0);
  EXPECT_NE(held.err.find("lock"), std::string::npos) << held.err;
  ASSERT_TRUE(a->process.Stop(SIGTERM).ok());

  EXPECT_EQ(CatalogCli("", {"backup", "restore", "1", "--service=catalog", "--data_dir", dir + "/x",
                            "--xapi_documents_dir", dir + "/y"})
                .code,
            2);
  Result occupied =
      CatalogCli("", {"backup", "restore", "1", "--service=catalog", "--data_dir", live, "--backup_dir", backups});
  EXPECT_NE(occupied.code, 0);
  EXPECT_NE(occupied.err.find("--force"), std::string::npos) << occupied.err;
  // A records backup directory holds no catalog backups.
  Result wrong = CatalogCli("", {"backup", "restore", "latest", "--service=catalog", "--data_dir", dir + "/w",
                                 "--backup_dir", dir + "/nowhere"});
  EXPECT_EQ(wrong.code, 3) << wrong.err;
  // "latest" into a fresh directory: backup 2.
  Result latest = CatalogCli("", {"backup", "restore", "latest", "--service=catalog", "--data_dir", dir + "/b/catalog",
                                  "--backup_dir", backups, "--json"});
  ASSERT_EQ(latest.code, 0) << latest.err;
  nlohmann::json lj = nlohmann::json::parse(latest.out);
  EXPECT_EQ(lj["backup_id"], 2);
  EXPECT_EQ(lj["courses"], 2);
  EXPECT_EQ(lj["programmes"], 1);
  EXPECT_EQ(lj["not_removed"], nlohmann::json::array());
  // --force over the stopped server's directory (default --backup_dir would
  // be a/catalog-backups: name it).
  Result forced = CatalogCli(
      "", {"backup", "restore", "1", "--service=catalog", "--data_dir", live, "--backup_dir", backups, "--force"});
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(forced.out.find("restored catalog backup 1"), std::string::npos) << forced.out;
  EXPECT_NE(forced.out.find("catalog_server --data_dir="), std::string::npos) << forced.out;
  std::vector<std::string> beside;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/a")) beside.push_back(e.path().filename());
  std::sort(beside.begin(), beside.end());
  EXPECT_EQ(beside, (std::vector<std::string>{"catalog"})) << ::testing::PrintToString(beside);

  std::unique_ptr<Server> again = StartCatalog(live, backups, dir + "/again.log");
  ASSERT_NE(again, nullptr) << "catalog_server did not start on the restored directory: "
                            << ReadFile(dir + "/again.log");
  EXPECT_EQ(CatalogContents(again->address), at_backup);
  // The restored server takes writes and backups into the same directory.
  CreateCourse(CatalogStub(again->address).get(), "c4", "围棋");
  Result third = CatalogCli(again->address, {"backup", "create", "--service=catalog", "--json"});
  ASSERT_EQ(third.code, 0) << third.err;
  EXPECT_EQ(nlohmann::json::parse(third.out)["backup_id"], 3);
  EXPECT_EQ(nlohmann::json::parse(third.out)["courses"], 3);
  ASSERT_TRUE(again->process.Stop(SIGTERM).ok());
}

// catalog_server --backup_interval: scheduled backups, retention, the
// lifelong_catalog_backup_* metrics.
TEST(BackupCli, CatalogScheduledBackupsKeepTheNewestNAndExportMetrics) {
  const std::string dir = FreshTempDir("catalog_backup_schedule");
  const std::string log = dir + "/server.log";
  std::unique_ptr<Server> s =
      StartCatalog(dir + "/catalog", dir + "/catalog-backups", log, {"--backup_interval=50ms", "--backup_keep=2"});
  ASSERT_NE(s, nullptr) << ReadFile(log);
  CreateCourse(CatalogStub(s->address).get(), "c1", "太极拳入门");
  WaitForBackups(log, 4);
  auto count = [&](const std::string& needle) { return CountIn(log, needle); };
  ASSERT_GE(count("\"backup_created\""), 4) << ReadFile(log);
  EXPECT_EQ(count("backup_failed"), 0) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("\"trigger\":\"schedule\""), std::string::npos);
  const std::string metrics = ScrapeMetrics(log);
  ASSERT_FALSE(metrics.empty()) << ReadFile(log);
  EXPECT_NE(metrics.find("lifelong_catalog_backups_total{outcome=\"error\"} 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("lifelong_catalog_backups_total{outcome=\"ok\"}"), std::string::npos);
  EXPECT_NE(metrics.find("lifelong_catalog_backup_last_success_timestamp 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("lifelong_catalog_backup_age_seconds "), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("lifelong_catalog_backup_age_seconds +Inf"), std::string::npos) << metrics;
  ASSERT_TRUE(s->process.Stop(SIGTERM).ok());
  const int taken = count("\"backup_created\"");
  absl::StatusOr<std::vector<catalog::CatalogBackupInfo>> left =
      catalog::ListCatalogBackupsIn(dir + "/catalog-backups");
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[1].id, static_cast<uint32_t>(taken));
  EXPECT_EQ((*left)[1].courses, 1u);
}

}  // namespace
}  // namespace lifelong::cli
