// Byte layouts of every RocksDB key and value of the record store.
//
// All integers are big-endian so that byte order equals numeric order. Strings
// inside keys are length-prefixed (u16 BE), so a prefix scan over one string
// never runs into another string that merely starts with it. Decoders fail
// with INVALID_ARGUMENT ("corrupt ...") on short or malformed input; they never
// read past the end.
//
// Column family "statements" (see column_families.h)
//   key   = id:16                      the statement UUID, raw bytes
//   value = StatementRecord, layout v1:
//     [0]       u8   format = 1
//     [1]       u8   flags: bit0 voided, bit1 has_registration,
//                           bit2 timestamp assigned by the store, bit3 voiding,
//                           bit4 references a statement, bit5 verified issuer,
//                           bit6 names others, bit7 voids in advance
//                           (RecordFlag below)
//     [2..9]    u64  stored sequence (microseconds since the Unix epoch,
//                    strictly increasing across the store)
//     [10..17]  i64  timestamp, microseconds since the Unix epoch
//     [18..33]  16B  id of the voiding statement (zeros when not voided)
//     [34..49]  16B  registration UUID (zeros when absent)
//     [50]      u8   n = number of learner keys (actor, or a group's members)
//               n x (u16 len, bytes)   learner keys, the actor's first
//               u16 len, bytes          verb IRI
//               u16 len, bytes          object activity IRI (len 0 if none)
//               u32 len, bytes          the stored statement JSON
//     nothing may follow.
//
// Index column families (seq is the stored sequence). Values are empty except
// in "by_learner", a covering index whose value is a copy of the statement's
// StatementRecord (kept in step when the statement is voided):
//   "by_learner"       key = u16 len | learner key | u64 seq | id:16
//   "by_activity"      key = u16 len | activity IRI | u64 seq | id:16
//   "by_verb"          key = u16 len | verb IRI | u64 seq | id:16
//   "by_registration"  key = registration:16 | u64 seq | id:16
//   "by_stored"        key = u64 seq | id:16
//   "by_mention"       key = u16 len | learner key | u64 seq | id:16
//                      (schema 3) one entry per learner a statement names
//                      outside its actor (statement.h MentionedLearners:
//                      object, instructor, team, context agents and groups,
//                      a SubStatement's actor): read by EraseLearner, which
//                      scrubs those mentions, and by List with
//                      learner_as_object (xAPI `agent`: the learner as the
//                      object). Statements so named are flagged
//                      RecordFlag::kNamesOthers.
//
// Reference entries (xAPI "filter conditions for StatementRefs"): a statement
// S whose object is a StatementRef to T is also filed, in the learner,
// activity, verb and registration indexes, under every key of T and of T's own
// targets (the chain, at most kMaxReferenceDepth deep). Such an entry is the
// normal key of S under that prefix followed by one marker byte 'R':
//   prefix | u64 seq(S) | id(S):16 | 'R'      value empty (also in by_learner)
// It sorts right after S's own entry under the same prefix, so one scan sees
// both and a reader de-duplicates by id. Only queries that ask for references
// (the xAPI statements resource) use them; every other reader skips them.
//
//   "by_target"        the statements whose object is a StatementRef to a
//                      target id. Lets a target stored after its referrers
//                      file them under its keys. Two kinds of key:
//     key = target id:16                 the target's marker: present iff
//                      something refers (or referred) to it, so that "does
//                      anything refer to me?" is one bloom-filtered Get.
//                      value = n x id:16: referrers listed by stores of
//                      schema 1 (one value rewritten whole on each reference);
//                      empty when written by schema 2.
//     key = target id:16 | referrer id:16   value empty: one referrer
//                      (schema 2; a new reference is one small Put).
//   The referrers of a target are its marker's list and its 32-byte keys.
//
// Column family "audit": one access to personal data a key
//   key   = u64 time (microseconds since the Unix epoch) | u64 counter
//   value = the event as a JSON object {"time","subject","role","learner",
//           "operation","outcome","detail"}
//
// Column family "meta": fixed ASCII keys (kMetaPageTokenKey -> 32 random
// bytes used to sign page tokens; kMetaSchemaVersion -> u32 BE), and
// prefixed records of the store's own bookkeeping (RecordStore::*Meta):
//   "kiosk_pass/" | SHA-256(code):32          (kiosk_passes.h)
//       value = u8 format = 1 | u64 expiry, microseconds since the Unix
//               epoch | learner key (the rest)
//   "kiosk_pass_of/" | learner key
//       value = the key of the learner's live pass (above)
//   "learner_card/" | card number, 12 ASCII digits      (learner_cards.h)
//       value = [0]       u8   format = 1
//               [1..4]    u32  PBKDF2-HMAC-SHA256 iterations of this card's PIN hash
//               [5..20]   16B  salt (random, new at every binding)
//               [21..52]  32B  PBKDF2-HMAC-SHA256(PIN, salt, iterations)
//               [53..60]  u64  bound at, microseconds since the Unix epoch
//               [61..64]  u32  wrong PINs in a row
//               [65..72]  u64  locked until, microseconds (0: not locked)
//               [73]      u8   flags: bit0 blocked (until bound again)
//               [74..]         learner key (the rest, at least one byte)
//   "learner_card_of/" | learner key
//       value = the learner's card number (12 ASCII digits)
//   kMetaErasureEpoch ("erasure_epoch")        (RecordStore::GetErasureEpoch)
//       value = u64 number of completed erasures | u64 time of the latest,
//               microseconds since the Unix epoch
//   kMetaPurgePending ("purge_pending")        (RecordStore::EraseLearner)
//       the column families holding erased values not yet purged from the
//       files (the background purge: flush + compaction), deleted once
//       purged; written in the erasure's own batch. A purge cut by a stop
//       or a crash compacts them whole at the next Open. Family ids only: key bounds would name the learner.
//       absent: none pending.
//       value = "families=" | decimal column family ids, comma-separated |
//               ";since=" | decimal microseconds since the Unix epoch of the
//               oldest erasure not yet purged
//       (before 2026-12-05: repeated { u64 column family id | u64 n | n bytes
//       first key | u64 m | m bytes last key }, read as those families whole)
//   kMetaErasureLogPrefix ("erasure_log/") | u64 time | SHA-256(learner key):32
//       one entry per completed EraseLearner (the erasure log; backups.h
//       re-applies at restore the erasures a backup does not hold). time is
//       microseconds since the Unix epoch when the erasure completed. The
//       learner is named by the digest of their key only: no table entry
//       names an erased learner.
//       value = u64 number of statements erased
//   kMetaAppliedLogSeq ("replication/applied_seq")  (RecordStore::AppliedLogSeq)
//       value = the JetStream sequence of the last replicated-log operation
//               applied, as decimal ASCII text (written in the same
//               WriteBatch as that operation's effects; absent: none)
//   "replication/erased_at/" | SHA-256(learner key):32   (LearnerDigest;
//       record_store_log_apply.cc, ApplyLoggedRestore)
//       value = u64 log sequence of the learner's latest applied erasure
//               | u64 that of the one before it (0: none)
//   "replication/shared_of/" | u16 length | learner key | u64 log sequence
//       value empty: the shared-subject log message at that sequence names
//       the learner (replication/log_op.h, SharedMarkKey)
// Audit keys written by a replicated-log operation use counter
// 0x8000000000000000 | log sequence (a node's local rows count from 0, so
// the two never collide).
#ifndef LIFELONG_SERVICES_RECORDS_KEY_CODEC_H_
#define LIFELONG_SERVICES_RECORDS_KEY_CODEC_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lifelong::records {

