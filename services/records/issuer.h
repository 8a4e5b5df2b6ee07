// The issuer of a stored statement: who asserted it, recorded by the record
// service from the authenticated caller (never from the statement a client
// sent, whose own `authority` is dropped) as the statement's xAPI
// `authority`, an account Agent:
//
//   {"objectType":"Agent",
//    "account":{"homePage":"https://id.dongcheng.gov.cn/roles/<role>",
//               "name":"<subject>"}}
//
// <role> is an auth role name ("learner", "teacher", "loader", ...) and
// <subject> the principal's subject ("u000001", "teacher-li"). Statements
// stored without an issuer carry the store's default authority (the account
// "lifelong-records" of the district identity provider): their issuer is
// unknown (role "").
//
// The credit rule (docs/records.md, "Credits and issuers"): a completion or
// pass earns credits and hours only when its issuer is entitled to award
// them, see IssuerMayAwardCredits.
#ifndef LIFELONG_SERVICES_RECORDS_ISSUER_H_
#define LIFELONG_SERVICES_RECORDS_ISSUER_H_

#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"

namespace lifelong::records {

struct Issuer {
  std::string role;     // "" when unknown (no or a foreign authority)
  std::string subject;  // the account name; "" when there is none

  // "<role>:<subject>", or the subject alone when the role is unknown.
  std::string Label() const;
};

// The authority JSON (compact, see above) naming `role` and `subject`.
std::string IssuerAuthorityJson(absl::string_view role, absl::string_view subject);

// The issuer recorded in a stored statement (its `authority`).
Issuer IssuerOfStatement(const nlohmann::json& statement);

// Whether statements by an issuer of `role` earn credits and hours:
// "operator" and "loader" (district systems and the providing institutions'
// feeds, trusted for every course) and "teacher" (a teacher can only record
// statements about courses they run: CheckStatementWrite). Learners
// (self-reported), kiosks (attendance only) and unknown issuers do not.
bool IssuerMayAwardCredits(absl::string_view role);

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_ISSUER_H_
