#include "services/demo/district.h"

#include <map>
#include <regex>
#include <set>

#include "gtest/gtest.h"

namespace lifelong::demo {
namespace {

TEST(District, HasEightXuequAndSeventeenJiedao) {
  ASSERT_EQ(Xuequs().size(), 8u);
  ASSERT_EQ(Jiedaos().size(), 17u);
  std::set<int> covered;
  std::set<std::string> names;
  for (const Jiedao& j : Jiedaos()) {
    ASSERT_GE(j.xuequ, 0);
    ASSERT_LT(j.xuequ, 8);
    covered.insert(j.xuequ);
    EXPECT_TRUE(names.insert(j.name).second) << j.name;
    EXPECT_NEAR(j.lat, 39.93, 0.08) << j.name;
    EXPECT_NEAR(j.lng, 116.41, 0.05) << j.name;
    EXPECT_EQ(j.communities.size(), 2u);
  }
  EXPECT_EQ(covered.size(), 8u);  // every 学区 has at least one 街道
  // Each 学区 holds its namesake 街道.
  for (size_t x = 0; x < Xuequs().size(); ++x) {
    const std::string stem = Xuequs()[x].substr(0, Xuequs()[x].size() - std::string("学区").size());
    bool found = false;
    for (const Jiedao& j : Jiedaos()) found |= j.name == stem && j.xuequ == static_cast<int>(x);
    EXPECT_TRUE(found) << Xuequs()[x];
  }
}

TEST(District, VenuesAreValidForTheCatalog) {
  const std::regex id_re("[a-z0-9_-]{1,64}");
  std::set<std::string> ids;
  std::map<v1::Provider::Kind, int> kinds;
  for (const DemoVenue& v : Venues()) {
    EXPECT_TRUE(std::regex_match(v.venue.id(), id_re)) << v.venue.id();
    EXPECT_TRUE(ids.insert(v.venue.id()).second) << v.venue.id();
    EXPECT_FALSE(v.venue.name().empty());
    EXPECT_FALSE(v.venue.address().empty());
    EXPECT_EQ(v.venue.xuequ(), Xuequs()[Jiedaos()[v.jiedao].xuequ]);
    EXPECT_EQ(v.venue.jiedao(), Jiedaos()[v.jiedao].name);
    EXPECT_LT(DistanceKm(v.venue.location().latitude(), v.venue.location().longitude(), Jiedaos()[v.jiedao].lat,
                         Jiedaos()[v.jiedao].lng),
              1.0);
    kinds[v.provider.kind()]++;
  }
  EXPECT_EQ(kinds[v1::Provider::COMMUNITY_SCHOOL], 17);
  EXPECT_EQ(kinds[v1::Provider::RESIDENTS_SCHOOL], 34);
  EXPECT_EQ(kinds[v1::Provider::SCHOOL], 8);
  EXPECT_EQ(kinds[v1::Provider::LIBRARY], 2);
  EXPECT_EQ(OnlinePlatforms().size(), 2u);
}

TEST(District, DistanceKm) {
  EXPECT_NEAR(DistanceKm(39.93, 116.41, 39.93, 116.41), 0.0, 1e-9);
  // One degree of latitude is about 111.2 km.
  EXPECT_NEAR(DistanceKm(39.0, 116.41, 40.0, 116.41), 111.19, 0.1);
}

}  // namespace
}  // namespace lifelong::demo
