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

// The marker line of a credentials file for development without
// authentication.
inline constexpr absl::string_view kDevelopmentOnlyMarker = "# lifelong: development-only";
// Passwords of the credential files committed to this repository.
inline constexpr absl::string_view kRepositoryPasswords[] = {"lifelong-dev"};

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

  // Whether these credentials may be used with authentication on (issue #13
  // item 5): FAILED_PRECONDITION when the file is marked development-only
  // (a "# lifelong: development-only" line, as ops/xapi/dev-credentials.txt)
  // or when a user's password is one committed to this repository
  // (kRepositoryPasswords): whoever reads the repository could log in with
  // it. Services with --auth_key_file refuse to start on this error; a
  // stack with authentication on generates its own file (ops/stack.sh).
  absl::Status CheckUsableWithAuthentication() const;
  // The principal of a user Check() accepted.
  auth::Principal PrincipalOf(const std::string& user) const;

 private:
  struct Entry {
    std::string password;
    auth::Principal principal;
  };
  std::map<std::string, Entry> users_;
  bool development_only_ = false;
};

}  // namespace lifelong::xapi

#endif  // LIFELONG_SERVICES_XAPI_CREDENTIALS_H_
