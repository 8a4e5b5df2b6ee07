// The column-family registry of the catalog database: every column family the
// catalog service opens, with a stable numeric id, in the storage kit's shape
// (services/storage/column_family_registry.h). Names and ids are part of the
// on-disk format: never rename or renumber an entry, only append.
// Key and value layouts per family are in catalog_codec.h.
#ifndef LIFELONG_SERVICES_CATALOG_COLUMN_FAMILIES_H_
#define LIFELONG_SERVICES_CATALOG_COLUMN_FAMILIES_H_

#include <array>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "services/storage/column_family_registry.h"

namespace lifelong::catalog {

// The position of a family in the handle vector the store keeps.
enum class Cf : uint8_t {
  kDefault = 0,      // RocksDB's mandatory family; holds nothing
  kCourses = 1,      // course id -> course record
  kCourseIndex = 2,  // secondary-index entries (keys only)
  kMeta = 3,         // catalog-wide counters and secrets
  kProgrammes = 4,   // programme id -> programme record
};

inline constexpr int kNumColumnFamilies = 5;

using ColumnFamilySpec = storage::ColumnFamilySpec<Cf>;

// Every family, in id order (kColumnFamilies[i].id == i).
inline constexpr std::array<ColumnFamilySpec, kNumColumnFamilies> kColumnFamilies = {{
    {Cf::kDefault, "default"},
    {Cf::kCourses, "courses"},
    {Cf::kCourseIndex, "course_index"},
    {Cf::kMeta, "meta"},
    {Cf::kProgrammes, "programmes"},
}};
static_assert(storage::IdsMatchPositions(kColumnFamilies));

// The registry name of `id`.
constexpr absl::string_view ColumnFamilyName(Cf id) { return storage::ColumnFamilyName(kColumnFamilies, id); }

}  // namespace lifelong::catalog

#endif  // LIFELONG_SERVICES_CATALOG_COLUMN_FAMILIES_H_
