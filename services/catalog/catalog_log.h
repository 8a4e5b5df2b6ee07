// CatalogLog: where a replicated catalog's writes go (docs/catalog.md,
// "Replication"; implemented by replication/catalog_replicator.h on NATS
// JetStream). With a log, CatalogStore never writes its database from a
// call: it computes the write's result on the state at log position A (the
// position it has applied), appends that result to the log with the
// condition "the log ends at A", and answers once its own applier has
// applied it. Every node applies the log in order (CatalogStore::ApplyLogged)
// with the position in the same batch, so nodes that applied the same
// prefix hold the same catalog, and any node may take writes: two writes
// planned on the same state cannot both land (JetStream's expected last
// sequence), the loser is planned again on the newer state.
#ifndef LIFELONG_SERVICES_CATALOG_CATALOG_LOG_H_
#define LIFELONG_SERVICES_CATALOG_CATALOG_LOG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lifelong::catalog {

// What one log entry holds. The values are the entries' subjects' last
// token ("<prefix>.course"), never renamed.
enum class CatalogLogEntry {
  kInit,       // 32 bytes: the catalog's page-token secret (one entry, first)
  kCourse,     // a course as stored (codec::EncodeCourseValue): put it
  kProgramme,  // a programme as stored (codec::EncodeProgrammeValue): put it
};

absl::string_view CatalogLogEntryName(CatalogLogEntry kind);

class CatalogLog {
 public:
  virtual ~CatalogLog() = default;
  // Appends `payload` as entry `kind` if the log's last position is
  // `expected_last`, and waits until this node applied it: true. false when
  // the log had moved on (another write landed first; this node has applied
  // further since, and the caller plans again). UNAVAILABLE when the log
  // cannot be reached or the entry is not applied within the log's timeout
  // (it may still land).
  virtual absl::StatusOr<bool> Append(CatalogLogEntry kind, const std::string& payload, uint64_t expected_last) = 0;
  // Waits until this node has applied the log up to its last position as
  // read now (a node a few entries behind decides a refused write on the
  // log's end, not on its own stale copy). UNAVAILABLE when the log cannot be
  // read or the node does not get there within the log's timeout.
  virtual absl::Status CatchUp() = 0;
};

}  // namespace lifelong::catalog

#endif  // LIFELONG_SERVICES_CATALOG_CATALOG_LOG_H_