using Uuid = std::array<uint8_t, 16>;

inline constexpr char kMetaPageTokenKey[] = "page_token_key";
inline constexpr char kMetaSchemaVersion[] = "schema_version";
inline constexpr char kMetaErasureEpoch[] = "erasure_epoch";
inline constexpr char kMetaPurgePending[] = "purge_pending";
inline constexpr char kMetaErasureLogPrefix[] = "erasure_log/";
inline constexpr char kMetaAppliedLogSeq[] = "replication/applied_seq";
// Schema history: 1 = referrer lists as one value per target; 2 = a key per
// referrer (reads both); 3 = the "by_mention" index (back-filled when an
// older store is opened: RecordStore::Open). A store written by a newer
// schema is refused.
inline constexpr uint32_t kSchemaVersion = 3;

// Longest string allowed inside a key (IRIs, learner keys).
inline constexpr size_t kMaxKeyString = 4096;

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex, either case) <-> 16 bytes.
absl::StatusOr<Uuid> ParseUuid(absl::string_view text);
std::string FormatUuid(const Uuid& uuid);  // lowercase
bool IsZero(const Uuid& uuid);

void PutU16(std::string* out, uint16_t v);
void PutU32(std::string* out, uint32_t v);
void PutU64(std::string* out, uint64_t v);
uint64_t GetU64(const char* p);

// Flags of StatementRecord.
enum class RecordFlag : uint8_t {
  kVoided = 1 << 0,
  kHasRegistration = 1 << 1,
  kTimestampAssigned = 1 << 2,
  kVoiding = 1 << 3,
  kReferencesStatement = 1 << 4,
  // Issued by a principal entitled to award credits (issuer.h
  // IssuerMayAwardCredits), decided once at write time from the same
  // principal as the stored `authority`; records written before this flag
  // existed lack it (their issuer is unknown, so unverified either way).
  kVerifiedIssuer = 1 << 5,
  // Names learners outside its actor (statement.h MentionedLearners), so it
  // has "by_mention" entries: IndexKeys reads them from the JSON. Set from
  // schema 3 on, by the write path and the upgrade's back-fill.
  kNamesOthers = 1 << 6,
  // A voiding statement whose issuer may void any statement (staff, district
  // systems, the loader, authentication off: ParsedStatement::
  // voids_in_advance, set by the front end). It also voids
  // its target when the target is stored after it (xAPI lets a voiding
  // statement arrive first). A learner's or teacher's voiding statement, and
  // any written before this flag existed, voids only a target already
  // stored: their right cannot be checked against a target not yet there.
  kVoidsInAdvance = 1 << 7,
};

