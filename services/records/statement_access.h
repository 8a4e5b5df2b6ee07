// Record-level access checks shared by the gRPC and xAPI front ends: given a
// granted call (auth::AccessGrant), may it write this statement or read this
// stored one? PERMISSION_DENIED naming the field otherwise.
#ifndef LIFELONG_SERVICES_RECORDS_STATEMENT_ACCESS_H_
#define LIFELONG_SERVICES_RECORDS_STATEMENT_ACCESS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/auth/authorizer.h"
#include "services/records/key_codec.h"
#include "services/records/statement.h"

namespace lifelong::records {

// learners: their own (actor); kiosks: "attended" or "registered" with the
// context venue extension equal to their venue; teachers: a course they run.
absl::Status CheckStatementWrite(const auth::AccessGrant& g, const ParsedStatement& p, absl::string_view field);

// learners: statements they are the actor (or a group member) of; teachers:
// statements about a course they run.
absl::Status CheckStatementRead(const auth::AccessGrant& g, const StatementRecord& r, absl::string_view field);

// The statement's context venue extension (vocab::kExtVenue), or "".
std::string StatementVenue(const ParsedStatement& p);

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_STATEMENT_ACCESS_H_
