#include "services/catalog/catalog_codec.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace lifelong::catalog::codec {
namespace {

using lifelong::v1::Course;

absl::Status Short(absl::string_view what) { return absl::DataLossError(absl::StrCat(what, ": input too short")); }

template <typename T>
void PutBigEndian(std::string* out, T v) {
  for (int shift = (sizeof(T) - 1) * 8; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

template <typename T>
absl::StatusOr<T> GetBigEndian(absl::string_view* in, absl::string_view what) {
  if (in->size() < sizeof(T)) return Short(what);
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v = static_cast<T>((v << 8) | static_cast<uint8_t>((*in)[i]));
  }
  in->remove_prefix(sizeof(T));
  return v;
}

constexpr uint64_t kSignBit = uint64_t{1} << 63;

bool IsKnownIndexKind(uint8_t tag) {
  return tag >= static_cast<uint8_t>(IndexKind::kState) && tag <= static_cast<uint8_t>(IndexKind::kVenue);
}

}  // namespace

void PutU16(std::string* out, uint16_t v) { PutBigEndian(out, v); }
void PutU32(std::string* out, uint32_t v) { PutBigEndian(out, v); }
void PutU64(std::string* out, uint64_t v) { PutBigEndian(out, v); }

absl::StatusOr<uint16_t> GetU16(absl::string_view* in) { return GetBigEndian<uint16_t>(in, "uint16"); }
absl::StatusOr<uint32_t> GetU32(absl::string_view* in) { return GetBigEndian<uint32_t>(in, "uint32"); }
absl::StatusOr<uint64_t> GetU64(absl::string_view* in) { return GetBigEndian<uint64_t>(in, "uint64"); }

void PutTime(std::string* out, absl::Time t) {
  const int64_t micros = absl::ToUnixMicros(t);  // saturates at the int64 range
  PutU64(out, static_cast<uint64_t>(micros) ^ kSignBit);
}

absl::StatusOr<absl::Time> GetTime(absl::string_view* in) {
  if (in->size() < 8) return Short("time");
  absl::StatusOr<uint64_t> raw = GetU64(in);
  if (!raw.ok()) return raw.status();
  return absl::FromUnixMicros(static_cast<int64_t>(*raw ^ kSignBit));
}

// ---- courses ----------------------------------------------------------------

bool IsValidCourseId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxCourseIdBytes) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string CourseKey(absl::string_view id) { return std::string(id); }

absl::StatusOr<std::string> DecodeCourseKey(absl::string_view key) {
  if (!IsValidCourseId(key)) return absl::DataLossError("course key: not a valid course id");
  return std::string(key);
}

std::string EncodeCourseValue(const Course& course) {
  std::string out;
  out.push_back(static_cast<char>(CourseValueFormat::kProtoV1));
  std::string body;
  {
    google::protobuf::io::StringOutputStream stream(&body);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    course.SerializeToCodedStream(&coded);
  }
  out += body;
  return out;
}

absl::StatusOr<Course> DecodeCourseValue(absl::string_view value) {
  if (value.empty()) return Short("course value");
  if (static_cast<uint8_t>(value[0]) != static_cast<uint8_t>(CourseValueFormat::kProtoV1)) {
    return absl::DataLossError(absl::StrCat("course value: unknown format tag ", static_cast<uint8_t>(value[0])));
  }
  value.remove_prefix(1);
  Course course;
  if (!course.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError("course value: protobuf does not parse");
  }
  return course;
}

// ---- programmes -----------------------------------------------------------------

std::string ProgrammeKey(absl::string_view id) { return std::string(id); }

std::string EncodeProgrammeValue(const lifelong::v1::Programme& programme) {
  std::string out;
  out.push_back(static_cast<char>(ProgrammeValueFormat::kProtoV1));
  std::string body;
  {
    google::protobuf::io::StringOutputStream stream(&body);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    programme.SerializeToCodedStream(&coded);
  }
  out += body;
  return out;
}

absl::StatusOr<lifelong::v1::Programme> DecodeProgrammeValue(absl::string_view value) {
  if (value.empty()) return Short("programme value");
  if (static_cast<uint8_t>(value[0]) != static_cast<uint8_t>(ProgrammeValueFormat::kProtoV1)) {
    return absl::DataLossError(absl::StrCat("programme value: unknown format tag ", static_cast<uint8_t>(value[0])));
  }
  value.remove_prefix(1);
  lifelong::v1::Programme programme;
  if (!programme.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError("programme value: protobuf does not parse");
  }
  return programme;
}

// ---- course_index -------------------------------------------------------------

std::string EnumTerm(int value) { return std::string(1, static_cast<char>(value & 0xff)); }

std::string IndexPrefix(IndexKind kind, absl::string_view term) {
  std::string out;
  out.reserve(3 + term.size());
  out.push_back(static_cast<char>(kind));
  PutU16(&out, static_cast<uint16_t>(term.size()));
  out.append(term.data(), term.size());
  return out;
}

std::string IndexKey(IndexKind kind, absl::string_view term, absl::string_view course_id) {
  std::string out = IndexPrefix(kind, term);
  out.append(course_id.data(), course_id.size());
  return out;
}

