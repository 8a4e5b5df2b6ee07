#include "services/auth/authorizer.h"

#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace lifelong::auth {

AccessGrant::~AccessGrant() {
  if (release_) release_();
}

Authorizer::Authorizer(AuthOptions options) : options_(std::move(options)), verifier_(options_.token) {}

absl::StatusOr<Principal> Authorizer::Authenticate(absl::string_view authorization) const {
  if (authorization.empty())
    return absl::UnauthenticatedError("missing credential: send \"authorization: Bearer <token>\"");
  absl::string_view token = authorization;
  if (!absl::ConsumePrefix(&token, "Bearer ") && !absl::ConsumePrefix(&token, "bearer ")) {
    return absl::UnauthenticatedError("authorization: must be \"Bearer <token>\"");
  }
  absl::StatusOr<Principal> p = VerifyToken(token);
  if (!p.ok()) return p.status();
  if (IsRevoked(*p)) return absl::UnauthenticatedError("bearer token: revoked");
  return p;
}

absl::StatusOr<Principal> Authorizer::VerifyToken(absl::string_view token) const {
  const int capacity = options_.verified_token_cache;
  if (capacity > 0) {
    const int64_t now_us = absl::ToUnixMicros(options_.token.now());
    absl::MutexLock lock(&token_cache_mu_);
    auto it = token_cache_.find(token);
    if (it != token_cache_.end()) {
      if (it->second.expires_us != 0 && now_us < it->second.expires_us) {
        ++token_cache_hits_;
        return it->second;
      }
      token_cache_.erase(it);  // expired: verified afresh below (and refused)
    }
  }
  absl::StatusOr<Principal> p = VerifyUncached(token);
  // Only tokens with an expiry are remembered (every token the services
  // accept has one; Verify refuses a token without `exp`), until the
  // principal's expires_us: `exp`, or for an ID token the earlier of `exp`
  // and the end of its maximum age (oidc.h).
  if (capacity > 0 && p.ok() && p->expires_us != 0) {
    absl::MutexLock lock(&token_cache_mu_);
    if (static_cast<int>(token_cache_.size()) >= capacity) token_cache_.clear();
    token_cache_.emplace(std::string(token), *p);
  }
  return p;
}

absl::StatusOr<Principal> Authorizer::VerifyUncached(absl::string_view token) const {
  // The verifiers never throw (every member of a token is type-checked before
  // it is read). Should a parser throw all the same, the token is refused
  // here: an exception escaping into a handler skips its bookkeeping (the
  // audit row of the refusal, the per-address limit, a write slot given
  // back) and gRPC answers it with a status of its own.
  try {
    return options_.oidc != nullptr && OidcVerifier::IsRs256(token) ? options_.oidc->Verify(token)
                                                                    : verifier_.Verify(token);
  } catch (const nlohmann::json::exception& e) {
    return absl::UnauthenticatedError(absl::StrCat("bearer token: malformed (", e.id, ")"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("bearer token: verification failed: ", e.what()));
  }
}

int64_t Authorizer::verified_token_cache_hits() const {
  absl::MutexLock lock(&token_cache_mu_);
  return token_cache_hits_;
}

absl::Status Authorizer::ReadRevocationFile() const {
  const std::string& path = options_.revocation_file;
  absl::Status error;
  std::map<std::string, bool> revoked;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    const int err = errno;
    error = err == ENOENT || err == ENOTDIR
                ? absl::NotFoundError(absl::StrCat("revocation file \"", path, "\": ", std::strerror(err)))
                : absl::FailedPreconditionError(absl::StrCat("revocation file \"", path, "\": ", std::strerror(err)));
  } else {
    std::ifstream in(path);
    if (!in) {
      error = absl::FailedPreconditionError(
          absl::StrCat("revocation file \"", path, "\": cannot be read: ", std::strerror(errno)));
    } else {
      std::string line;
      while (std::getline(in, line)) {
        absl::string_view l = absl::StripAsciiWhitespace(line);
        if (l.empty() || l[0] == '#') continue;
        revoked[std::string(l)] = true;
      }
      if (in.bad()) {
        error = absl::FailedPreconditionError(absl::StrCat("revocation file \"", path, "\": read error"));
      }
    }
  }
  if (!error.ok()) {
    // Fail closed: keep the last list; retry at the next check.
    ++revocation_errors_;
    if (options_.on_revocation_read) options_.on_revocation_read(error, !revocation_failing_, revoked_.size());
    revocation_failing_ = true;
    revocation_mtime_ns_ = -1;  // re-read once the file is back, whatever its mtime
    return error;
  }
  revocation_mtime_ns_ = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  revoked_ = std::move(revoked);
  if (options_.on_revocation_read) options_.on_revocation_read(absl::OkStatus(), revocation_failing_, revoked_.size());
  revocation_failing_ = false;
  return absl::OkStatus();
}

absl::Status Authorizer::LoadRevocations() const {
  if (options_.revocation_file.empty()) return absl::OkStatus();
  absl::MutexLock lock(&revocation_mu_);
  revocation_checked_ = absl::Now();
  return ReadRevocationFile();
}

int64_t Authorizer::revocation_load_errors() const {
  absl::MutexLock lock(&revocation_mu_);
  return revocation_errors_;
}

