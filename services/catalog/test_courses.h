// Tests only: a course that passes validation (course_validation.h), for
// tests that need some course and do not care which.
#ifndef LIFELONG_SERVICES_CATALOG_TEST_COURSES_H_
#define LIFELONG_SERVICES_CATALOG_TEST_COURSES_H_

#include <string>

#include "proto/lifelong/v1/catalog.pb.h"

namespace lifelong::catalog::testing {

// An OPEN offline course `id` at a 东四学区 venue, for seniors.
inline lifelong::v1::Course ValidCourse(const std::string& id) {
  lifelong::v1::Course c;
  c.set_id(id);
  c.set_title("太极拳入门");
  c.set_category("健身");
  c.mutable_provider()->set_name("东四街道市民学校");
  c.mutable_provider()->set_kind(lifelong::v1::Provider::RESIDENTS_SCHOOL);
  c.set_mode(lifelong::v1::Course::OFFLINE);
  c.mutable_venue()->set_id("v-ds");
  c.mutable_venue()->set_xuequ("东四学区");
  c.set_state(lifelong::v1::Course::OPEN);
  c.add_audiences(lifelong::v1::Course::SENIORS);
  return c;
}

}  // namespace lifelong::catalog::testing

#endif  // LIFELONG_SERVICES_CATALOG_TEST_COURSES_H_