absl::StatusOr<IndexEntry> DecodeIndexKey(absl::string_view key) {
  if (key.empty()) return Short("index key");
  const uint8_t tag = static_cast<uint8_t>(key[0]);
  if (!IsKnownIndexKind(tag)) {
    return absl::DataLossError(absl::StrCat("index key: unknown kind ", tag));
  }
  key.remove_prefix(1);
  absl::StatusOr<uint16_t> len = GetU16(&key);
  if (!len.ok()) return Short("index key");
  if (key.size() < *len) return Short("index key term");
  IndexEntry entry;
  entry.kind = static_cast<IndexKind>(tag);
  entry.term = std::string(key.substr(0, *len));
  key.remove_prefix(*len);
  if (!IsValidCourseId(key)) return absl::DataLossError("index key: invalid course id");
  entry.course_id = std::string(key);
  return entry;
}

std::vector<std::string> CourseIndexKeys(const Course& course) {
  const std::string& id = course.id();
  std::vector<std::string> keys;
  keys.push_back(IndexKey(IndexKind::kState, EnumTerm(course.state()), id));
  if (course.mode() != Course::MODE_UNSPECIFIED) {
    keys.push_back(IndexKey(IndexKind::kMode, EnumTerm(course.mode()), id));
  }
  if (course.level() != Course::LEVEL_UNSPECIFIED) {
    keys.push_back(IndexKey(IndexKind::kLevel, EnumTerm(course.level()), id));
  }
  for (int audience : course.audiences()) {
    if (audience != Course::AUDIENCE_UNSPECIFIED) {
      keys.push_back(IndexKey(IndexKind::kAudience, EnumTerm(audience), id));
    }
  }
  if (!course.category().empty()) {
    keys.push_back(IndexKey(IndexKind::kCategory, course.category(), id));
  }
  for (const std::string& tag : course.tags()) {
    if (!tag.empty()) keys.push_back(IndexKey(IndexKind::kTag, tag, id));
  }
  if (!course.venue().xuequ().empty()) {
    keys.push_back(IndexKey(IndexKind::kXuequ, course.venue().xuequ(), id));
  }
  if (!course.venue().jiedao().empty()) {
    keys.push_back(IndexKey(IndexKind::kJiedao, course.venue().jiedao(), id));
  }
  if (!course.venue().id().empty()) {
    keys.push_back(IndexKey(IndexKind::kVenue, course.venue().id(), id));
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

// ---- meta ---------------------------------------------------------------------

std::string MetaKeyBytes(MetaKey key) { return std::string(1, static_cast<char>(key)); }

std::string EncodeU64Value(uint64_t v) {
  std::string out;
  PutU64(&out, v);
  return out;
}

absl::StatusOr<uint64_t> DecodeU64Value(absl::string_view value) {
  if (value.size() != 8) return absl::DataLossError("uint64 value: must be 8 bytes");
  return GetU64(&value);
}

std::string EncodeU32Value(uint32_t v) {
  std::string out;
  PutU32(&out, v);
  return out;
}

absl::StatusOr<uint32_t> DecodeU32Value(absl::string_view value) {
  if (value.size() != 4) return absl::DataLossError("uint32 value: must be 4 bytes");
  return GetU32(&value);
}

std::string EncodeTimeValue(absl::Time t) {
  std::string out;
  PutTime(&out, t);
  return out;
}

absl::StatusOr<absl::Time> DecodeTimeValue(absl::string_view value) {
  if (value.size() != 8) return absl::DataLossError("time value: must be 8 bytes");
  return GetTime(&value);
}

// ---- page token payload ---------------------------------------------------------

std::string EncodePageTokenPayload(const PageTokenPayload& payload) {
  std::string out;
  out.push_back(static_cast<char>(PageTokenFormat::kV1));
  PutTime(&out, payload.issue_time);
  PutU64(&out, payload.filter_fingerprint);
  out.push_back(static_cast<char>(payload.last_id.size()));
  out += payload.last_id;
  return out;
}

absl::StatusOr<PageTokenPayload> DecodePageTokenPayload(absl::string_view bytes) {
  if (bytes.empty()) return Short("page token");
  if (static_cast<uint8_t>(bytes[0]) != static_cast<uint8_t>(PageTokenFormat::kV1)) {
    return absl::DataLossError("page token: unknown format tag");
  }
  bytes.remove_prefix(1);
  PageTokenPayload payload;
  absl::StatusOr<absl::Time> issued = GetTime(&bytes);
  if (!issued.ok()) return Short("page token");
  payload.issue_time = *issued;
  absl::StatusOr<uint64_t> fingerprint = GetU64(&bytes);
  if (!fingerprint.ok()) return Short("page token");
  payload.filter_fingerprint = *fingerprint;
  if (bytes.empty()) return Short("page token");
  const size_t n = static_cast<uint8_t>(bytes[0]);
  bytes.remove_prefix(1);
  if (bytes.size() < n) return Short("page token");
  if (bytes.size() > n) return absl::DataLossError("page token: trailing bytes");
  if (!IsValidCourseId(bytes)) return absl::DataLossError("page token: invalid course id");
  payload.last_id = std::string(bytes);
  return payload;
}

}  // namespace lifelong::catalog::codec
