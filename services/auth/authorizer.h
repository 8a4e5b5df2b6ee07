// Authorizer: turns a call's credential into a principal and decides, by the
// role table (permissions.h), whether it may run; applies the revocation list
// and per-principal rate and concurrency limits. Handlers then check the
// request's records against the granted scope with the Check* helpers.
//
// Thread-safe.
#ifndef LIFELONG_SERVICES_AUTH_AUTHORIZER_H_
#define LIFELONG_SERVICES_AUTH_AUTHORIZER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/auth/oidc.h"
#include "services/auth/permissions.h"
#include "services/auth/principal.h"
#include "services/auth/token.h"

namespace lifelong::auth {

// Per-principal limits for end users and operators; the internal service
// roles (recommender, trainer, loader) are not limited.
struct LimitOptions {
  double requests_per_second = 200;  // sustained rate per principal
  double burst = 400;                // bucket size
  int max_in_flight = 32;            // concurrent calls per principal
};

struct AuthOptions {
  // Off: every caller is trusted as an operator with scope "any" (local
  // development only; services log a warning at start-up).
  bool enabled = false;
  TokenOptions token;
  // One revoked credential a line: "jti:<token id>" or "sub:<subject>" ('#'
  // comments). Re-read when its modification time changes (checked at most
  // once a second), so revoking a kiosk needs no restart. Empty: none.
  // Fails closed: when the file goes missing or cannot be read, the last
  // list read stays in force and `on_revocation_read` hears of it (services
  // log it and export lifelong_auth_revocation_file_ok = 0 and
  // lifelong_auth_revocation_load_errors_total, auth_flags.h); removing the
  // file never revives a revoked credential. Replace it atomically (write a
  // new file, rename it over the old one) so that no reader sees half of it.
  std::string revocation_file;
  // Called after every read of the revocation file: `status` is OK or why it
  // failed, `changed` is true when the outcome differs from the previous read
  // (the first read counts as changed when it fails), `entries` the number of
  // entries in force. Runs under the Authorizer's revocation lock: must be
  // quick and must not call the Authorizer. May be empty.
  std::function<void(const absl::Status& status, bool changed, size_t entries)> on_revocation_read;
  LimitOptions limits;
  // The district identity provider (oidc.h): when set, a bearer token whose
  // header names RS256 is verified as an OpenID Connect ID token and becomes
  // a learner; every other token is verified with `token` (HS256). Null: ID
  // tokens are refused like any token that is not the services' own.
  std::shared_ptr<const OidcVerifier> oidc;
  // Verified bearer tokens remembered, so that a client sending the same
  // token call after call pays for its signature check (HMAC or RSA) once.
  // Keyed by the whole token text: a token that differs in one byte is
  // verified afresh. An entry serves only until the principal's expires_us:
  // the token's `exp` (without the clock skew Verify allows), for an ID
  // token the earlier of `exp` and `iat` + OidcOptions::max_age. Never past
  // a revocation (the list is checked on every call). At most this many tokens; when full, the cache
  // starts again empty. 0: every call verifies its token.
  int verified_token_cache = 4096;
};

class Authorizer;

// A granted call. Holds one of the principal's in-flight slots until
// destroyed. Move-only.
class AccessGrant {
 public:
  AccessGrant(AccessGrant&&) = default;
  AccessGrant& operator=(AccessGrant&&) = default;
  ~AccessGrant();

  const Principal& principal() const { return principal_; }
  Scope scope() const { return scope_; }
  const std::string& operation() const { return operation_; }

 private:
  friend class Authorizer;
  AccessGrant(Principal p, Scope s, std::string op, std::function<void()> release)
      : principal_(std::move(p)), scope_(s), operation_(std::move(op)), release_(std::move(release)) {}
  Principal principal_;
  Scope scope_ = Scope::kDenied;
  std::string operation_;
  std::function<void()> release_;
};

class Authorizer {
 public:
  explicit Authorizer(AuthOptions options);

  bool enabled() const { return options_.enabled; }
  const AuthOptions& options() const { return options_; }

  // The principal of an "authorization" header value ("Bearer <jwt>").
  // UNAUTHENTICATED when missing, malformed, invalid, expired or revoked.
  // Never throws, whatever the token holds.
  absl::StatusOr<Principal> Authenticate(absl::string_view authorization) const;

