// Log retention (issue #15; docs/replication.md, "Log retention"): which
// prefix of the replicated log the leader may remove.
//
// Every node reports, in the JetStream key-value bucket LIFELONG_LOG (no TTL,
// the log's replica count), key "node.<node id>", its position as JSON:
//   {"applied_seq": A, "oldest_backup_seq": B or null, "updated_us": T}
// A: the last log operation applied to its store; B: the log position of the
// oldest backup it keeps (null: it keeps none). The leader removes the
// operations below FirstSeqToKeep and first records that point under key
// "trimmed_below", so that a node whose store is behind it stops with a
// clear error (restore it from a backup) instead of skipping operations.
#ifndef LIFELONG_SERVICES_RECORDS_REPLICATION_LOG_RETENTION_H_
#define LIFELONG_SERVICES_RECORDS_REPLICATION_LOG_RETENTION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace lifelong::records::replication {

inline constexpr char kNodePositionKeyPrefix[] = "node.";
inline constexpr char kTrimmedBelowKey[] = "trimmed_below";

struct NodePosition {
  std::string node;
  uint64_t applied_seq = 0;
  std::optional<uint64_t> oldest_backup_seq;  // nullopt: the node keeps no backup
  int64_t updated_us = 0;
};

std::string EncodeNodePosition(const NodePosition& p);
// DATA_LOSS naming the field for anything EncodeNodePosition did not write.
absl::StatusOr<NodePosition> DecodeNodePosition(absl::string_view node, absl::string_view json);

// The first log sequence to keep: every operation below it has been applied
// by every node heard from within `forget_after` of `now_us`, and is inside
// the oldest backup each of them keeps (so a node restored from any kept
// backup finds the rest of the log). 1 (remove nothing) when no node is
// known or one of them keeps no backup. A node silent for longer than
// `forget_after` no longer holds the log back; when it returns it must be
// restored from a backup.
uint64_t FirstSeqToKeep(const std::vector<NodePosition>& nodes, int64_t now_us, absl::Duration forget_after);

}  // namespace lifelong::records::replication

#endif  // LIFELONG_SERVICES_RECORDS_REPLICATION_LOG_RETENTION_H_
