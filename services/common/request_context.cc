#include "services/common/request_context.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"

namespace lifelong {
namespace {

std::string& ThreadRequestId() {
  thread_local std::string id;
  return id;
}

}  // namespace

const std::string& CurrentRequestId() { return ThreadRequestId(); }

std::string SetCurrentRequestId(std::string id) {
  std::string previous = std::move(ThreadRequestId());
  ThreadRequestId() = std::move(id);
  return previous;
}

std::string NewRequestId() {
  thread_local absl::BitGen gen;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = absl::Uniform<uint64_t>(gen);
    for (int i = 0; i < 16; ++i) {
      id[half * 16 + i] = kHex[bits & 0xf];
      bits >>= 4;
    }
  }
  return id;
}

bool IsValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = absl::ascii_isalnum(c) || c == '.' || c == '_' || c == ':' || c == '~' || c == '+' || c == '/' ||
                    c == '=' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace lifelong
