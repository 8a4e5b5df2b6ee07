#include "services/records/key_codec.h"

#include <openssl/sha.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace lifelong::records {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::Status Corrupt(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("corrupt statement record: ", what));
}

// A bounds-checked reader over a byte string.
class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  bool Bytes(size_t n, absl::string_view* out) {
    if (in_.size() - pos_ < n) return false;
    *out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool U8(uint8_t* v) {
    absl::string_view b;
    if (!Bytes(1, &b)) return false;
    *v = static_cast<uint8_t>(b[0]);
    return true;
  }
  bool U16(uint16_t* v) {
    absl::string_view b;
    if (!Bytes(2, &b)) return false;
    *v = static_cast<uint16_t>((static_cast<uint8_t>(b[0]) << 8) | static_cast<uint8_t>(b[1]));
    return true;
  }
  bool U32(uint32_t* v) {
    absl::string_view b;
    if (!Bytes(4, &b)) return false;
    *v = 0;
    for (char c : b) *v = (*v << 8) | static_cast<uint8_t>(c);
    return true;
  }
  bool U64(uint64_t* v) {
    absl::string_view b;
    if (!Bytes(8, &b)) return false;
    *v = GetU64(b.data());
    return true;
  }
  bool Id(Uuid* id) {
    absl::string_view b;
    if (!Bytes(16, &b)) return false;
    std::memcpy(id->data(), b.data(), 16);
    return true;
  }
  bool Str16(std::string* s) {
    uint16_t n;
    absl::string_view b;
    if (!U16(&n) || !Bytes(n, &b)) return false;
    s->assign(b.data(), b.size());
    return true;
  }
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  absl::string_view in_;
  size_t pos_ = 0;
};

absl::Status PutStr16(std::string* out, absl::string_view s, absl::string_view field) {
  if (s.size() > kMaxKeyString) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": longer than ", kMaxKeyString, " bytes"));
  }
  PutU16(out, static_cast<uint16_t>(s.size()));
  out->append(s.data(), s.size());
  return absl::OkStatus();
}

void PutId(std::string* out, const Uuid& id) { out->append(reinterpret_cast<const char*>(id.data()), id.size()); }

}  // namespace

absl::StatusOr<Uuid> ParseUuid(absl::string_view text) {
  static constexpr int kDashAt[] = {8, 13, 18, 23};
  if (text.size() != 36) {
    return absl::InvalidArgumentError("not a UUID (want 8-4-4-4-12 hex digits)");
  }
  Uuid out{};
  int byte = 0;
  for (size_t i = 0; i < text.size();) {
    bool dash = false;
    for (int d : kDashAt) dash |= (static_cast<int>(i) == d);
    if (dash) {
      if (text[i] != '-') return absl::InvalidArgumentError("not a UUID (misplaced '-')");
      ++i;
      continue;
    }
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("not a UUID (non-hex digit)");
    out[byte++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return out;
}

std::string FormatUuid(const Uuid& uuid) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[uuid[i] >> 4]);
    s.push_back(kHex[uuid[i] & 15]);
  }
  return s;
}

bool IsZero(const Uuid& uuid) {
  for (uint8_t b : uuid) {
    if (b != 0) return false;
  }
  return true;
}

void PutU16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

void PutU32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

void PutU64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

