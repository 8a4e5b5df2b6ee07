// Planning latency of PlanPath (path_planner.h) on the demo district (1,500
// courses) and on a 100,000-course district from the same generator, for
// learners of the district with their histories: every demo programme, a
// target course (an advanced course of a learner's interest) and a category
// goal. Prints figures (docs/recommend.md "Learning paths"); not a test.
//
//   bazel build -c opt //services/recommend:bench_path_planner
//   bazel-bin/services/recommend/bench_path_planner
//
// --worst_case: the costliest calls a learner (or someone holding a
// learner's token) can make, on the first of --sizes plus courses at the
// catalog's caps: a learner with 1,000 courses in progress (a history holds
// at most 1,000 statements) of 500 sessions each (catalog kMaxSessions) and
// 200-character titles, whose sessions either miss every other course or
// clash with every offline one; prerequisite chains as deep as the planner
// follows (a target and 16 prerequisites) with --chain_sections sections per
// level; the largest inline programme (every category at 1,000 credits, 64
// required courses, max_courses 100); and max_courses 1 on a target whose
// prerequisites have hundreds of sections. Prints ms per call (mean, p99)
// and the peak heap one call allocates beyond what it started with.
//
//   bazel-bin/services/recommend/bench_path_planner --worst_case --sizes=100000
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "services/demo/catalog_topics.h"
#include "services/demo/demo_district.h"
#include "services/demo/demo_programmes.h"
#include "services/recommend/catalog_cache.h"
#include "services/recommend/path_planner.h"

ABSL_FLAG(int, learners, 200, "learners planned for per catalog");
ABSL_FLAG(std::string, sizes, "1500,100000", "catalog sizes (courses), comma-separated");
ABSL_FLAG(bool, worst_case, false, "the worst-case calls (see the top of the file) on the first of --sizes");
ABSL_FLAG(int, worst_calls, 5, "--worst_case: calls per scenario");
ABSL_FLAG(int, chain_sections, 8, "--worst_case: sections per level of the deep prerequisite chain");
ABSL_FLAG(std::string, scenarios, "", "--worst_case: the scenarios to run (comma-separated names); empty: all");

// Heap accounting for --worst_case: every operator new and delete of the
// (single-threaded) process moves these counters.
namespace {
size_t g_heap_live = 0;
size_t g_heap_peak = 0;
void* Counted(void* p) {
  if (p != nullptr) {
    g_heap_live += malloc_usable_size(p);
    g_heap_peak = std::max(g_heap_peak, g_heap_live);
  }
  return p;
}
void Uncount(void* p) {
  if (p == nullptr) return;
  g_heap_live -= malloc_usable_size(p);
  std::free(p);
}
}  // namespace

void* operator new(size_t n) {
  void* p = Counted(std::malloc(n == 0 ? 1 : n));
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return Counted(std::malloc(n == 0 ? 1 : n)); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return Counted(std::malloc(n == 0 ? 1 : n)); }
void operator delete(void* p) noexcept { Uncount(p); }
void operator delete[](void* p) noexcept { Uncount(p); }
void operator delete(void* p, size_t) noexcept { Uncount(p); }
void operator delete[](void* p, size_t) noexcept { Uncount(p); }

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

// --worst_case.
constexpr int kInProgress = 1000;  // a history holds at most 1,000 statements
constexpr int kMaxSessions = 500;  // catalog course_validation.h
constexpr int kTitleChars = 200;   // catalog course_validation.h
constexpr int kChainLevels = 17;   // a target and the 16 prerequisites PlanPath follows
constexpr int kMaxProgrammeCourses = 64;
constexpr int kMaxPlanCourses = 100;  // request_validation.h (max_courses)

// A 200-character title, distinct per (prefix, n).
std::string LongTitle(const std::string& prefix, int n) {
  std::string t = absl::StrCat(prefix, n);
  int chars = 0;
  for (unsigned char ch : t) chars += (ch & 0xC0) != 0x80;
  for (; chars < kTitleChars; ++chars) t += "学";
  return t;
}

// `n` courses of 500 daily one-hour sessions from `day0`, course k at
// `first_hour` + k % `hours` (UTC).
void AddLongCourses(const std::string& prefix, int n, absl::Time day0, absl::Time now, int first_hour, int hours,
                    std::vector<Course>* out, std::vector<std::string>* ids) {
  for (int k = 0; k < n; ++k) {
    Course c;
    c.id = absl::StrCat(prefix, k);
    c.title = LongTitle("长期课程" + prefix, k);
    c.series = c.id;
    c.category = "长期课程";
    c.mode = "offline";
    c.xuequ = "和平里学区";
    c.enrol_from = now - absl::Hours(24 * 30);
    c.credits = 0;
    for (int j = 0; j < kMaxSessions; ++j) {
      const absl::Time start = day0 + absl::Hours(24 * j + first_hour + k % hours);
      c.sessions.push_back({start, start + absl::Hours(1)});
    }
    ids->push_back(c.id);
    out->push_back(std::move(c));
  }
}

