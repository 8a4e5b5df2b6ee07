// The role-to-permission table: the one place that says which role may call
// which gRPC method or xAPI resource, and over which records. Default deny: a
// method or resource not listed, or a role not listed for it, is refused.
//
// The table itself (with the reasons) is in permissions.cc and rendered in
// docs/security.md.
#ifndef LIFELONG_SERVICES_AUTH_PERMISSIONS_H_
#define LIFELONG_SERVICES_AUTH_PERMISSIONS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "services/auth/principal.h"

namespace lifelong::auth {

// Which records a granted call may touch; the handler checks the request
// against it (auth::Check* in authorizer.h).
enum class Scope {
  kDenied,        // not granted
  kAny,           // every learner's records
  kSelf,          // the caller's own records (learner == principal.subject)
  kVenue,         // kiosks: attendance/registration statements at their venue
  kBoundLearner,  // kiosk sessions: the learner who identified at the kiosk
  kCourses,       // teachers: statements about the courses they run
  kNoRecords,     // the call touches no learner's records (catalog, models, health)
};

absl::string_view ScopeName(Scope scope);

// The scope `role` has on `operation`: a full gRPC method name
// ("/lifelong.v1.LearningRecordService/ListStatements") or an xAPI resource
// ("xapi:GET /statements"). kDenied when not granted.
Scope GrantOf(absl::string_view operation, Role role);

// Every operation in the table, in table order, with its grants.
struct TableRow {
  std::string operation;
  std::vector<std::pair<Role, Scope>> grants;
  std::string why;
};
const std::vector<TableRow>& PermissionTable();

}  // namespace lifelong::auth

#endif  // LIFELONG_SERVICES_AUTH_PERMISSIONS_H_
