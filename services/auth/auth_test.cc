#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/auth/authorizer.h"
#include "services/auth/permissions.h"
#include "services/auth/token.h"

namespace lifelong::auth {
namespace {

constexpr char kKey[] = "0123456789abcdef0123456789abcdef-test-key";
constexpr char kRecords[] = "/lifelong.v1.LearningRecordService/";

TokenOptions Options(absl::Time now = absl::FromUnixSeconds(1'800'000'000)) {
  TokenOptions o;
  o.key = kKey;
  o.now = [now] { return now; };
  return o;
}

Principal Learner(const std::string& sub) {
  Principal p;
  p.subject = sub;
  p.role = Role::kLearner;
  p.token_id = "t-" + sub;
  return p;
}

TEST(Token, MintedTokenVerifiesToTheSamePrincipal) {
  Principal k;
  k.subject = "kiosk-hepingli-01";
  k.role = Role::kKiosk;
  k.venue = "和平里社区学校";
  k.learner = "u000123";
  std::string t = *MintToken(k, absl::Minutes(5), Options());
  absl::StatusOr<Principal> p = TokenVerifier(Options()).Verify(t);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->subject, k.subject);
  EXPECT_EQ(p->role, Role::kKiosk);
  EXPECT_EQ(p->venue, k.venue);
  EXPECT_EQ(p->learner, "u000123");
}

// What the recommender reports of its own token (its expiry gauge): the exp
// of any JWT it holds, expired or signed with a key it does not have.
TEST(Token, UnverifiedExpiryIsTheTokensExp) {
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  std::string t = *MintToken(Learner("u1"), absl::Hours(24 * 30), Options(t0));
  absl::StatusOr<absl::Time> exp = UnverifiedExpiry(t);
  ASSERT_TRUE(exp.ok()) << exp.status();
  EXPECT_EQ(*exp, t0 + absl::Hours(24 * 30));
  for (absl::string_view bad : {"", "not-a-token", "a.b", "a.!!.c", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c",
                                // {"sub":"u1"}: no exp; {"exp":"soon"}: not an integer
                                "e30.eyJzdWIiOiJ1MSJ9.c", "e30.eyJleHAiOiJzb29uIn0.c"}) {
    EXPECT_EQ(UnverifiedExpiry(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(Token, ExpiredNotYetValidForgedWrongAudienceAreRefused) {
  absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  std::string token = *MintToken(Learner("u1"), absl::Minutes(10), Options(t0));
  // Within the clock skew after expiry: still accepted; beyond it: refused.
  EXPECT_TRUE(TokenVerifier(Options(t0 + absl::Minutes(10) + absl::Seconds(30))).Verify(token).ok());
  absl::Status expired = TokenVerifier(Options(t0 + absl::Minutes(12))).Verify(token).status();
  EXPECT_EQ(expired.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(expired.message().find("expired"), std::string::npos);
  // Issued in the future beyond the skew (a clock far ahead on the issuer).
  EXPECT_EQ(TokenVerifier(Options(t0 - absl::Minutes(5))).Verify(token).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Another key.
  TokenOptions other = Options(t0);
  other.key = "another-key-another-key-another-key-000";
  EXPECT_EQ(TokenVerifier(other).Verify(token).status().code(), absl::StatusCode::kUnauthenticated);
  // A flipped payload byte breaks the signature.
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string payload;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[1], &payload));
  payload.replace(payload.find("learner"), 7, "loader\"");  // role escalation attempt
  std::string forged = absl::StrCat(parts[0], ".", absl::WebSafeBase64Escape(payload), ".", parts[2]);
  EXPECT_EQ(TokenVerifier(Options(t0)).Verify(forged).status().code(), absl::StatusCode::kUnauthenticated);
  // alg "none" with no signature.
  std::string none_header = absl::WebSafeBase64Escape(R"({"alg":"none","typ":"JWT"})");
  EXPECT_EQ(TokenVerifier(Options(t0)).Verify(absl::StrCat(none_header, ".", parts[1], ".")).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Wrong audience.
  TokenOptions aud = Options(t0);
  aud.audience = "another-system";
  std::string other_aud = *MintToken(Learner("u1"), absl::Minutes(10), aud);
  absl::Status s = TokenVerifier(Options(t0)).Verify(other_aud).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("aud"), std::string::npos);
  // Garbage.
  for (const char* g : {"", "abc", "a.b.c", "...."}) {
    EXPECT_EQ(TokenVerifier(Options(t0)).Verify(g).status().code(), absl::StatusCode::kUnauthenticated) << g;
  }
}

// A fresh Ed25519 key pair (private, public PEM) in the test's temp dir.
std::pair<std::string, std::string> Ed25519Pair(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir = base ? base : "/tmp";
  const std::string priv = dir + "/" + name + ".pem", pub = dir + "/" + name + ".pub.pem";
  absl::Status s = WriteEd25519KeyPair(priv, pub);
  EXPECT_TRUE(s.ok()) << s;
  struct stat st {};
  EXPECT_EQ(::stat(priv.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the private key is the owner's alone";
  return {*LoadKeyFile(priv), *LoadKeyFile(pub)};
}

// Public-key tokens: the issuer signs with the private key, services that only
// verify hold the public key, which cannot mint; nothing else verifies.
TEST(Token, Ed25519TokensVerifyWithThePublicKeyWhichCannotSign) {
  absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  auto [priv, pub] = Ed25519Pair("issuer");
  EXPECT_EQ(*KindOfKey(priv), TokenKeyKind::kEd25519Private);
  EXPECT_EQ(*KindOfKey(pub), TokenKeyKind::kEd25519Public);
  EXPECT_EQ(*KindOfKey(kKey), TokenKeyKind::kHs256Secret);
  TokenOptions issuer = Options(t0), service = Options(t0);
  issuer.key = priv;
  service.key = pub;
  Principal k;
  k.subject = "kiosk-hepingli-01";
  k.role = Role::kKiosk;
  k.venue = "和平里社区学校";
  std::string token = *MintToken(k, absl::Minutes(5), issuer);
  std::string header;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token.substr(0, token.find('.')), &header));
  EXPECT_EQ(header, R"({"alg":"EdDSA","typ":"JWT"})");
  for (const TokenOptions* o : {&service, &issuer}) {
    absl::StatusOr<Principal> p = TokenVerifier(*o).Verify(token);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->subject, k.subject);
    EXPECT_EQ(p->venue, k.venue);
  }
  // The public key cannot sign.
  EXPECT_EQ(MintToken(Learner("u1"), absl::Minutes(5), service).status().code(), absl::StatusCode::kFailedPrecondition);
  // Another pair's token; an HS256 token (under the shared secret, or under
  // the public key's text as an HMAC secret: algorithm confusion); a flipped
  // payload; alg "none": all refused by the public key.
  auto [other_priv, other_pub] = Ed25519Pair("other");
  TokenOptions other = issuer;
  other.key = other_priv;
  EXPECT_EQ(TokenVerifier(service).Verify(*MintToken(k, absl::Minutes(5), other)).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(TokenVerifier(service).Verify(*MintToken(k, absl::Minutes(5), Options(t0))).status().code(),
            absl::StatusCode::kUnauthenticated);
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string hs_header = absl::WebSafeBase64Escape(R"({"alg":"HS256","typ":"JWT"})");
  unsigned char mac[32];
  unsigned int mac_len = 0;
  const std::string signing_input = absl::StrCat(hs_header, ".", parts[1]);
  HMAC(EVP_sha256(), pub.data(), static_cast<int>(pub.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac, &mac_len);
  const std::string confused = absl::StrCat(
      signing_input, ".", absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<char*>(mac), mac_len)));
  absl::Status s = TokenVerifier(service).Verify(confused).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("EdDSA"), std::string::npos) << s;
  std::string payload;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[1], &payload));
  payload.replace(payload.find("kiosk\""), 6, "loader");
  EXPECT_EQ(TokenVerifier(service)
                .Verify(absl::StrCat(parts[0], ".", absl::WebSafeBase64Escape(payload), ".", parts[2]))
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(TokenVerifier(service)
                .Verify(absl::StrCat(absl::WebSafeBase64Escape(R"({"alg":"none"})"), ".", parts[1], "."))
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  // Expiry and audience as for HS256.
  TokenOptions late = service;
  late.now = [t0] { return t0 + absl::Minutes(7); };
  EXPECT_EQ(TokenVerifier(late).Verify(token).status().code(), absl::StatusCode::kUnauthenticated);
  // A PEM that is not an Ed25519 key is refused as a key.
  EXPECT_EQ(KindOfKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KindOfKey("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  // A public key after a blank line is not an HS256 secret (which anyone
  // holding the public key could then sign with); in a key file the blank
  // line is stripped and the key is the public key.
  EXPECT_EQ(KindOfKey("\n" + pub).status().code(), absl::StatusCode::kInvalidArgument);
  const std::string file = std::string(std::getenv("TEST_TMPDIR")) + "/blank-line.pub.pem";
  std::ofstream(file) << "\n\n" << pub;
  absl::StatusOr<std::string> loaded = LoadKeyFile(file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*KindOfKey(*loaded), TokenKeyKind::kEd25519Public);
}

// An EdDSA token of `claims` under `header`, signed with the private key in
// PEM `priv` (what someone holding that key could forge).
std::string SignedWith(const std::string& priv, const std::string& header, const std::string& claims) {
  BIO* bio = BIO_new_mem_buf(priv.data(), static_cast<int>(priv.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  const std::string input = absl::StrCat(absl::WebSafeBase64Escape(header), ".", absl::WebSafeBase64Escape(claims));
  unsigned char sig[64];
  size_t sig_len = sizeof(sig);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestSignInit(md, nullptr, nullptr, nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(md, sig, &sig_len, reinterpret_cast<const unsigned char*>(input.data()), input.size()), 1);
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(key);
  return absl::StrCat(input, ".", absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<char*>(sig), sig_len)));
}

// The record service holds the kiosk-session private key and only the main
// public key: it signs kiosk sessions, which every service accepts, and
// nothing it could sign with that key passes for anything else.
TEST(Token, TheKioskSessionKeySignsShortKioskSessionsAndNothingElse) {
  absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  auto [priv, pub] = Ed25519Pair("main");
  auto [session_priv, session_pub] = Ed25519Pair("session");
  TokenOptions records = Options(t0), service = Options(t0), issuer = Options(t0);
  records.key = pub;
  records.session_key = session_priv;
  service.key = pub;
  service.session_key = session_pub;
  issuer.key = priv;
  Principal session;
  session.subject = "kiosk-hepingli-01";
  session.role = Role::kKiosk;
  session.venue = "和平里社区学校";
  session.learner = "u000042";
  absl::StatusOr<std::string> token = MintToken(session, absl::Minutes(5), records);
  ASSERT_TRUE(token.ok()) << token.status();
  std::string header;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token->substr(0, token->find('.')), &header));
  EXPECT_EQ(header, R"({"alg":"EdDSA","kid":"kiosk-session","typ":"JWT"})");
  for (const TokenOptions* o : {&service, &records}) {
    absl::StatusOr<Principal> p = TokenVerifier(*o).Verify(*token);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->learner, "u000042");
    EXPECT_EQ(p->venue, session.venue);
  }
  // Tokens of the main key (the token tools) still verify everywhere.
  EXPECT_TRUE(TokenVerifier(records).Verify(*MintToken(Learner("u1"), absl::Hours(1), issuer)).ok());

  // The record service mints nothing but sessions, and none longer than allowed.
  Principal kiosk = session;
  kiosk.learner.clear();
  for (const Principal& p : {Learner("u000042"), kiosk}) {
    EXPECT_EQ(MintToken(p, absl::Minutes(5), records).status().code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(MintToken(session, absl::Hours(1), records).status().code(), absl::StatusCode::kInvalidArgument);

  // What the session key's holder could forge: refused everywhere.
  auto forged = [&](const std::string& claims, const std::string& key = "") {
    return SignedWith(key.empty() ? session_priv : key, R"({"alg":"EdDSA","kid":"kiosk-session","typ":"JWT"})", claims);
  };
  const std::string iat = absl::StrCat(absl::ToUnixSeconds(t0));
  auto claims = [&](const std::string& role_and_more, int64_t ttl_s) {
    return absl::StrCat(R"({"sub":"kiosk-hepingli-01","aud":"lifelong","iat":)", iat, R"(,"exp":)",
                        absl::ToUnixSeconds(t0) + ttl_s, ",", role_and_more, "}");
  };
  const std::string good = claims(R"("role":"kiosk","venue":"v1","learner":"u000042")", 300);
  ASSERT_TRUE(TokenVerifier(service).Verify(forged(good)).ok()) << "the forging helper signs as the key would";
  struct Case {
    std::string token, why;
  };
  const std::vector<Case> refused = {
      {forged(claims(R"("role":"operator")", 300)), "kiosk sessions only"},
      {forged(claims(R"("role":"loader")", 300)), "kiosk sessions only"},
      {forged(claims(R"("role":"learner")", 300)), "kiosk sessions only"},
      {forged(claims(R"("role":"kiosk","venue":"v1")", 300)), "kiosk sessions only"},
      {forged(claims(R"("role":"kiosk","venue":"v1","learner":"u000042")", 86400)), "15 minutes"},
      {forged(absl::StrCat(R"({"sub":"k","aud":"lifelong","exp":)", absl::ToUnixSeconds(t0) + 300,
                           R"(,"role":"kiosk","venue":"v1","learner":"u000042"})")),
       "15 minutes"},
      // The session key without its "kid", as if it were the main key.
      {SignedWith(session_priv, R"({"alg":"EdDSA","typ":"JWT"})", claims(R"("role":"operator")", 300)),
       "bad signature"},
      // The main key under the session's "kid".
      {forged(good, priv), "bad signature"},
  };
  for (const Case& c : refused) {
    for (const TokenOptions* o : {&service, &records}) {
      absl::Status s = TokenVerifier(*o).Verify(c.token).status();
      EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << c.why;
      EXPECT_NE(s.message().find(c.why), std::string::npos) << s;
    }
  }
  // A service without the session key refuses sessions, saying why.
  TokenOptions plain = service;
  plain.session_key.clear();
  absl::Status s = TokenVerifier(plain).Verify(*token).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("no session key"), std::string::npos) << s;
  // A session key that is not an Ed25519 key: nothing verifies (fail closed).
  TokenOptions hs_session = service;
  hs_session.session_key = kKey;
  EXPECT_FALSE(TokenVerifier(hs_session).Verify(*MintToken(Learner("u1"), absl::Hours(1), issuer)).ok());
  // With an HS256 main key, HS256 tokens and sessions both verify.
  TokenOptions mixed = Options(t0);
  mixed.session_key = session_pub;
  EXPECT_TRUE(TokenVerifier(mixed).Verify(*MintToken(Learner("u1"), absl::Hours(1), Options(t0))).ok());
  EXPECT_TRUE(TokenVerifier(mixed).Verify(*token).ok());
}

// An HS256 token of `header` and `claims` as given, signed with kKey (what a
// holder of the secret, or a bug in an issuer, could produce).
std::string Hs256Token(const nlohmann::json& header, const nlohmann::json& claims) {
  const std::string input =
      absl::StrCat(absl::WebSafeBase64Escape(header.dump()), ".", absl::WebSafeBase64Escape(claims.dump()));
  unsigned char mac[32];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), kKey, static_cast<int>(sizeof(kKey) - 1), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &mac_len);
  return absl::StrCat(input, ".", absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<char*>(mac), mac_len)));
}

