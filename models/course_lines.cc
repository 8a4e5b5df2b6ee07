#include "models/course_lines.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace lifelong::models {

absl::StatusOr<std::string> CourseIdOf(const nlohmann::json& record, std::initializer_list<const char*> keys) {
  const nlohmann::json* id = nullptr;
  for (const char* key : keys) {
    if (record.contains(key)) {
      id = &record[key];
      break;
    }
  }
  if (id == nullptr) {
    std::vector<std::string> quoted;
    for (const char* key : keys) quoted.push_back(absl::StrCat("\"", key, "\""));
    std::string list = quoted.back();
    if (quoted.size() > 1) {
      list = absl::StrCat(absl::StrJoin(quoted.begin(), quoted.end() - 1, ", "), " or ", quoted.back());
    }
    return absl::InvalidArgumentError(absl::StrCat("no ", list));
  }
  if (id->is_number_integer()) return std::to_string(id->get<int64_t>());
  if (id->is_string() && !id->get<std::string>().empty()) return id->get<std::string>();
  return absl::InvalidArgumentError("course id: not an integer or a non-empty string");
}

}  // namespace lifelong::models
