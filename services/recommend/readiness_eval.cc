// Offline measurement of the readiness rule (Recommender::Options::readiness)
// on the demo district (services/demo): the share of recommendations whose
// prerequisites the learner has not completed, and what the rule costs (or
// gains) in accuracy against each learner's next registration.
//
// Protocol: for every learner, the last `registered` event is held out and
// everything before it is the history; a model is trained with the real
// trainer on all histories (no held-out event is seen); every sampled learner
// then gets Recommend(k) a week before the first session with the rule on and
// off. HR@k: the held-out course (or another section of its series) is in
// the list. Unmet: an item with a prerequisite that neither it nor another
// section of its series was completed or passed in the history.
// Also prints the top 5 of the two learners named in issue #19 (u020000,
// u001234) on their full histories. Not a test; figures in docs/recommend.md.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "models/interaction.h"
#include "models/interaction_file.h"
#include "models/model_bundle.h"
#include "models/trainer.h"
#include "services/demo/demo_district.h"
#include "services/demo/demo_programmes.h"
#include "services/domain/vocabulary.h"
#include "services/recommend/catalog_cache.h"
#include "services/recommend/learner_history.h"
#include "services/recommend/recommender.h"

ABSL_FLAG(int, learners, 20000, "demo learners (u000001..)");
ABSL_FLAG(int, courses, 1500, "demo catalog size");
ABSL_FLAG(int, sample, 4000, "learners evaluated (evenly spaced among those with a held-out registration)");
ABSL_FLAG(int, k, 10, "recommendations per request");