void Authorizer::ReloadRevocationsIfChanged() const {
  if (options_.revocation_file.empty()) return;
  absl::MutexLock lock(&revocation_mu_);
  absl::Time now = absl::Now();
  if (now - revocation_checked_ < absl::Seconds(1)) return;
  revocation_checked_ = now;
  struct stat st {};
  if (stat(options_.revocation_file.c_str(), &st) == 0) {
    const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (mtime == revocation_mtime_ns_) return;
  }
  (void)ReadRevocationFile();  // on error: counted, logged, last list kept
}

bool Authorizer::IsRevoked(const Principal& p) const {
  ReloadRevocationsIfChanged();
  absl::MutexLock lock(&revocation_mu_);
  if (revoked_.count(absl::StrCat("sub:", p.subject))) return true;
  // A kiosk session acts for its learner: revoking the learner ends it too.
  if (!p.learner.empty() && revoked_.count(absl::StrCat("sub:", p.learner))) return true;
  return !p.token_id.empty() && revoked_.count(absl::StrCat("jti:", p.token_id));
}

absl::StatusOr<AccessGrant> Authorizer::Authorize(absl::string_view authorization, absl::string_view operation) {
  if (!options_.enabled) {
    Principal anyone;
    anyone.subject = "anonymous";
    anyone.role = Role::kOperator;
    return AccessGrant(std::move(anyone), Scope::kAny, std::string(operation), nullptr);
  }
  absl::StatusOr<Principal> p = Authenticate(authorization);
  if (!p.ok()) return p.status();
  return AuthorizePrincipal(*p, operation);
}

namespace {

absl::Status RoleNotGranted(Role role, absl::string_view operation) {
  return absl::PermissionDeniedError(absl::StrCat("role ", RoleName(role), " may not call ", operation));
}

}  // namespace

absl::Status Authorizer::CheckRoleGranted(const Principal& principal, absl::string_view operation) const {
  if (!options_.enabled || GrantOf(operation, principal.role) != Scope::kDenied) return absl::OkStatus();
  return RoleNotGranted(principal.role, operation);
}

absl::StatusOr<AccessGrant> Authorizer::AuthorizePrincipal(const Principal& principal, absl::string_view operation) {
  Scope scope = options_.enabled ? GrantOf(operation, principal.role) : Scope::kAny;
  if (scope == Scope::kDenied) return RoleNotGranted(principal.role, operation);
  if (!options_.enabled) return AccessGrant(principal, scope, std::string(operation), nullptr);
  // Internal services (the recommender calls records once per recommendation)
  // are trusted to pace themselves; the limits protect against end users.
  if (principal.role == Role::kRecommender || principal.role == Role::kTrainer || principal.role == Role::kLoader) {
    return AccessGrant(principal, scope, std::string(operation), nullptr);
  }
  // Per-principal token bucket and in-flight limit: one abusive client
  // exhausts its own budget, not the others'.
  std::string key = absl::StrCat(RoleName(principal.role), ":", principal.subject);
  {
    absl::MutexLock lock(limit_mu_.get());
    Bucket& b = (*buckets_)[key];
    absl::Time now = absl::Now();
    if (b.refilled == absl::Time()) {
      b.tokens = options_.limits.burst;
      b.refilled = now;
    }
    b.tokens = std::min(options_.limits.burst,
                        b.tokens + absl::ToDoubleSeconds(now - b.refilled) * options_.limits.requests_per_second);
    b.refilled = now;
    if (b.tokens < 1) {
      return absl::ResourceExhaustedError(
          absl::StrCat("rate limit: ", options_.limits.requests_per_second, " requests/s for ", key));
    }
    if (b.in_flight >= options_.limits.max_in_flight) {
      return absl::ResourceExhaustedError(
          absl::StrCat("concurrency limit: ", options_.limits.max_in_flight, " calls in flight for ", key));
    }
    b.tokens -= 1;
    ++b.in_flight;
  }
  std::shared_ptr<absl::Mutex> mu = limit_mu_;
  std::shared_ptr<std::map<std::string, Bucket>> buckets = buckets_;
  return AccessGrant(principal, scope, std::string(operation), [mu, buckets, key] {
    absl::MutexLock lock(mu.get());
    --(*buckets)[key].in_flight;
  });
}

absl::Status CheckLearner(const AccessGrant& g, absl::string_view learner, absl::string_view field) {
  const Principal& p = g.principal();
  switch (g.scope()) {
    case Scope::kAny:
      return absl::OkStatus();
    case Scope::kSelf:
      if (learner == p.subject) return absl::OkStatus();
      break;
    case Scope::kBoundLearner:
      if (!p.learner.empty() && learner == p.learner) return absl::OkStatus();
      break;
    default:
      break;
  }
  return absl::PermissionDeniedError(absl::StrCat(field, ": ", RoleName(p.role), " ", p.subject,
                                                  " may not access the records of learner \"", learner, "\""));
}

absl::Status CheckCourse(const AccessGrant& g, absl::string_view course_id, absl::string_view field) {
  const Principal& p = g.principal();
  if (g.scope() == Scope::kAny) return absl::OkStatus();
  if (g.scope() == Scope::kCourses && !course_id.empty() &&
      std::find(p.courses.begin(), p.courses.end(), course_id) != p.courses.end()) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat(field, ": ", RoleName(p.role), " ", p.subject, " does not run course \"", course_id, "\""));
}

}  // namespace lifelong::auth
