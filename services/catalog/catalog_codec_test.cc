#include "services/catalog/catalog_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace lifelong::catalog::codec {
namespace {

using lifelong::v1::Course;

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

TEST(CatalogCodec, IntegersRoundTripAtBoundaries) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256}, uint64_t{0x0102030405060708},
                     std::numeric_limits<uint64_t>::max()}) {
    absl::StatusOr<uint64_t> back = DecodeU64Value(EncodeU64Value(v));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, v);
  }
  for (uint32_t v : {uint32_t{0}, uint32_t{1}, std::numeric_limits<uint32_t>::max()}) {
    absl::StatusOr<uint32_t> back = DecodeU32Value(EncodeU32Value(v));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, v);
  }
  std::string s;
  PutU16(&s, 0xBEEF);
  absl::string_view in = s;
  absl::StatusOr<uint16_t> v16 = GetU16(&in);
  ASSERT_TRUE(v16.ok());
  EXPECT_EQ(*v16, 0xBEEF);
  EXPECT_TRUE(in.empty());
}

TEST(CatalogCodec, IntegerGoldenBytesAreBigEndian) {
  EXPECT_EQ(EncodeU64Value(0x0102030405060708), Bytes({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08}));
  EXPECT_EQ(EncodeU32Value(1), Bytes({0, 0, 0, 1}));
  std::string s;
  PutU16(&s, 0x0102);
  EXPECT_EQ(s, Bytes({0x01, 0x02}));
}

TEST(CatalogCodec, IntegerOrderIsByteOrder) {
  const std::vector<uint64_t> values = {0,     1,          255,        256,
                                        65535, 1ull << 32, 1ull << 63, std::numeric_limits<uint64_t>::max()};
  for (size_t i = 1; i < values.size(); ++i) {
    EXPECT_LT(EncodeU64Value(values[i - 1]), EncodeU64Value(values[i]));
  }
}

