// OidcVerifier against ID tokens signed here with real RSA keys (OpenSSL),
// and the Authorizer routing RS256 tokens to it: what a forged, misdirected,
// stale or over-reaching token gets.
#include "services/auth/oidc.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/auth/authorizer.h"
#include "services/auth/token.h"

namespace lifelong::auth {
namespace {

using Json = nlohmann::json;

constexpr char kIssuer[] = "https://id.dongcheng.gov.cn";
constexpr char kClient[] = "lifelong-app";
const absl::Time kNow = absl::FromUnixSeconds(1790000000);

std::string B64(absl::string_view s) { return absl::WebSafeBase64Escape(s); }

struct RsaKey {
  EVP_PKEY* pkey = nullptr;
  RsaKey() { pkey = EVP_RSA_gen(2048); }
  ~RsaKey() { EVP_PKEY_free(pkey); }
  std::string Param(const char* name) const {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(pkey, name, &bn);
    std::string out(BN_num_bytes(bn), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return out;
  }
  Json Jwk(const std::string& kid) const {
    return {{"kty", "RSA"},
            {"kid", kid},
            {"use", "sig"},
            {"alg", "RS256"},
            {"n", B64(Param(OSSL_PKEY_PARAM_RSA_N))},
            {"e", B64(Param(OSSL_PKEY_PARAM_RSA_E))}};
  }
  std::string Sign(absl::string_view data) const {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, pkey);
    EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    std::string sig(len, '\0');
    EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(data.data()), data.size());
    EVP_MD_CTX_free(md);
    sig.resize(len);
    return sig;
  }
};

Json Claims(const std::string& sub = "u000042") {
  return {{"iss", kIssuer},
          {"aud", kClient},
          {"sub", sub},
          {"iat", absl::ToUnixSeconds(kNow) - 60},
          {"exp", absl::ToUnixSeconds(kNow) + 3600},
          {"jti", "idp-jti-1"}};
}

std::string IdToken(const RsaKey& key, const Json& claims, const std::string& kid = "k1",
                    const std::string& alg = "RS256") {
  std::string signing =
      absl::StrCat(B64(Json{{"alg", alg}, {"typ", "JWT"}, {"kid", kid}}.dump()), ".", B64(claims.dump()));
  return absl::StrCat(signing, ".", B64(key.Sign(signing)));
}

class OidcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Json jwks = {
        {"keys", Json::array({key_.Jwk("k1"), next_.Jwk("k2"),
                              Json{{"kty", "EC"}, {"kid", "ec"}, {"crv", "P-256"}, {"x", "AA"}, {"y", "AA"}}})}};
    OidcOptions o;
    o.jwks_json = jwks.dump();
    o.issuer = kIssuer;
    o.audience = kClient;
    o.now = [] { return kNow; };
    auto v = OidcVerifier::Create(o);
    ASSERT_TRUE(v.ok()) << v.status();
    verifier_ = std::move(*v);
  }
  void ExpectRefused(const std::string& token, absl::string_view why) {
    absl::StatusOr<Principal> p = verifier_->Verify(token);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated) << why;
    EXPECT_TRUE(absl::StrContains(p.status().message(), why)) << p.status();
  }
  RsaKey key_, next_, stranger_;
  std::unique_ptr<OidcVerifier> verifier_;
};

// A token signed with `key` whose header is `header` as given.
std::string IdTokenWithHeader(const RsaKey& key, const Json& header, const Json& claims) {
  std::string signing = absl::StrCat(B64(header.dump()), ".", B64(claims.dump()));
  return absl::StrCat(signing, ".", B64(key.Sign(signing)));
}

