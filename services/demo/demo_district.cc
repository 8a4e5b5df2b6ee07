#include "services/demo/demo_district.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/cli/stable_id.h"
#include "services/demo/catalog_topics.h"
#include "services/demo/district.h"
#include "services/domain/vocabulary.h"

namespace lifelong::demo {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kLevelNames[3] = {"入门", "进阶", "提高"};
constexpr const char* kLevelText[3] = {
    "面向零基础学员，从基本概念与基础技能讲起",
    "面向已完成入门课程的学员，在基础上系统提升",
    "面向已完成进阶课程的学员，注重综合运用与作品展示",
};

// Category weights by life stage, in the order of Categories():
// 红色, 书法, 戏曲, 传统文化, 美育, 健康, 心理, 家庭教育, 劳动, 科技, 手机, 职业, 法治, 外语, 民族, 老年.
constexpr double kInterest[kLifeStages][16] = {
    {2, 5, 3, 4, 8, 6, 1, 0, 5, 9, 0, 0, 1, 6, 2, 0},   // child
    {3, 3, 2, 3, 6, 5, 4, 0, 3, 10, 0, 1, 2, 7, 2, 0},  // teen
    {2, 2, 1, 3, 5, 7, 6, 1, 1, 8, 1, 8, 3, 7, 1, 0},   // young adult
    {2, 3, 1, 3, 4, 6, 5, 9, 2, 5, 1, 6, 3, 4, 1, 0},   // parent
    {4, 5, 3, 5, 5, 8, 4, 3, 3, 3, 3, 3, 4, 3, 2, 2},   // midlife
    {6, 7, 6, 6, 5, 8, 3, 2, 3, 2, 9, 0, 4, 2, 3, 10},  // senior
};
constexpr double kStageShare[kLifeStages] = {0.10, 0.07, 0.10, 0.22, 0.18, 0.33};
constexpr int kStageAge[kLifeStages][2] = {{6, 12}, {13, 17}, {18, 29}, {30, 44}, {45, 59}, {60, 88}};
constexpr double kStageOnline[kLifeStages] = {0.25, 0.45, 0.6, 0.5, 0.35, 0.15};
constexpr double kStageMoreTracks[kLifeStages] = {0.35, 0.3, 0.3, 0.32, 0.4, 0.5};

int AudienceBit(LifeStage s) {
  switch (s) {
    case LifeStage::kChild:
      return kChildren;
    case LifeStage::kTeen:
      return kTeens;
    case LifeStage::kSenior:
      return kSeniors;
    default:
      return kAdults;
  }
}

uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ULL ^ (b + 0x7F4A7C159E3779B9ULL + (a << 6) + (a >> 2));
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 29;
  return x;
}

int64_t Micros(int y, int m, int d, int h = 0, int min = 0) {
  return absl::ToUnixMicros(absl::FromCivil(absl::CivilMinute(y, m, d, h, min), absl::UTCTimeZone()));
}

constexpr int64_t kDayUs = 86400LL * 1000000;
constexpr int64_t kHourUs = 3600LL * 1000000;

void SetTs(int64_t micros, google::protobuf::Timestamp* ts) {
  ts->set_seconds(micros / 1000000);
  ts->set_nanos(static_cast<int32_t>((micros % 1000000) * 1000));
}

std::string Rfc3339(int64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMicros(micros), absl::UTCTimeZone());
}

}  // namespace

uint64_t Rng::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

int Rng::Uniform(int n) { return n <= 1 ? 0 : static_cast<int>(Next() % static_cast<uint64_t>(n)); }

double Rng::Double() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }

int Rng::Weighted(const std::vector<double>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  double r = Double() * total;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (r < weights[i]) return static_cast<int>(i);
    r -= weights[i];
  }
  for (size_t i = weights.size(); i-- > 0;) {
    if (weights[i] > 0) return static_cast<int>(i);
  }
  return 0;
}

const char* LifeStageName(LifeStage s) {
  static const char* kNames[] = {"child", "teen", "young_adult", "parent", "midlife", "senior"};
  return kNames[static_cast<int>(s)];
}

int64_t DemoDistrict::ReferenceCutoffMicros() { return Micros(2026, 11, 27, 12); }

int64_t DemoDistrict::cutoff_us() const { return ReferenceCutoffMicros() + shift_us_; }

int64_t DemoDistrict::At(int y, int m, int d, int h) const { return Micros(y, m, d, h) + shift_us_; }

