// PlanPath on hand-made catalogs whose best plans are known: chains,
// sections, clashes, full courses, deadlines, 学区, programmes with credit
// rules, and goals that cannot be met.
#include "services/recommend/path_planner.h"

#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lifelong::recommend {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Monday 2027-03-01 00:00 UTC is day 0 of every hand-made timetable.
const absl::Time kDay0 = absl::FromUnixSeconds(1803859200);
const absl::Time kNow = kDay0 - absl::Hours(24 * 7);

struct Def {
  std::string id;
  std::string title;
  std::string category = "传统文化";
  double credits = 2;
  std::vector<std::string> prerequisites = {};
  // Weekly sessions: first day (from kDay0), hour of day, how many weeks.
  int day = 0;
  int hour = 9;
  int weeks = 4;
  std::string xuequ = "和平里学区";
  std::string mode = "offline";
  int capacity = 0;
  int taken = 0;
  std::string level = "";
  bool archived = false;  // CourseState::kArchived (a finished term)
  bool draft = false;     // CourseState::kDraft (staff work in progress)
};

Course Make(const Def& d) {
  Course c;
  c.id = d.id;
  c.title = d.title;
  c.category = d.category;
  c.credits = d.credits;
  c.prerequisites = d.prerequisites;
  c.mode = d.mode;
  c.level = d.level;
  c.capacity = d.capacity;
  c.seats_taken = d.taken;
  if (d.archived) c.state = CourseState::kArchived;
  if (d.draft) c.state = CourseState::kDraft;
  c.enrol_from = kNow - absl::Hours(24);
  c.enrol_to = kDay0 + absl::Hours(24 * 365);
  if (d.mode != "online") {
    c.xuequ = d.xuequ;
    c.venue_id = "v_" + d.xuequ;
  }
  for (int w = 0; w < d.weeks && d.weeks > 0; ++w) {
    const absl::Time start = kDay0 + absl::Hours(24 * (d.day + 7 * w) + d.hour);
    c.sessions.push_back({start, start + absl::Minutes(90)});
  }
  return c;
}

CatalogSnapshot Catalog(const std::vector<Def>& defs) {
  std::vector<Course> courses;
  for (const Def& d : defs) courses.push_back(Make(d));
  return CatalogSnapshot("test", std::move(courses));
}

std::vector<std::string> Ids(const PathPlan& p) {
  std::vector<std::string> ids;
  for (const PlanStep& s : p.steps) ids.push_back(s.course->id);
  return ids;
}

PlanGoal CourseGoal(const std::string& id) {
  PlanGoal g;
  g.kind = PlanGoal::Kind::kCourse;
  g.course_id = id;
  return g;
}

PathPlan MustPlan(const CatalogSnapshot& catalog, const PlanGoal& goal, const PlanLearner& learner = {},
                  const CourseScores& scores = {}) {
  absl::StatusOr<PathPlan> p = PlanPath(catalog, goal, learner, scores, kNow);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : PathPlan();
}

// No two sessions of a plan overlap, and every course starts after its
// planned prerequisites end.
void ExpectConsistent(const PathPlan& p) {
  for (size_t a = 0; a < p.steps.size(); ++a) {
    for (size_t b = a + 1; b < p.steps.size(); ++b) {
      for (const CourseSession& x : p.steps[a].sessions) {
        for (const CourseSession& y : p.steps[b].sessions) {
          EXPECT_FALSE(x.start < y.end && y.start < x.end)
              << p.steps[a].course->id << " clashes with " << p.steps[b].course->id;
        }
      }
    }
    for (size_t b = 0; b < p.steps.size(); ++b) {
      for (const std::string& pre : p.steps[b].course->prerequisites) {
        if (p.steps[a].course->id != pre) continue;
        EXPECT_LT(a, b) << pre << " must come first";
        EXPECT_LE(p.steps[a].end, p.steps[b].start) << pre << " must end first";
      }
    }
  }
}

const std::vector<Def> kChain = {
    {"jz1", "剪纸入门", "传统文化", 2, {}, 0, 9, 4, "和平里学区", "offline", 0, 0, "beginner"},
    {"jz2", "剪纸进阶", "传统文化", 2, {"jz1"}, 35, 9, 4, "和平里学区", "offline", 0, 0, "intermediate"},
    {"jz3", "剪纸提高", "传统文化", 3, {"jz2"}, 70, 9, 4, "和平里学区", "offline", 0, 0, "advanced"},
};

TEST(PlanPath, ChainInPrerequisiteOrder) {
  CatalogSnapshot catalog = Catalog(kChain);
  PathPlan p = MustPlan(catalog, CourseGoal("jz3"));
  EXPECT_TRUE(p.feasible) << p.reason;
  EXPECT_THAT(Ids(p), ElementsAre("jz1", "jz2", "jz3"));
  EXPECT_EQ(p.steps[0].why, "prerequisite of 剪纸进阶");
  EXPECT_EQ(p.steps[1].why, "prerequisite of 剪纸提高");
  EXPECT_EQ(p.steps[2].why, "target");
  EXPECT_EQ(p.steps[0].sessions.size(), 4u);
  ExpectConsistent(p);

  // 剪纸入门 passed: two steps left. 剪纸入门 and 剪纸进阶 both done: one.
  PlanLearner l;
  l.completed = {"jz1"};
  EXPECT_THAT(Ids(MustPlan(catalog, CourseGoal("jz3"), l)), ElementsAre("jz2", "jz3"));
  l.completed = {"jz1", "jz2"};
  EXPECT_THAT(Ids(MustPlan(catalog, CourseGoal("jz3"), l)), ElementsAre("jz3"));
  l.completed = {"jz3"};
  PathPlan done = MustPlan(catalog, CourseGoal("jz3"), l);
  EXPECT_TRUE(done.feasible);
  EXPECT_TRUE(done.already_achieved);
  EXPECT_TRUE(done.steps.empty());
}

