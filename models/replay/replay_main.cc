// replay_eval: replays a held-out test split through the live services and
// checks the figures against the offline evaluator (docs/models.md, "Replay
// through the live services").
//
//   bazel build -c opt //models/replay:replay_eval
//   D=../shared/data/cnpc
//   bazel-bin/models/replay/replay_eval --train=$D/train_valid_data_cnpc_v2.json
//       --test=$D/test_data_cnpc_v2.json --course_info=$D/cnpc_course_info_v3.json
//
// Phases (each prints its timing):
//   1. start records_server and catalog_server on fresh data dirs under
//      --work_dir (or use --records / --catalog), load one catalog course per
//      training course (test-only courses: see MakeCatalogCourses call);
//   2. record every training interaction as an xAPI `completed` statement
//      (RecordStatements batches, each learner's order kept);
//   3. `train --records=... --catalog=...` into the model dir (the same
//      tuning as the evaluator's defaults, plus --model_flags);
//   4. start recommend_server (or use --recommend with --model_dir), wait
//      until GetModelStatus reports the new version;
//   5. Recommend(learner, k) per test learner over gRPC;
//   6. `evaluate --train --test` (the offline evaluator, same flags: its pure
//      model and its served ranking, blend + category cap, at K) and, on
//      the served model version, ModelBundle::ScoreAll figures and the
//      service's re-ranking recomputed offline (ServedRankingScorer);
//   7. the table, the checks, exit status.
//
// Exit status: 0 all checks hold; 1 an error (a phase failed); 3 a check
// failed (figures disagree beyond the tolerances below).
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "models/evaluation.h"
#include "models/interaction_file.h"
#include "models/model_bundle.h"
#include "models/records_export.h"
#include "models/replay/process.h"
#include "models/replay/replay.h"

ABSL_FLAG(std::string, train, "", "training interaction file (required; as for //models:evaluate)");
ABSL_FLAG(std::string, test, "", "held-out interaction file (required)");
ABSL_FLAG(std::string, course_info, "", "optional course side information (JSON lines with discipline, course_length)");
ABSL_FLAG(bool, discipline_as_category, false,
          "catalog category = discipline (the service's per-category cap then applies)");
ABSL_FLAG(std::string, work_dir, "",
          "empty or new directory for data dirs, logs and reports (default: a new /tmp/replay-*)");
ABSL_FLAG(std::string, records, "", "use this record service (host:port) instead of starting one");
ABSL_FLAG(std::string, catalog, "", "use this catalog service instead of starting one");
ABSL_FLAG(std::string, recommend, "", "use this recommendation service instead of starting one (requires --model_dir)");
ABSL_FLAG(std::string, model_dir, "", "model root the recommender watches (default: <work_dir>/models)");
ABSL_FLAG(std::string, records_server, "", "records_server binary (default: runfiles, bazel-bin)");
ABSL_FLAG(std::string, catalog_server, "", "catalog_server binary");
ABSL_FLAG(std::string, recommend_server, "", "recommend_server binary");
ABSL_FLAG(std::string, train_bin, "", "//models:train binary");
ABSL_FLAG(std::string, evaluate_bin, "", "//models:evaluate binary");
ABSL_FLAG(std::string, model_flags, "",
          "space-separated flags given to both train and evaluate, e.g. "
          "'--tune=false --params={\"set_mix\":0}'");
ABSL_FLAG(int, sample, 0, "replay only this many test learners (evenly spaced); 0 = all");
ABSL_FLAG(int, k, 10, "recommendations per learner (the cut-off K)");
ABSL_FLAG(int, batch, 1000, "statements per RecordStatements call");
ABSL_FLAG(int, streams, 1, "concurrent RecordStatements callers (learners partitioned)");
ABSL_FLAG(int, concurrency, 8, "concurrent Recommend callers");
ABSL_FLAG(double, tolerance, 0.005,
          "largest |live - offline evaluator's served ranking| accepted for Recall, NDCG and HR @K");
ABSL_FLAG(double, emulation_tolerance, 0.002, "largest |live - served ranking recomputed offline| accepted");
ABSL_FLAG(double, training_tolerance, 0.001, "largest |served model scored offline - offline evaluator| accepted");
ABSL_FLAG(int, model_timeout_s, 300, "how long to wait for the recommender to load the model");
ABSL_FLAG(std::string, json_out, "", "write every figure as JSON here (default <work_dir>/report.json)");