namespace {
// Whole weeks from the reference cutoff to `today_us`, rounded down, so the
// shifted cutoff falls in the week before today.
int64_t WeeksShift(int64_t today_us) {
  if (today_us == 0) return 0;
  const int64_t week = 7 * kDayUs;
  int64_t diff = today_us - DemoDistrict::ReferenceCutoffMicros();
  int64_t weeks = diff / week;
  if (diff % week < 0) --weeks;  // floor for dates before the reference
  return weeks * week;
}
}  // namespace

DemoDistrict::DemoDistrict(const DemoOptions& options) : options_(options), shift_us_(WeeksShift(options.today_us)) {
  const auto& cats = Categories();
  const auto& venues = Venues();
  chains_.resize(cats.size());
  for (size_t c = 0; c < cats.size(); ++c) chains_[c].resize(cats[c].topics.size());
  // Topics in a fixed round-robin order, so every topic gets offerings before
  // any gets a second one.
  std::vector<std::pair<int, int>> topics;
  size_t max_topics = 0;
  for (const auto& c : cats) max_topics = std::max(max_topics, c.topics.size());
  for (size_t t = 0; t < max_topics; ++t) {
    for (size_t c = 0; c < cats.size(); ++c) {
      if (t < cats[c].topics.size()) topics.push_back({static_cast<int>(c), static_cast<int>(t)});
    }
  }
  Rng rng(Mix(options_.seed, 0xC0C0));
  const int64_t term_start = At(2026, 12, 7, 1);  // Monday 09:00 Beijing
  int offering = 0;
  while (static_cast<int>(courses_.size()) < options_.courses) {
    const auto [ci, ti] = topics[offering % topics.size()];
    ++offering;
    const Category& cat = cats[ci];
    const Topic& topic = cat.topics[ti];
    const bool online = rng.Bernoulli(cat.online_share);
    int venue = -1;
    if (!online) {
      // Community-education schools most often, then residents' schools,
      // schools and libraries.
      std::vector<double> w;
      for (const DemoVenue& v : venues) {
        switch (v.provider.kind()) {
          case v1::Provider::COMMUNITY_SCHOOL:
            w.push_back(3.0);
            break;
          case v1::Provider::RESIDENTS_SCHOOL:
            w.push_back((topic.audiences & kSeniors) ? 1.2 : 0.6);
            break;
          case v1::Provider::SCHOOL:
            w.push_back((topic.audiences & (kChildren | kTeens)) ? 2.0 : 0.3);
            break;
          default:
            w.push_back(ci == 3 || ci == 9 || ci == 12 || ci == 13 ? 3.0 : 0.6);
        }
      }
      venue = rng.Weighted(w);
    }
    const bool blended = !online && rng.Bernoulli(0.1);
    const int first = static_cast<int>(courses_.size());
    chains_[ci][ti].push_back(first);
    const int weekday_slot = rng.Uniform(3);  // 09:00, 14:00 or 19:00
    const int weekday = rng.Uniform(6);
    for (int level = 0; level < 3 && static_cast<int>(courses_.size()) < options_.courses; ++level) {
      DemoCourse dc;
      dc.category = ci;
      dc.topic = ti;
      dc.level = level;
      dc.venue = venue;
      dc.units = 6 + 2 * rng.Uniform(4);  // 6, 8, 10 or 12
      v1::Course& c = dc.course;
      const int n = static_cast<int>(courses_.size()) + 1;
      c.set_id(absl::StrFormat("c%05d", n));
      const std::string where = online ? "线上" : venues[venue].venue.name();
      c.set_title(absl::StrCat(topic.name, kLevelNames[level], "（", where, "）"));
      c.set_category(cat.name);
      for (const std::string& t : topic.tags) c.add_tags(t);
      c.add_tags(kLevelNames[level]);
      c.add_tags(online ? "线上" : "线下");
      if (online) {
        *c.mutable_provider() = OnlinePlatforms()[rng.Uniform(2)];
        c.set_mode(v1::Course::ONLINE);
        c.set_url(absl::StrCat("https://lifelong.dongcheng.edu.cn/online/", c.id()));
      } else {
        *c.mutable_provider() = venues[venue].provider;
        *c.mutable_venue() = venues[venue].venue;
        c.set_mode(blended ? v1::Course::BLENDED : v1::Course::OFFLINE);
      }
      const double session_hours = online ? 1.0 : 1.5;
      c.set_hours(dc.units * session_hours);
      c.set_credits(std::round(c.hours() / 6.0 * 2) / 2 + 0.5 * level);
      c.set_level(static_cast<v1::Course::Level>(level + 1));
      for (int bit = 0; bit < 4; ++bit) {
        if (topic.audiences & (1 << bit)) c.add_audiences(static_cast<v1::Course::Audience>(bit + 1));
      }
      c.set_language("zh-CN");
      if (level > 0) c.add_prerequisite_ids(courses_.back().course.id());
      // The coming terms (reference dates, shifted by shift_us_): 入门 from
      // 2026-12-07, 进阶 from 2027-03-01, 提高 from 2027-05-10 (Mondays, 09:00
      // Beijing), on the offering's weekday and time slot; enrolment is open
      // from 2026-09-01 until two weeks after the first session, so at the
      // demo's "now" (the week after cutoff_us())
      // every OPEN course takes enrolments.
      const int64_t level_start[3] = {term_start, At(2027, 3, 1, 1), At(2027, 5, 10, 1)};
      const int64_t start = level_start[level] + weekday * kDayUs + weekday_slot * 5 * kHourUs;
      if (!online) {
        for (int s = 0; s < dc.units; ++s) {
          v1::Session* session = c.add_sessions();
          SetTs(start + s * 7 * kDayUs, session->mutable_start_time());
          SetTs(start + s * 7 * kDayUs + static_cast<int64_t>(session_hours * kHourUs), session->mutable_end_time());
          session->set_room(absl::StrCat(1 + rng.Uniform(3), "0", 1 + rng.Uniform(6), "教室"));
        }
        SetTs(At(2026, 9, 1), c.mutable_enrollment_open_time());
        SetTs(start + 14 * kDayUs, c.mutable_enrollment_close_time());
        c.set_capacity(20 + 5 * rng.Uniform(9));
        c.set_seats_taken(rng.Uniform(c.capacity() + 1));
      } else {
        SetTs(At(2026, 1, 1), c.mutable_enrollment_open_time());
      }
      c.set_state(rng.Bernoulli(0.06) ? v1::Course::CLOSED : v1::Course::OPEN);
      std::string desc = absl::StrCat("本课程为「", topic.name, "」系列", kLevelNames[level], "课程，",
                                      kLevelText[level], "。", topic.summary, "。");
      if (online) {
        absl::StrAppend(&desc, "共", dc.units, "讲，每讲约1小时，学员可在", c.provider().name(),
                        "随时学习，完成全部课时可获得学分。");
      } else {
        absl::StrAppend(&desc, "共", dc.units, "次课，每次1.5小时，在", venues[venue].venue.name(), "（",
                        venues[venue].venue.address(), "）上课", blended ? "，部分课时在线上完成" : "", "。");
      }
      if (level > 0) {
        absl::StrAppend(&desc, "建议先完成「", topic.name, kLevelNames[level - 1], "」。");
      }
      c.set_description(std::move(desc));
      courses_.push_back(std::move(dc));
    }
  }
}

