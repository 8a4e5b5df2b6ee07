#include "services/auth/token.h"

#include <fcntl.h>
#include <jwt.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace lifelong::auth {
namespace {

struct JwtFree {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("bearer token: ", why));
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

constexpr absl::string_view kPemPrivate = "-----BEGIN PRIVATE KEY-----";
constexpr absl::string_view kPemPublic = "-----BEGIN PUBLIC KEY-----";

// The Ed25519 key of a PEM text (private or public); null when it is not one.
PkeyPtr ParseEd25519(absl::string_view pem_text, bool is_private) {
  std::string pem(pem_text);
  if (pem.empty() || pem.back() != '\n') pem += '\n';  // key files are read trimmed
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return nullptr;
  EVP_PKEY* k = is_private ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr)
                           : PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ERR_clear_error();
  PkeyPtr key(k);
  if (key != nullptr && EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) return nullptr;
  return key;
}

// A key's kind and, for an Ed25519 key, the key itself (parsed once).
struct ParsedKey {
  TokenKeyKind kind;
  PkeyPtr ed25519;  // null for an HS256 secret
};

absl::StatusOr<ParsedKey> ParseKey(absl::string_view key) {
  if (absl::StartsWith(key, "-----BEGIN")) {
    const bool is_private = absl::StartsWith(key, kPemPrivate);
    if (!is_private && !absl::StartsWith(key, kPemPublic)) {
      return absl::InvalidArgumentError("key: a PEM key must be an Ed25519 PRIVATE KEY or PUBLIC KEY");
    }
    PkeyPtr ed25519 = ParseEd25519(key, is_private);
    if (ed25519 == nullptr) return absl::InvalidArgumentError("key: the PEM block is not an Ed25519 key");
    return ParsedKey{is_private ? TokenKeyKind::kEd25519Private : TokenKeyKind::kEd25519Public, std::move(ed25519)};
  }
  // A PEM block anywhere else (after a blank line, say) is a mistake, never
  // a secret: a public key taken as an HS256 secret would let anyone who has
  // it (everyone) mint tokens.
  if (absl::StrContains(key, "-----BEGIN")) {
    return absl::InvalidArgumentError("key: a PEM key must start the key (nothing before -----BEGIN)");
  }
  if (key.size() < 32) return absl::InvalidArgumentError("key: must be at least 32 bytes");
  return ParsedKey{TokenKeyKind::kHs256Secret, nullptr};
}

std::string Base64Url(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }  // unpadded

// The claims every token carries, as MintToken writes them.
nlohmann::json ClaimsOf(const Principal& p, absl::Duration ttl, const TokenOptions& options) {
  int64_t now = absl::ToUnixSeconds(options.now());
  nlohmann::json claims = {{"sub", p.subject},
                           {"role", std::string(RoleName(p.role))},
                           {"aud", options.audience},
                           {"iat", now},
                           {"exp", now + absl::ToInt64Seconds(ttl)}};
  if (!p.token_id.empty()) claims["jti"] = p.token_id;
  if (!p.venue.empty()) claims["venue"] = p.venue;
  if (!p.learner.empty()) claims["learner"] = p.learner;
  if (!p.courses.empty()) claims["courses"] = p.courses;
  return claims;
}

// Unix seconds of the years 1970-9999: the range of every time claim.
constexpr int64_t kMaxSeconds = 253402300799;

// The string claim `name` into *out: "" when absent; UNAUTHENTICATED naming
// the claim when it is present and not a string. Never throws.
absl::Status StringClaim(const nlohmann::json& claims, const char* name, std::string* out) {
  out->clear();
  auto it = claims.find(name);
  if (it == claims.end()) return absl::OkStatus();
  if (!it->is_string()) return Unauthenticated(absl::StrCat("claim ", name, ": must be a string"));
  *out = it->get<std::string>();
  return absl::OkStatus();
}

