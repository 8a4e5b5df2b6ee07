// PathPlanner: an ordered plan of courses (with the sessions to attend) that
// takes a learner to a goal — a programme of the catalog (credits by
// category, required courses, a deadline), a target course, or a category to
// get good at. No gRPC here; RecommendService.PlanPath is a thin handler over
// PlanPath (docs/recommend.md "Learning paths").
//
// A plan honours, for every course it adds (never an archived one):
//   * prerequisites first: each prerequisite is done (completed or passed,
//     or another section of its series), in progress (registered), or
//     planned earlier, and ends before the course's first session starts;
//   * the course is OPEN, has seats left, and its enrolment window has not
//     closed (it may open later, before the course starts);
//   * no session overlaps a session of another planned or in-progress course;
//   * the last session ends by the deadline;
//   * offline and blended courses meet in the learner's home 学区 (unless
//     any_xuequ, or the home 学区 is unknown); online courses always qualify.
// Among courses that qualify it prefers, in order: the most credits toward
// the deficit per new course (or fewer new courses for a target), what the
// recommender scores highly (`scores`), online when the learner prefers it,
// the earlier end, the smaller id (deterministic).
//
// Progress counts, at the catalog's credits, the completed courses in
// PlanLearner::credited (the credit bank's verified completions; every
// completed course when unset); see docs/recommend.md.
//
// Planning is greedy over the goal's deficits (required courses first, then
// category minimums, then the total), each step choosing the cheapest chain
// that fits; it is exact for chains and for goals whose deficits each one
// course (with its prerequisites) can fill, and may use more courses than
// the minimum in rare credit-packing cases. Pure; thread-safe.
//
// Cost. Every course in progress is kept, however many (all its sessions
// to come are in the plan, and nothing planned meets with them); they are
// indexed once per call, and trying a course costs what it adds, not a
// copy of the plan. What a try gives is remembered for the plan it was
// made on, so a prerequisite chain is worked out once per plan, not once
// for every section of every level above it. PlanOptions::max_tries bounds
// the rest. bench_path_planner --worst_case (100,000 courses) measures a
// learner with 1,000 courses of 500 sessions in progress and the largest
// inline programme; docs/benchmarks.md has the figures.
#ifndef LIFELONG_SERVICES_RECOMMEND_PATH_PLANNER_H_
#define LIFELONG_SERVICES_RECOMMEND_PATH_PLANNER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/recommend/course.h"

