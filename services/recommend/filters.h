// Hard constraints on recommendable courses: the caller's filters and the
// exclusions that always apply. Pure functions; thread-safe.
#ifndef LIFELONG_SERVICES_RECOMMEND_FILTERS_H_
#define LIFELONG_SERVICES_RECOMMEND_FILTERS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/recommend/course.h"

namespace lifelong::recommend {

// A validated filter (see request_validation.h). Empty lists match anything.
struct CourseFilter {
  std::vector<std::string> modes;
  std::vector<std::string> categories;
  std::vector<std::string> audiences;
  std::vector<std::string> xuequ;
  std::vector<std::string> venue_ids;
  bool has_near = false;
  double near_lat = 0;
  double near_lng = 0;
  double within_km = 0;
  bool open_for_enrolment_now = false;
  // A session must start within [session_from, session_to] when either bound
  // is finite.
  absl::Time session_from = absl::InfinitePast();
  absl::Time session_to = absl::InfiniteFuture();
};

// Great-circle distance in km between two WGS-84 points.
double HaversineKm(double lat1, double lng1, double lat2, double lng2);

// Why a course is never recommended, whatever the filter.
enum class Exclusion {
  kNone,
  kNotPublished,  // draft, closed or archived
  kNoSeatsLeft,
  kEnrolmentEnded,
};

// The exclusion that applies to `course` at `now`, kNone when recommendable.
Exclusion ExclusionOf(const Course& course, absl::Time now);

// True when `course` satisfies every constraint of `filter` at `now`.
bool MatchesFilter(const Course& course, const CourseFilter& filter, absl::Time now);

// True when `filter` constrains nothing: MatchesFilter holds for every
// course at any time (callers skip it then).
bool FilterIsEmpty(const CourseFilter& filter);

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_FILTERS_H_
