// Readiness in Recommender::Recommend, on hand-made catalogs and histories:
// prerequisites before the courses that need them, the same level again
// after a failure. The model is trained on test_support's generated
// interactions with the real trainer and loaded with the real loader.
#include "services/recommend/recommender.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/model_bundle.h"
#include "models/served_blend.h"
#include "models/synthetic.h"
#include "models/trainer.h"
#include "services/domain/vocabulary.h"
#include "services/recommend/catalog_cache.h"
#include "services/recommend/reasons.h"
#include "services/recommend/test_support.h"

namespace lifelong::recommend {
namespace {

// A catalog of every course of `model`, spread over 40 categories.
std::shared_ptr<const CatalogSnapshot> CatalogOf(const models::ModelBundle& model) {
  std::vector<Course> courses;
  for (const std::string& id : model.course_ids()) {
    Course c;
    c.id = id;
    c.title = "课程 " + id;
    c.series = id;
    c.category = "类别" + std::to_string(std::hash<std::string>()(id) % 40);
    courses.push_back(std::move(c));
  }
  return std::make_shared<const CatalogSnapshot>("synthetic", std::move(courses));
}

// The course the offline model scores highest for a learner who took
// `taken` (each weight 1), among those they have not taken.
std::string BestOfflineUntaken(const models::ModelBundle& model, const std::vector<std::string>& taken) {
  std::vector<models::HistoryEvent> events;
  for (const std::string& id : taken) events.push_back({id, 1.0f});
  const std::vector<float> offline = model.ScoreAll(events);
  int best = -1;
  for (int r = 0; r < model.num_items(); ++r) {
    if (std::find(taken.begin(), taken.end(), model.CourseId(r)) != taken.end()) continue;
    if (best < 0 || offline[r] > offline[best]) best = r;
  }
  return model.CourseId(best);
}

// The history of a learner who completed `taken` in that order.
LearnerHistory CompletedInOrder(const std::vector<std::string>& taken) {
  std::vector<StatementFact> facts;  // newest first
  for (int i = static_cast<int>(taken.size()) - 1; i >= 0; --i) {
    facts.push_back({std::string(vocab::kCompleted), vocab::CourseIri(taken[i]), absl::FromUnixSeconds(1000 + i)});
  }
  return BuildLearnerHistory(facts);
}

using ::testing::ElementsAre;

class RecommenderReadinessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = testing::NewTempDir("recommender_test_models");
    absl::StatusOr<int64_t> v = testing::WriteTestModel(dir);
    ASSERT_TRUE(v.ok()) << v.status();
    absl::StatusOr<std::shared_ptr<const models::ModelBundle>> m =
        models::LoadModelBundle(models::VersionPath(dir, *v));
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = new std::shared_ptr<const models::ModelBundle>(*m);
  }

  void SetUp() override { now_ = absl::FromUnixSeconds(1795000000); }

  // The test catalog with 书法进阶 (c_sf2) after 书法入门 (c_sf1) and 硬笔书法
  // (c_sf3) after 书法进阶: the chain the generated learners follow.
  CatalogPtr ChainCatalog(bool with_chain = true) const {
    std::vector<Course> courses;
    for (const v1::Course& p : testing::TestCatalog(now_)) {
      Course c = CourseFromProto(p);
      if (with_chain && c.id == "c_sf2") {
        c.prerequisites = {"c_sf1"};
        c.level = "intermediate";
      }
      if (with_chain && c.id == "c_sf3") {
        c.prerequisites = {"c_sf2"};
        c.level = "advanced";
      }
      courses.push_back(std::move(c));
    }
    return std::make_shared<const CatalogSnapshot>("test", std::move(courses));
  }

  static Recommender Make(bool readiness) {
    Recommender::Options o;
    o.readiness = readiness;
    return Recommender(
        [](const std::shared_ptr<const models::ModelBundle>&, std::vector<float>,
           int) -> absl::StatusOr<std::vector<models::Candidate>> {
          return absl::InternalError("small models are scanned exactly");
        },
        o);
  }

  LearnerHistory History(const std::vector<std::pair<absl::string_view, std::string>>& oldest_first) {
    std::vector<StatementFact> facts;
    int64_t t = 1000;
    for (const auto& [verb, course] : oldest_first) {
      facts.insert(facts.begin(), {std::string(verb), vocab::CourseIri(course), absl::FromUnixSeconds(t++)});
    }
    return BuildLearnerHistory(facts);
  }

  RecommendResult Run(const Recommender& r, const CatalogPtr& catalog, const LearnerHistory& h, int k,
                      std::vector<std::string> categories = {}) {
    RecommendQuery q;
    q.k = k;
    q.filter.categories = std::move(categories);
    keep_.push_back(catalog);  // results point into it
    absl::StatusOr<RecommendResult> out = r.Recommend(*model_, catalog, h, q, now_);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : RecommendResult();
  }

