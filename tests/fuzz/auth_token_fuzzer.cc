// Fuzz target: bearer tokens (services/auth/token.h), the credential every
// gRPC and xAPI caller sends. Four ways:
//  - the input as a token (and as an "authorization" header), as sent, to
//    an Authorizer with and without an identity provider (OIDC, oidc.h);
//  - the input as a JWT claims object, signed here with the verifier's key, so
//    that the claim checks after the signature are reached;
//  - the input as an ID token's header, and as its claims, signed RS256 with
//    the identity provider's key (a header {"alg":1} once threw here).
// Verification never throws and answers OK or UNAUTHENTICATED; an accepted
// token names a subject and a known role, and kiosks a venue.
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/auth/authorizer.h"
#include "services/auth/oidc.h"
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

// The identity provider of the OIDC half: an RSA key, its JWKS, and RS256
// signing of ID tokens whose header or claims are the input.
struct IdentityProvider {
  EVP_PKEY* key = EVP_RSA_gen(2048);

  std::string Param(const char* name) const {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(key, name, &bn);
    std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return out;
  }
  std::string Jwks() const {
    return absl::StrCat(R"({"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":")",
                        absl::WebSafeBase64Escape(Param(OSSL_PKEY_PARAM_RSA_N)), R"(","e":")",
                        absl::WebSafeBase64Escape(Param(OSSL_PKEY_PARAM_RSA_E)), R"("}]})");
  }
  // header.claims.signature, each base64url; `header` and `claims` are JSON text.
  std::string IdToken(const std::string& header, const std::string& claims) const {
    const std::string signing = absl::StrCat(absl::WebSafeBase64Escape(header), ".", absl::WebSafeBase64Escape(claims));
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(signing.data()), signing.size());
    std::string sig(len, '\0');
    EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(signing.data()), signing.size());
    EVP_MD_CTX_free(md);
    sig.resize(len);
    return absl::StrCat(signing, ".", absl::WebSafeBase64Escape(sig));
  }
};

OidcOptions IdpOptions(const IdentityProvider& idp) {
  OidcOptions o;
  o.jwks_json = idp.Jwks();
  o.issuer = "https://id.dongcheng.gov.cn";
  o.audience = "lifelong-app";
  o.now = [] { return absl::FromUnixSeconds(1'800'000'000); };
  return o;
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
  static const IdentityProvider* idp = new IdentityProvider();
  static Authorizer* with_idp = [] {
    AuthOptions o;
    o.enabled = true;
    o.token = Options();
    absl::StatusOr<std::unique_ptr<OidcVerifier>> v = OidcVerifier::Create(IdpOptions(*idp));
    FUZZ_CHECK(v.ok());
    o.oidc = std::shared_ptr<const OidcVerifier>(std::move(*v));
    return new Authorizer(o);
  }();
  const std::string input(lifelong::fuzz::AsView(data, size));
  CheckVerdict(verifier->Verify(input));
  CheckVerdict(authorizer->Authenticate("Bearer " + input));
  CheckVerdict(authorizer->Authenticate(input));
  CheckVerdict(with_idp->Authenticate("Bearer " + input));
  std::string signed_token = Sign(input);
  if (!signed_token.empty()) CheckVerdict(verifier->Verify(signed_token));
  // The input as an ID token's header, then as its claims.
  const std::string claims =
      R"({"iss":"https://id.dongcheng.gov.cn","aud":"lifelong-app","sub":"u000042","iat":1799999000,"exp":1800003600})";
  CheckVerdict(with_idp->Authenticate("Bearer " + idp->IdToken(input, claims)));
  CheckVerdict(with_idp->Authenticate("Bearer " + idp->IdToken(R"({"alg":"RS256","typ":"JWT","kid":"k1"})", input)));
  return 0;
}
