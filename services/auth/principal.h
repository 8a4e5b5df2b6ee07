// Who is calling: the principal a verified credential names, and its role.
#ifndef LIFELONG_SERVICES_AUTH_PRINCIPAL_H_
#define LIFELONG_SERVICES_AUTH_PRINCIPAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace lifelong::auth {

// The roles of the network. What each may do is in permissions.cc (the one
// place the role-to-permission table lives).
enum class Role {
  kLearner,      // a resident on the app: their own records only
  kKiosk,        // a kiosk at a community centre, bound to its venue
  kTeacher,      // a teacher or staff member: the records of their courses
  kOperator,     // a district operator: catalog, models, erasure, audit
  kTrainer,      // the model trainer: the export stream, catalog reads
  kRecommender,  // the recommendation service: learner history, catalog reads
  kLoader,       // bulk import (demo loader, xAPI feeds of other systems)
};

// "learner", "kiosk", ... ; nullopt for an unknown name.
std::optional<Role> RoleFromName(absl::string_view name);
absl::string_view RoleName(Role role);
// Every role, for tests and docs.
const std::vector<Role>& AllRoles();

struct Principal {
  std::string subject;  // learner key for learners ("u000123"), else an id ("kiosk-hepingli-01")
  Role role = Role::kLearner;
  std::string venue;                 // kiosks: the venue they are bound to
  std::string learner;               // kiosk sessions: the learner who identified at the kiosk
  std::vector<std::string> courses;  // teachers: ids of the courses they run
  std::string token_id;              // the credential's id (jti), for revocation and audit
  // When the credential stops being accepted, Unix microseconds: a token's
  // `exp`; an ID token's `exp` or the end of its maximum age, whichever is
  // first (oidc.h). 0: no expiry (e.g. xAPI Basic credentials).
  int64_t expires_us = 0;
};

}  // namespace lifelong::auth

#endif  // LIFELONG_SERVICES_AUTH_PRINCIPAL_H_