namespace lm = lifelong::models;
namespace rp = lifelong::models::replay;

namespace {

std::string g_argv0;

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "replay_eval: %s\n", std::string(s.ToString()).c_str());
  return 1;
}

void Line(const std::string& s) {
  std::printf("%s\n", s.c_str());
  std::fflush(stdout);
}

// A binary of this workspace: the flag, else this binary's runfiles, else
// bazel-bin/ (when run from the workspace root).
absl::StatusOr<std::string> FindBinary(const std::string& flag_value, const std::string& rel) {
  if (!flag_value.empty()) return flag_value;
  std::vector<std::string> tries;
  for (const char* env : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (const char* d = std::getenv(env)) tries.push_back(absl::StrCat(d, "/lifelong/", rel));
  }
  tries.push_back(absl::StrCat(g_argv0, ".runfiles/lifelong/", rel));
  tries.push_back(absl::StrCat("bazel-bin/", rel));
  for (const std::string& t : tries) {
    if (access(t.c_str(), X_OK) == 0) return t;
  }
  return absl::NotFoundError(absl::StrCat("cannot find ", rel, " (build it, or give its path)"));
}

absl::StatusOr<std::string> MakeWorkDir(const std::string& flag_value) {
  namespace fs = std::filesystem;
  if (flag_value.empty()) {
    char tmpl[] = "/tmp/replay-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
    return std::string(tmpl);
  }
  std::error_code ec;
  fs::create_directories(flag_value, ec);
  if (ec) return absl::InternalError(absl::StrCat("--work_dir: ", ec.message()));
  if (!fs::is_empty(flag_value, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--work_dir: ", flag_value, " is not empty (the replay needs fresh data dirs)"));
  }
  return fs::absolute(flag_value).string();
}

absl::Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::vector<std::string> SplitFlags(const std::string& s) {
  return absl::StrSplit(s, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

std::string Thousands(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
  return s;
}

// Lines of a log that start with one of `prefixes`, indented.
void EchoLog(const std::string& path, const std::vector<std::string>& prefixes) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    for (const std::string& p : prefixes) {
      if (absl::StartsWith(line, p)) {
        Line("    " + line);
        break;
      }
    }
  }
}

lm::RankingMetrics FromJson(const nlohmann::json& j) {
  lm::RankingMetrics m;
  m.k = j.value("k", 10);
  m.cases = j.value("cases", int64_t{0});
  m.recall = j.value("recall", 0.0);
  m.ndcg = j.value("ndcg", 0.0);
  m.hit_rate = j.value("hit_rate", 0.0);
  m.precision = j.value("precision", 0.0);
  m.coverage = j.value("coverage", 0.0);
  return m;
}

struct Check {
  std::string name;
  double tolerance;
  double worst = 0;  // largest |difference| over recall, ndcg, hr
  bool ok = true;
};

Check Compare(const std::string& name, const lm::RankingMetrics& a, const lm::RankingMetrics& b, double tolerance) {
  Check c{name, tolerance};
  for (double d : {a.recall - b.recall, a.ndcg - b.ndcg, a.hit_rate - b.hit_rate}) {
    c.worst = std::max(c.worst, std::abs(d));
  }
  c.ok = c.worst <= tolerance && a.cases == b.cases;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  g_argv0 = argv[0];
  const int k = absl::GetFlag(FLAGS_k);
  const absl::Time run_start = absl::Now();
  if (absl::GetFlag(FLAGS_train).empty() || absl::GetFlag(FLAGS_test).empty()) {
    return Fail(absl::InvalidArgumentError("--train and --test are required"));
  }
  if (!absl::GetFlag(FLAGS_recommend).empty() && absl::GetFlag(FLAGS_model_dir).empty()) {
    return Fail(absl::InvalidArgumentError("--recommend needs --model_dir (where it loads models)"));
  }
  absl::StatusOr<std::string> work = MakeWorkDir(absl::GetFlag(FLAGS_work_dir));
  if (!work.ok()) return Fail(work.status());
  Line(absl::StrCat("replay: work dir ", *work, " (data dirs, logs, report)"));

  // ---- Data -------------------------------------------------------------
  auto train = lm::ReadInteractionFile(absl::GetFlag(FLAGS_train));
  if (!train.ok()) return Fail(train.status());
  auto test = lm::ReadInteractionFile(absl::GetFlag(FLAGS_test));
  if (!test.ok()) return Fail(test.status());
  std::vector<lm::EvalCase> cases = lm::CasesFromTrainTest(*train, *test);
  std::string test_path = absl::GetFlag(FLAGS_test);
  const int sample = absl::GetFlag(FLAGS_sample);
  if (sample > 0 && sample < static_cast<int>(cases.size())) {
    std::vector<lm::EvalCase> picked;
    absl::flat_hash_set<std::string> learners;
    for (int i = 0; i < sample; ++i) {
      picked.push_back(cases[static_cast<size_t>(i) * cases.size() / sample]);
      learners.insert(picked.back().learner);
    }
    cases = std::move(picked);
    // The evaluator gets the same learners: the test file restricted to them.
    std::string lines;
    for (const lm::Interaction& x : *test) {
      if (!learners.contains(x.learner)) continue;
      absl::StrAppend(&lines, nlohmann::json({{"user", x.learner}, {"item", x.course_id}}).dump(), "\n");
    }
    test_path = *work + "/test_sample.jsonl";
    if (absl::Status s = WriteFile(test_path, lines); !s.ok()) return Fail(s);
  }
  {
    absl::flat_hash_set<std::string> learners, courses;
    for (const lm::Interaction& x : *train) {
      learners.insert(x.learner);
      courses.insert(x.course_id);
    }
    int64_t held = 0;
    for (const lm::EvalCase& c : cases) held += static_cast<int64_t>(c.held_out.size());
    Line(absl::StrFormat(
        "data: %s training interactions (%s learners, %s courses); %s test learners, %s held-out "
        "courses%s",
        Thousands(train->size()), Thousands(learners.size()), Thousands(courses.size()), Thousands(cases.size()),
        Thousands(held), sample > 0 ? absl::StrCat(" (sample of ", sample, ", test file ", test_path, ")") : ""));
  }
  for (const lm::Interaction& x : *train) {
    if (x.weight > 0 && x.weight != 1.0f) {
      Line("replay: training weights are recorded as their verbs (1 completed, 0.5 attended, 0.3 registered)");
      break;
    }
  }
  absl::flat_hash_map<std::string, rp::CourseInfo> info;
  if (!absl::GetFlag(FLAGS_course_info).empty()) {
    auto i = rp::ReadCourseInfoFile(absl::GetFlag(FLAGS_course_info));
    if (!i.ok()) return Fail(i.status());
    info = std::move(*i);
  }
  // The catalog holds the TRAINING courses: the offline evaluator ranks the
  // model's universe (courses seen in training), so a course that appears
  // only in the test split can be a hit for neither. Loading it anyway let
  // the service recommend it through its content vector (the replay's
  // generated titles are near-identical, so content cosine is high): on
  // MOOCCube's random split two such courses filled 59% of the live lists.
  const std::vector<rp::ReplayCourse> courses =
      rp::MakeCatalogCourses(*train, info, absl::GetFlag(FLAGS_discipline_as_category));
  const std::string catalog_dump = *work + "/catalog.jsonl";
  {
    std::string lines;
    for (const rp::ReplayCourse& c : courses) absl::StrAppend(&lines, rp::CatalogDumpLine(c), "\n");
    if (absl::Status s = WriteFile(catalog_dump, lines); !s.ok()) return Fail(s);
  }
  // The evaluator's training file: what the trainer reads back from the
  // record service, in the same order (the recorded interactions, order =
  // recording position, in the export's order). The learner order decides
  // which learners tuning samples on large datasets, so handing the
  // evaluator --train as given would compare two differently tuned models.
  const std::string evaluator_train = *work + "/train_export_order.tsv";
  {
    std::vector<lm::Interaction> recorded = rp::RecordingOrder(*train);
    for (size_t p = 0; p < recorded.size(); ++p) recorded[p].order = static_cast<int64_t>(p);
    lm::SortInExportOrder(&recorded);
    std::string lines =
        "# learner\tcourse\torder\tweight (the replay's recorded training interactions, export order)\n";
    for (const lm::Interaction& x : recorded)
      lm::AppendInteractionLine(x.learner, x.course_id, x.order, x.weight, &lines);
    if (absl::Status s = WriteFile(evaluator_train, lines); !s.ok()) return Fail(s);
  }
  nlohmann::json report = {{"train", absl::GetFlag(FLAGS_train)},
                           {"evaluator_train", evaluator_train},
                           {"test", test_path},
                           {"k", k},
                           {"cases", cases.size()},
                           {"discipline_as_category", absl::GetFlag(FLAGS_discipline_as_category)},
                           {"date", absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(), absl::UTCTimeZone())}};

  // ---- Record and catalog services ---------------------------------------
  std::optional<rp::ServerProcess> records_proc, catalog_proc, recommend_proc;
  std::string records_addr = absl::GetFlag(FLAGS_records);
  std::string catalog_addr = absl::GetFlag(FLAGS_catalog);
  std::string recommend_addr = absl::GetFlag(FLAGS_recommend);
  auto start_server = [&](const std::string& name, const std::string& rel, const std::string& flag_bin,
                          std::vector<std::string> args, std::optional<rp::ServerProcess>* proc) -> absl::Status {
    absl::StatusOr<std::string> bin = FindBinary(flag_bin, rel);
    if (!bin.ok()) return bin.status();
    args.insert(args.begin(), *bin);
    args.push_back("--metrics_port=0");
    const absl::Time t0 = absl::Now();
    absl::StatusOr<rp::ServerProcess> p =
        rp::ServerProcess::Start(args, absl::StrCat(*work, "/", name, ".port"), absl::StrCat(*work, "/", name, ".log"));
    if (!p.ok()) return p.status();
    Line(absl::StrFormat("%s: serving on %s after %.2f s (log %s)", name, p->address(),
                         absl::ToDoubleSeconds(absl::Now() - t0), p->log_path()));
    proc->emplace(std::move(*p));
    return absl::OkStatus();
  };
  if (records_addr.empty()) {
    if (absl::Status s =
            start_server("records_server", "services/records/records_server", absl::GetFlag(FLAGS_records_server),
                         {"--data_dir=" + *work + "/records", "--xapi_port=-1"}, &records_proc);
        !s.ok()) {
      return Fail(s);
    }
    records_addr = records_proc->address();
  }
  if (catalog_addr.empty()) {
    if (absl::Status s =
            start_server("catalog_server", "services/catalog/catalog_server", absl::GetFlag(FLAGS_catalog_server),
                         {"--data_dir=" + *work + "/catalog"}, &catalog_proc);
        !s.ok()) {
      return Fail(s);
    }
    catalog_addr = catalog_proc->address();
  }
  auto records_channel = grpc::CreateChannel(records_addr, grpc::InsecureChannelCredentials());
  auto catalog_channel = grpc::CreateChannel(catalog_addr, grpc::InsecureChannelCredentials());

  absl::StatusOr<rp::PhaseStats> loaded = rp::LoadCatalog(catalog_channel, courses);
  if (!loaded.ok()) return Fail(loaded.status());
  Line(absl::StrFormat("catalog: %d courses in %.2f s (%d already there); dump %s", loaded->count, loaded->seconds,
                       loaded->existing, catalog_dump));
  report["phases"]["catalog"] = {{"courses", loaded->count}, {"seconds", loaded->seconds}};

  rp::RecordOptions ro;
  ro.batch = absl::GetFlag(FLAGS_batch);
  ro.streams = absl::GetFlag(FLAGS_streams);
  ro.progress = [](int64_t done, int64_t total, double secs) {
    Line(absl::StrFormat("records: %s / %s statements, %.0f statements/s", Thousands(done), Thousands(total),
                         done / std::max(secs, 1e-3)));
  };
  absl::StatusOr<rp::PhaseStats> recorded = rp::RecordTrainInteractions(records_channel, *train, ro);
  if (!recorded.ok()) return Fail(recorded.status());
  const double stmt_rate = recorded->count / std::max(recorded->seconds, 1e-3);
  Line(absl::StrFormat("records: %s statements recorded in %.2f s (%.0f statements/s; batches of %d, %d stream%s)",
                       Thousands(recorded->count), recorded->seconds, stmt_rate, ro.batch, ro.streams,
                       ro.streams == 1 ? "" : "s"));
  report["phases"]["record"] = {
      {"statements", recorded->count}, {"seconds", recorded->seconds}, {"statements_per_s", stmt_rate}};

  // ---- Train ------------------------------------------------------------
  const std::string model_root =
      absl::GetFlag(FLAGS_model_dir).empty() ? *work + "/models" : absl::GetFlag(FLAGS_model_dir);
  std::filesystem::create_directories(model_root);
  const std::vector<std::string> model_flags = SplitFlags(absl::GetFlag(FLAGS_model_flags));
  int64_t version = 0;
  double train_seconds = 0;
  {
    absl::StatusOr<std::string> bin = FindBinary(absl::GetFlag(FLAGS_train_bin), "models/train");
    if (!bin.ok()) return Fail(bin.status());
    std::vector<std::string> args = {*bin, "--model_root=" + model_root, "--records=" + records_addr,
                                     "--catalog=" + catalog_dump};
    args.insert(args.end(), model_flags.begin(), model_flags.end());
    const std::string log = *work + "/train.log";
    Line(absl::StrCat("train: ", absl::StrJoin(args, " "), " (log ", log, ")"));
    const absl::Time t0 = absl::Now();
    absl::StatusOr<int> rc = rp::RunToCompletion(args, log);
    train_seconds = absl::ToDoubleSeconds(absl::Now() - t0);
    if (!rc.ok()) return Fail(rc.status());
    if (*rc != 0) {
      return Fail(
          absl::InternalError(absl::StrCat("train exited with code ", *rc, "; log ", log, ":\n", rp::FileTail(log))));
    }
    EchoLog(log, {"tuned:", "wrote "});
    absl::StatusOr<std::vector<int64_t>> versions = lm::ListCompleteVersions(model_root);
    if (!versions.ok() || versions->empty()) {
      return Fail(absl::InternalError(absl::StrCat("train wrote no version under ", model_root)));
    }
    version = versions->back();
    Line(
        absl::StrFormat("train: version %d in %.2f s (reading the record service, tuning, training, "
                        "writing)",
                        version, train_seconds));
    report["phases"]["train"] = {{"seconds", train_seconds}, {"version", version}};
  }

  // ---- Recommender ------------------------------------------------------
  const absl::Time rec_t0 = absl::Now();
  if (recommend_addr.empty()) {
    if (absl::Status s = start_server("recommend_server", "services/recommend/recommend_server",
                                      absl::GetFlag(FLAGS_recommend_server),
                                      {"--model_dir=" + model_root, "--records=" + records_addr,
                                       "--catalog=" + catalog_addr, "--model_poll_ms=200", "--catalog_refresh_ms=500"},
                                      &recommend_proc);
        !s.ok()) {
      return Fail(s);
    }
    recommend_addr = recommend_proc->address();
  }
  auto recommend_channel = grpc::CreateChannel(recommend_addr, grpc::InsecureChannelCredentials());
  absl::StatusOr<lifelong::v1::ModelStatus> status =
      rp::WaitForModelVersion(recommend_channel, version, absl::Seconds(absl::GetFlag(FLAGS_model_timeout_s)));
  if (!status.ok()) return Fail(status.status());
  Line(
      absl::StrFormat("recommend: model version %d loaded (%d items, dim %d, %s index) %.2f s "
                      "after training",
                      status->version(), status->item_count(), status->dimension(), status->index_kind(),
                      absl::ToDoubleSeconds(absl::Now() - rec_t0)));
  report["phases"]["model_load"] = {{"seconds", absl::ToDoubleSeconds(absl::Now() - rec_t0)},
                                    {"index_kind", status->index_kind()},
                                    {"items", status->item_count()}};
  if (!absl::GetFlag(FLAGS_recommend).empty() && loaded->existing < loaded->count) {
    // A recommender started before the catalog was loaded sees it at its
    // next refresh (--catalog_refresh_ms, 2 s by default).
    absl::SleepFor(absl::Seconds(5));
  }

  // ---- Queries ----------------------------------------------------------
  // Warm-up (not timed): the first answer also needs the recommender's first
  // catalog snapshot.
  if (!cases.empty()) {
    rp::QueryOptions wo;
    wo.k = k;
    wo.concurrency = 1;
    wo.retries = 0;
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (true) {
      absl::StatusOr<rp::LiveAnswers> a = rp::QueryRecommendations(recommend_channel, {cases[0]}, wo);
      if (a.ok() && a->errors == 0) break;
      if (absl::Now() >= deadline) {
        return Fail(absl::UnavailableError(
            absl::StrCat("no Recommend answer within 30 s: ", a.ok() ? a->first_error : a.status().ToString())));
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  rp::QueryOptions qo;
  qo.k = k;
  qo.concurrency = absl::GetFlag(FLAGS_concurrency);
  qo.progress = [](int64_t done, int64_t total, double secs) {
    Line(absl::StrFormat("recommend: %s / %s learners, %.0f queries/s", Thousands(done), Thousands(total),
                         done / std::max(secs, 1e-3)));
  };
  absl::StatusOr<rp::LiveAnswers> live = rp::QueryRecommendations(recommend_channel, cases, qo);
  if (!live.ok()) return Fail(live.status());
  const double qps = cases.size() / std::max(live->seconds, 1e-3);
  Line(
      absl::StrFormat("recommend: %s Recommend calls in %.2f s (%.0f queries/s, %d clients; latency p50 %.1f ms, "
                      "p99 %.1f ms); %d errors, %d cold-start answers, model version %s",
                      Thousands(cases.size()), live->seconds, qps, qo.concurrency, Percentile(live->latency_ms, 0.5),
                      Percentile(live->latency_ms, 0.99), live->errors, live->cold_start, live->model_version));
  report["phases"]["query"] = {{"calls", cases.size()},
                               {"seconds", live->seconds},
                               {"queries_per_s", qps},
                               {"concurrency", qo.concurrency},
                               {"p50_ms", Percentile(live->latency_ms, 0.5)},
                               {"p99_ms", Percentile(live->latency_ms, 0.99)},
                               {"errors", live->errors},
                               {"cold_start", live->cold_start}};
  if (live->errors > 0) {
    return Fail(
        absl::UnavailableError(absl::StrCat(live->errors, " Recommend calls failed; first: ", live->first_error)));
  }

  {
    // The answers, for inspection: one line per test learner.
    std::string lines;
    for (size_t i = 0; i < cases.size(); ++i) {
      absl::StrAppend(
          &lines,
          nlohmann::json(
              {{"learner", cases[i].learner}, {"recommended", live->lists[i]}, {"held_out", cases[i].held_out}})
              .dump(),
          "\n");
    }
    if (absl::Status s = WriteFile(*work + "/live_lists.jsonl", lines); !s.ok()) return Fail(s);
  }

  // Stop what we started before the offline work (frees the CPU). Our open
  // connections first: a server stopping with a client connected waits out
  // part of its grace period.
  recommend_channel.reset();
  catalog_channel.reset();
  records_channel.reset();
  for (auto* p : {&recommend_proc, &catalog_proc, &records_proc}) {
    if (!p->has_value()) continue;
    const absl::Time t0 = absl::Now();
    absl::Status s = (*p)->Stop();
    if (!s.ok()) Line(absl::StrCat("replay: warning: stopping ", (*p)->log_path(), ": ", s.ToString()));
    Line(absl::StrFormat("replay: stopped %s in %.2f s", (*p)->log_path(), absl::ToDoubleSeconds(absl::Now() - t0)));
  }

  // ---- Offline ----------------------------------------------------------
  lm::RankingMetrics offline;         // the evaluator's pure model
  lm::RankingMetrics offline_served;  // the evaluator's served ranking
  nlohmann::json offline_json;
  {
    absl::StatusOr<std::string> bin = FindBinary(absl::GetFlag(FLAGS_evaluate_bin), "models/evaluate");
    if (!bin.ok()) return Fail(bin.status());
    const std::string out = *work + "/offline.json";
    std::vector<std::string> args = {*bin, "--train=" + evaluator_train, "--test=" + test_path,
                                     absl::StrCat("--ks=", k), "--json_out=" + out};
    // The evaluator scores the served ranking (blend + category cap) with the
    // catalog's categories, as the recommender sees them.
    if (absl::GetFlag(FLAGS_discipline_as_category)) args.push_back("--categories=" + catalog_dump);
    args.insert(args.end(), model_flags.begin(), model_flags.end());
    const std::string log = *work + "/evaluate.log";
    Line(absl::StrCat("evaluate: ", absl::StrJoin(args, " "), " (log ", log, ")"));
    const absl::Time t0 = absl::Now();
    absl::StatusOr<int> rc = rp::RunToCompletion(args, log);
    if (!rc.ok()) return Fail(rc.status());
    if (*rc != 0) {
      return Fail(absl::InternalError(
          absl::StrCat("evaluate exited with code ", *rc, "; log ", log, ":\n", rp::FileTail(log))));
    }
    Line(absl::StrFormat("evaluate: %.2f s", absl::ToDoubleSeconds(absl::Now() - t0)));
    absl::StatusOr<std::string> text = lm::ReadFileToString(out);
    if (!text.ok()) return Fail(text.status());
    offline_json = nlohmann::json::parse(*text, nullptr, false);
    const std::string kk = std::to_string(k);
    if (!offline_json.is_object() || !offline_json.contains("results") ||
        !offline_json["results"]["model"].contains(kk)) {
      return Fail(absl::DataLossError(absl::StrCat(out, ": no results.model.", kk)));
    }
    offline = FromJson(offline_json["results"]["model"][kk]);
    if (offline_json.value("served_k", 0) != k || !offline_json["served"].contains("served")) {
      return Fail(absl::DataLossError(
          absl::StrCat(out, ": no served ranking at K=", kk, " (served_k ", offline_json.value("served_k", 0), ")")));
    }
    offline_served = FromJson(offline_json["served"]["served"]);
  }
  absl::StatusOr<std::shared_ptr<const lm::ModelBundle>> bundle =
      lm::LoadModelBundle(lm::VersionPath(model_root, version));
  if (!bundle.ok()) return Fail(bundle.status());
  const std::vector<std::string>& universe = (*bundle)->course_ids();
  const lm::RankingMetrics served = lm::EvaluateRanking(cases, universe, k, lm::BundleScorer(*bundle));
  rp::ServedRankingOptions so;
  if (absl::GetFlag(FLAGS_discipline_as_category)) {
    for (const rp::ReplayCourse& c : courses) so.category[c.id] = c.category;
  }
  const lm::Scorer emulated_scorer = rp::ServedRankingScorer(*bundle, so, k);
  const lm::RankingMetrics emulated = lm::EvaluateRanking(cases, universe, k, emulated_scorer);
  // Attribution: the same ranking without the popularity term.
  rp::ServedRankingOptions no_pop = so;
  no_pop.weights.popularity = 0;
  const lm::RankingMetrics emulated_no_pop =
      lm::EvaluateRanking(cases, universe, k, rp::ServedRankingScorer(*bundle, no_pop, k));
  rp::ListAnomalies anomalies;
  const lm::RankingMetrics live_m = rp::EvaluateLists(cases, live->lists, universe, k, &anomalies);
  const rp::ListAgreement vs_emulated =
      rp::CompareLists(live->lists, rp::RankedLists(cases, universe, k, emulated_scorer));
  const rp::ListAgreement vs_model =
      rp::CompareLists(live->lists, rp::RankedLists(cases, universe, k, lm::BundleScorer(*bundle)));
  const nlohmann::json served_params = (*bundle)->manifest().value("params", nlohmann::json());
  const nlohmann::json offline_params = offline_json.value("params", nlohmann::json());

  // ---- Report -----------------------------------------------------------
  Line("");
  Line(absl::StrFormat("%-44s %9s %9s %9s %9s %7s", "", absl::StrCat("recall@", k), absl::StrCat("ndcg@", k),
                       absl::StrCat("hr@", k), absl::StrCat("cover@", k), "cases"));
  auto row = [](const std::string& name, const lm::RankingMetrics& m) {
    Line(absl::StrFormat("%-44s %9.4f %9.4f %9.4f %9.4f %7d", name, m.recall, m.ndcg, m.hit_rate, m.coverage, m.cases));
  };
  auto diff = [](const std::string& name, const lm::RankingMetrics& a, const lm::RankingMetrics& b) {
    Line(absl::StrFormat("%-44s %+9.4f %+9.4f %+9.4f", name, a.recall - b.recall, a.ndcg - b.ndcg,
                         a.hit_rate - b.hit_rate));
  };
  row("offline evaluator (//models:evaluate), model", offline);
  row("offline evaluator, served ranking", offline_served);
  row("served model version, ScoreAll offline", served);
  row("served ranking recomputed offline", emulated);
  row("  the same without its popularity term", emulated_no_pop);
  row("LIVE: Recommend over gRPC", live_m);
  diff("live - offline evaluator's served ranking", live_m, offline_served);
  diff("live - offline evaluator's model (re-rankers)", live_m, offline);
  diff("live - served ranking recomputed offline", live_m, emulated);
  diff("served model - offline evaluator", served, offline);
  Line(
      absl::StrFormat("lists: live = served ranking recomputed: %.1f%% same order, %.1f%% same set; live = model "
                      "ScoreAll top %d: %.1f%% same order, %.1f%% same set (mean overlap %.1f%%)",
                      100 * vs_emulated.same_order, 100 * vs_emulated.same_set, k, 100 * vs_model.same_order,
                      100 * vs_model.same_set, 100 * vs_model.mean_overlap));
  Line(absl::StrCat("live list anomalies: ", anomalies.ToJson().dump()));
  const bool same_params = served_params == offline_params;
  Line(absl::StrCat(
      "parameters: served ", served_params.dump(),
      same_params ? " (same as the evaluator's)" : absl::StrCat("; evaluator ", offline_params.dump(), " DIFFER")));

  std::vector<Check> checks = {
      Compare("live vs offline evaluator's served ranking", live_m, offline_served, absl::GetFlag(FLAGS_tolerance)),
      Compare("live vs served ranking recomputed offline", live_m, emulated, absl::GetFlag(FLAGS_emulation_tolerance)),
      Compare("served model vs offline evaluator", served, offline, absl::GetFlag(FLAGS_training_tolerance)),
  };
  const bool clean = anomalies.history_items == 0 && anomalies.duplicate_items == 0;
  bool all_ok = clean;
  for (const Check& c : checks) {
    Line(absl::StrFormat("check %-44s max |diff| %.4f <= %.4f: %s", c.name, c.worst, c.tolerance,
                         c.ok ? "ok" : "FAILED"));
    all_ok &= c.ok;
    report["checks"].push_back({{"name", c.name}, {"max_abs_diff", c.worst}, {"tolerance", c.tolerance}, {"ok", c.ok}});
  }
  if (!clean) Line("check live lists hold no history course and no duplicate: FAILED");
  report["offline_evaluator"] = offline.ToJson();
  report["offline_evaluator_served"] = offline_served.ToJson();
  report["served_model_offline"] = served.ToJson();
  report["served_ranking_recomputed"] = emulated.ToJson();
  report["served_ranking_recomputed_without_popularity"] = emulated_no_pop.ToJson();
  report["live"] = live_m.ToJson();
  report["live_anomalies"] = anomalies.ToJson();
  report["lists_live_vs_recomputed"] = vs_emulated.ToJson();
  report["lists_live_vs_model"] = vs_model.ToJson();
  report["params"] = {{"served", served_params}, {"offline", offline_params}, {"same", same_params}};
  report["ok"] = all_ok;
  report["seconds"] = absl::ToDoubleSeconds(absl::Now() - run_start);
  const std::string json_out =
      absl::GetFlag(FLAGS_json_out).empty() ? *work + "/report.json" : absl::GetFlag(FLAGS_json_out);
  if (absl::Status s = WriteFile(json_out, report.dump(2) + "\n"); !s.ok()) return Fail(s);
  Line(absl::StrFormat("replay: %s in %.1f s; report %s", all_ok ? "all checks hold" : "CHECKS FAILED",
                       absl::ToDoubleSeconds(absl::Now() - run_start), json_out));
  return all_ok ? 0 : 3;
}
