// LogOp: one mutating operation of the record store as a message of the
// replicated log (JetStream stream LIFELONG_RECORDS, replicator.h), and its
// byte layout.
//
// Every value below is decided by the proposer (the leader) so that every
// replica applying the message gets the same store: the clock `now_us`
// (stored times), and in each statement its `authority_json` (filled with
// the store's default authority by RecordStore::Record in log mode).
//
// Layout (integers big-endian; str = u32 length | bytes):
//   u8 format = 1 | u8 kind | u64 now_us (two's complement) | body
//   kind 1 (record): u32 n | n x statement
//     statement = 16 id | u8 flags | str text | u32 body_end
//                 | u32 m | m x str learner | str verb | str activity
//                 | [16 registration]       flags & 0x02
//                 | [u64 timestamp_us]      flags & 0x04
//                 | [16 void_target]        flags & 0x08 (is_voiding)
//                 | [void_right]            flags & 0x40 (with 0x08)
//                 | [16 ref_target]         flags & 0x10
//                 | str authority_json
//     void_right = u8 by_courses (0|1) | str holder | str learner
//                  | u32 k | k x str course      (statement.h VoidRight)
//     flags: 0x01 id_assigned, 0x20 verified_issuer (others above); a
//     node that predates a flag refuses the message (DATA_LOSS)
//   kind 2 (erase): str learner
//   kind 3 (meta):  u32 n | n x (str key | u8 has_value | [str value])
//   kind 4 (audit): u64 time_us | str subject | str role | str learner
//                   | str operation | str outcome | str detail
//   kind 5 (restore): str learner (the erased one) | u32 n
//                   | n x (16 id | str encoded StatementRecord, key_codec.h)
//                   | u64 built_at (the log position the leader read the
//                   records at; absent in messages from before it: 0)
//   kind 6 (xAPI document write, services/xapi/document_store.h):
//                   u8 action (1 put, 2 merge, 3 delete) | u8 document kind
//                   | str activity | str learner | str registration | str id
//                   | str content_type | str content | u8 condition flags
//                   (0x01 if_match, 0x02 if_none_match_star,
//                   0x04 require_condition_if_exists,
//                   0x08 missing_condition_is_invalid) | [str if_match]
//                   (the write's now_us is the header's)
// Decoding fails with DATA_LOSS, naming the field, on a short, long or
// malformed message (a message the applier cannot decode stops it: an
// operation is never skipped).
#ifndef LIFELONG_SERVICES_RECORDS_REPLICATION_LOG_OP_H_
#define LIFELONG_SERVICES_RECORDS_REPLICATION_LOG_OP_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/records/record_store.h"
#include "services/records/statement.h"
#include "services/xapi/document_store.h"

