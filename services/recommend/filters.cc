#include "services/recommend/filters.h"

#include <algorithm>
#include <cmath>

namespace lifelong::recommend {
namespace {

bool AnyOf(const std::vector<std::string>& wanted, const std::string& value) {
  return wanted.empty() || std::find(wanted.begin(), wanted.end(), value) != wanted.end();
}

bool AnyOf(const std::vector<std::string>& wanted, const std::vector<std::string>& values) {
  if (wanted.empty()) return true;
  for (const std::string& v : values) {
    if (std::find(wanted.begin(), wanted.end(), v) != wanted.end()) return true;
  }
  return false;
}

}  // namespace

double HaversineKm(double lat1, double lng1, double lat2, double lng2) {
  constexpr double kEarthRadiusKm = 6371.0088;
  constexpr double kRad = M_PI / 180.0;
  const double dlat = (lat2 - lat1) * kRad;
  const double dlng = (lng2 - lng1) * kRad;
  const double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlng / 2) * std::sin(dlng / 2);
  return 2 * kEarthRadiusKm * std::asin(std::min(1.0, std::sqrt(a)));
}

Exclusion ExclusionOf(const Course& course, absl::Time now) {
  if (course.state != CourseState::kOpen) return Exclusion::kNotPublished;
  if (course.SeatsLeft() == 0) return Exclusion::kNoSeatsLeft;
  if (course.enrol_to <= now) return Exclusion::kEnrolmentEnded;
  return Exclusion::kNone;
}

bool MatchesFilter(const Course& course, const CourseFilter& filter, absl::Time now) {
  if (!AnyOf(filter.modes, course.mode)) return false;
  if (!AnyOf(filter.categories, course.category)) return false;
  if (!AnyOf(filter.audiences, course.audiences)) return false;
  if (!AnyOf(filter.xuequ, course.xuequ)) return false;
  if (!AnyOf(filter.venue_ids, course.venue_id)) return false;
  if (filter.has_near) {
    if (!course.has_location) return false;
    if (HaversineKm(filter.near_lat, filter.near_lng, course.lat, course.lng) > filter.within_km) {
      return false;
    }
  }
  if (filter.open_for_enrolment_now && !course.EnrolmentOpenAt(now)) return false;
  if (filter.session_from != absl::InfinitePast() || filter.session_to != absl::InfiniteFuture()) {
    bool any = false;
    for (const CourseSession& s : course.sessions) {
      if (s.start >= filter.session_from && s.start <= filter.session_to) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return true;
}

bool FilterIsEmpty(const CourseFilter& filter) {
  return filter.modes.empty() && filter.categories.empty() && filter.audiences.empty() && filter.xuequ.empty() &&
         filter.venue_ids.empty() && !filter.has_near && !filter.open_for_enrolment_now &&
         filter.session_from == absl::InfinitePast() && filter.session_to == absl::InfiniteFuture();
}

}  // namespace lifelong::recommend