  static std::vector<std::string> Ids(const RecommendResult& r) {
    std::vector<std::string> ids;
    for (const ScoredCourse& s : r.items) ids.push_back(s.course->id);
    return ids;
  }
  static const ScoredCourse* Find(const RecommendResult& r, const std::string& id) {
    for (const ScoredCourse& s : r.items) {
      if (s.course->id == id) return &s;
    }
    return nullptr;
  }
  // Every course with a missing prerequisite comes after every ready one.
  static void ExpectReadyFirst(const RecommendResult& r) {
    bool seen_blocked = false;
    for (const ScoredCourse& s : r.items) {
      if (!s.missing_prerequisites.empty()) {
        seen_blocked = true;
        EXPECT_EQ(s.reason_kind, ReasonKind::kPrerequisitesFirst) << s.course->id;
      } else {
        EXPECT_FALSE(seen_blocked) << s.course->id << " (ready) ranked after a course that is not";
      }
    }
  }

  static std::shared_ptr<const models::ModelBundle>* model_;
  absl::Time now_;
  std::vector<CatalogPtr> keep_;  // the catalogs of this test's results
};

std::shared_ptr<const models::ModelBundle>* RecommenderReadinessTest::model_ = nullptr;

TEST_F(RecommenderReadinessTest, CourseTwoLevelsAheadComesAfterTheNextLevelAndSaysWhatComesFirst) {
  // Only 书法入门 passed: 书法进阶 is the next step; 硬笔书法 (after 书法进阶),
  // which the model likes for this learner, is not.
  LearnerHistory h = History({{vocab::kRegistered, "c_sf1"}, {vocab::kPassed, "c_sf1"}});
  RecommendResult with = Run(Make(true), ChainCatalog(), h, 10, {"书法"});
  // Ready: c_sf2 (next level), c_new and c_later (enrolment opens soon);
  // c_sf1b is a section of a completed series; closed, draft and full
  // courses never show.
  ASSERT_THAT(Ids(with), ::testing::UnorderedElementsAre("c_sf2", "c_new", "c_later", "c_sf3"));
  EXPECT_EQ(with.items.front().course->id, "c_sf2");
  EXPECT_EQ(with.items.back().course->id, "c_sf3");
  EXPECT_EQ(with.items[0].reason, "因为你完成了 书法入门");
  EXPECT_TRUE(with.items[0].missing_prerequisites.empty());
  const ScoredCourse* sf3 = Find(with, "c_sf3");
  EXPECT_THAT(sf3->missing_prerequisites, ElementsAre("c_sf2"));
  EXPECT_EQ(sf3->reason, "先修：书法进阶");
  EXPECT_EQ(sf3->reason_kind, ReasonKind::kPrerequisitesFirst);

  // Without the rule (the measured baseline) the model's favourite comes
  // first and nothing says what it needs.
  RecommendResult without = Run(Make(false), ChainCatalog(), h, 10, {"书法"});
  ASSERT_NE(Find(without, "c_sf3"), nullptr);
  EXPECT_TRUE(Find(without, "c_sf3")->missing_prerequisites.empty());
  EXPECT_NE(Find(without, "c_sf3")->reason_kind, ReasonKind::kPrerequisitesFirst);
}

// The model's "because you ..." reason is judged against the courses shown:
// for a learner in 书法进阶 (c_sf2, in progress, so not offered), 硬笔书法
// (c_sf3), which the model likes most, is not ready and falls outside the
// five shown, yet the shown course the model likes most still names what it
// comes from (it did not when the bar was 0.3 of the strongest candidate,
// shown or not).
TEST_F(RecommenderReadinessTest, TheModelsStrongestShownPickSaysWhyWhenAStrongerOneIsNotShown) {
  const models::ModelBundle& model = **model_;
  LearnerHistory h = History({{vocab::kRegistered, "c_sf1"}, {vocab::kPassed, "c_sf1"}, {vocab::kRegistered, "c_sf2"}});
  RecommendResult r = Run(Make(true), ChainCatalog(), h, 5);
  ASSERT_EQ(Find(r, "c_sf3"), nullptr);
  ASSERT_EQ(Find(r, "c_sf2"), nullptr);
  const std::vector<float> offline = model.ScoreAll(h.events);
  const std::optional<int> sf3 = model.Row("c_sf3");
  ASSERT_TRUE(sf3.has_value());
  // The shown course the model scores highest.
  const ScoredCourse* best = nullptr;
  float best_score = 0;
  for (const ScoredCourse& s : r.items) {
    std::optional<int> row = model.Row(s.course->id);
    if (!row) continue;
    if (best == nullptr || offline[*row] > best_score) {
      best = &s;
      best_score = offline[*row];
    }
  }
  ASSERT_NE(best, nullptr);
  ASSERT_GT(best_score, 0);
  // The premise: the course not shown outscores it by more than 1 / 0.3.
  ASSERT_GT(offline[*sf3], best_score / 0.3f) << "c_sf3 is not the hidden favourite this test needs";
  std::optional<models::Contribution> top = model.TopContributor(h.events, *model.Row(best->course->id));
  ASSERT_TRUE(top.has_value());
  EXPECT_EQ(best->reason_kind, ReasonKind::kBecauseYouCompleted) << best->course->id << ": " << best->reason;
  EXPECT_EQ(best->reason, BecauseReason(h.verbs[top->history_index], ChainCatalog()->Find(top->course_id)->title))
      << best->course->id;
}

