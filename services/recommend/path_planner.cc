#include "services/recommend/path_planner.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"

namespace lifelong::recommend {
namespace {

constexpr int kMaxDepth = 16;  // prerequisite chains (the catalog forbids cycles)
// Bounds the text of the reasons that one call remembers for failed tries
// (Planner::Remember; a reason nests those of the prerequisites below it,
// up to 16 levels of 200-character titles). Past it a failure is
// remembered without its reason, which is worked out again when asked for.
constexpr size_t kMaxRememberedBytes = 8 << 20;

int LevelRank(const std::string& level) {
  if (level == "beginner") return 1;
  if (level == "intermediate") return 2;
  if (level == "advanced") return 3;
  return 0;
}

std::string Credits(double c) { return absl::StrFormat("%g", std::round(c * 100) / 100); }

void SortSessions(std::vector<CourseSession>* sessions) {
  std::sort(sessions->begin(), sessions->end(),
            [](const CourseSession& a, const CourseSession& b) { return a.start < b.start; });
}

// Intervals sorted by start, answering whether any of them overlaps
// [start, end) with one binary search: only the intervals that end later
// than every one before them matter (the latest end among those that start
// before `end` decides). Sessions of a timetable usually end in start
// order; such a list is used in place, any other is compressed to those
// intervals.
class Timetable {
 public:
  Timetable() = default;
  // `sorted`: by start; must outlive the timetable.
  explicit Timetable(const std::vector<CourseSession>& sorted) {
    for (size_t i = 1; i < sorted.size(); ++i) {
      if (sorted[i].end < sorted[i - 1].end) {
        for (const CourseSession& x : sorted) Append(x);
        list_ = &own_;
        return;
      }
    }
    list_ = &sorted;
  }
  Timetable(const Timetable&) = delete;
  Timetable& operator=(const Timetable&) = delete;
  Timetable(Timetable&& t) noexcept { *this = std::move(t); }
  Timetable& operator=(Timetable&& t) noexcept {
    const bool owned = t.list_ == &t.own_;
    own_ = std::move(t.own_);
    list_ = owned ? &own_ : t.list_;
    t.list_ = nullptr;
    return *this;
  }

  // Every interval of `parts`. Merged as a binary counter merges runs (a
  // run of 2^r parts meets one of the same size), so few runs are alive at
  // once, each compressed: O(n log parts) work.
  static Timetable Union(std::vector<Timetable> parts) {
    std::vector<std::pair<Timetable, int>> runs;  // (run, rank), ranks decreasing
    for (Timetable& part : parts) {
      runs.emplace_back(std::move(part), 0);
      while (runs.size() > 1 && runs[runs.size() - 2].second == runs.back().second) {
        Timetable merged = Merge(runs[runs.size() - 2].first, runs.back().first);
        const int rank = runs.back().second + 1;
        runs.pop_back();
        runs.back() = {std::move(merged), rank};
      }
    }
    if (runs.empty()) return Timetable();
    Timetable all = std::move(runs.back().first);
    for (size_t i = runs.size() - 1; i-- > 0;) all = Merge(runs[i].first, all);
    return all;
  }

  // Whether an interval [a, b) has a < end and start < b.
  bool Overlaps(absl::Time start, absl::Time end) const {
    const absl::Span<const CourseSession> l = list();
    const auto it =
        std::lower_bound(l.begin(), l.end(), end, [](const CourseSession& x, absl::Time t) { return x.start < t; });
    return it != l.begin() && start < std::prev(it)->end;
  }

 private:
  static Timetable Merge(const Timetable& a, const Timetable& b) {
    Timetable t;
    t.list_ = &t.own_;
    const absl::Span<const CourseSession> x = a.list(), y = b.list();
    t.own_.reserve(x.size() + y.size());
    size_t i = 0, j = 0;
    while (i < x.size() || j < y.size()) {
      if (j == y.size() || (i < x.size() && x[i].start < y[j].start)) {
        t.Append(x[i++]);
      } else {
        t.Append(y[j++]);
      }
    }
    return t;
  }
  void Append(const CourseSession& x) {
    if (own_.empty() || own_.back().end < x.end) own_.push_back(x);
  }
  absl::Span<const CourseSession> list() const {
    return list_ == nullptr ? absl::Span<const CourseSession>() : absl::MakeConstSpan(*list_);
  }

