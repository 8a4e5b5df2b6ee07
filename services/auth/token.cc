#include "services/auth/token.h"

#include <jwt.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace lifelong::auth {
namespace {

struct JwtFree {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("bearer token: ", why));
}

}  // namespace

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
  std::string key = std::string(absl::StripTrailingAsciiWhitespace(ss.str()));
  if (key.size() < 32) {
    return absl::InvalidArgumentError(absl::StrCat("key file ", path, ": the key must be at least 32 bytes"));
  }
  return key;
}

absl::StatusOr<Principal> TokenVerifier::Verify(absl::string_view token) const {
  if (token.empty()) return Unauthenticated("missing");
  if (token.size() > 8192) return Unauthenticated("too long");
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
  if (!claims.is_object()) return Unauthenticated("claims are not a JSON object");

  auto str = [&](const char* k) -> std::string {
    auto it = claims.find(k);
    return it != claims.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [&](const char* k, int64_t* out) -> bool {
    auto it = claims.find(k);
    if (it == claims.end() || !it->is_number_integer()) return false;
    *out = it->get<int64_t>();
    return true;
  };

  absl::Time now = options_.now();
  int64_t exp = 0, nbf = 0, iat = 0;
  // Times are Unix seconds within years 1970-9999.
  constexpr int64_t kMaxSeconds = 253402300799;
  auto in_range = [](int64_t t) { return t >= 0 && t <= kMaxSeconds; };
  if (!num("exp", &exp)) return Unauthenticated("claim exp: missing or not an integer");
  if (!in_range(exp)) return Unauthenticated("claim exp: out of range");
  if (absl::FromUnixSeconds(exp) + options_.clock_skew < now) return Unauthenticated("expired");
  if (num("nbf", &nbf) && (!in_range(nbf) || absl::FromUnixSeconds(nbf) - options_.clock_skew > now)) {
    return Unauthenticated("not valid yet (nbf)");
  }
  if (num("iat", &iat) && (!in_range(iat) || absl::FromUnixSeconds(iat) - options_.clock_skew > now)) {
    return Unauthenticated("issued in the future (iat)");
  }
  bool audience_ok = false;
  if (auto it = claims.find("aud"); it != claims.end()) {
    if (it->is_string()) audience_ok = it->get<std::string>() == options_.audience;
    if (it->is_array()) {
      for (const auto& a : *it) audience_ok |= a.is_string() && a.get<std::string>() == options_.audience;
    }
  }
  if (!audience_ok) return Unauthenticated(absl::StrCat("claim aud: must contain \"", options_.audience, "\""));

  Principal p;
  p.subject = str("sub");
  if (p.subject.empty()) return Unauthenticated("claim sub: missing");
  std::optional<Role> role = RoleFromName(str("role"));
  if (!role) return Unauthenticated("claim role: missing or unknown");
  p.role = *role;
  p.venue = str("venue");
  if (p.role == Role::kKiosk && p.venue.empty()) return Unauthenticated("claim venue: required for kiosks");
  p.learner = str("learner");
  if (auto it = claims.find("courses"); it != claims.end() && it->is_array()) {
    for (const auto& c : *it) {
      if (c.is_string()) p.courses.push_back(c.get<std::string>());
    }
  }
  p.token_id = str("jti");
  p.expires_us = exp * 1000000;
  return p;
}

absl::StatusOr<std::string> MintToken(const Principal& p, absl::Duration ttl, const TokenOptions& options) {
  if (p.subject.empty()) return absl::InvalidArgumentError("subject: must not be empty");
  if (options.key.size() < 32) return absl::InvalidArgumentError("key: must be at least 32 bytes");
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return absl::InternalError("jwt_new failed");
  JwtPtr jwt(raw);
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
