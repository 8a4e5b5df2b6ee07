// The column-family registry of the catalog database: every column family the
// catalog service opens, with a stable numeric id. Names and ids are part of
// the on-disk format: never rename or renumber an entry, only append.
// Key and value layouts per family are in catalog_codec.h.
#ifndef LIFELONG_SERVICES_CATALOG_COLUMN_FAMILIES_H_
#define LIFELONG_SERVICES_CATALOG_COLUMN_FAMILIES_H_

#include <array>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace lifelong::catalog {

// The position of a family in the handle vector the store keeps.
enum class ColumnFamilyId : uint8_t {
  kDefault = 0,      // RocksDB's mandatory family; holds nothing
  kCourses = 1,      // course id -> course record
  kCourseIndex = 2,  // secondary-index entries (keys only)
  kMeta = 3,         // catalog-wide counters and secrets
  kProgrammes = 4,   // programme id -> programme record
};

struct ColumnFamilySpec {
  ColumnFamilyId id;
  absl::string_view name;
};

// Every family, in id order (kColumnFamilies[i].id == i).
inline constexpr std::array<ColumnFamilySpec, 5> kColumnFamilies = {{
    {ColumnFamilyId::kDefault, "default"},
    {ColumnFamilyId::kCourses, "courses"},
    {ColumnFamilyId::kCourseIndex, "course_index"},
    {ColumnFamilyId::kMeta, "meta"},
    {ColumnFamilyId::kProgrammes, "programmes"},
}};

// The registry name of `id`.
constexpr absl::string_view ColumnFamilyName(ColumnFamilyId id) {
  return kColumnFamilies[static_cast<uint8_t>(id)].name;
}

}  // namespace lifelong::catalog

#endif  // LIFELONG_SERVICES_CATALOG_COLUMN_FAMILIES_H_
