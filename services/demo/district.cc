#include "services/demo/district.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace lifelong::demo {

const std::vector<std::string>& Xuequs() {
  static const auto* x = new std::vector<std::string>{
      "东华门学区", "景山学区", "交道口学区", "安定门学区", "北新桥学区", "东四学区", "朝阳门学区", "和平里学区",
  };
  return *x;
}

const std::vector<Jiedao>& Jiedaos() {
  static const auto* j = new std::vector<Jiedao>{
      {"东华门", "donghuamen", 0, 39.9145, 116.4035, "东华门大街", {"多福巷社区", "韶九社区"}},
      {"景山", "jingshan", 1, 39.9283, 116.3985, "景山前街", {"黄化门社区", "吉祥社区"}},
      {"交道口", "jiaodaokou", 2, 39.9405, 116.4045, "交道口南大街", {"菊儿社区", "福祥社区"}},
      {"安定门", "andingmen", 3, 39.9475, 116.4105, "安定门内大街", {"五道营社区", "国子监社区"}},
      {"北新桥", "beixinqiao", 4, 39.9418, 116.4205, "北新桥三条", {"九道湾社区", "民安社区"}},
      {"东四", "dongsi", 5, 39.9302, 116.4192, "东四北大街", {"东四六条社区", "豆瓣社区"}},
      {"朝阳门", "chaoyangmen", 6, 39.9245, 116.4302, "朝阳门内大街", {"史家社区", "演乐社区"}},
      {"建国门", "jianguomen", 6, 39.9088, 116.4301, "建国门内大街", {"西总布社区", "赵家楼社区"}},
      {"东直门", "dongzhimen", 4, 39.9402, 116.4325, "东直门内大街", {"新中街社区", "香河园社区"}},
      {"和平里", "hepingli", 7, 39.9598, 116.4152, "和平里中街", {"和平里北街社区", "兴化社区"}},
      {"前门", "qianmen", 0, 39.8968, 116.3995, "前门大街", {"草厂社区", "大江社区"}},
      {"崇文门外", "chongwenmenwai", 5, 39.8952, 116.4178, "崇文门外大街", {"新怡社区", "国瑞城社区"}},
      {"东花市", "donghuashi", 6, 39.8932, 116.4331, "东花市大街", {"东花市北里社区", "广渠门外南街社区"}},
      {"龙潭", "longtan", 3, 39.8798, 116.4402, "龙潭路", {"龙潭北里社区", "板厂南里社区"}},
      {"体育馆路", "tiyuguanlu", 2, 39.8815, 116.4201, "体育馆路", {"法华寺社区", "四块玉社区"}},
      {"天坛", "tiantan", 1, 39.8822, 116.4052, "天坛路", {"金鱼池社区", "天坛东里社区"}},
      {"永定门外", "yongdingmenwai", 1, 39.8655, 116.4048, "永定门外大街", {"宝华里社区", "桃杨路社区"}},
  };
  return *j;
}

namespace {

DemoVenue MakeVenue(std::string id, std::string name, std::string address, int jiedao, double dlat, double dlng,
                    std::string provider, v1::Provider::Kind kind) {
  const Jiedao& j = Jiedaos()[jiedao];
  DemoVenue v;
  v.venue.set_id(std::move(id));
  v.venue.set_name(std::move(name));
  v.venue.set_address(std::move(address));
  v.venue.set_xuequ(Xuequs()[j.xuequ]);
  v.venue.set_jiedao(j.name);
  v.venue.mutable_location()->set_latitude(j.lat + dlat);
  v.venue.mutable_location()->set_longitude(j.lng + dlng);
  v.provider.set_name(std::move(provider));
  v.provider.set_kind(kind);
  v.jiedao = jiedao;
  return v;
}

int JiedaoIndex(const std::string& name) {
  for (size_t i = 0; i < Jiedaos().size(); ++i) {
    if (Jiedaos()[i].name == name) return static_cast<int>(i);
  }
  return 0;
}

}  // namespace

