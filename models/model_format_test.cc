#include "models/model_format.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace lifelong::models {
namespace {

TEST(Sha256Hex, MatchesKnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ParseVersionName, AcceptsOnlyCanonicalPositiveNumbers) {
  EXPECT_EQ(ParseVersionName("1"), 1);
  EXPECT_EQ(ParseVersionName("42"), 42);
  EXPECT_EQ(ParseVersionName("0"), std::nullopt);
  EXPECT_EQ(ParseVersionName("007"), std::nullopt);
  EXPECT_EQ(ParseVersionName(".tmp-1-2"), std::nullopt);
  EXPECT_EQ(ParseVersionName("3a"), std::nullopt);
  EXPECT_EQ(ParseVersionName(""), std::nullopt);
  EXPECT_EQ(ParseVersionName("-3"), std::nullopt);
}

TEST(FloatBytes, RoundTripAndRejectPartialFloat) {
  std::vector<float> v = {0.0f, -1.5f, 3.25e8f};
  std::string bytes = FloatsToBytes(v);
  ASSERT_EQ(bytes.size(), 12u);
  auto back = BytesToFloats(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, v);
  auto bad = BytesToFloats(bytes.substr(0, 11));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
}

TEST(ListDirectory, MissingDirectoryIsNotFound) {
  auto r = ListDirectory(std::string(getenv("TEST_TMPDIR")) + "/no/such/dir");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
}

// Rows 0: {1: 0.5, 2: -2}, 1: {}, 2: {0: 1}.
CsrMatrix SmallCsr() {
  CsrMatrix m;
  m.row_start = {0, 2, 2, 3};
  m.target = {1, 2, 0};
  m.weight = {0.5f, -2.0f, 1.0f};
  return m;
}

std::string Hex(const std::string& bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

TEST(ItemItemCsr, GoldenBytes) {
  EXPECT_EQ(Hex(EncodeItemItemCsr(SmallCsr())),
            "4c4c49494353520a"
            "01000000"
            "03000000"
            "0300000000000000"
            "0000000000000000"
            "0200000000000000"
            "0200000000000000"
            "0300000000000000"
            "01000000"
            "02000000"
            "00000000"
            "0000003f"
            "000000c0"
            "0000803f");
}

TEST(ItemItemCsr, RoundTrip) {
  const CsrMatrix m = SmallCsr();
  auto back = DecodeItemItemCsr(EncodeItemItemCsr(m), 3);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->row_start, m.row_start);
  EXPECT_EQ(back->target, m.target);
  EXPECT_EQ(back->weight, m.weight);
  // Boundary values: no entries at all, and extreme finite weights.
  CsrMatrix empty;
  empty.row_start = {0, 0};
  auto e = DecodeItemItemCsr(EncodeItemItemCsr(empty), 1);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->target.empty());
  CsrMatrix extreme;
  extreme.row_start = {0, 2, 2};
  extreme.target = {0, 1};
  extreme.weight = {std::numeric_limits<float>::max(), -std::numeric_limits<float>::denorm_min()};
  auto x = DecodeItemItemCsr(EncodeItemItemCsr(extreme), 2);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(x->weight, extreme.weight);
}

// Every malformed image is DATA_LOSS with a message naming the field.
void ExpectRejected(const std::string& bytes, int64_t rows, const std::string& field) {
  auto r = DecodeItemItemCsr(bytes, rows);
  ASSERT_FALSE(r.ok()) << field;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status();
}

TEST(ItemItemCsr, RejectsMalformedInput) {
  const std::string good = EncodeItemItemCsr(SmallCsr());
  for (size_t len : {size_t{0}, size_t{7}, size_t{23}}) ExpectRejected(good.substr(0, len), 3, "header");
  ExpectRejected(good.substr(0, good.size() - 1), 3, "size");
  ExpectRejected(good + "x", 3, "size");
  std::string bad = good;
  bad[0] = 'X';
  ExpectRejected(bad, 3, "magic");
  bad = good;
  bad[8] = 2;  // version 2
  ExpectRejected(bad, 3, "version: 2 is not supported");
  ExpectRejected(good, 4, "rows");
  // Entries claimed beyond what fits.
  bad = good;
  bad[16 + 7] = 0x7f;
  ExpectRejected(bad, 3, "entries");
  auto with = [](CsrMatrix m) { return EncodeItemItemCsr(m); };
  CsrMatrix m = SmallCsr();
  m.row_start = {1, 2, 2, 3};
  ExpectRejected(with(m), 3, "row_start[0]");
  m = SmallCsr();
  m.row_start = {0, 2, 1, 3};
  ExpectRejected(with(m), 3, "row_start[2]: decreases");
  m = SmallCsr();
  m.row_start = {0, 2, 2, 2};
  ExpectRejected(with(m), 3, "row_start[3]");
  m = SmallCsr();
  m.target = {1, 3, 0};
  ExpectRejected(with(m), 3, "target[1]");
  m = SmallCsr();
  m.target = {2, 1, 0};
  ExpectRejected(with(m), 3, "not strictly ascending");
  m = SmallCsr();
  m.target = {1, 1, 0};
  ExpectRejected(with(m), 3, "not strictly ascending");
  m = SmallCsr();
  m.weight[2] = std::nanf("");
  ExpectRejected(with(m), 3, "weight[2]");
  m = SmallCsr();
  m.weight[0] = std::numeric_limits<float>::infinity();
  ExpectRejected(with(m), 3, "weight[0]");
}

}  // namespace
}  // namespace lifelong::models
