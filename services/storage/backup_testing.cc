#include "services/storage/backup_testing.h"

#include <cstdint>
#include <filesystem>
#include <fstream>

namespace lifelong::storage::testing {

namespace fs = std::filesystem;

std::string FlipByteInLargestTable(const std::string& dir) {
  fs::path largest;
  uintmax_t size = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".sst" && e.file_size() > size) {
      largest = e.path();
      size = e.file_size();
    }
  }
  if (largest.empty()) return "";
  std::fstream f(largest, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(size / 2));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(size / 2));
  f.write(&c, 1);
  return largest.string();
}

std::vector<std::string> RestoreSiblingsIn(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string f = e.path().filename().string();
    if (f.find(".restoring-") != std::string::npos || f.find(".replaced-") != std::string::npos) out.push_back(f);
  }
  return out;
}

}  // namespace lifelong::storage::testing
