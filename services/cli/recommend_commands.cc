// `lifelong` commands of the recommendation service: recommend, similar, path, train, model.
#include "services/cli/commands.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/token.h"
#include "services/cli/args.h"
#include "services/cli/exit_codes.h"
#include "services/cli/import_reader.h"
#include "services/cli/progress.h"
#include "services/cli/statement_builder.h"
#include "services/cli/text_table.h"
#include "services/cli/train_schedule.h"
#include "services/common/grpc_status.h"
#include "services/common/grpc_tls.h"
#include "services/common/health_client.h"
#include "services/common/status_macros.h"
#include "services/domain/vocabulary.h"

namespace lifelong::cli {

absl::Status FillFilter(const ParsedArgs& a, v1::CourseFilter* f) {
  if (a.Has("mode")) {
    for (const std::string& m : CommaList(a.Get("mode"))) {
      auto v = ParseMode("mode", m);
      if (!v.ok()) return v.status();
      f->add_modes(*v);
    }
  }
  for (const std::string& c : CommaList(a.Get("category"))) f->add_categories(c);
  for (const std::string& x : CommaList(a.Get("xuequ"))) f->add_xuequ(x);
  if (a.Has("audience")) {
    for (const std::string& m : CommaList(a.Get("audience"))) {
      auto v = ParseAudience("audience", m);
      if (!v.ok()) return v.status();
      f->add_audiences(*v);
    }
  }
  if (a.Has("near")) {
    std::vector<std::string> p = absl::StrSplit(a.Get("near"), ',');
    double lat = 0, lng = 0;
    if (p.size() != 2 || !absl::SimpleAtod(p[0], &lat) || !absl::SimpleAtod(p[1], &lng)) {
      return Usage("--near: expected LAT,LNG such as 39.93,116.41");
    }
    f->mutable_near()->set_lat(lat);
    f->mutable_near()->set_lng(lng);
    auto km = ParseDoubleFlag("within_km", a.Get("within_km", "3"));
    if (!km.ok()) return AsUsage(km.status());
    f->set_within_km(*km);
  }
  f->set_open_for_enrolment_now(a.GetBool("open_now"));
  return absl::OkStatus();
}

void PrintRecommendations(Env& env, const google::protobuf::RepeatedPtrField<v1::Recommendation>& recs) {
  TextTable table({"#", "COURSE", "TITLE", "CATEGORY", "MODE", "XUEQU", "SEATS", "SCORE", "KM", "REASON"});
  table.AlignRight(0);
  table.AlignRight(6);
  table.AlignRight(7);
  table.AlignRight(8);
  table.SetMaxWidth(2, 30);
  table.SetMaxWidth(9, 40);
  int rank = 0;
  for (const auto& r : recs) {
    const auto& c = r.course();
    table.AddRow({std::to_string(++rank), c.course_id(), c.title(), c.category(), ModeName(c.mode()), c.xuequ(),
                  c.seats_left() < 0 ? "-" : std::to_string(c.seats_left()), absl::StrFormat("%.3f", r.score()),
                  r.distance_km() < 0 ? "" : absl::StrFormat("%.1f", r.distance_km()), r.reason()});
  }
  env.out() << table.Render();
}

absl::StatusOr<int32_t> ParseK(const ParsedArgs& a) {
  auto k = ParseIntFlag("k", a.Get("k", "10"));
  if (!k.ok()) return AsUsage(k.status());
  if (*k < 1 || *k > 100) return Usage("--k: must be in [1, 100]");
  return static_cast<int32_t>(*k);
}

absl::Status CmdRecommend(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() > 1) return Usage("usage: lifelong recommend [LEARNER] [-k N] [--kiosk VENUE] ...");
  v1::RecommendRequest req;
  if (!a.positional.empty()) req.set_learner(a.positional[0]);
  auto k = ParseK(a);
  if (!k.ok()) return k.status();
  req.set_k(*k);
  absl::Status fs = FillFilter(a, req.mutable_filter());
  if (!fs.ok()) return fs;
  auto* c = req.mutable_context();
  if (a.Has("kiosk")) {
    c->set_channel(v1::RecommendContext::CHANNEL_KIOSK);
    c->set_kiosk_venue_id(a.Get("kiosk"));
  } else {
    c->set_channel(v1::RecommendContext::CHANNEL_APP);
  }
  for (const std::string& i : CommaList(a.Get("interests"))) c->add_interests(i);
  if (a.Has("age")) {
    auto v = ParseAudience("age", a.Get("age"));
    if (!v.ok()) return v.status();
    c->set_age_group(*v);
  }
  if (a.Has("location")) {
    std::vector<std::string> p = absl::StrSplit(a.Get("location"), ',');
    double lat = 0, lng = 0;
    if (p.size() != 2 || !absl::SimpleAtod(p[0], &lat) || !absl::SimpleAtod(p[1], &lng)) {
      return Usage("--location: expected LAT,LNG such as 39.93,116.41");
    }
    c->mutable_location()->set_lat(lat);
    c->mutable_location()->set_lng(lng);
  }
  v1::RecommendResponse resp;
  grpc::Status g = env.Recommend()->Recommend(env.Call().get(), req, &resp);
  if (!g.ok()) return env.RpcError(Service::kRecommend, g);
  if (env.json()) {
    env.out() << ProtoJson(resp) << "\n";
    return absl::OkStatus();
  }
  PrintRecommendations(env, resp.recommendations());
  env.out() << resp.recommendations_size() << " recommendation(s) for "
            << (req.learner().empty() ? "an anonymous learner" : req.learner()) << ", model " << resp.model_version()
            << (resp.cold_start() ? ", cold start" : "") << "\n";
  return absl::OkStatus();
}

