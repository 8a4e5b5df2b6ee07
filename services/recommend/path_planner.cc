#include "services/recommend/path_planner.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace lifelong::recommend {
namespace {

constexpr int kMaxDepth = 16;  // prerequisite chains (the catalog forbids cycles)

int LevelRank(const std::string& level) {
  if (level == "beginner") return 1;
  if (level == "intermediate") return 2;
  if (level == "advanced") return 3;
  return 0;
}

std::string Credits(double c) { return absl::StrFormat("%g", std::round(c * 100) / 100); }

struct Interval {
  absl::Time start;
  absl::Time end;
};

// What a plan holds so far; copied for each trial (small: the plan's own
// courses and sessions).
struct State {
  std::vector<Interval> busy;
  std::vector<std::pair<int, std::string>> busy_owner;  // parallel: course index, title
  std::vector<PlanStep> steps;
  absl::flat_hash_set<int> taken;  // catalog indices planned or in progress
  // Series key -> when its planned or in-progress section ends.
  absl::flat_hash_map<std::string, absl::Time> series_ready;
  int new_courses = 0;
};

class Planner {
 public:
  Planner(const CatalogSnapshot& catalog, const PlanLearner& learner, const CourseScores& scores, absl::Time now,
          absl::Time deadline, const PlanOptions& options)
      : catalog_(catalog),
        courses_(catalog.courses()),
        learner_(learner),
        scores_(scores),
        now_(now),
        deadline_(deadline),
        options_(options) {
    for (const std::string& id : learner_.completed) {
      if (const Course* c = catalog_.Find(id)) done_series_.insert(c->series);
    }
  }

  const Course& course(int ci) const { return courses_[ci]; }
  int Index(const Course* c) const { return static_cast<int>(c - courses_.data()); }
  double Score(int ci) const {
    auto it = scores_.find(courses_[ci].id);
    return it == scores_.end() ? 0.0 : it->second;
  }
  const std::vector<int>& Category(const std::string& category) const { return catalog_.CategoryCourses(category); }
  // The sections of course ci's series, best scored first.
  std::vector<int> Sections(int ci) const {
    std::vector<int> list = catalog_.SeriesCourses(courses_[ci].series);
    SortByPreference(&list);
    return list;
  }

  bool Done(const std::string& id) const {
    if (learner_.completed.contains(id)) return true;
    const Course* c = catalog_.Find(id);
    return c != nullptr && done_series_.contains(c->series);
  }
  bool DoneIndex(int ci) const { return Done(courses_[ci].id); }

  // The state with the learner's in-progress courses in it.
  State Initial() const {
    State s;
    std::vector<std::string> ids(learner_.enrolled.begin(), learner_.enrolled.end());
    std::sort(ids.begin(), ids.end());
    for (const std::string& id : ids) {
      const Course* c = catalog_.Find(id);
      // An archived course is over (its registration never ended in the
      // records): nothing of it is left to attend or wait for.
      if (c == nullptr || c->state == CourseState::kArchived || Done(id)) continue;
      PlanStep step;
      step.course = c;
      step.enrolled = true;
      step.why = "in progress";
      step.score = Score(Index(c));
      absl::Time start = absl::InfiniteFuture(), end = now_;
      for (const CourseSession& ses : c->sessions) {
        if (ses.end < now_) continue;
        step.sessions.push_back(ses);
        start = std::min(start, ses.start);
        end = std::max(end, ses.end);
        s.busy.push_back({ses.start, ses.end});
        s.busy_owner.push_back({Index(c), c->title});
      }
      step.start = start == absl::InfiniteFuture() ? now_ : start;
      step.end = end;
      if (c->sessions.empty()) {  // self-paced: as long as a new start would take
        step.end = now_ + options_.self_paced_per_credit * std::max(1.0, std::ceil(c->credits));
      }
      SortSessions(&step.sessions);
      s.series_ready[c->series] = step.end;
      s.taken.insert(Index(c));
      s.steps.push_back(std::move(step));
    }
    return s;
  }