  const std::vector<CourseSession>* list_ = nullptr;  // own_ or the caller's
  std::vector<CourseSession> own_;
};

// The sessions of a course with sessions that a plan adding it attends
// (those from now on), as the plan holds them; the same in every state.
struct Attendance {
  std::vector<CourseSession> sessions;  // in time order
  absl::Time start = absl::InfiniteFuture();
  absl::Time end = absl::InfinitePast();
  Timetable busy;
};

// A course the plan adds: immutable once placed, shared by the states that
// hold it.
struct Placed {
  PlanStep step;                           // without its sessions: attendance's
  const Attendance* attendance = nullptr;  // null: self-paced
  int ci = -1;
  int series = -1;  // Planner::SeriesOf(ci)
};

// The learner's courses in progress: the part of every state that no trial
// changes, built once per call and shared.
struct InProgress {
  std::vector<PlanStep> steps;  // by id
  std::vector<Timetable> busy;  // parallel to steps: the sessions still to come
  Timetable all_busy;           // all of them
  absl::flat_hash_set<int> taken;
  absl::flat_hash_map<int, absl::Time> series_ready;  // by Planner::SeriesOf
  // Credits of `steps` by category ("" all), each summed in step order.
  absl::flat_hash_map<std::string, double> credits;
};

// What a plan holds so far. A trial adds to a state in place and, when it
// fails, Rollback undoes it (each new course records what it replaced), so
// trying a course costs what it adds, not a copy of the plan; the courses
// in progress are shared. (A copy of the plan per trial copied every
// session and title in progress: for a learner with 1,000 courses of 500
// sessions, one call took 234 s and 6.5 GB; bench_path_planner
// --worst_case.)
struct State {
  std::shared_ptr<const InProgress> in_progress;       // null: none
  std::vector<std::shared_ptr<const Placed>> planned;  // new courses, in the order added
  absl::flat_hash_set<int> taken;                      // catalog indices planned
  // Series (Planner::SeriesOf) -> when its planned section ends; wins over
  // in_progress's.
  absl::flat_hash_map<int, absl::Time> series_ready;
  // Names `planned` (its courses and their ends, in order; Planner::Intern):
  // states with the same node hold the same plan.
  int node = 0;
  // Parallel to `planned`: what adding it replaced.
  struct Undo {
    std::optional<absl::Time> series_ready;
    int node = 0;
  };
  std::vector<Undo> undo;

  int new_courses() const { return static_cast<int>(planned.size()); }
  // Planned or in progress.
  bool Taken(int ci) const { return taken.contains(ci) || (in_progress != nullptr && in_progress->taken.contains(ci)); }
  // When the planned or in-progress section of `series` ends.
  std::optional<absl::Time> SeriesReady(int series) const {
    if (auto it = series_ready.find(series); it != series_ready.end()) return it->second;
    if (in_progress != nullptr) {
      if (auto it = in_progress->series_ready.find(series); it != in_progress->series_ready.end()) return it->second;
    }
    return std::nullopt;
  }
  // The last step (in progress first, then planned); null when none.
  const PlanStep* Last() const {
    if (!planned.empty()) return &planned.back()->step;
    if (in_progress != nullptr && !in_progress->steps.empty()) return &in_progress->steps.back();
    return nullptr;
  }
  bool Empty() const { return Last() == nullptr; }

