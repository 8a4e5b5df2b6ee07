#include "services/auth/auth_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/metrics.h"

ABSL_FLAG(std::string, auth_key_file, "",
          "bearer-token key file: an Ed25519 public key in PEM (verifies only), its private key (the "
          "record service: it also signs kiosk sessions), or an HS256 secret (services/auth/token.h); "
          "empty turns authentication off (development only)");
ABSL_FLAG(std::string, auth_session_key_file, "",
          "kiosk-session key file: an Ed25519 private key (the record service: it signs the sessions "
          "kiosks open for a learner) or its public key (every other service); tokens it signs are "
          "kiosk sessions of at most 15 minutes and nothing else (services/auth/token.h). Needs "
          "--auth_key_file; empty: kiosk sessions are signed with --auth_key_file");
ABSL_FLAG(std::string, auth_audience, lifelong::auth::kDefaultAudience, "audience bearer tokens must name");
ABSL_FLAG(std::string, auth_revocation_file, "",
          "file of revoked credentials (jti:<id> or sub:<subject> lines), re-read when it changes");
ABSL_FLAG(int, auth_clock_skew_s, 60, "allowed clock difference for token times, seconds");
ABSL_FLAG(double, auth_rate, 200, "requests per second per principal (sustained)");
ABSL_FLAG(double, auth_burst, 400, "request burst per principal");
ABSL_FLAG(int, auth_max_in_flight, 32, "concurrent calls per principal");
ABSL_FLAG(std::string, auth_oidc_jwks_file, "",
          "JWKS file of the district identity provider's signing keys: RS256 ID tokens it signed are "
          "accepted as learners (services/auth/oidc.h); empty: none. Needs --auth_key_file, "
          "--auth_oidc_issuer and --auth_oidc_audience");
ABSL_FLAG(std::string, auth_oidc_issuer, "", "the identity provider's issuer (the ID tokens' iss)");
ABSL_FLAG(std::string, auth_oidc_audience, "", "the app's client id at the identity provider (the ID tokens' aud)");
ABSL_FLAG(std::string, auth_oidc_learner_claim, "sub", "the ID-token claim that holds the learner key");

