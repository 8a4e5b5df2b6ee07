// The standard process_* metrics of Prometheus client libraries, read from
// /proc and getrusage at each scrape (Linux only).
//
//   process_cpu_seconds_total      user + system CPU time
//   process_resident_memory_bytes  resident set size
//   process_virtual_memory_bytes   virtual memory size
//   process_open_fds / process_max_fds
//   process_threads                threads of the process
//   process_start_time_seconds     Unix time the process started
#ifndef LIFELONG_SERVICES_COMMON_METRICS_PROCESS_H_
#define LIFELONG_SERVICES_COMMON_METRICS_PROCESS_H_

#include "absl/status/status.h"
#include "services/common/metrics.h"

namespace lifelong::metrics {

// Registers the callbacks above on `registry`. ALREADY_EXISTS when called
// twice on one registry. Thread-safe.
absl::Status RegisterProcessMetrics(MetricsRegistry* registry);

}  // namespace lifelong::metrics

#endif  // LIFELONG_SERVICES_COMMON_METRICS_PROCESS_H_