// The time claim `name` (integer Unix seconds, years 1970-9999) into *out;
// *present says whether the token has it. UNAUTHENTICATED naming the claim
// when it is present and not such an integer. Never throws.
absl::Status TimeClaim(const nlohmann::json& claims, const char* name, int64_t* out, bool* present) {
  *present = false;
  auto it = claims.find(name);
  if (it == claims.end()) return absl::OkStatus();
  if (!it->is_number_integer()) {
    return Unauthenticated(absl::StrCat("claim ", name, ": must be an integer (Unix seconds)"));
  }
  // Read as unsigned when it is (a value past INT64_MAX must not wrap).
  const bool in_range = it->is_number_unsigned() ? it->get<uint64_t>() <= static_cast<uint64_t>(kMaxSeconds)
                                                 : it->get<int64_t>() >= 0 && it->get<int64_t>() <= kMaxSeconds;
  if (!in_range) return Unauthenticated(absl::StrCat("claim ", name, ": out of range"));
  *out = it->get<int64_t>();
  *present = true;
  return absl::OkStatus();
}

// The members of a JOSE header that this code reads or that would change a
// token's meaning, type-checked before anything else of the header is used:
// "alg" a string, "kid" and "typ" strings when present, no "crit" (no header
// extension is understood here). UNAUTHENTICATED naming the member (without
// the "bearer token: " of the caller's answer). Never throws.
absl::Status CheckHeader(const nlohmann::json& header) {
  if (!header.is_object()) return absl::UnauthenticatedError("header: not a JSON object");
  auto alg = header.find("alg");
  if (alg == header.end()) return absl::UnauthenticatedError("header alg: required");
  if (!alg->is_string()) return absl::UnauthenticatedError("header alg: must be a string");
  for (const char* name : {"kid", "typ"}) {
    auto it = header.find(name);
    if (it != header.end() && !it->is_string()) {
      return absl::UnauthenticatedError(absl::StrCat("header ", name, ": must be a string"));
    }
  }
  if (header.contains("crit")) return absl::UnauthenticatedError("header crit: not supported");
  return absl::OkStatus();
}