bool FormatStoredTimestamp(uint64_t micros, char out[kStoredTimestampLen]) {
  const uint64_t secs = micros / 1000000;
  const uint32_t us = static_cast<uint32_t>(micros % 1000000);
  const uint64_t days = secs / 86400;
  const uint32_t sod = static_cast<uint32_t>(secs % 86400);
  // Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
  // civil_from_days, for non-negative days).
  const uint64_t z = days + 719468;
  const uint64_t era = z / 146097;
  const uint32_t doe = static_cast<uint32_t>(z - era * 146097);
  const uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const uint32_t mp = (5 * doy + 2) / 153;
  const uint32_t day = doy - (153 * mp + 2) / 5 + 1;
  const uint32_t month = mp < 10 ? mp + 3 : mp - 9;
  const uint64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year > 9999) return false;
  auto put = [&](size_t at, uint64_t v, int digits) {
    for (int i = digits - 1; i >= 0; --i, v /= 10) out[at + i] = static_cast<char>('0' + v % 10);
  };
  put(0, year, 4);
  out[4] = '-';
  put(5, month, 2);
  out[7] = '-';
  put(8, day, 2);
  out[10] = 'T';
  put(11, sod / 3600, 2);
  out[13] = ':';
  put(14, sod / 60 % 60, 2);
  out[16] = ':';
  put(17, sod % 60, 2);
  out[19] = '.';
  put(20, us, 6);
  out[26] = 'Z';
  return true;
}

absl::Status AppendStatementRecordHeader(const StatementRecord& r, size_t json_size, std::string* out) {
  if (r.learners.size() > 255) {
    return absl::InvalidArgumentError("actor: more than 255 group members");
  }
  if (json_size > UINT32_MAX) return absl::InvalidArgumentError("statement: too large");
  size_t header = 51 + 2 + r.verb.size() + 2 + r.activity.size() + 4;
  for (const std::string& l : r.learners) header += 2 + l.size();
  const size_t start = out->size();
  out->reserve(start + header + json_size);
  out->push_back(1);
  out->push_back(static_cast<char>(r.flags));
  PutU64(out, r.stored_seq);
  PutU64(out, static_cast<uint64_t>(r.timestamp_us));
  PutId(out, r.voided_by);
  PutId(out, r.registration);
  out->push_back(static_cast<char>(r.learners.size()));
  absl::Status s;
  for (const std::string& l : r.learners) {
    if (s.ok()) s = PutStr16(out, l, "actor");
  }
  if (s.ok()) s = PutStr16(out, r.verb, "verb.id");
  if (s.ok()) s = PutStr16(out, r.activity, "object.id");
  if (!s.ok()) {
    out->resize(start);
    return s;
  }
  PutU32(out, static_cast<uint32_t>(json_size));
  return absl::OkStatus();
}

absl::StatusOr<std::string> EncodeStatementRecord(const StatementRecord& r) {
  std::string out;
  absl::Status s = AppendStatementRecordHeader(r, r.json.size(), &out);
  if (!s.ok()) return s;
  out.append(r.json);
  return out;
}

absl::StatusOr<StatementRecord> DecodeStatementRecord(absl::string_view value) {
  Reader in(value);
  StatementRecord r;
  uint8_t format, n;
  uint64_t ts;
  if (!in.U8(&format)) return Corrupt("empty");
  if (format != 1) return Corrupt(absl::StrCat("unknown format ", format));
  if (!in.U8(&r.flags) || !in.U64(&r.stored_seq) || !in.U64(&ts) || !in.Id(&r.voided_by) || !in.Id(&r.registration) ||
      !in.U8(&n)) {
    return Corrupt("truncated header");
  }
  r.timestamp_us = static_cast<int64_t>(ts);
  r.learners.resize(n);
  for (std::string& l : r.learners) {
    if (!in.Str16(&l)) return Corrupt("truncated learner key");
  }
  if (!in.Str16(&r.verb) || !in.Str16(&r.activity)) return Corrupt("truncated verb/activity");
  uint32_t json_len;
  absl::string_view json;
  if (!in.U32(&json_len) || !in.Bytes(json_len, &json)) return Corrupt("truncated json");
  if (!in.AtEnd()) return Corrupt("trailing bytes");
  r.json.assign(json.data(), json.size());
  return r;
}

std::string EncodeStringPrefix(absl::string_view s) {
  std::string out;
  out.reserve(2 + s.size() + 24);
  PutU16(&out, static_cast<uint16_t>(s.size()));
  out.append(s.data(), s.size());
  return out;
}

std::string EncodeStringIndexKey(absl::string_view s, uint64_t seq, const Uuid& id) {
  std::string out = EncodeStringPrefix(s);
  PutU64(&out, seq);
  PutId(&out, id);
  return out;
}

