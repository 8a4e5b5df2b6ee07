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
// included, is refused) and allows `clock_skew` around exp/nbf/iat. Every
// claim above and the header's alg, kid and typ must have their JSON type
// (strings; times integers of years 1970-9999; courses an array of strings)
// when present: one of another type is refused naming it, not taken as absent.
//
// Keys (TokenOptions::key, LoadKeyFile) are of one of three kinds:
//   - an HS256 secret: any other text of at least 32 bytes; it signs and
//     verifies, so every service holding it can mint any token;
//   - an Ed25519 private key in PEM ("-----BEGIN PRIVATE KEY-----"): tokens
//     are signed EdDSA (RFC 8037); it signs and verifies;
//   - an Ed25519 public key in PEM ("-----BEGIN PUBLIC KEY-----"): it
//     verifies EdDSA tokens only. Services that only check tokens (catalog,
//     recommend) get this one, so that a compromised service cannot mint
//     tokens; the issuers (mint_token, the CLI, records_server for kiosk
//     sessions) hold the private key.
//
// Kiosk sessions may be signed with a key of their own
// (TokenOptions::session_key, --auth_session_key_file): an Ed25519 pair whose
// private half only the record service holds (it mints sessions when a
// learner redeems a pass or card at a kiosk) and whose public half every
// service verifies with. Such tokens carry the header "kid":"kiosk-session";
// one verifies only as a kiosk session (role kiosk, a venue, a learner) that
// lasts at most kMaxKioskSessionTtl. So the record service, given the main
// public key and the session private key, cannot mint staff, teacher,
// service or learner tokens.
#ifndef LIFELONG_SERVICES_AUTH_TOKEN_H_
#define LIFELONG_SERVICES_AUTH_TOKEN_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/auth/principal.h"

namespace lifelong::auth {

inline constexpr char kDefaultAudience[] = "lifelong";
// The header "kid" of tokens signed with the kiosk-session key.
inline constexpr char kKioskSessionKeyId[] = "kiosk-session";
// The longest a token signed with the kiosk-session key may last (exp - iat).
inline constexpr absl::Duration kMaxKioskSessionTtl = absl::Minutes(15);

struct TokenOptions {
  std::string key;  // an HS256 secret or an Ed25519 key in PEM (above)
  // Empty, or an Ed25519 key in PEM (private: signs and verifies kiosk
  // sessions; public: verifies them). See above.
  std::string session_key;
  std::string audience = kDefaultAudience;
  absl::Duration clock_skew = absl::Seconds(60);
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

enum class TokenKeyKind { kHs256Secret, kEd25519Private, kEd25519Public };
// The kind of `key`; INVALID_ARGUMENT for a secret shorter than 32 bytes, a
// PEM block that is not an Ed25519 key, or another kind of PEM.
absl::StatusOr<TokenKeyKind> KindOfKey(absl::string_view key);
absl::string_view KeyKindName(TokenKeyKind kind);  // "HS256 secret", ...

// Reads a key file (trailing whitespace trimmed). INVALID_ARGUMENT when it is
// not a usable key (KindOfKey), NOT_FOUND when missing.
absl::StatusOr<std::string> LoadKeyFile(const std::string& path);

// Writes a new Ed25519 key pair: the private key in PEM at `private_path`
// (mode 0600) and its public key at `public_path` (mode 0644), each written
// to a temporary file and renamed into place.
absl::Status WriteEd25519KeyPair(const std::string& private_path, const std::string& public_path);

// A kiosk session: a kiosk's principal with the learner who identified.
bool IsKioskSession(const Principal& p);

class TokenVerifier {
 public:
  // An unusable key (KindOfKey), or a session key that is not an Ed25519
  // key, makes every Verify fail; AuthOptionsFromFlags refuses such keys
  // before a verifier is made.
  explicit TokenVerifier(TokenOptions options);
  // The principal of a valid token; UNAUTHENTICATED with the reason (bad
  // signature, expired, wrong audience, ...) otherwise. Never throws.
  absl::StatusOr<Principal> Verify(absl::string_view token) const;

 private:
  struct PublicKey;
  absl::StatusOr<Principal> VerifyHs256(absl::string_view token) const;
  TokenOptions options_;
  absl::StatusOr<TokenKeyKind> kind_;
  std::shared_ptr<const PublicKey> ed25519_;  // with an Ed25519 key
  std::shared_ptr<const PublicKey> session_;  // with a session key
};

// Signs a token for `p` valid for `ttl` from options.now() (the CLI's
// development tokens and kiosk sessions). A kiosk session (IsKioskSession)
// is signed with options.session_key when one is set (INVALID_ARGUMENT for a
// ttl beyond kMaxKioskSessionTtl), every other token with options.key.
// INVALID_ARGUMENT for an empty subject or an unusable key;
// FAILED_PRECONDITION for a public key (it only verifies).
absl::StatusOr<std::string> MintToken(const Principal& p, absl::Duration ttl, const TokenOptions& options);

// The expiry (claim exp) of a token this process holds to send, read WITHOUT
// verifying it: for the holder's own monitoring only (the recommender's
// lifelong_service_token_expiry_timestamp_seconds), never for a decision.
// INVALID_ARGUMENT when `token` is not a JWT whose payload has an integer
// exp of the years 1970-9999.
absl::StatusOr<absl::Time> UnverifiedExpiry(absl::string_view token);

}  // namespace lifelong::auth

#endif  // LIFELONG_SERVICES_AUTH_TOKEN_H_