TEST_F(RecommenderReadinessTest, UnfilteredAnswersNeverPutACourseThatIsNotReadyAboveAReadyOne) {
  LearnerHistory h = History({{vocab::kRegistered, "c_sf1"}, {vocab::kPassed, "c_sf1"}});
  RecommendResult r = Run(Make(true), ChainCatalog(), h, 5);
  EXPECT_EQ(Find(r, "c_sf3"), nullptr);  // five ready courses exist
  ExpectReadyFirst(r);
  RecommendResult all = Run(Make(true), ChainCatalog(), h, 100);
  ExpectReadyFirst(all);
  ASSERT_NE(Find(all, "c_sf3"), nullptr);
  EXPECT_EQ(all.items.back().course->id, "c_sf3");
}

TEST_F(RecommenderReadinessTest, FailedCourseComesAgainBeforeItsNextLevel) {
  LearnerHistory h = History({{vocab::kRegistered, "c_sf1"}, {vocab::kAttended, "c_sf1"}, {vocab::kFailed, "c_sf1"}});
  RecommendResult r = Run(Make(true), ChainCatalog(), h, 5);
  ASSERT_FALSE(r.items.empty());
  // The failed course or another section of it (书法入门（第二期）) first.
  EXPECT_TRUE(r.items[0].course->id == "c_sf1" || r.items[0].course->id == "c_sf1b") << r.items[0].course->id;
  EXPECT_EQ(r.items[0].reason, "未通过 书法入门，可再学一次");
  EXPECT_EQ(r.items[0].reason_kind, ReasonKind::kRetry);
  ExpectReadyFirst(r);
  // Its next level needs it: not before every ready course, and it says so.
  RecommendResult all = Run(Make(true), ChainCatalog(), h, 100);
  ExpectReadyFirst(all);
  const ScoredCourse* sf2 = Find(all, "c_sf2");
  ASSERT_NE(sf2, nullptr);
  EXPECT_THAT(sf2->missing_prerequisites, ElementsAre("c_sf1"));
  EXPECT_EQ(sf2->reason, "先修：书法入门");
}

// A next level reached from two completed courses is credited to the most
// recent completion, whichever order a process's hash sets would list them
// in (they differ between processes, and the reason then did too).
TEST_F(RecommenderReadinessTest, NextLevelIsCreditedToTheMostRecentCompletionLeadingThere) {
  std::vector<Course> courses;
  for (const v1::Course& p : testing::TestCatalog(now_)) {
    Course c = CourseFromProto(p);
    if (c.id == "c_sf3") c.prerequisites = {"c_sf1", "c_sf2"};
    courses.push_back(std::move(c));
  }
  CatalogPtr catalog = std::make_shared<const CatalogSnapshot>("test", std::move(courses));
  for (const auto& [first, second, title] :
       {std::make_tuple("c_sf1", "c_sf2", "书法进阶"), std::make_tuple("c_sf2", "c_sf1", "书法入门")}) {
    LearnerHistory h = History({{vocab::kPassed, first}, {vocab::kPassed, second}});
    RecommendResult r = Run(Make(true), catalog, h, 10, {"书法"});
    const ScoredCourse* sf3 = Find(r, "c_sf3");
    ASSERT_NE(sf3, nullptr) << first << " then " << second;
    EXPECT_EQ(sf3->reason, absl::StrCat("因为你完成了 ", title)) << first << " then " << second;
    EXPECT_EQ(sf3->reason_kind, ReasonKind::kBecauseYouCompleted);
  }
}

TEST_F(RecommenderReadinessTest, FailedHigherLevelBringsAGentlerCourseOnTheSubject) {
  // 书法进阶 failed after 书法入门 passed; 书法进阶 itself is offered again and a
  // beginner 书法 course the learner has not taken (书法临帖, c_new) is a
  // gentler way back.
  CatalogPtr catalog = [&] {
    std::vector<Course> courses = ChainCatalog()->courses();
    for (Course& c : courses) {
      if (c.id == "c_new") c.level = "beginner";
    }
    return std::make_shared<const CatalogSnapshot>("test", std::move(courses));
  }();
  LearnerHistory h = History({{vocab::kPassed, "c_sf1"}, {vocab::kRegistered, "c_sf2"}, {vocab::kFailed, "c_sf2"}});
  RecommendResult r = Run(Make(true), catalog, h, 10, {"书法"});
  ASSERT_GE(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].course->id, "c_sf2");
  EXPECT_EQ(r.items[0].reason, "未通过 书法进阶，可再学一次");
  const ScoredCourse* gentle = Find(r, "c_new");
  ASSERT_NE(gentle, nullptr);
  EXPECT_EQ(gentle->reason, "先打好基础，再学 书法进阶");
  EXPECT_EQ(gentle->reason_kind, ReasonKind::kFoundation);
  // 硬笔书法 needs 书法进阶, which was failed.
  const ScoredCourse* sf3 = Find(r, "c_sf3");
  ASSERT_NE(sf3, nullptr);
  EXPECT_THAT(sf3->missing_prerequisites, ElementsAre("c_sf2"));
  ExpectReadyFirst(r);
}

