#include "services/catalog/course_enums.h"

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace lifelong::catalog {
namespace {

using lifelong::v1::Course;

template <typename E>
struct Entry {
  E value;
  absl::string_view name;
  absl::string_view zh;  // Chinese label, where one is accepted
};

constexpr Entry<Course::Mode> kModes[] = {
    {Course::OFFLINE, "offline", ""},
    {Course::ONLINE, "online", ""},
    {Course::BLENDED, "blended", ""},
};
constexpr Entry<Course::Level> kLevels[] = {
    {Course::BEGINNER, "beginner", "入门"},
    {Course::INTERMEDIATE, "intermediate", "进阶"},
    {Course::ADVANCED, "advanced", "提高"},
};
constexpr Entry<Course::Audience> kAudiences[] = {
    {Course::CHILDREN, "children", ""},
    {Course::TEENS, "teens", ""},
    {Course::ADULTS, "adults", ""},
    {Course::SENIORS, "seniors", ""},
};
constexpr Entry<Course::State> kStates[] = {
    {Course::DRAFT, "draft", ""},
    {Course::OPEN, "open", ""},
    {Course::CLOSED, "closed", ""},
    {Course::ARCHIVED, "archived", ""},
};

template <typename E>
std::string NameOf(absl::Span<const Entry<E>> table, E value) {
  for (const Entry<E>& e : table) {
    if (e.value == value) return std::string(e.name);
  }
  return "";
}

template <typename E>
E FromName(absl::Span<const Entry<E>> table, absl::string_view name, E unspecified) {
  for (const Entry<E>& e : table) {
    if (!name.empty() && e.name == name) return e.value;
  }
  return unspecified;
}

template <typename E>
std::string NameList(absl::Span<const Entry<E>> table) {
  std::string out;
  for (size_t i = 0; i < table.size(); ++i) {
    if (i > 0) out += i + 1 == table.size() ? " or " : ", ";
    absl::StrAppend(&out, table[i].name);
  }
  return out;
}

}  // namespace

std::string ModeName(Course::Mode mode) { return NameOf<Course::Mode>(kModes, mode); }
std::string LevelName(Course::Level level) { return NameOf<Course::Level>(kLevels, level); }
std::string AudienceName(Course::Audience audience) { return NameOf<Course::Audience>(kAudiences, audience); }
std::string StateName(Course::State state) { return NameOf<Course::State>(kStates, state); }

Course::Mode ModeFromName(absl::string_view name) {
  return FromName<Course::Mode>(kModes, name, Course::MODE_UNSPECIFIED);
}
Course::Level LevelFromName(absl::string_view name) {
  return FromName<Course::Level>(kLevels, name, Course::LEVEL_UNSPECIFIED);
}
Course::Audience AudienceFromName(absl::string_view name) {
  return FromName<Course::Audience>(kAudiences, name, Course::AUDIENCE_UNSPECIFIED);
}
Course::State StateFromName(absl::string_view name) {
  return FromName<Course::State>(kStates, name, Course::STATE_UNSPECIFIED);
}

Course::Level LevelFromChineseLabel(absl::string_view label) {
  for (const Entry<Course::Level>& e : kLevels) {
    if (!label.empty() && e.zh == label) return e.value;
  }
  return Course::LEVEL_UNSPECIFIED;
}

std::string ModeNameList() { return NameList<Course::Mode>(kModes); }
std::string LevelNameList() { return NameList<Course::Level>(kLevels); }
std::string AudienceNameList() { return NameList<Course::Audience>(kAudiences); }
std::string StateNameList() { return NameList<Course::State>(kStates); }

}  // namespace lifelong::catalog
