// Timestamps and durations as xAPI writes them: RFC 3339 timestamps with
// microsecond precision, ISO 8601 durations. Pure functions, thread-safe.
#ifndef LIFELONG_SERVICES_DOMAIN_XAPI_TIME_H_
#define LIFELONG_SERVICES_DOMAIN_XAPI_TIME_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lifelong::domain {

// Parses an RFC 3339 timestamp ("2026-11-28T10:00:00.123+08:00") into
// microseconds since the Unix epoch; years 1-9999. INVALID_ARGUMENT (the
// message says what is wrong, not which field: callers prefix it) for other
// forms, the "unknown offset" -00:00, or years out of range.
absl::StatusOr<int64_t> ParseTimestampMicros(absl::string_view text);

// Formats as "2026-11-28T02:00:00.123000Z" (UTC, always six fraction digits).
std::string FormatTimestampMicros(int64_t micros);

// Parses an ISO 8601 duration ("PT1H30M", "P1DT2.5S") into seconds (a year is
// 365 days, a month 30). INVALID_ARGUMENT for negative or malformed durations.
absl::StatusOr<double> ParseIsoDurationSeconds(absl::string_view text);

}  // namespace lifelong::domain

#endif  // LIFELONG_SERVICES_DOMAIN_XAPI_TIME_H_