namespace lifelong::records::replication {

enum class LogOpKind : uint8_t {
  kRecord = 1,
  kErase = 2,
  kMeta = 3,
  kAudit = 4,
  // Statements that shared log messages with an erased learner, re-published
  // before those messages are erased (replicator.h, "Erasure").
  kRestore = 5,
  kDocument = 6,
};

inline constexpr uint8_t kLogOpFormat = 1;

struct LogOp {
  LogOpKind kind = LogOpKind::kRecord;
  int64_t now_us = 0;
  std::vector<ParsedStatement> statements;                               // kRecord
  std::string learner;                                                   // kErase
  std::vector<std::pair<std::string, std::optional<std::string>>> meta;  // kMeta
  AuditEvent audit;                                                      // kAudit
  std::vector<std::pair<Uuid, std::string>> restored;                    // kRestore (+ learner)
  // kRestore: the log position `restored` was read at (the erasure's);
  // learners erased after it are left out when it is applied
  // (RecordStore::ApplyLoggedRestore). 0: unknown (an older message).
  uint64_t built_at = 0;
  xapi::DocWrite document;  // kDocument
};

std::string EncodeLogOp(const LogOp& op);
// DATA_LOSS naming the field for anything but a message EncodeLogOp wrote.
absl::StatusOr<LogOp> DecodeLogOp(absl::string_view bytes);

// A kRestore op cut into messages that each encode to at most `max_bytes`
// (the log's message limit less headroom; <= 0: no limit), its records in
// order, each part with the same learner and built_at. A learner spread over
// many mixed batches can need more than one message holds. At least one
// part; a record too large for any part goes alone in one.
std::vector<LogOp> SplitRestore(const LogOp& restore, int64_t max_bytes);

// The subject a message of `op` is published on, under `prefix`
// ("lifelong.records"):
//   <prefix>.stmt.<16 hex of SHA-256(learner key)>  statements that all name
//       exactly one and the same learner, and meta edits of that learner's
//       kiosk pass or learner card (a card record, under its number, names
//       its learner and holds the PIN's hash): purged after the learner's
//       erasure (Replicator::PurgeErased). Before 2026-12-05 card edits went
//       to <prefix>.meta and stayed in the log after the erasure.
//   <prefix>.shared   statements naming several learners (a group actor, a
//       batch mixing learners, or learners named outside the actor:
//       ParsedStatement::mentioned), or none
//   <prefix>.erase / .meta / .audit   the other operations; xAPI document
//       writes go with their learner's statements (state, agent profile)
//       or to <prefix>.documents (activity profiles, attachments)
std::string SubjectOf(const LogOp& op, absl::string_view prefix);
// The per-learner subject of `learner` (see SubjectOf).
std::string LearnerSubject(absl::string_view learner, absl::string_view prefix);

// Which messages of the shared subject name which learner, kept in each
// replica's meta column family (written with the message's operation):
//   "replication/shared_of/" | u16 length | learner key | u64 log sequence
//   value empty
std::string SharedMarkPrefix(absl::string_view learner);
std::string SharedMarkKey(absl::string_view learner, uint64_t seq);
// The marks of `op` applied at `seq`: one per distinct learner its
// statements (or restored records) name, as actor or mention, when it goes
// to the shared subject; none otherwise.
std::vector<std::string> SharedMarks(const LogOp& op, uint64_t seq);
// The log sequence at the end of a mark key under SharedMarkPrefix;
// DATA_LOSS when it is not 8 bytes long.
absl::StatusOr<uint64_t> SeqOfSharedMark(absl::string_view key, absl::string_view prefix);

// The JetStream message id (Nats-Msg-Id) of a record operation: hex SHA-256
// over its statements' ids, texts and authorities, so that a publish retried
// with the same content within the stream's duplicate window is stored once.
std::string RecordMessageId(const LogOp& op);

// Checks that a log consumer hands the applier every message in order:
// `consumer_seq` (JetStream's per-consumer delivery count, 1, 2, 3, ...
// without gaps even where the stream has purged messages) must follow the
// previous one, and `stream_seq` must be after the applied position. A
// stream sequence that jumps past applied+1 is accepted only when the log
// no longer holds the sequences in between (`still_in_log` answers false
// for each: erased or deleted messages). Contiguous consumer sequences alone
// do not prove it: nats-server 2.9 moves every consumer that is behind to
// the stream's end after a purge with a subject filter (docs/replication.md,
// "nats-server 2.9 purge"), without a gap in consumer sequences.
// FAILED_PRECONDITION (naming the sequences) on a gap, UNAVAILABLE when the
// log cannot be asked; the applier then re-reads the log from applied+1
// rather than skip anything.
class LogCursor {
 public:
  // Whether the log still holds the message at a stream sequence.
  using StillInLog = std::function<absl::StatusOr<bool>(uint64_t stream_seq)>;
  LogCursor(uint64_t applied_stream_seq, StillInLog still_in_log)
      : applied_(applied_stream_seq), still_in_log_(std::move(still_in_log)) {}
  // OK: apply it. ALREADY_EXISTS: at or before the applied position (a
  // redelivery), skip it. FAILED_PRECONDITION: a gap in delivery.
  absl::Status Next(uint64_t stream_seq, uint64_t consumer_seq);
  // After the message of `stream_seq` is applied.
  void Applied(uint64_t stream_seq) { applied_ = stream_seq; }
  uint64_t applied() const { return applied_; }

 private:
  uint64_t applied_;
  uint64_t consumer_ = 0;  // 0: nothing delivered yet by this consumer
  StillInLog still_in_log_;
};

}  // namespace lifelong::records::replication

#endif  // LIFELONG_SERVICES_RECORDS_REPLICATION_LOG_OP_H_