namespace lifelong::recommend {

struct PlanGoal {
  enum class Kind { kProgramme, kCourse, kCategory };
  Kind kind = Kind::kCourse;
  Programme programme;    // kProgramme
  std::string course_id;  // kCourse: this course (or another section of it)
  // kCategory: the highest level offered in the category, with what leads
  // to it.
  std::string category;
  // kProgramme: the catalog's programme (PlanPathRequest.programme_id), not
  // one the caller gave inline. A catalog programme whose deadline has
  // passed, or that names a course the snapshot lacks, is an answer
  // (feasible = false); in an inline programme both are INVALID_ARGUMENT.
  bool catalog_programme = false;
  // The caller's deadline, for every kind (a programme's own deadline
  // applies too; the earlier wins). InfiniteFuture: the caller set none.
  absl::Time deadline = absl::InfiniteFuture();
};

struct PlanLearner {
  absl::flat_hash_set<std::string> completed;  // completed or passed
  // Completed courses whose credits count toward the goal (the credit bank's
  // verified ones); unset: every completed course counts.
  std::optional<absl::flat_hash_set<std::string>> credited;
  absl::flat_hash_set<std::string> enrolled;  // registered, in progress
  std::string home_xuequ;                     // "" unknown: every 学区
  bool any_xuequ = false;                     // offline courses anywhere
  bool prefer_online = false;
};

struct PlanStep {
  const Course* course = nullptr;  // points into the catalog snapshot
  // Registered already (in progress): part of the plan as it stands.
  bool enrolled = false;
  absl::Time start = absl::InfinitePast();  // first session (or self-paced start)
  absl::Time end = absl::InfinitePast();    // last session end (or estimate)
  std::vector<CourseSession> sessions;      // to attend, in time order
  std::string why;                          // "target", "required", "prerequisite of <title>", "credits: <category>"
  double score = 0;                         // the recommender's score, 0 when it had none
};

struct CategoryProgress {
  std::string category;
  double required = 0;
  double earned = 0;   // completed courses
  double planned = 0;  // in-progress and planned courses
};

struct PlanProgress {
  double credits_required = 0;
  double credits_earned = 0;
  double credits_planned = 0;
  std::vector<CategoryProgress> by_category;  // the programme's order
  std::vector<std::string> required_done;     // course ids
  std::vector<std::string> required_planned;
  std::vector<std::string> required_missing;
};

struct PathPlan {
  bool feasible = false;
  // Why not, when !feasible, e.g. "数字素养证书 needs 6 more credits in
  // 智能手机与数字素养; no open course before the deadline". Steps still hold
  // what could be planned.
  std::string reason;
  bool already_achieved = false;  // nothing left to do
  std::vector<PlanStep> steps;    // in order: enrol in each after the ones before
  PlanProgress progress;
};

struct PlanOptions {
  int max_steps = 30;  // a plan never holds more new courses than this
  // Courses examined per deficit (best first by a cheap key); bounds the
  // work on very large catalogs.
  int max_candidates = 300;
  // Courses tried (each with the prerequisites it needs) in one call, all
  // deficits together; a try whose answer is already known (the same
  // course on the same plan) is not counted. Bounds the work on catalogs
  // whose prerequisite chains have many sections that fail late. A call
  // that runs out answers feasible = false with a reason that starts
  // "planning stopped after <max_tries> tries"; steps hold what was planned.
  // 100,000: the demo district's learners need at most ~1,300 tries (100,000
  // courses, bench_path_planner), programmes of 6 required courses and 15
  // category rules ~11,400, and the largest inline programme (64 required
  // courses of ~330 sections each, --worst_case) 38,000-55,000.
  int max_tries = 100000;
  // Self-paced online courses (no sessions) take this long per credit
  // (at least one credit's worth).
  absl::Duration self_paced_per_credit = absl::Hours(24 * 7);
};

// Course id -> recommender score (higher is better); missing ids score 0.
using CourseScores = absl::flat_hash_map<std::string, double>;

// Plans `goal` for `learner` at `now`. Outcomes: OK with a feasible plan, or
// with feasible = false and a reason (an infeasible goal is an answer, not
// an error: a catalog programme whose deadline has passed is answered with
// already_achieved when the learner's completions meet it, else feasible =
// false and a reason naming the deadline); NOT_FOUND "course_id: ..." when
// a kCourse goal names a course the catalog does not hold; INVALID_ARGUMENT
// naming the field (lifelong.v1's names) for a goal that makes no sense
// (negative credits, empty category, a programme without a name, a past
// `deadline`; in an inline programme also a required course unknown to the
// catalog, "programme.required_course_ids[0]", or a past
// "programme.deadline").
//
// Archived courses (CourseState::kArchived) are never planned; a completed
// one is done (its series too), satisfies prerequisites, earns its credits
// and counts as a required course done. A kCourse goal on an archived
// course plans another section of its series.
//
// Draft courses are not in a snapshot (CatalogSnapshot): a draft is planned
// as a missing id (NOT_FOUND as a goal, never in progress, a programme's
// required draft and a prerequisite that is one named by id only).
absl::StatusOr<PathPlan> PlanPath(const CatalogSnapshot& catalog, const PlanGoal& goal, const PlanLearner& learner,
                                  const CourseScores& scores, absl::Time now,
                                  const PlanOptions& options = PlanOptions());

// Checks a programme's rules (the catalog's validation of programmes uses
// the same checks): INVALID_ARGUMENT naming the field ("programme.name: must
// not be empty", "programme.by_category[1].credits: must be in (0, 1000]").
absl::Status ValidateProgramme(const Programme& programme, absl::string_view field = "programme");

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_PATH_PLANNER_H_