TEST(PlanPath, InProgressPrerequisiteIsKeptAndWaitedFor) {
  CatalogSnapshot catalog = Catalog(kChain);
  PlanLearner l;
  l.completed = {"jz1"};
  l.enrolled = {"jz2"};
  PathPlan p = MustPlan(catalog, CourseGoal("jz3"), l);
  EXPECT_TRUE(p.feasible);
  ASSERT_THAT(Ids(p), ElementsAre("jz2", "jz3"));
  EXPECT_TRUE(p.steps[0].enrolled);
  EXPECT_FALSE(p.steps[1].enrolled);
}

TEST(PlanPath, SelfPacedCourseInProgressIsWaitedFor) {
  std::vector<Def> defs = {
      {"py1", "Python 入门", "科技", 2, {}, 0, 9, 0, "", "online"},
      {"py2", "Python 进阶", "科技", 1, {"py1"}, 0, 9, 0, "", "online"},
  };
  CatalogSnapshot catalog = Catalog(defs);
  PlanLearner l;
  l.enrolled = {"py1"};
  PathPlan p = MustPlan(catalog, CourseGoal("py2"), l);
  EXPECT_TRUE(p.feasible) << p.reason;
  ASSERT_THAT(Ids(p), ElementsAre("py1", "py2"));
  EXPECT_TRUE(p.steps[0].enrolled);
  // Two credits' worth of weeks for the course in progress, then one.
  EXPECT_EQ(p.steps[0].end, kNow + absl::Hours(24 * 14));
  EXPECT_EQ(p.steps[1].start, p.steps[0].end);
  EXPECT_EQ(p.steps[1].end, p.steps[1].start + absl::Hours(24 * 7));
}

TEST(PlanPath, SectionThatStartsBeforeThePrerequisiteEndsIsSkipped) {
  std::vector<Def> defs = kChain;
  // 剪纸进阶 (a second section) starting on day 14, while 剪纸入门 runs to day 21.
  defs.push_back({"jz2b", "剪纸进阶", "传统文化", 2, {"jz1"}, 14, 14, 4});
  CourseScores scores = {{"jz2b", 0.9}};  // even when the recommender likes it better
  CatalogSnapshot catalog1 = Catalog(defs);
  PathPlan p = MustPlan(catalog1, CourseGoal("jz3"), {}, scores);
  EXPECT_TRUE(p.feasible);
  EXPECT_THAT(Ids(p), ElementsAre("jz1", "jz2", "jz3"));
  ExpectConsistent(p);
}

TEST(PlanPath, ClashWithACourseInProgressPicksTheOtherSection) {
  std::vector<Def> defs = {
      {"tj", "太极拳", "健康", 2, {}, 0, 9, 8},      // Mondays 09:00, in progress
      {"sf_a", "书法入门", "书法", 2, {}, 0, 9, 4},  // Mondays 09:00: clashes
      {"sf_b", "书法入门", "书法", 2, {}, 1, 9, 4},  // Tuesdays 09:00
  };
  PlanLearner l;
  l.enrolled = {"tj"};
  CourseScores scores = {{"sf_a", 0.9}, {"sf_b", 0.1}};
  CatalogSnapshot catalog2 = Catalog(defs);
  PathPlan p = MustPlan(catalog2, CourseGoal("sf_a"), l, scores);
  EXPECT_TRUE(p.feasible) << p.reason;
  EXPECT_THAT(Ids(p), ElementsAre("tj", "sf_b"));
  ExpectConsistent(p);
}

TEST(PlanPath, FullSectionIsSkippedAndAllFullIsInfeasibleWithAReason) {
  std::vector<Def> defs = {
      {"sf_a", "书法入门", "书法", 2, {}, 0, 9, 4, "和平里学区", "offline", 20, 20},
      {"sf_b", "书法入门", "书法", 2, {}, 2, 14, 4, "和平里学区", "offline", 20, 19},
  };
  CatalogSnapshot catalog3 = Catalog(defs);
  PathPlan p = MustPlan(catalog3, CourseGoal("sf_a"));
  EXPECT_TRUE(p.feasible);
  EXPECT_THAT(Ids(p), ElementsAre("sf_b"));

  defs[1].taken = 20;
  CatalogSnapshot catalog4 = Catalog(defs);
  PathPlan none = MustPlan(catalog4, CourseGoal("sf_a"));
  EXPECT_FALSE(none.feasible);
  EXPECT_EQ(none.reason, "书法入门 is full");
  EXPECT_TRUE(none.steps.empty());
}

TEST(PlanPath, DeadlineCutsTheChain) {
  PlanGoal g = CourseGoal("jz3");
  g.deadline = kDay0 + absl::Hours(24 * 80);  // 剪纸提高 ends on day 91
  CatalogSnapshot cat_p = Catalog(kChain);
  absl::StatusOr<PathPlan> p = PlanPath(cat_p, g, {}, {}, kNow);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->feasible);
  EXPECT_EQ(p->reason, "剪纸提高 ends after the deadline");
}

