// The one shape of a store's RocksDB column-family registry. Each store
// declares, in its own column_families.h:
//
//   enum class Cf : uint8_t { kDefault = 0, kSomething = 1, ... };
//   inline constexpr int kNumColumnFamilies = N;
//   inline constexpr std::array<storage::ColumnFamilySpec<Cf>, kNumColumnFamilies>
//       kColumnFamilies = {{ {Cf::kDefault, "default"}, ... }};
//   static_assert(storage::IdsMatchPositions(kColumnFamilies));
//
// and pins names and ids with a test. Names and ids are part of the on-disk
// format: never rename or renumber an entry, only append. Key and value
// layouts per family are documented in the store's codec header.
#ifndef LIFELONG_SERVICES_STORAGE_COLUMN_FAMILY_REGISTRY_H_
#define LIFELONG_SERVICES_STORAGE_COLUMN_FAMILY_REGISTRY_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace lifelong::storage {

// One registry entry. `Id` is the store's `enum class Cf : uint8_t`.
template <typename Id>
struct ColumnFamilySpec {
  Id id;
  const char* name;
  // A secondary-index family whose keys start with a prefix the store
  // declares (it gets prefix bloom filters instead of whole-key ones).
  bool is_index = false;
};

// Whether kColumnFamilies[i].id == i for every entry (the store indexes its
// handle vector by id). Use in a static_assert beside the registry.
template <typename Id, size_t N>
constexpr bool IdsMatchPositions(const std::array<ColumnFamilySpec<Id>, N>& registry) {
  for (size_t i = 0; i < N; ++i) {
    if (static_cast<size_t>(registry[i].id) != i) return false;
  }
  return N > 0;
}

// The registry name of `id` (ids match positions).
template <typename Id, size_t N>
constexpr absl::string_view ColumnFamilyName(const std::array<ColumnFamilySpec<Id>, N>& registry, Id id) {
  return registry[static_cast<size_t>(id)].name;
}

// The names in `on_disk` (rocksdb::DB::ListColumnFamilies) that the registry
// does not know, in their order: a database written by a newer version, which
// the store refuses to open rather than silently ignore.
template <typename Id, size_t N>
std::vector<std::string> UnknownColumnFamilies(const std::array<ColumnFamilySpec<Id>, N>& registry,
                                               const std::vector<std::string>& on_disk) {
  std::vector<std::string> unknown;
  for (const std::string& name : on_disk) {
    bool known = false;
    for (const ColumnFamilySpec<Id>& spec : registry) known = known || name == spec.name;
    if (!known) unknown.push_back(name);
  }
  return unknown;
}

}  // namespace lifelong::storage

#endif  // LIFELONG_SERVICES_STORAGE_COLUMN_FAMILY_REGISTRY_H_
