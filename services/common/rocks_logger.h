// RocksDB's info log routed into the service's structured log instead of a
// LOG file in the data directory.
//
// Why: RocksDB writes its LOG file on the same disk as the data. When that
// disk fills, the LOG file's writer fails, and Debian's RocksDB 7.8.3 (built
// with assertions) aborts the whole process the next time anything is logged
// to it: `WritableFileWriter::AssertFalseAndGetStatusForPrevError()`, reached
// from the SstFileManager's own no-space recovery thread (ClearError). With
// this logger the store survives a full disk: writes fail with UNAVAILABLE,
// reads go on, and RocksDB resumes writing by itself once space is freed.
//
// Messages at WARN and above become one line each, event "rocksdb", with the
// store's name and the message (cut at 1,023 bytes); below WARN they are
// dropped (RocksDB's INFO chatter: options dumps, flush and compaction
// progress). At most kRocksLogLinesPerWindow lines per kRocksLogWindow and
// logger: on a full disk RocksDB logs every failed write and each retry of
// its recovery (3,793 lines in 15 s when tried), and the service log may be
// on that disk too. The lines left out are counted in one
// "rocksdb_lines_suppressed" line when the next window admits a line.
#ifndef LIFELONG_SERVICES_COMMON_ROCKS_LOGGER_H_
#define LIFELONG_SERVICES_COMMON_ROCKS_LOGGER_H_

#include <memory>
#include <string>

#include <rocksdb/env.h>

#include "absl/time/time.h"

namespace lifelong {

inline constexpr int kRocksLogLinesPerWindow = 20;
inline constexpr absl::Duration kRocksLogWindow = absl::Seconds(10);

// A logger for rocksdb::DBOptions::info_log. `store` names the store in each
// line ("records", "catalog", "xapi_documents"). Thread-safe.
std::shared_ptr<rocksdb::Logger> NewStructuredRocksLogger(std::string store);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_ROCKS_LOGGER_H_