  // When `id` is (or will be) done in `s`: nullopt when it is neither done,
  // in progress nor planned.
  std::optional<absl::Time> ReadyAt(const std::string& id, const State& s) const {
    if (Done(id)) return absl::InfinitePast();
    const Course* c = catalog_.Find(id);
    if (c == nullptr) return std::nullopt;
    auto it = s.series_ready.find(c->series);
    if (it == s.series_ready.end()) return std::nullopt;
    return it->second;
  }

  // Cheap checks that do not depend on the plan; "" when they pass.
  std::string StaticCheck(int ci) const {
    const Course& c = courses_[ci];
    if (c.state == CourseState::kArchived) return "is archived";
    if (c.state != CourseState::kOpen) return "is not open";
    if (c.SeatsLeft() == 0) return "is full";
    if (c.enrol_to <= now_) return "has closed enrolment";
    if (c.mode != "online" && !learner_.any_xuequ && !learner_.home_xuequ.empty() && c.xuequ != learner_.home_xuequ) {
      return absl::StrCat("is not in ", learner_.home_xuequ);
    }
    bool any_left = c.sessions.empty();
    absl::Time last = absl::InfinitePast();
    for (const CourseSession& ses : c.sessions) {
      if (ses.start >= now_) any_left = true;
      last = std::max(last, ses.end);
    }
    if (!any_left) return "has already started";
    if (!c.sessions.empty() && last > deadline_) return "ends after the deadline";
    return "";
  }

  // Adds course `ci` (after its prerequisites, planned as needed) to `s`.
  // On failure `s` may be half-changed (callers work on copies) and `why_not`
  // says why.
  bool Add(int ci, const std::string& why, State* s, std::string* why_not, int depth = 0) const {
    if (s->taken.contains(ci) || DoneIndex(ci)) return true;
    const Course& c = courses_[ci];
    if (depth > kMaxDepth) {
      *why_not = "prerequisite chain too long";
      return false;
    }
    if (std::string bad = StaticCheck(ci); !bad.empty()) {
      *why_not = absl::StrCat(c.title, " ", bad);
      return false;
    }
    absl::Time earliest = now_;
    for (const std::string& p : c.prerequisites) {
      std::optional<absl::Time> ready = ReadyAt(p, *s);
      if (!ready) {
        const Course* pc = catalog_.Find(p);
        if (pc == nullptr) {
          *why_not = absl::StrCat(c.title, " needs ", p, ", which the catalog no longer offers");
          return false;
        }
        std::string first_why;
        bool planned = false;
        for (int section : Sections(Index(pc))) {
          std::string w;
          if (!s->taken.contains(section) && !DoneIndex(section)) {
            if (std::string bad = StaticCheck(section); !bad.empty()) {
              if (first_why.empty()) first_why = absl::StrCat(courses_[section].title, " ", bad);
              continue;
            }
          }
          State trial = *s;
          if (Add(section, absl::StrCat("prerequisite of ", c.title), &trial, &w, depth + 1)) {
            *s = std::move(trial);
            planned = true;
            break;
          }
          if (first_why.empty()) first_why = w;
        }
        if (!planned) {
          *why_not = absl::StrCat(c.title, " needs ", pc->title, " first; ", first_why);
          return false;
        }
        ready = ReadyAt(p, *s);
      }
      earliest = std::max(earliest, *ready);
    }
    PlanStep step;
    step.course = &c;
    step.why = why;
    step.score = Score(ci);
    if (c.sessions.empty()) {
      // Self-paced (online): starts when the prerequisites are done and the
      // enrolment is open.
      step.start = std::max(earliest, c.enrol_from);
      step.end = step.start + options_.self_paced_per_credit * std::max(1.0, std::ceil(c.credits));
      if (step.end > deadline_) {
        *why_not = absl::StrCat(c.title, " cannot be finished before the deadline");
        return false;
      }
    } else {
      step.start = absl::InfiniteFuture();
      step.end = absl::InfinitePast();
      for (const CourseSession& ses : c.sessions) {
        if (ses.start < now_) continue;
        step.sessions.push_back(ses);
        step.start = std::min(step.start, ses.start);
        step.end = std::max(step.end, ses.end);
      }
      SortSessions(&step.sessions);
      if (step.start < earliest) {
        *why_not = absl::StrCat(c.title, " starts before its prerequisites end");
        return false;
      }
      if (c.enrol_from > step.start) {
        *why_not = absl::StrCat(c.title, " opens enrolment only after it starts");
        return false;
      }
      for (const CourseSession& ses : step.sessions) {
        for (size_t b = 0; b < s->busy.size(); ++b) {
          if (ses.start < s->busy[b].end && s->busy[b].start < ses.end) {
            *why_not = absl::StrCat(c.title, " clashes with ", s->busy_owner[b].second);
            return false;
          }
        }
      }
      for (const CourseSession& ses : step.sessions) {
        s->busy.push_back({ses.start, ses.end});
        s->busy_owner.push_back({ci, c.title});
      }
    }
    if (s->new_courses >= options_.max_steps) {
      *why_not = absl::StrCat("more than ", options_.max_steps, " courses");
      return false;
    }
    ++s->new_courses;
    s->series_ready[c.series] = step.end;
    s->taken.insert(ci);
    s->steps.push_back(std::move(step));
    return true;
  }