// Values of every JSON type but a string.
std::vector<nlohmann::json> NotStrings() {
  using Json = nlohmann::json;
  return {1, -1, 1.5, nullptr, true, Json::array(), Json::array({"x"}), Json::object(), Json{{"a", "b"}}};
}

// Every header member and claim a token verification reads is type-checked:
// one of another type is UNAUTHENTICATED naming it (it used to be taken as
// absent: "jti":1 made a token without an id, "nbf":"2030" no nbf), and
// nothing throws, on the HS256 and the EdDSA paths and through the
// Authorizer.
TEST(Token, MembersOfTheWrongTypeAreRefusedNamingThem) {
  using Json = nlohmann::json;
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  const Json header = {{"alg", "HS256"}, {"typ", "JWT"}, {"kid", "main"}};
  const Json claims = {{"sub", "t1"},          {"role", "teacher"},
                       {"aud", "lifelong"},    {"iat", 1'800'000'000},
                       {"exp", 1'800'000'600}, {"nbf", 1'799'999'000},
                       {"jti", "j1"},          {"venue", "v1"},
                       {"learner", "u1"},      {"courses", Json::array({"c1"})}};
  AuthOptions ao;
  ao.enabled = true;
  ao.token = Options(t0);
  Authorizer auth(ao);
  TokenVerifier verifier(Options(t0));
  ASSERT_TRUE(verifier.Verify(Hs256Token(header, claims)).ok()) << "the helper signs as MintToken does";
  auto expect_refused = [&](const std::string& token, const std::string& why) {
    absl::StatusOr<Principal> p = absl::UnknownError("threw");
    EXPECT_NO_THROW(p = verifier.Verify(token)) << why;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated) << why;
    EXPECT_NE(p.status().message().find(why), std::string::npos) << why << ": " << p.status();
    absl::StatusOr<Principal> q = absl::UnknownError("threw");
    EXPECT_NO_THROW(q = auth.Authenticate("Bearer " + token)) << why;
    EXPECT_EQ(q.status().code(), absl::StatusCode::kUnauthenticated) << why;
  };
  for (const char* name : {"alg", "kid", "typ"}) {
    for (const Json& bad : NotStrings()) {
      Json h = header;
      h[name] = bad;
      expect_refused(Hs256Token(h, claims), absl::StrCat("header ", name, ": must be a string"));
    }
  }
  Json no_alg = header;
  no_alg.erase("alg");
  expect_refused(Hs256Token(no_alg, claims), "header alg: required");
  for (const char* name : {"sub", "role", "venue", "learner", "jti"}) {
    for (const Json& bad : NotStrings()) {
      Json c = claims;
      c[name] = bad;
      expect_refused(Hs256Token(header, c), absl::StrCat("claim ", name, ": must be a string"));
    }
  }
  for (const Json& bad : {Json(1), Json(nullptr), Json::object(), Json::array({"lifelong", 1})}) {
    Json c = claims;
    c["aud"] = bad;
    expect_refused(Hs256Token(header, c), "claim aud: must be a string or an array of strings");
  }
  for (const Json& bad : {Json("c1"), Json(1), Json(nullptr), Json::array({"c1", 2}), Json::array({Json::array()})}) {
    Json c = claims;
    c["courses"] = bad;
    expect_refused(Hs256Token(header, c), "claim courses: must be an array of strings");
  }
  for (const char* name : {"exp", "iat", "nbf"}) {
    for (const Json& bad :
         {Json("1800000000"), Json(nullptr), Json(true), Json(1.8e9), Json::array({1}), Json::object()}) {
      Json c = claims;
      c[name] = bad;
      expect_refused(Hs256Token(header, c), absl::StrCat("claim ", name));
    }
    for (const Json& bad : {Json(-1), Json(std::numeric_limits<int64_t>::min()), Json(253402300800)}) {
      Json c = claims;
      c[name] = bad;
      expect_refused(Hs256Token(header, c), absl::StrCat("claim ", name, ": out of range"));
    }
    // Past INT64_MAX libjwt's JSON parser refuses the token itself
    // ("malformed"); on the EdDSA path below it is out of range.
    Json c = claims;
    c[name] = std::numeric_limits<uint64_t>::max();
    expect_refused(Hs256Token(header, c), "bearer token: ");
  }

  // The EdDSA path (a public main key, a kiosk-session key) reads the header
  // itself.
  auto [priv, pub] = Ed25519Pair("typed");
  auto [session_priv, session_pub] = Ed25519Pair("typed-session");
  TokenOptions ed = Options(t0);
  ed.key = pub;
  ed.session_key = session_pub;
  TokenOptions mixed = Options(t0);  // an HS256 main key and a session key
  mixed.session_key = session_pub;
  for (const TokenOptions* o : {&ed, &mixed}) {
    for (const char* name : {"alg", "kid", "typ"}) {
      for (const Json& bad : NotStrings()) {
        Json h = {{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", "kiosk-session"}};
        h[name] = bad;
        absl::StatusOr<Principal> p = absl::UnknownError("threw");
        EXPECT_NO_THROW(p = TokenVerifier(*o).Verify(SignedWith(session_priv, h.dump(), claims.dump()))) << h.dump();
        EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated) << h.dump();
        EXPECT_NE(p.status().message().find(absl::StrCat("header ", name)), std::string::npos) << p.status();
      }
    }
  }
  for (const char* name : {"exp", "iat", "nbf"}) {
    Json c = claims;
    c["role"] = "learner";
    c[name] = std::numeric_limits<uint64_t>::max();
    absl::Status s = TokenVerifier(ed).Verify(SignedWith(priv, R"({"alg":"EdDSA","typ":"JWT"})", c.dump())).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_NE(s.message().find(absl::StrCat("claim ", name, ": out of range")), std::string::npos) << s;
  }
  Json bad_claims = claims;
  bad_claims["role"] = "learner";
  bad_claims["jti"] = 1;
  absl::Status s =
      TokenVerifier(ed).Verify(SignedWith(priv, R"({"alg":"EdDSA","typ":"JWT"})", bad_claims.dump())).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("claim jti: must be a string"), std::string::npos) << s;
}

