// The demo district's programmes: a few believable goals of 东城区's
// community education with their credit rules (lifelong.v1.Programme), over
// the courses of a DemoDistrict. Pure; deterministic for a given district.
#ifndef LIFELONG_SERVICES_DEMO_DEMO_PROGRAMMES_H_
#define LIFELONG_SERVICES_DEMO_DEMO_PROGRAMMES_H_

#include <cstdint>
#include <vector>

#include "proto/lifelong/v1/catalog.pb.h"
#include "services/demo/demo_district.h"

namespace lifelong::demo {

// 老年大学结业, 数字素养证书, 家长学校结业, 非遗传承体验 and 社区教育证书.
// Required courses are the first offering (lowest id) of a named 入门 topic,
// left out when the district has no such course. Deadlines follow the
// district's own timetable (so they move with its dates): the end of the day
// of the last 进阶 session (the spring term) for 数字素养证书 and 家长学校结业,
// of the last session of all for the others.
std::vector<v1::Programme> DemoProgrammes(const DemoDistrict& district);

// The start of the district's first session (Unix microseconds); a week
// before it is a good "now" for planning on the demo (every OPEN course still
// takes enrolments, and no learner event is later).
int64_t FirstSessionMicros(const DemoDistrict& district);

}  // namespace lifelong::demo

#endif  // LIFELONG_SERVICES_DEMO_DEMO_PROGRAMMES_H_
