#include "models/district_simulator.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace lifelong::models {
namespace {

constexpr int kAgeGroups = 4;
const char* const kAgeGroupNames[kAgeGroups] = {"青年", "中年", "低龄老年", "高龄老年"};
constexpr double kAgeShare[kAgeGroups] = {0.25, 0.30, 0.28, 0.17};
constexpr double kOnlineWillingness[kAgeGroups] = {0.9, 0.75, 0.45, 0.2};

struct Category {
  const char* name;
  double affinity[kAgeGroups];  // relative interest per age group
};
// In order of overall size (Zipf rank).
const Category kCategories[] = {
    {"健康养生", {0.5, 1.0, 2.0, 2.5}}, {"智能手机应用", {0.1, 0.5, 2.5, 3.0}}, {"书法", {0.5, 1.0, 2.0, 2.0}},
    {"英语口语", {2.0, 1.5, 0.5, 0.2}}, {"太极拳", {0.3, 0.8, 2.5, 2.0}},       {"摄影", {1.5, 1.5, 1.2, 0.5}},
    {"合唱", {0.3, 0.8, 2.0, 1.5}},     {"中式烹饪", {1.0, 1.5, 1.0, 0.5}},     {"编程入门", {2.5, 1.0, 0.2, 0.1}},
    {"京味文化", {0.8, 1.0, 1.5, 1.5}}, {"国画", {0.5, 1.0, 2.0, 1.5}},         {"家庭理财", {1.5, 1.5, 1.0, 0.5}},
    {"亲子教育", {1.5, 2.0, 0.5, 0.2}}, {"心理健康", {1.5, 1.5, 0.8, 0.5}},     {"园艺花卉", {0.5, 1.0, 1.5, 1.0}},
    {"广场舞", {0.2, 1.0, 2.0, 1.0}},   {"中医药", {0.5, 1.0, 1.5, 1.5}},       {"创业就业", {2.5, 1.0, 0.1, 0.05}},
};
constexpr int kNumCategories = sizeof(kCategories) / sizeof(kCategories[0]);

const char* const kStreets[] = {"东华门", "景山",   "交道口",   "安定门", "北新桥",  "东四",
                                "朝阳门", "建国门", "东直门",   "和平里", "前门",    "崇文门外",
                                "东花市", "龙潭",   "体育馆路", "天坛",   "永定门外"};
constexpr int kNumStreets = sizeof(kStreets) / sizeof(kStreets[0]);

const char* const kLevelNames[] = {"入门", "初级", "中级", "高级", "研修", "精进", "提高", "大师"};
constexpr int kMaxSeriesLength = 8;
const char* const kClassKinds[] = {"社区班", "周末班", "夜校班", "精品班", "兴趣班", "进修班"};

// Uniform in [0, 1) from the top 53 bits.
double Uniform(std::mt19937_64* rng) { return static_cast<double>((*rng)() >> 11) * 0x1.0p-53; }

int UniformInt(std::mt19937_64* rng, int n) { return static_cast<int>(Uniform(rng) * n) % std::max(1, n); }

// Failures before the first success, P(success) = p.
int Geometric(std::mt19937_64* rng, double p, int cap) {
  int k = 0;
  while (k < cap && Uniform(rng) >= p) ++k;
  return k;
}

// Index drawn with probability proportional to `w` (all >= 0, sum > 0);
// -1 when the sum is 0.
int Draw(std::mt19937_64* rng, const std::vector<double>& w) {
  double total = 0;
  for (double x : w) total += x;
  if (!(total > 0)) return -1;
  double u = Uniform(rng) * total;
  for (size_t i = 0; i < w.size(); ++i) {
    if (u < w[i]) return static_cast<int>(i);
    u -= w[i];
  }
  for (size_t i = w.size(); i-- > 0;) {
    if (w[i] > 0) return static_cast<int>(i);
  }
  return -1;
}

absl::Status Check(const DistrictOptions& o) {
  auto bad = [](const char* field, const char* rule) {
    return absl::InvalidArgumentError(absl::StrCat("options.", field, ": ", rule));
  };
  if (o.learners < 1) return bad("learners", "must be >= 1");
  if (o.courses < 1) return bad("courses", "must be >= 1");
  if (!(o.mean_courses >= 2)) return bad("mean_courses", "must be >= 2");
  if (!(o.series_length_mean >= 1)) return bad("series_length_mean", "must be >= 1");
  if (!(o.popularity_exponent >= 0 && o.popularity_exponent <= 3)) {
    return bad("popularity_exponent", "must be in [0, 3]");
  }
  for (auto [name, p] : {std::pair<const char*, double>{"online_share", o.online_share},
                         {"continue_prob", o.continue_prob},
                         {"interest_prob", o.interest_prob},
                         {"skip_level_prob", o.skip_level_prob}}) {
    if (!(p >= 0 && p <= 1)) return bad(name, "must be in [0, 1]");
  }
  return absl::OkStatus();
}

struct Series {
  int category = 0;
  int first_course = 0;
  int length = 1;
  bool online = false;
  int street = -1;
  double popularity = 1;
};

}  // namespace