TEST_F(OidcTest, AValidIdTokenIsThatLearnerAndNothingMore) {
  EXPECT_EQ(verifier_->key_count(), 2u) << "the EC key is skipped";
  Json c = Claims();
  c["role"] = "operator";  // an ID token cannot make anything but a learner
  c["venue"] = "hepingli-sqxx";
  c["learner"] = "u000001";
  std::string token = IdToken(key_, c);
  EXPECT_TRUE(OidcVerifier::IsRs256(token));
  absl::StatusOr<Principal> p = verifier_->Verify(token);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->role, Role::kLearner);
  EXPECT_EQ(p->subject, "u000042");
  EXPECT_TRUE(p->venue.empty());
  EXPECT_TRUE(p->learner.empty());
  EXPECT_EQ(p->token_id, "oidc-idp-jti-1");
  EXPECT_EQ(p->expires_us, absl::ToUnixMicros(kNow + absl::Hours(1)));
  // The second key of the set (rotation) works too.
  EXPECT_TRUE(verifier_->Verify(IdToken(next_, Claims(), "k2")).ok());
}

TEST_F(OidcTest, ForgedAndTamperedTokensAreRefused) {
  ExpectRefused(IdToken(stranger_, Claims()), "bad signature");   // right kid, wrong key
  ExpectRefused(IdToken(key_, Claims(), "k2"), "bad signature");  // the other key's kid
  ExpectRefused(IdToken(key_, Claims(), "k9"), "unknown signing key");
  std::string token = IdToken(key_, Claims());
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  // Another learner's payload under the original signature.
  ExpectRefused(absl::StrCat(parts[0], ".", B64(Claims("u000043").dump()), ".", parts[2]), "bad signature");
  // alg "none" and HS256 (the classic confusion: the public key as an HMAC secret).
  ExpectRefused(absl::StrCat(B64(R"({"alg":"none","kid":"k1"})"), ".", parts[1], "."), "algorithm must be RS256");
  ExpectRefused(IdToken(key_, Claims(), "k1", "HS256"), "algorithm must be RS256");
  // Other tokens of the provider, signed by the same key: an access token
  // (typ at+jwt) and a back-channel logout token (an "events" claim).
  Json header = {{"alg", "RS256"}, {"kid", "k1"}, {"typ", "at+jwt"}};
  ExpectRefused(IdTokenWithHeader(key_, header, Claims()), "not an ID token");
  header["typ"] = "JWT";
  EXPECT_TRUE(verifier_->Verify(IdTokenWithHeader(key_, header, Claims())).ok()) << "typ JWT is an ID token";
  Json logout = Claims();
  logout["events"] = {{"http://schemas.openid.net/event/backchannel-logout", Json::object()}};
  ExpectRefused(IdToken(key_, logout), "logout token");
  ExpectRefused("a.b", "malformed");
  ExpectRefused(absl::StrCat(parts[0], ".", parts[1], ".", parts[2], "="), "malformed");
  ExpectRefused("", "missing");
}

TEST_F(OidcTest, IssuerAudienceTimesAndLearnerClaimAreChecked) {
  auto with = [&](const char* name, Json value) {
    Json c = Claims();
    if (value.is_null()) {
      c.erase(name);
    } else {
      c[name] = value;
    }
    return IdToken(key_, c);
  };
  ExpectRefused(with("iss", "https://evil.example"), "issuer");
  ExpectRefused(with("iss", nullptr), "issuer");
  ExpectRefused(with("aud", "another-app"), "audience");
  ExpectRefused(with("aud", Json::array({"another-app", kClient})), "azp");  // several audiences need azp
  Json both = Claims();
  both["aud"] = Json::array({"another-app", kClient});
  both["azp"] = kClient;
  EXPECT_TRUE(verifier_->Verify(IdToken(key_, both)).ok());
  ExpectRefused(with("exp", absl::ToUnixSeconds(kNow) - 61), "expired");
  EXPECT_TRUE(verifier_->Verify(with("exp", absl::ToUnixSeconds(kNow) - 30)).ok()) << "within the clock skew";
  ExpectRefused(with("exp", nullptr), "exp required");
  ExpectRefused(with("nbf", absl::ToUnixSeconds(kNow) + 3600), "nbf");
  ExpectRefused(with("iat", absl::ToUnixSeconds(kNow) + 3600), "iat");
  ExpectRefused(with("iat", absl::ToUnixSeconds(kNow) - 13 * 3600), "too old");
  ExpectRefused(with("sub", nullptr), "claim sub");
  ExpectRefused(with("sub", "u 42; drop"), "claim sub");
  ExpectRefused(with("sub", std::string(200, 'u')), "claim sub");
  ExpectRefused(with("sub", 42), "claim sub");
}

