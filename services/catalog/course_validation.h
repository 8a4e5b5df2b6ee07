// The rules a course and the catalog's requests must satisfy, as pure
// functions (no storage, no gRPC). Every failure is INVALID_ARGUMENT and its
// message starts with the offending field's path, e.g.
// "course.title: must not be empty" or "course.sessions[2].end_time: must be
// after start_time". The first failing rule is reported. Thread-safe.
#ifndef LIFELONG_SERVICES_CATALOG_COURSE_VALIDATION_H_
#define LIFELONG_SERVICES_CATALOG_COURSE_VALIDATION_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "proto/lifelong/v1/catalog.pb.h"

namespace lifelong::catalog {

// Limits, in Unicode code points unless the name says bytes.
inline constexpr int kMaxTitleChars = 200;
inline constexpr int kMaxDescriptionChars = 20000;
inline constexpr int kMaxCategoryChars = 64;
inline constexpr int kMaxTags = 32;
inline constexpr int kMaxTagChars = 32;
inline constexpr int kMaxProviderNameChars = 128;
inline constexpr int kMaxVenueNameChars = 128;
inline constexpr int kMaxAddressChars = 256;
inline constexpr int kMaxAreaChars = 64;  // xuequ, jiedao
inline constexpr int kMaxSessions = 500;
inline constexpr int kMaxRoomChars = 64;
inline constexpr int kMaxPrerequisites = 32;
inline constexpr int kMaxLanguageBytes = 35;
inline constexpr int kMaxUrlBytes = 2048;
inline constexpr double kMaxCredits = 1000;
inline constexpr double kMaxHours = 10000;
inline constexpr int kMaxPageSize = 1000;
inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxBatchGet = 1000;

// OK when `id` is 1..64 bytes of [a-z0-9_-]; otherwise INVALID_ARGUMENT
// naming `field`.
absl::Status ValidateCourseId(absl::string_view field, absl::string_view id);

// OK when `ts` lies in [0001-01-01, 9999-12-31] with nanos in [0, 1e9).
absl::Status ValidateTimestamp(absl::string_view field, const google::protobuf::Timestamp& ts);

// Checks everything about `course` that needs no other course: id, texts,
// enums, venue, sessions, enrollment window, numbers, the shape of
// prerequisite_ids (charset, repeats, self-reference, count), and that state
// is not ARCHIVED (only ArchiveCourse sets it). Output-only fields (revision,
// etag, create_time, update_time) are not checked. Field paths start with
// "course.".
absl::Status ValidateCourse(const lifelong::v1::Course& course);

// Returns the prerequisite ids of the stored course `id`, or NOT_FOUND when
// there is no such course. Other errors abort the check.
using PrerequisiteLookup = std::function<absl::StatusOr<std::vector<std::string>>(const std::string& id)>;

// Checks the prerequisites of `course` against the stored catalog seen through
// `lookup`: each must exist (INVALID_ARGUMENT
// "course.prerequisite_ids[i]: no course with id 'x'"), and following
// prerequisites from `course` (with its new list) must never lead back to it
// (INVALID_ARGUMENT "course.prerequisite_ids: cycle a -> b -> a"). Lookup
// errors other than NOT_FOUND are returned as they are.
absl::Status ValidatePrerequisites(const lifelong::v1::Course& course, const PrerequisiteLookup& lookup);

// OK when every path names a field of Course (nested paths through singular
// messages, e.g. "venue.xuequ"), or the mask is the single path "*".
absl::Status ValidateUpdateMask(const google::protobuf::FieldMask& mask);

// Checks page_size (0..1000), enum filters (known values), text filters
// (lengths, venue_id charset) and enrollment_open_at. The page token is
// checked by the store.
absl::Status ValidateListCoursesRequest(const lifelong::v1::ListCoursesRequest& request);

inline constexpr int kMaxProgrammeRules = 32;
inline constexpr int kMaxProgrammeCourses = 64;
inline constexpr int kMaxProgrammes = 1000;

// Checks everything about `programme` that needs no course: id, name (1..200
// characters), description, issuer, credits in [0, 1000], by_category (at
// most 32, categories 1..64 characters and distinct, credits in (0, 1000]),
// required_course_ids (at most 64, valid ids, no repeats), deadline, and that
// some rule is set. Field paths start with "programme.".
absl::Status ValidateProgramme(const lifelong::v1::Programme& programme);

// Number of code points in `text`, or -1 when it is not valid UTF-8
// (utf8::Decode's strict rule).
int Utf8Length(absl::string_view text);

}  // namespace lifelong::catalog

#endif  // LIFELONG_SERVICES_CATALOG_COURSE_VALIDATION_H_