const std::vector<DemoVenue>& Venues() {
  static const auto* venues = [] {
    auto* v = new std::vector<DemoVenue>();
    const auto& js = Jiedaos();
    for (size_t i = 0; i < js.size(); ++i) {
      const Jiedao& j = js[i];
      const std::string school = absl::StrCat("东城区", j.name, "街道社区教育学校");
      v->push_back(MakeVenue(absl::StrCat(j.pinyin, "-sqxx"), school,
                             absl::StrCat("北京市东城区", j.road, 10 + 7 * i, "号"), i, 0.0012, -0.0008, school,
                             v1::Provider::COMMUNITY_SCHOOL));
      for (size_t c = 0; c < j.communities.size(); ++c) {
        const std::string name = absl::StrCat(j.communities[c], "市民学校");
        v->push_back(MakeVenue(absl::StrCat(j.pinyin, "-smxx-", c + 1), name,
                               absl::StrCat("北京市东城区", j.name, "街道", j.communities[c], "居委会"), i,
                               c == 0 ? 0.0031 : -0.0027, c == 0 ? 0.0024 : -0.0019, name,
                               v1::Provider::RESIDENTS_SCHOOL));
      }
    }
    struct Fixed {
      const char* id;
      const char* name;
      const char* address;
      const char* jiedao;
      v1::Provider::Kind kind;
    };
    const Fixed fixed[] = {
        {"sch-166", "北京市第一六六中学", "北京市东城区灯市口大街", "东华门", v1::Provider::SCHOOL},
        {"sch-jingshan", "北京景山学校", "北京市东城区灯市口大街53号", "景山", v1::Provider::SCHOOL},
        {"sch-wuzhong", "北京市第五中学", "北京市东城区交道口南大街", "交道口", v1::Provider::SCHOOL},
        {"sch-fuxue", "北京市东城区府学胡同小学", "北京市东城区府学胡同", "安定门", v1::Provider::SCHOOL},
        {"sch-dongzhimen", "北京市东直门中学", "北京市东城区东直门内大街", "北新桥", v1::Provider::SCHOOL},
        {"sch-25", "北京市第二十五中学", "北京市东城区东四南大街", "东四", v1::Provider::SCHOOL},
        {"sch-erzhong", "北京市第二中学", "北京市东城区内务部街", "朝阳门", v1::Provider::SCHOOL},
        {"sch-171", "北京市第一七一中学", "北京市东城区和平里北街", "和平里", v1::Provider::SCHOOL},
        {"lib-dc1", "东城区第一图书馆", "北京市东城区交道口东大街85号", "交道口", v1::Provider::LIBRARY},
        {"lib-dc2", "东城区第二图书馆", "北京市东城区珠市口东大街", "天坛", v1::Provider::LIBRARY},
    };
    for (const Fixed& f : fixed) {
      v->push_back(MakeVenue(f.id, f.name, f.address, JiedaoIndex(f.jiedao), -0.0015, 0.0011, f.name, f.kind));
    }
    return v;
  }();
  return *venues;
}

const std::vector<v1::Provider>& OnlinePlatforms() {
  static const auto* p = [] {
    auto* v = new std::vector<v1::Provider>(2);
    (*v)[0].set_name("东城区终身学习网");
    (*v)[0].set_kind(v1::Provider::ONLINE_PLATFORM);
    (*v)[1].set_name("东城市民学习APP");
    (*v)[1].set_kind(v1::Provider::ONLINE_PLATFORM);
    return v;
  }();
  return *p;
}

double DistanceKm(double lat1, double lng1, double lat2, double lng2) {
  constexpr double kRad = 3.14159265358979323846 / 180.0;
  const double dlat = (lat2 - lat1) * kRad, dlng = (lng2 - lng1) * kRad;
  const double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlng / 2) * std::sin(dlng / 2);
  return 6371.0 * 2 * std::atan2(std::sqrt(a), std::sqrt(1 - a));
}

}  // namespace lifelong::demo