Learner DemoDistrict::MakeLearner(int index) const {
  Rng rng(Mix(options_.seed, 0x1EA4000000ULL + static_cast<uint64_t>(index)));
  Learner l;
  l.index = index;
  l.id = absl::StrFormat("u%06d", index);
  l.stage = static_cast<LifeStage>(rng.Weighted(std::vector<double>(std::begin(kStageShare), std::end(kStageShare))));
  const int s = static_cast<int>(l.stage);
  l.age = kStageAge[s][0] + rng.Uniform(kStageAge[s][1] - kStageAge[s][0] + 1);
  l.jiedao = rng.Uniform(static_cast<int>(Jiedaos().size()));
  std::vector<double> w(std::begin(kInterest[s]), std::end(kInterest[s]));
  const int n = 2 + rng.Uniform(3);
  for (int i = 0; i < n; ++i) {
    double total = 0;
    for (double x : w) total += x;
    if (total <= 0) break;
    int c = rng.Weighted(w);
    l.interests.push_back(c);
    w[c] = 0;
  }
  l.online = std::clamp(kStageOnline[s] + (rng.Double() - 0.5) * 0.3, 0.0, 1.0);
  return l;
}

int DemoDistrict::PickChain(const Learner& l, int category, int topic, Rng& rng) const {
  const std::vector<int>& chains = chains_[category][topic];
  if (chains.empty()) return -1;
  const bool want_online = rng.Bernoulli(l.online);
  const Jiedao& home = Jiedaos()[l.jiedao];
  int best = -1;
  double best_score = 1e18;
  for (int first : chains) {
    const DemoCourse& dc = courses_[first];
    double score;
    if (dc.venue < 0) {
      score = want_online ? 0 : 6;
    } else {
      const auto& loc = Venues()[dc.venue].venue.location();
      score = DistanceKm(home.lat, home.lng, loc.latitude(), loc.longitude()) + (want_online ? 3 : 0);
    }
    score += rng.Double() * 2.5;  // not everyone goes to the nearest one
    if (score < best_score) {
      best_score = score;
      best = first;
    }
  }
  return best;
}

