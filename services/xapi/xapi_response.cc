#include "services/xapi/xapi_response.h"

#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/log.h"
#include "services/domain/xapi_time.h"

namespace lifelong::xapi::xapi_internal {

HttpResponse Error(int status, absl::string_view message) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = nlohmann::json({{"error", std::string(message)}})
               .dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse FromStatus(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return Error(400, s.message());
    case absl::StatusCode::kNotFound:
      return Error(404, s.message());
    case absl::StatusCode::kAlreadyExists:
      return Error(409, s.message());
    case absl::StatusCode::kFailedPrecondition:
      return Error(412, s.message());
    case absl::StatusCode::kUnauthenticated:
      return Error(401, s.message());
    case absl::StatusCode::kPermissionDenied:
      return Error(403, s.message());
    case absl::StatusCode::kResourceExhausted:  // e.g. a write over the replicated log's message limit
      return Error(413, s.message());
    case absl::StatusCode::kUnavailable:
      LogError("xapi_store_unavailable", {{"error", std::string(s.message())}});
      return Error(503, s.message());
    default:
      LogError("xapi_internal", {{"error", std::string(s.message())}});
      return Error(500, "internal error");
  }
}

std::string NowRfc3339() { return domain::FormatTimestampMicros(absl::ToUnixMicros(absl::Now())); }

std::string HttpDate(int64_t micros) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", absl::FromUnixMicros(micros), absl::UTCTimeZone());
}

}  // namespace lifelong::xapi::xapi_internal
