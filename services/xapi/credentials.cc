#include "services/xapi/credentials.h"

#include <openssl/crypto.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace lifelong::xapi {

absl::StatusOr<Credentials> Credentials::Parse(absl::string_view text) {
  Credentials c;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(absl::StrCat("credentials line ", line_no, ": want user:password"));
    }
    c.users_[std::string(line.substr(0, colon))] = std::string(line.substr(colon + 1));
  }
  return c;
}

absl::StatusOr<Credentials> Credentials::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("credentials file ", path, " not found"));
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str());
}

absl::StatusOr<std::string> Credentials::Check(absl::string_view authorization) const {
  if (!absl::StartsWithIgnoreCase(authorization, "Basic ")) {
    return absl::UnauthenticatedError("Basic authentication required");
  }
  std::string decoded;
  if (!absl::Base64Unescape(absl::StripAsciiWhitespace(authorization.substr(6)), &decoded)) {
    return absl::UnauthenticatedError("malformed Basic credentials");
  }
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) return absl::UnauthenticatedError("malformed Basic credentials");
  std::string user = decoded.substr(0, colon);
  std::string pass = decoded.substr(colon + 1);
  auto it = users_.find(user);
  if (it == users_.end() || it->second.size() != pass.size() ||
      CRYPTO_memcmp(it->second.data(), pass.data(), pass.size()) != 0) {
    return absl::UnauthenticatedError("unknown user or wrong password");
  }
  return user;
}

}  // namespace lifelong::xapi