absl::Status CmdSimilar(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1) return Usage("usage: lifelong similar COURSE [-k N]");
  v1::SimilarCoursesRequest req;
  req.set_course_id(a.positional[0]);
  auto k = ParseK(a);
  if (!k.ok()) return k.status();
  req.set_k(*k);
  absl::Status fs = FillFilter(a, req.mutable_filter());
  if (!fs.ok()) return fs;
  v1::SimilarCoursesResponse resp;
  grpc::Status g = env.Recommend()->SimilarCourses(env.Call().get(), req, &resp);
  if (!g.ok()) return env.RpcError(Service::kRecommend, g);
  if (env.json()) {
    env.out() << ProtoJson(resp) << "\n";
    return absl::OkStatus();
  }
  PrintRecommendations(env, resp.recommendations());
  env.out() << resp.recommendations_size() << " course(s) similar to " << req.course_id() << ", model "
            << resp.model_version() << "\n";
  return absl::OkStatus();
}

// `lifelong path LEARNER --programme ID | --course ID | --category CAT`:
// RecommendationService.PlanPath as a table (or --json).
absl::Status CmdPath(Env& env) {
  const ParsedArgs& a = env.args();
  if (a.positional.size() != 1) {
    return Usage("usage: lifelong path LEARNER (--programme ID | --course ID | --category CAT) [--deadline DATE]");
  }
  v1::PlanPathRequest req;
  req.set_learner(a.positional[0]);
  int goals = 0;
  if (a.Has("programme")) {
    req.set_programme_id(a.Get("programme"));
    ++goals;
  }
  if (a.Has("course")) {
    req.set_course_id(a.Get("course"));
    ++goals;
  }
  if (a.Has("category")) {
    req.set_category(a.Get("category"));
    ++goals;
  }
  if (goals != 1) return Usage("--programme, --course or --category: give exactly one goal");
  if (a.Has("deadline")) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime("%Y-%m-%d", a.Get("deadline"), Beijing(), &t, &err)) {
      return Usage("--deadline: expected a date such as 2027-06-30");
    }
    t += absl::Hours(24);  // the end of that day
    req.mutable_deadline()->set_seconds(absl::ToUnixSeconds(t));
  }
  req.set_home_xuequ(a.Get("xuequ"));
  req.set_any_xuequ(a.GetBool("anywhere"));
  req.set_prefer_online(a.GetBool("online"));
  if (a.Has("max")) {
    auto n = ParseIntFlag("max", a.Get("max"));
    if (!n.ok()) return AsUsage(n.status());
    if (*n < 1 || *n > 100) return Usage("--max: must be in [1, 100]");
    req.set_max_courses(static_cast<int32_t>(*n));
  }
  v1::PlanPathResponse resp;
  grpc::Status g = env.Recommend()->PlanPath(env.Call().get(), req, &resp);
  if (!g.ok()) return env.RpcError(Service::kRecommend, g);
  if (env.json()) {
    env.out() << ProtoJson(resp) << "\n";
    return absl::OkStatus();
  }
  TextTable table({"#", "COURSE", "TITLE", "CATEGORY", "CREDITS", "XUEQU", "STARTS", "ENDS", "SESSIONS", "WHY"});
  table.AlignRight(0);
  table.AlignRight(4);
  table.AlignRight(8);
  table.SetMaxWidth(2, 30);
  table.SetMaxWidth(9, 30);
  int n = 0;
  for (const v1::PlannedCourse& step : resp.steps()) {
    const v1::CourseSummary& c = step.course();
    table.AddRow({std::to_string(++n), c.course_id(), c.title(), c.category(), Num(c.credits()),
                  c.mode() == v1::Course::ONLINE ? "线上" : c.xuequ(), FormatTs(step.start()), FormatTs(step.end()),
                  std::to_string(step.sessions_size() + step.sessions_not_listed()),
                  step.in_progress() ? "in progress" : step.why()});
  }
  env.out() << "Plan for " << req.learner() << " toward " << resp.goal_name() << ": "
            << (resp.already_achieved() ? "already achieved"
                : resp.feasible()       ? "feasible"
                                        : "NOT feasible")
            << "\n";
  if (n > 0) env.out() << table.Render();
  if (resp.has_progress()) {
    const v1::PathProgress& p = resp.progress();
    env.out() << "Credits: " << Num(p.credits_earned()) << " earned + " << Num(p.credits_planned()) << " planned";
    if (p.credits_required() > 0) env.out() << " of " << Num(p.credits_required()) << " required";
    env.out() << "\n";
    for (const auto& c : p.by_category()) {
      env.out() << "  " << c.category() << ": " << Num(c.earned()) << " earned + " << Num(c.planned()) << " planned of "
                << Num(c.required()) << "\n";
    }
    if (p.required_done_size() + p.required_planned_size() + p.required_missing_size() > 0) {
      env.out() << "Required courses: " << p.required_done_size() << " done, " << p.required_planned_size()
                << " planned, " << p.required_missing_size() << " missing\n";
    }
  }
  if (!resp.feasible()) {
    for (absl::string_view line : absl::StrSplit(resp.reason(), '\n')) env.out() << "Why: " << line << "\n";
  }
  return absl::OkStatus();
}

