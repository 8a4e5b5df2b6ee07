// Validation of RecommendationService requests and their translation into
// the domain types the Recommender uses. Every INVALID_ARGUMENT message starts
// with the field path ("k: must be in [1, 100], got 0"). Pure; thread-safe.
#ifndef LIFELONG_SERVICES_RECOMMEND_REQUEST_VALIDATION_H_
#define LIFELONG_SERVICES_RECOMMEND_REQUEST_VALIDATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/lifelong/v1/recommend.pb.h"
#include "services/recommend/filters.h"
#include "services/recommend/path_planner.h"
#include "services/recommend/recommender.h"

namespace lifelong::recommend {

inline constexpr int kMaxK = 100;
inline constexpr double kMaxWithinKm = 100.0;
// Most values of any list in a request: each filter list (modes,
// categories, audiences, xuequ, venue_ids) and context.interests.
inline constexpr int kMaxListValues = 50;
inline constexpr int kMaxLearnerKeyBytes = 512;

// Domain names of catalog enums ("" for the UNSPECIFIED value), from the
// catalog's one table (services/catalog/course_enums.h).
std::string ModeName(v1::Course::Mode mode);         // "offline" | "online" | "blended"
std::string AudienceNameOf(v1::Course::Audience a);  // "children" | ... | "seniors"
std::string LevelName(v1::Course::Level level);      // "beginner" | ...
// Reverse mappings (UNSPECIFIED for unknown names).
v1::Course::Mode ModeFromName(const std::string& name);
v1::Course::Audience AudienceFromName(const std::string& name);
v1::Course::Level LevelFromName(const std::string& name);

// `prefix` is the field path of the filter in its request ("filter").
// INVALID_ARGUMENT naming the field for a list of more than kMaxListValues
// values ("filter.modes: at most 50 values"), an unknown enum value, a
// string outside 1..64 bytes, a bad `near`/`within_km` or session bound.
absl::StatusOr<CourseFilter> ValidateFilter(const v1::CourseFilter& filter, const std::string& prefix);

absl::StatusOr<RecommendQuery> ValidateRecommendRequest(const v1::RecommendRequest& request);

// Checks course_id, k and filter of a SimilarCourses request.
absl::StatusOr<CourseFilter> ValidateSimilarRequest(const v1::SimilarCoursesRequest& request);

inline constexpr int kMaxPlanCourses = 100;

// A validated PlanPath request.
struct PlanPathQuery {
  std::string learner;
  // kProgramme goals given by id have an empty goal.programme and
  // programme_id set (resolved against the catalog by the caller).
  PlanGoal goal;
  std::string programme_id;
  PlanLearner preferences;  // home_xuequ, any_xuequ, prefer_online only
  PlanOptions options;
};

// Checks learner, the goal (exactly one of programme_id, programme,
// course_id, category), deadline, home_xuequ and max_courses.
absl::StatusOr<PlanPathQuery> ValidatePlanPathRequest(const v1::PlanPathRequest& request);

// The domain programme of a lifelong.v1.Programme, checked
// (ValidateProgramme; `field` prefixes messages).
absl::StatusOr<Programme> ProgrammeFromRequest(const v1::Programme& programme, const std::string& field);

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_REQUEST_VALIDATION_H_
