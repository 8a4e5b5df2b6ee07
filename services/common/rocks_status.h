// The one place where rocksdb::Status becomes absl::Status. Every store
// (records, catalog, xAPI documents) converts RocksDB failures here, at its
// storage boundary, so the same RocksDB failure reaches a caller with the
// same code whichever store it came from.
//
// The mapping (abseil's status.h explains the codes):
//
//   rocksdb::Status                          absl::StatusCode    why
//   ---------------------------------------  ------------------  ----------------------------------
//   OK                                       kOk
//   NotFound                                 kNotFound           a normal outcome for reads
//   Corruption                               kDataLoss           stored bytes are damaged; retrying
//                                                                cannot help
//   Busy, TimedOut, TryAgain, Incomplete,    kUnavailable        transient: the caller may retry
//   Aborted, ShutdownInProgress, IOError
//   (disk full, a lock held by another
//   process, a failed fsync)
//   InvalidArgument, NotSupported,           kInternal           the service used RocksDB wrongly
//   anything else                                                (a bug, not the caller's input)
//
// The message is "<what>: <RocksDB's own text>", where `what` names the
// operation ("read course", "commit statements").
#ifndef LIFELONG_SERVICES_COMMON_ROCKS_STATUS_H_
#define LIFELONG_SERVICES_COMMON_ROCKS_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace lifelong {

// Converts `s` as the table above says; OK stays OK.
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_ROCKS_STATUS_H_
