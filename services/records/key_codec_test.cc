#include "services/records/key_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "services/domain/xapi_time.h"

namespace lifelong::records {
namespace {

// The leader's allocation-free stamp is byte for byte the domain's format.
TEST(StoredTimestampTest, SameAsFormatTimestampMicros) {
  std::vector<uint64_t> cases = {0,
                                 1,
                                 999999,
                                 86399999999ULL,          // 1970-01-01T23:59:59.999999Z
                                 951782400000000ULL,      // 2000-02-29
                                 951868800000000ULL,      // 2000-03-01
                                 4107542400000000ULL,     // 2100-03-01 (2100 is no leap year)
                                 1709164800123456ULL,     // 2024-02-29
                                 1798761599999999ULL,     // 2026-12-31T23:59:59.999999Z
                                 1798761600000000ULL,     // 2027-01-01
                                 253402300799999999ULL};  // 9999-12-31T23:59:59.999999Z
  std::mt19937_64 rng(16);
  for (int i = 0; i < 200000; ++i) cases.push_back(rng() % 253402300800000000ULL);
  for (uint64_t micros : cases) {
    char out[kStoredTimestampLen];
    ASSERT_TRUE(FormatStoredTimestamp(micros, out)) << micros;
    ASSERT_EQ(std::string(out, kStoredTimestampLen), domain::FormatTimestampMicros(static_cast<int64_t>(micros)))
        << micros;
  }
  // Year 10000 does not fit the fixed width: refused, nothing written.
  char out[kStoredTimestampLen] = {'x'};
  EXPECT_FALSE(FormatStoredTimestamp(253402300800000000ULL, out));
  EXPECT_FALSE(FormatStoredTimestamp(UINT64_MAX, out));
  EXPECT_EQ(out[0], 'x');
}

Uuid U(uint8_t fill) {
  Uuid u;
  u.fill(fill);
  return u;
}

std::string Hex(const std::string& s) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(k[c >> 4]);
    out.push_back(k[c & 15]);
  }
  return out;
}

TEST(KeyCodec, UuidRoundTripAndCaseInsensitivity) {
  absl::StatusOr<Uuid> u = ParseUuid("0123ABCD-4567-89ab-cdef-0123456789AB");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(FormatUuid(*u), "0123abcd-4567-89ab-cdef-0123456789ab");
  EXPECT_EQ((*u)[0], 0x01);
  EXPECT_EQ((*u)[15], 0xab);
}

