// Whether this node's store and the replicated log agree on where the log
// ends (docs/replication.md, "A log behind the store"), decided without
// NATS so that every case is tested on its own.
//
// Every operation a store applied came from the log, and the log's last
// sequence never goes back: erasure and trimming remove messages, not
// sequences (JetStream keeps LastSeq when messages are erased, deleted or
// purged). So a store at applied position A with a log that ends at L < A,
// or with no log at all while A > 0, means that the log lost operations this
// store holds: the stream was deleted, re-created empty, or lost its tail
// (JetStream storage wiped or restored from an older copy). Such a node must
// neither apply (the operations it would read next are not the ones after
// its position) nor lead: its writes would get sequences it has already
// applied, so it would never apply them (answered INTERNAL before) and the
// replicas would diverge without a word.
#ifndef LIFELONG_SERVICES_RECORDS_REPLICATION_LOG_CONSISTENCY_H_
#define LIFELONG_SERVICES_RECORDS_REPLICATION_LOG_CONSISTENCY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace lifelong::records::replication {

enum class LogVerdict {
  // applied <= the log's last sequence: apply from applied + 1, and lead
  // once caught up.
  kInStep,
  // No stream and an empty store: a new cluster; create the stream.
  kCreateLog,
  // The log lost operations this store applied: stop applying, never lead,
  // say so (LogBehindStoreMessage).
  kBehindStore,
};

// `applied_seq`: the store's applied position, read BEFORE the stream's
// state (the log may only grow in between). `log_last_seq`: the stream's
// last sequence; nullopt when the stream does not exist.
LogVerdict CheckLogAgainstStore(uint64_t applied_seq, std::optional<uint64_t> log_last_seq);

// The error of a node whose store is ahead of the log, for the operator:
// both positions and what to do about it.
std::string LogBehindStoreMessage(absl::string_view node, absl::string_view stream, uint64_t applied_seq,
                                  std::optional<uint64_t> log_last_seq);

}  // namespace lifelong::records::replication

#endif  // LIFELONG_SERVICES_RECORDS_REPLICATION_LOG_CONSISTENCY_H_
