#include "services/auth/auth_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"

ABSL_FLAG(std::string, auth_key_file, "",
          "HS256 key file for bearer tokens; empty turns authentication off (development only)");
ABSL_FLAG(std::string, auth_audience, lifelong::auth::kDefaultAudience, "audience bearer tokens must name");
ABSL_FLAG(std::string, auth_revocation_file, "",
          "file of revoked credentials (jti:<id> or sub:<subject> lines), re-read when it changes");
ABSL_FLAG(int, auth_clock_skew_s, 60, "allowed clock difference for token times, seconds");
ABSL_FLAG(double, auth_rate, 200, "requests per second per principal (sustained)");
ABSL_FLAG(double, auth_burst, 400, "request burst per principal");
ABSL_FLAG(int, auth_max_in_flight, 32, "concurrent calls per principal");

namespace lifelong::auth {

absl::StatusOr<AuthOptions> AuthOptionsFromFlags() {
  AuthOptions o;
  std::string key_file = absl::GetFlag(FLAGS_auth_key_file);
  if (!key_file.empty()) {
    absl::StatusOr<std::string> key = LoadKeyFile(key_file);
    if (!key.ok()) return absl::Status(key.status().code(), absl::StrCat("--auth_key_file: ", key.status().message()));
    o.enabled = true;
    o.token.key = *key;
  }
  o.token.audience = absl::GetFlag(FLAGS_auth_audience);
  o.token.clock_skew = absl::Seconds(absl::GetFlag(FLAGS_auth_clock_skew_s));
  o.revocation_file = absl::GetFlag(FLAGS_auth_revocation_file);
  o.limits.requests_per_second = absl::GetFlag(FLAGS_auth_rate);
  o.limits.burst = absl::GetFlag(FLAGS_auth_burst);
  o.limits.max_in_flight = absl::GetFlag(FLAGS_auth_max_in_flight);
  if (o.limits.requests_per_second <= 0 || o.limits.burst < 1 || o.limits.max_in_flight < 1) {
    return absl::InvalidArgumentError("--auth_rate, --auth_burst, --auth_max_in_flight: must be positive");
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
