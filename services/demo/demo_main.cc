// demo_loader: loads the demo district (demo_district.h) into running
// catalog and record services through their gRPC APIs.
//
//   demo_loader --catalog=127.0.0.1:7002 --records=127.0.0.1:7001
//               [--learners=50000 --courses=1500 --seed=20261128]
//               [--parallel=4 --batch=1000 --checkpoint=var/run/demo.checkpoint]
//               [--today=YYYY-MM-DD] --allow_demo_data
//
// It writes nothing without --allow_demo_data: its learners are made up but
// carry the district's identity provider, and their learner cards have PINs
// that follow from the seed in this repository.
//
// The district's dates are placed around the load day (--today, default
// today), so enrolment windows are open and sessions are coming whenever the
// demo is loaded (DemoOptions::today_us).
//
// Idempotent: course ids and statement ids are deterministic, so a re-run
// stores nothing twice (existing courses are skipped, repeated statements
// are absorbed by the record service). With --checkpoint an interrupted load
// resumes after the last learner whose statements were all stored.
// --stats prints what would be loaded without contacting any server.
// --tls_ca (and --tls_cert/--tls_key for services that demand a client
// certificate) connect over TLS (docs/security.md).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/catalog.grpc.pb.h"
#include "proto/lifelong/v1/records.grpc.pb.h"
#include "services/auth/client_token.h"
#include "services/cli/progress.h"
#include "services/common/grpc_tls.h"
#include "services/common/tls_flags.h"
#include "services/demo/catalog_topics.h"
#include "services/demo/demo_cards.h"
#include "services/demo/demo_district.h"
#include "services/demo/demo_programmes.h"
#include "services/demo/district.h"

ABSL_FLAG(std::string, records, "127.0.0.1:7001", "record service address");
ABSL_FLAG(std::string, catalog, "127.0.0.1:7002", "catalog service address");
ABSL_FLAG(int, learners, 50000, "number of learners (u000001 ...)");
ABSL_FLAG(int, courses, 1500, "number of courses (c00001 ...)");
ABSL_FLAG(uint64_t, seed, 20261128, "generator seed");
ABSL_FLAG(std::string, today, "",
          "the load day (YYYY-MM-DD, UTC) the district's dates are placed around; "
          "default: today, or the day recorded in --checkpoint when resuming");
ABSL_FLAG(int, parallel, 4, "RecordStatements calls in flight");
ABSL_FLAG(int, batch, 1000, "statements per RecordStatements call (1..1000)");
ABSL_FLAG(int, learners_per_chunk, 50, "learners a worker generates at a time");
ABSL_FLAG(std::string, checkpoint, "", "file recording the learners already loaded");
ABSL_FLAG(bool, skip_courses, false, "do not create courses");
ABSL_FLAG(bool, skip_statements, false, "do not record statements");
ABSL_FLAG(int, cards, 100,
          "bind learner cards (demo_cards.h) for learners u000001 .. u<cards> (at most --learners); 0: none");
ABSL_FLAG(std::string, cards_file, "",
          "write the bound cards as lines 'CARD<TAB>PIN<TAB>LEARNER' to this file (mode 600; demo data)");
ABSL_FLAG(bool, stats, false, "print statistics of the generated district and exit");
ABSL_FLAG(bool, allow_demo_data, false,
          "confirm that --records and --catalog are a demo or test store: the loader writes made-up "
          "learners (u000001 ...) under the district's identity provider, with credits, and binds learner "
          "cards whose PINs follow from the public seed; never point it at real records");
ABSL_FLAG(int, timeout_s, 30, "deadline of each call, seconds");

namespace demo = lifelong::demo;
namespace v1 = lifelong::v1;
using lifelong::cli::WithThousands;

namespace {

// The bearer token sent with every call (--token_file / $LIFELONG_TOKEN;
// role loader when the services demand one). Set once in main().
std::string g_token;

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + std::chrono::seconds(absl::GetFlag(FLAGS_timeout_s));
}

