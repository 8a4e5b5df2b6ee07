// Fuzz target: decoders of the record store's RocksDB values and keys
// (services/records/key_codec.h). They read bytes from disk, which a crash, a
// bug or a manual edit may have corrupted, so they must fail cleanly on any
// input; what they accept must re-encode to exactly the same bytes (the
// layouts have a single encoding).
//
// Input: byte 0 is the prefix length for the index-key decoders; all bytes are
// also tried as a StatementRecord value, an index key, a referrer list and an
// erasure log key (as is and after the "erasure_log/" prefix).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "services/records/key_codec.h"
#include "tests/fuzz/fuzz_support.h"

namespace lifelong::records {
namespace {

void FuzzStatementRecord(absl::string_view value) {
  absl::StatusOr<StatementRecord> record = DecodeStatementRecord(value);
  if (!record.ok()) {
    FUZZ_CHECK(record.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  absl::StatusOr<std::string> encoded = EncodeStatementRecord(*record);
  if (!encoded.ok()) {
    // Only strings the encoder caps more tightly than the u16 length field.
    bool too_long = record->verb.size() > kMaxKeyString || record->activity.size() > kMaxKeyString;
    for (const std::string& l : record->learners) too_long |= l.size() > kMaxKeyString;
    FUZZ_CHECK(too_long);
    return;
  }
  FUZZ_CHECK(*encoded == value);
}

void FuzzIndexKey(absl::string_view key, size_t prefix_len) {
  absl::StatusOr<IndexPosition> tail = DecodeIndexTail(key, prefix_len);
  if (tail.ok()) {
    FUZZ_CHECK(key.size() == prefix_len + 24);
    FUZZ_CHECK(EncodeStoredKey(tail->seq, tail->id) == key.substr(prefix_len));
  } else {
    FUZZ_CHECK(tail.status().code() == absl::StatusCode::kInvalidArgument);
  }
  absl::StatusOr<IndexEntry> entry = DecodeIndexEntry(key, prefix_len);
  if (!entry.ok()) {
    FUZZ_CHECK(entry.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  const absl::string_view prefix = key.substr(0, prefix_len);
  if (entry->is_reference) {
    FUZZ_CHECK(EncodeReferenceIndexKey(prefix, entry->seq, entry->id) == key);
  } else {
    FUZZ_CHECK(std::string(prefix) + EncodeStoredKey(entry->seq, entry->id) == key);
  }
}

void FuzzReferrers(absl::string_view value) {
  absl::StatusOr<std::vector<Uuid>> ids = DecodeReferrers(value);
  if (!ids.ok()) {
    FUZZ_CHECK(ids.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  std::string encoded;
  for (const Uuid& id : *ids) encoded += EncodeTargetKey(id);
  FUZZ_CHECK(encoded == value);
  absl::StatusOr<Uuid> referrer = DecodeReferrerKey(value);
  if (!referrer.ok()) {
    FUZZ_CHECK(referrer.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  Uuid target;
  std::memcpy(target.data(), value.data(), 16);
  FUZZ_CHECK(EncodeReferrerKey(target, *referrer) == value);
}

void FuzzErasureLogKey(absl::string_view key) {
  absl::StatusOr<ErasureLogKey> k = DecodeErasureLogKey(key);
  if (!k.ok()) {
    FUZZ_CHECK(k.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(k->learner_digest.size() == 32);
  FUZZ_CHECK(EncodeErasureLogKey(k->time_us, k->learner_digest) == key);
}

}  // namespace
}  // namespace lifelong::records

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lifelong::records;
  const absl::string_view input = lifelong::fuzz::AsView(data, size);
  FuzzStatementRecord(input);
  FuzzReferrers(input);
  FuzzErasureLogKey(input);
  // With the erasure log's prefix, so the fuzzer reaches past the prefix check.
  FuzzErasureLogKey(std::string(kMetaErasureLogPrefix) + std::string(input));
  if (!input.empty()) {
    // Prefix lengths a little past the key's end as well.
    const size_t prefix_len = static_cast<uint8_t>(input[0]);
    FuzzIndexKey(input.substr(1), prefix_len);
    FuzzIndexKey(input, input.size() >= 24 ? input.size() - 24 : 0);
    FuzzIndexKey(input, input.size() >= 25 ? input.size() - 25 : 0);
  }
  return 0;
}