TEST(KeyCodec, UuidRejectsMalformed) {
  for (const char* bad : {"", "0123abcd456789abcdef0123456789ab", "0123abcd-4567-89ab-cdef-0123456789a",
                          "0123abcd-4567-89ab-cdef-0123456789abc", "0123abcd_4567-89ab-cdef-0123456789ab",
                          "g123abcd-4567-89ab-cdef-0123456789ab"}) {
    EXPECT_EQ(ParseUuid(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(KeyCodec, GoldenIndexKeys) {
  Uuid id = U(0xAA);
  EXPECT_EQ(Hex(EncodeStringIndexKey("u1", 0x0102030405060708ULL, id)),
            "0002"
            "7531"
            "0102030405060708" +
                std::string(32, 'a'));
  EXPECT_EQ(Hex(EncodeStoredKey(1, id)), "0000000000000001" + std::string(32, 'a'));
  EXPECT_EQ(Hex(EncodeRegistrationIndexKey(U(0x11), 2, id)),
            std::string(32, '1') + "0000000000000002" + std::string(32, 'a'));
}

TEST(KeyCodec, GoldenStatementRecord) {
  StatementRecord r;
  r.flags = 0x05;
  r.stored_seq = 0x10;
  r.timestamp_us = -1;
  r.learners = {"u"};
  r.verb = "v";
  r.activity = "";
  r.json = "{}";
  absl::StatusOr<std::string> v = EncodeStatementRecord(r);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(Hex(*v),
            "01"
            "05"
            "0000000000000010"
            "ffffffffffffffff" +
                std::string(64, '0') +
                "01"
                "0001"
                "75"
                "0001"
                "76"
                "0000"
                "00000002"
                "7b7d");
}

TEST(KeyCodec, StatementRecordHeaderThenJsonIsTheEncoding) {
  StatementRecord r;
  r.flags = 0x22;
  r.stored_seq = 0x0102030405060708ULL;
  r.timestamp_us = 42;
  r.registration = U(0x33);
  r.learners = {"u1", "mailto:a@b.c"};
  r.verb = "http://adlnet.gov/expapi/verbs/completed";
  r.activity = "https://lifelong.dongcheng.edu.cn/courses/c1";
  r.json = R"({"id":"x","verb":{"display":{"zh-CN":"完成"}}})";
  // Appended after what `out` already holds, with `record.json` ignored.
  std::string out = "prefix";
  StatementRecord without_json = r;
  without_json.json = "ignored";
  ASSERT_TRUE(AppendStatementRecordHeader(without_json, r.json.size(), &out).ok());
  out.append(r.json);
  EXPECT_EQ(out, "prefix" + *EncodeStatementRecord(r));
  EXPECT_GE(out.capacity(), out.size());
  // The same errors as EncodeStatementRecord, leaving `out` as it was.
  StatementRecord bad = r;
  bad.verb = std::string(kMaxKeyString + 1, 'v');
  std::string kept = "kept";
  EXPECT_EQ(AppendStatementRecordHeader(bad, 2, &kept).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(kept, "kept");
  bad = r;
  bad.learners.assign(256, "u");
  EXPECT_EQ(AppendStatementRecordHeader(bad, 2, &kept).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(kept, "kept");
  EXPECT_EQ(AppendStatementRecordHeader(r, size_t{UINT32_MAX} + 1, &kept).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(kept, "kept");
}

TEST(KeyCodec, StatementRecordRoundTripAtBoundaries) {
  StatementRecord r;
  r.flags = 0xFF;
  r.stored_seq = UINT64_MAX;
  r.timestamp_us = INT64_MIN;
  r.voided_by = U(0xFF);
  r.registration = U(0x00);
  r.learners = {"", std::string(kMaxKeyString, 'x'), "mailto:a@b.c"};
  r.verb = "http://adlnet.gov/expapi/verbs/completed";
  r.activity = std::string(kMaxKeyString, 'y');
  r.json = std::string(1 << 20, 'j');
  absl::StatusOr<std::string> v = EncodeStatementRecord(r);
  ASSERT_TRUE(v.ok());
  absl::StatusOr<StatementRecord> d = DecodeStatementRecord(*v);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->flags, r.flags);
  EXPECT_EQ(d->stored_seq, r.stored_seq);
  EXPECT_EQ(d->timestamp_us, r.timestamp_us);
  EXPECT_EQ(d->voided_by, r.voided_by);
  EXPECT_EQ(d->learners, r.learners);
  EXPECT_EQ(d->verb, r.verb);
  EXPECT_EQ(d->activity, r.activity);
  EXPECT_EQ(d->json, r.json);
}

TEST(KeyCodec, EncodeRejectsOversizeStrings) {
  StatementRecord r;
  r.learners = {std::string(kMaxKeyString + 1, 'x')};
  EXPECT_EQ(EncodeStatementRecord(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.learners = std::vector<std::string>(256, "u");
  EXPECT_EQ(EncodeStatementRecord(r).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KeyCodec, DecodeFailsCleanlyOnEveryTruncation) {
  StatementRecord r;
  r.learners = {"u1", "u2"};
  r.verb = "http://v";
  r.activity = "http://a";
  r.json = R"({"a":1})";
  std::string v = *EncodeStatementRecord(r);
  for (size_t n = 0; n < v.size(); ++n) {
    EXPECT_EQ(DecodeStatementRecord(v.substr(0, n)).status().code(), absl::StatusCode::kInvalidArgument)
        << "prefix length " << n;
  }
  EXPECT_EQ(DecodeStatementRecord(v + "x").status().code(), absl::StatusCode::kInvalidArgument);
  std::string bad_format = v;
  bad_format[0] = 2;
  EXPECT_EQ(DecodeStatementRecord(bad_format).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KeyCodec, DecodeSurvivesRandomBytes) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 100, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    (void)DecodeStatementRecord(junk);  // must not crash or over-read (ASan-clean)
  }
}

TEST(KeyCodec, IndexKeysOrderBySequenceWithinOneString) {
  std::vector<uint64_t> seqs = {0, 1, 255, 256, 65535, 1ULL << 32, (1ULL << 63) + 5, UINT64_MAX};
  std::vector<std::string> keys;
  for (uint64_t s : seqs) keys.push_back(EncodeStringIndexKey("learner", s, U(0)));
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  // Sequence ties break on id.
  EXPECT_LT(EncodeStoredKey(5, U(1)), EncodeStoredKey(5, U(2)));
  EXPECT_LT(EncodeStoredKey(5, U(0xFF)), EncodeStoredKey(6, U(0)));
}

TEST(KeyCodec, StringPrefixDoesNotMatchLongerStrings) {
  // "u1" must not be a byte prefix of keys for "u10".
  std::string p = EncodeStringPrefix("u1");
  std::string other = EncodeStringIndexKey("u10", 1, U(0));
  EXPECT_NE(other.compare(0, p.size(), p), 0);
}

TEST(KeyCodec, DecodeIndexTail) {
  std::string key = EncodeStringIndexKey("abc", 42, U(7));
  absl::StatusOr<IndexPosition> pos = DecodeIndexTail(key, EncodeStringPrefix("abc").size());
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(pos->seq, 42u);
  EXPECT_EQ(pos->id, U(7));
  EXPECT_EQ(DecodeIndexTail(key.substr(1), 5).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KeyCodec, ReferenceEntrySortsRightAfterOwnEntryAndDecodes) {
  std::string prefix = EncodeStringPrefix("abc");
  std::string own = EncodeStringIndexKey("abc", 42, U(7));
  std::string ref = EncodeReferenceIndexKey(prefix, 42, U(7));
  EXPECT_EQ(ref, own + "R");
  EXPECT_LT(own, ref);
  EXPECT_LT(ref, EncodeStringIndexKey("abc", 42, U(8)));
  absl::StatusOr<IndexEntry> e = DecodeIndexEntry(ref, prefix.size());
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->is_reference);
  EXPECT_EQ(e->seq, 42u);
  EXPECT_EQ(e->id, U(7));
  e = DecodeIndexEntry(own, prefix.size());
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->is_reference);
  std::string bad = own + "X";
  EXPECT_EQ(DecodeIndexEntry(bad, prefix.size()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeIndexEntry(own + "RR", prefix.size()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KeyCodec, ReferrerListsDecodeWholeIdsOnly) {
  std::string two = EncodeTargetKey(U(1)) + EncodeTargetKey(U(2));
  absl::StatusOr<std::vector<Uuid>> ids = DecodeReferrers(two);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<Uuid>{U(1), U(2)}));
  EXPECT_EQ(DecodeReferrers(two.substr(1)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(DecodeReferrers("").ok()) << "a schema-2 marker";
}

TEST(KeyCodec, ReferrerKeysSortUnderTheirTargetsMarker) {
  const std::string key = EncodeReferrerKey(U(1), U(2));
  EXPECT_EQ(key, EncodeTargetKey(U(1)) + EncodeTargetKey(U(2)));  // golden: target | referrer
  EXPECT_LT(EncodeTargetKey(U(1)), key) << "the marker comes first";
  EXPECT_LT(key, EncodeTargetKey(U(2)));
  absl::StatusOr<Uuid> referrer = DecodeReferrerKey(key);
  ASSERT_TRUE(referrer.ok());
  EXPECT_EQ(*referrer, U(2));
  EXPECT_EQ(DecodeReferrerKey(EncodeTargetKey(U(1))).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeReferrerKey(key + "x").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KeyCodec, ErasureLogKeyGoldenRoundTripAndOrder) {
  const std::string digest = LearnerDigest("u42");
  ASSERT_EQ(digest.size(), 32u);
  // SHA-256("u42"), as `printf u42 | sha256sum` prints it.
  EXPECT_EQ(Hex(digest), "d472ef773520c93109073e75932a1edd85bdb9c1b501b911cfefca90808dfd85");
  std::string k = EncodeErasureLogKey(0x0102030405060708, digest);
  EXPECT_EQ(Hex(k), Hex(std::string("erasure_log/") + std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8) + digest));
  absl::StatusOr<ErasureLogKey> d = DecodeErasureLogKey(k);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->time_us, 0x0102030405060708);
  EXPECT_EQ(d->learner_digest, digest);
  // Time order is key order.
  EXPECT_LT(EncodeErasureLogKey(255, std::string(32, '\xff')), EncodeErasureLogKey(256, std::string(32, '\0')));
  EXPECT_EQ(DecodeErasureLogKey("erasure_log/1234567").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeErasureLogKey(k.substr(0, k.size() - 1)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeErasureLogKey(k + "x").status().code(), absl::StatusCode::kInvalidArgument);
  std::string other = k;
  other[0] = 'k';
  EXPECT_EQ(DecodeErasureLogKey(other).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(kMetaAppliedLogSeq), "replication/applied_seq");
}

}  // namespace
}  // namespace lifelong::records
