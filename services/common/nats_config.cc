#include "services/common/nats_config.h"

#include <sys/stat.h>

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace lifelong::nats {

bool ValidName(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

absl::StatusOr<std::vector<std::string>> ParseServerList(absl::string_view list) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    part = absl::StripAsciiWhitespace(part);
    absl::string_view rest = part;
    if (!absl::ConsumePrefix(&rest, "nats://") || rest.empty() || !absl::StrContains(rest, ':')) {
      return absl::InvalidArgumentError(absl::StrCat("--replication_nats: \"", part, "\" is not nats://host:port"));
    }
    out.emplace_back(part);
  }
  if (out.empty()) return absl::InvalidArgumentError("--replication_nats: no server given");
  return out;
}

absl::StatusOr<std::pair<std::string, std::string>> ReadNatsCredentialsFile(const std::string& path) {
  constexpr char kFlag[] = "--replication_nats_credentials_file";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(kFlag, ": cannot read ", path));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(kFlag, ": ", path, " is readable by other users (chmod 600 ", path, ")"));
  }
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return absl::InvalidArgumentError(absl::StrCat(kFlag, ": cannot read ", path, " (or it is empty)"));
  }
  line = std::string(absl::StripAsciiWhitespace(line));
  const size_t colon = line.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == line.size()) {
    return absl::InvalidArgumentError(absl::StrCat(kFlag, ": ", path, " does not hold one line user:password"));
  }
  return std::make_pair(line.substr(0, colon), line.substr(colon + 1));
}

absl::Status ValidateLogFlags(const std::vector<std::string>& servers, const std::string& node_id,
                              const std::string& stream, int replicas) {
  if (servers.empty()) return absl::InvalidArgumentError("--replication_nats: no server given");
  if (!ValidName(node_id)) {
    return absl::InvalidArgumentError(absl::StrCat("--node_id: \"", node_id, "\" must be 1-64 of A-Z a-z 0-9 - _ ."));
  }
  if (!ValidName(stream) || absl::StrContains(stream, '.')) {
    return absl::InvalidArgumentError(
        absl::StrCat("--replication_stream: \"", stream, "\" must be 1-64 of A-Z a-z 0-9 - _"));
  }
  if (replicas < 1 || replicas > 5) {
    return absl::InvalidArgumentError(absl::StrCat("--replicas: ", replicas, " is not between 1 and 5"));
  }
  return absl::OkStatus();
}

}  // namespace lifelong::nats