TEST(PlanPath, MissingPrerequisiteSectionNamesWhatBlocks) {
  std::vector<Def> defs = kChain;
  defs[1].capacity = 10;
  defs[1].taken = 10;  // 剪纸进阶 full
  CatalogSnapshot catalog5 = Catalog(defs);
  PathPlan p = MustPlan(catalog5, CourseGoal("jz3"));
  EXPECT_FALSE(p.feasible);
  EXPECT_EQ(p.reason, "剪纸提高 needs 剪纸进阶 first; 剪纸进阶 is full");
}

TEST(PlanPath, HomeXuequOrOnline) {
  std::vector<Def> defs = {
      {"far", "智能手机入门", "智能手机与数字素养", 2, {}, 0, 9, 4, "东直门学区"},
      {"near", "智能手机入门", "智能手机与数字素养", 2, {}, 0, 14, 4, "和平里学区"},
      {"web", "智能手机入门", "智能手机与数字素养", 2, {}, 0, 19, 4, "", "online"},
  };
  CatalogSnapshot catalog = Catalog(defs);
  PlanLearner l;
  l.home_xuequ = "东直门学区";
  CourseScores scores = {{"near", 0.9}, {"web", 0.5}, {"far", 0.1}};
  // "near" is in another 学区; of the two that qualify, the better scored.
  EXPECT_THAT(Ids(MustPlan(catalog, CourseGoal("far"), l, scores)), ElementsAre("web"));
  l.home_xuequ = "景山学区";
  EXPECT_THAT(Ids(MustPlan(catalog, CourseGoal("far"), l, scores)), ElementsAre("web"));
  l.any_xuequ = true;
  EXPECT_THAT(Ids(MustPlan(catalog, CourseGoal("far"), l, scores)), ElementsAre("near"));
  l.prefer_online = true;
  scores["web"] = 0.9;  // a tie on score: online wins for a learner who prefers it
  EXPECT_THAT(Ids(MustPlan(catalog, CourseGoal("far"), l, scores)), ElementsAre("web"));
}

Programme Certificate() {
  Programme p;
  p.id = "sqjy";
  p.name = "社区教育证书";
  p.credits = 12;
  p.by_category = {{"传统文化", 4}};
  p.required_courses = {"law"};
  return p;
}

TEST(PlanPath, ProgrammeFillsRequiredThenCategoryThenTotalWithFewestCourses) {
  std::vector<Def> defs = {
      {"law", "社区法律常识", "法治", 2, {}, 0, 9, 4}, {"jz1", "剪纸入门", "传统文化", 2, {}, 1, 9, 4},
      {"tea", "茶文化", "传统文化", 3, {}, 2, 9, 4},   {"hs", "健康养生", "健康", 4, {}, 3, 9, 4},
      {"hs2", "健康讲座", "健康", 1, {}, 3, 14, 2},    {"sf", "书法入门", "书法", 3, {}, 4, 9, 4},
  };
  PlanLearner l;
  l.completed = {"jz1"};  // 2 credits in 传统文化 already
  PlanGoal g;
  g.kind = PlanGoal::Kind::kProgramme;
  g.programme = Certificate();
  CatalogSnapshot catalog6 = Catalog(defs);
  PathPlan p = MustPlan(catalog6, g, l);
  EXPECT_TRUE(p.feasible) << p.reason;
  // law (2, required) + tea (3: 传统文化 reaches 5) = 7 with jz1; 5 more:
  // hs (4), then one credit: hs2 (1 credit, ends before 书法入门 would).
  // No three new courses reach 10 credits with law and 传统文化's minimum,
  // so four is the fewest.
  EXPECT_THAT(Ids(p), ::testing::UnorderedElementsAre("law", "tea", "hs", "hs2"));
  EXPECT_EQ(p.progress.credits_required, 12);
  EXPECT_EQ(p.progress.credits_earned, 2);
  EXPECT_EQ(p.progress.credits_planned, 10);
  ASSERT_EQ(p.progress.by_category.size(), 1u);
  EXPECT_EQ(p.progress.by_category[0].earned, 2);
  EXPECT_EQ(p.progress.by_category[0].planned, 3);
  EXPECT_THAT(p.progress.required_planned, ElementsAre("law"));
  ExpectConsistent(p);
}

// Progress counts verified credits only: a self-reported completion (not in
// `credited`) is done (not planned again) but earns nothing toward the goal,
// so the plan makes up its credits with another course.
TEST(PlanPath, SelfReportedCompletionEarnsNoCreditsTowardTheGoal) {
  std::vector<Def> defs = {
      {"law", "社区法律常识", "法治", 2, {}, 0, 9, 4}, {"jz1", "剪纸入门", "传统文化", 2, {}, 1, 9, 4},
      {"tea", "茶文化", "传统文化", 3, {}, 2, 9, 4},   {"hs", "健康养生", "健康", 4, {}, 3, 9, 4},
      {"hs2", "健康讲座", "健康", 1, {}, 3, 14, 2},    {"sf", "书法入门", "书法", 3, {}, 4, 9, 4},
  };
  PlanGoal g;
  g.kind = PlanGoal::Kind::kProgramme;
  g.programme = Certificate();
  CatalogSnapshot catalog = Catalog(defs);
  PlanLearner verified;
  verified.completed = {"jz1"};
  verified.credited = absl::flat_hash_set<std::string>{"jz1"};
  PathPlan with = MustPlan(catalog, g, verified);
  EXPECT_EQ(with.progress.credits_earned, 2);
  PlanLearner self_reported;
  self_reported.completed = {"jz1"};
  self_reported.credited = absl::flat_hash_set<std::string>{};
  PathPlan without = MustPlan(catalog, g, self_reported);
  EXPECT_EQ(without.progress.credits_earned, 0);
  ASSERT_EQ(without.progress.by_category.size(), 1u);
  EXPECT_EQ(without.progress.by_category[0].earned, 0);
  EXPECT_THAT(Ids(without), ::testing::Not(::testing::Contains("jz1")));  // done, not planned again
  EXPECT_GT(without.progress.credits_planned, with.progress.credits_planned);
  ExpectConsistent(without);
}

