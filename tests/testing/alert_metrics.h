// The metrics the alert rules (ops/prometheus/alerts.yml) are written against
// must be the ones the services export: a renamed metric would leave an
// alert silent for ever. Tests that scrape a real server's /metrics check the
// names of their part of the rules with these helpers.
#ifndef LIFELONG_TESTS_TESTING_ALERT_METRICS_H_
#define LIFELONG_TESTS_TESTING_ALERT_METRICS_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lifelong::testing {

// Runfiles path of the rules (data dependency //ops/prometheus:alerts.yml).
inline constexpr char kAlertRulesPath[] = "ops/prometheus/alerts.yml";

// Every metric name (lifelong_* or process_*) the rules at `path` use, from
// every line that is not a comment. NOT_FOUND when the file cannot be read;
// FAILED_PRECONDITION when it names none (the wrong file).
absl::StatusOr<std::set<std::string>> AlertMetricNames(const std::string& path);

// The names of `names` that start with one of `prefixes` and that no page of
// `metrics_pages` (Prometheus text format) declares with a "# TYPE" line; a
// name ending in _bucket, _count or _sum counts as declared when its
// histogram is.
std::vector<std::string> UndeclaredMetrics(const std::set<std::string>& names, const std::vector<std::string>& prefixes,
                                           const std::vector<std::string>& metrics_pages);

}  // namespace lifelong::testing

#endif  // LIFELONG_TESTS_TESTING_ALERT_METRICS_H_