// A prerequisite chain: level l (0 .. kChainLevels-1) is a series of
// `sections` courses, each needing level l-1's first section (any section of
// that series counts), four weekly sessions in weeks 5l .. 5l+3 at 20:00 UTC
// (level 0 at 10:00 UTC, when the "day" courses in progress meet).
void AddChain(int sections, absl::Time day0, absl::Time now, std::vector<Course>* out) {
  for (int l = 0; l < kChainLevels; ++l) {
    for (int i = 0; i < sections; ++i) {
      Course c;
      c.id = absl::StrCat("chain", l, "_", i);
      c.title = absl::StrCat("链式课程第", l, "级 第", i + 1, "期");
      c.series = absl::StrCat("chain", l);
      c.category = "链式课程";
      c.mode = "offline";
      c.xuequ = "和平里学区";
      c.credits = 1;
      c.enrol_from = now - absl::Hours(24 * 30);
      if (l > 0) c.prerequisites.push_back(absl::StrCat("chain", l - 1, "_0"));
      for (int w = 0; w < 4; ++w) {
        const absl::Time start = day0 + absl::Hours(24 * (7 * (5 * l + w) + i % 7) + (l == 0 ? 10 : 20));
        c.sessions.push_back({start, start + absl::Hours(1)});
      }
      out->push_back(std::move(c));
    }
  }
}

double CpuMs() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

