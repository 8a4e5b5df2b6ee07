// PlanPath on the demo district (services/demo): every demo programme is
// reachable for a newcomer before its deadline, and plans keep their
// promises (no clashes, prerequisites first, within the deadline, enrolment
// open, seats left) for the district's learners.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/demo/demo_district.h"
#include "services/demo/demo_programmes.h"
#include "services/recommend/catalog_cache.h"
#include "services/recommend/path_planner.h"

namespace lifelong::recommend {
namespace {

class DemoPlanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    demo::DemoOptions o;
    o.learners = 300;
    district_ = new demo::DemoDistrict(o);
    std::vector<Course> courses;
    for (const demo::DemoCourse& c : district_->courses()) courses.push_back(CourseFromProto(c.course));
    std::vector<Programme> programmes;
    for (const v1::Programme& p : demo::DemoProgrammes(*district_)) programmes.push_back(ProgrammeFromProto(p));
    catalog_ = new CatalogSnapshot("demo", std::move(courses), std::move(programmes));
  }
  static absl::Time Now() { return absl::FromUnixMicros(demo::FirstSessionMicros(*district_)) - absl::Hours(24 * 7); }

  static void ExpectKeepsPromises(const PathPlan& plan, absl::Time deadline) {
    for (size_t a = 0; a < plan.steps.size(); ++a) {
      const PlanStep& s = plan.steps[a];
      if (!s.enrolled) {
        EXPECT_TRUE(s.course->EnrolmentOpenAt(Now()) || s.course->enrol_from > Now()) << s.course->id;
        EXPECT_NE(s.course->SeatsLeft(), 0) << s.course->id;
        EXPECT_EQ(s.course->state, CourseState::kOpen) << s.course->id;
        EXPECT_LE(s.end, deadline) << s.course->id;
      }
      for (size_t b = a + 1; b < plan.steps.size(); ++b) {
        for (const CourseSession& x : s.sessions) {
          for (const CourseSession& y : plan.steps[b].sessions) {
            EXPECT_FALSE(x.start < y.end && y.start < x.end)
                << s.course->id << " clashes with " << plan.steps[b].course->id;
          }
        }
        // A planned course starts after its prerequisites end (two courses
        // already in progress are the learner's own choice).
        if (plan.steps[b].enrolled) continue;
        for (const std::string& p : plan.steps[b].course->prerequisites) {
          if (p == s.course->id) {
            EXPECT_LE(s.end, plan.steps[b].start);
          }
        }
      }
    }
  }

  static demo::DemoDistrict* district_;
  static CatalogSnapshot* catalog_;
};

demo::DemoDistrict* DemoPlanTest::district_ = nullptr;
CatalogSnapshot* DemoPlanTest::catalog_ = nullptr;

TEST_F(DemoPlanTest, EveryDemoProgrammeIsReachableForANewcomer) {
  ASSERT_EQ(catalog_->programmes().size(), 5u);
  for (const Programme& p : catalog_->programmes()) {
    PlanGoal g;
    g.kind = PlanGoal::Kind::kProgramme;
    g.programme = p;
    PlanLearner newcomer;
    absl::StatusOr<PathPlan> plan = PlanPath(*catalog_, g, newcomer, {}, Now());
    ASSERT_TRUE(plan.ok()) << p.id << ": " << plan.status();
    EXPECT_TRUE(plan->feasible) << p.name << ": " << plan->reason;
    EXPECT_FALSE(plan->steps.empty()) << p.name;
    EXPECT_GE(plan->progress.credits_planned + 1e-9, p.credits) << p.name;
    EXPECT_TRUE(plan->progress.required_missing.empty()) << p.name;
    ExpectKeepsPromises(*plan, p.deadline);
  }
}

TEST_F(DemoPlanTest, PlansForTheDistrictsLearnersKeepTheirPromises) {
  int feasible = 0, plans = 0;
  for (int i = 1; i <= 300; i += 7) {
    const demo::Learner l = district_->MakeLearner(i);
    PlanLearner learner;
    for (const demo::Event& e : district_->Events(l)) {
      const std::string& id = district_->courses()[e.course].course.id();
      if (e.verb == "completed" || e.verb == "passed") {
        learner.completed.insert(id);
        learner.enrolled.erase(id);
      } else if (e.verb == "registered" && !learner.completed.contains(id)) {
        learner.enrolled.insert(id);
      } else if (e.verb == "failed") {
        learner.enrolled.erase(id);
      }
    }
    for (const Programme& p : catalog_->programmes()) {
      PlanGoal g;
      g.kind = PlanGoal::Kind::kProgramme;
      g.programme = p;
      absl::StatusOr<PathPlan> plan = PlanPath(*catalog_, g, learner, {}, Now());
      ASSERT_TRUE(plan.ok()) << plan.status();
      ++plans;
      feasible += plan->feasible ? 1 : 0;
      if (!plan->feasible) {
        EXPECT_FALSE(plan->reason.empty());
      }
      ExpectKeepsPromises(*plan, p.deadline);
    }
  }
  // In-progress courses may clash with what a programme needs; most plans
  // still work out.
  EXPECT_GT(feasible, plans / 2);
}

}  // namespace
}  // namespace lifelong::recommend