// The trainer binary: --trainer, $LIFELONG_TRAINER, next to this binary in
// bazel-bin (../../models/train), or bazel-bin/models/train under the
// current directory.
absl::StatusOr<std::string> FindTrainer(Env& env) {
  if (env.args().Has("trainer")) return env.args().Get("trainer");
  auto it = env.ctx().env.find("LIFELONG_TRAINER");
  if (it != env.ctx().env.end() && !it->second.empty()) {
    if (access(it->second.c_str(), X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("trainer binary not found: LIFELONG_TRAINER=", it->second,
                                              " is not an executable file (build //models:train or pass --trainer)"));
    }
    return it->second;
  }
  std::vector<std::string> candidates;
  if (!env.ctx().self_path.empty()) {
    std::filesystem::path self(env.ctx().self_path);
    candidates.push_back((self.parent_path() / "../../models/train").lexically_normal().string());
  }
  candidates.push_back("bazel-bin/models/train");
  for (const std::string& c : candidates) {
    if (access(c.c_str(), X_OK) == 0) return c;
  }
  return absl::NotFoundError(absl::StrCat("trainer binary not found (tried ", absl::StrJoin(candidates, ", "),
                                          "); build //models:train or pass --trainer"));
}

namespace {

// Set by SIGTERM/SIGINT while `lifelong train --every` runs: the scheduler
// stops waiting, and a training in progress is asked to stop (the trainer
// writes into a temporary directory, so nothing half-written is left).
volatile sig_atomic_t g_train_stop = 0;
void OnTrainStopSignal(int) { g_train_stop = 1; }

// Dumps the catalog and runs the trainer once, printing "train: running for
// ..." every 5 s. Stops the trainer (SIGTERM) when g_train_stop is set.
absl::Status TrainOnce(Env& env, const std::string& model_root, const std::string& trainer) {
  const ParsedArgs& a = env.args();
  std::error_code ec;
  std::filesystem::create_directories(model_root, ec);
  const std::string dump = a.Get("catalog_dump", model_root + "/catalog.jsonl");
  int64_t courses = 0;
  absl::Status s = WriteFileAtomically(dump, [&](std::ostream& o) -> absl::Status {
    auto r = DumpCatalog(env, o);
    if (!r.ok()) return r.status();
    courses = *r;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  env.err() << "train: catalog dump " << dump << " (" << courses << " courses)\n";
  std::vector<std::string> argv = {trainer, "--model_root=" + model_root, "--records=" + env.Address(Service::kRecords),
                                   "--catalog=" + dump};
  // The trainer reads the record service with the same TLS settings.
  if (!env.tls().ca_file.empty()) argv.push_back("--tls_ca=" + env.tls().ca_file);
  if (!env.tls().cert_file.empty()) argv.push_back("--tls_cert=" + env.tls().cert_file);
  if (!env.tls().key_file.empty()) argv.push_back("--tls_key=" + env.tls().key_file);
  if (!env.token_file().empty()) argv.push_back("--token_file=" + env.token_file());
  for (const std::string& p : a.positional) argv.push_back(p);  // after "--": trainer flags
  env.err() << "train: " << absl::StrJoin(argv, " ") << "\n" << std::flush;
  std::vector<char*> cargv;
  for (std::string& x : argv) cargv.push_back(x.data());
  cargv.push_back(nullptr);
  std::cout.flush();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  const absl::Time start = absl::Now();
  absl::Time last = start;
  bool stop_sent = false;
  int wstatus = 0;
  while (true) {
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) break;
    if (r < 0) return absl::InternalError("waitpid failed");
    if (g_train_stop && !stop_sent) {
      ::kill(pid, SIGTERM);
      stop_sent = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (absl::Now() - last >= absl::Seconds(5)) {
      last = absl::Now();
      env.err() << "train: running for " << ShortDuration(last - start) << "\n" << std::flush;
    }
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::InternalError(absl::StrFormat("trainer failed (%s %d) after %.1fs",
                                               WIFEXITED(wstatus) ? "exit" : "signal",
                                               WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus), secs));
  }
  env.err() << absl::StrFormat("train: done in %.1fs\n", secs);
  return absl::OkStatus();
}

// The record service's erasure epoch (GetErasureEpoch: a count, no personal
// data, not audited), with a short deadline so that SIGTERM is never kept
// waiting behind a hung service.
absl::StatusOr<uint64_t> RecordsErasureEpoch(Env& env) {
  auto stub = env.Records();
  std::unique_ptr<grpc::ClientContext> ctx = env.Call();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ErasureEpoch epoch;
  grpc::Status st = stub->GetErasureEpoch(ctx.get(), v1::GetErasureEpochRequest(), &epoch);
  if (!st.ok()) return env.RpcError(Service::kRecords, st);
  return epoch.epoch();
}

// Sleeps `d` in short steps; false when a stop signal came.
bool SleepUnlessStopped(absl::Duration d) {
  const absl::Time until = absl::Now() + d;
  while (!g_train_stop && absl::Now() < until) {
    absl::SleepFor(std::min(absl::Milliseconds(200), until - absl::Now()));
  }
  return !g_train_stop;
}

absl::StatusOr<absl::Duration> PositiveDurationFlag(const ParsedArgs& a, const std::string& flag,
                                                    const std::string& fallback) {
  absl::Duration d;
  const std::string text = a.Get(flag, fallback);
  if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": must be a positive duration such as 24h, got \"", text, "\""));
  }
  return d;
}