bool Retryable(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

int PrintStats(const demo::DemoDistrict& d) {
  const auto& courses = d.courses();
  std::map<std::string, int> by_category, by_xuequ, by_mode;
  for (const auto& c : courses) {
    by_category[c.course.category()]++;
    by_xuequ[c.venue < 0 ? "(online)" : c.course.venue().xuequ()]++;
    by_mode[c.venue < 0 ? "online" : c.course.mode() == v1::Course::BLENDED ? "blended" : "offline"]++;
  }
  std::map<std::string, int64_t> verbs;
  std::map<std::string, int64_t> stages;
  int64_t statements = 0;
  int64_t bytes = 0;
  const absl::Time t0 = absl::Now();
  for (int i = 1; i <= d.options().learners; ++i) {
    demo::Learner l = d.MakeLearner(i);
    stages[demo::LifeStageName(l.stage)]++;
    auto events = d.Events(l);
    for (size_t k = 0; k < events.size(); ++k) {
      verbs[events[k].verb]++;
      bytes += d.StatementJson(l, events[k], static_cast<int>(k)).size();
    }
    statements += events.size();
  }
  std::printf("courses %zu\n", courses.size());
  for (auto& [k, v] : by_category) std::printf("  category %s: %d\n", k.c_str(), v);
  for (auto& [k, v] : by_xuequ) std::printf("  xuequ %s: %d\n", k.c_str(), v);
  for (auto& [k, v] : by_mode) std::printf("  mode %s: %d\n", k.c_str(), v);
  std::printf("learners %d\n", d.options().learners);
  for (auto& [k, v] : stages) std::printf("  stage %s: %lld\n", k.c_str(), static_cast<long long>(v));
  std::printf("statements %lld (%.1f per learner, %.0f bytes avg, generated in %.1fs)\n",
              static_cast<long long>(statements), 1.0 * statements / d.options().learners,
              statements ? 1.0 * bytes / statements : 0.0, absl::ToDoubleSeconds(absl::Now() - t0));
  for (auto& [k, v] : verbs) std::printf("  verb %s: %lld\n", k.c_str(), static_cast<long long>(v));
  return 0;
}

// Creates every course in id order per level (a course's prerequisite is the
// previous level of its chain, so each level may be created in parallel).
bool LoadCourses(const demo::DemoDistrict& d, const std::shared_ptr<grpc::Channel>& channel, int parallel) {
  const auto& courses = d.courses();
  std::atomic<int64_t> created{0}, existing{0}, failed{0};
  lifelong::cli::Progress progress(std::cerr, "demo courses", "courses", courses.size());
  std::atomic<int64_t> done{0};
  std::string first_error;
  absl::Mutex mu;
  for (int level = 0; level < 3; ++level) {
    std::vector<int> todo;
    for (size_t i = 0; i < courses.size(); ++i) {
      if (courses[i].level == level) todo.push_back(static_cast<int>(i));
    }
    std::atomic<size_t> next{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < parallel; ++w) {
      workers.emplace_back([&] {
        auto stub = v1::CourseCatalogService::NewStub(channel);
        for (size_t k; (k = next++) < todo.size();) {
          const v1::Course& c = courses[todo[k]].course;
          v1::CreateCourseRequest req;
          req.set_course_id(c.id());
          *req.mutable_course() = c;
          grpc::Status s;
          for (int attempt = 0; attempt < 5; ++attempt) {
            grpc::ClientContext ctx;
            ctx.set_deadline(Deadline());
            lifelong::auth::AttachToken(g_token, &ctx);
            v1::Course out;
            s = stub->CreateCourse(&ctx, req, &out);
            if (!Retryable(s)) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
          }
          if (s.ok()) {
            created++;
          } else if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
            existing++;
          } else {
            failed++;
            absl::MutexLock lock(&mu);
            if (first_error.empty()) first_error = absl::StrCat(c.id(), ": ", s.error_message());
          }
          progress.Update(++done);
        }
      });
    }
    for (auto& t : workers) t.join();
    if (failed > 0) break;
  }
  progress.Finish(done, absl::StrCat("(", created.load(), " created, ", existing.load(), " already there)"));
  if (failed > 0) {
    std::fprintf(stderr, "demo courses: %lld failed, first: %s\n", static_cast<long long>(failed.load()),
                 first_error.c_str());
    return false;
  }
  return true;
}