// Values of every JSON type but a string.
std::vector<Json> NotStrings() {
  return {1, -1, 1.5, nullptr, true, Json::array(), Json::array({"RS256"}), Json::object(), Json{{"a", "b"}}};
}

// A header member or claim of the wrong type ({"alg":1}, {"kid":null},
// "exp":"soon", ...) used to reach nlohmann's value() or get<>() and throw
// type_error (the Authorizer let the exception out into the handler). Each
// is UNAUTHENTICATED naming the member, and nothing throws.
TEST_F(OidcTest, MembersOfTheWrongTypeAreRefusedNamingThemAndNothingThrows) {
  const Json header = {{"alg", "RS256"}, {"kid", "k1"}, {"typ", "JWT"}};
  ASSERT_TRUE(verifier_->Verify(IdTokenWithHeader(key_, header, Claims())).ok());
  for (const char* name : {"alg", "kid", "typ"}) {
    for (const Json& bad : NotStrings()) {
      Json h = header;
      h[name] = bad;
      const std::string token = IdTokenWithHeader(key_, h, Claims());
      bool rs256 = true;
      EXPECT_NO_THROW(rs256 = OidcVerifier::IsRs256(token)) << h.dump();
      if (std::string(name) == "alg") {
        EXPECT_FALSE(rs256) << h.dump();
      }
      absl::StatusOr<Principal> p = absl::UnknownError("threw");
      EXPECT_NO_THROW(p = verifier_->Verify(token)) << h.dump();
      EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated) << h.dump();
      EXPECT_TRUE(absl::StrContains(p.status().message(), absl::StrCat("header ", name, ": must be a string")))
          << h.dump() << " " << p.status();
    }
  }
  // The token of the report: {"alg":1}.{} with a one-byte signature.
  EXPECT_NO_THROW(EXPECT_FALSE(OidcVerifier::IsRs256("eyJhbGciOjF9.e30.AA")));
  ExpectRefused("eyJhbGciOjF9.e30.AA", "header alg: must be a string");
  Json crit = header;
  crit["crit"] = Json::array({"exp"});
  ExpectRefused(IdTokenWithHeader(key_, crit, Claims()), "header crit");

  struct Case {
    const char* claim;
    Json value;
  };
  std::vector<Case> cases;
  for (const char* claim : {"iss", "aud", "azp", "sub", "jti"}) {
    for (const Json& bad : NotStrings()) {
      if (std::string(claim) == "aud" && bad.is_array() && bad.size() == 1) continue;  // ["RS256"]: a wrong audience
      cases.push_back({claim, bad});
    }
  }
  cases.push_back({"aud", Json::array({kClient, 7})});
  for (const char* claim : {"exp", "iat", "nbf"}) {
    for (const Json& bad : {Json("1790000000"), Json(nullptr), Json(true), Json::array({1790000000}), Json::object(),
                            Json(-1), Json(1e300), Json(-1e300), Json(std::numeric_limits<uint64_t>::max()),
                            Json(std::numeric_limits<int64_t>::min())}) {
      cases.push_back({claim, bad});
    }
  }
  for (const Case& c : cases) {
    Json claims = Claims();
    claims[c.claim] = c.value;
    const std::string token = IdToken(key_, claims);
    absl::StatusOr<Principal> p = absl::UnknownError("threw");
    EXPECT_NO_THROW(p = verifier_->Verify(token)) << claims.dump();
    EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated) << claims.dump();
    EXPECT_TRUE(absl::StrContains(p.status().message(), absl::StrCat("claim ", c.claim))) << p.status();
  }
  // A time claim may be a fraction (NumericDate); it is read in whole seconds.
  Json fraction = Claims();
  fraction["exp"] = absl::ToUnixSeconds(kNow) + 3600.5;
  absl::StatusOr<Principal> p = verifier_->Verify(IdToken(key_, fraction));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->expires_us, absl::ToUnixMicros(kNow + absl::Hours(1)));
  // Claims an ID token cannot set are ignored whatever their type.
  Json ignored = Claims();
  ignored["role"] = Json::object();
  ignored["venue"] = 7;
  ignored["learner"] = nullptr;
  ignored["courses"] = "c1";
  EXPECT_TRUE(verifier_->Verify(IdToken(key_, ignored)).ok());
}