absl::StatusOr<SimulatedDistrict> SimulateDistrict(const DistrictOptions& o) {
  absl::Status s = Check(o);
  if (!s.ok()) return s;
  std::mt19937_64 rng(o.seed);
  SimulatedDistrict d;

  // ---- Catalog: series of levels, categories by Zipf share.
  std::vector<double> category_weight(kNumCategories);
  for (int c = 0; c < kNumCategories; ++c) category_weight[c] = 1.0 / std::pow(c + 1.0, 0.6);
  std::vector<Series> series;
  std::vector<std::vector<int>> series_of_category(kNumCategories);
  const double p_stop = 1.0 / o.series_length_mean;
  int next_course = 0;
  while (next_course < o.courses) {
    Series x;
    x.category = Draw(&rng, category_weight);
    x.first_course = next_course;
    x.length = std::min({1 + Geometric(&rng, p_stop, kMaxSeriesLength - 1), kMaxSeriesLength, o.courses - next_course});
    x.online = Uniform(&rng) < o.online_share;
    x.street = x.online ? -1 : UniformInt(&rng, kNumStreets);
    series_of_category[x.category].push_back(static_cast<int>(series.size()));
    series.push_back(x);
    next_course += x.length;
  }
  // Zipf popularity within each category over a random permutation.
  for (std::vector<int>& members : series_of_category) {
    std::vector<int> perm = members;
    for (size_t i = perm.size(); i > 1; --i) std::swap(perm[i - 1], perm[UniformInt(&rng, static_cast<int>(i))]);
    for (size_t rank = 0; rank < perm.size(); ++rank) {
      series[perm[rank]].popularity = 1.0 / std::pow(rank + 1.0, o.popularity_exponent);
    }
  }
  const int width = o.courses > 99999 ? 7 : 5;
  for (size_t si = 0; si < series.size(); ++si) {
    const Series& x = series[si];
    const Category& cat = kCategories[x.category];
    const std::string where = x.online ? "线上" : absl::StrCat(kStreets[x.street]);
    const std::string kind = absl::StrCat(kClassKinds[si % (sizeof(kClassKinds) / sizeof(kClassKinds[0]))],
                                          si / (sizeof(kClassKinds) / sizeof(kClassKinds[0])) % 9 + 1);
    for (int l = 0; l < x.length; ++l) {
      SimulatedCourse c;
      c.id = absl::StrFormat("d%0*d", width, x.first_course + l);
      c.title = absl::StrCat(cat.name, "·", where, kind, " ", kLevelNames[l]);
      c.category = cat.name;
      c.series = static_cast<int>(si);
      c.level = l + 1;
      c.online = x.online;
      c.street = x.online ? "" : kStreets[x.street];
      for (int g = 0; g < kAgeGroups; ++g) {
        if (cat.affinity[g] >= 1.5) c.audiences.push_back(kAgeGroupNames[g]);
      }
      d.courses.push_back(std::move(c));
    }
  }

  // ---- Residents and their sequences.
  const std::vector<double> age_share(kAgeShare, kAgeShare + kAgeGroups);
  const double p_more = 1.0 / (o.mean_courses - 1.0);  // 2 + Geometric: mean = mean_courses
  for (int l = 0; l < o.learners; ++l) {
    const int age = Draw(&rng, age_share);
    const int street = UniformInt(&rng, kNumStreets);
    std::vector<double> cat_w(kNumCategories);
    for (int c = 0; c < kNumCategories; ++c) cat_w[c] = category_weight[c] * kCategories[c].affinity[age];
    std::vector<int> interests;
    const int num_interests = 1 + UniformInt(&rng, 3);
    std::vector<double> left = cat_w;
    for (int i = 0; i < num_interests; ++i) {
      const int c = Draw(&rng, left);
      if (c < 0) break;
      interests.push_back(c);
      left[c] = 0;
    }
    const std::string learner = absl::StrCat("r", l);
    d.age_group.push_back(kAgeGroupNames[age]);
    d.home_street.push_back(kStreets[street]);
    const int length = 2 + Geometric(&rng, p_more, 200);
    std::vector<int> started;                        // series started, most recent last
    std::vector<int> next_level(series.size(), -1);  // only for started series
    auto pick_new_series = [&](int category) -> int {
      const std::vector<int>& members = series_of_category[category];
      std::vector<double> w(members.size());
      for (size_t i = 0; i < members.size(); ++i) {
        const Series& x = series[members[i]];
        if (next_level[members[i]] != -1) continue;  // already started
        const double where = x.online ? 2.0 * kOnlineWillingness[age] : (x.street == street ? 8.0 : 1.0);
        w[i] = x.popularity * where;
      }
      const int i = Draw(&rng, w);
      return i < 0 ? -1 : members[i];
    };
    for (int step = 0, taken = 0; taken < length && step < 4 * length; ++step) {
      int course = -1;
      const double u = Uniform(&rng);
      if (u < o.continue_prob) {
        std::vector<int> open;
        for (int si : started) {
          if (next_level[si] < series[si].length) open.push_back(si);
        }
        if (!open.empty()) {
          const int si = Uniform(&rng) < 0.7 ? open.back() : open[UniformInt(&rng, static_cast<int>(open.size()))];
          course = series[si].first_course + next_level[si];
          ++next_level[si];
          // keep `started` ordered by recency
          started.erase(std::find(started.begin(), started.end(), si));
          started.push_back(si);
        }
      }
      if (course < 0) {
        const int category = (Uniform(&rng) < o.interest_prob && !interests.empty())
                                 ? interests[UniformInt(&rng, static_cast<int>(interests.size()))]
                                 : Draw(&rng, cat_w);
        const int si = pick_new_series(category);
        if (si < 0) continue;
        const int start = (series[si].length > 1 && Uniform(&rng) < o.skip_level_prob) ? 1 : 0;
        course = series[si].first_course + start;
        next_level[si] = start + 1;
        started.push_back(si);
      }
      const double v = Uniform(&rng);
      const float weight = v < 0.7 ? 1.0f : (v < 0.9 ? 0.5f : 0.3f);
      d.interactions.push_back({learner, d.courses[course].id, taken, weight});
      ++taken;
    }
  }
  return d;
}

std::string CatalogJsonLines(const std::vector<SimulatedCourse>& courses) {
  std::string out;
  for (const SimulatedCourse& c : courses) {
    nlohmann::json tags = nlohmann::json::array();
    tags.push_back(c.online ? "线上" : absl::StrCat("线下·", c.street, "街道"));
    tags.push_back(absl::StrCat("第", c.level, "级"));
    for (const std::string& a : c.audiences) tags.push_back(a);
    const std::string description =
        absl::StrCat(c.category, "系列课程第", c.level, "级", c.level > 1 ? "，需先修完上一级" : "，零基础可学",
                     c.online ? "，线上授课。" : absl::StrCat("，在", c.street, "街道授课。"));
    nlohmann::json line = {
        {"id", c.id}, {"title", c.title}, {"category", c.category}, {"tags", tags}, {"description", description}};
    out += line.dump();
    out += '\n';
  }
  return out;
}

std::string InteractionTsv(const std::vector<Interaction>& interactions) {
  std::string out;
  for (const Interaction& x : interactions) {
    absl::StrAppend(&out, x.learner, "\t", x.course_id, "\t", x.order, "\t", absl::StrFormat("%g", x.weight), "\n");
  }
  return out;
}

}  // namespace lifelong::models
