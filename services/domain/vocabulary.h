// The xAPI vocabulary of the district's network: verbs, activity IRIs and
// context extensions. Every service and tool uses these constants; the table
// is documented in docs/vocabulary.md.
#ifndef LIFELONG_SERVICES_DOMAIN_VOCABULARY_H_
#define LIFELONG_SERVICES_DOMAIN_VOCABULARY_H_

#include <string>

#include "absl/strings/string_view.h"

namespace lifelong::vocab {

// Verbs (ADL registry where it has one, else the Tin Can registry).
inline constexpr absl::string_view kRegistered = "http://adlnet.gov/expapi/verbs/registered";
inline constexpr absl::string_view kAttended = "http://adlnet.gov/expapi/verbs/attended";
inline constexpr absl::string_view kCompleted = "http://adlnet.gov/expapi/verbs/completed";
inline constexpr absl::string_view kPassed = "http://adlnet.gov/expapi/verbs/passed";
inline constexpr absl::string_view kFailed = "http://adlnet.gov/expapi/verbs/failed";
// Withdrew from a course before finishing it (a drop-out): ends the registration.
inline constexpr absl::string_view kExited = "http://adlnet.gov/expapi/verbs/exited";
inline constexpr absl::string_view kExperienced = "http://adlnet.gov/expapi/verbs/experienced";
inline constexpr absl::string_view kRated = "http://id.tincanapi.com/verb/rated";
inline constexpr absl::string_view kBookmarked = "http://id.tincanapi.com/verb/bookmarked";
inline constexpr absl::string_view kVoided = "http://adlnet.gov/expapi/verbs/voided";

// Home page of the district identity provider: a bare learner key "u123"
// means the account {homePage: kDistrictIdp, name: "u123"}.
inline constexpr absl::string_view kDistrictIdp = "https://id.dongcheng.gov.cn";

// A course is the activity kCourseIriPrefix + course_id.
inline constexpr absl::string_view kCourseIriPrefix = "https://lifelong.dongcheng.edu.cn/courses/";
inline constexpr absl::string_view kCourseActivityType = "http://adlnet.gov/expapi/activities/course";

// Context extensions (values: mode "online" | "offline" | "blended"; xuequ,
// jiedao, venue strings; credits, hours numbers).
inline constexpr absl::string_view kExtMode = "https://lifelong.dongcheng.edu.cn/xapi/ext/mode";
inline constexpr absl::string_view kExtXuequ = "https://lifelong.dongcheng.edu.cn/xapi/ext/xuequ";
inline constexpr absl::string_view kExtJiedao = "https://lifelong.dongcheng.edu.cn/xapi/ext/jiedao";
inline constexpr absl::string_view kExtVenue = "https://lifelong.dongcheng.edu.cn/xapi/ext/venue";
inline constexpr absl::string_view kExtCredits = "https://lifelong.dongcheng.edu.cn/xapi/ext/credits";
inline constexpr absl::string_view kExtHours = "https://lifelong.dongcheng.edu.cn/xapi/ext/hours";

// "https://lifelong.dongcheng.edu.cn/courses/c42" -> "c42"; "" for other IRIs.
inline std::string CourseIdFromIri(absl::string_view iri) {
  if (iri.size() <= kCourseIriPrefix.size() || iri.substr(0, kCourseIriPrefix.size()) != kCourseIriPrefix) {
    return "";
  }
  return std::string(iri.substr(kCourseIriPrefix.size()));
}

inline std::string CourseIri(absl::string_view course_id) {
  return std::string(kCourseIriPrefix) + std::string(course_id);
}

}  // namespace lifelong::vocab

#endif  // LIFELONG_SERVICES_DOMAIN_VOCABULARY_H_