TEST(OidcConfig, BadJwksOrSettingsAreInvalidArgument) {
  OidcOptions o;
  o.issuer = kIssuer;
  o.audience = kClient;
  for (const char* bad :
       {"", "[]", "{}", R"({"keys": []})", R"({"keys": [{"kty":"EC"}]})", R"({"keys": [{"kty":1}]})",
        R"({"keys": [{"kty":null,"use":[],"alg":{}}]})", R"({"keys": [{"kty":"RSA","n":"AQAB","e":"AQAB"}]})",
        R"({"keys": [{"kty":"RSA","kid":"k","n":"AQAB","e":"AQAB"}]})"}) {
    o.jwks_json = bad;
    EXPECT_EQ(OidcVerifier::Create(o).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  RsaKey k;
  o.jwks_json = Json{{"keys", Json::array({k.Jwk("k1")})}}.dump();
  EXPECT_TRUE(OidcVerifier::Create(o).ok());
  OidcOptions no_issuer = o;
  no_issuer.issuer = "";
  EXPECT_EQ(OidcVerifier::Create(no_issuer).status().code(), absl::StatusCode::kInvalidArgument);
  OidcOptions no_audience = o;
  no_audience.audience = "";
  EXPECT_EQ(OidcVerifier::Create(no_audience).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OidcVerifier::FromFile("/nonexistent/jwks.json", o).status().code(), absl::StatusCode::kNotFound);
}

TEST(OidcAuthorizer, RoutesIdTokensToTheProviderAndKeepsServiceTokens) {
  RsaKey k;
  OidcOptions oo;
  oo.jwks_json = Json{{"keys", Json::array({k.Jwk("k1")})}}.dump();
  oo.issuer = kIssuer;
  oo.audience = kClient;
  Json c = Claims();
  c["iat"] = absl::ToUnixSeconds(absl::Now()) - 5;
  c["exp"] = absl::ToUnixSeconds(absl::Now()) + 600;
  const std::string id_token = IdToken(k, c);

  AuthOptions ao;
  ao.enabled = true;
  ao.token.key = "oidc-authorizer-test-key-0123456789abcdef";
  Authorizer without(ao);
  EXPECT_EQ(without.Authenticate("Bearer " + id_token).status().code(), absl::StatusCode::kUnauthenticated)
      << "no identity provider configured: ID tokens are refused";

  ao.oidc = std::shared_ptr<const OidcVerifier>(std::move(*OidcVerifier::Create(oo)));
  Authorizer with(ao);
  absl::StatusOr<Principal> p = with.Authenticate("Bearer " + id_token);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->role, Role::kLearner);
  EXPECT_EQ(p->subject, "u000042");
  // The learner's own transcript, nobody else's; no operator method.
  absl::StatusOr<AccessGrant> g = with.AuthorizePrincipal(*p, "/lifelong.v1.LearningRecordService/GetTranscript");
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(CheckLearner(*g, "u000042", "learner").ok());
  EXPECT_FALSE(CheckLearner(*g, "u000043", "learner").ok());
  EXPECT_EQ(with.AuthorizePrincipal(*p, "/lifelong.v1.LearningRecordService/ListAuditEvents").status().code(),
            absl::StatusCode::kPermissionDenied);
  // The services' own HS256 tokens still work alongside.
  Principal op;
  op.role = Role::kOperator;
  op.subject = "operator-wang";
  EXPECT_TRUE(with.Authenticate("Bearer " + *MintToken(op, absl::Minutes(5), ao.token)).ok());
}

// Once OIDC is configured the Authorizer reads every bearer token's header
// (OidcVerifier::IsRs256); {"alg":1} threw there, out of Authenticate.
TEST(OidcAuthorizer, MalformedHeadersAreUnauthenticatedNeverThrown) {
  RsaKey k;
  OidcOptions oo;
  oo.jwks_json = Json{{"keys", Json::array({k.Jwk("k1")})}}.dump();
  oo.issuer = kIssuer;
  oo.audience = kClient;
  AuthOptions ao;
  ao.enabled = true;
  ao.token.key = "oidc-authorizer-test-key-0123456789abcdef";
  ao.oidc = std::shared_ptr<const OidcVerifier>(std::move(*OidcVerifier::Create(oo)));
  Authorizer auth(ao);
  Json c = Claims();
  c["iat"] = absl::ToUnixSeconds(absl::Now()) - 5;
  c["exp"] = absl::ToUnixSeconds(absl::Now()) + 600;
  std::vector<std::string> tokens = {"eyJhbGciOjF9.e30.AA", absl::StrCat(B64(R"({"alg":null})"), ".e30.AA")};
  for (const char* name : {"alg", "kid", "typ"}) {
    for (const Json& bad : NotStrings()) {
      Json h = {{"alg", "RS256"}, {"kid", "k1"}, {"typ", "JWT"}};
      h[name] = bad;
      tokens.push_back(IdTokenWithHeader(k, h, c));              // signed
      tokens.push_back(absl::StrCat(B64(h.dump()), ".e30.AA"));  // not
      h["alg"] = "HS256";                                        // the services' own tokens
      if (std::string(name) != "alg") tokens.push_back(absl::StrCat(B64(h.dump()), ".e30.AA"));
    }
  }
  for (const std::string& token : tokens) {
    absl::StatusOr<Principal> p = absl::UnknownError("threw");
    EXPECT_NO_THROW(p = auth.Authenticate("Bearer " + token)) << token;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated) << token << " " << p.status();
  }
}