TEST(PlanPath, ProgrammeThatCannotBeMetSaysWhatIsMissing) {
  std::vector<Def> defs = {
      {"sj1", "智能手机入门", "智能手机与数字素养", 2, {}, 0, 9, 4},
      {"sj2", "智能手机进阶", "智能手机与数字素养", 2, {"sj1"}, 0, 14, 4},  // starts too early
  };
  Programme p;
  p.name = "数字素养证书";
  p.by_category = {{"智能手机与数字素养", 6}};
  PlanGoal g;
  g.kind = PlanGoal::Kind::kProgramme;
  g.programme = p;
  g.programme.deadline = kDay0 + absl::Hours(24 * 120);
  CatalogSnapshot catalog7 = Catalog(defs);
  PathPlan plan = MustPlan(catalog7, g);
  EXPECT_FALSE(plan.feasible);
  EXPECT_EQ(plan.reason, "数字素养证书 needs 4 more credits in 智能手机与数字素养; no open course before the deadline");
  EXPECT_THAT(Ids(plan), ElementsAre("sj1"));  // what could be planned
}

TEST(PlanPath, CategoryGoalReachesItsHighestLevel) {
  PlanGoal g;
  g.kind = PlanGoal::Kind::kCategory;
  g.category = "传统文化";
  CatalogSnapshot catalog8 = Catalog(kChain);
  PathPlan p = MustPlan(catalog8, g);
  EXPECT_TRUE(p.feasible) << p.reason;
  EXPECT_THAT(Ids(p), ElementsAre("jz1", "jz2", "jz3"));
  g.category = "天文";
  CatalogSnapshot catalog9 = Catalog(kChain);
  PathPlan none = MustPlan(catalog9, g);
  EXPECT_FALSE(none.feasible);
  EXPECT_EQ(none.reason, "the catalog has no course in 天文");
}

TEST(PlanPath, AFailedCourseIsPlannedAgain) {
  // A failure leaves 剪纸入门 not completed: the plan starts from it again.
  PlanLearner l;  // failed jz1: neither completed nor enrolled
  EXPECT_THAT(Ids(MustPlan(Catalog(kChain), CourseGoal("jz2"), l)), ElementsAre("jz1", "jz2"));
}

TEST(PlanPath, BadGoalsAreErrorsNamingTheField) {
  CatalogSnapshot catalog = Catalog(kChain);
  absl::StatusOr<PathPlan> p = PlanPath(catalog, CourseGoal("nope"), {}, {}, kNow);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(p.status().message(), HasSubstr("course_id"));

  PlanGoal g;
  g.kind = PlanGoal::Kind::kProgramme;
  g.programme = Certificate();
  g.programme.by_category[0].credits = -1;
  p = PlanPath(catalog, g, {}, {}, kNow);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("programme.by_category[0].credits"));

  g.programme = Certificate();
  g.programme.name = "";
  EXPECT_THAT(PlanPath(catalog, g, {}, {}, kNow).status().message(), HasSubstr("programme.name"));

  g.programme = Certificate();  // "law" is not in this catalog
  p = PlanPath(catalog, g, {}, {}, kNow);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  // lifelong.v1.Programme's field name.
  EXPECT_THAT(p.status().message(), HasSubstr("programme.required_course_ids[0]: no course \"law\""));
  // The catalog's own programme: the caller named no course; an answer.
  g.catalog_programme = true;
  p = PlanPath(catalog, g, {}, {}, kNow);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->feasible);
  EXPECT_THAT(p->reason, HasSubstr("社区教育证书 requires law, which the catalog does not list"));
  EXPECT_THAT(p->progress.required_missing, ElementsAre("law"));
  g.catalog_programme = false;

  g.programme.required_courses = {"jz1", "jz1"};
  p = PlanPath(catalog, g, {}, {}, kNow);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("programme.required_course_ids[1]: \"jz1\" repeats"));
  g.programme.required_courses = {""};
  EXPECT_THAT(PlanPath(catalog, g, {}, {}, kNow).status().message(),
              HasSubstr("programme.required_course_ids[0]: must not be empty"));
  g.programme = Programme();
  g.programme.name = "空";
  EXPECT_THAT(PlanPath(catalog, g, {}, {}, kNow).status().message(),
              HasSubstr("needs credits, by_category or required_course_ids"));

  PlanGoal c = CourseGoal("jz1");
  c.deadline = kNow - absl::Hours(1);
  EXPECT_EQ(PlanPath(catalog, c, {}, {}, kNow).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(PlanPath(catalog, c, {}, {}, kNow).status().message(), HasSubstr("deadline: must be in the future"));

  PlanGoal cat;
  cat.kind = PlanGoal::Kind::kCategory;
  EXPECT_THAT(PlanPath(catalog, cat, {}, {}, kNow).status().message(), HasSubstr("category"));
}

