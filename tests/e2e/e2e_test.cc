// End to end: the record, catalog and recommendation services run as real
// processes on free ports with a temporary data directory; a small district
// is generated and loaded through the APIs; a model is trained from the
// record service's export stream; then the flows a kiosk, the app and an
// operator rely on are exercised over gRPC, and SIGTERM stops everything.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/common/health_client.h"
#include "services/domain/vocabulary.h"
#include "tests/testing/alert_metrics.h"
#include "tests/testing/service_process.h"
#include "tests/testing/subprocess.h"

namespace lifelong {
namespace {

using testing::RunfilePath;
using testing::RunToCompletion;
using testing::Subprocess;

// GET http://127.0.0.1:port/path with a raw socket; the whole response.
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) < 0) {
    close(fd);
    return "";
  }
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fd);
  return out;
}

class EndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::FreshTempDir("e2e"));
    procs_ = new std::map<std::string, testing::ServiceProcess>();
    metrics_ = new std::map<std::string, int>();
    // Record and catalog services.
    StartService("records", "services/records/records_server", *dir_ + "/records", {"--xapi_port=-1"});
    StartService("catalog", "services/catalog/catalog_server", *dir_ + "/catalog", {});
    // A small district through the real APIs.
    ASSERT_EQ(RunToCompletion({RunfilePath("services/demo/demo_loader"), "--records=" + Addr("records"),
                               "--catalog=" + Addr("catalog"), "--learners=400", "--courses=120", "--seed=7",
                               "--parallel=2", "--allow_demo_data"},
                              *dir_ + "/demo.log"),
              0)
        << "demo load failed; see " << *dir_ << "/demo.log";
    DumpCatalog(*dir_ + "/catalog.jsonl");
    ASSERT_EQ(Train(), 0) << "training failed; see " << *dir_ << "/train.log";
    StartService("recommend", "services/recommend/recommend_server", "",
                 {"--model_dir=" + *dir_ + "/models", "--records=" + Addr("records"), "--catalog=" + Addr("catalog"),
                  "--model_poll_ms=200", "--catalog_refresh_ms=200"});
    // Serving once the model is loaded.
    auto channel = grpc::CreateChannel(Addr("recommend"), grpc::InsecureChannelCredentials());
    bool serving = false;
    for (int i = 0; i < 600 && !serving; ++i) {
      absl::StatusOr<HealthState> h = CheckHealth(channel, "");
      serving = h.ok() && *h == HealthState::kServing;
      if (!serving) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(serving) << "recommender never reported SERVING";
  }

  static void TearDownTestSuite() {
    delete procs_;  // SIGKILLs anything a failed test left running
    delete metrics_;
    delete dir_;
  }

  static void StartService(const std::string& name, const std::string& binary, const std::string& data_dir,
                           std::vector<std::string> flags) {
    testing::ServiceOptions o;
    o.binary = binary;
    o.data_dir = data_dir;
    o.port_file = *dir_ + "/" + name + ".port";
    o.log_path = *dir_ + "/" + name + ".log";
    o.flags = std::move(flags);
    // The server binds its metrics port itself and logs it (LoggedPort).
    o.flags.push_back("--metrics_port=0");
    absl::StatusOr<testing::ServiceProcess> p = testing::ServiceProcess::Start(o);
    ASSERT_TRUE(p.ok()) << name << ": " << p.status();
    absl::StatusOr<int> metrics_port = p->LoggedPort("serving", "metrics_port");
    ASSERT_TRUE(metrics_port.ok()) << name << ": " << metrics_port.status();
    (*metrics_)[name] = *metrics_port;
    ports_[name] = p->port();
    procs_->emplace(name, *std::move(p));
  }

  static std::string Addr(const std::string& name) { return "127.0.0.1:" + std::to_string(ports_[name]); }

  static int Train() {
    return RunToCompletion({RunfilePath("models/train"), "--model_root=" + *dir_ + "/models",
                            "--records=" + Addr("records"), "--catalog=" + *dir_ + "/catalog.jsonl", "--tune=false"},
                           *dir_ + "/train.log");
  }

  static std::vector<v1::Course> AllCourses() {
    auto stub =
        v1::CourseCatalogService::NewStub(grpc::CreateChannel(Addr("catalog"), grpc::InsecureChannelCredentials()));
    std::vector<v1::Course> all;
    v1::ListCoursesRequest req;
    req.set_page_size(1000);
    for (;;) {
      grpc::ClientContext ctx;
      v1::ListCoursesResponse resp;
      grpc::Status s = stub->ListCourses(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      all.insert(all.end(), resp.courses().begin(), resp.courses().end());
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    return all;
  }

  static void DumpCatalog(const std::string& path) {
    std::ofstream out(path);
    for (const v1::Course& c : AllCourses()) {
      nlohmann::json j = {{"id", c.id()},
                          {"title", c.title()},
                          {"description", c.description()},
                          {"category", c.category()},
                          {"tags", std::vector<std::string>(c.tags().begin(), c.tags().end())}};
      out << j.dump() << "\n";
    }
  }

  std::unique_ptr<v1::LearningRecordService::Stub> Records() {
    return v1::LearningRecordService::NewStub(grpc::CreateChannel(Addr("records"), grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<v1::RecommendationService::Stub> Recommender() {
    return v1::RecommendationService::NewStub(
        grpc::CreateChannel(Addr("recommend"), grpc::InsecureChannelCredentials()));
  }

  v1::RecommendResponse Recommend(const v1::RecommendRequest& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::RecommendResponse resp;
    grpc::Status s = Recommender()->Recommend(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  void RecordStatement(const std::string& learner, absl::string_view verb, const v1::Course& course,
                       const std::string& platform, double credits = -1) {
    nlohmann::ordered_json st = {
        {"actor",
         {{"objectType", "Agent"}, {"account", {{"homePage", std::string(vocab::kDistrictIdp)}, {"name", learner}}}}},
        {"verb", {{"id", std::string(verb)}}},
        {"object",
         {{"objectType", "Activity"},
          {"id", vocab::CourseIri(course.id())},
          {"definition", {{"name", {{"zh-CN", course.title()}}}}}}},
        {"context", {{"platform", platform}}}};
    nlohmann::ordered_json ext = nlohmann::ordered_json::object();
    if (credits >= 0) ext[std::string(vocab::kExtCredits)] = credits;
    ext[std::string(vocab::kExtMode)] = platform == "kiosk" ? "offline" : "online";
    if (!course.venue().xuequ().empty()) ext[std::string(vocab::kExtXuequ)] = course.venue().xuequ();
    st["context"]["extensions"] = ext;
    grpc::ClientContext ctx;
    v1::RecordStatementRequest req;
    req.set_statement_json(st.dump());
    v1::Statement out;
    grpc::Status s = Records()->RecordStatement(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  static std::vector<std::string> Ids(const v1::RecommendResponse& r) {
    std::vector<std::string> ids;
    for (const auto& x : r.recommendations()) ids.push_back(x.course().course_id());
    return ids;
  }

  static std::string* dir_;
  static std::map<std::string, testing::ServiceProcess>* procs_;
  static std::map<std::string, int> ports_;
  static std::map<std::string, int>* metrics_;
};

std::string* EndToEnd::dir_ = nullptr;
std::map<std::string, testing::ServiceProcess>* EndToEnd::procs_ = nullptr;
std::map<std::string, int> EndToEnd::ports_;
std::map<std::string, int>* EndToEnd::metrics_ = nullptr;

TEST_F(EndToEnd, KioskFlowSeniorWithoutHistory) {
  // A kiosk at a venue that hosts offline courses.
  std::string venue;
  double lat = 0, lng = 0;
  for (const v1::Course& c : AllCourses()) {
    if (c.mode() == v1::Course::OFFLINE && !c.venue().id().empty() && c.venue().has_location()) {
      venue = c.venue().id();
      lat = c.venue().location().latitude();
      lng = c.venue().location().longitude();
      break;
    }
  }
  ASSERT_FALSE(venue.empty()) << "the demo district has no offline course with a venue";
  v1::RecommendRequest req;
  req.set_learner("u_kiosk_senior");
  req.set_k(5);
  req.mutable_context()->set_channel(v1::RecommendContext::CHANNEL_KIOSK);
  req.mutable_context()->set_kiosk_venue_id(venue);
  req.mutable_context()->set_age_group(v1::Course::SENIORS);
  auto start = std::chrono::steady_clock::now();
  v1::RecommendResponse first = Recommend(req);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(ms, 1000) << "a kiosk answer must come well under a second";
  EXPECT_TRUE(first.cold_start());
  ASSERT_GT(first.recommendations_size(), 0);
  bool some_nearby = false;
  for (const auto& r : first.recommendations()) {
    EXPECT_FALSE(r.reason().empty());
    if (r.distance_km() >= 0 && r.distance_km() < 5) some_nearby = true;
  }
  EXPECT_TRUE(some_nearby) << "no recommendation near the kiosk at " << lat << "," << lng;

  // The senior attends a session of the top recommendation; the next answer changes.
  std::map<std::string, v1::Course> by_id;
  for (const v1::Course& c : AllCourses()) by_id[c.id()] = c;
  const v1::Course& attended = by_id[first.recommendations(0).course().course_id()];
  RecordStatement("u_kiosk_senior", vocab::kRegistered, attended, "kiosk");
  RecordStatement("u_kiosk_senior", vocab::kAttended, attended, "kiosk");
  v1::RecommendResponse second = Recommend(req);
  EXPECT_FALSE(second.cold_start());
  EXPECT_NE(Ids(first), Ids(second));
  for (const std::string& id : Ids(second)) EXPECT_NE(id, attended.id()) << "enrolled course offered again";
}

TEST_F(EndToEnd, AppFlowCompletionCreditAndNextLevel) {
  // A course with a next level (another course lists it as prerequisite).
  std::vector<v1::Course> all = AllCourses();
  std::map<std::string, v1::Course> by_id;
  for (const v1::Course& c : all) by_id[c.id()] = c;
  const v1::Course* first = nullptr;
  const v1::Course* next = nullptr;
  for (const v1::Course& c : all) {
    if (c.prerequisite_ids_size() != 1 || c.state() != v1::Course::OPEN) continue;
    if (c.capacity() > 0 && c.seats_taken() >= c.capacity()) continue;
    auto it = by_id.find(c.prerequisite_ids(0));
    if (it == by_id.end()) continue;
    first = &it->second;
    next = &c;
    break;
  }
  ASSERT_NE(next, nullptr) << "the demo district has no open course with a prerequisite";
  const std::string learner = "u_app_learner";
  RecordStatement(learner, vocab::kRegistered, *first, "app");
  RecordStatement(learner, vocab::kCompleted, *first, "app", /*credits=*/2.5);

  grpc::ClientContext ctx;
  v1::GetTranscriptRequest treq;
  treq.set_learner(learner);
  v1::Transcript t;
  ASSERT_TRUE(Records()->GetTranscript(&ctx, treq, &t).ok());
  ASSERT_EQ(t.entries_size(), 1);
  EXPECT_EQ(t.entries(0).title(), first->title());
  EXPECT_DOUBLE_EQ(t.credits(), 2.5);

  v1::RecommendRequest req;
  req.set_learner(learner);
  req.set_k(10);
  req.mutable_context()->set_channel(v1::RecommendContext::CHANNEL_APP);
  v1::RecommendResponse out = Recommend(req);
  EXPECT_FALSE(out.cold_start());
  std::vector<std::string> ids = Ids(out);
  EXPECT_NE(std::find(ids.begin(), ids.end(), next->id()), ids.end())
      << "next level " << next->title() << " not recommended after " << first->title();
  EXPECT_EQ(std::find(ids.begin(), ids.end(), first->id()), ids.end()) << "completed course offered again";
}

TEST_F(EndToEnd, OperatorFlowNewVersionRollbackAndMetrics) {
  auto status = [&] {
    grpc::ClientContext ctx;
    v1::ModelStatus s;
    EXPECT_TRUE(Recommender()->GetModelStatus(&ctx, v1::GetModelStatusRequest(), &s).ok());
    return s;
  };
  const int64_t before = status().version();
  ASSERT_GE(before, 1);
  ASSERT_EQ(Train(), 0);
  int64_t now = before;
  for (int i = 0; i < 600 && now == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    now = status().version();
  }
  EXPECT_EQ(now, before + 1) << "the new version was not picked up";

  grpc::ClientContext pin_ctx;
  v1::PinModelVersionRequest pin;
  pin.set_version(before);
  v1::ModelStatus pinned;
  ASSERT_TRUE(Recommender()->PinModelVersion(&pin_ctx, pin, &pinned).ok());
  EXPECT_EQ(pinned.version(), before);
  EXPECT_TRUE(pinned.pinned());
  v1::RecommendRequest req;
  req.set_k(3);
  EXPECT_EQ(Recommend(req).model_version(), std::to_string(before));
  grpc::ClientContext unpin_ctx;
  v1::ModelStatus unpinned;
  ASSERT_TRUE(Recommender()->UnpinModelVersion(&unpin_ctx, v1::UnpinModelVersionRequest(), &unpinned).ok());

  // Metrics show the traffic of this test suite.
  std::string rec = HttpGet((*metrics_)["recommend"], "/metrics");
  EXPECT_NE(rec.find("lifelong_grpc_requests_total"), std::string::npos) << rec.substr(0, 300);
  EXPECT_NE(rec.find("Recommend"), std::string::npos);
  // The learner-history cache counted this suite's learner requests; the
  // GRU's state cache is exported too (0 without a GRU).
  auto counter = [&rec](const std::string& series) -> double {
    const size_t at = rec.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::strtod(rec.c_str() + at + series.size() + 2, nullptr);
  };
  EXPECT_GT(counter("lifelong_recommend_cache_hits_total{cache=\"learner_history\"}") +
                counter("lifelong_recommend_cache_misses_total{cache=\"learner_history\"}"),
            0)
      << rec;
  EXPECT_GE(counter("lifelong_recommend_cache_hits_total{cache=\"gru_state\"}"), 0) << rec;
  EXPECT_GE(counter("lifelong_recommend_cache_misses_total{cache=\"gru_state\"}"), 0) << rec;
  std::string records = HttpGet((*metrics_)["records"], "/metrics");
  EXPECT_NE(records.find("ListStatements"), std::string::npos);
}

// Every metric the alert rules use (ops/prometheus/alerts.yml) is one the
// services export, so that no alert is silent for a renamed metric. The
// replication metrics are checked on replicated nodes
// (replication_cluster_test; the catalog's, catalog_replication_test), the
// revocation ones with a revocation file (records_server_attacks_test).
TEST_F(EndToEnd, AlertRulesNameOnlyMetricsTheServicesExport) {
  absl::StatusOr<std::set<std::string>> names = testing::AlertMetricNames(RunfilePath(testing::kAlertRulesPath));
  ASSERT_TRUE(names.ok()) << names.status();
  std::vector<std::string> pages;
  for (const char* service : {"records", "catalog", "recommend"}) {
    pages.push_back(HttpGet((*metrics_)[service], "/metrics"));
  }
  std::set<std::string> checked;
  for (const std::string& name : *names) {
    if (!absl::StartsWith(name, "lifelong_replication_") && !absl::StartsWith(name, "lifelong_catalog_log_") &&
        !absl::StartsWith(name, "lifelong_auth_revocation_")) {
      checked.insert(name);
    }
  }
  EXPECT_GE(checked.size(), 10u);
  EXPECT_THAT(testing::UndeclaredMetrics(checked, {"lifelong_", "process_"}, pages), ::testing::IsEmpty());
}

// Runs last (gtest runs tests in definition order within a suite).
// `lifelong path` against the real services: the table and --json name the
// goal and its progress, and a verified completion recorded through the
// record service counts toward the programme's category at once.
TEST_F(EndToEnd, LearningPathFromTheCliCountsAVerifiedCompletion) {
  auto cli = [&](std::vector<std::string> args, const std::string& name) {
    // Command words first, then its flags and the service addresses.
    std::vector<std::string> argv = {RunfilePath("services/cli/lifelong")};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const char* service : {"records", "catalog", "recommend"}) {
      argv.push_back(absl::StrCat("--", service, "=", Addr(service)));
    }
    const std::string out = *dir_ + "/cli_" + name + ".out";
    EXPECT_EQ(RunToCompletion(argv, out), 0) << "see " << out;
    std::ifstream in(out);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  // A programme of the demo district with a category rule, and an open course
  // of that category.
  std::string programme_id, programme_name, category;
  for (absl::string_view line : absl::StrSplit(cli({"programmes", "list", "--json"}, "programmes"), '\n')) {
    nlohmann::json p = nlohmann::json::parse(line, nullptr, false);
    if (!p.is_object() || !p.contains("by_category")) continue;
    programme_id = p["id"];
    programme_name = p["name"];
    category = p["by_category"][0]["category"];
    break;
  }
  ASSERT_FALSE(programme_id.empty()) << "the demo district has no programme with a category rule";
  const v1::Course* course = nullptr;
  std::vector<v1::Course> all = AllCourses();
  for (const v1::Course& c : all) {
    if (c.category() == category && c.credits() > 0 && c.prerequisite_ids_size() == 0) {
      course = &c;
      break;
    }
  }
  ASSERT_NE(course, nullptr) << "no course in " << category;

  const std::string learner = "u_path_learner";
  const std::string table = cli({"path", learner, "--programme=" + programme_id, "--anywhere"}, "path_table");
  EXPECT_NE(table.find("Plan for " + learner + " toward " + programme_name + ": "), std::string::npos) << table;
  EXPECT_NE(table.find("Credits: 0 earned + "), std::string::npos) << table;
  EXPECT_NE(table.find("  " + category + ": 0 earned + "), std::string::npos) << table;

  // Recorded by an operator (auth is off here: every caller is the
  // operator), so verified: the category's earned credits grow by the
  // catalog's credits of the course.
  RecordStatement(learner, vocab::kCompleted, *course, "app", course->credits());
  nlohmann::json plan = nlohmann::json::parse(
      cli({"path", learner, "--programme=" + programme_id, "--anywhere", "--json"}, "path_json"), nullptr, false);
  ASSERT_TRUE(plan.is_object()) << plan;
  EXPECT_EQ(plan.value("goal_name", ""), programme_name);
  double earned = -1;
  for (const auto& c : plan.value("progress", nlohmann::json::object()).value("by_category", nlohmann::json::array())) {
    if (c.value("category", "") == category) earned = c.value("earned", 0.0);
  }
  EXPECT_DOUBLE_EQ(earned, course->credits()) << plan.dump();
  for (const auto& step : plan.value("steps", nlohmann::json::array())) {
    EXPECT_NE(step.value("course", nlohmann::json::object()).value("course_id", ""), course->id())
        << "a completed course is planned again";
  }
}

TEST_F(EndToEnd, SigtermStopsEveryServiceCleanly) {
  for (const char* name : {"recommend", "catalog", "records"}) {
    absl::StatusOr<int> st = procs_->at(name).Stop(SIGTERM, std::chrono::seconds(30));
    ASSERT_TRUE(st.ok()) << name << " did not stop";
    EXPECT_TRUE(WIFEXITED(*st)) << name << " was killed by a signal";
    EXPECT_EQ(WEXITSTATUS(*st), 0) << name;
  }
}

}  // namespace
}  // namespace lifelong