TEST_F(RecommenderReadinessTest, AnotherSectionOfThePrerequisiteCounts) {
  // 书法入门（第二期） completed: 书法进阶 (which names 书法入门) is ready.
  LearnerHistory h = History({{vocab::kCompleted, "c_sf1b"}});
  RecommendResult r = Run(Make(true), ChainCatalog(), h, 100);
  const ScoredCourse* sf2 = Find(r, "c_sf2");
  ASSERT_NE(sf2, nullptr);
  EXPECT_TRUE(sf2->missing_prerequisites.empty());
  EXPECT_EQ(Find(r, "c_sf1"), nullptr);  // same series as a completed course
  ExpectReadyFirst(r);
}

// Finished courses are archived at the end of their term (docs/catalog.md),
// and the catalog copy keeps them for the histories that name them: a
// learner who passed 书法入门 (c_sf1), now archived, is not offered its other
// section 书法入门（第二期） (c_sf1b) again, and a course that names that
// section as its prerequisite is ready. The archived course itself is never
// offered.
TEST_F(RecommenderReadinessTest, ACompletedArchivedCourseStillExcludesItsSeriesAndCountsAsAPrerequisite) {
  auto catalog_with = [&](bool keep_archived) {
    const CatalogPtr chain = ChainCatalog();
    std::vector<Course> courses;
    for (Course c : chain->courses()) {
      if (c.id == "c_sf1") {
        if (!keep_archived) continue;  // the catalog copy before archived courses were read
        c.state = CourseState::kArchived;
      }
      if (c.id == "c_sf2") c.prerequisites = {"c_sf1b"};
      courses.push_back(std::move(c));
    }
    return std::make_shared<const CatalogSnapshot>("test", std::move(courses));
  };
  const LearnerHistory h = History({{vocab::kRegistered, "c_sf1"}, {vocab::kPassed, "c_sf1"}});
  // The premise: without the archived course, its history resolves to
  // nothing, and the other section comes back.
  ASSERT_NE(Find(Run(Make(true), catalog_with(false), h, 100, {"书法"}), "c_sf1b"), nullptr);

  const CatalogPtr catalog = catalog_with(true);
  for (int k : {5, 100}) {
    RecommendResult r = Run(Make(true), catalog, h, k, {"书法"});
    ASSERT_FALSE(r.items.empty());
    EXPECT_EQ(Find(r, "c_sf1b"), nullptr) << "k=" << k << ": another section of a completed series";
    EXPECT_EQ(Find(r, "c_sf1"), nullptr) << "k=" << k << ": archived";
    const ScoredCourse* sf2 = Find(r, "c_sf2");
    ASSERT_NE(sf2, nullptr) << "k=" << k;
    EXPECT_TRUE(sf2->missing_prerequisites.empty()) << "k=" << k << ": " << sf2->reason;
    ExpectReadyFirst(r);
  }
  // Nobody is offered an archived course, cold or warm, filtered or not.
  for (const LearnerHistory& other : {LearnerHistory(), History({{vocab::kCompleted, "c_gh1"}})}) {
    EXPECT_EQ(Find(Run(Make(true), catalog, other, 100), "c_sf1"), nullptr);
    EXPECT_EQ(Find(Run(Make(false), catalog, other, 100, {"书法"}), "c_sf1"), nullptr);
  }
}

// The "new course" reason names the history course closest in content to a
// course the model does not know. Many events about one course (a walk-in
// learner's attendance, one statement a session) change nothing: the reason
// is the one a walk over every event gives, computed here from the model's
// content vectors.
TEST_F(RecommenderReadinessTest, NewCourseReasonIsTheSameWhateverHowOftenACourseRecurs) {
  const models::ModelBundle& model = **model_;
  const CatalogPtr catalog = ChainCatalog(false);
  const Course* fresh = catalog->Find("c_new");
  ASSERT_NE(fresh, nullptr);
  ASSERT_FALSE(model.Row("c_new").has_value());
  const std::vector<float> fresh_content = model.EmbedText(Recommender::CourseText(*fresh));
  // The history course whose content is closest, over every event in order
  // (the first of equal scores wins), as Explain did before it collected the
  // history's courses once.
  auto expected_reason = [&](const LearnerHistory& h) {
    float best = 0;
    const Course* best_course = nullptr;
    for (const models::HistoryEvent& e : h.events) {
      const Course* hc = catalog->Find(e.course_id);
      std::optional<int> row = model.Row(e.course_id);
      if (hc == nullptr || !row) continue;
      absl::Span<const float> v = model.ContentVector(*row);
      float s = 0;
      for (size_t d = 0; d < std::min(v.size(), fresh_content.size()); ++d) s += v[d] * fresh_content[d];
      if (s > best) {
        best = s;
        best_course = hc;
      }
    }
    return best_course == nullptr ? std::string() : NewCourseReason(best_course->title);
  };
  std::vector<std::pair<absl::string_view, std::string>> events = {{vocab::kCompleted, "c_gh1"},
                                                                   {vocab::kRegistered, "c_sf3"}};
  for (int i = 0; i < 1000; ++i) events.push_back({vocab::kAttended, "c_sf3"});
  events.push_back({vocab::kCompleted, "c_py1"});
  for (int i = 0; i < 300; ++i) events.push_back({vocab::kAttended, "c_gh1"});
  const LearnerHistory h = History(events);
  ASSERT_EQ(h.events.size(), 1303u);
  const std::string expected = expected_reason(h);
  ASSERT_FALSE(expected.empty());
  RecommendResult r = Run(Make(true), catalog, h, 10, {"书法"});
  const ScoredCourse* shown = Find(r, "c_new");
  ASSERT_NE(shown, nullptr);
  EXPECT_EQ(shown->reason_kind, ReasonKind::kNewCourse) << shown->reason;
  EXPECT_EQ(shown->reason, expected);
}