  // The best way to add one of `options` (each with its prerequisites) to
  // `s`: the most `gain` per new course (fewest new courses when there is
  // no gain to measure), then the most gain, the recommender's score,
  // online when preferred, the earlier end, the id.
  // `gain(trial_before, trial_after)` measures what the option brings.
  template <typename Gain>
  std::optional<State> Best(const std::vector<int>& options, const State& s, const std::string& why, const Gain& gain,
                            std::string* why_not) const {
    std::optional<State> best;
    double best_key[5] = {0, 0, 0, 0, 0};
    int best_ci = -1;
    for (int ci : options) {
      std::string w;
      if (!s.taken.contains(ci) && !DoneIndex(ci)) {
        if (std::string bad = StaticCheck(ci); !bad.empty()) {
          if (why_not->empty()) *why_not = absl::StrCat(courses_[ci].title, " ", bad);
          continue;
        }
      }
      State trial = s;
      if (!Add(ci, why, &trial, &w)) {
        if (why_not->empty()) *why_not = w;
        continue;
      }
      const Course& c = courses_[ci];
      const int cost = trial.new_courses - s.new_courses;
      const double g = gain(s, trial);
      const double key[5] = {
          // What each new course brings toward the deficit; without a
          // deficit (target goals), fewer new courses.
          g > 0 ? g / std::max(1, cost) : -static_cast<double>(cost),
          g,
          Score(ci),
          learner_.prefer_online && c.mode == "online" ? 1.0 : 0.0,
          trial.steps.empty() ? 0.0 : -absl::ToDoubleSeconds(trial.steps.back().end - now_),
      };
      bool better = !best.has_value();
      if (!better) {
        for (int k = 0; k < 5; ++k) {
          if (key[k] != best_key[k]) {
            better = key[k] > best_key[k];
            break;
          }
          if (k == 4) better = c.id < courses_[best_ci].id;
        }
      }
      if (better) {
        best = std::move(trial);
        std::copy(key, key + 5, best_key);
        best_ci = ci;
      }
    }
    return best;
  }

  // Up to max_candidates of `list` that pass StaticCheck and are not done or
  // taken, best first by a cheap key: no missing prerequisite, score,
  // credits, id.
  std::vector<int> Candidates(const std::vector<int>& list, const State& s) const {
    std::vector<int> out;
    for (int ci : list) {
      if (s.taken.contains(ci) || DoneIndex(ci) || !StaticCheck(ci).empty()) continue;
      out.push_back(ci);
    }
    auto missing = [&](int ci) {
      int n = 0;
      for (const std::string& p : courses_[ci].prerequisites) n += ReadyAt(p, s) ? 0 : 1;
      return n;
    };
    std::vector<std::pair<int, int>> keyed;
    keyed.reserve(out.size());
    for (int ci : out) keyed.push_back({missing(ci), ci});
    auto less = [&](const std::pair<int, int>& a, const std::pair<int, int>& b) {
      if (a.first != b.first) return a.first < b.first;
      const double sa = Score(a.second), sb = Score(b.second);
      if (sa != sb) return sa > sb;
      const double ca = courses_[a.second].credits, cb = courses_[b.second].credits;
      if (ca != cb) return ca > cb;
      return courses_[a.second].id < courses_[b.second].id;
    };
    const size_t n = std::min<size_t>(keyed.size(), options_.max_candidates);
    std::partial_sort(keyed.begin(), keyed.begin() + n, keyed.end(), less);
    out.clear();
    for (size_t i = 0; i < n; ++i) out.push_back(keyed[i].second);
    return out;
  }

