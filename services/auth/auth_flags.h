// Command-line flags of authentication, shared by every server's main():
//   --auth_key_file         token key file (Ed25519 public or private key, or
//                           an HS256 secret; token.h); empty: authentication
//                           off (every caller trusted; a warning is logged)
//   --auth_session_key_file kiosk-session key (Ed25519; token.h); optional
//   --auth_audience         audience tokens must name ("lifelong")
//   --auth_revocation_file  revoked credentials ("jti:..." / "sub:..." lines)
//   --auth_clock_skew_s     allowed clock difference for exp/nbf/iat (60)
//   --auth_rate, --auth_burst, --auth_max_in_flight   per-principal limits
#ifndef LIFELONG_SERVICES_AUTH_AUTH_FLAGS_H_
#define LIFELONG_SERVICES_AUTH_AUTH_FLAGS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "services/auth/authorizer.h"

namespace lifelong::auth {

// INVALID_ARGUMENT / NOT_FOUND naming the flag when the key file is unusable.
absl::StatusOr<AuthOptions> AuthOptionsFromFlags();

// The server's Authorizer from the flags; logs a warning ("auth_disabled")
// when authentication is off. The errors of AuthOptionsFromFlags, and those
// of Authorizer::LoadRevocations (prefixed "--auth_revocation_file: ") when
// the revocation file is named but missing or unreadable.
absl::StatusOr<std::unique_ptr<Authorizer>> AuthorizerFromFlags();

}  // namespace lifelong::auth

#endif  // LIFELONG_SERVICES_AUTH_AUTH_FLAGS_H_