// --nice (default 10, 0..19): training is batch work that shares the
// machine with the services a kiosk waits on, so `lifelong train` and the
// trainer it starts run at a lower CPU priority. A process already nicer
// stays so (raising priority needs privileges).
absl::Status LowerTrainingPriority(const ParsedArgs& a) {
  const std::string text = a.Get("nice", "10");
  LL_ASSIGN_OR_RETURN(const int64_t value, ParseIntFlag("nice", text));
  if (value < 0 || value > 19) {
    return absl::InvalidArgumentError(absl::StrCat("--nice: must be a whole number from 0 to 19, got \"", text, "\""));
  }
  const int nice = static_cast<int>(value);
  errno = 0;
  const int current = getpriority(PRIO_PROCESS, 0);
  if (errno == 0 && current >= nice) return absl::OkStatus();
  if (setpriority(PRIO_PROCESS, 0, nice) != 0) {
    return absl::InternalError(absl::StrCat("--nice=", nice, ": setpriority: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// --training_share (default 0.25, in (0, 1]): TrainingPace's share.
absl::StatusOr<double> TrainingShareFlag(const ParsedArgs& a) {
  const std::string text = a.Get("training_share", "0.25");
  LL_ASSIGN_OR_RETURN(const double share, ParseDoubleFlag("training_share", text));
  if (!(share > 0) || share > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--training_share: must be a number above 0 and at most 1 (e.g. 0.25), got \"", text, "\""));
  }
  return share;
}

}  // namespace

absl::Status CmdTrain(Env& env) {
  const ParsedArgs& a = env.args();
  const std::string model_root = a.Get("model_root", "var/models");
  LL_RETURN_IF_ERROR(LowerTrainingPriority(a));
  if (!a.Has("every")) {
    LL_ASSIGN_OR_RETURN(const std::string trainer, FindTrainer(env));
    return TrainOnce(env, model_root, trainer);
  }
  // Scheduled retraining (train_schedule.h): runs until SIGTERM/SIGINT.
  LL_ASSIGN_OR_RETURN(const absl::Duration every, PositiveDurationFlag(a, "every", ""));
  LL_ASSIGN_OR_RETURN(const absl::Duration check, PositiveDurationFlag(a, "check_every", "1m"));
  TrainingPace pace;
  LL_ASSIGN_OR_RETURN(pace.share, TrainingShareFlag(a));
  LL_ASSIGN_OR_RETURN(const std::string trainer, FindTrainer(env));
  // One schedule per model root: two would train the same versions twice.
  // The lock is released when this process ends, however it ends.
  std::error_code ec;
  std::filesystem::create_directories(model_root, ec);
  const std::string lock_path = model_root + "/.train-schedule.lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(lock_path, ": cannot open: ", std::strerror(errno)));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return absl::FailedPreconditionError(
        absl::StrCat("another `lifelong train --every` runs on ", model_root, " (it holds ", lock_path, ")"));
  }
  struct sigaction sa = {};
  sa.sa_handler = OnTrainStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  env.err() << "train: scheduled: every " << absl::FormatDuration(every) << ", and within "
            << absl::FormatDuration(check) << " of an erasure; model root " << model_root << "\n"
            << std::flush;
  // After a failed training, the next attempt waits longer each time (from
  // the check interval up to `every`, at most an hour), so that a record
  // service that is down is not hammered.
  absl::Duration backoff = check;
  std::string last_reason;  // the model and epoch last said to be up to date
  while (!g_train_stop) {
    absl::StatusOr<ModelRootState> state = ReadModelRootState(model_root);
    if (!state.ok()) {
      env.err() << "train: " << state.status().message() << "\n" << std::flush;
      if (!SleepUnlessStopped(check)) break;
      continue;
    }
    absl::StatusOr<uint64_t> epoch = RecordsErasureEpoch(env);
    if (!epoch.ok()) {
      env.err() << "train: cannot read the record service's erasure epoch (" << epoch.status().message()
                << "); deciding by age alone\n"
                << std::flush;
    }
    const RetrainDecision decision =
        DecideRetrain(*state, epoch.ok() ? std::optional<uint64_t>(*epoch) : std::nullopt, absl::Now(), every, pace);
    if (!decision.train) {
      // Said once per model and epoch, not at every check.
      const std::string seen =
          absl::StrCat(state->newest_version.value_or(0), "/", state->erasure_epoch, "/",
                       epoch.ok() ? absl::StrCat(*epoch) : "?", "/", decision.blocked, "/", decision.paced);
      if (seen != last_reason) {
        if (decision.blocked) {
          env.err() << "train: not training: " << decision.reason << "\n" << std::flush;
        } else if (decision.paced) {
          env.err() << "train: due, waiting: " << decision.reason << "\n" << std::flush;
        } else {
          env.err() << "train: up to date (" << decision.reason << "); next training in at most "
                    << ShortDuration(decision.until_due) << "\n"
                    << std::flush;
        }
        last_reason = seen;
      }
      if (!SleepUnlessStopped(std::min(check, decision.until_due))) break;
      continue;
    }
    env.err() << "train: training now: " << decision.reason << "\n" << std::flush;
    last_reason.clear();
    const absl::Time started = absl::Now();
    absl::Status trained = TrainOnce(env, model_root, trainer);
    pace.last_end = absl::Now();
    pace.last_took = *pace.last_end - started;
    if (g_train_stop) break;
    if (trained.ok()) {
      backoff = check;
      continue;
    }
    env.err() << "train: failed (" << trained.message() << "); next attempt in " << ShortDuration(backoff) << "\n"
              << std::flush;
    if (!SleepUnlessStopped(backoff)) break;
    backoff = std::min(backoff * 2, std::min(every, absl::Hours(1)));
  }
  env.err() << "train: stopped\n" << std::flush;
  return absl::OkStatus();
}

