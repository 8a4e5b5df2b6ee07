// Responses shared by the xAPI resource handlers (xapi_handler.cc,
// xapi_statements.cc, xapi_documents.cc): JSON error bodies and the one
// mapping of absl::Status to HTTP status. Internal to the xapi_handler
// target.
#ifndef LIFELONG_SERVICES_XAPI_XAPI_RESPONSE_H_
#define LIFELONG_SERVICES_XAPI_XAPI_RESPONSE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/xapi/http_types.h"

namespace lifelong::xapi::xapi_internal {

// `status` with the JSON body {"error": message}. Bytes of `message` that
// are not UTF-8 (a request's parameter name, path or header echoed into it)
// become U+FFFD: the body is always valid JSON.
HttpResponse Error(int status, absl::string_view message);
// INVALID_ARGUMENT 400, NOT_FOUND 404, ALREADY_EXISTS 409,
// FAILED_PRECONDITION 412, UNAUTHENTICATED 401, PERMISSION_DENIED 403,
// UNAVAILABLE 503 (logged); anything else 500 "internal error" (logged).
HttpResponse FromStatus(const absl::Status& s);
// The current time as an RFC 3339 timestamp (X-Experience-API-Consistent-Through).
std::string NowRfc3339();
// `micros` (since the Unix epoch) as an HTTP-date (RFC 9110 IMF-fixdate,
// "Sun, 06 Nov 1994 08:49:37 GMT"): the Last-Modified header of statements
// and documents.
std::string HttpDate(int64_t micros);

}  // namespace lifelong::xapi::xapi_internal

#endif  // LIFELONG_SERVICES_XAPI_XAPI_RESPONSE_H_
