// A learner's transcript (the credit-bank view) computed from their stored
// statements: one entry per course completed or passed, with hours, credits,
// mode (online/offline) and school district (学区).
//
// Where each figure comes from, in order of preference:
//   credits  context.extensions[vocab::kExtCredits], result.extensions[same]
//   hours    context.extensions[vocab::kExtHours], else result.duration
//   mode     context.extensions[vocab::kExtMode]; else context.platform
//            ("kiosk" -> offline, anything else -> online)
//   xuequ    context.extensions[vocab::kExtXuequ]
//   title    object.definition.name["zh-CN"], else any language, else the IRI
// Voided statements are ignored.
//
// The credit rule (docs/records.md, "Credits and issuers"): each statement's
// issuer is the authority the record service recorded from the caller
// (issuer.h). Hours and credits count only from statements whose issuer may
// award them (IssuerMayAwardCredits: an operator, a loader, the course's
// teacher); such statements make an entry verified. A course with at least
// one verified completion or pass is built from those alone; a course with
// only self-reported (or unknown-issuer) ones still gets an entry, with
// verified false, hours and credits 0, and the figures it claimed in
// claimed_hours / claimed_credits.
//
// Within one course and one kind (verified or not): the first completion or
// pass gives the date, statement id and issuer; "passed" wins over
// "completed" as the outcome; the largest hours/credits seen count.
#ifndef LIFELONG_SERVICES_RECORDS_TRANSCRIPT_H_
#define LIFELONG_SERVICES_RECORDS_TRANSCRIPT_H_

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "services/records/issuer.h"
#include "services/records/record_store.h"

namespace lifelong::records {

struct TranscriptLine {
  std::string activity;
  std::string title;
  std::string outcome;  // "completed" | "passed"
  int64_t achieved_us = 0;
  double hours = 0;
  double credits = 0;
  std::string mode;  // "online" | "offline"
  std::string xuequ;
  std::string statement_id;
  std::string issuer;        // Issuer::Label() of statement_id's issuer
  bool verified = false;     // hours and credits count (see above)
  double claimed_hours = 0;  // as the statements claimed, whoever issued them
  double claimed_credits = 0;
};

struct TranscriptTotals {
  int courses = 0;  // every entry, verified or not
  double hours = 0;
  double credits = 0;
  int unverified_courses = 0;
};

struct TranscriptData {
  std::vector<TranscriptLine> lines;  // oldest achievement first
  TranscriptTotals total;
  std::map<std::string, TranscriptTotals> by_mode;
  std::map<std::string, TranscriptTotals> by_xuequ;  // "" when unknown
};

// Builds a transcript one statement at a time (any order), keeping only one
// line per course: a learner's transcript is built from a scan of all their
// statements without holding them (each may be up to kMaxStatementBytes).
class TranscriptBuilder {
 public:
  void Add(const StoredStatement& statement);
  TranscriptData Finish() &&;

 private:
  // Per course, the verified statements and the others, each merged apart.
  std::unordered_map<std::string, TranscriptLine> verified_, unverified_;
};

// Builds the transcript from `statements` (any order).
TranscriptData BuildTranscript(const std::vector<StoredStatement>& statements);

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_TRANSCRIPT_H_