// Finished courses are archived (docs/catalog.md); the catalog keeps them,
// and so does the recommender's copy. A completed archived section is done:
// its series is not planned again, and what names another section of it is
// ready. An archived course is never planned, in progress or not.
TEST(PlanPath, ACompletedArchivedSectionIsDoneAndNeverPlanned) {
  std::vector<Def> defs = kChain;
  defs.push_back({"jz1_old", "剪纸入门（第一期）", "传统文化", 2, {}, -70, 9, 4});
  defs.back().archived = true;
  CatalogSnapshot catalog = Catalog(defs);
  PlanLearner l;
  l.completed = {"jz1_old"};
  PathPlan p = MustPlan(catalog, CourseGoal("jz3"), l);
  EXPECT_TRUE(p.feasible) << p.reason;
  EXPECT_THAT(Ids(p), ElementsAre("jz2", "jz3"));
  // The archived course as a target: done for the learner who took it,
  // another section of it for one who did not.
  EXPECT_TRUE(MustPlan(catalog, CourseGoal("jz1_old"), l).already_achieved);
  EXPECT_THAT(Ids(MustPlan(catalog, CourseGoal("jz1_old"))), ElementsAre("jz1"));
  // Registered for it and never finished: it is over, not in progress.
  PlanLearner registered;
  registered.enrolled = {"jz1_old"};
  EXPECT_THAT(Ids(MustPlan(catalog, CourseGoal("jz2"), registered)), ElementsAre("jz1", "jz2"));
  // The only section archived: not plannable, and the reason says why.
  std::vector<Def> alone = {defs.back()};
  CatalogSnapshot only_archived = Catalog(alone);
  PathPlan none = MustPlan(only_archived, CourseGoal("jz1_old"));
  EXPECT_FALSE(none.feasible);
  EXPECT_EQ(none.reason, "剪纸入门（第一期） is archived");
  EXPECT_TRUE(none.steps.empty());
}

// Verified credits earned in a course that has since been archived count
// toward a programme at the catalog's credits.
TEST(PlanPath, AnArchivedCreditedCourseEarnsItsCredits) {
  std::vector<Def> defs = {
      {"law", "社区法律常识", "法治", 2, {}, 0, 9, 4},
      {"jz1", "剪纸入门", "传统文化", 2, {}, 1, 9, 4},
      {"tea", "茶文化", "传统文化", 3, {}, 2, 9, 4},
      {"hs", "健康养生", "健康", 4, {}, 3, 9, 4},
      {"hs2", "健康讲座", "健康", 1, {}, 3, 14, 2},
      {"sf", "书法入门", "书法", 3, {}, 4, 9, 4},
      {"cy_old", "茶艺（2025秋）", "传统文化", 4, {}, -200, 9, 4},
  };
  defs.back().archived = true;
  CatalogSnapshot catalog = Catalog(defs);
  PlanGoal g;
  g.kind = PlanGoal::Kind::kProgramme;
  g.programme = Certificate();  // 12 credits, 4 in 传统文化, 社区法律常识 required
  PlanLearner l;
  l.completed = {"cy_old"};
  l.credited = absl::flat_hash_set<std::string>{"cy_old"};
  PathPlan p = MustPlan(catalog, g, l);
  EXPECT_TRUE(p.feasible) << p.reason;
  EXPECT_EQ(p.progress.credits_earned, 4);
  ASSERT_EQ(p.progress.by_category.size(), 1u);
  EXPECT_EQ(p.progress.by_category[0].earned, 4);
  // 传统文化's minimum is met already: nothing is planned for it.
  for (const PlanStep& step : p.steps) EXPECT_NE(step.why, "credits: 传统文化") << step.course->id;
  // law (required), then 6 more credits: 健康养生 (4) and one more course.
  EXPECT_EQ(p.steps.size(), 3u);
  EXPECT_THAT(Ids(p), ::testing::Not(::testing::Contains("cy_old")));
  ExpectConsistent(p);
}

// A programme whose required course has been archived: a learner who
// completed it has it done; one who did not gets an answer saying so, not
// an error (the catalog's programme names a course that exists).
TEST(PlanPath, AnArchivedRequiredCourseIsDoneOrAnAnswer) {
  std::vector<Def> defs = {
      {"law", "社区法律常识", "法治", 2, {}, -70, 9, 4}, {"jz1", "剪纸入门", "传统文化", 2, {}, 1, 9, 4},
      {"tea", "茶文化", "传统文化", 3, {}, 2, 9, 4},     {"hs", "健康养生", "健康", 4, {}, 3, 9, 4},
      {"hs2", "健康讲座", "健康", 1, {}, 3, 14, 2},      {"sf", "书法入门", "书法", 3, {}, 4, 9, 4},
  };
  defs[0].archived = true;
  CatalogSnapshot catalog = Catalog(defs);
  for (bool catalog_programme : {true, false}) {
    SCOPED_TRACE(catalog_programme ? "programme_id" : "inline programme");
    PlanGoal g;
    g.kind = PlanGoal::Kind::kProgramme;
    g.programme = Certificate();
    g.catalog_programme = catalog_programme;
    PathPlan missing = MustPlan(catalog, g);
    EXPECT_FALSE(missing.feasible);
    EXPECT_THAT(missing.reason, HasSubstr("社区教育证书 requires 社区法律常识; 社区法律常识 is archived"));
    EXPECT_THAT(missing.progress.required_missing, ElementsAre("law"));
    EXPECT_THAT(Ids(missing), ::testing::Not(::testing::Contains("law")));

    PlanLearner l;
    l.completed = {"law"};
    l.credited = absl::flat_hash_set<std::string>{"law"};
    PathPlan done = MustPlan(catalog, g, l);
    EXPECT_TRUE(done.feasible) << done.reason;
    EXPECT_THAT(done.progress.required_done, ElementsAre("law"));
    EXPECT_EQ(done.progress.credits_earned, 2);
  }
}