// The principal of verified claims: times, audience, subject and role
// checked, every claim read of the type it must have (a claim of another
// type is UNAUTHENTICATED naming it, never taken as absent).
absl::StatusOr<Principal> PrincipalOfClaims(const nlohmann::json& claims, const TokenOptions& options) {
  if (!claims.is_object()) return Unauthenticated("claims are not a JSON object");
  absl::Time now = options.now();
  int64_t exp = 0, nbf = 0, iat = 0;
  bool has_exp = false, has_nbf = false, has_iat = false;
  if (absl::Status s = TimeClaim(claims, "exp", &exp, &has_exp); !s.ok()) return s;
  if (!has_exp) return Unauthenticated("claim exp: required");
  if (absl::FromUnixSeconds(exp) + options.clock_skew < now) return Unauthenticated("expired");
  if (absl::Status s = TimeClaim(claims, "nbf", &nbf, &has_nbf); !s.ok()) return s;
  if (has_nbf && absl::FromUnixSeconds(nbf) - options.clock_skew > now) return Unauthenticated("not valid yet (nbf)");
  if (absl::Status s = TimeClaim(claims, "iat", &iat, &has_iat); !s.ok()) return s;
  if (has_iat && absl::FromUnixSeconds(iat) - options.clock_skew > now) {
    return Unauthenticated("issued in the future (iat)");
  }
  bool audience_ok = false;
  if (auto it = claims.find("aud"); it != claims.end()) {
    if (it->is_string()) {
      audience_ok = it->get<std::string>() == options.audience;
    } else if (it->is_array()) {
      for (const auto& a : *it) {
        if (!a.is_string()) return Unauthenticated("claim aud: must be a string or an array of strings");
        audience_ok |= a.get<std::string>() == options.audience;
      }
    } else {
      return Unauthenticated("claim aud: must be a string or an array of strings");
    }
  }
  if (!audience_ok) return Unauthenticated(absl::StrCat("claim aud: must contain \"", options.audience, "\""));

  Principal p;
  if (absl::Status s = StringClaim(claims, "sub", &p.subject); !s.ok()) return s;
  if (p.subject.empty()) return Unauthenticated("claim sub: missing");
  std::string role_name;
  if (absl::Status s = StringClaim(claims, "role", &role_name); !s.ok()) return s;
  std::optional<Role> role = RoleFromName(role_name);
  if (!role) return Unauthenticated("claim role: missing or unknown");
  p.role = *role;
  if (absl::Status s = StringClaim(claims, "venue", &p.venue); !s.ok()) return s;
  if (p.role == Role::kKiosk && p.venue.empty()) return Unauthenticated("claim venue: required for kiosks");
  if (absl::Status s = StringClaim(claims, "learner", &p.learner); !s.ok()) return s;
  if (auto it = claims.find("courses"); it != claims.end()) {
    if (!it->is_array()) return Unauthenticated("claim courses: must be an array of strings");
    for (const auto& c : *it) {
      if (!c.is_string()) return Unauthenticated("claim courses: must be an array of strings");
      p.courses.push_back(c.get<std::string>());
    }
  }
  if (absl::Status s = StringClaim(claims, "jti", &p.token_id); !s.ok()) return s;
  p.expires_us = exp * 1000000;
  return p;
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, mode_t mode) {
  const std::string tmp = path + ".new";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return absl::UnavailableError(absl::StrCat(tmp, ": cannot be created: ", std::strerror(errno)));
  bool ok = ::fchmod(fd, mode) == 0 && ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
            ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat(path, ": cannot be written: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// An EdDSA token taken apart (RFC 8037): header.payload.signature.
struct EdDsaParts {
  absl::string_view signed_part;  // "header.payload", as signed
  std::string payload;            // decoded JSON text
  std::string signature;          // 64 bytes
  std::string key_id;             // the header's "kid"; empty when absent
};

// INVALID_ARGUMENT when the header does not name EdDSA (another algorithm:
// the caller decides), UNAUTHENTICATED-worthy messages otherwise.
absl::StatusOr<EdDsaParts> SplitEdDsa(absl::string_view token) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return absl::UnauthenticatedError("malformed or bad signature");
  std::string header_text;
  EdDsaParts out;
  if (!absl::WebSafeBase64Unescape(parts[0], &header_text) || !absl::WebSafeBase64Unescape(parts[1], &out.payload) ||
      !absl::WebSafeBase64Unescape(parts[2], &out.signature)) {
    return absl::UnauthenticatedError("malformed or bad signature");
  }
  nlohmann::json header = nlohmann::json::parse(header_text, nullptr, false);
  if (!header.is_object()) return absl::UnauthenticatedError("header: not a JSON object");
  // The algorithm is fixed by configuration, never chosen by the token.
  if (auto alg = header.find("alg"); alg != header.end() && alg->is_string() && *alg != "EdDSA") {
    return absl::InvalidArgumentError("algorithm must be EdDSA");
  }
  if (absl::Status s = CheckHeader(header); !s.ok()) return s;
  if (out.signature.size() != 64) return absl::UnauthenticatedError("malformed or bad signature");
  if (auto it = header.find("kid"); it != header.end()) out.key_id = it->get<std::string>();  // a string (CheckHeader)
  out.signed_part = token.substr(0, parts[0].size() + 1 + parts[1].size());
  return out;
}

bool SignatureHolds(const EdDsaParts& t, EVP_PKEY* key) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  const bool good =
      md != nullptr && EVP_DigestVerifyInit(md, nullptr, nullptr, nullptr, key) == 1 &&
      EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(t.signature.data()), t.signature.size(),
                       reinterpret_cast<const unsigned char*>(t.signed_part.data()), t.signed_part.size()) == 1;
  EVP_MD_CTX_free(md);
  ERR_clear_error();
  return good;
}