  // Authenticates and authorizes one call of `operation` (a full gRPC method
  // name or an xAPI resource, see permissions.h). UNAUTHENTICATED (no or bad
  // credential), PERMISSION_DENIED (role not granted), RESOURCE_EXHAUSTED
  // (rate or concurrency limit of this principal).
  absl::StatusOr<AccessGrant> Authorize(absl::string_view authorization, absl::string_view operation);
  // The same for an already authenticated principal (xAPI Basic credentials).
  absl::StatusOr<AccessGrant> AuthorizePrincipal(const Principal& principal, absl::string_view operation);
  // Only whether `principal`'s role is granted `operation` at all: the
  // PERMISSION_DENIED AuthorizePrincipal gives when it is not, else OK (also
  // with authorization off). No limit is counted: the request gates ask it
  // before they parse a request, and the handler then authorizes the call.
  absl::Status CheckRoleGranted(const Principal& principal, absl::string_view operation) const;

  // Whether the credential is on the revocation list (reloaded as needed):
  // its subject, its token id, or the learner a kiosk session acts for.
  bool IsRevoked(const Principal& p) const;

  // Reads the revocation file now (regardless of its modification time).
  // OK when no file is configured or it was read; NOT_FOUND (missing) or
  // FAILED_PRECONDITION (unreadable), naming the file, otherwise — the list
  // read before then stays in force. Services call it at start-up and refuse
  // to start on an error (auth_flags.h).
  absl::Status LoadRevocations() const;

  // Failed reads of the revocation file so far (missing or unreadable).
  int64_t revocation_load_errors() const;

  // Authentications answered from the verified-token cache so far.
  int64_t verified_token_cache_hits() const;

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
    int in_flight = 0;
  };
  void ReloadRevocationsIfChanged() const;
  // Reads the file into revoked_ when it is readable; the error otherwise
  // (revoked_ unchanged). Counts, logs and exports the outcome.
  absl::Status ReadRevocationFile() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(revocation_mu_);

  // Verifies `token` (its signature and claims), through the cache.
  absl::StatusOr<Principal> VerifyToken(absl::string_view token) const;
  // The same without the cache; an exception of a verifier becomes
  // UNAUTHENTICATED (a JSON parser's) or INTERNAL (any other), never escapes.
  absl::StatusOr<Principal> VerifyUncached(absl::string_view token) const;

  AuthOptions options_;
  TokenVerifier verifier_;

  mutable absl::Mutex token_cache_mu_;
  mutable absl::flat_hash_map<std::string, Principal> token_cache_ ABSL_GUARDED_BY(token_cache_mu_);
  mutable int64_t token_cache_hits_ ABSL_GUARDED_BY(token_cache_mu_) = 0;

  mutable absl::Mutex revocation_mu_;
  mutable std::map<std::string, bool> revoked_ ABSL_GUARDED_BY(revocation_mu_);
  mutable int64_t revocation_mtime_ns_ ABSL_GUARDED_BY(revocation_mu_) = -1;
  mutable absl::Time revocation_checked_ ABSL_GUARDED_BY(revocation_mu_) = absl::InfinitePast();
  mutable bool revocation_failing_ ABSL_GUARDED_BY(revocation_mu_) = false;  // logged once per outage
  mutable int64_t revocation_errors_ ABSL_GUARDED_BY(revocation_mu_) = 0;

  std::shared_ptr<absl::Mutex> limit_mu_ = std::make_shared<absl::Mutex>();
  std::shared_ptr<std::map<std::string, Bucket>> buckets_ = std::make_shared<std::map<std::string, Bucket>>();
};

// --- Scope checks for handlers (PERMISSION_DENIED naming the field) ---

// The call may touch `learner`'s records (canonical learner key). `field`
// names the request field in the error.
absl::Status CheckLearner(const AccessGrant& g, absl::string_view learner, absl::string_view field);
// A teacher's call may touch records of course `course_id` (an id, not an IRI).
absl::Status CheckCourse(const AccessGrant& g, absl::string_view course_id, absl::string_view field);

}  // namespace lifelong::auth

#endif  // LIFELONG_SERVICES_AUTH_AUTHORIZER_H_
