// Parsing and validation of xAPI statements (xAPI 2.0 / IEEE 9274.1.1,
// accepting 1.0.3 statements). Learner keys, IRIs, timestamps and durations
// are the domain package's (services/domain/: learner_key.h, iri.h,
// xapi_time.h); the using-declarations below keep their names in this
// namespace for the record service's code.
#ifndef LIFELONG_SERVICES_RECORDS_STATEMENT_H_
#define LIFELONG_SERVICES_RECORDS_STATEMENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/domain/iri.h"
#include "services/domain/learner_key.h"
#include "services/domain/xapi_time.h"
#include "services/records/key_codec.h"

namespace lifelong::records {

// Largest accepted statement, in bytes of JSON.
inline constexpr size_t kMaxStatementBytes = 1 << 20;

// A validated statement, ready to be stored.
// Whom a voiding statement may void, when its issuer's right is limited (set
// by the front end from the caller's grant: CheckVoidingWrite). The store
// holds the target it finds at commit time to it (CheckVoidRight), so a
// target committed between the front end's check and the voiding write is
// voided only when the issuer may void it. Replicated with the statement.
struct VoidRight {
  std::string holder;  // who holds the right, for messages: "learner u1"
  // false: every learner of the target must be `learner` (their own alone);
  // true: the target's course must be one of `courses` (a teacher's).
  bool by_courses = false;
  std::string learner;
  std::vector<std::string> courses;
};

// OK when `right` allows voiding a stored statement filed under
// `target_learners` about `target_activity`; PERMISSION_DENIED naming
// `field` otherwise.
absl::Status CheckVoidRight(const VoidRight& right, const std::vector<std::string>& target_learners,
                            absl::string_view target_activity, absl::string_view field);

struct ParsedStatement {
  Uuid id{};
  bool id_assigned = false;  // no id was sent; a random UUID was assigned
  // The statement JSON exactly as sent, with `id` and `version` spliced in
  // when absent. (Only when the client sent `stored` or `authority`, which the
  // store owns, or a non-lowercase id, is the JSON re-serialised.) The store
  // adds `stored`, `authority` and, when absent, `timestamp` before the
  // closing brace at `body_end`.
  std::string text;
  size_t body_end = 0;
  std::vector<std::string> learners;  // actor key first, then group members
  std::string verb;
  std::string activity;  // object.id when the object is an Activity
  std::optional<Uuid> registration;
  std::optional<int64_t> timestamp_us;  // absent: the store uses the stored time
  bool is_voiding = false;
  Uuid void_target{};  // when is_voiding
  // When is_voiding and the issuer may not void every statement.
  std::optional<VoidRight> void_right;
  // When is_voiding and the issuer may void any statement (set by the front
  // end, CheckVoidingWrite; replicated with the statement): it also voids
  // its target when the target is stored after it
  // (RecordFlag::kVoidsInAdvance). False by default: a voiding statement
  // nobody checked voids only a target already stored.
  bool voids_in_advance = false;
  // The target of a StatementRef object (voiding or not).
  std::optional<Uuid> ref_target;
  // The `authority` the store records: who issued the statement (an xAPI
  // Agent as compact JSON, see issuer.h), set by the front end from the
  // authenticated caller. Empty: the store's default authority.
  std::string authority_json;
  // Whether that issuer may award credits (RecordFlag::kVerifiedIssuer).
  bool verified_issuer = false;
  // The learners the statement names outside its actor (MentionedLearners):
  // indexed so that their erasure finds and scrubs this statement.
  std::vector<std::string> mentioned;
};

// Parses and validates one statement. INVALID_ARGUMENT with a message that
// names the offending field (e.g. "statement.verb.id: not an absolute IRI")
// for malformed JSON, a statement over kMaxStatementBytes, or any violation
// of the xAPI statement rules.
absl::StatusOr<ParsedStatement> ParseStatement(absl::string_view json_text);

// The learner key of an xAPI Agent or identified Group given as JSON text
// (e.g. the `agent` query parameter of the xAPI statements resource).
// INVALID_ARGUMENT naming `field` when it is not a valid Agent/Group or has no
// identifier.
absl::StatusOr<std::string> LearnerKeyFromAgentJson(absl::string_view json, absl::string_view field);

// The domain package's learner keys, IRIs and times, under their old names.
using domain::CanonicalLearnerKey;
using domain::FormatTimestampMicros;
using domain::IsAbsoluteIri;
using domain::IsLanguageTag;
using domain::ParseIsoDurationSeconds;
using domain::ParseTimestampMicros;

// The statement JSON `statement_json` with `learner` (a canonical learner
// key) taken out of its actor: group members whose key is `learner` are
// removed, and so is the group's own identifier when it is `learner`'s.
// Used when a learner is erased from a statement other learners share.
// INVALID_ARGUMENT when the JSON is malformed or has no actor object; the
// result is unchanged JSON when `learner` is not in the actor.
absl::StatusOr<std::string> RemoveLearnerFromActor(absl::string_view statement_json, absl::string_view learner);

// Mentions: the agents a statement names outside its own actor and its
// authority, in the positions xAPI gives agents: the object (an Agent or
// Group, with its members), context.instructor, context.team,
// context.contextAgents[].agent and context.contextGroups[].group, and a
// SubStatement's actor, object and context. Free text and extensions are
// not read. An erasure replaces the erased learner there by this
// placeholder account (ScrubLearnerMentions), which is never a mention.
inline constexpr char kErasedAgentHomePage[] = "https://erased.invalid";
inline constexpr char kErasedAgentName[] = "erased";

// The canonical learner keys mentioned by `statement_json` (above), once
// each, in order of appearance. INVALID_ARGUMENT when it is not JSON.
absl::StatusOr<std::vector<std::string>> MentionedLearners(absl::string_view statement_json);

// Whether the object of `statement_json` is an Agent or Group that names
// `learner` (a canonical learner key): the Agent's or Group's identifier or
// a member's. A SubStatement object, and mentions elsewhere (instructor,
// team, context agents), do not count. False when the JSON is malformed.
bool ObjectNamesLearner(absl::string_view statement_json, absl::string_view learner);

// `statement_json` with every mention of `learner` (a canonical learner key)
// replaced by the placeholder: identifier and name go, objectType and the
// other members stay. The actor is left alone (RemoveLearnerFromActor).
// Unchanged JSON when nothing names `learner`; INVALID_ARGUMENT when the
// JSON is malformed.
absl::StatusOr<std::string> ScrubLearnerMentions(absl::string_view statement_json, absl::string_view learner);

// Whether two statements have the same content for idempotent writes: equal
// JSON after removing `stored`, `authority` and `version` (and `timestamp`
// when `drop_timestamp`), member order ignored. False if either is not JSON.
bool SameContent(absl::string_view stored_json, absl::string_view new_json, bool drop_timestamp);

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_STATEMENT_H_