void BenchWorst(int courses_n) {
  const int sections = absl::GetFlag(FLAGS_chain_sections);
  const int calls = absl::GetFlag(FLAGS_worst_calls);
  std::vector<std::string> only;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',', absl::SkipEmpty())) {
    only.emplace_back(s);
  }
  demo::DemoOptions o;
  o.courses = courses_n;
  o.learners = 1;
  const absl::Time t0 = absl::Now();
  demo::DemoDistrict d(o);
  const absl::Time now = absl::FromUnixMicros(demo::FirstSessionMicros(d)) - absl::Hours(24 * 7);
  const absl::Time day0 = absl::FromCivil(absl::ToCivilDay(now, absl::UTCTimeZone()) + 1, absl::UTCTimeZone());
  std::vector<Course> courses;
  for (const demo::DemoCourse& c : d.courses()) courses.push_back(CourseFromProto(c.course));
  // "night" courses meet at 15:00-19:00 UTC (no other course does); "day"
  // ones at 00:00-14:00 UTC, over every offline demo session (01:00, 06:00,
  // 11:00 UTC) and the chain's first level.
  std::vector<std::string> night, day;
  AddLongCourses("night", kInProgress, day0, now, 15, 4, &courses, &night);
  AddLongCourses("day", kInProgress, day0, now, 0, 14, &courses, &day);
  AddChain(sections, day0, now, &courses);
  std::vector<Programme> programmes;
  for (const v1::Programme& p : demo::DemoProgrammes(d)) programmes.push_back(ProgrammeFromProto(p));
  // The largest programme a caller may send inline: every demo category at
  // 1,000 credits, 1,000 in all, 64 required advanced courses.
  Programme largest;
  largest.name = "最大方案";
  largest.credits = 1000;
  for (const demo::Category& cat : demo::Categories()) largest.by_category.push_back({cat.name, 1000});
  std::string advanced;  // an OPEN advanced course whose prerequisites have many sections
  for (const demo::DemoCourse& c : d.courses()) {
    if (c.level != 2) continue;
    if (advanced.empty() && c.course.state() == v1::Course::OPEN) advanced = c.course.id();
    if (static_cast<int>(largest.required_courses.size()) < kMaxProgrammeCourses) {
      largest.required_courses.push_back(c.course.id());
    }
  }
  CatalogSnapshot catalog("worst", std::move(courses), programmes);
  std::printf(
      "worst case: %zu courses (%d demo, 2 x %d in-progress candidates of %d sessions, a %d-level chain of %d "
      "sections), built in %.1f s; %d calls per scenario\n",
      catalog.courses().size(), courses_n, kInProgress, kMaxSessions, kChainLevels, sections,
      absl::ToDoubleSeconds(absl::Now() - t0), calls);

  PlanLearner fresh;
  PlanLearner night_learner, day_learner;
  night_learner.enrolled.insert(night.begin(), night.end());
  day_learner.enrolled.insert(day.begin(), day.end());
  const std::string category = demo::Categories()[0].name;
  struct Case {
    std::string name;
    const PlanLearner* learner;
    std::vector<PlanGoal> goals;
    int max_courses = 30;
  };
  auto programme_goal = [](const Programme& p) {
    PlanGoal g;
    g.kind = PlanGoal::Kind::kProgramme;
    g.programme = p;
    return g;
  };
  auto course_goal = [](const std::string& id) {
    PlanGoal g;
    g.kind = PlanGoal::Kind::kCourse;
    g.course_id = id;
    return g;
  };
  PlanGoal category_goal;
  category_goal.kind = PlanGoal::Kind::kCategory;
  category_goal.category = category;
  std::vector<PlanGoal> demo_goals;
  for (const Programme& p : programmes) demo_goals.push_back(programme_goal(p));
  demo_goals.push_back(course_goal(advanced));
  demo_goals.push_back(category_goal);
  const std::string chain_top = absl::StrCat("chain", kChainLevels - 1, "_0");
  const std::vector<Case> cases = {
      {"fresh_demo_goals", &fresh, demo_goals},
      {"night1000_demo_goals", &night_learner, demo_goals},
      {"day1000_demo_goals", &day_learner, demo_goals},
      {"fresh_largest_programme", &fresh, {programme_goal(largest)}, kMaxPlanCourses},
      {"night1000_largest_programme", &night_learner, {programme_goal(largest)}, kMaxPlanCourses},
      {"day1000_largest_programme", &day_learner, {programme_goal(largest)}, kMaxPlanCourses},
      {"fresh_advanced_max1", &fresh, {course_goal(advanced)}, 1},
      {"fresh_chain", &fresh, {course_goal(chain_top)}, kMaxPlanCourses},
      {"fresh_chain_max5", &fresh, {course_goal(chain_top)}, 5},
      {"night1000_chain", &night_learner, {course_goal(chain_top)}, kMaxPlanCourses},
      {"day1000_chain", &day_learner, {course_goal(chain_top)}, kMaxPlanCourses},
  };
  for (const Case& c : cases) {
    if (!only.empty() && std::find(only.begin(), only.end(), c.name) == only.end()) continue;
    PlanOptions options;
    options.max_steps = c.max_courses;
    std::vector<double> ms;
    double cpu_ms = 0;
    size_t peak = 0;
    int feasible = 0, steps = 0;
    std::string reason;
    for (int i = 0; i < calls; ++i) {
      for (const PlanGoal& g : c.goals) {
        const size_t live = g_heap_live;
        g_heap_peak = live;
        const absl::Time a = absl::Now();
        const double cpu = CpuMs();
        absl::StatusOr<PathPlan> plan = PlanPath(catalog, g, *c.learner, {}, now, options);
        cpu_ms += CpuMs() - cpu;
        ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - a));
        peak = std::max(peak, g_heap_peak - live);
        if (!plan.ok()) {
          reason = std::string(plan.status().message());
          continue;
        }
        feasible += plan->feasible;
        steps = static_cast<int>(plan->steps.size());
        if (!plan->feasible) reason = plan->reason.substr(0, 100);
      }
    }
    std::sort(ms.begin(), ms.end());
    double sum = 0;
    for (double m : ms) sum += m;
    std::printf(
        "  %-28s n=%-3zu mean %9.2f ms  p99 %9.2f  max %9.2f  cpu mean %9.2f ms  peak heap %7.1f MiB  feasible %d/%zu  "
        "steps %d%s%s\n",
        c.name.c_str(), ms.size(), sum / ms.size(), ms[ms.size() * 99 / 100], ms.back(), cpu_ms / ms.size(),
        peak / 1048576.0, feasible, ms.size(), steps, reason.empty() ? "" : "  last reason: ", reason.c_str());
    std::fflush(stdout);
  }
}

}  // namespace
}  // namespace lifelong::recommend

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_worst_case)) {
    int n = 0;
    const std::vector<std::string> sizes = absl::StrSplit(absl::GetFlag(FLAGS_sizes), ',');
    if (!absl::SimpleAtoi(sizes[0], &n) || n <= 0) {
      std::fprintf(stderr, "--sizes: bad value\n");
      return 2;
    }
    lifelong::recommend::BenchWorst(n);
    return 0;
  }
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
