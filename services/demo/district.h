// The places of the demo district (东城区): its eight school districts (学区),
// seventeen sub-districts (街道) with coordinates, and the venues where
// courses meet: community-education schools and residents' schools in every
// 街道, one school per 学区, two libraries, and two online platforms.
//
// The 街道 -> 学区 assignment is a simplification for the demo (each 学区
// holds its namesake 街道 plus nearby ones); coordinates are approximate.
// Static, immutable data; thread-safe.
#ifndef LIFELONG_SERVICES_DEMO_DISTRICT_H_
#define LIFELONG_SERVICES_DEMO_DISTRICT_H_

#include <string>
#include <vector>

#include "proto/lifelong/v1/catalog.pb.h"

namespace lifelong::demo {

struct Jiedao {
  std::string name;                      // "和平里"
  std::string pinyin;                    // "hepingli" (for venue ids)
  int xuequ;                             // index into Xuequs()
  double lat, lng;                       // centre, WGS-84
  std::string road;                      // a main road, for addresses
  std::vector<std::string> communities;  // 社区 names
};

struct DemoVenue {
  v1::Venue venue;        // id, name, address, xuequ, jiedao, location
  v1::Provider provider;  // who runs it
  int jiedao;             // index into Jiedaos()
};

// "东华门学区", ... (8).
const std::vector<std::string>& Xuequs();
// The 17 街道.
const std::vector<Jiedao>& Jiedaos();
// Every physical venue (community schools, residents' schools, schools,
// libraries), ids unique.
const std::vector<DemoVenue>& Venues();
// The online platforms (providers of online courses).
const std::vector<v1::Provider>& OnlinePlatforms();

// Great-circle distance in km.
double DistanceKm(double lat1, double lng1, double lat2, double lng2);

}  // namespace lifelong::demo

#endif  // LIFELONG_SERVICES_DEMO_DISTRICT_H_