// The decoded value of the "statements" column family.
struct StatementRecord {
  uint8_t flags = 0;
  uint64_t stored_seq = 0;
  int64_t timestamp_us = 0;
  Uuid voided_by{};
  Uuid registration{};
  std::vector<std::string> learners;  // actor first
  std::string verb;
  std::string activity;
  std::string json;

  bool Has(RecordFlag f) const { return (flags & static_cast<uint8_t>(f)) != 0; }
  void Set(RecordFlag f, bool on) {
    if (on) {
      flags |= static_cast<uint8_t>(f);
    } else {
      flags &= static_cast<uint8_t>(~static_cast<uint8_t>(f));
    }
  }
};

// Encodes `record`. INVALID_ARGUMENT when a string exceeds its length field
// (learner keys, verb and activity: kMaxKeyString; more than 255 learners).
absl::StatusOr<std::string> EncodeStatementRecord(const StatementRecord& record);
// Appends to `out` everything of `record`'s encoding that precedes the JSON
// bytes, for a JSON of `json_size` bytes (record.json is ignored), and
// reserves room for them: the caller appends exactly `json_size` bytes of
// JSON next, which gives EncodeStatementRecord's bytes without building the
// JSON as a string of its own first. Same errors as EncodeStatementRecord
// (and then `out` is left as it was).
absl::Status AppendStatementRecordHeader(const StatementRecord& record, size_t json_size, std::string* out);
absl::StatusOr<StatementRecord> DecodeStatementRecord(absl::string_view value);

// Length of a stored time as the stored JSON writes it.
constexpr size_t kStoredTimestampLen = 27;
// Writes `micros` (microseconds since the Unix epoch) to `out` exactly as
// domain::FormatTimestampMicros formats it ("2026-12-03T11:15:00.123456Z"),
// without allocating: the group leader stamps every statement it commits.
// Returns false, writing nothing, for years after 9999 (the stored JSON's
// fixed-width placeholders hold years 1000-9999).
bool FormatStoredTimestamp(uint64_t micros, char out[kStoredTimestampLen]);

// Index keys. `EncodeStringPrefix` is the part before seq, used for scans.
std::string EncodeStringPrefix(absl::string_view s);
std::string EncodeStringIndexKey(absl::string_view s, uint64_t seq, const Uuid& id);
std::string EncodeRegistrationPrefix(const Uuid& registration);
std::string EncodeRegistrationIndexKey(const Uuid& registration, uint64_t seq, const Uuid& id);
std::string EncodeStoredKey(uint64_t seq, const Uuid& id);

// The (seq, id) tail shared by every index key: 24 bytes.
struct IndexPosition {
  uint64_t seq = 0;
  Uuid id{};
};
// Decodes the last 24 bytes of any index key; `prefix_len` bytes must precede
// them exactly.
absl::StatusOr<IndexPosition> DecodeIndexTail(absl::string_view key, size_t prefix_len);

// Reference entries (see the layout above).
inline constexpr char kReferenceMarker = 'R';
inline constexpr int kMaxReferenceDepth = 8;
std::string EncodeReferenceIndexKey(absl::string_view index_prefix, uint64_t seq, const Uuid& id);
struct IndexEntry {
  uint64_t seq = 0;
  Uuid id{};
  bool is_reference = false;
};
// Decodes an own (24-byte tail) or reference (25-byte tail) index entry.
absl::StatusOr<IndexEntry> DecodeIndexEntry(absl::string_view key, size_t prefix_len);

// SHA-256 of a learner key, 32 raw bytes (the erasure log's name for them).
std::string LearnerDigest(absl::string_view learner);

// Erasure log keys (meta family, layout above); `learner_digest` is
// LearnerDigest(learner). Decode: INVALID_ARGUMENT ("corrupt erasure log
// key") unless the key is the prefix, 8 bytes and a 32-byte digest.
std::string EncodeErasureLogKey(int64_t time_us, absl::string_view learner_digest);
struct ErasureLogKey {
  int64_t time_us = 0;
  std::string learner_digest;  // 32 bytes
};
absl::StatusOr<ErasureLogKey> DecodeErasureLogKey(absl::string_view key);

// "by_target" family: the marker key, a marker's value (a schema-1 list,
// possibly empty), and the key of one referrer.
std::string EncodeTargetKey(const Uuid& target);
absl::StatusOr<std::vector<Uuid>> DecodeReferrers(absl::string_view value);
std::string EncodeReferrerKey(const Uuid& target, const Uuid& referrer);
// The referrer of a 32-byte key; INVALID_ARGUMENT for any other length.
absl::StatusOr<Uuid> DecodeReferrerKey(absl::string_view key);

}  // namespace lifelong::records

#endif  // LIFELONG_SERVICES_RECORDS_KEY_CODEC_H_