// An EdDSA token of `claims`, signed with `key`; `key_id` goes into the
// header when not empty.
absl::StatusOr<std::string> SignEdDsa(const nlohmann::json& claims, EVP_PKEY* key, absl::string_view key_id) {
  nlohmann::json header = {{"alg", "EdDSA"}, {"typ", "JWT"}};
  if (!key_id.empty()) header["kid"] = std::string(key_id);
  const std::string signing_input = absl::StrCat(Base64Url(header.dump()), ".", Base64Url(claims.dump()));
  unsigned char sig[64];
  size_t sig_len = sizeof(sig);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  const bool ok = md != nullptr && EVP_DigestSignInit(md, nullptr, nullptr, nullptr, key) == 1 &&
                  EVP_DigestSign(md, sig, &sig_len, reinterpret_cast<const unsigned char*>(signing_input.data()),
                                 signing_input.size()) == 1;
  EVP_MD_CTX_free(md);
  ERR_clear_error();
  if (!ok || sig_len != sizeof(sig)) return absl::InternalError("Ed25519 signing failed");
  return absl::StrCat(signing_input, ".",
                      Base64Url(absl::string_view(reinterpret_cast<const char*>(sig), sizeof(sig))));
}

}  // namespace

struct TokenVerifier::PublicKey {
  PkeyPtr key;
};

absl::StatusOr<TokenKeyKind> KindOfKey(absl::string_view key) {
  absl::StatusOr<ParsedKey> parsed = ParseKey(key);
  if (!parsed.ok()) return parsed.status();
  return parsed->kind;
}

absl::string_view KeyKindName(TokenKeyKind kind) {
  switch (kind) {
    case TokenKeyKind::kHs256Secret:
      return "HS256 secret";
    case TokenKeyKind::kEd25519Private:
      return "Ed25519 private key";
    case TokenKeyKind::kEd25519Public:
      return "Ed25519 public key";
  }
  return "unknown";
}

absl::Status WriteEd25519KeyPair(const std::string& private_path, const std::string& public_path) {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr) {
    ERR_clear_error();
    return absl::InternalError("Ed25519 key generation failed");
  }
  PkeyPtr key(raw);
  auto pem = [&](bool is_private) -> std::string {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio == nullptr) return "";
    bool ok = is_private ? PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1
                         : PEM_write_bio_PUBKEY(bio, key.get()) == 1;
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out = ok && n > 0 ? std::string(data, static_cast<size_t>(n)) : "";
    BIO_free(bio);
    return out;
  };
  const std::string priv = pem(true), pub = pem(false);
  if (priv.empty() || pub.empty()) return absl::InternalError("Ed25519 key: PEM encoding failed");
  if (absl::Status s = WriteFileAtomically(private_path, priv, 0600); !s.ok()) return s;
  return WriteFileAtomically(public_path, pub, 0644);
}

TokenVerifier::TokenVerifier(TokenOptions options) : options_(std::move(options)) {
  absl::StatusOr<ParsedKey> parsed = ParseKey(options_.key);
  if (!parsed.ok()) {
    kind_ = parsed.status();
    return;
  }
  kind_ = parsed->kind;
  if (parsed->ed25519 != nullptr) ed25519_ = std::make_shared<const PublicKey>(PublicKey{std::move(parsed->ed25519)});
  if (options_.session_key.empty()) return;
  absl::StatusOr<ParsedKey> session = ParseKey(options_.session_key);
  if (!session.ok() || session->ed25519 == nullptr) {
    kind_ = absl::InvalidArgumentError("session key: must be an Ed25519 key");
    return;
  }
  session_ = std::make_shared<const PublicKey>(PublicKey{std::move(session->ed25519)});
}

