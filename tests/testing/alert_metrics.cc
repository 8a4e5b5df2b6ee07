#include "tests/testing/alert_metrics.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace lifelong::testing {
namespace {

bool NameChar(char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_'; }

bool Declared(const std::string& name, const std::string& type, const std::vector<std::string>& pages) {
  const std::string line = absl::StrCat("# TYPE ", name, " ", type);
  for (const std::string& page : pages) {
    if (absl::StrContains(page, line)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::set<std::string>> AlertMetricNames(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::set<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), "#")) continue;
    for (size_t i = 0; i < line.size();) {
      if (!NameChar(line[i]) || (i > 0 && NameChar(line[i - 1]))) {
        ++i;
        continue;
      }
      size_t end = i;
      while (end < line.size() && NameChar(line[end])) ++end;
      const std::string word = line.substr(i, end - i);
      if ((absl::StartsWith(word, "lifelong_") || absl::StartsWith(word, "process_")) && word.back() != '_') {
        names.insert(word);
      }
      i = end;
    }
  }
  if (names.empty()) return absl::FailedPreconditionError(absl::StrCat(path, ": names no metric"));
  return names;
}

std::vector<std::string> UndeclaredMetrics(const std::set<std::string>& names, const std::vector<std::string>& prefixes,
                                           const std::vector<std::string>& metrics_pages) {
  std::vector<std::string> missing;
  for (const std::string& name : names) {
    bool wanted = false;
    for (const std::string& p : prefixes) wanted = wanted || absl::StartsWith(name, p);
    if (!wanted) continue;
    // Any type: "# TYPE name " followed by counter, gauge, histogram, ...
    if (Declared(name, "", metrics_pages)) continue;
    absl::string_view family = name;
    if (absl::ConsumeSuffix(&family, "_bucket") || absl::ConsumeSuffix(&family, "_count") ||
        absl::ConsumeSuffix(&family, "_sum")) {
      if (Declared(std::string(family), "histogram", metrics_pages)) continue;
    }
    missing.push_back(name);
  }
  return missing;
}

}  // namespace lifelong::testing
