// The demo district generator: a deterministic, download-free 东城区 with
// courses (three-level chains over the subjects of catalog_topics.h, at the
// venues of district.h or online) and learners of all ages whose learning
// events become xAPI statements in the district vocabulary.
//
// Everything is a pure function of DemoOptions: the same seed gives the same
// courses, learners and statements (ids included), on any machine. Learners
// are generated independently of one another, so a loader may produce them
// in parallel or resume from any learner. Immutable after construction;
// thread-safe.
#ifndef LIFELONG_SERVICES_DEMO_DEMO_DISTRICT_H_
#define LIFELONG_SERVICES_DEMO_DEMO_DISTRICT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/lifelong/v1/catalog.pb.h"

namespace lifelong::demo {

struct DemoOptions {
  int learners = 50000;  // learner accounts u000001 .. u<learners>
  int courses = 1500;    // catalog size
  uint64_t seed = 20261128;
  // The day the district is loaded, Unix microseconds; 0 = the reference day
  // (2026-11-27). Every date of the district (events, enrolment windows,
  // sessions) is shifted by the whole weeks between the reference day and
  // this one, so "open now" views stay populated whenever the demo is loaded,
  // weekdays and time slots are kept, and the same seed and day give the same
  // district.
  int64_t today_us = 0;
};

// A small deterministic generator (splitmix64); identical on every platform,
// unlike the std:: distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  int Uniform(int n);  // [0, n)
  double Double();     // [0, 1)
  bool Bernoulli(double p) { return Double() < p; }
  // Index drawn with probability proportional to `weights` (not all zero).
  int Weighted(const std::vector<double>& weights);

 private:
  uint64_t state_;
};

// Life stages; the stage sets the audience and the interests.
enum class LifeStage { kChild = 0, kTeen, kYoungAdult, kParent, kMidlife, kSenior };
inline constexpr int kLifeStages = 6;
const char* LifeStageName(LifeStage s);

struct DemoCourse {
  v1::Course course;
  int category = 0;  // index into Categories()
  int topic = 0;     // index into the category's topics
  int level = 0;     // 0 入门, 1 进阶, 2 提高
  int venue = -1;    // index into Venues(); -1 for online courses
  int units = 0;     // sessions (offline) or lessons (online)
};

struct Learner {
  int index = 0;   // 1-based
  std::string id;  // "u000001"
  int age = 0;
  LifeStage stage = LifeStage::kParent;
  int jiedao = 0;              // home 街道 (index into Jiedaos())
  std::vector<int> interests;  // categories, most important first
  double online = 0;           // propensity to take online courses
};

// One learning event of a learner, before it becomes a statement.
struct Event {
  std::string verb;      // short name: registered, attended, ...
  int course = 0;        // index into courses()
  int64_t time_us = 0;   // Unix microseconds
  std::string platform;  // "kiosk" or "app"
  int attempt = 0;       // registration number of this learner (0-based)
  int score = 0;         // 1..5 for "rated"
};

class DemoDistrict {
 public:
  explicit DemoDistrict(const DemoOptions& options);

  const DemoOptions& options() const { return options_; }
  const std::vector<DemoCourse>& courses() const { return courses_; }

  // Learner `index` (1..options().learners).
  Learner MakeLearner(int index) const;
  // The learner's events in time order, all before cutoff_us().
  std::vector<Event> Events(const Learner& learner) const;
  // The statement of `events[i]` as xAPI JSON with a stable id.
  std::string StatementJson(const Learner& learner, const Event& event, int seq) const;
  // All statements of learner `index`, in time order.
  std::vector<std::string> LearnerStatements(int index) const;

  // No event is later than this: 2026-11-27T12:00:00Z shifted by shift_us(),
  // at most a week before options().today_us.
  int64_t cutoff_us() const;
  // Whole weeks (possibly negative) added to every date of the reference
  // district; 0 when options().today_us is 0.
  int64_t shift_us() const { return shift_us_; }
  // The reference cutoff, 2026-11-27T12:00:00Z.
  static int64_t ReferenceCutoffMicros();

 private:
  int PickChain(const Learner& l, int category, int topic, Rng& rng) const;

  // A reference-district date (UTC civil time) shifted by shift_us_.
  int64_t At(int y, int m, int d, int h = 0) const;

  DemoOptions options_;
  int64_t shift_us_ = 0;
  std::vector<DemoCourse> courses_;
  // chains_[category][topic] = first course index of each chain offering.
  std::vector<std::vector<std::vector<int>>> chains_;
};

}  // namespace lifelong::demo

#endif  // LIFELONG_SERVICES_DEMO_DEMO_DISTRICT_H_
