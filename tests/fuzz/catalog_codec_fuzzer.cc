// Fuzz target: decoders of the catalog's RocksDB keys and values and of its
// page token payload (services/catalog/catalog_codec.h). They read bytes from
// disk (or, for the payload, from a client via a token), so they must fail
// cleanly with DATA_LOSS on any input; what they accept must re-encode to
// exactly the same bytes, except course values, whose encoding must be stable
// (encode(decode(encode(c))) == encode(c)) and whose index keys must decode,
// and programme values (stable the same way).
//
// Every decoder runs on the whole input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "services/catalog/catalog_codec.h"
#include "tests/fuzz/fuzz_support.h"

namespace lifelong::catalog::codec {
namespace {

void ExpectDataLoss(const absl::Status& status) { FUZZ_CHECK(status.code() == absl::StatusCode::kDataLoss); }

void FuzzCourseKey(absl::string_view key) {
  absl::StatusOr<std::string> id = DecodeCourseKey(key);
  if (!id.ok()) return ExpectDataLoss(id.status());
  FUZZ_CHECK(IsValidCourseId(*id));
  FUZZ_CHECK(CourseKey(*id) == key);
}

void FuzzCourseValue(absl::string_view value) {
  absl::StatusOr<lifelong::v1::Course> course = DecodeCourseValue(value);
  if (!course.ok()) return ExpectDataLoss(course.status());
  const std::string encoded = EncodeCourseValue(*course);
  absl::StatusOr<lifelong::v1::Course> again = DecodeCourseValue(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(EncodeCourseValue(*again) == encoded);
  if (!IsValidCourseId(course->id())) return;
  const std::vector<std::string> keys = CourseIndexKeys(*course);
  FUZZ_CHECK(std::is_sorted(keys.begin(), keys.end()));
  FUZZ_CHECK(std::adjacent_find(keys.begin(), keys.end()) == keys.end());
  for (const std::string& key : keys) {
    // Terms longer than the u16 length field are the caller's to prevent
    // (catalog_codec.h); validation keeps them far shorter.
    if (key.size() > 3 + 65535 + kMaxCourseIdBytes) continue;
    absl::StatusOr<IndexEntry> entry = DecodeIndexKey(key);
    FUZZ_CHECK(entry.ok());
    FUZZ_CHECK(entry->course_id == course->id());
    FUZZ_CHECK(IndexKey(entry->kind, entry->term, entry->course_id) == key);
  }
}

void FuzzProgrammeValue(absl::string_view value) {
  absl::StatusOr<lifelong::v1::Programme> programme = DecodeProgrammeValue(value);
  if (!programme.ok()) return ExpectDataLoss(programme.status());
  const std::string encoded = EncodeProgrammeValue(*programme);
  absl::StatusOr<lifelong::v1::Programme> again = DecodeProgrammeValue(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(EncodeProgrammeValue(*again) == encoded);
}

void FuzzIndexKey(absl::string_view key) {
  absl::StatusOr<IndexEntry> entry = DecodeIndexKey(key);
  if (!entry.ok()) return ExpectDataLoss(entry.status());
  FUZZ_CHECK(IsValidCourseId(entry->course_id));
  FUZZ_CHECK(IndexKey(entry->kind, entry->term, entry->course_id) == key);
  FUZZ_CHECK(absl::string_view(key).substr(0, 3 + entry->term.size()) == IndexPrefix(entry->kind, entry->term));
}

void FuzzMetaValues(absl::string_view value) {
  absl::StatusOr<uint64_t> u64 = DecodeU64Value(value);
  if (u64.ok()) {
    FUZZ_CHECK(EncodeU64Value(*u64) == value);
  } else {
    ExpectDataLoss(u64.status());
  }
  absl::StatusOr<uint32_t> u32 = DecodeU32Value(value);
  if (u32.ok()) {
    FUZZ_CHECK(EncodeU32Value(*u32) == value);
  } else {
    ExpectDataLoss(u32.status());
  }
  absl::StatusOr<absl::Time> time = DecodeTimeValue(value);
  if (time.ok()) {
    FUZZ_CHECK(EncodeTimeValue(*time) == value);
  } else {
    ExpectDataLoss(time.status());
  }
}

void FuzzPrimitives(absl::string_view in) {
  absl::string_view v = in;
  absl::StatusOr<uint16_t> a = GetU16(&v);
  FUZZ_CHECK(a.ok() ? v.size() == in.size() - 2 : v.size() == in.size());
  v = in;
  absl::StatusOr<uint32_t> b = GetU32(&v);
  FUZZ_CHECK(b.ok() ? v.size() == in.size() - 4 : v.size() == in.size());
  v = in;
  absl::StatusOr<uint64_t> c = GetU64(&v);
  FUZZ_CHECK(c.ok() ? v.size() == in.size() - 8 : v.size() == in.size());
  v = in;
  absl::StatusOr<absl::Time> t = GetTime(&v);
  FUZZ_CHECK(t.ok() ? v.size() == in.size() - 8 : v.size() == in.size());
}

void FuzzPageTokenPayload(absl::string_view bytes) {
  absl::StatusOr<PageTokenPayload> payload = DecodePageTokenPayload(bytes);
  if (!payload.ok()) return ExpectDataLoss(payload.status());
  FUZZ_CHECK(IsValidCourseId(payload->last_id));
  FUZZ_CHECK(EncodePageTokenPayload(*payload) == bytes);
}

}  // namespace
}  // namespace lifelong::catalog::codec

// Quiets protobuf's log lines about invalid UTF-8 in string fields (parsing
// fails, as it should; the log would only drown the fuzzer's output).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lifelong::catalog::codec;
  const absl::string_view input = lifelong::fuzz::AsView(data, size);
  FuzzCourseKey(input);
  FuzzCourseValue(input);
  FuzzProgrammeValue(input);
  FuzzIndexKey(input);
  FuzzMetaValues(input);
  FuzzPrimitives(input);
  FuzzPageTokenPayload(input);
  return 0;
}