TEST(Permissions, DefaultDenyAndTableRows) {
  EXPECT_EQ(GrantOf(absl::StrCat(kRecords, "ListStatements"), Role::kLearner), Scope::kSelf);
  EXPECT_EQ(GrantOf(absl::StrCat(kRecords, "ListStatements"), Role::kKiosk), Scope::kBoundLearner);
  EXPECT_EQ(GrantOf(absl::StrCat(kRecords, "GetStatement"), Role::kKiosk), Scope::kDenied);
  EXPECT_EQ(GrantOf(absl::StrCat(kRecords, "ExportStatements"), Role::kLearner), Scope::kDenied);
  EXPECT_EQ(GrantOf(absl::StrCat(kRecords, "NoSuchMethod"), Role::kOperator), Scope::kDenied);
  EXPECT_EQ(GrantOf("/lifelong.v1.CourseCatalogService/CreateCourse", Role::kTeacher), Scope::kDenied);
  // Every row names at least one role, and no operation appears twice.
  std::set<std::string> seen;
  for (const TableRow& row : PermissionTable()) {
    EXPECT_FALSE(row.grants.empty()) << row.operation;
    EXPECT_TRUE(seen.insert(row.operation).second) << row.operation;
  }
}

AuthOptions Enabled(const std::string& revocation_file = "") {
  AuthOptions o;
  o.enabled = true;
  o.token = Options(absl::Now());
  o.token.now = [] { return absl::Now(); };
  o.revocation_file = revocation_file;
  return o;
}