// Creates or replaces the demo programmes (demo_programmes.h); after the
// courses, which they name.
bool LoadProgrammes(const demo::DemoDistrict& d, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = v1::CourseCatalogService::NewStub(channel);
  for (const v1::Programme& p : demo::DemoProgrammes(d)) {
    v1::PutProgrammeRequest req;
    *req.mutable_programme() = p;
    grpc::Status s;
    for (int attempt = 0; attempt < 5; ++attempt) {
      grpc::ClientContext ctx;
      ctx.set_deadline(Deadline());
      lifelong::auth::AttachToken(g_token, &ctx);
      v1::Programme out;
      s = stub->PutProgramme(&ctx, req, &out);
      if (!Retryable(s)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
    }
    if (!s.ok()) {
      std::fprintf(stderr, "demo programme %s: %s\n", p.id().c_str(), s.error_message().c_str());
      return false;
    }
  }
  std::fprintf(stderr, "demo: %zu programmes\n", demo::DemoProgrammes(d).size());
  return true;
}

// Checkpoint file: one line "<seed> <learners> <next learner> <load day>".
int ReadCheckpoint(const std::string& path, uint64_t seed, int learners) {
  std::ifstream in(path);
  uint64_t s = 0;
  int n = 0, next = 0;
  if (in >> s >> n >> next && s == seed && n == learners) return next;
  return 1;
}

// The load day recorded in the checkpoint, or "" (no file, or an old one).
std::string CheckpointDay(const std::string& path) {
  std::ifstream in(path);
  std::string s, n, next, day;
  if (in >> s >> n >> next >> day) return day;
  return "";
}

std::string g_day;  // the load day, YYYY-MM-DD; set once in main()

void WriteCheckpoint(const std::string& path, uint64_t seed, int learners, int next) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << seed << " " << learners << " " << next << " " << g_day << "\n";
  }
  std::filesystem::rename(tmp, path);
}

