// Test helpers for the backup tests of every store (records, catalog,
// storage). Test-only.
#ifndef LIFELONG_SERVICES_STORAGE_BACKUP_TESTING_H_
#define LIFELONG_SERVICES_STORAGE_BACKUP_TESTING_H_

#include <string>
#include <vector>

namespace lifelong::storage::testing {

// Flips one byte in the middle of the largest table file (.sst) under `dir`
// (recursively), keeping its size: a corruption only checksums find. Returns
// the file's path; empty when there is no table file.
std::string FlipByteInLargestTable(const std::string& dir);

// The names of the entries of `dir` that a restore leaves beside its targets
// (`*.restoring-*`, `*.replaced-*`), in directory order.
std::vector<std::string> RestoreSiblingsIn(const std::string& dir);

}  // namespace lifelong::storage::testing

#endif  // LIFELONG_SERVICES_STORAGE_BACKUP_TESTING_H_
