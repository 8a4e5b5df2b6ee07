// Fuzz target: bearer tokens (services/auth/token.h), the credential every
// gRPC and xAPI caller sends. Two ways:
//  - the input as a token (and as an "authorization" header), as sent;
//  - the input as a JWT claims object, signed here with the verifier's key, so
//    that the claim checks after the signature are reached.
// Verification never throws and answers OK or UNAUTHENTICATED; an accepted
// token names a subject and a known role, and kiosks a venue.
#include <jwt.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "services/auth/authorizer.h"
#include "services/auth/token.h"
#include "tests/fuzz/fuzz_support.h"

namespace lifelong::auth {
namespace {

constexpr char kKey[] = "fuzz-key-fuzz-key-fuzz-key-fuzz-key-0123";

TokenOptions Options() {
  TokenOptions o;
  o.key = kKey;
  o.now = [] { return absl::FromUnixSeconds(1'800'000'000); };
  return o;
}

void CheckVerdict(const absl::StatusOr<Principal>& p) {
  if (!p.ok()) {
    FUZZ_CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
    return;
  }
  FUZZ_CHECK(!p->subject.empty());
  FUZZ_CHECK(RoleFromName(RoleName(p->role)).has_value());
  if (p->role == Role::kKiosk) FUZZ_CHECK(!p->venue.empty());
}

// Signs `claims` (JSON text) with the key; "" when libjwt refuses them.
std::string Sign(const std::string& claims) {
  jwt_t* jwt = nullptr;
  if (jwt_new(&jwt) != 0) return "";
  std::string out;
  if (jwt_add_grants_json(jwt, claims.c_str()) == 0 &&
      jwt_set_alg(jwt, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(kKey), sizeof(kKey) - 1) == 0) {
    char* text = jwt_encode_str(jwt);
    if (text != nullptr) {
      out = text;
      free(text);
    }
  }
  jwt_free(jwt);
  return out;
}

}  // namespace
}  // namespace lifelong::auth

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lifelong::auth;
  static const TokenVerifier* verifier = new TokenVerifier(Options());
  static Authorizer* authorizer = [] {
    AuthOptions o;
    o.enabled = true;
    o.token = Options();
    return new Authorizer(o);
  }();
  const std::string input(lifelong::fuzz::AsView(data, size));
  CheckVerdict(verifier->Verify(input));
  CheckVerdict(authorizer->Authenticate("Bearer " + input));
  CheckVerdict(authorizer->Authenticate(input));
  std::string signed_token = Sign(input);
  if (!signed_token.empty()) CheckVerdict(verifier->Verify(signed_token));
  return 0;
}
