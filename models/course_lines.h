// Course ids in JSON-lines course files: a catalog dump ({"id"}), CNPC's course
// info ({"course_idx2"}) or an interaction-like record ({"course"}). Shared by
// the served-ranking recomputation and the replay, which read the same files.
#ifndef LIFELONG_MODELS_COURSE_LINES_H_
#define LIFELONG_MODELS_COURSE_LINES_H_

#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace lifelong::models {

// The first of `keys` that `record` (a JSON object) has, as a course id: an
// integer (written in decimal) or a non-empty string. INVALID_ARGUMENT with
// the reason ("no "id" or "course"", "course id: ...") for the caller to
// prefix with file and line.
absl::StatusOr<std::string> CourseIdOf(const nlohmann::json& record, std::initializer_list<const char*> keys);

}  // namespace lifelong::models

#endif  // LIFELONG_MODELS_COURSE_LINES_H_