TEST_F(RecommenderReadinessTest, ColdStartOffersNoCourseWithPrerequisitesFirst) {
  RecommendResult r = Run(Make(true), ChainCatalog(), LearnerHistory(), 100);
  ASSERT_TRUE(r.cold_start);
  ExpectReadyFirst(r);
  ASSERT_NE(Find(r, "c_sf3"), nullptr);
  // The direct prerequisites are named (the chain's start follows from them).
  EXPECT_THAT(Find(r, "c_sf3")->missing_prerequisites, ElementsAre("c_sf2"));
  EXPECT_THAT(Find(r, "c_sf2")->missing_prerequisites, ElementsAre("c_sf1"));
}

TEST_F(RecommenderReadinessTest, PrerequisiteMissingFromTheCatalogIsNamedById) {
  // 英语口语 names a prerequisite the catalog does not list.
  std::vector<Course> courses = ChainCatalog()->courses();
  for (Course& c : courses) {
    if (c.id == "c_ey1") c.prerequisites = {"c_gone"};
  }
  CatalogPtr catalog = std::make_shared<const CatalogSnapshot>("test", std::move(courses));
  LearnerHistory h = History({{vocab::kPassed, "c_sf1"}});
  RecommendQuery q;
  q.k = 10;
  q.filter.venue_ids = {"v_dzm"};  // c_sf1b, c_sf3, c_gh2, c_ey1
  absl::StatusOr<RecommendResult> r = Make(true).Recommend(*model_, catalog, h, q, now_);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectReadyFirst(*r);
  ASSERT_THAT(Ids(*r), ElementsAre("c_gh2", ::testing::_, ::testing::_));
  const ScoredCourse* ey1 = Find(*r, "c_ey1");
  ASSERT_NE(ey1, nullptr);
  EXPECT_THAT(ey1->missing_prerequisites, ElementsAre("c_gone"));
  EXPECT_EQ(ey1->reason, "先修：c_gone");
  EXPECT_THAT(Find(*r, "c_sf3")->missing_prerequisites, ElementsAre("c_sf2"));
}

// Every weight of the blend comes from Options::blend (models::ServedBlend),
// the struct the replay recomputes the served ranking with: with only the
// popularity weight left, a warm learner's scores are the model's
// popularity; with only the collaborative weight, the normalised cf (the
// best candidate scores 1).
TEST_F(RecommenderReadinessTest, BlendWeightsComeFromOptions) {
  const LearnerHistory h = History({{vocab::kRegistered, "c_sf1"}, {vocab::kPassed, "c_sf1"}});
  auto zero = [] {
    models::ServedBlend b;
    b.cf = b.popularity = b.completion = b.interest = b.proximity = b.audience = 0;
    b.open_now = b.next_step = b.new_course_content = 0;
    b.cold_popularity = b.cold_pop_completion = b.cold_interest = b.cold_proximity = 0;
    b.cold_audience = b.cold_open_now = b.retry_bonus = b.foundation_bonus = 0;
    b.online_proximity = b.similar_cf = b.similar_content = b.similar_popularity = 0;
    return b;
  };
  auto make = [](const models::ServedBlend& blend) {
    Recommender::Options o;
    o.readiness = false;
    o.blend = blend;
    return Recommender(
        [](const std::shared_ptr<const models::ModelBundle>&, std::vector<float>,
           int) -> absl::StatusOr<std::vector<models::Candidate>> {
          return absl::InternalError("small models are scanned exactly");
        },
        o);
  };
  const models::ModelBundle& model = **model_;
  models::ServedBlend only_pop = zero();
  only_pop.popularity = 1;
  RecommendResult pop = Run(make(only_pop), ChainCatalog(), h, 8);
  ASSERT_FALSE(pop.items.empty());
  for (const ScoredCourse& s : pop.items) {
    std::optional<int> row = model.Row(s.course->id);
    EXPECT_DOUBLE_EQ(s.score, row ? model.Popularity(*row) : 0.0) << s.course->id;
  }
  models::ServedBlend only_cf = zero();
  only_cf.cf = 1;
  RecommendResult cf = Run(make(only_cf), ChainCatalog(), h, 8);
  ASSERT_FALSE(cf.items.empty());
  double best = 0;
  for (const ScoredCourse& s : cf.items) {
    EXPECT_GE(s.score, 0.0) << s.course->id;
    EXPECT_LE(s.score, 1.0 + 1e-12) << s.course->id;
    best = std::max(best, s.score);
  }
  EXPECT_DOUBLE_EQ(best, 1.0);
  // The defaults are the documented served weights (docs/recommend.md),
  // configuration district-2026-12 (docs/models.md).
  const models::ServedBlend d = Recommender::Options().blend;
  EXPECT_EQ(d.cf, 0.55);
  EXPECT_EQ(d.popularity, 0.03);
  EXPECT_EQ(d.completion, 0.0);
  EXPECT_EQ(d.cold_popularity, 0.25);
  EXPECT_EQ(d.cold_pop_completion, 0.1);
}

