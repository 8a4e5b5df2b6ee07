// Every key and value the catalog stores in RocksDB, byte by byte, and the
// layout of the page tokens it hands out. Integers are big-endian so that byte
// order is numeric order; tags are `enum class : uint8_t` with explicit values
// that are never renumbered. Decoders check every length and fail with
// DATA_LOSS on short or malformed input; they never read past the input.
//
// Column family "courses" (Cf::kCourses)
//   key    course id: 1..64 bytes of [a-z0-9_-], no terminator. Byte order is
//          id order, which is the order ListCourses returns.
//   value  [0]      CourseValueFormat tag (0x01 = kProtoV1)
//          [1..]    lifelong.v1.Course, protobuf binary (deterministic
//                   serialization), with revision/etag/times filled in.
//
// Column family "course_index" (Cf::kCourseIndex)
//   key    [0]        IndexKind tag
//          [1..2]     L, term length in bytes, uint16 big-endian
//          [3..3+L)   term: for enum kinds one byte (the proto enum number);
//                     for string kinds the UTF-8 text as stored in the course
//          [3+L..]    course id (1..64 bytes), no terminator
//   value  empty
//   Entries with the same (kind, term) form one contiguous run ordered by
//   course id; a scan seeks to IndexPrefix(kind, term) and stops at the first
//   key without that prefix. Terms of one kind are ordered by (length, bytes),
//   which nothing relies on.
//
// Column family "programmes" (Cf::kProgrammes)
//   key    programme id: 1..64 bytes of [a-z0-9_-], no terminator (id order
//          is the order ListProgrammes returns).
//   value  [0]      ProgrammeValueFormat tag (0x01 = kProtoV1)
//          [1..]    lifelong.v1.Programme, protobuf binary (deterministic
//                   serialization), with update_time filled in.
//   A programme write also grows the generation (meta) in the same batch.
//
// Column family "meta" (Cf::kMeta)
//   key    [0]  MetaKey tag, nothing else
//   values kGeneration, kCourseCount, kArchivedCount: uint64 big-endian (8)
//          kUpdateTime: int64 microseconds since the Unix epoch with the sign
//                       bit flipped, big-endian (8 bytes; order-preserving)
//          kPageTokenSecret: 32 random bytes (HMAC-SHA256 key)
//          kFormatVersion: uint32 big-endian (4), currently 1
//          kAppliedLogSeq: uint64 big-endian (8), the replicated log's last
//                       position applied (catalog_log.h); absent: none
//
// Page token payload (carried base64url-encoded with an HMAC-SHA256 tag
// appended, see page_token.h)
//   [0]        PageTokenFormat tag (0x01 = kV1)
//   [1..8]     issue time, as kUpdateTime above (8 bytes)
//   [9..16]    filter fingerprint, uint64 big-endian
//   [17]       N, length of the last examined course id (1..64)
//   [18..18+N) last examined course id
//   nothing after it
#ifndef LIFELONG_SERVICES_CATALOG_CATALOG_CODEC_H_
#define LIFELONG_SERVICES_CATALOG_CATALOG_CODEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/catalog.pb.h"

