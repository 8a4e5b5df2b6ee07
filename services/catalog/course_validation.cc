#include "services/catalog/course_validation.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/field_mask_util.h"
#include "services/catalog/catalog_codec.h"
#include "services/common/utf8.h"

namespace lifelong::catalog {
namespace {

using lifelong::v1::Course;
using lifelong::v1::ListCoursesRequest;

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the Timestamp range.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// Decodes one code point at `*pos` (utf8::Decode) and advances past it;
// returns -1, not advancing, on malformed UTF-8.
int32_t NextCodePoint(absl::string_view s, size_t* pos) {
  const utf8::Decoded d = utf8::Decode(s, *pos);
  if (!d.ok()) return -1;
  *pos += d.size;
  return static_cast<int32_t>(d.code_point);
}

// Spaces, and characters that show nothing: zero-width ones and the
// byte-order mark, the soft hyphen, the combining grapheme joiner, the Hangul
// fillers (U+115F, U+1160, U+3164, U+FFA0), the blank Braille pattern, the
// invisible operators (U+2061-U+2064), the deprecated format characters
// (U+206A-U+206F), variation selectors (U+FE00-U+FE0F, U+E0100-U+E01EF) and
// tags (U+E0000-U+E007F). A title made only of them is blank; among other
// characters they are allowed (a variation selector belongs to an emoji).
bool IsBlankCodePoint(int32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || cp == 0xa0 || cp == 0xad ||
         cp == 0x34f || cp == 0x115f || cp == 0x1160 || cp == 0x17b4 || cp == 0x17b5 ||
         (cp >= 0x180b && cp <= 0x180f) || (cp >= 0x2000 && cp <= 0x200d) || cp == 0x202f ||
         (cp >= 0x205f && cp <= 0x2064) || (cp >= 0x206a && cp <= 0x206f) || cp == 0x2800 || cp == 0x3000 ||
         cp == 0x3164 || (cp >= 0xfe00 && cp <= 0xfe0f) || cp == 0xfeff || cp == 0xffa0 ||
         (cp >= 0xe0000 && cp <= 0xe007f) || (cp >= 0xe0100 && cp <= 0xe01ef);
}

// Control characters in any text: C0 (but \n, \r, \t where multi-line),
// DEL, C1 (U+0080-U+009F, e.g. U+0085 next line), the line and paragraph
// separators, and the bidirectional controls: embeddings, overrides and
// isolates (U+202A-U+202E, U+2066-U+2069) and the marks (U+200E left-to-right,
// U+200F right-to-left, U+061C Arabic letter mark), which reorder how the
// rest of a screen reads and have no use in Chinese or English course text.
bool IsControlCodePoint(int32_t cp, bool multiline) {
  if (multiline && (cp == '\n' || cp == '\r' || cp == '\t')) return false;
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x61c || cp == 0x200e || cp == 0x200f || cp == 0x2028 ||
         cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

struct TextRule {
  int max_chars;
  bool required = false;
  bool multiline = false;  // allows \n, \r and \t
};

// Length, UTF-8 validity, control characters, and (when required) non-blank.
absl::Status CheckText(absl::string_view field, absl::string_view text, TextRule rule) {
  size_t pos = 0;
  int chars = 0;
  bool blank = true;
  while (pos < text.size()) {
    const int32_t cp = NextCodePoint(text, &pos);
    if (cp < 0) return Invalid(field, "must be valid UTF-8");
    if (IsControlCodePoint(cp, rule.multiline)) {
      return Invalid(field, absl::StrFormat("must not contain control characters (U+%04X)", cp));
    }
    if (!IsBlankCodePoint(cp)) blank = false;
    ++chars;
  }
  if (rule.required && blank) return Invalid(field, "must not be empty");
  if (chars > rule.max_chars) {
    return Invalid(field, absl::StrCat("must be at most ", rule.max_chars, " characters (has ", chars, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckNumber(absl::string_view field, double value, double max) {
  if (!std::isfinite(value)) return Invalid(field, "must be a finite number");
  if (value < 0) return Invalid(field, "must not be negative");
  if (value > max) return Invalid(field, absl::StrCat("must be at most ", max));
  return absl::OkStatus();
}

bool IsAsciiAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// A BCP-47-shaped tag: 2-3 letters, then "-" separated 1..8 alphanumerics.
bool IsLanguageTag(absl::string_view tag) {
  if (tag.size() > kMaxLanguageBytes) return false;
  size_t i = 0;
  while (i < tag.size() && ((tag[i] >= 'a' && tag[i] <= 'z') || (tag[i] >= 'A' && tag[i] <= 'Z'))) {
    ++i;
  }
  if (i < 2 || i > 3) return false;
  while (i < tag.size()) {
    if (tag[i] != '-') return false;
    size_t j = i + 1;
    while (j < tag.size() && IsAsciiAlnum(tag[j])) ++j;
    if (j - i - 1 < 1 || j - i - 1 > 8) return false;
    i = j;
  }
  return true;
}

absl::Status CheckUrl(absl::string_view field, absl::string_view url) {
  if (url.size() > kMaxUrlBytes) {
    return Invalid(field, absl::StrCat("must be at most ", kMaxUrlBytes, " bytes"));
  }
  const bool http = url.substr(0, 7) == "http://" && url.size() > 7;
  const bool https = url.substr(0, 8) == "https://" && url.size() > 8;
  if (!http && !https) return Invalid(field, "must be an http:// or https:// URL");
  // Non-ASCII is allowed (an IRI's Chinese path), but not a character that
  // is a space, shows nothing, or is a control: any of them in a link makes
  // it read as another address, or breaks it where it is shown or copied.
  size_t pos = 0;
  while (pos < url.size()) {
    const int32_t cp = NextCodePoint(url, &pos);
    if (cp < 0) return Invalid(field, "must be valid UTF-8");
    if (IsControlCodePoint(cp, /*multiline=*/false) || IsBlankCodePoint(cp)) {
      return Invalid(field, absl::StrFormat("must not contain spaces, invisible or control characters (U+%04X)", cp));
    }
  }
  return absl::OkStatus();
}

template <typename IsValidFn>
absl::Status CheckEnum(absl::string_view field, int value, IsValidFn is_valid, bool required) {
  if (!is_valid(value)) return Invalid(field, absl::StrCat("unknown value ", value));
  if (required && value == 0) return Invalid(field, "must be set");
  return absl::OkStatus();
}

absl::Status CheckVenue(const Course& course) {
  const lifelong::v1::Venue& venue = course.venue();
  const bool needs_venue = course.mode() == Course::OFFLINE || course.mode() == Course::BLENDED;
  if (venue.id().empty()) {
    if (needs_venue) return Invalid("course.venue.id", "required for offline and blended courses");
  } else {
    if (auto s = ValidateCourseId("course.venue.id", venue.id()); !s.ok()) return s;
  }
  if (auto s = CheckText("course.venue.name", venue.name(), {kMaxVenueNameChars}); !s.ok()) {
    return s;
  }
  if (auto s = CheckText("course.venue.address", venue.address(), {kMaxAddressChars}); !s.ok()) {
    return s;
  }
  if (auto s = CheckText("course.venue.xuequ", venue.xuequ(), {kMaxAreaChars}); !s.ok()) return s;
  if (auto s = CheckText("course.venue.jiedao", venue.jiedao(), {kMaxAreaChars}); !s.ok()) {
    return s;
  }
  if (venue.has_location()) {
    const double lat = venue.location().latitude();
    const double lng = venue.location().longitude();
    if (!std::isfinite(lat) || lat < -90 || lat > 90) {
      return Invalid("course.venue.location.latitude", "must be in [-90, 90]");
    }
    if (!std::isfinite(lng) || lng < -180 || lng > 180) {
      return Invalid("course.venue.location.longitude", "must be in [-180, 180]");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSchedule(const Course& course) {
  if (course.sessions_size() > kMaxSessions) {
    return Invalid("course.sessions", absl::StrCat("at most ", kMaxSessions, " sessions"));
  }
  for (int i = 0; i < course.sessions_size(); ++i) {
    const lifelong::v1::Session& session = course.sessions(i);
    const std::string field = absl::StrCat("course.sessions[", i, "]");
    if (!session.has_start_time()) return Invalid(field + ".start_time", "required");
    if (!session.has_end_time()) return Invalid(field + ".end_time", "required");
    if (auto s = ValidateTimestamp(field + ".start_time", session.start_time()); !s.ok()) return s;
    if (auto s = ValidateTimestamp(field + ".end_time", session.end_time()); !s.ok()) return s;
    const auto start = std::make_pair(session.start_time().seconds(), session.start_time().nanos());
    const auto end = std::make_pair(session.end_time().seconds(), session.end_time().nanos());
    if (end <= start) return Invalid(field + ".end_time", "must be after start_time");
    if (auto s = CheckText(field + ".room", session.room(), {kMaxRoomChars}); !s.ok()) return s;
  }
  if (course.has_enrollment_open_time()) {
    if (auto s = ValidateTimestamp("course.enrollment_open_time", course.enrollment_open_time()); !s.ok()) {
      return s;
    }
  }
  if (course.has_enrollment_close_time()) {
    if (auto s = ValidateTimestamp("course.enrollment_close_time", course.enrollment_close_time()); !s.ok()) {
      return s;
    }
  }
  if (course.has_enrollment_open_time() && course.has_enrollment_close_time()) {
    const auto& open = course.enrollment_open_time();
    const auto& close = course.enrollment_close_time();
    if (std::make_pair(close.seconds(), close.nanos()) <= std::make_pair(open.seconds(), open.nanos())) {
      return Invalid("course.enrollment_close_time", "must be after enrollment_open_time");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckPrerequisiteShape(const Course& course) {
  if (course.prerequisite_ids_size() > kMaxPrerequisites) {
    return Invalid("course.prerequisite_ids", absl::StrCat("at most ", kMaxPrerequisites, " prerequisites"));
  }
  std::set<std::string> seen;
  for (int i = 0; i < course.prerequisite_ids_size(); ++i) {
    const std::string& p = course.prerequisite_ids(i);
    const std::string field = absl::StrCat("course.prerequisite_ids[", i, "]");
    if (auto s = ValidateCourseId(field, p); !s.ok()) return s;
    if (p == course.id()) return Invalid(field, "a course cannot require itself");
    if (!seen.insert(p).second) return Invalid(field, absl::StrCat("repeats '", p, "'"));
  }
  return absl::OkStatus();
}

}  // namespace

int Utf8Length(absl::string_view text) {
  size_t pos = 0;
  int chars = 0;
  while (pos < text.size()) {
    if (NextCodePoint(text, &pos) < 0) return -1;
    ++chars;
  }
  return chars;
}

absl::Status ValidateCourseId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return Invalid(field, "required");
  if (!codec::IsValidCourseId(id)) return Invalid(field, "must match [a-z0-9_-]{1,64}");
  return absl::OkStatus();
}

absl::Status ValidateTimestamp(absl::string_view field, const google::protobuf::Timestamp& ts) {
  if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds) {
    return Invalid(field, "must be between 0001-01-01 and 9999-12-31");
  }
  if (ts.nanos() < 0 || ts.nanos() > 999999999) {
    return Invalid(field, "nanos must be in [0, 999999999]");
  }
  return absl::OkStatus();
}

absl::Status ValidateCourse(const Course& course) {
  if (auto s = ValidateCourseId("course.id", course.id()); !s.ok()) return s;
  if (auto s = CheckText("course.title", course.title(), {kMaxTitleChars, /*required=*/true}); !s.ok()) {
    return s;
  }
  if (auto s = CheckText("course.description", course.description(),
                         {kMaxDescriptionChars, /*required=*/false, /*multiline=*/true});
      !s.ok()) {
    return s;
  }
  if (auto s = CheckText("course.category", course.category(), {kMaxCategoryChars}); !s.ok()) {
    return s;
  }
  if (course.tags_size() > kMaxTags) {
    return Invalid("course.tags", absl::StrCat("at most ", kMaxTags, " tags"));
  }
  std::set<std::string> tags;
  for (int i = 0; i < course.tags_size(); ++i) {
    const std::string field = absl::StrCat("course.tags[", i, "]");
    if (auto s = CheckText(field, course.tags(i), {kMaxTagChars, /*required=*/true}); !s.ok()) {
      return s;
    }
    if (!tags.insert(course.tags(i)).second) {
      return Invalid(field, absl::StrCat("repeats '", course.tags(i), "'"));
    }
  }
  if (auto s = CheckText("course.provider.name", course.provider().name(), {kMaxProviderNameChars, /*required=*/true});
      !s.ok()) {
    return s;
  }
  if (auto s = CheckEnum("course.provider.kind", course.provider().kind(), lifelong::v1::Provider::Kind_IsValid,
                         /*required=*/true);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckEnum("course.mode", course.mode(), Course::Mode_IsValid, /*required=*/true); !s.ok()) {
    return s;
  }
  if (auto s = CheckVenue(course); !s.ok()) return s;
  if (auto s = CheckSchedule(course); !s.ok()) return s;
  if (course.capacity() < 0) return Invalid("course.capacity", "must not be negative");
  if (course.seats_taken() < 0) return Invalid("course.seats_taken", "must not be negative");
  if (course.capacity() > 0 && course.seats_taken() > course.capacity()) {
    return Invalid("course.capacity",
                   absl::StrCat("must be at least seats_taken (", course.seats_taken(), "), or 0 for no limit"));
  }
  if (auto s = CheckNumber("course.credits", course.credits(), kMaxCredits); !s.ok()) return s;
  if (auto s = CheckNumber("course.hours", course.hours(), kMaxHours); !s.ok()) return s;
  if (auto s = CheckEnum("course.level", course.level(), Course::Level_IsValid, false); !s.ok()) {
    return s;
  }
  std::set<int> audiences;
  for (int i = 0; i < course.audiences_size(); ++i) {
    const std::string field = absl::StrCat("course.audiences[", i, "]");
    if (auto s = CheckEnum(field, course.audiences(i), Course::Audience_IsValid, true); !s.ok()) {
      return s;
    }
    if (!audiences.insert(course.audiences(i)).second) return Invalid(field, "repeats a value");
  }
  if (!course.language().empty() && !IsLanguageTag(course.language())) {
    return Invalid("course.language", "must be a BCP-47 language tag such as zh-CN");
  }
  if (auto s = CheckPrerequisiteShape(course); !s.ok()) return s;
  if (auto s = CheckEnum("course.state", course.state(), Course::State_IsValid, false); !s.ok()) {
    return s;
  }
  if (course.state() == Course::ARCHIVED) {
    return Invalid("course.state", "ARCHIVED is set only by ArchiveCourse");
  }
  if (!course.url().empty()) {
    if (auto s = CheckUrl("course.url", course.url()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidatePrerequisites(const Course& course, const PrerequisiteLookup& lookup) {
  // The graph as the write would leave it: `course` with its new list, every
  // other course as stored.
  std::unordered_map<std::string, std::vector<std::string>> edges;
  edges[course.id()] = {course.prerequisite_ids().begin(), course.prerequisite_ids().end()};
  for (int i = 0; i < course.prerequisite_ids_size(); ++i) {
    const std::string& p = course.prerequisite_ids(i);
    if (edges.count(p) != 0) continue;
    absl::StatusOr<std::vector<std::string>> next = lookup(p);
    if (absl::IsNotFound(next.status())) {
      return Invalid(absl::StrCat("course.prerequisite_ids[", i, "]"), absl::StrCat("no course with id '", p, "'"));
    }
    if (!next.ok()) return next.status();
    edges[p] = *std::move(next);
  }
  // Iterative depth-first search from the course; reaching it again is a
  // cycle. `path` is the current chain, for the message.
  struct Frame {
    std::string id;
    size_t next_child = 0;
  };
  std::vector<Frame> stack = {{course.id()}};
  std::vector<std::string> path = {course.id()};
  std::unordered_set<std::string> done;
  while (!stack.empty()) {
    Frame& top = stack.back();
    auto it = edges.find(top.id);
    if (it == edges.end()) {
      absl::StatusOr<std::vector<std::string>> next = lookup(top.id);
      if (absl::IsNotFound(next.status())) {
        it = edges.emplace(top.id, std::vector<std::string>{}).first;  // dangling: no edges
      } else if (!next.ok()) {
        return next.status();
      } else {
        it = edges.emplace(top.id, *std::move(next)).first;
      }
    }
    if (top.next_child >= it->second.size()) {
      done.insert(top.id);
      stack.pop_back();
      path.pop_back();
      continue;
    }
    const std::string child = it->second[top.next_child++];
    if (child == course.id()) {
      path.push_back(child);
      return Invalid("course.prerequisite_ids", absl::StrCat("cycle ", absl::StrJoin(path, " -> ")));
    }
    if (done.count(child) != 0) continue;
    if (std::find(path.begin(), path.end(), child) != path.end()) continue;  // cycle not via us
    stack.push_back({child});
    path.push_back(child);
  }
  return absl::OkStatus();
}

absl::Status ValidateUpdateMask(const google::protobuf::FieldMask& mask) {
  if (mask.paths_size() == 1 && mask.paths(0) == "*") return absl::OkStatus();
  for (int i = 0; i < mask.paths_size(); ++i) {
    if (!google::protobuf::util::FieldMaskUtil::GetFieldDescriptors(Course::descriptor(), mask.paths(i), nullptr)) {
      return Invalid(absl::StrCat("update_mask.paths[", i, "]"),
                     absl::StrCat("'", mask.paths(i), "' is not a field of Course"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateListCoursesRequest(const ListCoursesRequest& request) {
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    return Invalid("page_size", absl::StrCat("must be in [1, ", kMaxPageSize, "] (0 means ", kDefaultPageSize, ")"));
  }
  if (auto s = CheckEnum("state", request.state(), Course::State_IsValid, false); !s.ok()) return s;
  if (auto s = CheckEnum("mode", request.mode(), Course::Mode_IsValid, false); !s.ok()) return s;
  if (auto s = CheckEnum("audience", request.audience(), Course::Audience_IsValid, false); !s.ok()) {
    return s;
  }
  if (auto s = CheckEnum("level", request.level(), Course::Level_IsValid, false); !s.ok()) return s;
  if (auto s = CheckText("category", request.category(), {kMaxCategoryChars}); !s.ok()) return s;
  if (auto s = CheckText("tag", request.tag(), {kMaxTagChars}); !s.ok()) return s;
  if (auto s = CheckText("xuequ", request.xuequ(), {kMaxAreaChars}); !s.ok()) return s;
  if (auto s = CheckText("jiedao", request.jiedao(), {kMaxAreaChars}); !s.ok()) return s;
  if (!request.venue_id().empty()) {
    if (auto s = ValidateCourseId("venue_id", request.venue_id()); !s.ok()) return s;
  }
  if (request.has_enrollment_open_at()) {
    if (auto s = ValidateTimestamp("enrollment_open_at", request.enrollment_open_at()); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateProgramme(const lifelong::v1::Programme& p) {
  auto invalid = [](absl::string_view field, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
  };
  if (auto s = ValidateCourseId("programme.id", p.id()); !s.ok()) return s;
  if (auto s = CheckText("programme.name", p.name(), {kMaxTitleChars, /*required=*/true}); !s.ok()) return s;
  if (auto s = CheckText("programme.description", p.description(),
                         {kMaxDescriptionChars, /*required=*/false, /*multiline=*/true});
      !s.ok()) {
    return s;
  }
  if (auto s = CheckText("programme.issuer", p.issuer(), {128}); !s.ok()) return s;
  if (!(p.credits() >= 0 && p.credits() <= kMaxCredits)) {
    return invalid("programme.credits", absl::StrCat("must be in [0, ", kMaxCredits, "]"));
  }
  if (p.by_category_size() > kMaxProgrammeRules) {
    return invalid("programme.by_category", absl::StrCat("at most ", kMaxProgrammeRules, " entries"));
  }
  std::set<std::string> categories;
  for (int i = 0; i < p.by_category_size(); ++i) {
    const auto& r = p.by_category(i);
    const std::string field = absl::StrCat("programme.by_category[", i, "]");
    if (auto s = CheckText(field + ".category", r.category(), {kMaxCategoryChars, /*required=*/true}); !s.ok()) {
      return s;
    }
    if (!categories.insert(r.category()).second) {
      return invalid(field + ".category", absl::StrCat("'", r.category(), "' repeats"));
    }
    if (!(r.credits() > 0 && r.credits() <= kMaxCredits)) {
      return invalid(field + ".credits", absl::StrCat("must be in (0, ", kMaxCredits, "]"));
    }
  }
  if (p.required_course_ids_size() > kMaxProgrammeCourses) {
    return invalid("programme.required_course_ids", absl::StrCat("at most ", kMaxProgrammeCourses, " ids"));
  }
  std::set<std::string> ids;
  for (int i = 0; i < p.required_course_ids_size(); ++i) {
    const std::string field = absl::StrCat("programme.required_course_ids[", i, "]");
    if (auto s = ValidateCourseId(field, p.required_course_ids(i)); !s.ok()) return s;
    if (!ids.insert(p.required_course_ids(i)).second) {
      return invalid(field, absl::StrCat("'", p.required_course_ids(i), "' repeats"));
    }
  }
  if (p.has_deadline()) {
    if (auto s = ValidateTimestamp("programme.deadline", p.deadline()); !s.ok()) return s;
  }
  if (p.credits() == 0 && p.by_category_size() == 0 && p.required_course_ids_size() == 0) {
    return invalid("programme", "needs credits, by_category or required_course_ids");
  }
  return absl::OkStatus();
}

}  // namespace lifelong::catalog
