// xAPI HTTP Basic credentials, loaded from a file (never from code):
//   # comment
//   username:password [role=<role>] [subject=<subject>] [venue=<venue>]
// one a line (the password may contain ':' but no whitespace). The optional
// fields map the user onto
// the same principals as bearer tokens (auth/principal.h): role defaults to
// "loader" (a trusted feed: may write and read every record), subject to the
// user name. Thread-safe after loading (immutable).
#ifndef LIFELONG_SERVICES_XAPI_CREDENTIALS_H_
#define LIFELONG_SERVICES_XAPI_CREDENTIALS_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/auth/principal.h"

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
  // The principal of a user Check() accepted.
  auth::Principal PrincipalOf(const std::string& user) const;

 private:
  struct Entry {
    std::string password;
    auth::Principal principal;
  };
  std::map<std::string, Entry> users_;
};

}  // namespace lifelong::xapi

#endif  // LIFELONG_SERVICES_XAPI_CREDENTIALS_H_
