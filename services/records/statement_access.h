// Record-level access checks shared by the gRPC and xAPI front ends: given a
// granted call (auth::AccessGrant), may it write this statement or read this
// stored one? PERMISSION_DENIED naming the field otherwise.
#ifndef LIFELONG_SERVICES_RECORDS_STATEMENT_ACCESS_H_
#define LIFELONG_SERVICES_RECORDS_STATEMENT_ACCESS_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/auth/authorizer.h"
#include "services/records/key_codec.h"
#include "services/records/record_store.h"
#include "services/records/statement.h"

namespace lifelong::records {

// learners: their own only: every learner the statement would be filed
// under (the actor and, for a Group actor, each member: p.learners) must be
// the caller, so a learner cannot write into another learner's records
// through a Group; kiosks: "attended" or "registered" with the context venue
// extension equal to their venue; teachers: a course they run.
absl::Status CheckStatementWrite(const auth::AccessGrant& g, const ParsedStatement& p, absl::string_view field);

// A voiding statement changes its target's records too: the caller must be
// allowed to write for every learner of the stored target (learners: a
// target filed under them alone; teachers: a target about a course they
// run; kAny: any). OK when `p` is not voiding or its target is not stored
// (it then voids nothing). PERMISSION_DENIED naming `target_field` (the
// request field holding the target id) otherwise; the store's error when it
// cannot be read. Unless the caller may void anything, sets p->void_right,
// with which the store checks the target again at commit time (a target
// committed after this check is voided only if the caller may void it).
absl::Status CheckVoidingWrite(const auth::AccessGrant& g, ParsedStatement* p, const RecordStore& store,
                               absl::string_view target_field);

// Records the caller as the statement's issuer (p->authority_json, see
// issuer.h): every front end calls it on each statement it stores after
// CheckStatementWrite, so the transcript can tell verified credits from
// self-reported ones. With authentication off the gRPC caller is the
// operator "anonymous" (auth::Authorizer), an entitled issuer.
void SetIssuer(const auth::AccessGrant& g, ParsedStatement* p);

// learners: statements they are the actor (or a group member) of; teachers:
// statements about a course they run.
absl::Status CheckStatementRead(const auth::AccessGrant& g, const StatementRecord& r, absl::string_view field);

// Drops from `page` every statement CheckStatementRead refuses `g`. A query's
// filters select statements by more than the learners they are filed under:
// xAPI related_agents / related_activities match the identifier anywhere in
// a statement's text (an instructor, a context activity, or, for an account
// name, any longer name containing it), and the StatementRef filter
// condition adds statements that refer to a matching one, whoever made them.
// A caller who may read only some records sees only those; the page keeps
// its token (the next page continues after the last statement scanned), so
// a page may come back shorter than asked. No-op for scope kAny.
void KeepReadable(const auth::AccessGrant& g, StatementPage* page);

// The statement's context venue extension (vocab::kExtVenue), or "".
std::string StatementVenue(const ParsedStatement& p);

// Reads of learner data on a node whose store may be stale: a replicated
// node that stopped applying the log, is cut off from it or is catching up
// (Replicator::CheckServingReads) may still hold records erased or voided
// since its position. The gate says whether the store is current (OK) or
// why not (UNAVAILABLE); unset: always current (a single node).
using ReadGate = std::function<absl::Status()>;
// The gRPC metadata key / HTTP header with which an operator asks for such
// a read anyway (value "allow"): the recovery steps of docs/replication.md
// export the most advanced node's statements, however stale.
inline constexpr char kStaleReadsHeader[] = "x-lifelong-stale-reads";
// OK when `gate` is unset or passes, or when `who` is an operator and
// `asked` (the kStaleReadsHeader value of the request) is "allow"; the
// gate's UNAVAILABLE otherwise.
absl::Status CheckReadGate(const ReadGate& gate, const auth::Principal& who, absl::string_view asked);

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_STATEMENT_ACCESS_H_