std::vector<Event> DemoDistrict::Events(const Learner& l) const {
  Rng rng(Mix(options_.seed, 0xE7E7000000ULL + static_cast<uint64_t>(l.index)));
  const int s = static_cast<int>(l.stage);
  const int audience = AudienceBit(l.stage);
  const int64_t cutoff = cutoff_us();
  const int64_t first_day = At(2024, 3, 1);
  int64_t t = first_day + static_cast<int64_t>(rng.Double() * (At(2026, 9, 1) - first_day));
  std::vector<Event> events;
  int attempt = 0;
  int tracks = 1;
  while (tracks < 5 && rng.Bernoulli(kStageMoreTracks[s])) ++tracks;
  for (int track = 0; track < tracks && t < cutoff; ++track) {
    // An interest (earlier ones more likely) and a topic for this audience.
    std::vector<double> iw;
    for (size_t i = 0; i < l.interests.size(); ++i) iw.push_back(1.0 / (1 + i));
    const int category = l.interests[rng.Weighted(iw)];
    const auto& topics = Categories()[category].topics;
    std::vector<double> tw;
    for (const Topic& tp : topics) tw.push_back((tp.audiences & audience) ? 1.0 : 0.0);
    double total = 0;
    for (double x : tw) total += x;
    if (total <= 0) continue;
    const int topic = rng.Weighted(tw);
    const int first = PickChain(l, category, topic, rng);
    if (first < 0) continue;
    for (int level = 0; level < 3 && t < cutoff; ++level) {
      const int ci = first + level;
      if (ci >= static_cast<int>(courses_.size()) || courses_[ci].topic != topic || courses_[ci].category != category ||
          courses_[ci].level != level) {
        break;
      }
      const DemoCourse& dc = courses_[ci];
      const bool online = dc.venue < 0;
      bool succeeded = false;
      for (int retake = 0; retake < 2 && t < cutoff; ++retake) {
        const int this_attempt = attempt++;
        auto emit = [&](const char* verb, int64_t when, const char* platform, int score = 0) {
          if (when >= cutoff) return false;
          events.push_back({verb, ci, when, platform, this_attempt, score});
          return true;
        };
        emit("registered", t, online || rng.Bernoulli(0.7) ? "app" : "kiosk");
        // Sessions (offline: weekly, attended at the kiosk) or lessons
        // (online: every few days, in the app).
        const bool drops = rng.Bernoulli(0.14);
        const int last_unit = drops ? 1 + rng.Uniform(std::max(1, dc.units / 2)) : dc.units;
        int64_t when = t + (2 + rng.Uniform(5)) * kDayUs;
        int attended = 0;
        for (int u = 0; u < last_unit; ++u) {
          const int64_t at = when + (online ? rng.Uniform(14) * kHourUs : 0);
          if (rng.Bernoulli(online ? 0.95 : 0.88)) {
            if (!emit(online ? "experienced" : "attended", at, online ? "app" : "kiosk")) break;
            ++attended;
          }
          when += online ? (1 + rng.Uniform(5)) * kDayUs : 7 * kDayUs;
        }
        t = when + (1 + rng.Uniform(3)) * kDayUs;
        if (drops || t >= cutoff) {
          // Dropped out (or still in progress at the cut-off).
          t += (14 + rng.Uniform(60)) * kDayUs;
          break;
        }
        const bool assessed = level == 2 || Categories()[category].name == "职业技能" || rng.Bernoulli(0.2);
        const double fail_p = attended * 2 < dc.units ? 0.5 : 0.08;
        if (assessed && rng.Bernoulli(fail_p)) {
          emit("failed", t, "app");
          t += (20 + rng.Uniform(40)) * kDayUs;
          if (!rng.Bernoulli(0.45)) break;  // gives up on this course
          continue;                         // takes it again
        }
        emit(assessed ? "passed" : "completed", t, "app");
        if (rng.Bernoulli(0.3)) {
          emit("rated", t + rng.Uniform(3) * kDayUs, "app", 3 + rng.Uniform(3));
        }
        succeeded = true;
        t += (7 + rng.Uniform(50)) * kDayUs;
        break;
      }
      if (!succeeded || !rng.Bernoulli(level == 0 ? 0.62 : 0.5)) break;
    }
    t += (10 + rng.Uniform(120)) * kDayUs;
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.time_us < b.time_us; });
  return events;
}