namespace lifelong::catalog::codec {

// ---- Primitives -------------------------------------------------------------

void PutU16(std::string* out, uint16_t v);
void PutU32(std::string* out, uint32_t v);
void PutU64(std::string* out, uint64_t v);
// Reads an integer from the front of `*in` and advances it. DATA_LOSS when
// `*in` is too short (then `*in` is unchanged).
absl::StatusOr<uint16_t> GetU16(absl::string_view* in);
absl::StatusOr<uint32_t> GetU32(absl::string_view* in);
absl::StatusOr<uint64_t> GetU64(absl::string_view* in);

// Order-preserving 8-byte encoding of a time at microsecond precision.
// Times outside the int64 microsecond range are clamped.
void PutTime(std::string* out, absl::Time t);
absl::StatusOr<absl::Time> GetTime(absl::string_view* in);

// ---- courses ----------------------------------------------------------------

inline constexpr size_t kMaxCourseIdBytes = 64;

// True when `id` is 1..64 bytes of [a-z0-9_-].
bool IsValidCourseId(absl::string_view id);

// The key of a course; `id` must be valid (IsValidCourseId).
std::string CourseKey(absl::string_view id);
// DATA_LOSS when `key` is not a valid course id.
absl::StatusOr<std::string> DecodeCourseKey(absl::string_view key);

enum class CourseValueFormat : uint8_t {
  kProtoV1 = 0x01,
};

std::string EncodeCourseValue(const lifelong::v1::Course& course);
// DATA_LOSS on an empty value, an unknown format tag or a proto that does not
// parse.
absl::StatusOr<lifelong::v1::Course> DecodeCourseValue(absl::string_view value);

// ---- programmes -----------------------------------------------------------------

std::string ProgrammeKey(absl::string_view id);

enum class ProgrammeValueFormat : uint8_t {
  kProtoV1 = 0x01,
};

std::string EncodeProgrammeValue(const lifelong::v1::Programme& programme);
// DATA_LOSS on an empty value, an unknown format tag or a proto that does not
// parse.
absl::StatusOr<lifelong::v1::Programme> DecodeProgrammeValue(absl::string_view value);

// ---- course_index -------------------------------------------------------------

enum class IndexKind : uint8_t {
  kState = 0x01,     // term: Course.State number (1 byte)
  kMode = 0x02,      // term: Course.Mode number (1 byte)
  kLevel = 0x03,     // term: Course.Level number (1 byte)
  kAudience = 0x04,  // term: Course.Audience number (1 byte), one per audience
  kCategory = 0x05,  // term: category text
  kTag = 0x06,       // term: tag text, one per tag
  kXuequ = 0x07,     // term: venue.xuequ text
  kJiedao = 0x08,    // term: venue.jiedao text
  kVenue = 0x09,     // term: venue.id
};

// The one-byte term of an enum-valued index (values 0..255).
std::string EnumTerm(int value);

// Kind, term length and term: the prefix shared by every entry of one term.
// `term` is at most 65535 bytes (validation keeps terms far shorter).
std::string IndexPrefix(IndexKind kind, absl::string_view term);
std::string IndexKey(IndexKind kind, absl::string_view term, absl::string_view course_id);

struct IndexEntry {
  IndexKind kind;
  std::string term;
  std::string course_id;
};
// DATA_LOSS when the key is short, has an unknown kind, or its id is invalid.
absl::StatusOr<IndexEntry> DecodeIndexKey(absl::string_view key);

// Every index key of `course` (which must have a valid id), sorted and free of
// duplicates. Empty strings and UNSPECIFIED enums are not indexed.
std::vector<std::string> CourseIndexKeys(const lifelong::v1::Course& course);

// ---- meta ---------------------------------------------------------------------

enum class MetaKey : uint8_t {
  kGeneration = 0x01,
  kCourseCount = 0x02,
  kArchivedCount = 0x03,
  kUpdateTime = 0x04,
  kPageTokenSecret = 0x05,
  kFormatVersion = 0x06,
  kAppliedLogSeq = 0x07,
};

inline constexpr uint32_t kCurrentFormatVersion = 1;
inline constexpr size_t kPageTokenSecretBytes = 32;

std::string MetaKeyBytes(MetaKey key);
std::string EncodeU64Value(uint64_t v);
// DATA_LOSS unless `value` is exactly 8 bytes.
absl::StatusOr<uint64_t> DecodeU64Value(absl::string_view value);
std::string EncodeU32Value(uint32_t v);
// DATA_LOSS unless `value` is exactly 4 bytes.
absl::StatusOr<uint32_t> DecodeU32Value(absl::string_view value);
std::string EncodeTimeValue(absl::Time t);
// DATA_LOSS unless `value` is exactly 8 bytes.
absl::StatusOr<absl::Time> DecodeTimeValue(absl::string_view value);

// ---- page token payload ---------------------------------------------------------

enum class PageTokenFormat : uint8_t {
  kV1 = 0x01,
};

struct PageTokenPayload {
  absl::Time issue_time;
  uint64_t filter_fingerprint = 0;
  std::string last_id;  // the last course id the previous page examined
};

// `payload.last_id` must be a valid course id.
std::string EncodePageTokenPayload(const PageTokenPayload& payload);
// DATA_LOSS on a short, long or malformed payload or an unknown format tag.
absl::StatusOr<PageTokenPayload> DecodePageTokenPayload(absl::string_view bytes);

}  // namespace lifelong::catalog::codec

#endif  // LIFELONG_SERVICES_CATALOG_CATALOG_CODEC_H_
