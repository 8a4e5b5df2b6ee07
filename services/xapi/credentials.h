// xAPI HTTP Basic credentials, loaded from a file (never from code):
//   # comment
//   username:password
// one pair a line. Thread-safe after loading (immutable).
#ifndef LIFELONG_SERVICES_XAPI_CREDENTIALS_H_
#define LIFELONG_SERVICES_XAPI_CREDENTIALS_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lifelong::xapi {

class Credentials {
 public:
  // NOT_FOUND when the file is missing; INVALID_ARGUMENT naming the line
  // when a line has no ':' or an empty user name.
  static absl::StatusOr<Credentials> LoadFile(const std::string& path);
  static absl::StatusOr<Credentials> Parse(absl::string_view text);

  // The user name when `authorization` ("Basic base64(user:pass)") matches a
  // configured pair; UNAUTHENTICATED otherwise.
  absl::StatusOr<std::string> Check(absl::string_view authorization) const;
  size_t size() const { return users_.size(); }

 private:
  std::map<std::string, std::string> users_;  // user -> password
};

}  // namespace lifelong::xapi

#endif  // LIFELONG_SERVICES_XAPI_CREDENTIALS_H_