std::string DemoDistrict::StatementJson(const Learner& l, const Event& e, int seq) const {
  const DemoCourse& dc = courses_[e.course];
  const v1::Course& c = dc.course;
  const std::string verb_iri = e.verb == "registered"    ? std::string(vocab::kRegistered)
                               : e.verb == "attended"    ? std::string(vocab::kAttended)
                               : e.verb == "completed"   ? std::string(vocab::kCompleted)
                               : e.verb == "passed"      ? std::string(vocab::kPassed)
                               : e.verb == "failed"      ? std::string(vocab::kFailed)
                               : e.verb == "experienced" ? std::string(vocab::kExperienced)
                                                         : std::string(vocab::kRated);
  Json st = Json::object();
  st["id"] = cli::StableUuid(absl::StrCat("demo|", options_.seed, "|", l.id, "|", seq));
  st["actor"] = {{"objectType", "Agent"},
                 {"account", {{"homePage", std::string(vocab::kDistrictIdp)}, {"name", l.id}}}};
  st["verb"] = {{"id", verb_iri}, {"display", {{"en-US", e.verb}}}};
  st["object"] = {
      {"objectType", "Activity"},
      {"id", vocab::CourseIri(c.id())},
      {"definition", {{"name", {{"zh-CN", c.title()}}}, {"type", std::string(vocab::kCourseActivityType)}}}};
  if (e.verb == "rated") {
    st["result"] = {{"score", {{"raw", e.score}, {"min", 1}, {"max", 5}, {"scaled", e.score / 5.0}}}};
  } else if (e.verb == "passed" || e.verb == "failed") {
    const int raw = e.verb == "passed" ? 60 + static_cast<int>((seq * 37 + l.index) % 41)
                                       : 20 + static_cast<int>((seq * 31 + l.index) % 40);
    st["result"] = {{"score", {{"raw", raw}, {"min", 0}, {"max", 100}, {"scaled", raw / 100.0}}},
                    {"success", e.verb == "passed"}};
  } else if (e.verb == "completed") {
    st["result"] = {{"completion", true}};
  }
  Json ext = Json::object();
  const bool online = dc.venue < 0;
  ext[std::string(vocab::kExtMode)] = online ? "online" : (c.mode() == v1::Course::BLENDED ? "blended" : "offline");
  if (!online) {
    ext[std::string(vocab::kExtXuequ)] = c.venue().xuequ();
    ext[std::string(vocab::kExtJiedao)] = c.venue().jiedao();
    ext[std::string(vocab::kExtVenue)] = c.venue().id();
  } else {
    const Jiedao& home = Jiedaos()[l.jiedao];
    ext[std::string(vocab::kExtXuequ)] = Xuequs()[home.xuequ];
    ext[std::string(vocab::kExtJiedao)] = home.name;
  }
  if (e.verb == "completed" || e.verb == "passed") {
    ext[std::string(vocab::kExtCredits)] = c.credits();
    ext[std::string(vocab::kExtHours)] = c.hours();
  }
  st["context"] = {
      {"registration", cli::StableUuid(absl::StrCat("demo-reg|", options_.seed, "|", l.id, "|", e.attempt))},
      {"platform", e.platform},
      {"language", "zh-CN"},
      {"extensions", ext}};
  st["timestamp"] = Rfc3339(e.time_us);
  return st.dump();
}

std::vector<std::string> DemoDistrict::LearnerStatements(int index) const {
  const Learner l = MakeLearner(index);
  const std::vector<Event> events = Events(l);
  std::vector<std::string> out;
  out.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) out.push_back(StatementJson(l, events[i], static_cast<int>(i)));
  return out;
}

}  // namespace lifelong::demo
