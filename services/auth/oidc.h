// OidcVerifier: accepts an OpenID Connect ID token of the district identity
// provider as a learner's bearer token (docs/security.md "Identity
// provider"), verified offline against the provider's signing keys in a JWKS
// file that the operator installs (nothing is fetched at run time; rotating
// keys means installing a new file and restarting, or listing the next key in
// the file ahead of the rotation).
//
// A token is accepted when
//   - its header names alg RS256 and a `kid` of an RSA key ("kty":"RSA",
//     "use" absent or "sig", "alg" absent or "RS256") of the JWKS, and the
//     RSASSA-PKCS1-v1_5 SHA-256 signature over header.payload verifies with
//     that key (the algorithm is fixed here; the token cannot choose another);
//   - `iss` equals the configured issuer, `aud` (string or array) contains the
//     configured audience (the app's client id) and, with several audiences,
//     `azp` is that client id;
//   - `exp` is in the future and `nbf`/`iat` not in the future (both with the
//     configured clock skew), and `iat` is at most `max_age` old;
//   - the learner claim (default `sub`) is a learner key
//     ([A-Za-z0-9._:@|/-], 1 to 128 characters), taken as it is (not
//     canonicalised: services compare canonical learner keys with it, so
//     "account:<district IdP>|u1" is not u1);
//   - every header member and claim read above has its JSON type (strings;
//     times numbers of years 1970-9999), and the header has no `crit`: a
//     member of another type is refused naming it, never thrown on.
// The principal is always role learner with that subject: role, venue,
// learner or courses claims of an ID token are ignored, so the identity
// provider can make learners and nothing else.
//
// Immutable after Create; thread-safe.
#ifndef LIFELONG_SERVICES_AUTH_OIDC_H_
#define LIFELONG_SERVICES_AUTH_OIDC_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/auth/principal.h"

namespace lifelong::auth {

struct OidcOptions {
  std::string jwks_json;  // the JWKS document: {"keys": [...]}
  std::string issuer;     // required
  std::string audience;   // required: the app's client id at the provider
  std::string learner_claim = "sub";
  absl::Duration clock_skew = absl::Seconds(60);
  absl::Duration max_age = absl::Hours(12);  // since `iat`
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

class OidcVerifier {
 public:
  // INVALID_ARGUMENT when the issuer or audience is empty, the JWKS is not
  // JSON, or it holds no usable RSA signing key (keys of other types are
  // skipped; an RSA key without a `kid` or with malformed n/e is an error).
  static absl::StatusOr<std::unique_ptr<OidcVerifier>> Create(OidcOptions options);
  // Reads the JWKS from `jwks_file` into options.jwks_json, then Create.
  static absl::StatusOr<std::unique_ptr<OidcVerifier>> FromFile(const std::string& jwks_file, OidcOptions options);
  ~OidcVerifier();

  // Whether `token` is meant for this verifier: a JWT whose header names alg
  // RS256 (the string). (Tokens of the services themselves are HS256.)
  // Never throws.
  static bool IsRs256(absl::string_view token);

  // The learner of a valid ID token; UNAUTHENTICATED with the reason
  // otherwise ("id token: ..."). Never throws. The principal's expires_us is
  // the earlier of `exp` and `iat` + max_age: when the token stops being
  // accepted (the Authorizer's verified-token cache keeps it no longer).
  absl::StatusOr<Principal> Verify(absl::string_view token) const;

  size_t key_count() const { return keys_.size(); }

 private:
  struct Key;
  explicit OidcVerifier(OidcOptions options) : options_(std::move(options)) {}
  OidcOptions options_;
  std::map<std::string, std::shared_ptr<Key>> keys_;  // by kid
};

}  // namespace lifelong::auth

#endif  // LIFELONG_SERVICES_AUTH_OIDC_H_