bool LoadStatements(const demo::DemoDistrict& d, const std::shared_ptr<grpc::Channel>& channel, int parallel) {
  const int learners = d.options().learners;
  const uint64_t seed = d.options().seed;
  const std::string checkpoint = absl::GetFlag(FLAGS_checkpoint);
  const int start = checkpoint.empty() ? 1 : ReadCheckpoint(checkpoint, seed, learners);
  if (start > learners) {
    std::fprintf(stderr, "demo statements: checkpoint says all %d learners are loaded\n", learners);
    return true;
  }
  if (start > 1)
    std::fprintf(stderr, "demo statements: resuming at learner u%06d (checkpoint %s)\n", start, checkpoint.c_str());
  const int chunk = std::max(1, absl::GetFlag(FLAGS_learners_per_chunk));
  const size_t batch = static_cast<size_t>(std::clamp(absl::GetFlag(FLAGS_batch), 1, 1000));
  std::atomic<int> next_learner{start};
  std::atomic<int64_t> statements{0};
  std::atomic<int64_t> learners_done{0};
  std::atomic<bool> failed{false};
  absl::Mutex mu;
  std::string first_error;
  std::set<int> finished_chunks;  // chunk start indices done (guarded by mu)
  int watermark = start;          // all learners below are stored (guarded by mu)
  lifelong::cli::Progress progress(std::cerr, "demo statements", "learners", learners - start + 1, absl::Seconds(2));
  const absl::Time t0 = absl::Now();
  std::vector<std::thread> workers;
  for (int w = 0; w < parallel; ++w) {
    workers.emplace_back([&] {
      auto stub = v1::LearningRecordService::NewStub(channel);
      while (!failed) {
        const int first = next_learner.fetch_add(chunk);
        if (first > learners) break;
        const int last = std::min(learners, first + chunk - 1);
        std::vector<std::string> all;
        for (int i = first; i <= last; ++i) {
          auto st = d.LearnerStatements(i);
          for (auto& s : st) all.push_back(std::move(s));
        }
        for (size_t off = 0; off < all.size() && !failed; off += batch) {
          v1::RecordStatementsRequest req;
          for (size_t k = off; k < std::min(all.size(), off + batch); ++k) req.add_statement_json(all[k]);
          grpc::Status s;
          for (int attempt = 0; attempt < 6; ++attempt) {
            grpc::ClientContext ctx;
            ctx.set_deadline(Deadline());
            lifelong::auth::AttachToken(g_token, &ctx);
            v1::RecordStatementsResponse resp;
            s = stub->RecordStatements(&ctx, req, &resp);
            if (!Retryable(s)) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt));
          }
          if (!s.ok()) {
            absl::MutexLock lock(&mu);
            if (first_error.empty()) {
              first_error =
                  absl::StrCat("learners u", first, "..u", last, ": ", s.error_code(), " ", s.error_message());
            }
            failed = true;
            break;
          }
          statements += req.statement_json_size();
        }
        if (failed) break;
        learners_done += last - first + 1;
        {
          absl::MutexLock lock(&mu);
          finished_chunks.insert(first);
          while (finished_chunks.count(watermark)) {
            finished_chunks.erase(watermark);
            watermark += chunk;
          }
          if (!checkpoint.empty()) WriteCheckpoint(checkpoint, seed, learners, std::min(watermark, learners + 1));
        }
        const double secs = std::max(1e-3, absl::ToDoubleSeconds(absl::Now() - t0));
        progress.Update(learners_done, absl::StrCat("statements ", WithThousands(statements), " (",
                                                    WithThousands(static_cast<int64_t>(statements / secs)), "/s)"));
      }
    });
  }
  for (auto& t : workers) t.join();
  const double secs = std::max(1e-3, absl::ToDoubleSeconds(absl::Now() - t0));
  progress.Finish(learners_done, absl::StrCat("; ", WithThousands(statements), " statements (",
                                              WithThousands(static_cast<int64_t>(statements / secs)), "/s)"));
  if (failed) {
    std::fprintf(stderr, "demo statements: failed: %s\n", first_error.c_str());
    return false;
  }
  return true;
}

