// Planning latency of PlanPath (path_planner.h) on the demo district (1,500
// courses) and on a 100,000-course district from the same generator, for
// learners of the district with their histories: every demo programme, a
// target course (an advanced course of a learner's interest) and a category
// goal. Prints figures (docs/recommend.md "Learning paths"); not a test.
//
//   bazel build -c opt //services/recommend:bench_path_planner
//   bazel-bin/services/recommend/bench_path_planner
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "services/demo/catalog_topics.h"
#include "services/demo/demo_district.h"
#include "services/demo/demo_programmes.h"
#include "services/recommend/catalog_cache.h"
#include "services/recommend/path_planner.h"

ABSL_FLAG(int, learners, 200, "learners planned for per catalog");
ABSL_FLAG(std::string, sizes, "1500,100000", "catalog sizes (courses), comma-separated");

namespace lifelong::recommend {
namespace {

struct Stats {
  std::vector<double> ms;
  int feasible = 0;
  void Print(const char* what) {
    if (ms.empty()) return;
    std::sort(ms.begin(), ms.end());
    double sum = 0;
    for (double m : ms) sum += m;
    std::printf("  %-22s n=%-5zu mean %8.3f ms  p50 %8.3f  p99 %8.3f  max %8.3f  feasible %d\n", what, ms.size(),
                sum / ms.size(), ms[ms.size() / 2], ms[ms.size() * 99 / 100], ms.back(), feasible);
  }
};

void Bench(int courses_n, int learners_n) {
  demo::DemoOptions o;
  o.courses = courses_n;
  o.learners = learners_n;
  const absl::Time t0 = absl::Now();
  demo::DemoDistrict d(o);
  std::vector<Course> courses;
  for (const demo::DemoCourse& c : d.courses()) courses.push_back(CourseFromProto(c.course));
  std::vector<Programme> programmes;
  for (const v1::Programme& p : demo::DemoProgrammes(d)) programmes.push_back(ProgrammeFromProto(p));
  CatalogSnapshot catalog("bench", std::move(courses), programmes);
  std::printf("catalog of %zu courses, %zu programmes (built in %.1f s)\n", catalog.courses().size(), programmes.size(),
              absl::ToDoubleSeconds(absl::Now() - t0));
  const absl::Time now = absl::FromUnixMicros(demo::FirstSessionMicros(d)) - absl::Hours(24 * 7);
  Stats programme, course, category;
  for (int i = 1; i <= learners_n; ++i) {
    const demo::Learner l = d.MakeLearner(i);
    PlanLearner learner;
    for (const demo::Event& e : d.Events(l)) {
      const std::string& id = d.courses()[e.course].course.id();
      if (e.verb == "completed" || e.verb == "passed") {
        learner.completed.insert(id);
        learner.enrolled.erase(id);
      } else if (e.verb == "registered" && !learner.completed.contains(id)) {
        learner.enrolled.insert(id);
      } else if (e.verb == "failed") {
        learner.enrolled.erase(id);
      }
    }
    auto run = [&](const PlanGoal& g, Stats* s) {
      const absl::Time a = absl::Now();
      absl::StatusOr<PathPlan> plan = PlanPath(catalog, g, learner, {}, now);
      s->ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - a));
      if (plan.ok() && plan->feasible) ++s->feasible;
    };
    for (const Programme& p : programmes) {
      PlanGoal g;
      g.kind = PlanGoal::Kind::kProgramme;
      g.programme = p;
      run(g, &programme);
    }
    const std::string& interest = demo::Categories()[l.interests[0]].name;
    PlanGoal cat;
    cat.kind = PlanGoal::Kind::kCategory;
    cat.category = interest;
    run(cat, &category);
    for (const demo::DemoCourse& c : d.courses()) {
      if (c.level == 2 && c.course.category() == interest) {
        PlanGoal g;
        g.kind = PlanGoal::Kind::kCourse;
        g.course_id = c.course.id();
        run(g, &course);
        break;
      }
    }
  }
  programme.Print("programme goals");
  course.Print("target-course goals");
  category.Print("category goals");
}

}  // namespace
}  // namespace lifelong::recommend

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_sizes), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(s, &n) || n <= 0) {
      std::fprintf(stderr, "--sizes: bad value\n");
      return 2;
    }
    lifelong::recommend::Bench(n, absl::GetFlag(FLAGS_learners));
  }
  return 0;
}