  void SortByPreference(std::vector<int>* list) const {
    std::stable_sort(list->begin(), list->end(), [&](int a, int b) {
      const double sa = Score(a), sb = Score(b);
      if (sa != sb) return sa > sb;
      return courses_[a].id < courses_[b].id;
    });
  }

  static void SortSessions(std::vector<CourseSession>* sessions) {
    std::sort(sessions->begin(), sessions->end(),
              [](const CourseSession& a, const CourseSession& b) { return a.start < b.start; });
  }

  const CatalogSnapshot& catalog_;
  const std::vector<Course>& courses_;
  const PlanLearner& learner_;
  const CourseScores& scores_;
  const absl::Time now_;
  const absl::Time deadline_;
  const PlanOptions& options_;
  absl::flat_hash_set<std::string> done_series_;
};

// Credits of the steps in `s` (new and in progress) in `category` ("" all).
double PlannedCredits(const State& s, const std::string& category) {
  double sum = 0;
  for (const PlanStep& step : s.steps) {
    if (category.empty() || step.course->category == category) sum += step.course->credits;
  }
  return sum;
}

void Finish(State s, PathPlan* plan) {
  std::stable_sort(s.steps.begin(), s.steps.end(), [](const PlanStep& a, const PlanStep& b) {
    if (a.enrolled != b.enrolled) return a.enrolled;
    return a.start < b.start;
  });
  plan->steps = std::move(s.steps);
}

}  // namespace

absl::Status ValidateProgramme(const Programme& p, absl::string_view field) {
  if (p.name.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ".name: must not be empty"));
  if (!(p.credits >= 0 && p.credits <= 1000)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".credits: must be in [0, 1000]"));
  }
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < p.by_category.size(); ++i) {
    const CreditRequirement& r = p.by_category[i];
    const std::string f = absl::StrCat(field, ".by_category[", i, "]");
    if (r.category.empty()) return absl::InvalidArgumentError(absl::StrCat(f, ".category: must not be empty"));
    if (!seen.insert(r.category).second) {
      return absl::InvalidArgumentError(absl::StrCat(f, ".category: \"", r.category, "\" repeats"));
    }
    if (!(r.credits > 0 && r.credits <= 1000)) {
      return absl::InvalidArgumentError(absl::StrCat(f, ".credits: must be in (0, 1000]"));
    }
  }
  absl::flat_hash_set<std::string> ids;
  // Field names are lifelong.v1.Programme's (required_course_ids).
  for (size_t i = 0; i < p.required_courses.size(); ++i) {
    if (p.required_courses[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".required_course_ids[", i, "]: must not be empty"));
    }
    if (!ids.insert(p.required_courses[i]).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".required_course_ids[", i, "]: \"", p.required_courses[i], "\" repeats"));
    }
  }
  if (p.credits == 0 && p.by_category.empty() && p.required_courses.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": needs credits, by_category or required_course_ids"));
  }
  return absl::OkStatus();
}

