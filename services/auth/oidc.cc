#include "services/auth/oidc.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace lifelong::auth {
namespace {

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("id token: ", why));
}

bool Base64Url(absl::string_view in, std::string* out) {
  if (in.find_first_of("+/=") != absl::string_view::npos) return false;  // strict base64url, no padding
  return absl::WebSafeBase64Unescape(in, out);
}

bool IsLearnerKey(absl::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '_' || c == ':' || c == '@' || c == '|' || c == '/' || c == '-')) {
      return false;
    }
  }
  return true;
}

// Unix seconds of the years 1970-9999: the range of every time claim.
constexpr int64_t kMaxSeconds = 253402300799;

// The string member `name` of `object` (the header or the claims; `part`
// names which in errors) into *out: nullopt when absent, UNAUTHENTICATED
// naming the member when present and not a string. Never throws.
absl::Status StringMember(const nlohmann::json& object, absl::string_view part, const std::string& name,
                          std::optional<std::string>* out) {
  out->reset();
  auto it = object.find(name);
  if (it == object.end()) return absl::OkStatus();
  if (!it->is_string()) return Unauthenticated(absl::StrCat(part, " ", name, ": must be a string"));
  *out = it->get<std::string>();
  return absl::OkStatus();
}

// The NumericDate claim `name` (Unix seconds, years 1970-9999; a fraction is
// dropped) into *out: nullopt when absent, UNAUTHENTICATED naming the claim
// when present and not such a number. Never throws.
absl::Status TimeClaim(const nlohmann::json& claims, const char* name, std::optional<absl::Time>* out) {
  out->reset();
  auto it = claims.find(name);
  if (it == claims.end()) return absl::OkStatus();
  int64_t seconds = -1;
  if (it->is_number_unsigned()) {
    if (it->get<uint64_t>() <= static_cast<uint64_t>(kMaxSeconds)) seconds = it->get<int64_t>();
  } else if (it->is_number_integer()) {
    seconds = it->get<int64_t>();
  } else if (it->is_number_float()) {
    // Range-checked as a double first: converting one outside int64_t is undefined.
    const double d = it->get<double>();
    if (d >= 0 && d <= static_cast<double>(kMaxSeconds)) seconds = static_cast<int64_t>(d);
  } else {
    return Unauthenticated(absl::StrCat("claim ", name, ": must be a number (Unix seconds)"));
  }
  if (seconds < 0 || seconds > kMaxSeconds) return Unauthenticated(absl::StrCat("claim ", name, ": out of range"));
  *out = absl::FromUnixSeconds(seconds);
  return absl::OkStatus();
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// An RSA public key from the JWK's base64url modulus and exponent.
absl::StatusOr<EVP_PKEY*> RsaKey(const std::string& n64, const std::string& e64) {
  std::string n, e;
  if (!Base64Url(n64, &n) || !Base64Url(e64, &e) || n.size() < 256 || e.empty() || e.size() > 8) {
    return absl::InvalidArgumentError("n/e must be base64url, the modulus at least 2048 bits");
  }
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* key = nullptr;
  bool ok = bn_n != nullptr && bn_e != nullptr && bld != nullptr && ctx != nullptr &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1 &&
            (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  EVP_PKEY_CTX_free(ctx);
  BN_free(bn_n);
  BN_free(bn_e);
  if (!ok || key == nullptr) return absl::InvalidArgumentError("not a usable RSA public key");
  return key;
}

}  // namespace

struct OidcVerifier::Key {
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey;
};

OidcVerifier::~OidcVerifier() = default;

absl::StatusOr<std::unique_ptr<OidcVerifier>> OidcVerifier::Create(OidcOptions options) {
  if (options.issuer.empty()) return absl::InvalidArgumentError("oidc issuer: required");
  if (options.audience.empty()) return absl::InvalidArgumentError("oidc audience: required");
  if (options.learner_claim.empty()) return absl::InvalidArgumentError("oidc learner claim: required");
  nlohmann::json jwks = nlohmann::json::parse(options.jwks_json, nullptr, false);
  if (jwks.is_discarded() || !jwks.is_object() || !jwks.contains("keys") || !jwks["keys"].is_array()) {
    return absl::InvalidArgumentError("oidc jwks: must be a JSON object with a \"keys\" array");
  }
  std::unique_ptr<OidcVerifier> v(new OidcVerifier(std::move(options)));
  int i = 0;
  for (const nlohmann::json& k : jwks["keys"]) {
    ++i;
    // Other key types are not used here. (Comparisons, not value(): a member
    // of another type is then another value, not an exception.)
    if (!k.is_object() || !k.contains("kty") || k["kty"] != "RSA") continue;
    if (k.contains("use") && k["use"] != "sig") continue;
    if (k.contains("alg") && k["alg"] != "RS256") continue;
    if (!k.contains("kid") || !k["kid"].is_string() || k["kid"].get<std::string>().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("oidc jwks: key ", i, ": \"kid\" required"));
    }
    if (!k.contains("n") || !k["n"].is_string() || !k.contains("e") || !k["e"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("oidc jwks: key ", i, ": \"n\" and \"e\" required"));
    }
    absl::StatusOr<EVP_PKEY*> pkey = RsaKey(k["n"].get<std::string>(), k["e"].get<std::string>());
    if (!pkey.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("oidc jwks: key ", i, ": ", pkey.status().message()));
    }
    auto key = std::make_shared<Key>();
    key->pkey.reset(*pkey);
    v->keys_[k["kid"].get<std::string>()] = std::move(key);
  }
  if (v->keys_.empty()) return absl::InvalidArgumentError("oidc jwks: no RSA signing key (RS256)");
  return v;
}

