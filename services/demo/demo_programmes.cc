#include "services/demo/demo_programmes.h"

#include <string>
#include <utility>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace lifelong::demo {
namespace {

// The end of `day` in Beijing (UTC+8), as a timestamp.
google::protobuf::Timestamp EndOfDay(int y, int m, int d) {
  const absl::Time t =
      absl::FromCivil(absl::CivilDay(y, m, d) + 1, absl::FixedTimeZone(8 * 3600)) - absl::Seconds(1);
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
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
                   std::vector<std::pair<std::string, double>> by_category,
                   const std::vector<std::string>& required, google::protobuf::Timestamp deadline) {
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

std::vector<v1::Programme> DemoProgrammes(const DemoDistrict& district) {
  return {
      Make("laonian_daxue", "老年大学结业",
           "东城区老年大学学年结业：修满10学分，其中老年教育类课程不少于6学分，并完成老年健身操入门。", 10,
           {{"老年教育", 6}}, {FirstBeginner(district, "老年健身操")}, EndOfDay(2027, 7, 31)),
      Make("shuzi_suyang", "数字素养证书",
           "智慧助老数字素养证书：智能手机与数字素养类课程不少于6学分，并完成防范电信网络诈骗入门。", 0,
           {{"智能手机与数字素养", 6}}, {FirstBeginner(district, "防范电信网络诈骗")}, EndOfDay(2027, 6, 30)),
      Make("jiazhang_xuexiao", "家长学校结业",
           "社区家长学校结业：修满8学分，其中家庭教育不少于4学分、心理健康不少于2学分。", 8,
           {{"家庭教育", 4}, {"心理健康", 2}}, {}, EndOfDay(2027, 6, 30)),
      Make("feiyi_chuancheng", "非遗传承体验",
           "非遗传承体验证书：传统文化与戏曲类课程共修满6学分，其中传统文化不少于4学分，并完成剪纸入门。", 6,
           {{"传统文化", 4}}, {FirstBeginner(district, "剪纸")}, EndOfDay(2027, 7, 31)),
      Make("shequ_jiaoyu", "社区教育证书",
           "东城区社区教育证书：修满12学分，其中传统文化不少于4学分。", 12, {{"传统文化", 4}}, {},
           EndOfDay(2027, 7, 31)),
  };
}

}  // namespace lifelong::demo
