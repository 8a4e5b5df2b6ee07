// The column-family registry of the xAPI document database, in the storage
// kit's shape (services/storage/column_family_registry.h). Documents live in
// the default family; their key and value layouts are in document_store.h.
// Names and ids are part of the on-disk format: never rename or renumber an
// entry, only append.
#ifndef LIFELONG_SERVICES_XAPI_COLUMN_FAMILIES_H_
#define LIFELONG_SERVICES_XAPI_COLUMN_FAMILIES_H_

#include <array>
#include <cstdint>

#include "services/storage/column_family_registry.h"

namespace lifelong::xapi {

enum class Cf : uint8_t {
  kDefault = 0,  // every document (layout in document_store.h)
};

inline constexpr int kNumColumnFamilies = 1;

using ColumnFamilySpec = storage::ColumnFamilySpec<Cf>;

// In id order: kColumnFamilies[i].id == Cf(i).
inline constexpr std::array<ColumnFamilySpec, kNumColumnFamilies> kColumnFamilies = {{
    {Cf::kDefault, "default"},
}};
static_assert(storage::IdsMatchPositions(kColumnFamilies));

}  // namespace lifelong::xapi

#endif  // LIFELONG_SERVICES_XAPI_COLUMN_FAMILIES_H_