  void Push(std::shared_ptr<const Placed> p, int node_after) {
    Undo u;
    u.node = node;
    if (auto it = series_ready.find(p->series); it != series_ready.end()) u.series_ready = it->second;
    series_ready[p->series] = p->step.end;
    taken.insert(p->ci);
    node = node_after;
    planned.push_back(std::move(p));
    undo.push_back(u);
  }
  // Back to the first `n` new courses.
  void Rollback(size_t n) {
    while (planned.size() > n) {
      const Placed& p = *planned.back();
      const Undo& u = undo.back();
      taken.erase(p.ci);
      if (u.series_ready) {
        series_ready[p.series] = *u.series_ready;
      } else {
        series_ready.erase(p.series);
      }
      node = u.node;
      planned.pop_back();
      undo.pop_back();
    }
  }
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
        options_(options),
        flags_(courses_.size(), 0),
        series_of_(courses_.size(), -1) {
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
  const std::vector<int>& Sections(int ci) {
    auto [it, inserted] = sections_.try_emplace(courses_[ci].series);
    if (inserted) {
      it->second = catalog_.SeriesCourses(courses_[ci].series);
      SortByPreference(&it->second);
    }
    return it->second;
  }

  // A small number naming course ci's series.
  int SeriesOf(int ci) {
    int& id = series_of_[ci];
    if (id < 0) id = series_ids_.try_emplace(courses_[ci].series, static_cast<int>(series_ids_.size())).first->second;
    return id;
  }

  bool Done(const std::string& id) const {
    if (learner_.completed.contains(id)) return true;
    const Course* c = catalog_.Find(id);
    return c != nullptr && done_series_.contains(c->series);
  }
  bool DoneIndex(int ci) {
    uint8_t& f = flags_[ci];
    if (!(f & kDoneKnown)) f |= kDoneKnown | (Done(courses_[ci].id) ? kDone : 0);
    return f & kDone;
  }
  // Whether `tries` ran out (the plan is then cut short; PlanOptions).
  bool exhausted() const { return exhausted_; }

  // The state with the learner's in-progress courses in it.
  State Initial() {
    auto in = std::make_shared<InProgress>();
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
      step.sessions.reserve(c->sessions.size());
      for (const CourseSession& ses : c->sessions) {
        if (ses.end < now_) continue;
        step.sessions.push_back(ses);
        start = std::min(start, ses.start);
        end = std::max(end, ses.end);
      }
      step.start = start == absl::InfiniteFuture() ? now_ : start;
      step.end = end;
      if (c->sessions.empty()) {  // self-paced: as long as a new start would take
        step.end = now_ + options_.self_paced_per_credit * std::max(1.0, std::ceil(c->credits));
      }
      SortSessions(&step.sessions);
      in->series_ready[SeriesOf(Index(c))] = step.end;
      in->taken.insert(Index(c));
      in->credits[""] += c->credits;
      if (!c->category.empty()) in->credits[c->category] += c->credits;
      in->steps.push_back(std::move(step));
    }
    // Timetables refer to the steps' sessions, which stay where they are.
    for (const PlanStep& step : in->steps) in->busy.emplace_back(step.sessions);
    std::vector<Timetable> parts;
    for (const PlanStep& step : in->steps) parts.emplace_back(step.sessions);
    in->all_busy = Timetable::Union(std::move(parts));
    State s;
    s.in_progress = std::move(in);
    return s;
  }