// The verified-token cache kept an ID token for as long as its `exp` said,
// so one first seen at 11 hours old went on working past the 12-hour age
// limit (up to its exp, here 24 hours after it was issued).
TEST(OidcAuthorizer, ACachedIdTokenEndsAtItsMaximumAge) {
  auto now = std::make_shared<absl::Time>(kNow);
  RsaKey k;
  OidcOptions oo;
  oo.jwks_json = Json{{"keys", Json::array({k.Jwk("k1")})}}.dump();
  oo.issuer = kIssuer;
  oo.audience = kClient;
  oo.now = [now] { return *now; };
  AuthOptions ao;
  ao.enabled = true;
  ao.token.key = "oidc-authorizer-test-key-0123456789abcdef";
  ao.token.now = [now] { return *now; };
  ao.oidc = std::shared_ptr<const OidcVerifier>(std::move(*OidcVerifier::Create(oo)));
  Authorizer auth(ao);
  Json c = Claims();
  c["iat"] = absl::ToUnixSeconds(kNow - absl::Hours(11));
  c["exp"] = absl::ToUnixSeconds(kNow + absl::Hours(13));
  const std::string bearer = "Bearer " + IdToken(k, c);
  ASSERT_TRUE(auth.Authenticate(bearer).ok());
  ASSERT_TRUE(auth.Authenticate(bearer).ok());
  EXPECT_EQ(auth.verified_token_cache_hits(), 1) << "the second call is answered from the cache";
  *now += absl::Hours(2);  // 13 hours old, exp still 11 hours ahead
  absl::Status s = auth.Authenticate(bearer).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "too old")) << s;
  EXPECT_EQ(auth.verified_token_cache_hits(), 1);
}

}  // namespace
}  // namespace lifelong::auth