bool IsKioskSession(const Principal& p) { return p.role == Role::kKiosk && !p.learner.empty(); }

std::optional<Role> RoleFromName(absl::string_view name) {
  for (Role r : AllRoles()) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kLearner:
      return "learner";
    case Role::kKiosk:
      return "kiosk";
    case Role::kTeacher:
      return "teacher";
    case Role::kOperator:
      return "operator";
    case Role::kTrainer:
      return "trainer";
    case Role::kRecommender:
      return "recommender";
    case Role::kLoader:
      return "loader";
  }
  return "unknown";
}

const std::vector<Role>& AllRoles() {
  static const std::vector<Role> kAll = {Role::kLearner, Role::kKiosk,       Role::kTeacher, Role::kOperator,
                                         Role::kTrainer, Role::kRecommender, Role::kLoader};
  return kAll;
}

absl::StatusOr<std::string> LoadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("key file ", path, ": cannot be read"));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string key = std::string(absl::StripAsciiWhitespace(ss.str()));
  absl::StatusOr<TokenKeyKind> kind = KindOfKey(key);
  if (!kind.ok()) return absl::InvalidArgumentError(absl::StrCat("key file ", path, ": ", kind.status().message()));
  if (*kind != TokenKeyKind::kHs256Secret) key += "\n";  // PEM ends with a newline
  return key;
}

absl::StatusOr<Principal> TokenVerifier::Verify(absl::string_view token) const {
  if (token.empty()) return Unauthenticated("missing");
  if (token.size() > 8192) return Unauthenticated("too long");
  if (!kind_.ok()) return Unauthenticated("the service's token key is unusable");
  if (*kind_ != TokenKeyKind::kHs256Secret || session_ != nullptr) {
    absl::StatusOr<EdDsaParts> parts = SplitEdDsa(token);
    if (!parts.ok()) {
      // An HS256 token (the main key is a secret, a session key is set).
      if (*kind_ == TokenKeyKind::kHs256Secret && parts.status().code() == absl::StatusCode::kInvalidArgument) {
        return VerifyHs256(token);
      }
      return Unauthenticated(parts.status().message());
    }
    if (parts->key_id == kKioskSessionKeyId) {
      if (session_ == nullptr) return Unauthenticated("a kiosk-session token, and this service has no session key");
      if (!SignatureHolds(*parts, session_->key.get())) return Unauthenticated("malformed or bad signature");
      nlohmann::json claims = nlohmann::json::parse(parts->payload, nullptr, false);
      absl::StatusOr<Principal> session = PrincipalOfClaims(claims, options_);
      if (!session.ok()) return session.status();
      const Principal& p = *session;
      // The session key signs kiosk sessions and nothing else.
      if (!IsKioskSession(p)) return Unauthenticated("the kiosk-session key signs kiosk sessions only");
      int64_t iat = 0;
      if (auto it = claims.find("iat"); it != claims.end() && it->is_number_integer()) iat = it->get<int64_t>();
      const absl::Time expires = absl::FromUnixMicros(p.expires_us);
      if (iat <= 0 || expires - absl::FromUnixSeconds(iat) > kMaxKioskSessionTtl ||
          expires > options_.now() + kMaxKioskSessionTtl + options_.clock_skew) {
        return Unauthenticated("a kiosk session lasts at most 15 minutes (claims iat, exp)");
      }
      return p;
    }
    if (*kind_ == TokenKeyKind::kHs256Secret) return Unauthenticated("algorithm must be HS256");
    if (!SignatureHolds(*parts, ed25519_->key.get())) return Unauthenticated("malformed or bad signature");
    return PrincipalOfClaims(nlohmann::json::parse(parts->payload, nullptr, false), options_);
  }
  return VerifyHs256(token);
}

