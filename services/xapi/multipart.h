// multipart/mixed bodies (RFC 2046) as xAPI uses them for statements with
// attachments, and JWS-signed statements (xAPI Data 2.6).
#ifndef LIFELONG_SERVICES_XAPI_MULTIPART_H_
#define LIFELONG_SERVICES_XAPI_MULTIPART_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lifelong::xapi {

struct MultipartPart {
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
};

// The boundary parameter of a multipart Content-Type; INVALID_ARGUMENT when
// absent.
absl::StatusOr<std::string> MultipartBoundary(absl::string_view content_type);

// The most parts a body may have: the statements and one part per
// attachment (a batch has at most 1,000 statements elsewhere too).
inline constexpr size_t kMaxMultipartParts = 1001;

// Splits `body` into its parts, in time linear in its size. INVALID_ARGUMENT
// naming what is wrong for a missing boundary line, a part without the blank
// line after its headers, a missing closing delimiter, or more than
// kMaxMultipartParts parts.
absl::StatusOr<std::vector<MultipartPart>> ParseMultipart(absl::string_view boundary, absl::string_view body);

// Builds a multipart/mixed body; returns it and sets `*content_type`.
std::string BuildMultipart(const std::vector<MultipartPart>& parts, std::string* content_type);

// Checks a JWS compact serialization that signs `statement_json` (the
// statement as sent, attachments included): RS256/RS384/RS512 only, a payload
// that is a JSON object equal to the statement without its `attachments`
// (durations compared to 0.01 s; `stored`, `authority`, `version` ignored).
// INVALID_ARGUMENT with the reason otherwise. Without a certificate (x5c) in
// the header the signature itself cannot be verified; with one it is.
absl::Status CheckStatementSignature(absl::string_view jws, absl::string_view statement_json);

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

}  // namespace lifelong::xapi

#endif  // LIFELONG_SERVICES_XAPI_MULTIPART_H_
