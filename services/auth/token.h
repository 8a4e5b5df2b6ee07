// Bearer tokens: JWTs signed with HS256 (libjwt), carrying
//   sub      subject (a learner key for learners)          required
//   role     a role name (principal.h)                      required
//   aud      audience; must contain the configured one      required
//   exp      expiry, Unix seconds                           required
//   nbf/iat  not before / issued at, Unix seconds           optional
//   jti      token id (revocation, audit)                   optional
//   venue    kiosks: their venue                            required for kiosks
//   learner  kiosk sessions: the identified learner         optional
//   courses  teachers: array of course ids                  optional
// Verification fixes the algorithm (a token that names another one, "none"
// included, is refused) and allows `clock_skew` around exp/nbf/iat.
#ifndef LIFELONG_SERVICES_AUTH_TOKEN_H_
#define LIFELONG_SERVICES_AUTH_TOKEN_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/auth/principal.h"

namespace lifelong::auth {

inline constexpr char kDefaultAudience[] = "lifelong";

struct TokenOptions {
  std::string key;  // the HS256 secret (at least 32 bytes)
  std::string audience = kDefaultAudience;
  absl::Duration clock_skew = absl::Seconds(60);
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

// Reads a key file (trailing whitespace trimmed). INVALID_ARGUMENT when it is
// shorter than 32 bytes, NOT_FOUND when missing.
absl::StatusOr<std::string> LoadKeyFile(const std::string& path);

class TokenVerifier {
 public:
  explicit TokenVerifier(TokenOptions options) : options_(std::move(options)) {}
  // The principal of a valid token; UNAUTHENTICATED with the reason (bad
  // signature, expired, wrong audience, ...) otherwise. Never throws.
  absl::StatusOr<Principal> Verify(absl::string_view token) const;

 private:
  TokenOptions options_;
};

// Signs a token for `p` valid for `ttl` from options.now() (the CLI's
// development tokens and kiosk sessions). INVALID_ARGUMENT for an empty subject.
absl::StatusOr<std::string> MintToken(const Principal& p, absl::Duration ttl, const TokenOptions& options);

}  // namespace lifelong::auth

#endif  // LIFELONG_SERVICES_AUTH_TOKEN_H_
