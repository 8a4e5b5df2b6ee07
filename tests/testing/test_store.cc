#include "tests/testing/test_store.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "tests/testing/subprocess.h"

namespace lifelong::testing {

std::unique_ptr<records::RecordStore> OpenStore(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<records::RecordStore>> store = records::RecordStore::Open(dir);
  if (!store.ok()) {
    std::fprintf(stderr, "OpenStore(%s): %s\n", dir.c_str(), store.status().ToString().c_str());
    std::abort();
  }
  return std::move(*store);
}

std::unique_ptr<records::RecordStore> FreshStore(const std::string& name) { return OpenStore(FreshTempDir(name)); }

}  // namespace lifelong::testing