void PrintModelStatus(Env& env, const v1::ModelStatus& m) {
  if (env.json()) {
    env.out() << ProtoJson(m) << "\n";
    return;
  }
  std::vector<std::string> versions;
  for (int64_t v : m.available_versions()) versions.push_back(std::to_string(v));
  std::vector<std::pair<std::string, std::string>> rows = {
      {"version", m.version() == 0 ? "none loaded" : std::to_string(m.version())},
      {"pinned", m.pinned() ? "yes" : "no"},
      {"loaded at", FormatTs(m.loaded_at())},
      {"items", std::to_string(m.item_count())},
      {"dimension", std::to_string(m.dimension())},
      {"index", m.index_kind()},
      {"available", absl::StrJoin(versions, ", ")},
      {"model dir", m.model_dir()},
      {"last error",
       m.last_error().empty() ? "" : absl::StrCat("version ", m.last_error_version(), ": ", m.last_error())},
  };
  for (const auto& [k, v] : rows) {
    if (!v.empty()) env.out() << PadToWidth(k, 12) << "  " << v << "\n";
  }
}

absl::Status CmdModel(Env& env, const std::string& sub) {
  const ParsedArgs& a = env.args();
  auto stub = env.Recommend();
  v1::ModelStatus m;
  grpc::Status g;
  if (sub == "status") {
    if (!a.positional.empty()) return Usage("usage: lifelong model status");
    g = stub->GetModelStatus(env.Call().get(), v1::GetModelStatusRequest(), &m);
  } else if (sub == "rollback" || sub == "pin") {
    int64_t version = 0;
    if (a.positional.size() == 1) {
      auto v = ParseIntFlag("version", a.positional[0]);
      if (!v.ok()) return AsUsage(v.status());
      version = *v;
    } else if (!a.positional.empty()) {
      return Usage(absl::StrCat("usage: lifelong model ", sub, " [VERSION]"));
    }
    if (version == 0 && sub == "pin") return Usage("usage: lifelong model pin VERSION");
    if (version == 0) {
      v1::ModelStatus cur;
      g = stub->GetModelStatus(env.Call().get(), v1::GetModelStatusRequest(), &cur);
      if (!g.ok()) return env.RpcError(Service::kRecommend, g);
      for (int64_t v : cur.available_versions()) {
        if (v < cur.version() && v > version) version = v;
      }
      if (version == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("no complete version older than the serving one (", cur.version(), ") to roll back to"));
      }
    }
    v1::PinModelVersionRequest req;
    req.set_version(version);
    g = stub->PinModelVersion(env.Call().get(), req, &m);
  } else if (sub == "unpin") {
    if (!a.positional.empty()) return Usage("usage: lifelong model unpin");
    g = stub->UnpinModelVersion(env.Call().get(), v1::UnpinModelVersionRequest(), &m);
  } else {
    return Usage(absl::StrCat("unknown model command '", sub, "' (status, rollback, pin, unpin)"));
  }
  if (!g.ok()) return env.RpcError(Service::kRecommend, g);
  PrintModelStatus(env, m);
  return absl::OkStatus();
}

}  // namespace lifelong::cli