  // When `id` is (or will be) done in `s`: nullopt when it is neither done,
  // in progress nor planned.
  std::optional<absl::Time> ReadyAt(const std::string& id, const State& s) {
    if (Done(id)) return absl::InfinitePast();
    const Course* c = catalog_.Find(id);
    if (c == nullptr) return std::nullopt;
    return s.SeriesReady(SeriesOf(Index(c)));
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
  // StaticCheck(ci).empty(), remembered.
  bool StaticOk(int ci) {
    uint8_t& f = flags_[ci];
    if (!(f & kStaticKnown)) f |= kStaticKnown | (StaticCheck(ci).empty() ? kStaticOk : 0);
    return f & kStaticOk;
  }

  // Adds course `ci` (after its prerequisites, planned as needed) to `s`;
  // when it cannot, `s` is left as it was and `why_not` says why. The
  // answer depends only on (ci, the plan in `s`, depth): a failure is
  // remembered and given again without the work (a chain whose sections
  // all fail deep down was otherwise tried once per section of every level
  // above it: exponential in its depth).
  // `why_not` may be null (the caller has its reason already).
  bool Try(int ci, const std::string& why, State* s, std::string* why_not, int depth = 0) {
    const Key key(ci, s->node, depth);
    const auto known = tried_.find(key);
    if (known != tried_.end()) {
      if (known->second.ok) {
        Replay(known->second.added, why, s);
        return true;
      }
      if (why_not == nullptr) return false;
      if (known->second.why_kept) {
        *why_not = known->second.why_not;
        return false;
      }
      // The reason was not kept (kMaxRememberedBytes): the same work gives
      // it again.
    }
    if (tries_ >= options_.max_tries) {
      exhausted_ = true;
      if (why_not != nullptr) *why_not = absl::StrCat("more than ", options_.max_tries, " tries");
      return false;
    }
    ++tries_;
    const size_t mark = s->planned.size();
    Tried tried;
    tried.ok = Add(ci, why, s, &tried.why_not, depth);
    if (tried.ok) {
      for (size_t i = mark; i < s->planned.size(); ++i) {
        tried.added.emplace_back(s->planned[i], i + 1 < s->planned.size() ? s->undo[i + 1].node : s->node);
      }
      Remember(key, std::move(tried));
      return true;
    }
    s->Rollback(mark);
    if (why_not != nullptr) *why_not = tried.why_not;
    if (known == tried_.end()) Remember(key, std::move(tried));
    return false;
  }

  // Try's work. On failure `s` may be half-changed (Try undoes it) and
  // `why_not` says why.
  bool Add(int ci, const std::string& why, State* s, std::string* why_not, int depth) {
    if (s->Taken(ci) || DoneIndex(ci)) return true;
    const Course& c = courses_[ci];
    if (depth > kMaxDepth) {
      *why_not = "prerequisite chain too long";
      return false;
    }
    if (!StaticOk(ci)) {
      *why_not = absl::StrCat(c.title, " ", StaticCheck(ci));
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
        // Whether a section of the series can be planned depends only on
        // the plan and the depth, like Try's answers.
        const Key key(SeriesOf(Index(pc)), s->node, depth + 1);
        std::string first_why;
        bool planned = false;
        if (auto it = unplannable_.find(key); it != unplannable_.end()) {
          first_why = it->second;
        } else {
          const std::string prerequisite_of = absl::StrCat("prerequisite of ", c.title);
          for (int section : Sections(Index(pc))) {
            if (!s->Taken(section) && !DoneIndex(section) && !StaticOk(section)) {
              if (first_why.empty()) first_why = absl::StrCat(courses_[section].title, " ", StaticCheck(section));
              continue;
            }
            std::string w;
            if (Try(section, prerequisite_of, s, first_why.empty() ? &w : nullptr, depth + 1)) {
              planned = true;
              break;
            }
            if (first_why.empty()) first_why = std::move(w);
          }
          if (!planned) Remember(key, first_why);
        }
        if (!planned) {
          *why_not = absl::StrCat(c.title, " needs ", pc->title, " first; ", first_why);
          return false;
        }
        ready = ReadyAt(p, *s);
      }
      earliest = std::max(earliest, *ready);
    }
    auto placed = std::make_shared<Placed>();
    placed->ci = ci;
    placed->series = SeriesOf(ci);
    PlanStep& step = placed->step;
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
      const Attendance& a = Attend(ci);
      step.start = a.start;
      step.end = a.end;
      if (step.start < earliest) {
        *why_not = absl::StrCat(c.title, " starts before its prerequisites end");
        return false;
      }
      if (c.enrol_from > step.start) {
        *why_not = absl::StrCat(c.title, " opens enrolment only after it starts");
        return false;
      }
      for (const CourseSession& ses : a.sessions) {
        if (const std::string* owner = Clash(*s, ses)) {
          *why_not = absl::StrCat(c.title, " clashes with ", *owner);
          return false;
        }
      }
      placed->attendance = &a;  // the step's sessions (Finish)
    }
    if (s->new_courses() >= options_.max_steps) {
      *why_not = absl::StrCat("more than ", options_.max_steps, " courses");
      return false;
    }
    const int node = Intern(s->node, ci, step.end);
    s->Push(std::move(placed), node);
    return true;
  }

