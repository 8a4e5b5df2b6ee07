// What a store's files hold, for erasure tests: whether any byte of an
// erased learner's data is still on disk.
#ifndef LIFELONG_TESTS_TESTING_STORE_FILES_H_
#define LIFELONG_TESTS_TESTING_STORE_FILES_H_

#include <string>

namespace lifelong::testing {

// Whether any file under `dir` contains `needle` as raw bytes (write-ahead
// logs, manifests, and table blocks that are not compressed).
bool AnyFileContains(const std::string& dir, const std::string& needle);

// Whether any table file under `dir` holds `needle` in a key or value once
// decoded (blocks are LZ4-compressed, so a byte scan alone could miss it).
// A table that cannot be opened is a test failure.
bool AnyTableEntryContains(const std::string& dir, const std::string& needle);

}  // namespace lifelong::testing

#endif  // LIFELONG_TESTS_TESTING_STORE_FILES_H_