// The public contract of Recommend beyond readiness: cold start without a
// history, what a history changes, the filters, k.
TEST_F(RecommenderReadinessTest, ColdStartWithoutHistory) {
  const Recommender r = Make(/*readiness=*/false);
  RecommendResult out = Run(r, ChainCatalog(false), LearnerHistory(), 5);
  EXPECT_TRUE(out.cold_start);
  EXPECT_EQ(out.model_version, (*model_)->version());
  ASSERT_FALSE(out.items.empty());
  EXPECT_LE(out.items.size(), 5u);
  std::set<std::string> ids;
  for (const ScoredCourse& s : out.items) {
    EXPECT_TRUE(ids.insert(s.course->id).second) << "duplicate " << s.course->id;
    EXPECT_FALSE(s.reason.empty()) << s.course->id;
  }
}

// The candidate pool's per-course slots are the thread's, reused from
// request to request (recommender.cc, PoolSlots): an answer must not depend
// on what the thread answered before (histories whose completions were
// rejected from the pool, a larger and a smaller catalog), so each request,
// answered on this thread after all the others, equals the same request
// answered first on a fresh thread; course, score bits and reason alike.
TEST_F(RecommenderReadinessTest, AnswersDoNotDependOnTheRequestsTheThreadAnsweredBefore) {
  const Recommender r = Make(/*readiness=*/true);
  const CatalogPtr full = ChainCatalog(true);
  std::vector<Course> half(full->courses().begin(), full->courses().begin() + full->courses().size() / 2);
  const CatalogPtr small = std::make_shared<const CatalogSnapshot>("small", std::move(half));
  keep_.push_back(small);
  const std::vector<LearnerHistory> histories = {
      LearnerHistory(),
      History({{vocab::kRegistered, "c_sf1"}, {vocab::kCompleted, "c_sf1"}}),
      History({{vocab::kCompleted, "c_sf1"}, {vocab::kFailed, "c_sf2"}, {vocab::kRegistered, "c_sf3"}}),
  };
  auto answer = [&](const CatalogPtr& catalog, const LearnerHistory& h, int k) {
    RecommendResult res = Run(r, catalog, h, k);
    std::string key;
    for (const ScoredCourse& s : res.items) {
      uint64_t bits;
      std::memcpy(&bits, &s.score, sizeof(bits));
      absl::StrAppend(&key, s.course->id, "/", bits, "/", s.reason, "/", static_cast<int>(s.reason_kind), ";");
    }
    return key;
  };
  struct Case {
    CatalogPtr catalog;
    int history;
    int k;
  };
  std::vector<Case> cases;
  for (const CatalogPtr& c : {full, small}) {
    for (int h = 0; h < static_cast<int>(histories.size()); ++h) {
      for (int k : {1, 5, 40}) cases.push_back({c, h, k});
    }
  }
  std::vector<std::string> fresh(cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    std::thread t([&, i] { fresh[i] = answer(cases[i].catalog, histories[cases[i].history], cases[i].k); });
    t.join();
    ASSERT_FALSE(fresh[i].empty()) << i;
  }
  for (int round = 0; round < 2; ++round) {
    for (size_t j = 0; j < cases.size(); ++j) {
      const size_t i = round == 0 ? j : cases.size() - 1 - j;  // forwards, then backwards
      EXPECT_EQ(answer(cases[i].catalog, histories[cases[i].history], cases[i].k), fresh[i]) << "case " << i;
    }
  }
}

TEST_F(RecommenderReadinessTest, HistoryRanksAndExcludesWhatWasCompleted) {
  const Recommender r = Make(/*readiness=*/false);
  const LearnerHistory h = History({{vocab::kRegistered, "c_sf1"}, {vocab::kCompleted, "c_sf1"}});
  RecommendResult out = Run(r, ChainCatalog(false), h, 8);
  EXPECT_FALSE(out.cold_start);
  ASSERT_FALSE(out.items.empty());
  for (const ScoredCourse& s : out.items) EXPECT_NE(s.course->id, "c_sf1") << "completed courses are not offered";
  // The learners the model was trained on go on from 书法入门 within 书法:
  // a history of it puts a 书法 course first, unlike cold start's answer
  // ordering, which is by popularity.
  EXPECT_EQ(out.items.front().course->category, "书法") << out.items.front().course->id;
}

