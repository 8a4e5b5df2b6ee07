// Builds xAPI statements of the district's vocabulary (services/common/
// vocabulary.h) from a few fields: what `lifelong record` sends and what
// `lifelong import` makes of interaction lines. No I/O; thread-safe.
#ifndef LIFELONG_SERVICES_CLI_STATEMENT_BUILDER_H_
#define LIFELONG_SERVICES_CLI_STATEMENT_BUILDER_H_

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lifelong::cli {

struct StatementFields {
  std::string id;                    // empty: StableUuid of the other fields (see below)
  std::string learner;               // learner key (records.proto): "u123", "mailto:...", ...
  std::string verb;                  // short name ("completed") or a verb IRI
  std::string course;                // course id ("c00001") or a full activity IRI
  std::string title;                 // activity name (zh-CN), optional
  std::string timestamp;             // RFC 3339, optional
  std::string mode;                  // "online" | "offline" | "blended", optional
  std::string xuequ, jiedao, venue;  // optional
  std::string platform;              // "kiosk" | "app" | ..., optional
  std::string registration;          // UUID, optional
  std::optional<double> credits, hours;
  std::optional<double> score;  // raw score 1..5 for "rated", optional
};

// Maps a short verb name (registered, attended, completed, passed, failed,
// experienced, rated, bookmarked) to its IRI; passes an IRI through.
// INVALID_ARGUMENT naming `verb` for anything else.
absl::StatusOr<std::string> VerbIri(absl::string_view verb);

// The short name of a district verb IRI ("completed"), or the IRI itself.
std::string VerbShortName(absl::string_view iri);

// The xAPI actor object of a learner key. INVALID_ARGUMENT naming `learner`
// for an empty or malformed key.
absl::StatusOr<nlohmann::ordered_json> ActorFromLearnerKey(absl::string_view key);

// The offset of the first byte of `text` that does not begin a well-formed
// UTF-8 sequence (overlong forms, surrogates and code points above U+10FFFF
// are not well-formed), or -1 when the whole text is valid UTF-8: the offset
// utf8::FirstInvalidByte gives (services/common/utf8.h), kept here for the
// import reader and CheckUtf8.
int64_t FirstInvalidUtf8Byte(absl::string_view text);

// OK when `text` is valid UTF-8; else INVALID_ARGUMENT "<field>: not valid
// UTF-8 (byte N); ..." (the bytes themselves are not echoed).
absl::Status CheckUtf8(absl::string_view field, absl::string_view text);

// The statement as compact JSON. INVALID_ARGUMENT naming the field for a
// missing learner, verb or course, a text field that is not valid UTF-8
// (a GBK file, say), a non-finite number, or negative credits or hours.
// Never throws. Without `id` the id is
// StableUuid("stmt|learner|verb|activity|timestamp|registration"), so the
// same fields always give the same statement.
absl::StatusOr<std::string> BuildStatementJson(const StatementFields& fields);

}  // namespace lifelong::cli

#endif  // LIFELONG_SERVICES_CLI_STATEMENT_BUILDER_H_
