#include "services/domain/xapi_time.h"

#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace lifelong::domain {

absl::StatusOr<int64_t> ParseTimestampMicros(absl::string_view text) {
  // RFC 3339 requires "T" (or "t"), seconds and an offset or "Z".
  if (text.size() < 20 || (text[10] != 'T' && text[10] != 't')) {
    return absl::InvalidArgumentError("not an RFC 3339 timestamp (e.g. 2026-11-28T10:00:00+08:00)");
  }
  // xAPI forbids the "unknown offset" forms -00, -0000 and -00:00.
  if (absl::EndsWith(text, "-00") || absl::EndsWith(text, "-0000") || absl::EndsWith(text, "-00:00")) {
    return absl::InvalidArgumentError("timestamp offset -00:00 is not allowed");
  }
  std::string normalized(text);
  normalized[10] = 'T';
  char& last = normalized.back();
  if (last == 'z') last = 'Z';
  absl::Time t;
  std::string err;
  if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%Ez", normalized, &t, &err)) {
    return absl::InvalidArgumentError("not an RFC 3339 timestamp (e.g. 2026-11-28T10:00:00+08:00)");
  }
  absl::CivilSecond cs = absl::ToCivilSecond(t, absl::UTCTimeZone());
  if (cs.year() < 1 || cs.year() > 9999) {
    return absl::InvalidArgumentError("timestamp out of range (years 1 to 9999)");
  }
  return absl::ToUnixMicros(t);
}

std::string FormatTimestampMicros(int64_t micros) {
  return absl::FormatTime("%E4Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(micros), absl::UTCTimeZone());
}

absl::StatusOr<double> ParseIsoDurationSeconds(absl::string_view text) {
  if (!text.empty() && text[0] == '-') return absl::InvalidArgumentError("must not be negative");
  if (text.size() < 3 || text[0] != 'P') {
    return absl::InvalidArgumentError("not an ISO 8601 duration (e.g. PT1H30M)");
  }
  double total = 0;
  bool in_time = false, any = false;
  size_t i = 1;
  std::string order_date = "YMWD", order_time = "HMS";
  size_t date_pos = 0, time_pos = 0;
  while (i < text.size()) {
    if (text[i] == 'T') {
      if (in_time) return absl::InvalidArgumentError("not an ISO 8601 duration (two 'T')");
      in_time = true;
      ++i;
      if (i == text.size()) return absl::InvalidArgumentError("not an ISO 8601 duration (empty time part)");
      continue;
    }
    size_t j = i;
    while (j < text.size() &&
           (absl::ascii_isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.' || text[j] == ',')) {
      ++j;
    }
    if (j == i || j == text.size()) return absl::InvalidArgumentError("not an ISO 8601 duration (e.g. PT1H30M)");
    std::string num(text.substr(i, j - i));
    for (char& c : num)
      if (c == ',') c = '.';
    double v;
    if (!absl::SimpleAtod(num, &v) || v < 0 || !std::isfinite(v)) {
      return absl::InvalidArgumentError("not an ISO 8601 duration (bad number)");
    }
    char unit = text[j];
    const std::string& order = in_time ? order_time : order_date;
    size_t& pos = in_time ? time_pos : date_pos;
    size_t at = order.find(unit, pos);
    if (at == std::string::npos) return absl::InvalidArgumentError("not an ISO 8601 duration (unit order)");
    pos = at + 1;
    double scale = 0;
    if (!in_time) {
      scale = unit == 'Y' ? 365 * 86400.0 : unit == 'M' ? 30 * 86400.0 : unit == 'W' ? 7 * 86400.0 : 86400.0;
    } else {
      scale = unit == 'H' ? 3600.0 : unit == 'M' ? 60.0 : 1.0;
    }
    total += v * scale;
    any = true;
    i = j + 1;
  }
  if (!any) return absl::InvalidArgumentError("not an ISO 8601 duration (no value)");
  // ISO 8601: weeks ("P4W") cannot be combined with other units.
  if (text.find('W') != absl::string_view::npos && text.find_first_of("YMDTHS", 1) != absl::string_view::npos) {
    return absl::InvalidArgumentError("not an ISO 8601 duration (weeks cannot be combined with other units)");
  }
  return total;
}

}  // namespace lifelong::domain