TEST(CatalogCodec, TimeGoldenBytesRoundTripAndOrder) {
  EXPECT_EQ(EncodeTimeValue(absl::UnixEpoch()), Bytes({0x80, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(EncodeTimeValue(absl::FromUnixMicros(1)), Bytes({0x80, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(EncodeTimeValue(absl::FromUnixMicros(-1)), Bytes({0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  const std::vector<absl::Time> times = {absl::FromUnixMicros(std::numeric_limits<int64_t>::min()),
                                         absl::FromUnixMicros(-1000000),
                                         absl::FromUnixMicros(-1),
                                         absl::UnixEpoch(),
                                         absl::FromUnixMicros(1),
                                         absl::FromUnixSeconds(1795000000),
                                         absl::FromUnixMicros(std::numeric_limits<int64_t>::max())};
  for (size_t i = 0; i < times.size(); ++i) {
    absl::StatusOr<absl::Time> back = DecodeTimeValue(EncodeTimeValue(times[i]));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, times[i]);
    if (i > 0) {
      EXPECT_LT(EncodeTimeValue(times[i - 1]), EncodeTimeValue(times[i]));
    }
  }
}

TEST(CatalogCodec, FixedWidthValuesRejectWrongLengths) {
  EXPECT_EQ(DecodeU64Value("").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeU64Value(std::string(7, '\0')).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeU64Value(std::string(9, '\0')).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeU32Value(std::string(3, '\0')).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeTimeValue(std::string(7, '\0')).status().code(), absl::StatusCode::kDataLoss);
  absl::string_view short_input("\x01", 1);
  EXPECT_EQ(GetU16(&short_input).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(short_input.size(), 1u);  // unchanged on failure
}

TEST(CatalogCodec, CourseIdCharsetAndLength) {
  EXPECT_TRUE(IsValidCourseId("c0001"));
  EXPECT_TRUE(IsValidCourseId("a-b_c"));
  EXPECT_TRUE(IsValidCourseId(std::string(64, 'a')));
  EXPECT_FALSE(IsValidCourseId(""));
  EXPECT_FALSE(IsValidCourseId(std::string(65, 'a')));
  EXPECT_FALSE(IsValidCourseId("C0001"));
  EXPECT_FALSE(IsValidCourseId("c 1"));
  EXPECT_FALSE(IsValidCourseId("c/1"));
  EXPECT_FALSE(IsValidCourseId("课程"));
}

TEST(CatalogCodec, CourseKeyIsTheIdAndOrdersById) {
  EXPECT_EQ(CourseKey("c0001"), "c0001");
  EXPECT_LT(CourseKey("c0001"), CourseKey("c0002"));
  EXPECT_LT(CourseKey("c1"), CourseKey("c10"));
  absl::StatusOr<std::string> id = DecodeCourseKey("c0001");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "c0001");
  EXPECT_EQ(DecodeCourseKey("").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeCourseKey("BAD").status().code(), absl::StatusCode::kDataLoss);
}

TEST(CatalogCodec, CourseValueGoldenBytesAndRoundTrip) {
  Course course;
  course.set_id("c1");
  // Tag 0x01, then field 1 (id), wire type 2, length 2, "c1".
  EXPECT_EQ(EncodeCourseValue(course), Bytes({0x01, 0x0a, 0x02, 'c', '1'}));

  course.set_title("书法入门");
  course.add_tags("书法");
  course.set_credits(1.5);
  course.set_revision(7);
  course.mutable_venue()->set_xuequ("和平里学区");
  course.mutable_create_time()->set_seconds(1795000000);
  absl::StatusOr<Course> back = DecodeCourseValue(EncodeCourseValue(course));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->SerializeAsString(), course.SerializeAsString());
}

TEST(CatalogCodec, CourseValueRejectsEmptyUnknownTagAndGarbage) {
  EXPECT_EQ(DecodeCourseValue("").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeCourseValue(Bytes({0x02, 0x0a, 0x02, 'c', '1'})).status().code(), absl::StatusCode::kDataLoss);
  // Field 1 announces 5 bytes but only 2 follow.
  EXPECT_EQ(DecodeCourseValue(Bytes({0x01, 0x0a, 0x05, 'c', '1'})).status().code(), absl::StatusCode::kDataLoss);
}

TEST(CatalogCodec, ProgrammeValueGoldenBytesRoundTripAndRejects) {
  lifelong::v1::Programme p;
  p.set_id("p1");
  EXPECT_EQ(ProgrammeKey("p1"), "p1");
  EXPECT_EQ(EncodeProgrammeValue(p), Bytes({0x01, 0x0a, 0x02, 'p', '1'}));
  p.set_name("社区教育证书");
  p.set_credits(12);
  auto* r = p.add_by_category();
  r->set_category("传统文化");
  r->set_credits(4);
  p.add_required_course_ids("c00001");
  p.mutable_deadline()->set_seconds(1811000000);
  absl::StatusOr<lifelong::v1::Programme> back = DecodeProgrammeValue(EncodeProgrammeValue(p));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->SerializeAsString(), p.SerializeAsString());
  EXPECT_EQ(DecodeProgrammeValue("").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeProgrammeValue(Bytes({0x02, 0x0a, 0x02, 'p', '1'})).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeProgrammeValue(Bytes({0x01, 0x0a, 0x05, 'p', '1'})).status().code(), absl::StatusCode::kDataLoss);
}

TEST(CatalogCodec, IndexKeyGoldenBytes) {
  EXPECT_EQ(IndexKey(IndexKind::kState, EnumTerm(Course::OPEN), "c1"), Bytes({0x01, 0x00, 0x01, 0x02, 'c', '1'}));
  // "书法" is E4 B9 A6 E6 B3 95 in UTF-8.
  EXPECT_EQ(IndexKey(IndexKind::kCategory, "书法", "c1"),
            Bytes({0x05, 0x00, 0x06, 0xe4, 0xb9, 0xa6, 0xe6, 0xb3, 0x95, 'c', '1'}));
  EXPECT_EQ(IndexPrefix(IndexKind::kVenue, "v1"), Bytes({0x09, 0x00, 0x02, 'v', '1'}));
}

TEST(CatalogCodec, IndexKindTagsArePinned) {
  EXPECT_EQ(static_cast<int>(IndexKind::kState), 1);
  EXPECT_EQ(static_cast<int>(IndexKind::kMode), 2);
  EXPECT_EQ(static_cast<int>(IndexKind::kLevel), 3);
  EXPECT_EQ(static_cast<int>(IndexKind::kAudience), 4);
  EXPECT_EQ(static_cast<int>(IndexKind::kCategory), 5);
  EXPECT_EQ(static_cast<int>(IndexKind::kTag), 6);
  EXPECT_EQ(static_cast<int>(IndexKind::kXuequ), 7);
  EXPECT_EQ(static_cast<int>(IndexKind::kJiedao), 8);
  EXPECT_EQ(static_cast<int>(IndexKind::kVenue), 9);
  EXPECT_EQ(static_cast<int>(MetaKey::kGeneration), 1);
  EXPECT_EQ(static_cast<int>(MetaKey::kCourseCount), 2);
  EXPECT_EQ(static_cast<int>(MetaKey::kArchivedCount), 3);
  EXPECT_EQ(static_cast<int>(MetaKey::kUpdateTime), 4);
  EXPECT_EQ(static_cast<int>(MetaKey::kPageTokenSecret), 5);
  EXPECT_EQ(static_cast<int>(MetaKey::kFormatVersion), 6);
  EXPECT_EQ(static_cast<int>(CourseValueFormat::kProtoV1), 1);
  EXPECT_EQ(static_cast<int>(PageTokenFormat::kV1), 1);
}

TEST(CatalogCodec, IndexKeyRoundTrip) {
  for (const std::string& term : {std::string(), std::string("x"), std::string("东城区"), std::string(300, 'a')}) {
    absl::StatusOr<IndexEntry> entry = DecodeIndexKey(IndexKey(IndexKind::kTag, term, "c-9_z"));
    ASSERT_TRUE(entry.ok()) << entry.status();
    EXPECT_EQ(entry->kind, IndexKind::kTag);
    EXPECT_EQ(entry->term, term);
    EXPECT_EQ(entry->course_id, "c-9_z");
  }
}

TEST(CatalogCodec, IndexEntriesOfOneTermAreContiguousAndOrderedById) {
  const std::vector<std::string> ids = {"a", "c0001", "c0002", "c01", "c1", "z"};
  std::vector<std::string> keys;
  for (const std::string& term : {std::string("书法"), std::string("书"), std::string("书法班")}) {
    for (const std::string& id : ids) keys.push_back(IndexKey(IndexKind::kCategory, term, id));
  }
  std::sort(keys.begin(), keys.end());
  // Every run of equal prefix holds the ids in ascending order.
  const std::string prefix = IndexPrefix(IndexKind::kCategory, "书法");
  std::vector<std::string> run;
  for (const std::string& key : keys) {
    if (key.compare(0, prefix.size(), prefix) == 0) {
      absl::StatusOr<IndexEntry> entry = DecodeIndexKey(key);
      ASSERT_TRUE(entry.ok());
      if (entry->term == "书法") run.push_back(entry->course_id);
    }
  }
  EXPECT_EQ(run, ids);
  // No key of another term carries the prefix of "书法" (the length is part of it).
  for (const std::string& key : keys) {
    absl::StatusOr<IndexEntry> entry = DecodeIndexKey(key);
    ASSERT_TRUE(entry.ok());
    const bool has_prefix = key.compare(0, prefix.size(), prefix) == 0;
    EXPECT_EQ(has_prefix, entry->term == "书法") << entry->term;
  }
}

TEST(CatalogCodec, IndexKeyFailsCleanlyOnTruncationAndBadInput) {
  const std::string key = IndexKey(IndexKind::kXuequ, "和平里", "c1");
  // Every strict prefix that cuts into kind, length, term or leaves no id fails.
  for (size_t n = 0; n < key.size() - 1; ++n) {
    EXPECT_EQ(DecodeIndexKey(key.substr(0, n)).status().code(), absl::StatusCode::kDataLoss) << n;
  }
  EXPECT_TRUE(DecodeIndexKey(key.substr(0, key.size() - 1)).ok());  // "c" is a valid id
  std::string bad_kind = key;
  bad_kind[0] = 0x7f;
  EXPECT_EQ(DecodeIndexKey(bad_kind).status().code(), absl::StatusCode::kDataLoss);
  std::string zero_kind = key;
  zero_kind[0] = 0x00;
  EXPECT_EQ(DecodeIndexKey(zero_kind).status().code(), absl::StatusCode::kDataLoss);
  // A length larger than what follows.
  EXPECT_EQ(DecodeIndexKey(Bytes({0x05, 0xff, 0xff, 'a'})).status().code(), absl::StatusCode::kDataLoss);
}

TEST(CatalogCodec, CourseIndexKeysCoverEveryIndexedField) {
  Course course;
  course.set_id("c7");
  course.set_state(Course::OPEN);
  course.set_mode(Course::BLENDED);
  course.set_level(Course::BEGINNER);
  course.add_audiences(Course::SENIORS);
  course.add_audiences(Course::ADULTS);
  course.set_category("书法");
  course.add_tags("毛笔");
  course.add_tags("传统文化");
  course.mutable_venue()->set_id("v-hpl");
  course.mutable_venue()->set_xuequ("和平里学区");
  course.mutable_venue()->set_jiedao("和平里街道");
  const std::vector<std::string> keys = CourseIndexKeys(course);
  std::vector<std::string> expected = {
      IndexKey(IndexKind::kState, EnumTerm(Course::OPEN), "c7"),
      IndexKey(IndexKind::kMode, EnumTerm(Course::BLENDED), "c7"),
      IndexKey(IndexKind::kLevel, EnumTerm(Course::BEGINNER), "c7"),
      IndexKey(IndexKind::kAudience, EnumTerm(Course::SENIORS), "c7"),
      IndexKey(IndexKind::kAudience, EnumTerm(Course::ADULTS), "c7"),
      IndexKey(IndexKind::kCategory, "书法", "c7"),
      IndexKey(IndexKind::kTag, "毛笔", "c7"),
      IndexKey(IndexKind::kTag, "传统文化", "c7"),
      IndexKey(IndexKind::kXuequ, "和平里学区", "c7"),
      IndexKey(IndexKind::kJiedao, "和平里街道", "c7"),
      IndexKey(IndexKind::kVenue, "v-hpl", "c7"),
  };
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(keys, expected);

  Course bare;
  bare.set_id("c8");
  EXPECT_EQ(CourseIndexKeys(bare), std::vector<std::string>{IndexKey(IndexKind::kState, EnumTerm(0), "c8")});
}

TEST(CatalogCodec, PageTokenPayloadGoldenBytesAndRoundTrip) {
  PageTokenPayload payload;
  payload.issue_time = absl::FromUnixMicros(1);
  payload.filter_fingerprint = 0x0102030405060708;
  payload.last_id = "c9";
  EXPECT_EQ(EncodePageTokenPayload(payload), Bytes({0x01, 0x80, 0,    0,    0,    0,    0,    0,    0x01, 0x01,
                                                    0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x02, 'c',  '9'}));
  payload.last_id = std::string(64, 'z');
  payload.issue_time = absl::FromUnixSeconds(1795000000);
  absl::StatusOr<PageTokenPayload> back = DecodePageTokenPayload(EncodePageTokenPayload(payload));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->issue_time, payload.issue_time);
  EXPECT_EQ(back->filter_fingerprint, payload.filter_fingerprint);
  EXPECT_EQ(back->last_id, payload.last_id);
}

TEST(CatalogCodec, PageTokenPayloadFailsCleanlyOnTruncationAndExtraBytes) {
  PageTokenPayload payload;
  payload.issue_time = absl::FromUnixSeconds(1795000000);
  payload.filter_fingerprint = 42;
  payload.last_id = "c0001";
  const std::string bytes = EncodePageTokenPayload(payload);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(DecodePageTokenPayload(bytes.substr(0, n)).status().code(), absl::StatusCode::kDataLoss) << n;
  }
  EXPECT_EQ(DecodePageTokenPayload(bytes + "x").status().code(), absl::StatusCode::kDataLoss);
  std::string bad_tag = bytes;
  bad_tag[0] = 0x02;
  EXPECT_EQ(DecodePageTokenPayload(bad_tag).status().code(), absl::StatusCode::kDataLoss);
  std::string bad_id = bytes;
  bad_id[bad_id.size() - 1] = '/';
  EXPECT_EQ(DecodePageTokenPayload(bad_id).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace lifelong::catalog::codec