  // The best way to add one of `options` (each with its prerequisites) to
  // `s`: the most `gain` per new course (fewest new courses when there is
  // no gain to measure), then the most gain, the recommender's score,
  // online when preferred, the earlier end, the id.
  // `gain(trial_before, trial_after)` measures what the option brings.
  template <typename Gain>
  std::optional<State> Best(const std::vector<int>& options, const State& s, const std::string& why, const Gain& gain,
                            std::string* why_not) {
    std::optional<State> best;
    double best_key[5] = {0, 0, 0, 0, 0};
    int best_ci = -1;
    State trial = s;  // each option is tried on it, then undone
    const size_t mark = trial.planned.size();
    for (int ci : options) {
      std::string w;
      if (!s.Taken(ci) && !DoneIndex(ci) && !StaticOk(ci)) {
        if (why_not->empty()) *why_not = absl::StrCat(courses_[ci].title, " ", StaticCheck(ci));
        continue;
      }
      if (!Try(ci, why, &trial, why_not->empty() ? &w : nullptr)) {
        if (why_not->empty()) *why_not = w;
        continue;
      }
      const Course& c = courses_[ci];
      const int cost = trial.new_courses() - s.new_courses();
      const double g = gain(s, trial);
      const PlanStep* last = trial.Last();
      const double key[5] = {
          // What each new course brings toward the deficit; without a
          // deficit (target goals), fewer new courses.
          g > 0 ? g / std::max(1, cost) : -static_cast<double>(cost),
          g,
          Score(ci),
          learner_.prefer_online && c.mode == "online" ? 1.0 : 0.0,
          last == nullptr ? 0.0 : -absl::ToDoubleSeconds(last->end - now_),
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
        best = trial;
        std::copy(key, key + 5, best_key);
        best_ci = ci;
      }
      trial.Rollback(mark);
    }
    return best;
  }

  // Up to max_candidates of `list` that pass StaticCheck and are not done or
  // taken, best first by a cheap key: no missing prerequisite, score,
  // credits, id.
  std::vector<int> Candidates(const std::vector<int>& list, const State& s) {
    std::vector<Keyed>& keyed = keyed_;  // reused: a fill asks once per course it adds
    keyed.clear();
    for (int ci : list) {
      if (s.Taken(ci) || DoneIndex(ci) || !StaticOk(ci)) continue;
      int missing = 0;
      for (int p : Prerequisites(ci)) missing += p == kDonePrerequisite || (p >= 0 && s.SeriesReady(p)) ? 0 : 1;
      keyed.push_back({missing, Score(ci), ci});
    }
    auto less = [&](const Keyed& a, const Keyed& b) {
      if (a.missing != b.missing) return a.missing < b.missing;
      if (a.score != b.score) return a.score > b.score;
      const double ca = courses_[a.ci].credits, cb = courses_[b.ci].credits;
      if (ca != cb) return ca > cb;
      return courses_[a.ci].id < courses_[b.ci].id;
    };
    const size_t n = std::min<size_t>(keyed.size(), options_.max_candidates);
    std::partial_sort(keyed.begin(), keyed.begin() + n, keyed.end(), less);
    std::vector<int> out;
    for (size_t i = 0; i < n; ++i) out.push_back(keyed[i].ci);
    return out;
  }

  // 0, 1, ... every course of the catalog.
  const std::vector<int>& AllCourses() {
    if (all_courses_.size() != courses_.size()) {
      all_courses_.resize(courses_.size());
      for (size_t i = 0; i < all_courses_.size(); ++i) all_courses_[i] = static_cast<int>(i);
    }
    return all_courses_;
  }

 private:
  enum : uint8_t { kStaticKnown = 1, kStaticOk = 2, kDoneKnown = 4, kDone = 8 };
  // (course or series, node, depth).
  using Key = std::tuple<int, int, int>;
  // What a try gave: the courses it added (in order, each with the node
  // after it), or why not.
  struct Tried {
    bool ok = false;
    bool why_kept = false;  // !ok, and why_not holds the reason
    std::string why_not;
    std::vector<std::pair<std::shared_ptr<const Placed>, int>> added;
  };
  struct Keyed {
    int missing;  // prerequisites neither done, in progress nor planned
    double score;
    int ci;
  };
  // Prerequisites() codes other than a series.
  static constexpr int kDonePrerequisite = -1;
  static constexpr int kUnknownPrerequisite = -2;  // not in the catalog: never ready

  // Course ci's prerequisites as ReadyAt sees them apart from the plan:
  // kDonePrerequisite, kUnknownPrerequisite, or the series (SeriesOf) whose
  // planned or in-progress section it waits for.
  absl::Span<const int> Prerequisites(int ci) {
    const std::vector<std::string>& ids = courses_[ci].prerequisites;
    if (ids.empty()) return {};
    if (prerequisites_at_.empty()) prerequisites_at_.assign(courses_.size(), -1);
    int& at = prerequisites_at_[ci];
    if (at < 0) {
      at = static_cast<int>(prerequisites_.size());
      for (const std::string& p : ids) {
        const Course* c = Done(p) ? nullptr : catalog_.Find(p);
        prerequisites_.push_back(Done(p)        ? kDonePrerequisite
                                 : c == nullptr ? kUnknownPrerequisite
                                                : SeriesOf(Index(c)));
      }
    }
    return absl::MakeConstSpan(prerequisites_).subspan(at, ids.size());
  }