// Binds the demo learners' cards (BindLearnerCard; binding again to the same
// learner is idempotent apart from a fresh salt) and lists them in
// --cards_file.
bool LoadCards(const demo::DemoDistrict& d, const std::shared_ptr<grpc::Channel>& channel) {
  const int n = std::min(absl::GetFlag(FLAGS_cards), d.options().learners);
  if (n <= 0) return true;
  auto stub = v1::LearningRecordService::NewStub(channel);
  std::string lines;
  for (int i = 1; i <= n; ++i) {
    const demo::Learner l = d.MakeLearner(i);
    v1::BindLearnerCardRequest req;
    req.set_card_number(demo::DemoCardNumber(i));
    req.set_learner(l.id);
    req.set_pin(demo::DemoCardPin(d.options().seed, i));
    v1::LearnerCard out;
    grpc::Status s;
    for (int attempt = 0; attempt < 5; ++attempt) {
      grpc::ClientContext ctx;
      ctx.set_deadline(Deadline());
      lifelong::auth::AttachToken(g_token, &ctx);
      s = stub->BindLearnerCard(&ctx, req, &out);
      if (s.ok() || !Retryable(s)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
    }
    if (!s.ok()) {
      std::fprintf(stderr, "demo cards: %s: %s\n", req.card_number().c_str(), s.error_message().c_str());
      return false;
    }
    absl::StrAppend(&lines, req.card_number(), "\t", req.pin(), "\t", l.id, "\n");
  }
  const std::string file = absl::GetFlag(FLAGS_cards_file);
  if (!file.empty()) {
    const std::string tmp = file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << lines;
      if (!out) {
        std::fprintf(stderr, "demo cards: cannot write %s\n", tmp.c_str());
        return false;
      }
    }
    std::filesystem::permissions(tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace);
    std::filesystem::rename(tmp, file);
  }
  std::fprintf(stderr, "demo: bound %d learner cards%s%s\n", n, file.empty() ? "" : ", listed in ", file.c_str());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  {
    absl::StatusOr<std::string> token = lifelong::auth::ClientTokenFromFlags();
    if (!token.ok()) {
      std::cerr << "demo_loader: " << token.status().message() << "\n";
      return 2;
    }
    g_token = *token;
  }
  demo::DemoOptions o;
  o.learners = absl::GetFlag(FLAGS_learners);
  o.courses = absl::GetFlag(FLAGS_courses);
  o.seed = absl::GetFlag(FLAGS_seed);
  if (o.learners < 0 || o.courses < 3) {
    std::fprintf(stderr, "demo_loader: --learners must be >= 0 and --courses >= 3\n");
    return 2;
  }
  // The load day: the flag, else the one a resumed load started with (its
  // statements must not change), else today.
  g_day = absl::GetFlag(FLAGS_today);
  if (g_day.empty() && !absl::GetFlag(FLAGS_checkpoint).empty()) g_day = CheckpointDay(absl::GetFlag(FLAGS_checkpoint));
  if (g_day.empty()) g_day = absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  absl::CivilDay day;
  if (!absl::ParseCivilTime(g_day, &day)) {
    std::fprintf(stderr, "demo_loader: --today must be a date YYYY-MM-DD, got \"%s\"\n", g_day.c_str());
    return 2;
  }
  o.today_us = absl::ToUnixMicros(absl::FromCivil(day, absl::UTCTimeZone()));
  const absl::Time t0 = absl::Now();
  demo::DemoDistrict d(o);
  std::fprintf(stderr, "demo: generated %zu courses (seed %llu, load day %s) in %.1fs\n", d.courses().size(),
               static_cast<unsigned long long>(o.seed), g_day.c_str(), absl::ToDoubleSeconds(absl::Now() - t0));
  if (absl::GetFlag(FLAGS_stats)) return PrintStats(d);
  if (!absl::GetFlag(FLAGS_allow_demo_data)) {
    std::fprintf(stderr,
                 "demo_loader: refusing to write without --allow_demo_data: the demo district's made-up learners "
                 "(u000001 ...) and their learner cards, with PINs that follow from the public seed, must never "
                 "reach real records; pass --allow_demo_data only for a demo or test store\n");
    return 2;
  }
  const int parallel = std::max(1, absl::GetFlag(FLAGS_parallel));
  absl::StatusOr<lifelong::TlsConfig> tls = lifelong::CallingTlsFromFlags();
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      tls.ok() ? lifelong::ChannelCredentialsFor(*tls) : tls.status();
  if (!credentials.ok()) {
    std::fprintf(stderr, "demo_loader: %s\n", std::string(credentials.status().message()).c_str());
    return 2;
  }
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  args.SetMaxReceiveMessageSize(64 << 20);
  if (!absl::GetFlag(FLAGS_skip_courses)) {
    auto channel = grpc::CreateCustomChannel(absl::GetFlag(FLAGS_catalog), *credentials, args);
    if (!LoadCourses(d, channel, parallel)) return 1;
    if (!LoadProgrammes(d, channel)) return 1;
  }
  if (!absl::GetFlag(FLAGS_skip_statements)) {
    auto channel = grpc::CreateCustomChannel(absl::GetFlag(FLAGS_records), *credentials, args);
    if (!LoadStatements(d, channel, parallel)) return 1;
    if (!LoadCards(d, channel)) return 1;
  }
  std::fprintf(stderr, "demo: done in %.1fs\n", absl::ToDoubleSeconds(absl::Now() - t0));
  return 0;
}