absl::StatusOr<PathPlan> PlanPath(const CatalogSnapshot& catalog, const PlanGoal& goal, const PlanLearner& learner,
                                  const CourseScores& scores, absl::Time now, const PlanOptions& options) {
  if (goal.kind == PlanGoal::Kind::kProgramme) {
    if (absl::Status s = ValidateProgramme(goal.programme); !s.ok()) return s;
  }
  // A past deadline the caller sent is the caller's error; a catalog
  // programme's deadline that has passed is an answer (below).
  if (goal.deadline <= now) {
    return absl::InvalidArgumentError("deadline: must be in the future");
  }
  absl::Time deadline = goal.deadline;
  if (goal.kind == PlanGoal::Kind::kProgramme) {
    if (!goal.catalog_programme && goal.programme.deadline <= now) {
      return absl::InvalidArgumentError("programme.deadline: must be in the future");
    }
    deadline = std::min(deadline, goal.programme.deadline);
  }
  Planner planner(catalog, learner, scores, now, deadline, options);
  PathPlan plan;
  State state = planner.Initial();
  const std::string by_deadline =
      deadline == absl::InfiniteFuture() ? "no open course fits" : "no open course before the deadline";

  switch (goal.kind) {
    case PlanGoal::Kind::kCourse: {
      const Course* target = catalog.Find(goal.course_id);
      if (target == nullptr) {
        return absl::NotFoundError(absl::StrCat("course_id: no course \"", goal.course_id, "\""));
      }
      const int ti = planner.Index(target);
      if (planner.DoneIndex(ti)) {
        plan.feasible = true;
        plan.already_achieved = true;
        break;
      }
      if (state.series_ready.contains(target->series)) {  // in progress
        plan.feasible = true;
        break;
      }
      std::string why_not;
      std::optional<State> best = planner.Best(
          planner.Sections(ti), state, "target", [](const State&, const State&) { return 0.0; }, &why_not);
      if (best) {
        state = *std::move(best);
        plan.feasible = true;
      } else {
        plan.reason = why_not;
      }
      break;
    }
    case PlanGoal::Kind::kCategory: {
      if (goal.category.empty()) return absl::InvalidArgumentError("category: must not be empty");
      const std::vector<int>& all = planner.Category(goal.category);
      // The levels offered are those of the courses that are not archived;
      // an archived course the learner completed still counts as reached.
      std::vector<int> offered;
      for (int ci : all) {
        if (planner.course(ci).state != CourseState::kArchived) offered.push_back(ci);
      }
      if (offered.empty()) {
        plan.reason = absl::StrCat("the catalog has no course in ", goal.category);
        break;
      }
      int top = 0;
      for (int ci : offered) top = std::max(top, LevelRank(planner.course(ci).level));
      bool achieved = false;
      for (int ci : all) {
        if (LevelRank(planner.course(ci).level) >= top && planner.DoneIndex(ci)) achieved = true;
      }
      if (achieved) {
        plan.feasible = true;
        plan.already_achieved = true;
        break;
      }
      std::string why_not;
      std::optional<State> best;
      for (int rank = top; rank >= 0 && !best; --rank) {
        std::vector<int> level;
        for (int ci : offered) {
          if (LevelRank(planner.course(ci).level) == rank) level.push_back(ci);
        }
        bool in_progress = false;
        for (int ci : level) in_progress |= state.taken.contains(ci);
        if (in_progress) {
          best = state;
          break;
        }
        best = planner.Best(
            planner.Candidates(level, state), state, "target", [](const State&, const State&) { return 0.0; },
            &why_not);
        if (best) break;
      }
      if (best) {
        state = *std::move(best);
        plan.feasible = true;
      } else {
        plan.reason = absl::StrCat("no course in ", goal.category, " can be planned (", by_deadline,
                                   why_not.empty() ? "" : absl::StrCat("; ", why_not), ")");
      }
      break;
    }
    case PlanGoal::Kind::kProgramme: {
      const Programme& p = goal.programme;
      std::vector<std::string> reasons;
      // Required courses: held by the catalog (archived ones too), or
      // completed. The catalog checks a stored programme's courses, so one
      // it lacks is the caller's mistake in an inline programme; for a
      // catalog programme (a snapshot read while a course was being added,
      // or a draft, which a snapshot leaves out) it is an unmet rule,
      // named by id only.
      for (size_t i = 0; i < p.required_courses.size(); ++i) {
        const std::string& id = p.required_courses[i];
        if (catalog.Find(id) != nullptr || learner.completed.contains(id)) continue;
        if (!goal.catalog_programme) {
          return absl::InvalidArgumentError(
              absl::StrCat("programme.required_course_ids[", i, "]: no course \"", id, "\""));
        }
        reasons.push_back(absl::StrCat(p.name, " requires ", id, ", which the catalog does not list"));
      }
      // Credits of the learner's credited completions (archived courses
      // included: a course is archived after its term).
      auto earned = [&](const std::string& category) {
        double sum = 0;
        for (const std::string& id : learner.credited ? *learner.credited : learner.completed) {
          const Course* c = catalog.Find(id);
          if (c != nullptr && (category.empty() || c->category == category)) sum += c->credits;
        }
        return sum;
      };
      if (p.deadline <= now) {
        // A catalog programme whose deadline has passed: nothing can be
        // planned toward it any more; the answer says whether the learner
        // achieved it.
        state = State();
        bool achieved = reasons.empty();
        for (const std::string& id : p.required_courses) achieved &= planner.Done(id);
        for (const CreditRequirement& r : p.by_category) achieved &= earned(r.category) >= r.credits - 1e-9;
        if (p.credits > 0) achieved &= earned("") >= p.credits - 1e-9;
        plan.feasible = achieved;
        plan.already_achieved = achieved;
        if (!achieved) {
          plan.reason =
              absl::StrCat(p.name, ": the programme's deadline ",
                           absl::FormatTime("%Y-%m-%d %H:%M UTC", p.deadline, absl::UTCTimeZone()), " has passed");
        }
      } else {
        // 1. Required courses (another section of the series counts; an
        // archived one is never planned).
        for (const std::string& id : p.required_courses) {
          if (planner.Done(id)) continue;
          const Course* c = catalog.Find(id);
          if (c == nullptr || state.series_ready.contains(c->series)) continue;
          std::string why_not;
          std::optional<State> best = planner.Best(
              planner.Sections(planner.Index(c)), state, "required", [](const State&, const State&) { return 0.0; },
              &why_not);
          if (best) {
            state = *std::move(best);
          } else {
            reasons.push_back(absl::StrCat(p.name, " requires ", c->title, "; ", why_not));
          }
        }
        // 2. Minimums per category, then 3. the total.
        auto fill = [&](const std::string& category, double required) {
          const double have = earned(category);
          while (have + PlannedCredits(state, category) < required - 1e-9) {
            const double gap = required - have - PlannedCredits(state, category);
            std::vector<int> candidates;
            if (category.empty()) {
              std::vector<int> every(catalog.courses().size());
              for (size_t i = 0; i < every.size(); ++i) every[i] = static_cast<int>(i);
              candidates = planner.Candidates(every, state);
            } else {
              candidates = planner.Candidates(planner.Category(category), state);
            }
            std::string why_not;
            const std::string why = category.empty() ? "credits" : absl::StrCat("credits: ", category);
            std::optional<State> best = planner.Best(
                candidates, state, why,
                [&](const State& before, const State& after) {
                  return std::min(gap, PlannedCredits(after, category) - PlannedCredits(before, category));
                },
                &why_not);
            if (!best || PlannedCredits(*best, category) <= PlannedCredits(state, category)) {
              reasons.push_back(absl::StrCat(p.name, " needs ", Credits(gap), " more credits",
                                             category.empty() ? "" : absl::StrCat(" in ", category), "; ",
                                             by_deadline));
              return;
            }
            state = *std::move(best);
          }
        };
        for (const CreditRequirement& r : p.by_category) fill(r.category, r.credits);
        if (p.credits > 0) fill("", p.credits);
        plan.feasible = reasons.empty();
        plan.reason = absl::StrJoin(reasons, "\n");
        plan.already_achieved = plan.feasible && state.new_courses == 0 && state.steps.empty();
      }

      PlanProgress& progress = plan.progress;
      progress.credits_required = p.credits;
      progress.credits_earned = earned("");
      progress.credits_planned = PlannedCredits(state, "");
      for (const CreditRequirement& r : p.by_category) {
        progress.by_category.push_back({r.category, r.credits, earned(r.category), PlannedCredits(state, r.category)});
      }
      for (const std::string& id : p.required_courses) {
        const Course* c = catalog.Find(id);
        if (planner.Done(id)) {
          progress.required_done.push_back(id);
        } else if (c != nullptr && state.series_ready.contains(c->series)) {
          progress.required_planned.push_back(id);
        } else {
          progress.required_missing.push_back(id);
        }
      }
      break;
    }
  }
  Finish(std::move(state), &plan);
  return plan;
}

}  // namespace lifelong::recommend