  // Best scored first, then by id (ids are unique: one order).
  void SortByPreference(std::vector<int>* list) const {
    std::vector<std::pair<double, int>> keyed;
    keyed.reserve(list->size());
    for (int ci : *list) keyed.push_back({Score(ci), ci});
    auto by_id = [&](const std::pair<double, int>& a, const std::pair<double, int>& b) {
      return courses_[a.second].id < courses_[b.second].id;
    };
    // Usually in id order already (a snapshot keeps the catalog's order):
    // then a stable sort by score alone is the same order.
    if (!std::is_sorted(keyed.begin(), keyed.end(), by_id)) std::sort(keyed.begin(), keyed.end(), by_id);
    std::stable_sort(keyed.begin(), keyed.end(), [](const std::pair<double, int>& a, const std::pair<double, int>& b) {
      return a.first > b.first;
    });
    for (size_t i = 0; i < keyed.size(); ++i) (*list)[i] = keyed[i].second;
  }

  // Course ci's sessions from now on (it has sessions).
  const Attendance& Attend(int ci) {
    auto [it, inserted] = attendance_.try_emplace(ci);
    Attendance& a = it->second;
    if (inserted) {
      a.sessions.reserve(courses_[ci].sessions.size());
      for (const CourseSession& ses : courses_[ci].sessions) {
        if (ses.start < now_) continue;
        a.sessions.push_back(ses);
        a.start = std::min(a.start, ses.start);
        a.end = std::max(a.end, ses.end);
      }
      SortSessions(&a.sessions);
      a.busy = Timetable(a.sessions);  // refers to a.sessions: attendance_ keeps it in place
    }
    return a;
  }

  // The title of the first course of `s` (in progress by id, then planned
  // in order) with a session that overlaps `ses`; null when none does.
  static const std::string* Clash(const State& s, const CourseSession& ses) {
    if (s.in_progress != nullptr && s.in_progress->all_busy.Overlaps(ses.start, ses.end)) {
      for (size_t i = 0; i < s.in_progress->steps.size(); ++i) {
        if (s.in_progress->busy[i].Overlaps(ses.start, ses.end)) return &s.in_progress->steps[i].course->title;
      }
    }
    for (const auto& p : s.planned) {
      if (p->attendance != nullptr && p->attendance->busy.Overlaps(ses.start, ses.end)) return &p->step.course->title;
    }
    return nullptr;
  }

  // Remembers what a try gave, unless the tries ran out (the answer then
  // says nothing about the key) or what is remembered holds
  // kMaxRememberedBytes (then planning goes on without).
  void Remember(const Key& key, Tried&& tried) {
    if (exhausted_) return;
    tried.why_kept = !tried.ok && remembered_bytes_ + tried.why_not.size() <= kMaxRememberedBytes;
    if (!tried.why_kept) tried.why_not = std::string();
    remembered_bytes_ += tried.why_not.size();
    tried_.try_emplace(key, std::move(tried));
  }
  void Remember(const Key& key, const std::string& unplannable) {
    if (exhausted_ || remembered_bytes_ + unplannable.size() > kMaxRememberedBytes) return;
    if (unplannable_.try_emplace(key, unplannable).second) remembered_bytes_ += unplannable.size();
  }
  // Adds what a try added before (Tried::added) to `s`, the course tried
  // last with `why`.
  void Replay(const std::vector<std::pair<std::shared_ptr<const Placed>, int>>& added, const std::string& why,
              State* s) {
    for (size_t i = 0; i < added.size(); ++i) {
      std::shared_ptr<const Placed> p = added[i].first;
      if (i + 1 == added.size() && p->step.why != why) {
        auto copy = std::make_shared<Placed>(*p);
        copy->step.why = why;
        p = std::move(copy);
      }
      s->Push(std::move(p), added[i].second);
    }
  }

