#include "services/demo/demo_programmes.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace lifelong::demo {
namespace {

// The end (23:59:59 Beijing time) of the day of the last session of the
// courses of `max_level` or lower.
google::protobuf::Timestamp EndOfLastSessionDay(const DemoDistrict& district, int max_level) {
  int64_t last = 0;
  for (const DemoCourse& c : district.courses()) {
    if (c.level > max_level) continue;
    for (const v1::Session& s : c.course.sessions()) last = std::max<int64_t>(last, s.end_time().seconds());
  }
  const absl::TimeZone beijing = absl::FixedTimeZone(8 * 3600);
  const absl::CivilDay day = absl::ToCivilDay(absl::FromUnixSeconds(last), beijing);
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(absl::FromCivil(day + 1, beijing)) - 1);
  return ts;
}

// The id of the first 入门 offering of `topic`, "" when there is none.
std::string FirstBeginner(const DemoDistrict& district, const std::string& topic) {
  for (const DemoCourse& c : district.courses()) {
    if (c.level == 0 && c.course.title().rfind(topic + "入门", 0) == 0) return c.course.id();
  }
  return "";
}

v1::Programme Make(std::string id, std::string name, std::string description, double credits,
                   std::vector<std::pair<std::string, double>> by_category, const std::vector<std::string>& required,
                   google::protobuf::Timestamp deadline) {
  v1::Programme p;
  p.set_id(std::move(id));
  p.set_name(std::move(name));
  p.set_description(std::move(description));
  p.set_credits(credits);
  for (auto& [category, min] : by_category) {
    auto* r = p.add_by_category();
    r->set_category(category);
    r->set_credits(min);
  }
  for (const std::string& c : required) {
    if (!c.empty()) p.add_required_course_ids(c);
  }
  *p.mutable_deadline() = deadline;
  p.set_issuer("东城区社区教育学院");
  return p;
}

}  // namespace

int64_t FirstSessionMicros(const DemoDistrict& district) {
  int64_t first = INT64_MAX;
  for (const DemoCourse& c : district.courses()) {
    for (const v1::Session& s : c.course.sessions()) {
      first = std::min<int64_t>(first, s.start_time().seconds() * 1000000 + s.start_time().nanos() / 1000);
    }
  }
  return first == INT64_MAX ? 0 : first;
}

std::vector<v1::Programme> DemoProgrammes(const DemoDistrict& district) {
  const google::protobuf::Timestamp spring = EndOfLastSessionDay(district, 1);
  const google::protobuf::Timestamp year = EndOfLastSessionDay(district, 2);
  return {
      Make("laonian_daxue", "老年大学结业",
           "东城区老年大学学年结业：修满10学分，其中老年教育类课程不少于6学分，并完成老年健身操入门。", 10,
           {{"老年教育", 6}}, {FirstBeginner(district, "老年健身操")}, year),
      Make("shuzi_suyang", "数字素养证书",
           "智慧助老数字素养证书：智能手机与数字素养类课程不少于6学分，并完成防范电信网络诈骗入门。", 0,
           {{"智能手机与数字素养", 6}}, {FirstBeginner(district, "防范电信网络诈骗")}, spring),
      Make("jiazhang_xuexiao", "家长学校结业",
           "社区家长学校结业：修满8学分，其中家庭教育不少于4学分、心理健康不少于2学分。", 8,
           {{"家庭教育", 4}, {"心理健康", 2}}, {}, spring),
      Make("feiyi_chuancheng", "非遗传承体验",
           "非遗传承体验证书：传统文化与戏曲类课程共修满6学分，其中传统文化不少于4学分，并完成剪纸入门。", 6,
           {{"传统文化", 4}}, {FirstBeginner(district, "剪纸")}, year),
      Make("shequ_jiaoyu", "社区教育证书", "东城区社区教育证书：修满12学分，其中传统文化不少于4学分。", 12,
           {{"传统文化", 4}}, {}, year),
  };
}

}  // namespace lifelong::demo
