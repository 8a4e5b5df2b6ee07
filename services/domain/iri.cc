#include "services/domain/iri.h"

#include <array>
#include <string>

#include "absl/strings/ascii.h"

namespace lifelong::domain {

bool IsAbsoluteIri(absl::string_view s) {
  size_t colon = s.find(':');
  if (colon == absl::string_view::npos || colon == 0 || colon + 1 >= s.size()) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (size_t i = 1; i < colon; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!absl::ascii_isalnum(c) && c != '+' && c != '-' && c != '.') return false;
  }
  // Characters never allowed in an IRI: controls, space, and <>"{}|\^`.
  static const auto kForbidden = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c <= 0x20; ++c) t[c] = true;
    t[0x7F] = true;
    for (unsigned char c : std::string("<>\"{}|\\^`")) t[c] = true;
    return t;
  }();
  for (unsigned char c : s) {
    if (kForbidden[c]) return false;
  }
  return true;
}

bool IsLanguageTag(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  size_t start = 0;
  int index = 0;
  while (start <= s.size()) {
    size_t end = s.find('-', start);
    if (end == absl::string_view::npos) end = s.size();
    absl::string_view sub = s.substr(start, end - start);
    if (sub.empty() || sub.size() > 8) return false;
    for (char c : sub) {
      unsigned char u = static_cast<unsigned char>(c);
      if (index == 0 ? !absl::ascii_isalpha(u) : !absl::ascii_isalnum(u)) return false;
    }
    if (index == 0 && sub.size() == 1 && sub != "i" && sub != "x") return false;
    ++index;
    if (end == s.size()) break;
    start = end + 1;
  }
  return true;
}

}  // namespace lifelong::domain
