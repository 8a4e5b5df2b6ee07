#include "services/demo/demo_district.h"

#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include "gtest/gtest.h"
#include "services/demo/catalog_topics.h"
#include "services/demo/district.h"
#include "services/domain/vocabulary.h"

namespace lifelong::demo {
namespace {

DemoOptions Small(uint64_t seed = 7) {
  DemoOptions o;
  o.learners = 2000;
  o.courses = 300;
  o.seed = seed;
  return o;
}

TEST(DemoDistrict, SameSeedGivesSameCoursesAndStatements) {
  DemoDistrict a(Small()), b(Small());
  ASSERT_EQ(a.courses().size(), 300u);
  ASSERT_EQ(a.courses().size(), b.courses().size());
  for (size_t i = 0; i < a.courses().size(); ++i) {
    EXPECT_EQ(a.courses()[i].course.SerializeAsString(), b.courses()[i].course.SerializeAsString()) << i;
  }
  for (int i : {1, 2, 999, 2000}) EXPECT_EQ(a.LearnerStatements(i), b.LearnerStatements(i)) << i;
}

TEST(DemoDistrict, OtherSeedGivesOtherData) {
  DemoDistrict a(Small(7)), b(Small(8));
  int differing = 0;
  for (int i = 1; i <= 20; ++i) differing += a.LearnerStatements(i) != b.LearnerStatements(i);
  EXPECT_GT(differing, 15);
  // Statement ids depend on the seed, so two districts never collide.
  auto sa = a.LearnerStatements(1), sb = b.LearnerStatements(1);
  ASSERT_FALSE(sa.empty());
  ASSERT_FALSE(sb.empty());
  EXPECT_NE(nlohmann::json::parse(sa[0])["id"], nlohmann::json::parse(sb[0])["id"]);
}

TEST(DemoDistrict, LearnerDoesNotDependOnDistrictSize) {
  // A learner's data depends on the seed and the catalog only: loading fewer
  // learners (tests) or resuming mid-way gives the same statements.
  DemoOptions big = Small();
  big.learners = 50000;
  DemoDistrict a(Small()), b(big);
  EXPECT_EQ(a.LearnerStatements(42), b.LearnerStatements(42));
}

TEST(DemoDistrict, PrerequisiteChainsAreValid) {
  DemoDistrict d(Small());
  std::map<std::string, int> index;
  for (size_t i = 0; i < d.courses().size(); ++i) index[d.courses()[i].course.id()] = static_cast<int>(i);
  int chains = 0;
  for (size_t i = 0; i < d.courses().size(); ++i) {
    const DemoCourse& c = d.courses()[i];
    EXPECT_EQ(c.course.level(), c.level + 1);
    if (c.level == 0) {
      EXPECT_EQ(c.course.prerequisite_ids_size(), 0) << c.course.id();
      ++chains;
      continue;
    }
    ASSERT_EQ(c.course.prerequisite_ids_size(), 1) << c.course.id();
    auto it = index.find(c.course.prerequisite_ids(0));
    ASSERT_NE(it, index.end());
    const DemoCourse& pre = d.courses()[it->second];
    EXPECT_LT(it->second, static_cast<int>(i));  // created first: ids in order
    EXPECT_EQ(pre.level, c.level - 1);
    EXPECT_EQ(pre.topic, c.topic);
    EXPECT_EQ(pre.category, c.category);
    EXPECT_EQ(pre.venue, c.venue);
  }
  EXPECT_EQ(chains, 100);
}

TEST(DemoDistrict, CoursesArePlausibleAndCoverEveryXuequ) {
  DemoDistrict d(DemoOptions{});  // the full 1,500-course catalog
  ASSERT_EQ(d.courses().size(), 1500u);
  std::set<std::string> xuequ, jiedao, categories, ids;
  int online = 0;
  for (const DemoCourse& c : d.courses()) {
    const v1::Course& k = c.course;
    EXPECT_TRUE(ids.insert(k.id()).second) << k.id();
    EXPECT_FALSE(k.title().empty());
    EXPECT_GT(k.description().size(), 30u);
    EXPECT_GT(k.hours(), 0);
    EXPECT_GT(k.credits(), 0);
    EXPECT_GT(k.audiences_size(), 0);
    categories.insert(k.category());
    if (k.mode() == v1::Course::ONLINE) {
      ++online;
      EXPECT_EQ(k.sessions_size(), 0);
      EXPECT_EQ(k.provider().kind(), v1::Provider::ONLINE_PLATFORM);
      continue;
    }
    ASSERT_FALSE(k.venue().id().empty());
    xuequ.insert(k.venue().xuequ());
    jiedao.insert(k.venue().jiedao());
    EXPECT_NEAR(k.venue().location().latitude(), 39.93, 0.1);
    EXPECT_NEAR(k.venue().location().longitude(), 116.41, 0.1);
    EXPECT_GT(k.capacity(), 0);
    EXPECT_LE(k.seats_taken(), k.capacity());
    ASSERT_GT(k.sessions_size(), 0);
    EXPECT_LT(k.sessions(0).start_time().seconds(), k.sessions(0).end_time().seconds());
    // Enrolment is open in late November 2026 (the demo's "now") and closes
    // after the first session.
    EXPECT_LT(k.enrollment_open_time().seconds(), 1795000000);   // 2026-11-18
    EXPECT_GT(k.enrollment_close_time().seconds(), 1796000000);  // 2026-11-30
    EXPECT_GT(k.enrollment_close_time().seconds(), k.sessions(0).start_time().seconds());
  }
  EXPECT_EQ(xuequ, std::set<std::string>(Xuequs().begin(), Xuequs().end()));
  EXPECT_EQ(jiedao.size(), 17u);
  EXPECT_EQ(categories.size(), Categories().size());
  EXPECT_GT(online, 200);
  EXPECT_LT(online, 700);
}

TEST(DemoDistrict, StatementsUseTheDistrictVocabulary) {
  DemoDistrict d(Small());
  std::set<std::string> verbs, platforms, xuequ;
  int64_t n = 0;
  for (int i = 1; i <= 300; ++i) {
    const Learner l = d.MakeLearner(i);
    int64_t last = 0;
    for (const std::string& s : d.LearnerStatements(i)) {
      auto j = nlohmann::json::parse(s);
      ++n;
      EXPECT_EQ(j["actor"]["account"]["name"], l.id);
      EXPECT_EQ(j["actor"]["account"]["homePage"], std::string(vocab::kDistrictIdp));
      verbs.insert(j["verb"]["id"]);
      EXPECT_FALSE(vocab::CourseIdFromIri(j["object"]["id"].get<std::string>()).empty());
      const auto& ext = j["context"]["extensions"];
      EXPECT_TRUE(ext.contains(std::string(vocab::kExtMode)));
      xuequ.insert(ext[std::string(vocab::kExtXuequ)].get<std::string>());
      platforms.insert(j["context"]["platform"]);
      EXPECT_EQ(j["id"].get<std::string>().size(), 36u);
      (void)last;
    }
  }
  EXPECT_GT(n, 300 * 10);
  EXPECT_EQ(verbs, (std::set<std::string>{std::string(vocab::kRegistered), std::string(vocab::kAttended),
                                          std::string(vocab::kCompleted), std::string(vocab::kPassed),
                                          std::string(vocab::kFailed), std::string(vocab::kExperienced),
                                          std::string(vocab::kRated)}));
  EXPECT_EQ(platforms, (std::set<std::string>{"app", "kiosk"}));
  EXPECT_EQ(xuequ.size(), 8u);
}

TEST(DemoDistrict, EventsAreOrderedAndFollowTheLevels) {
  DemoDistrict d(Small());
  int dropouts = 0, failures = 0, advanced_starts = 0, sequences = 0;
  for (int i = 1; i <= 2000; ++i) {
    const Learner l = d.MakeLearner(i);
    EXPECT_GE(l.age, 6);
    EXPECT_LE(l.age, 88);
    const std::vector<Event> ev = d.Events(l);
    std::set<int> passed;
    std::map<int, int> registered, finished;
    for (size_t k = 0; k < ev.size(); ++k) {
      if (k > 0) {
        EXPECT_LE(ev[k - 1].time_us, ev[k].time_us);
      }
      EXPECT_LT(ev[k].time_us, d.cutoff_us());
      const DemoCourse& c = d.courses()[ev[k].course];
      if (ev[k].verb == "registered") {
        registered[ev[k].attempt] = ev[k].course;
        // A higher level is only started after passing the one before.
        if (c.level > 0) {
          ++advanced_starts;
          EXPECT_TRUE(passed.count(ev[k].course - 1)) << l.id << " " << c.course.id();
        }
      }
      if (ev[k].verb == "completed" || ev[k].verb == "passed") {
        passed.insert(ev[k].course);
        finished[ev[k].attempt] = 1;
      }
      if (ev[k].verb == "failed") {
        ++failures;
        finished[ev[k].attempt] = 1;
      }
    }
    for (const auto& [attempt, course] : registered) dropouts += finished.count(attempt) == 0;
    sequences += !ev.empty();
  }
  EXPECT_GT(advanced_starts, 500);  // learners move on through the levels
  EXPECT_GT(dropouts, 100);         // some drop out
  EXPECT_GT(failures, 20);          // some fail
  EXPECT_GT(sequences, 1900);       // nearly everyone learnt something
}

TEST(DemoDistrict, AgeDrivesInterests) {
  DemoDistrict d(Small());
  // Share of each life stage's registrations that fall in senior-oriented
  // categories, and in children's science/technology courses.
  std::map<LifeStage, int> total, senior_topics, tech;
  for (int i = 1; i <= 2000; ++i) {
    const Learner l = d.MakeLearner(i);
    for (const Event& e : d.Events(l)) {
      if (e.verb != "registered") continue;
      const std::string& cat = d.courses()[e.course].course.category();
      total[l.stage]++;
      senior_topics[l.stage] += cat == "老年教育" || cat == "智能手机与数字素养";
      tech[l.stage] += cat == "科技与人工智能";
      // The course's audiences include the learner's age group.
      bool fits = false;
      for (int a : d.courses()[e.course].course.audiences()) {
        const int want = l.stage == LifeStage::kChild    ? v1::Course::CHILDREN
                         : l.stage == LifeStage::kTeen   ? v1::Course::TEENS
                         : l.stage == LifeStage::kSenior ? v1::Course::SENIORS
                                                         : v1::Course::ADULTS;
        fits |= a == want;
      }
      EXPECT_TRUE(fits) << l.id << " age " << l.age << " " << d.courses()[e.course].course.id();
    }
  }
  auto share = [&](std::map<LifeStage, int>& m, LifeStage s) { return 1.0 * m[s] / std::max(1, total[s]); };
  EXPECT_GT(share(senior_topics, LifeStage::kSenior), 0.2);
  EXPECT_EQ(senior_topics[LifeStage::kChild], 0);
  EXPECT_GT(share(tech, LifeStage::kChild), 3 * share(tech, LifeStage::kSenior));
  // Parents take family-education courses; children do not.
  int parents_family = 0, children_family = 0;
  for (int i = 1; i <= 2000; ++i) {
    const Learner l = d.MakeLearner(i);
    for (const Event& e : d.Events(l)) {
      if (e.verb != "registered" || d.courses()[e.course].course.category() != "家庭教育") continue;
      parents_family += l.stage == LifeStage::kParent;
      children_family += l.stage == LifeStage::kChild;
    }
  }
  EXPECT_GT(parents_family, 30);
  EXPECT_EQ(children_family, 0);
}

TEST(DemoDistrict, LearnersPreferVenuesNearHome) {
  DemoOptions o = Small();
  o.courses = 1500;  // several offerings per subject to choose from
  DemoDistrict d(o);
  // Chosen offline venue vs. the average of the same-level offline offerings
  // of the same subject (what a learner ignoring distance would get).
  double chosen_km = 0, alternative_km = 0;
  int offline = 0;
  for (int i = 1; i <= 2000; ++i) {
    const Learner l = d.MakeLearner(i);
    const Jiedao& home = Jiedaos()[l.jiedao];
    auto km = [&](const DemoCourse& c) {
      const auto& loc = c.course.venue().location();
      return DistanceKm(home.lat, home.lng, loc.latitude(), loc.longitude());
    };
    for (const Event& e : d.Events(l)) {
      const DemoCourse& c = d.courses()[e.course];
      if (e.verb != "registered" || c.venue < 0) continue;
      double sum = 0;
      int n = 0;
      for (const DemoCourse& other : d.courses()) {
        if (other.venue >= 0 && other.category == c.category && other.topic == c.topic && other.level == c.level) {
          sum += km(other);
          ++n;
        }
      }
      ++offline;
      chosen_km += km(c);
      alternative_km += sum / n;
    }
  }
  ASSERT_GT(offline, 500);
  EXPECT_LT(chosen_km, 0.75 * alternative_km) << chosen_km / offline << " km vs " << alternative_km / offline;
}

}  // namespace

// The demo must look alive whenever it is loaded: pinned to a day a year after
// the reference, every open offline course still takes enrolments that day and
// meets in the coming weeks, no event lies after that day, and the same day
// gives the same district.
TEST(DemoDistrict, DatesFollowTheLoadDay) {
  DemoOptions o = Small();
  const int64_t day_us = 86400LL * 1000000;
  // 2027-12-02T00:00:00Z, a year after this code was written.
  o.today_us = 1827705600LL * 1000000;
  DemoDistrict d(o), again(o);
  EXPECT_GT(d.shift_us(), 360 * day_us);
  EXPECT_EQ(d.shift_us() % (7 * day_us), 0);
  EXPECT_LE(d.cutoff_us(), o.today_us);
  EXPECT_GT(d.cutoff_us(), o.today_us - 7 * day_us);
  const int64_t now_s = o.today_us / 1000000;
  int open_offline = 0, starting_soon = 0;
  for (const DemoCourse& c : d.courses()) {
    const v1::Course& k = c.course;
    if (c.venue < 0 || k.state() != v1::Course::OPEN) continue;
    ++open_offline;
    EXPECT_LE(k.enrollment_open_time().seconds(), now_s) << k.id();
    EXPECT_GT(k.enrollment_close_time().seconds(), now_s) << k.id();
    EXPECT_GT(k.sessions(k.sessions_size() - 1).start_time().seconds(), now_s) << k.id();
    if (c.level == 0 && k.sessions(0).start_time().seconds() < now_s + 14 * 86400) ++starting_soon;
  }
  EXPECT_GT(open_offline, 100);
  EXPECT_GT(starting_soon, 30);  // the 入门 term starts within two weeks
  for (int i = 1; i <= 200; ++i) {
    const Learner l = d.MakeLearner(i);
    for (const Event& e : d.Events(l)) EXPECT_LT(e.time_us, o.today_us);
    EXPECT_EQ(d.LearnerStatements(i), again.LearnerStatements(i));
  }
  // The reference district is the unshifted one.
  EXPECT_EQ(DemoDistrict(Small()).shift_us(), 0);
  EXPECT_EQ(DemoDistrict(Small()).cutoff_us(), DemoDistrict::ReferenceCutoffMicros());
}

}  // namespace lifelong::demo