// "Because you ..." reasons name the history course that contributes most to
// the course's score: ModelBundle::TopContributor's answer, which Explain
// computes from the history rows weighed once per request. A mixed history
// (several verbs, a course seen twice) so that the weights and the event each
// row points to matter.
TEST_F(RecommenderReadinessTest, BecauseReasonsNameTheModelsTopContributor) {
  const Recommender r = Make(/*readiness=*/false);
  const CatalogPtr catalog = ChainCatalog(false);
  const models::ModelBundle& model = **model_;
  std::vector<std::string> known;
  for (const std::string& id : model.course_ids()) {
    if (catalog->Find(id) != nullptr) known.push_back(id);
  }
  ASSERT_GE(known.size(), 6u);
  const LearnerHistory h = History({{vocab::kCompleted, known[0]},
                                    {vocab::kAttended, known[1]},
                                    {vocab::kRegistered, known[2]},
                                    {vocab::kAttended, known[3]},
                                    {vocab::kAttended, known[1]},
                                    {vocab::kAttended, known[4]}});
  RecommendResult out = Run(r, catalog, h, 30);
  ASSERT_FALSE(out.cold_start);
  int checked = 0;
  for (const ScoredCourse& s : out.items) {
    if (s.reason.rfind("因为你", 0) != 0) continue;
    std::optional<int> row = model.Row(s.course->id);
    ASSERT_TRUE(row.has_value()) << s.course->id;
    std::optional<models::Contribution> top = model.TopContributor(h.events, *row);
    const std::string expected =
        top ? BecauseReason(h.verbs[top->history_index], catalog->Find(top->course_id)->title) : "";
    if (s.reason.rfind("因为你完成了", 0) == 0 && s.reason != expected) {
      // Otherwise only the next level of a completed course says this.
      EXPECT_EQ(s.reason, BecauseReason(vocab::kCompleted, catalog->Find(known[0])->title)) << s.course->id;
      continue;
    }
    EXPECT_EQ(s.reason, expected) << s.course->id;
    ++checked;
  }
  EXPECT_GE(checked, 1) << "no reason came from the model's decomposition";
}

TEST_F(RecommenderReadinessTest, FiltersKeepOnlyMatchingCourses) {
  const Recommender r = Make(/*readiness=*/false);
  const LearnerHistory h = History({{vocab::kCompleted, "c_sf1"}});
  RecommendResult health = Run(r, ChainCatalog(false), h, 10, {"健身"});
  ASSERT_FALSE(health.items.empty());
  for (const ScoredCourse& s : health.items) EXPECT_EQ(s.course->category, "健身") << s.course->id;

  RecommendQuery online;
  online.k = 10;
  online.filter.modes = {"online"};
  keep_.push_back(ChainCatalog(false));
  absl::StatusOr<RecommendResult> got = r.Recommend(*model_, keep_.back(), h, online, now_);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_FALSE(got->items.empty());
  for (const ScoredCourse& s : got->items) EXPECT_EQ(s.course->mode, "online") << s.course->id;

  // A filter nothing matches is an empty answer, not an error.
  RecommendResult none = Run(r, ChainCatalog(false), h, 10, {"不存在的类别"});
  EXPECT_TRUE(none.items.empty());
}

TEST_F(RecommenderReadinessTest, KBoundsTheAnswer) {
  const Recommender r = Make(/*readiness=*/false);
  for (int k : {1, 3, 100}) {
    RecommendResult out = Run(r, ChainCatalog(false), LearnerHistory(), k);
    EXPECT_LE(out.items.size(), static_cast<size_t>(k));
    EXPECT_FALSE(out.items.empty());
  }
}

// Identity-basis models (exact item-item scores, the trainer's default up to
// 4,096 items) are scanned on the request thread even above
// exact_scan_max_floats: a 1,500-course model is 2.25M floats (> 2^21), and
// its answers never reach the search function; with only the collaborative
// weight the first course is the offline model's best (ScoreAll) outside the
// history. exact_identity_scan_max_floats = 0 hands it to `search`.
TEST(RecommenderExactScan, IdentityModelsAboveTheFloatLimitAreScannedOnTheRequestThread) {
  models::SyntheticOptions so;
  so.learners = 4000;
  so.items = 1500;
  so.tracks = 50;
  so.seed = 11;
  auto arrays = models::TrainModel(models::GenerateSyntheticInteractions(so), {}, models::TrainOptions());
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  ASSERT_TRUE(arrays->identity_query);
  auto built = models::BuildModelBundle(std::move(*arrays), nlohmann::json::object(), 1, "mem");
  ASSERT_TRUE(built.ok()) << built.status();
  const std::shared_ptr<const models::ModelBundle> model = *built;
  ASSERT_GT(static_cast<int64_t>(model->index_info().indexed_items) * model->dim(),
            Recommender::Options().exact_scan_max_floats);
  auto catalog = CatalogOf(*model);
  const std::vector<std::string> taken = {model->CourseId(10), model->CourseId(11), model->CourseId(12)};
  const LearnerHistory history = CompletedInOrder(taken);
  int searches = 0;
  auto make = [&searches](int64_t identity_max) {
    Recommender::Options o;
    o.readiness = false;
    o.exact_identity_scan_max_floats = identity_max;
    models::ServedBlend only_cf;
    only_cf.popularity = only_cf.completion = only_cf.interest = only_cf.proximity = 0;
    only_cf.audience = only_cf.open_now = only_cf.next_step = 0;
    o.blend = only_cf;
    return Recommender(
        [&searches](const std::shared_ptr<const models::ModelBundle>&, std::vector<float>,
                    int) -> absl::StatusOr<std::vector<models::Candidate>> {
          ++searches;
          return absl::InternalError("search called");
        },
        o);
  };
  RecommendQuery q;
  q.k = 5;
  const absl::Time now = absl::FromUnixSeconds(1795000000);
  Recommender scanned = make(int64_t{1} << 25);
  absl::StatusOr<RecommendResult> got = scanned.Recommend(model, catalog, history, q, now);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(searches, 0);
  ASSERT_FALSE(got->items.empty());
  EXPECT_EQ(got->items.front().course->id, BestOfflineUntaken(*model, taken));
  EXPECT_DOUBLE_EQ(got->items.front().score, 0.55);  // blend.cf * (best cf / best cf)

  Recommender batched = make(0);
  absl::StatusOr<RecommendResult> via_search = batched.Recommend(model, catalog, history, q, now);
  EXPECT_EQ(searches, 1);
  EXPECT_FALSE(via_search.ok());
}