// A category goal reaches the highest level still offered; an archived
// course of a higher level that the learner completed counts as reached.
TEST(PlanPath, CategoryGoalLooksAtTheLevelsStillOffered) {
  std::vector<Def> defs = kChain;
  defs[2].archived = true;  // 剪纸提高 no longer offered
  CatalogSnapshot catalog = Catalog(defs);
  PlanGoal g;
  g.kind = PlanGoal::Kind::kCategory;
  g.category = "传统文化";
  PathPlan p = MustPlan(catalog, g);
  EXPECT_TRUE(p.feasible) << p.reason;
  EXPECT_THAT(Ids(p), ElementsAre("jz1", "jz2"));
  PlanLearner l;
  l.completed = {"jz3"};
  EXPECT_TRUE(MustPlan(catalog, g, l).already_achieved);
  std::vector<Def> all_archived = kChain;
  for (Def& d : all_archived) d.archived = true;
  CatalogSnapshot gone = Catalog(all_archived);
  PathPlan none = MustPlan(gone, g);
  EXPECT_FALSE(none.feasible);
  EXPECT_EQ(none.reason, "the catalog has no course in 传统文化");
}

// A catalog programme whose deadline has passed is an answer, not an error
// (the caller set no deadline): achieved, or not feasible with a reason
// naming the deadline. A past deadline the caller sent stays INVALID_ARGUMENT.
TEST(PlanPath, APassedProgrammeDeadlineIsAnAnswer) {
  std::vector<Def> defs = {
      {"law", "社区法律常识", "法治", 2, {}, 0, 9, 4}, {"jz1", "剪纸入门", "传统文化", 2, {}, 1, 9, 4},
      {"tea", "茶文化", "传统文化", 3, {}, 2, 9, 4},   {"hs", "健康养生", "健康", 4, {}, 3, 9, 4},
      {"hs2", "健康讲座", "健康", 1, {}, 3, 14, 2},    {"sf", "书法入门", "书法", 3, {}, 4, 9, 4},
  };
  CatalogSnapshot catalog = Catalog(defs);
  PlanGoal g;
  g.kind = PlanGoal::Kind::kProgramme;
  g.programme = Certificate();
  g.programme.deadline = kNow - absl::Hours(24);  // 2027-02-21
  g.catalog_programme = true;
  PlanLearner enrolled;
  enrolled.enrolled = {"law"};
  for (absl::Time own : {absl::InfiniteFuture(), kNow + absl::Hours(24 * 30)}) {
    g.deadline = own;
    PathPlan p = MustPlan(catalog, g, enrolled);
    EXPECT_FALSE(p.feasible);
    EXPECT_FALSE(p.already_achieved);
    EXPECT_EQ(p.reason, "社区教育证书: the programme's deadline 2027-02-21 00:00 UTC has passed");
    EXPECT_TRUE(p.steps.empty());  // nothing counts toward it any more
    EXPECT_THAT(p.progress.required_missing, ElementsAre("law"));
    EXPECT_EQ(p.progress.credits_planned, 0);
  }
  g.deadline = absl::InfiniteFuture();

  // A learner who met every rule before it: achieved.
  PlanLearner achieved;
  achieved.completed = {"law", "jz1", "tea", "hs", "hs2"};  // 12 credits, 5 in 传统文化
  PathPlan done = MustPlan(catalog, g, achieved);
  EXPECT_TRUE(done.feasible);
  EXPECT_TRUE(done.already_achieved);
  EXPECT_EQ(done.reason, "");
  EXPECT_EQ(done.progress.credits_earned, 12);
  EXPECT_THAT(done.progress.required_done, ElementsAre("law"));
  // One credit short: not achieved.
  achieved.completed.erase("hs2");
  EXPECT_FALSE(MustPlan(catalog, g, achieved).feasible);

  // The caller's own past deadline, and an inline programme's, are errors.
  g.deadline = kNow - absl::Hours(1);
  absl::StatusOr<PathPlan> bad = PlanPath(catalog, g, {}, {}, kNow);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("deadline: must be in the future"));
  g.deadline = absl::InfiniteFuture();
  g.catalog_programme = false;
  bad = PlanPath(catalog, g, {}, {}, kNow);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("programme.deadline: must be in the future"));
}

