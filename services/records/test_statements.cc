#include "services/records/test_statements.h"

#include <nlohmann/json.hpp>

#include <cstdio>

#include "services/domain/vocabulary.h"

namespace lifelong::records::testing {

std::string TestUuid(int n) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012x", n);
  return buf;
}

std::string MakeStatement(const StatementSpec& s) {
  using Json = nlohmann::ordered_json;
  std::string verb_iri = s.verb == "registered"    ? std::string(vocab::kRegistered)
                         : s.verb == "attended"    ? std::string(vocab::kAttended)
                         : s.verb == "completed"   ? std::string(vocab::kCompleted)
                         : s.verb == "passed"      ? std::string(vocab::kPassed)
                         : s.verb == "failed"      ? std::string(vocab::kFailed)
                         : s.verb == "experienced" ? std::string(vocab::kExperienced)
                         : s.verb == "voided"      ? std::string(vocab::kVoided)
                                                   : s.verb;
  Json st = Json::object();
  if (!s.id.empty()) st["id"] = s.id;
  auto account = [](const std::string& name) {
    return Json{{"homePage", std::string(vocab::kDistrictIdp)}, {"name", name}};
  };
  if (s.group.empty()) {
    st["actor"] = {{"objectType", "Agent"}, {"account", account(s.learner)}};
  } else {
    st["actor"] = {{"objectType", "Group"}};
    if (!s.learner.empty()) st["actor"]["account"] = account(s.learner);
    Json members = Json::array();
    for (const std::string& m : s.group) members.push_back({{"objectType", "Agent"}, {"account", account(m)}});
    st["actor"]["member"] = members;
  }
  st["verb"] = {{"id", verb_iri}, {"display", {{"en-US", s.verb}}}};
  if (s.verb == "voided") {
    st["object"] = {{"objectType", "StatementRef"}, {"id", s.course}};
  } else {
    st["object"] = {
        {"objectType", "Activity"},
        {"id", vocab::CourseIri(s.course)},
        {"definition", {{"name", {{"zh-CN", s.title}}}, {"type", std::string(vocab::kCourseActivityType)}}}};
  }
  Json ctx = Json::object();
  if (!s.registration.empty()) ctx["registration"] = s.registration;
  if (!s.platform.empty()) ctx["platform"] = s.platform;
  Json ext = Json::object();
  if (s.credits >= 0) ext[std::string(vocab::kExtCredits)] = s.credits;
  if (s.hours >= 0) ext[std::string(vocab::kExtHours)] = s.hours;
  if (!s.mode.empty()) ext[std::string(vocab::kExtMode)] = s.mode;
  if (!s.xuequ.empty()) ext[std::string(vocab::kExtXuequ)] = s.xuequ;
  if (!s.venue.empty()) ext[std::string(vocab::kExtVenue)] = s.venue;
  if (!ext.empty()) ctx["extensions"] = ext;
  if (!ctx.empty()) st["context"] = ctx;
  if (!s.timestamp.empty()) st["timestamp"] = s.timestamp;
  return st.dump();
}

}  // namespace lifelong::records::testing
