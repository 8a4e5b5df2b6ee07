// Tests only: what a piece of code writes to stderr (the structured log's
// destination), line by line.
#ifndef LIFELONG_SERVICES_COMMON_CAPTURE_STDERR_H_
#define LIFELONG_SERVICES_COMMON_CAPTURE_STDERR_H_

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace lifelong::testing {

// Runs `write` with stderr redirected to $TEST_TMPDIR/<name>; the lines
// written. Not thread-safe: nothing else may write to stderr meanwhile.
template <typename F>
std::vector<std::string> CaptureStderr(const std::string& name, F write) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  const int file = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(file, STDERR_FILENO);
  write();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace lifelong::testing

#endif  // LIFELONG_SERVICES_COMMON_CAPTURE_STDERR_H_