absl::StatusOr<std::unique_ptr<OidcVerifier>> OidcVerifier::FromFile(const std::string& jwks_file,
                                                                     OidcOptions options) {
  std::ifstream in(jwks_file, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("oidc jwks file ", jwks_file, ": cannot be read"));
  std::stringstream ss;
  ss << in.rdbuf();
  options.jwks_json = ss.str();
  return Create(std::move(options));
}

bool OidcVerifier::IsRs256(absl::string_view token) {
  size_t dot = token.find('.');
  if (dot == absl::string_view::npos || dot > 2048) return false;
  std::string header_text;
  if (!Base64Url(token.substr(0, dot), &header_text)) return false;
  nlohmann::json header = nlohmann::json::parse(header_text, nullptr, false);
  if (!header.is_object()) return false;
  auto alg = header.find("alg");
  return alg != header.end() && alg->is_string() && *alg == "RS256";  // never header.value(): it throws on a number
}

absl::StatusOr<Principal> OidcVerifier::Verify(absl::string_view token) const {
  if (token.empty()) return Unauthenticated("missing");
  if (token.size() > 16384) return Unauthenticated("too long");
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return Unauthenticated("malformed (not header.payload.signature)");
  std::string header_text, payload_text, signature;
  if (!Base64Url(parts[0], &header_text) || !Base64Url(parts[1], &payload_text) || !Base64Url(parts[2], &signature)) {
    return Unauthenticated("malformed (not base64url)");
  }
  // Every member read is type-checked first (StringMember, TimeClaim): one of
  // another type is refused naming it, never thrown on.
  nlohmann::json header = nlohmann::json::parse(header_text, nullptr, false);
  if (!header.is_object()) return Unauthenticated("malformed header");
  std::optional<std::string> alg, kid, typ;
  if (absl::Status s = StringMember(header, "header", "alg", &alg); !s.ok()) return s;
  // The algorithm is fixed by this verifier, never chosen by the token.
  if (alg != "RS256") return Unauthenticated("algorithm must be RS256");
  if (absl::Status s = StringMember(header, "header", "kid", &kid); !s.ok()) return s;
  if (!kid) return Unauthenticated("no kid in the header");
  if (absl::Status s = StringMember(header, "header", "typ", &typ); !s.ok()) return s;
  // An ID token has no typ or "JWT"; the provider's access tokens (at+jwt)
  // and logout tokens (logout+jwt) are signed by the same keys and may name
  // the app as their audience, but are not a sign-in.
  if (typ && !absl::EqualsIgnoreCase(*typ, "JWT")) {
    return Unauthenticated(absl::StrCat("header typ: ", *typ, " is not an ID token"));
  }
  if (header.contains("crit")) return Unauthenticated("header crit: not supported");
  auto key = keys_.find(*kid);
  if (key == keys_.end()) return Unauthenticated("unknown signing key (kid not in the configured JWKS)");

  const size_t signed_len = parts[0].size() + 1 + parts[1].size();
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool good = md != nullptr && EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key->second->pkey.get()) == 1 &&
              EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                               reinterpret_cast<const unsigned char*>(token.data()), signed_len) == 1;
  EVP_MD_CTX_free(md);
  if (!good) return Unauthenticated("bad signature");

  nlohmann::json claims = nlohmann::json::parse(payload_text, nullptr, false);
  if (!claims.is_object()) return Unauthenticated("malformed claims");
  // A back-channel logout token (OpenID Connect Back-Channel Logout 1.0,
  // "events") carries sub, aud, iat and exp like an ID token.
  if (claims.contains("events")) return Unauthenticated("claim events: a logout token is not an ID token");
  std::optional<std::string> iss, azp, subject, jti;
  if (absl::Status s = StringMember(claims, "claim", "iss", &iss); !s.ok()) return s;
  if (iss != options_.issuer) return Unauthenticated(absl::StrCat("claim iss: issuer must be ", options_.issuer));
  bool audience = false;
  int audiences = 0;
  if (auto aud = claims.find("aud"); aud != claims.end()) {
    if (aud->is_string()) {
      audiences = 1;
      audience = *aud == options_.audience;
    } else if (aud->is_array()) {
      for (const nlohmann::json& a : *aud) {
        if (!a.is_string()) return Unauthenticated("claim aud: must be a string or an array of strings");
        ++audiences;
        audience |= a == options_.audience;
      }
    } else {
      return Unauthenticated("claim aud: must be a string or an array of strings");
    }
  }
  if (!audience) return Unauthenticated(absl::StrCat("claim aud: audience must include ", options_.audience));
  if (absl::Status s = StringMember(claims, "claim", "azp", &azp); !s.ok()) return s;
  if (audiences > 1 && azp != options_.audience) {
    return Unauthenticated(absl::StrCat("claim azp: must be ", options_.audience, " when there are several audiences"));
  }
  const absl::Time now = options_.now();
  std::optional<absl::Time> exp, nbf, iat;
  if (absl::Status s = TimeClaim(claims, "exp", &exp); !s.ok()) return s;
  if (absl::Status s = TimeClaim(claims, "nbf", &nbf); !s.ok()) return s;
  if (absl::Status s = TimeClaim(claims, "iat", &iat); !s.ok()) return s;
  if (!exp) return Unauthenticated("exp required");
  if (*exp + options_.clock_skew <= now) return Unauthenticated("expired");
  if (nbf && *nbf - options_.clock_skew > now) return Unauthenticated("not yet valid (nbf)");
  if (!iat) return Unauthenticated("iat required");
  if (*iat - options_.clock_skew > now) return Unauthenticated("issued in the future (iat)");
  if (now - *iat > options_.max_age) return Unauthenticated("too old (iat); sign in again");
  const std::string& claim = options_.learner_claim;
  if (absl::Status s = StringMember(claims, "claim", claim, &subject); !s.ok()) return s;
  if (!subject || !IsLearnerKey(*subject))
    return Unauthenticated(absl::StrCat("claim ", claim, " must be a learner key"));
  if (absl::Status s = StringMember(claims, "claim", "jti", &jti); !s.ok()) return s;
  Principal p;
  p.role = Role::kLearner;
  p.subject = *std::move(subject);
  // Accepted until exp or until it is max_age old, whichever comes first:
  // the verified-token cache (authorizer.h) serves it no longer than that.
  p.expires_us = absl::ToUnixMicros(std::min(*exp, *iat + options_.max_age));
  p.token_id = !jti || jti->empty() ? absl::StrCat("oidc-", p.subject, "-", absl::ToUnixSeconds(*iat))
                                    : absl::StrCat("oidc-", jti->substr(0, 128));
  return p;
}

}  // namespace lifelong::auth