std::string Bearer(const Principal& p) {
  TokenOptions o = Options();
  o.now = [] { return absl::Now(); };
  return "Bearer " + *MintToken(p, absl::Minutes(5), o);
}

TEST(Authorizer, RevocationFileTakesEffectWithoutRestart) {
  std::string file = std::string(std::getenv("TEST_TMPDIR")) + "/revoked.txt";
  std::ofstream(file) << "# revoked credentials\n";
  Authorizer auth(Enabled(file));
  Principal kiosk;
  kiosk.subject = "kiosk-dongsi-02";
  kiosk.role = Role::kKiosk;
  kiosk.venue = "东四社区学校";
  std::string token = Bearer(kiosk);
  EXPECT_TRUE(auth.Authenticate(token).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // mtime granularity and the 1 s check
  std::ofstream(file, std::ios::app) << "sub:kiosk-dongsi-02\n";
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  absl::Status s = auth.Authenticate(token).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("revoked"), std::string::npos);
  // Other credentials are unaffected.
  EXPECT_TRUE(auth.Authenticate(Bearer(Learner("u1"))).ok());
}

TEST(Authorizer, RevokingALearnerEndsTheirKioskSessions) {
  std::string file = std::string(std::getenv("TEST_TMPDIR")) + "/revoked_learner.txt";
  std::ofstream(file) << "sub:u2\n";
  Authorizer auth(Enabled(file));
  ASSERT_TRUE(auth.LoadRevocations().ok());
  Principal session;
  session.subject = "kiosk-dongsi-02";
  session.role = Role::kKiosk;
  session.venue = "东四社区学校";
  session.learner = "u2";
  absl::Status s = auth.Authenticate(Bearer(session)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
  EXPECT_TRUE(auth.IsRevoked(session));
  session.learner = "u3";
  EXPECT_TRUE(auth.Authenticate(Bearer(session)).ok());
  session.learner.clear();
  EXPECT_TRUE(auth.Authenticate(Bearer(session)).ok()) << "the kiosk itself is not revoked";
}

// The verified-token cache saves the signature check of a token seen before,
// and changes nothing else: a cached token still expires at its `exp`, is
// still refused once revoked (RevocationFileTakesEffectWithoutRestart), and
// a token altered in one byte is verified afresh and refused.
TEST(Authorizer, VerifiedTokenCacheKeepsExpiryAndRefusesAlteredTokens) {
  auto now = std::make_shared<absl::Time>(absl::FromUnixSeconds(1'800'000'000));
  AuthOptions options;
  options.enabled = true;
  options.token = Options();
  options.token.now = [now] { return *now; };
  options.token.clock_skew = absl::ZeroDuration();
  Authorizer auth(options);
  TokenOptions mint = options.token;
  const std::string token = "Bearer " + *MintToken(Learner("u000042"), absl::Minutes(5), mint);

  ASSERT_TRUE(auth.Authenticate(token).ok());
  EXPECT_EQ(auth.verified_token_cache_hits(), 0);
  absl::StatusOr<Principal> again = auth.Authenticate(token);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->subject, "u000042");
  EXPECT_EQ(auth.verified_token_cache_hits(), 1);

  // One byte of the signature changed: not the cached token, refused.
  std::string altered = token;
  char& c = altered[altered.size() - 10];  // inside the signature, not its padding bits
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(auth.Authenticate(altered).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.verified_token_cache_hits(), 1);

  // Past its expiry the cached token is refused like any expired token.
  *now += absl::Minutes(5) + absl::Seconds(1);
  absl::Status expired = auth.Authenticate(token).status();
  EXPECT_EQ(expired.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.verified_token_cache_hits(), 1);

  // Size 0: every call verifies.
  options.verified_token_cache = 0;
  *now = absl::FromUnixSeconds(1'800'000'000);
  Authorizer uncached(options);
  ASSERT_TRUE(uncached.Authenticate(token).ok());
  ASSERT_TRUE(uncached.Authenticate(token).ok());
  EXPECT_EQ(uncached.verified_token_cache_hits(), 0);
}

// Issue #13 item 4: removing (or making unreadable) the revocation file must
// not revive revoked credentials.
TEST(Authorizer, RemovedRevocationFileKeepsTheLastListAndCountsTheError) {
  std::string file = std::string(std::getenv("TEST_TMPDIR")) + "/revoked_removed.txt";
  std::ofstream(file) << "sub:kiosk-revoked\n";
  AuthOptions options = Enabled(file);
  std::vector<std::string> events;  // what the service would log
  options.on_revocation_read = [&events](const absl::Status& s, bool changed, size_t entries) {
    events.push_back(absl::StrCat(s.ok() ? "ok" : "error", changed ? " changed " : " same ", entries));
  };
  Authorizer auth(options);
  ASSERT_TRUE(auth.LoadRevocations().ok());
  Principal kiosk;
  kiosk.subject = "kiosk-revoked";
  kiosk.role = Role::kKiosk;
  kiosk.venue = "东四社区学校";
  std::string token = Bearer(kiosk);
  absl::Status revoked = auth.Authenticate(token).status();
  EXPECT_EQ(revoked.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(revoked.message().find("revoked"), std::string::npos) << revoked;
  EXPECT_EQ(auth.revocation_load_errors(), 0);

  ASSERT_EQ(std::remove(file.c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the 1 s check interval
  absl::Status s = auth.Authenticate(token).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << "revoked token revived";
  EXPECT_NE(s.message().find("revoked"), std::string::npos) << s;
  EXPECT_GE(auth.revocation_load_errors(), 1);
  absl::Status load = auth.LoadRevocations();
  EXPECT_EQ(load.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(load.message().find(file), std::string::npos) << load;
  EXPECT_EQ(auth.Authenticate(token).status().code(), absl::StatusCode::kUnauthenticated);

  // A new file (here: empty) is the new list once it is readable again.
  std::ofstream(file) << "# nothing revoked\n";
  ASSERT_TRUE(auth.LoadRevocations().ok());
  EXPECT_TRUE(auth.Authenticate(token).ok());
  // The first read, the outage (a change, then the same again), the recovery.
  EXPECT_EQ(events, (std::vector<std::string>{"ok same 1", "error changed 1", "error same 1", "ok changed 0"}));
}

TEST(Authorizer, UnreadableRevocationFileKeepsTheLastList) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads files regardless of their mode";
  std::string file = std::string(std::getenv("TEST_TMPDIR")) + "/revoked_unreadable.txt";
  std::ofstream(file) << "sub:kiosk-revoked\n";
  Authorizer auth(Enabled(file));
  ASSERT_TRUE(auth.LoadRevocations().ok());
  ASSERT_EQ(chmod(file.c_str(), 0), 0);
  EXPECT_EQ(auth.LoadRevocations().code(), absl::StatusCode::kFailedPrecondition);
  Principal kiosk;
  kiosk.subject = "kiosk-revoked";
  kiosk.role = Role::kKiosk;
  kiosk.venue = "东四社区学校";
  EXPECT_EQ(auth.Authenticate(Bearer(kiosk)).status().code(), absl::StatusCode::kUnauthenticated);
  chmod(file.c_str(), 0600);
}

TEST(Authorizer, MissingCredentialIsUnauthenticatedAndUngrantedRoleIsDenied) {
  Authorizer auth(Enabled());
  std::string op = absl::StrCat(kRecords, "ExportStatements");
  EXPECT_EQ(auth.Authorize("", op).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Authorize("Basic dTpw", op).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Authorize(Bearer(Learner("u1")), op).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(Authorizer, RateAndConcurrencyLimitsArePerPrincipal) {
  AuthOptions o = Enabled();
  o.limits.requests_per_second = 1;
  o.limits.burst = 5;
  o.limits.max_in_flight = 2;
  Authorizer auth(o);
  std::string op = absl::StrCat(kRecords, "Echo");
  std::string abusive = Bearer(Learner("u-abusive"));
  {
    auto a = auth.Authorize(abusive, op);
    auto b = auth.Authorize(abusive, op);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(auth.Authorize(abusive, op).status().code(), absl::StatusCode::kResourceExhausted)
        << "third concurrent call";
  }
  // Slots are released with the grants; the bucket (5) has 3 left.
  int ok = 0;
  absl::Status last;
  for (int i = 0; i < 10; ++i) {
    auto g = auth.Authorize(abusive, op);
    if (g.ok()) {
      ++ok;
    } else {
      last = g.status();
    }
  }
  EXPECT_LE(ok, 4);
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted);
  // Another principal still gets through.
  EXPECT_TRUE(auth.Authorize(Bearer(Learner("u-polite")), op).ok());
  // Internal services are not limited (the recommender calls once per request).
  Principal svc;
  svc.subject = "svc-recommend";
  svc.role = Role::kRecommender;
  std::string svc_token = Bearer(svc);
  std::vector<AccessGrant> held;
  for (int i = 0; i < 20; ++i) {
    auto g = auth.Authorize(svc_token, op);
    ASSERT_TRUE(g.ok()) << i << " " << g.status();
    held.push_back(std::move(*g));
  }
}

TEST(Authorizer, ScopeChecks) {
  Authorizer auth(Enabled());
  auto g = auth.Authorize(Bearer(Learner("u1")), absl::StrCat(kRecords, "ListStatements"));
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(CheckLearner(*g, "u1", "learner").ok());
  absl::Status s = CheckLearner(*g, "u2", "learner");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("learner"), std::string::npos);
  Principal t;
  t.subject = "teacher-li";
  t.role = Role::kTeacher;
  t.courses = {"c00001"};
  auto tg = auth.Authorize(Bearer(t), absl::StrCat(kRecords, "ListStatements"));
  ASSERT_TRUE(tg.ok());
  EXPECT_TRUE(CheckCourse(*tg, "c00001", "activity").ok());
  EXPECT_EQ(CheckCourse(*tg, "c00002", "activity").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckLearner(*tg, "u1", "learner").code(), absl::StatusCode::kPermissionDenied);
}

TEST(Authorizer, DisabledTrustsEveryCaller) {
  Authorizer auth(AuthOptions{});
  auto g = auth.Authorize("", absl::StrCat(kRecords, "ExportStatements"));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->scope(), Scope::kAny);
}

}  // namespace
}  // namespace lifelong::auth