  // The node of the plan `parent` followed by course ci ending at `end`.
  int Intern(int parent, int ci, absl::Time end) {
    return nodes_.try_emplace(std::make_tuple(parent, ci, end), static_cast<int>(nodes_.size()) + 1).first->second;
  }

  const CatalogSnapshot& catalog_;
  const std::vector<Course>& courses_;
  const PlanLearner& learner_;
  const CourseScores& scores_;
  const absl::Time now_;
  const absl::Time deadline_;
  const PlanOptions& options_;
  absl::flat_hash_set<std::string> done_series_;
  absl::flat_hash_map<std::string, int> series_ids_;
  // Per course, what does not depend on the plan, worked out when first
  // needed: k* bits, Attend, Sections (by series; pointer-stable maps, as
  // callers hold references across calls that add to them).
  std::vector<uint8_t> flags_;
  std::vector<int> series_of_;  // SeriesOf, -1 until asked
  // Prerequisites: course ci's codes start at prerequisites_[
  // prerequisites_at_[ci]] (-1 until asked).
  std::vector<int> prerequisites_;
  std::vector<int> prerequisites_at_;
  std::vector<int> all_courses_;
  std::vector<Keyed> keyed_;
  absl::node_hash_map<int, Attendance> attendance_;
  absl::node_hash_map<std::string, std::vector<int>> sections_;
  // (course, node, depth) -> what Try gave; (series, node, depth) -> why
  // none of the series' sections could be added (Remember).
  absl::flat_hash_map<Key, Tried> tried_;
  absl::flat_hash_map<Key, std::string> unplannable_;
  size_t remembered_bytes_ = 0;
  // (parent node, course, end) -> node; node 0 is the empty plan.
  absl::flat_hash_map<std::tuple<int, int, absl::Time>, int> nodes_;
  int tries_ = 0;
  bool exhausted_ = false;
};

// Credits of the steps in `s` (new and in progress) in `category` ("" all),
// summed in step order.
double PlannedCredits(const State& s, const std::string& category) {
  double sum = 0;
  if (s.in_progress != nullptr) {
    if (auto it = s.in_progress->credits.find(category); it != s.in_progress->credits.end()) sum = it->second;
  }
  for (const auto& p : s.planned) {
    if (category.empty() || p->step.course->category == category) sum += p->step.course->credits;
  }
  return sum;
}

void Finish(State s, PathPlan* plan) {
  std::vector<PlanStep> steps;
  if (s.in_progress != nullptr && s.in_progress.use_count() == 1) {
    // The last state holding them (Initial made them, not const): moved.
    steps = std::move(const_cast<InProgress&>(*s.in_progress).steps);
  } else if (s.in_progress != nullptr) {
    steps = s.in_progress->steps;
  }
  for (const auto& p : s.planned) {
    steps.push_back(p->step);
    if (p->attendance != nullptr) steps.back().sessions = p->attendance->sessions;
  }
  std::stable_sort(steps.begin(), steps.end(), [](const PlanStep& a, const PlanStep& b) {
    if (a.enrolled != b.enrolled) return a.enrolled;
    return a.start < b.start;
  });
  plan->steps = std::move(steps);
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
      if (state.SeriesReady(planner.SeriesOf(ti))) {  // in progress
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
        for (int ci : level) in_progress |= state.Taken(ci);
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
          if (c == nullptr || state.SeriesReady(planner.SeriesOf(planner.Index(c)))) continue;
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
              candidates = planner.Candidates(planner.AllCourses(), state);
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
        plan.already_achieved = plan.feasible && state.new_courses() == 0 && state.Empty();
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
        } else if (c != nullptr && state.SeriesReady(planner.SeriesOf(planner.Index(c)))) {
          progress.required_planned.push_back(id);
        } else {
          progress.required_missing.push_back(id);
        }
      }
      break;
    }
  }
  if (planner.exhausted()) {
    plan.feasible = false;
    plan.already_achieved = false;
    plan.reason = absl::StrCat("planning stopped after ", options.max_tries,
                               " tries (PlanOptions::max_tries): the catalog offers too many ways to try",
                               plan.reason.empty() ? "" : "\n", plan.reason);
  }
  Finish(std::move(state), &plan);
  return plan;
}

}  // namespace lifelong::recommend
