#include "services/storage/backup_metrics.h"

#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace lifelong::storage {

std::vector<metrics::MetricsRegistry::CallbackSpec> BackupMetricSpecs(const std::string& prefix,
                                                                      const std::string& what,
                                                                      std::function<BackupStats()> stats) {
  using metrics::MetricType;
  std::string plural = absl::StrCat(what, "s");
  if (!plural.empty()) plural[0] = absl::ascii_toupper(static_cast<unsigned char>(plural[0]));
  const std::string total_help = absl::StrCat(plural, " attempted since start, by outcome.");
  return {
      {MetricType::kGauge,
       absl::StrCat(prefix, "backup_age_seconds"),
       absl::StrCat("Seconds since the newest ", what, " started (+Inf: no backup yet)."),
       {},
       [stats] {
         int64_t last = stats().last_success_us;
         if (last == 0) return std::numeric_limits<double>::infinity();
         return double(absl::ToUnixMicros(absl::Now()) - last) / 1e6;
       }},
      {MetricType::kGauge,
       absl::StrCat(prefix, "backup_last_success_timestamp"),
       absl::StrCat("Unix time (seconds) when the newest ", what, " started (0: none)."),
       {},
       [stats] { return double(stats().last_success_us) / 1e6; }},
      {MetricType::kCounter,
       absl::StrCat(prefix, "backups_total"),
       total_help,
       {{"outcome", "ok"}},
       [stats] { return double(stats().created); }},
      {MetricType::kCounter,
       absl::StrCat(prefix, "backups_total"),
       total_help,
       {{"outcome", "error"}},
       [stats] { return double(stats().failed); }},
  };
}

}  // namespace lifelong::storage
