// The one table of names of the catalog's course enums (lifelong.v1.Course
// Mode, Level, Audience, State): the lowercase names the CLI's flags and
// tables, the recommender's domain types and its filters use, and the Chinese
// labels the CLI also accepts for levels. Both directions read the same
// table, so a name and its value cannot drift apart. Pure; thread-safe.
#ifndef LIFELONG_SERVICES_CATALOG_COURSE_ENUMS_H_
#define LIFELONG_SERVICES_CATALOG_COURSE_ENUMS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "proto/lifelong/v1/catalog.pb.h"

namespace lifelong::catalog {

// Lowercase names ("" for UNSPECIFIED and unknown values):
std::string ModeName(lifelong::v1::Course::Mode mode);              // "offline" | "online" | "blended"
std::string LevelName(lifelong::v1::Course::Level level);           // "beginner" | "intermediate" | "advanced"
std::string AudienceName(lifelong::v1::Course::Audience audience);  // "children" | "teens" | "adults" | "seniors"
std::string StateName(lifelong::v1::Course::State state);           // "draft" | "open" | "closed" | "archived"

// Reverse mappings of the lowercase names (UNSPECIFIED for anything else).
lifelong::v1::Course::Mode ModeFromName(absl::string_view name);
lifelong::v1::Course::Level LevelFromName(absl::string_view name);
lifelong::v1::Course::Audience AudienceFromName(absl::string_view name);
lifelong::v1::Course::State StateFromName(absl::string_view name);

// A level from its Chinese label ("入门", "进阶", "提高"); UNSPECIFIED otherwise.
lifelong::v1::Course::Level LevelFromChineseLabel(absl::string_view label);

// The names for a usage message, in enum order: "offline, online or blended".
std::string ModeNameList();
std::string LevelNameList();
std::string AudienceNameList();
std::string StateNameList();

}  // namespace lifelong::catalog

#endif  // LIFELONG_SERVICES_CATALOG_COURSE_ENUMS_H_
