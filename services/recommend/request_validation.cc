#include "services/recommend/request_validation.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/catalog/course_enums.h"
#include "services/common/status_macros.h"

namespace lifelong::recommend {
namespace {

absl::Status Invalid(const std::string& field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status CheckK(int k) {
  if (k < 1 || k > kMaxK) {
    return Invalid("k", absl::StrCat("must be in [1, ", kMaxK, "], got ", k));
  }
  return absl::OkStatus();
}

absl::Status CheckPoint(const v1::GeoPoint& p, const std::string& field) {
  if (!std::isfinite(p.lat()) || p.lat() < -90 || p.lat() > 90) {
    return Invalid(field + ".lat", absl::StrCat("must be in [-90, 90], got ", p.lat()));
  }
  if (!std::isfinite(p.lng()) || p.lng() < -180 || p.lng() > 180) {
    return Invalid(field + ".lng", absl::StrCat("must be in [-180, 180], got ", p.lng()));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> CheckTimestamp(const google::protobuf::Timestamp& t, const std::string& field) {
  // RFC 3339 range, as google.protobuf.Timestamp documents.
  if (t.seconds() < -62135596800LL || t.seconds() > 253402300799LL || t.nanos() < 0 || t.nanos() > 999999999) {
    return Invalid(field, "not a valid timestamp");
  }
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

absl::Status CheckStrings(const google::protobuf::RepeatedPtrField<std::string>& values, const std::string& field,
                          std::vector<std::string>* out) {
  if (values.size() > kMaxListValues) {
    return Invalid(field, absl::StrCat("at most ", kMaxListValues, " values"));
  }
  for (int i = 0; i < values.size(); ++i) {
    if (values[i].empty() || values[i].size() > 64) {
      return Invalid(absl::StrCat(field, "[", i, "]"), "must be 1..64 bytes");
    }
    out->push_back(values[i]);
  }
  return absl::OkStatus();
}

}  // namespace

// The names are the catalog's one table (services/catalog/course_enums.h).
std::string ModeName(v1::Course::Mode mode) { return catalog::ModeName(mode); }
std::string AudienceNameOf(v1::Course::Audience a) { return catalog::AudienceName(a); }
std::string LevelName(v1::Course::Level level) { return catalog::LevelName(level); }
v1::Course::Mode ModeFromName(const std::string& name) { return catalog::ModeFromName(name); }
v1::Course::Audience AudienceFromName(const std::string& name) { return catalog::AudienceFromName(name); }
v1::Course::Level LevelFromName(const std::string& name) { return catalog::LevelFromName(name); }

absl::StatusOr<CourseFilter> ValidateFilter(const v1::CourseFilter& filter, const std::string& prefix) {
  CourseFilter out;
  // Every list is capped as CheckStrings caps the string ones: filters.cc
  // looks each candidate's mode and audiences up in them.
  if (filter.modes_size() > kMaxListValues) {
    return Invalid(prefix + ".modes", absl::StrCat("at most ", kMaxListValues, " values"));
  }
  if (filter.audiences_size() > kMaxListValues) {
    return Invalid(prefix + ".audiences", absl::StrCat("at most ", kMaxListValues, " values"));
  }
  for (int i = 0; i < filter.modes_size(); ++i) {
    const std::string name = ModeName(static_cast<v1::Course::Mode>(filter.modes(i)));
    if (name.empty()) {
      return Invalid(absl::StrCat(prefix, ".modes[", i, "]"), "must be OFFLINE, ONLINE or BLENDED");
    }
    out.modes.push_back(name);
  }
  LL_RETURN_IF_ERROR(CheckStrings(filter.categories(), prefix + ".categories", &out.categories));
  for (int i = 0; i < filter.audiences_size(); ++i) {
    const std::string name = AudienceNameOf(static_cast<v1::Course::Audience>(filter.audiences(i)));
    if (name.empty()) {
      return Invalid(absl::StrCat(prefix, ".audiences[", i, "]"), "must be CHILDREN, TEENS, ADULTS or SENIORS");
    }
    out.audiences.push_back(name);
  }
  LL_RETURN_IF_ERROR(CheckStrings(filter.xuequ(), prefix + ".xuequ", &out.xuequ));
  LL_RETURN_IF_ERROR(CheckStrings(filter.venue_ids(), prefix + ".venue_ids", &out.venue_ids));
  if (filter.has_near()) {
    LL_RETURN_IF_ERROR(CheckPoint(filter.near(), prefix + ".near"));
    if (!(filter.within_km() > 0 && filter.within_km() <= kMaxWithinKm)) {
      return Invalid(prefix + ".within_km", absl::StrCat("must be in (0, ", kMaxWithinKm, "] when ", prefix,
                                                         ".near is set, got ", filter.within_km()));
    }
    out.has_near = true;
    out.near_lat = filter.near().lat();
    out.near_lng = filter.near().lng();
    out.within_km = filter.within_km();
  } else if (filter.within_km() != 0) {
    return Invalid(prefix + ".near", absl::StrCat("required when ", prefix, ".within_km is set"));
  }
  out.open_for_enrolment_now = filter.open_for_enrolment_now();
  if (filter.has_session_from()) {
    LL_ASSIGN_OR_RETURN(out.session_from, CheckTimestamp(filter.session_from(), prefix + ".session_from"));
  }
  if (filter.has_session_to()) {
    LL_ASSIGN_OR_RETURN(out.session_to, CheckTimestamp(filter.session_to(), prefix + ".session_to"));
  }
  if (out.session_from > out.session_to) {
    return Invalid(prefix + ".session_to", "must not be before " + prefix + ".session_from");
  }
  return out;
}

absl::StatusOr<RecommendQuery> ValidateRecommendRequest(const v1::RecommendRequest& request) {
  RecommendQuery q;
  if (request.learner().size() > kMaxLearnerKeyBytes) {
    return Invalid("learner", absl::StrCat("at most ", kMaxLearnerKeyBytes, " bytes"));
  }
  LL_RETURN_IF_ERROR(CheckK(request.k()));
  q.k = request.k();
  LL_ASSIGN_OR_RETURN(q.filter, ValidateFilter(request.filter(), "filter"));
  const v1::RecommendContext& c = request.context();
  switch (c.channel()) {
    case v1::RecommendContext::CHANNEL_KIOSK:
      if (c.kiosk_venue_id().empty()) {
        return Invalid("context.kiosk_venue_id", "required for CHANNEL_KIOSK");
      }
      q.context.channel = RecommendContext::Channel::kKiosk;
      break;
    case v1::RecommendContext::CHANNEL_APP:
      q.context.channel = RecommendContext::Channel::kApp;
      break;
    case v1::RecommendContext::CHANNEL_UNSPECIFIED:
      break;
    default:
      return Invalid("context.channel", "unknown channel");
  }
  if (c.kiosk_venue_id().size() > 64) return Invalid("context.kiosk_venue_id", "at most 64 bytes");
  q.context.kiosk_venue_id = c.kiosk_venue_id();
  LL_RETURN_IF_ERROR(CheckStrings(c.interests(), "context.interests", &q.context.interests));
  if (c.age_group() != v1::Course::AUDIENCE_UNSPECIFIED) {
    q.context.age_group = AudienceNameOf(c.age_group());
    if (q.context.age_group.empty()) return Invalid("context.age_group", "unknown audience");
  }
  if (c.has_location()) {
    LL_RETURN_IF_ERROR(CheckPoint(c.location(), "context.location"));
    q.context.has_location = true;
    q.context.lat = c.location().lat();
    q.context.lng = c.location().lng();
  }
  return q;
}

absl::StatusOr<CourseFilter> ValidateSimilarRequest(const v1::SimilarCoursesRequest& request) {
  if (request.course_id().empty()) return Invalid("course_id", "must not be empty");
  if (request.course_id().size() > 64) return Invalid("course_id", "at most 64 bytes");
  LL_RETURN_IF_ERROR(CheckK(request.k()));
  return ValidateFilter(request.filter(), "filter");
}

absl::StatusOr<Programme> ProgrammeFromRequest(const v1::Programme& p, const std::string& field) {
  Programme out;
  out.id = p.id();
  out.name = p.name();
  if (p.name().size() > 200) return Invalid(field + ".name", "at most 200 bytes");
  out.credits = p.credits();
  if (p.by_category_size() > 32) return Invalid(field + ".by_category", "at most 32 entries");
  for (int i = 0; i < p.by_category_size(); ++i) {
    const v1::Programme::CreditRequirement& r = p.by_category(i);
    // As a Recommend filter's categories (CheckStrings); an empty one is
    // ValidateProgramme's to name.
    if (r.category().size() > 64) {
      return Invalid(absl::StrCat(field, ".by_category[", i, "].category"), "must be 1..64 bytes");
    }
    out.by_category.push_back({r.category(), r.credits()});
  }
  if (p.required_course_ids_size() > 64) return Invalid(field + ".required_course_ids", "at most 64 ids");
  for (int i = 0; i < p.required_course_ids_size(); ++i) {
    if (p.required_course_ids(i).size() > 64) {
      return Invalid(absl::StrCat(field, ".required_course_ids[", i, "]"), "must be 1..64 bytes");
    }
    out.required_courses.push_back(p.required_course_ids(i));
  }
  if (p.has_deadline()) {
    absl::StatusOr<absl::Time> t = CheckTimestamp(p.deadline(), field + ".deadline");
    if (!t.ok()) return t.status();
    out.deadline = *t;
  }
  if (absl::Status s = ValidateProgramme(out, field); !s.ok()) return s;
  return out;
}

absl::StatusOr<PlanPathQuery> ValidatePlanPathRequest(const v1::PlanPathRequest& r) {
  PlanPathQuery q;
  if (r.learner().empty()) return Invalid("learner", "required");
  if (r.learner().size() > kMaxLearnerKeyBytes) {
    return Invalid("learner", absl::StrCat("at most ", kMaxLearnerKeyBytes, " bytes"));
  }
  q.learner = r.learner();
  switch (r.goal_case()) {
    case v1::PlanPathRequest::kProgrammeId:
      if (r.programme_id().empty() || r.programme_id().size() > 64) {
        return Invalid("programme_id", "must be 1..64 bytes");
      }
      q.goal.kind = PlanGoal::Kind::kProgramme;
      q.programme_id = r.programme_id();
      break;
    case v1::PlanPathRequest::kProgramme: {
      absl::StatusOr<Programme> p = ProgrammeFromRequest(r.programme(), "programme");
      if (!p.ok()) return p.status();
      q.goal.kind = PlanGoal::Kind::kProgramme;
      q.goal.programme = *std::move(p);
      break;
    }
    case v1::PlanPathRequest::kCourseId:
      if (r.course_id().empty() || r.course_id().size() > 64) {
        return Invalid("course_id", "must be 1..64 bytes");
      }
      q.goal.kind = PlanGoal::Kind::kCourse;
      q.goal.course_id = r.course_id();
      break;
    case v1::PlanPathRequest::kCategory:
      if (r.category().empty() || r.category().size() > 64) {
        return Invalid("category", "must be 1..64 bytes");
      }
      q.goal.kind = PlanGoal::Kind::kCategory;
      q.goal.category = r.category();
      break;
    default:
      return Invalid("goal", "one of programme_id, programme, course_id or category is required");
  }
  if (r.has_deadline()) {
    absl::StatusOr<absl::Time> t = CheckTimestamp(r.deadline(), "deadline");
    if (!t.ok()) return t.status();
    q.goal.deadline = *t;
  }
  if (r.home_xuequ().size() > 64) return Invalid("home_xuequ", "at most 64 bytes");
  q.preferences.home_xuequ = r.home_xuequ();
  q.preferences.any_xuequ = r.any_xuequ();
  q.preferences.prefer_online = r.prefer_online();
  if (r.max_courses() < 0 || r.max_courses() > kMaxPlanCourses) {
    return Invalid("max_courses", absl::StrCat("must be in [0, ", kMaxPlanCourses, "], got ", r.max_courses()));
  }
  if (r.max_courses() > 0) q.options.max_steps = r.max_courses();
  return q;
}

}  // namespace lifelong::recommend
