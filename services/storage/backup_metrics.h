// The backup gauges and counters of a store's backup manager
// (docs/observability.md): `<prefix>backup_age_seconds`,
// `<prefix>backup_last_success_timestamp` and
// `<prefix>backups_total{outcome="ok|error"}`. The records use the prefix
// "lifelong_", the catalog "lifelong_catalog_".
#ifndef LIFELONG_SERVICES_STORAGE_BACKUP_METRICS_H_
#define LIFELONG_SERVICES_STORAGE_BACKUP_METRICS_H_

#include <functional>
#include <string>
#include <vector>

#include "services/common/metrics.h"
#include "services/storage/backup_engine.h"

namespace lifelong::storage {

// Callback specs sampling `stats` at each scrape; `what` names the store in
// the help texts ("backup", "catalog backup"). `stats` must stay callable
// while the registry lives.
std::vector<metrics::MetricsRegistry::CallbackSpec> BackupMetricSpecs(const std::string& prefix,
                                                                      const std::string& what,
                                                                      std::function<BackupStats()> stats);

}  // namespace lifelong::storage

#endif  // LIFELONG_SERVICES_STORAGE_BACKUP_METRICS_H_
