#include "models/model_format.h"

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

}  // namespace
}  // namespace lifelong::models
