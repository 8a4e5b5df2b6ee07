#include "services/records/replication/log_consistency.h"

#include "absl/strings/str_cat.h"

namespace lifelong::records::replication {

LogVerdict CheckLogAgainstStore(uint64_t applied_seq, std::optional<uint64_t> log_last_seq) {
  if (!log_last_seq) return applied_seq == 0 ? LogVerdict::kCreateLog : LogVerdict::kBehindStore;
  return applied_seq <= *log_last_seq ? LogVerdict::kInStep : LogVerdict::kBehindStore;
}

std::string LogBehindStoreMessage(absl::string_view node, absl::string_view stream, uint64_t applied_seq,
                                  std::optional<uint64_t> log_last_seq) {
  const std::string log = log_last_seq ? absl::StrCat("the log (stream ", stream, ") ends at ", *log_last_seq)
                                       : absl::StrCat("the log (stream ", stream, ") does not exist");
  const uint64_t kept = log_last_seq.value_or(0);
  return absl::StrCat(
      "the replicated log is behind this node's store: ", node, " has applied log position ", applied_seq, " but ", log,
      ", so the log lost operations this store holds (the stream was deleted, re-created or lost its tail); ", node,
      " neither applies the log nor leads. Bring the log back (restore the nats-server JetStream directories "
      "from a copy that reaches position ",
      applied_seq, ") and restart the node, or restore this node's store from a backup at log position ", kept,
      " or below (lifelong backup list; lifelong backup restore <id> --force --data_dir=<this node's> "
      "--backup_dir=<its backup directory>) and restart it; if no log survives, re-seed a new cluster from this "
      "store's statements. docs/replication.md, \"A log behind the store\"");
}

}  // namespace lifelong::records::replication