absl::StatusOr<Principal> TokenVerifier::VerifyHs256(absl::string_view token) const {
  // The header's members are type-checked here first (CheckHeader), so that
  // one of the wrong type is refused naming it, whatever libjwt makes of it.
  const size_t dot = token.find('.');
  std::string header_text;
  if (dot == absl::string_view::npos || !absl::WebSafeBase64Unescape(token.substr(0, dot), &header_text)) {
    return Unauthenticated("malformed or bad signature");
  }
  if (absl::Status s = CheckHeader(nlohmann::json::parse(header_text, nullptr, false)); !s.ok()) {
    return Unauthenticated(s.message());
  }
  std::string text(token);
  jwt_t* raw = nullptr;
  int rc = jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(options_.key.data()),
                      static_cast<int>(options_.key.size()));
  JwtPtr jwt(raw);
  if (rc != 0 || jwt == nullptr) return Unauthenticated("malformed or bad signature");
  // The algorithm is fixed by configuration, never chosen by the token.
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) return Unauthenticated("algorithm must be HS256");
  char* grants_text = jwt_get_grants_json(jwt.get(), nullptr);
  if (grants_text == nullptr) return Unauthenticated("no claims");
  nlohmann::json claims = nlohmann::json::parse(grants_text, nullptr, false);
  free(grants_text);
  return PrincipalOfClaims(claims, options_);
}

absl::StatusOr<absl::Time> UnverifiedExpiry(absl::string_view token) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  std::string payload;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &payload)) {
    return absl::InvalidArgumentError("token: not a JWT (header.payload.signature)");
  }
  nlohmann::json claims = nlohmann::json::parse(payload, nullptr, false);
  if (!claims.is_object()) return absl::InvalidArgumentError("token: payload is not a JSON object");
  int64_t exp = 0;
  bool has_exp = false;
  if (!TimeClaim(claims, "exp", &exp, &has_exp).ok() || !has_exp) {
    return absl::InvalidArgumentError("token: claim exp: not an integer of Unix seconds");
  }
  return absl::FromUnixSeconds(exp);
}

absl::StatusOr<std::string> MintToken(const Principal& p, absl::Duration ttl, const TokenOptions& options) {
  if (p.subject.empty()) return absl::InvalidArgumentError("subject: must not be empty");
  const nlohmann::json claims = ClaimsOf(p, ttl, options);
  if (IsKioskSession(p) && !options.session_key.empty()) {
    absl::StatusOr<ParsedKey> session = ParseKey(options.session_key);
    if (!session.ok()) return absl::InvalidArgumentError(absl::StrCat("session ", session.status().message()));
    if (session->kind != TokenKeyKind::kEd25519Private) {
      return absl::FailedPreconditionError("session key: must be an Ed25519 private key to sign kiosk sessions");
    }
    if (ttl > kMaxKioskSessionTtl) return absl::InvalidArgumentError("ttl: a kiosk session lasts at most 15 minutes");
    return SignEdDsa(claims, session->ed25519.get(), kKioskSessionKeyId);
  }
  absl::StatusOr<ParsedKey> key = ParseKey(options.key);
  if (!key.ok()) return key.status();
  if (key->kind == TokenKeyKind::kEd25519Public) {
    return absl::FailedPreconditionError("key: a public key verifies tokens but cannot sign them");
  }
  if (key->kind == TokenKeyKind::kEd25519Private) return SignEdDsa(claims, key->ed25519.get(), "");
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return absl::InternalError("jwt_new failed");
  JwtPtr jwt(raw);
  if (jwt_add_grants_json(jwt.get(), claims.dump().c_str()) != 0) return absl::InternalError("jwt claims");
  if (jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(options.key.data()),
                  static_cast<int>(options.key.size())) != 0) {
    return absl::InternalError("jwt_set_alg failed");
  }
  char* out = jwt_encode_str(jwt.get());
  if (out == nullptr) return absl::InternalError("jwt_encode_str failed");
  std::string token(out);
  free(out);
  return token;
}

}  // namespace lifelong::auth