namespace lifelong::recommend {
namespace {

std::string VerbIri(const std::string& verb) {
  if (verb == "registered") return std::string(vocab::kRegistered);
  if (verb == "attended") return std::string(vocab::kAttended);
  if (verb == "completed") return std::string(vocab::kCompleted);
  if (verb == "passed") return std::string(vocab::kPassed);
  if (verb == "failed") return std::string(vocab::kFailed);
  if (verb == "experienced") return std::string(vocab::kExperienced);
  return std::string(vocab::kRated);
}

struct Case {
  std::string learner;
  std::vector<StatementFact> newest_first;
  std::string held_out;
};

struct Tally {
  int64_t cases = 0, hits = 0, items = 0, unmet = 0, failed_cases = 0, failed_retry_first = 0;
};

int Run() {
  const int k = absl::GetFlag(FLAGS_k);
  demo::DemoOptions o;
  o.learners = absl::GetFlag(FLAGS_learners);
  o.courses = absl::GetFlag(FLAGS_courses);
  const absl::Time t0 = absl::Now();
  demo::DemoDistrict district(o);
  std::vector<Course> courses;
  std::vector<models::CatalogCourse> texts;
  for (const demo::DemoCourse& dc : district.courses()) {
    courses.push_back(CourseFromProto(dc.course));
    texts.push_back({dc.course.id(), Recommender::CourseText(courses.back())});
  }
  auto catalog = std::make_shared<const CatalogSnapshot>("demo", courses);

  std::vector<models::Interaction> train;
  std::vector<Case> cases;
  std::vector<std::vector<StatementFact>> full(2);  // u020000, u001234
  const int named[2] = {20000, 1234};
  for (int i = 1; i <= o.learners; ++i) {
    const demo::Learner l = district.MakeLearner(i);
    const std::vector<demo::Event> events = district.Events(l);
    int split = -1;
    for (int e = static_cast<int>(events.size()) - 1; e > 0; --e) {
      if (events[e].verb == "registered") {
        split = e;
        break;
      }
    }
    const int end = split < 0 ? static_cast<int>(events.size()) : split;
    Case c;
    c.learner = l.id;
    for (int e = 0; e < end; ++e) {
      const std::string& id = district.courses()[events[e].course].course.id();
      const std::string verb = VerbIri(events[e].verb);
      train.push_back({l.id, id, events[e].time_us, models::VerbWeight(verb)});
      c.newest_first.insert(c.newest_first.begin(),
                            {verb, vocab::CourseIri(id), absl::FromUnixMicros(events[e].time_us)});
    }
    for (int n = 0; n < 2; ++n) {
      if (i != named[n]) continue;
      for (const demo::Event& e : events) {
        full[n].insert(full[n].begin(), {VerbIri(e.verb), vocab::CourseIri(district.courses()[e.course].course.id()),
                                         absl::FromUnixMicros(e.time_us)});
      }
    }
    if (split > 0) {
      c.held_out = district.courses()[events[split].course].course.id();
      cases.push_back(std::move(c));
    }
  }
  std::printf("demo: %d learners, %zu courses, %zu training interactions, %zu cases (%.1f s)\n", o.learners,
              courses.size(), train.size(), cases.size(), absl::ToDoubleSeconds(absl::Now() - t0));

  models::TrainOptions topts;
  absl::StatusOr<models::ModelArrays> arrays = models::TrainModel(train, texts, topts);
  if (!arrays.ok()) {
    std::fprintf(stderr, "train: %s\n", arrays.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::shared_ptr<const models::ModelBundle>> model =
      models::BuildModelBundle(*std::move(arrays), nlohmann::json::object(), 1, "");
  if (!model.ok()) {
    std::fprintf(stderr, "model: %s\n", model.status().ToString().c_str());
    return 1;
  }
  std::printf("trained in %.1f s\n", absl::ToDoubleSeconds(absl::Now() - t0));

  auto search = [](const std::shared_ptr<const models::ModelBundle>& m, std::vector<float> q,
                   int n) -> absl::StatusOr<std::vector<models::Candidate>> {
    absl::StatusOr<std::vector<std::vector<models::Candidate>>> r = m->SearchBatch(q, 1, n);
    if (!r.ok()) return r.status();
    return (*r)[0];
  };
  Recommender::Options on_opts, off_opts;
  off_opts.readiness = false;
  Recommender on(search, on_opts), off(search, off_opts);
  // A week before the first session: no learner event is later, every
  // OPEN course takes enrolments.
  const absl::Time now = absl::FromUnixMicros(demo::FirstSessionMicros(district)) - absl::Hours(24 * 7);
  RecommendQuery q;
  q.k = k;

  auto unmet = [&](const Course& c, const LearnerHistory& h) {
    for (const std::string& p : c.prerequisites) {
      if (h.completed.contains(p)) continue;
      const Course* pc = catalog->Find(p);
      bool series_done = false;
      for (const std::string& done : h.completed) {
        const Course* dc = catalog->Find(done);
        if (pc != nullptr && dc != nullptr && dc->series == pc->series) series_done = true;
      }
      if (!series_done) return true;
    }
    return false;
  };
  Tally tally[2];
  const int sample = std::min<int>(absl::GetFlag(FLAGS_sample), cases.size());
  const absl::Time t1 = absl::Now();
  for (int s = 0; s < sample; ++s) {
    const Case& c = cases[static_cast<size_t>(s) * cases.size() / sample];
    const LearnerHistory h = BuildLearnerHistory(c.newest_first);
    const Course* held = catalog->Find(c.held_out);
    for (int mode = 0; mode < 2; ++mode) {
      absl::StatusOr<RecommendResult> r = (mode == 0 ? on : off).Recommend(*model, catalog, h, q, now);
      if (!r.ok()) {
        std::fprintf(stderr, "recommend: %s\n", r.status().ToString().c_str());
        return 1;
      }
      Tally& t = tally[mode];
      ++t.cases;
      bool hit = false;
      for (const ScoredCourse& item : r->items) {
        ++t.items;
        if (unmet(*item.course, h)) ++t.unmet;
        if (item.course->id == c.held_out || (held != nullptr && item.course->series == held->series)) hit = true;
      }
      t.hits += hit ? 1 : 0;
      if (!h.failed.empty()) {
        ++t.failed_cases;
        if (!r->items.empty()) {
          for (const std::string& f : h.failed) {
            const Course* fc = catalog->Find(f);
            if (fc != nullptr && r->items[0].course->series == fc->series) {
              ++t.failed_retry_first;
              break;
            }
          }
        }
      }
    }
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - t1);
  std::printf("evaluated %d learners, k=%d (%.1f s, %.2f ms per request)\n", sample, k, secs,
              secs * 1000 / (2.0 * sample));
  const char* names[2] = {"readiness on ", "readiness off"};
  for (int m = 0; m < 2; ++m) {
    const Tally& t = tally[m];
    std::printf(
        "%s  HR@%d %.4f  unmet-prerequisite share %.4f (%lld of %lld items)  after a failure, "
        "the failed course first: %lld of %lld\n",
        names[m], k, static_cast<double>(t.hits) / t.cases, static_cast<double>(t.unmet) / t.items,
        static_cast<long long>(t.unmet), static_cast<long long>(t.items), static_cast<long long>(t.failed_retry_first),
        static_cast<long long>(t.failed_cases));
  }
  for (int n = 0; n < 2; ++n) {
    if (full[n].empty()) continue;
    const LearnerHistory h = BuildLearnerHistory(full[n]);
    std::printf("\nu%06d: completed %zu, failed %zu, enrolled %zu\n", named[n], h.completed.size(), h.failed.size(),
                h.enrolled.size());
    for (int mode = 0; mode < 2; ++mode) {
      RecommendQuery q5;
      q5.k = 5;
      absl::StatusOr<RecommendResult> r = (mode == 0 ? on : off).Recommend(*model, catalog, h, q5, now);
      if (!r.ok()) continue;
      std::printf("  %s:\n", names[mode]);
      for (const ScoredCourse& item : r->items) {
        std::printf("    %s %s  [%s]%s\n", item.course->id.c_str(), item.course->title.c_str(), item.reason.c_str(),
                    unmet(*item.course, h) ? "  (prerequisite not done)" : "");
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace lifelong::recommend

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return lifelong::recommend::Run();
}