namespace lifelong::auth {
namespace {

// Logs and exports the reads of the revocation file (one Authorizer per
// process, so process-wide metrics): an error once per outage, every failed
// read counted.
void ObserveRevocationRead(const absl::Status& status, bool changed, size_t entries) {
  static metrics::Gauge* const file_ok = [] {
    absl::StatusOr<metrics::Gauge*> g = metrics::DefaultRegistry().AddGauge(
        "lifelong_auth_revocation_file_ok",
        "1 when the last read of the revocation file (--auth_revocation_file) succeeded, 0 while it "
        "is missing or unreadable (the last list read stays in force).");
    return g.ok() ? *g : nullptr;
  }();
  static metrics::Counter* const errors = [] {
    absl::StatusOr<metrics::Counter*> c = metrics::DefaultRegistry().AddCounter(
        "lifelong_auth_revocation_load_errors_total",
        "Failed reads of the revocation file (missing or unreadable); the last list read stays in "
        "force.");
    return c.ok() ? *c : nullptr;
  }();
  if (file_ok != nullptr) file_ok->Set(status.ok() ? 1 : 0);
  if (!status.ok() && errors != nullptr) errors->Increment();
  if (!changed) return;
  if (status.ok()) {
    LogInfo("auth_revocation_file_readable", {{"entries", static_cast<int64_t>(entries)}});
  } else {
    LogError("auth_revocation_file_unreadable",
             {{"error", std::string(status.message())},
              {"kept_entries", static_cast<int64_t>(entries)},
              {"effect", "the last list read stays in force until the file is readable again"}});
  }
}

}  // namespace

absl::StatusOr<AuthOptions> AuthOptionsFromFlags() {
  AuthOptions o;
  std::string key_file = absl::GetFlag(FLAGS_auth_key_file);
  if (!key_file.empty()) {
    absl::StatusOr<std::string> key = LoadKeyFile(key_file);
    if (!key.ok()) return absl::Status(key.status().code(), absl::StrCat("--auth_key_file: ", key.status().message()));
    o.enabled = true;
    o.token.key = *key;
    LogInfo("auth_key_loaded", {{"file", key_file}, {"kind", std::string(KeyKindName(*KindOfKey(*key)))}});
  }
  const std::string session_file = absl::GetFlag(FLAGS_auth_session_key_file);
  if (!session_file.empty()) {
    if (!o.enabled) return absl::InvalidArgumentError("--auth_session_key_file: needs --auth_key_file");
    absl::StatusOr<std::string> key = LoadKeyFile(session_file);
    if (!key.ok()) {
      return absl::Status(key.status().code(), absl::StrCat("--auth_session_key_file: ", key.status().message()));
    }
    const TokenKeyKind kind = *KindOfKey(*key);
    if (kind == TokenKeyKind::kHs256Secret) {
      return absl::InvalidArgumentError("--auth_session_key_file: must be an Ed25519 key in PEM (private or public)");
    }
    o.token.session_key = *key;
    LogInfo("auth_session_key_loaded", {{"file", session_file}, {"kind", std::string(KeyKindName(kind))}});
  }
  o.token.audience = absl::GetFlag(FLAGS_auth_audience);
  o.token.clock_skew = absl::Seconds(absl::GetFlag(FLAGS_auth_clock_skew_s));
  o.revocation_file = absl::GetFlag(FLAGS_auth_revocation_file);
  o.on_revocation_read = ObserveRevocationRead;
  o.limits.requests_per_second = absl::GetFlag(FLAGS_auth_rate);
  o.limits.burst = absl::GetFlag(FLAGS_auth_burst);
  o.limits.max_in_flight = absl::GetFlag(FLAGS_auth_max_in_flight);
  if (o.limits.requests_per_second <= 0 || o.limits.burst < 1 || o.limits.max_in_flight < 1) {
    return absl::InvalidArgumentError("--auth_rate, --auth_burst, --auth_max_in_flight: must be positive");
  }
  const std::string jwks = absl::GetFlag(FLAGS_auth_oidc_jwks_file);
  if (!jwks.empty()) {
    if (!o.enabled) return absl::InvalidArgumentError("--auth_oidc_jwks_file: needs --auth_key_file");
    OidcOptions oo;
    oo.issuer = absl::GetFlag(FLAGS_auth_oidc_issuer);
    oo.audience = absl::GetFlag(FLAGS_auth_oidc_audience);
    oo.learner_claim = absl::GetFlag(FLAGS_auth_oidc_learner_claim);
    oo.clock_skew = o.token.clock_skew;
    absl::StatusOr<std::unique_ptr<OidcVerifier>> v = OidcVerifier::FromFile(jwks, oo);
    if (!v.ok()) return absl::Status(v.status().code(), absl::StrCat("--auth_oidc_*: ", v.status().message()));
    LogInfo("auth_oidc_enabled",
            {{"issuer", oo.issuer}, {"audience", oo.audience}, {"keys", static_cast<int64_t>((*v)->key_count())}});
    o.oidc = std::shared_ptr<const OidcVerifier>(std::move(*v));
  }
  return o;
}

absl::StatusOr<std::unique_ptr<Authorizer>> AuthorizerFromFlags() {
  absl::StatusOr<AuthOptions> options = AuthOptionsFromFlags();
  if (!options.ok()) return options.status();
  if (!options->enabled) {
    LogWarn("auth_disabled", {{"why", "no --auth_key_file: every caller is trusted (development only)"}});
  }
  auto authorizer = std::make_unique<Authorizer>(*options);
  // A revocation file that is named but unreadable at start-up would start
  // the service with no revocations at all: refuse instead (fail closed).
  if (absl::Status s = authorizer->LoadRevocations(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("--auth_revocation_file: ", s.message()));
  }
  return authorizer;
}

}  // namespace lifelong::auth