std::string EncodeRegistrationPrefix(const Uuid& registration) {
  std::string out;
  PutId(&out, registration);
  return out;
}

std::string EncodeRegistrationIndexKey(const Uuid& registration, uint64_t seq, const Uuid& id) {
  std::string out = EncodeRegistrationPrefix(registration);
  PutU64(&out, seq);
  PutId(&out, id);
  return out;
}

std::string EncodeStoredKey(uint64_t seq, const Uuid& id) {
  std::string out;
  PutU64(&out, seq);
  PutId(&out, id);
  return out;
}

absl::StatusOr<IndexPosition> DecodeIndexTail(absl::string_view key, size_t prefix_len) {
  if (key.size() != prefix_len + 24) {
    return absl::InvalidArgumentError("corrupt index key: wrong length");
  }
  IndexPosition pos;
  pos.seq = GetU64(key.data() + prefix_len);
  std::memcpy(pos.id.data(), key.data() + prefix_len + 8, 16);
  return pos;
}

std::string EncodeReferenceIndexKey(absl::string_view index_prefix, uint64_t seq, const Uuid& id) {
  std::string out(index_prefix);
  PutU64(&out, seq);
  PutId(&out, id);
  out.push_back(kReferenceMarker);
  return out;
}

absl::StatusOr<IndexEntry> DecodeIndexEntry(absl::string_view key, size_t prefix_len) {
  IndexEntry e;
  if (key.size() == prefix_len + 25) {
    if (key.back() != kReferenceMarker) return absl::InvalidArgumentError("corrupt index key: bad marker");
    e.is_reference = true;
    key.remove_suffix(1);
  }
  absl::StatusOr<IndexPosition> pos = DecodeIndexTail(key, prefix_len);
  if (!pos.ok()) return pos.status();
  e.seq = pos->seq;
  e.id = pos->id;
  return e;
}

std::string EncodeTargetKey(const Uuid& target) {
  return std::string(reinterpret_cast<const char*>(target.data()), 16);
}

std::string EncodeReferrerKey(const Uuid& target, const Uuid& referrer) {
  std::string key = EncodeTargetKey(target);
  key.append(reinterpret_cast<const char*>(referrer.data()), 16);
  return key;
}

absl::StatusOr<Uuid> DecodeReferrerKey(absl::string_view key) {
  if (key.size() != 32) return absl::InvalidArgumentError("corrupt referrer key: wrong length");
  Uuid id;
  std::memcpy(id.data(), key.data() + 16, 16);
  return id;
}

absl::StatusOr<std::vector<Uuid>> DecodeReferrers(absl::string_view value) {
  if (value.size() % 16 != 0) return absl::InvalidArgumentError("corrupt referrer list: wrong length");
  std::vector<Uuid> out(value.size() / 16);
  for (size_t i = 0; i < out.size(); ++i) std::memcpy(out[i].data(), value.data() + 16 * i, 16);
  return out;
}

std::string LearnerDigest(absl::string_view learner) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(learner.data()), learner.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

std::string EncodeErasureLogKey(int64_t time_us, absl::string_view learner_digest) {
  std::string key(kMetaErasureLogPrefix);
  PutU64(&key, static_cast<uint64_t>(time_us));
  key.append(learner_digest.data(), learner_digest.size());
  return key;
}

absl::StatusOr<ErasureLogKey> DecodeErasureLogKey(absl::string_view key) {
  const absl::string_view prefix(kMetaErasureLogPrefix);
  if (key.size() != prefix.size() + 8 + 32 || key.substr(0, prefix.size()) != prefix) {
    return absl::InvalidArgumentError("corrupt erasure log key");
  }
  ErasureLogKey out;
  out.time_us = static_cast<int64_t>(GetU64(key.data() + prefix.size()));
  out.learner_digest = std::string(key.substr(prefix.size() + 8));
  return out;
}

}  // namespace lifelong::records