// For learners and kiosks a DRAFT course does not exist (docs/catalog.md
// "Drafts"), and the recommender's snapshot leaves drafts out: a plan treats
// one as a missing id and never names its title. A programme that requires
// it names it by id only (programmes name drafts; their ids are no secret);
// a plan to it is NOT_FOUND with a missing id's message; the learner's own
// `registered` statement for it is no course in progress; a course that
// needs it first names it by id.
TEST(PlanPath, ADraftCourseIsPlannedAsAMissingOne) {
  std::vector<Def> defs = kChain;
  defs.push_back({"jz_hist", "剪纸史话", "传统文化", 2, {}, 3, 14, 4});
  defs.back().draft = true;
  defs.push_back({"jz_tech", "剪纸技法", "传统文化", 2, {"jz_hist"}, 42, 14, 4});
  CatalogSnapshot catalog = Catalog(defs);
  EXPECT_EQ(catalog.Find("jz_hist"), nullptr);
  auto expect_unnamed = [](const PathPlan& p) {
    EXPECT_THAT(p.reason, ::testing::Not(HasSubstr("剪纸史话")));
    EXPECT_THAT(Ids(p), ::testing::Not(::testing::Contains("jz_hist")));
    for (const PlanStep& s : p.steps) {
      EXPECT_THAT(s.why, ::testing::Not(HasSubstr("剪纸史话")));
      EXPECT_THAT(s.why, ::testing::Not(HasSubstr("jz_hist")));
    }
  };

  absl::StatusOr<PathPlan> to_draft = PlanPath(catalog, CourseGoal("jz_hist"), {}, {}, kNow);
  EXPECT_EQ(to_draft.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(to_draft.status().message(), "course_id: no course \"jz_hist\"");  // as a missing id's
  EXPECT_EQ(PlanPath(catalog, CourseGoal("jz_none"), {}, {}, kNow).status().message(),
            "course_id: no course \"jz_none\"");

  PlanGoal g;
  g.kind = PlanGoal::Kind::kProgramme;
  g.programme.name = "剪纸证书";
  g.programme.required_courses = {"jz1", "jz_hist"};
  g.catalog_programme = true;
  PathPlan programme = MustPlan(catalog, g);
  EXPECT_FALSE(programme.feasible);
  EXPECT_EQ(programme.reason, "剪纸证书 requires jz_hist, which the catalog does not list");
  EXPECT_THAT(programme.progress.required_missing, ElementsAre("jz_hist"));
  expect_unnamed(programme);
  g.catalog_programme = false;  // an inline programme: as a missing id
  absl::StatusOr<PathPlan> inline_programme = PlanPath(catalog, g, {}, {}, kNow);
  EXPECT_EQ(inline_programme.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(inline_programme.status().message(), "programme.required_course_ids[1]: no course \"jz_hist\"");

  PlanLearner registered;
  registered.enrolled = {"jz_hist"};
  PlanGoal category;
  category.kind = PlanGoal::Kind::kCategory;
  category.category = "传统文化";
  PathPlan by_category = MustPlan(catalog, category, registered);
  EXPECT_TRUE(by_category.feasible) << by_category.reason;
  expect_unnamed(by_category);
  for (const PlanStep& s : by_category.steps) EXPECT_FALSE(s.enrolled) << s.course->id;
  PathPlan chain = MustPlan(catalog, CourseGoal("jz3"), registered);
  EXPECT_THAT(Ids(chain), ElementsAre("jz1", "jz2", "jz3"));
  expect_unnamed(chain);

  PathPlan needs_draft = MustPlan(catalog, CourseGoal("jz_tech"), registered);
  EXPECT_FALSE(needs_draft.feasible);
  EXPECT_EQ(needs_draft.reason, "剪纸技法 needs jz_hist, which the catalog no longer offers");
  expect_unnamed(needs_draft);
}

TEST(PlanPath, NeverMoreCoursesThanTheLimit) {
  std::vector<Def> defs;
  for (int i = 0; i < 10; ++i) {
    defs.push_back({"k" + std::to_string(i), "课程" + std::to_string(i), "健康", 1, {}, i % 7, 8 + i, 2});
  }
  Programme p;
  p.name = "健康达人";
  p.credits = 10;
  PlanGoal g;
  g.kind = PlanGoal::Kind::kProgramme;
  g.programme = p;
  PlanOptions o;
  o.max_steps = 5;
  CatalogSnapshot cat_plan = Catalog(defs);
  absl::StatusOr<PathPlan> plan = PlanPath(cat_plan, g, {}, {}, kNow, o);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->feasible);
  EXPECT_EQ(plan->steps.size(), 5u);
  EXPECT_THAT(plan->reason, HasSubstr("健康达人 needs 5 more credits"));
}

// 200 characters (the catalog's longest title), distinct per n.
std::string LongTitle(int n) {
  std::string t = "长期课程" + std::to_string(n);
  for (size_t chars = 4 + std::to_string(n).size(); chars < 200; ++chars) t += "学";
  return t;
}

TEST(PlanPath, AThousandCoursesInProgressOfFiveHundredSessionsEach) {
  // As busy a learner as a history holds (1,000 statements), in courses as
  // long as the catalog allows (500 weekly sessions, 200-character titles),
  // meeting early every morning: the plan keeps every one of them, adds
  // what the goal needs around them, and keeps to max_courses.
  std::vector<Def> defs = kChain;  // 09:00
  PlanLearner l;
  for (int k = 0; k < 1000; ++k) {
    char id[8];
    std::snprintf(id, sizeof(id), "ip%04d", k);
    defs.push_back({id, LongTitle(k), "长期课程", 0.5, {}, k % 7, 5 + k % 3, 500});  // 05:00-08:30
    l.enrolled.insert(id);
  }
  defs.push_back({"tj", "太极拳", "健康", 2, {}, 3, 6, 4});  // Thursdays 06:00
  CatalogSnapshot catalog = Catalog(defs);

  PathPlan p = MustPlan(catalog, CourseGoal("jz3"), l);
  EXPECT_TRUE(p.feasible) << p.reason;
  ASSERT_EQ(p.steps.size(), 1003u);
  for (size_t i = 0; i < 1000; ++i) {
    EXPECT_TRUE(p.steps[i].enrolled);
    EXPECT_EQ(p.steps[i].sessions.size(), 500u);
  }
  EXPECT_EQ(p.steps[0].course->id, "ip0000");  // the earliest start (Mondays 05:00), first by id
  std::vector<std::string> added;
  for (size_t i = 1000; i < p.steps.size(); ++i) {
    EXPECT_FALSE(p.steps[i].enrolled);
    added.push_back(p.steps[i].course->id);
    for (const PlanStep& other : p.steps) {
      if (&other == &p.steps[i]) continue;
      for (const CourseSession& x : p.steps[i].sessions) {
        for (const CourseSession& y : other.sessions) {
          ASSERT_FALSE(x.start < y.end && y.start < x.end)
              << p.steps[i].course->id << " meets with " << other.course->id;
        }
      }
    }
  }
  EXPECT_THAT(added, ElementsAre("jz1", "jz2", "jz3"));
  EXPECT_EQ(p.steps[1002].why, "target");

  // 太极拳 meets while ip0003 (the first by id of those meeting on
  // Thursdays at 05:00) does.
  PathPlan clash = MustPlan(catalog, CourseGoal("tj"), l);
  EXPECT_FALSE(clash.feasible);
  EXPECT_EQ(clash.reason, "太极拳 clashes with " + LongTitle(3));
  EXPECT_EQ(clash.steps.size(), 1000u);

  // The chain is three new courses.
  PlanOptions two;
  two.max_steps = 2;
  absl::StatusOr<PathPlan> capped = PlanPath(catalog, CourseGoal("jz3"), l, {}, kNow, two);
  ASSERT_TRUE(capped.ok()) << capped.status();
  EXPECT_FALSE(capped->feasible);
  EXPECT_EQ(capped->reason, "more than 2 courses");
  EXPECT_EQ(capped->steps.size(), 1000u);

  // The courses in progress count toward a programme's credits.
  Programme programme;
  programme.name = "终身学习证书";
  programme.credits = 505;
  PlanGoal goal;
  goal.kind = PlanGoal::Kind::kProgramme;
  goal.programme = programme;
  PathPlan credits = MustPlan(catalog, goal, l);
  EXPECT_TRUE(credits.feasible) << credits.reason;
  EXPECT_DOUBLE_EQ(credits.progress.credits_planned, 507);  // 500 in progress, the chain's 7 for the 5 missing
  EXPECT_EQ(credits.steps.size(), 1003u);
}

// "链A课" (level 0) .. "链Q课" (16): one series per level.
std::string ChainTitle(int level) { return "链" + std::string(1, static_cast<char>('A' + level)) + "课"; }

// A chain of 17 levels (as deep as PlanPath follows) of `sections`
// sections each, a level every two weeks; level 0 is full when `full`.
std::vector<Def> DeepChain(int sections, bool full) {
  std::vector<Def> defs;
  for (int level = 0; level < 17; ++level) {
    for (int i = 0; i < sections; ++i) {
      Def d{"c" + std::to_string(level) + "_" + std::to_string(i), ChainTitle(level)};
      if (level > 0) d.prerequisites = {"c" + std::to_string(level - 1) + "_0"};
      d.day = 14 * level;
      d.hour = 8 + i;
      d.weeks = 1;
      if (full && level == 0) d.capacity = d.taken = 10;
      defs.push_back(d);
    }
  }
  return defs;
}

TEST(PlanPath, ADeepChainWhoseFirstLevelIsFullIsAnswered) {
  // Every section of every level leads down to a full first level: once
  // tried each section of every level above it, an answer took 6^16 tries.
  CatalogSnapshot catalog = Catalog(DeepChain(6, true));
  PathPlan p = MustPlan(catalog, CourseGoal("c16_0"));
  EXPECT_FALSE(p.feasible);
  std::string reason;
  for (int level = 16; level > 0; --level) {
    reason += ChainTitle(level) + " needs " + ChainTitle(level - 1) + " first; ";
  }
  EXPECT_EQ(p.reason, reason + ChainTitle(0) + " is full");
  EXPECT_TRUE(p.steps.empty());

  CatalogSnapshot open = Catalog(DeepChain(6, false));
  PathPlan chain = MustPlan(open, CourseGoal("c16_0"));
  EXPECT_TRUE(chain.feasible) << chain.reason;
  EXPECT_EQ(chain.steps.size(), 17u);
  ExpectConsistent(chain);
}

TEST(PlanPath, TheTriesRunningOutIsAnAnswerThatSaysSo) {
  CatalogSnapshot catalog = Catalog(DeepChain(2, false));
  PlanOptions o;
  o.max_tries = 5;  // the chain needs 18
  absl::StatusOr<PathPlan> p = PlanPath(catalog, CourseGoal("c16_0"), {}, {}, kNow, o);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->feasible);
  EXPECT_FALSE(p->already_achieved);
  EXPECT_THAT(p->reason, ::testing::StartsWith("planning stopped after 5 tries"));
  EXPECT_TRUE(p->steps.empty());

  o.max_tries = 18;  // its 17 courses, then the other section of the target
  p = PlanPath(catalog, CourseGoal("c16_0"), {}, {}, kNow, o);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->feasible) << p->reason;
  EXPECT_EQ(p->steps.size(), 17u);
}

}  // namespace
}  // namespace lifelong::recommend