// Sparse bundles (above the dense limit, the trainer's exact path up to
// 20,000 collaborative items) are always scanned on the request thread from
// their CSR rows: Recommend ranks by the offline model's scores (ScoreAll)
// without calling `search`, and Similar's collaborative cosine is the cosine
// of M's columns (DenseItemVector), as for dense models.
TEST(RecommenderExactScan, SparseModelsAreServedExactlyFromTheirRows) {
  models::SyntheticOptions so;
  so.learners = 4000;
  so.items = 1500;
  so.tracks = 50;
  so.seed = 12;
  models::TrainOptions o;
  o.dense_max_items = 1000;  // 1,500 items: the sparse exact path
  auto arrays = models::TrainModel(models::GenerateSyntheticInteractions(so), {}, o);
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  ASSERT_TRUE(arrays->sparse);
  auto built = models::BuildModelBundle(std::move(*arrays), nlohmann::json::object(), 1, "mem");
  ASSERT_TRUE(built.ok()) << built.status();
  const std::shared_ptr<const models::ModelBundle> model = *built;
  ASSERT_TRUE(model->sparse_item_matrix());
  auto catalog = CatalogOf(*model);
  const std::vector<std::string> taken = {model->CourseId(20), model->CourseId(21), model->CourseId(22)};
  const LearnerHistory history = CompletedInOrder(taken);
  int searches = 0;
  Recommender::Options ro;
  ro.readiness = false;
  models::ServedBlend only_cf;
  only_cf.popularity = only_cf.completion = only_cf.interest = only_cf.proximity = 0;
  only_cf.audience = only_cf.open_now = only_cf.next_step = 0;
  only_cf.similar_content = only_cf.similar_popularity = 0;
  ro.blend = only_cf;
  Recommender recommender(
      [&searches](const std::shared_ptr<const models::ModelBundle>&, std::vector<float>,
                  int) -> absl::StatusOr<std::vector<models::Candidate>> {
        ++searches;
        return absl::InternalError("search called");
      },
      ro);
  RecommendQuery q;
  q.k = 5;
  const absl::Time now = absl::FromUnixSeconds(1795000000);
  absl::StatusOr<RecommendResult> got = recommender.Recommend(model, catalog, history, q, now);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(searches, 0);
  ASSERT_FALSE(got->items.empty());
  EXPECT_EQ(got->items.front().course->id, BestOfflineUntaken(*model, taken));
  EXPECT_DOUBLE_EQ(got->items.front().score, 0.55);  // blend.cf * (best cf / best cf)

  // Similar: the best collaborative cosine of the source's column.
  const int source = 30;
  absl::StatusOr<RecommendResult> similar =
      recommender.Similar(model, catalog, model->CourseId(source), 3, CourseFilter(), now);
  ASSERT_TRUE(similar.ok()) << similar.status();
  EXPECT_EQ(searches, 0);
  ASSERT_FALSE(similar->items.empty());
  const std::vector<float> col = model->DenseItemVector(source);
  auto cosine = [&](int r) {
    const std::vector<float> v = model->DenseItemVector(r);
    double dot = 0, nv = 0, nc = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      dot += static_cast<double>(col[i]) * v[i];
      nv += static_cast<double>(v[i]) * v[i];
      nc += static_cast<double>(col[i]) * col[i];
    }
    return nv > 0 && nc > 0 ? dot / std::sqrt(nv * nc) : 0.0;
  };
  int most = -1;
  for (int r = 0; r < model->num_items(); ++r) {
    if (r != source && model->InteractionCount(r) > 0 && (most < 0 || cosine(r) > cosine(most))) {
      most = r;
    }
  }
  ASSERT_GT(cosine(most), 0);
  EXPECT_EQ(similar->items.front().course->id, model->CourseId(most));
  EXPECT_NEAR(similar->items.front().score, only_cf.similar_cf * cosine(most), 1e-4);
}

}  // namespace
}  // namespace lifelong::recommend
