#include "services/storage/signed_token.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/escaping.h"

namespace lifelong::storage {
namespace {

const std::string kKey(32, 'k');

TEST(SignedToken, RoundTripsAnyPayload) {
  SignedTokenCodec codec(kKey);
  for (const std::string& payload : {std::string("a"), std::string("\0\xff\x01", 3), std::string(300, 'x')}) {
    SignedTokenCodec::Opened opened = codec.Open(codec.Seal(payload));
    ASSERT_TRUE(opened.ok());
    EXPECT_EQ(opened.payload, payload);
  }
}

// Golden bytes: the envelope is part of the tokens clients hold across
// restarts and upgrades; this pins it (payload, then the 16-byte tag, then
// unpadded base64url).
TEST(SignedToken, GoldenEnvelope) {
  SignedTokenCodec codec(kKey);
  const std::string token = codec.Seal("payload");
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  ASSERT_EQ(raw.size(), 7 + kTokenTagBytes);
  EXPECT_EQ(raw.substr(0, 7), "payload");
  EXPECT_EQ(token.find('='), std::string::npos);
  EXPECT_EQ(token.find('+'), std::string::npos);
  EXPECT_EQ(token.find('/'), std::string::npos);
  EXPECT_EQ(absl::BytesToHexString(raw.substr(7)), "0dcfbab1a7be8b1492f020651c7f4925");
  EXPECT_EQ(token, "cGF5bG9hZA3PurGnvosUkvAgZRx_SSU");
  // Same key, same payload: same token (deterministic, so tokens are stable).
  EXPECT_EQ(SignedTokenCodec(kKey).Seal("payload"), token);
}

TEST(SignedToken, RefusesMalformed) {
  SignedTokenCodec codec(kKey);
  EXPECT_EQ(codec.Open("not a token!").refusal, SignedTokenCodec::Refusal::kMalformed);
  EXPECT_EQ(codec.Open("").refusal, SignedTokenCodec::Refusal::kMalformed);
  // Exactly a tag's worth of bytes: no room for a payload.
  EXPECT_EQ(codec.Open(absl::WebSafeBase64Escape(std::string(kTokenTagBytes, 'x'))).refusal,
            SignedTokenCodec::Refusal::kMalformed);
}

TEST(SignedToken, RefusesForgedAlteredAndOtherKeys) {
  SignedTokenCodec codec(kKey);
  const std::string token = codec.Seal("position-17");
  EXPECT_EQ(SignedTokenCodec(std::string(32, 'o')).Open(token).refusal, SignedTokenCodec::Refusal::kForged);
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  for (size_t i = 0; i < raw.size(); ++i) {  // every single flipped bit position's byte
    std::string altered = raw;
    altered[i] ^= 0x01;
    EXPECT_EQ(codec.Open(absl::WebSafeBase64Escape(altered)).refusal, SignedTokenCodec::Refusal::kForged) << i;
  }
  // Truncated by one byte: still long enough, so the tag fails.
  EXPECT_EQ(codec.Open(absl::WebSafeBase64Escape(raw.substr(0, raw.size() - 1))).refusal,
            SignedTokenCodec::Refusal::kForged);
}

TEST(SignedToken, NewTokenKeyIsRandom) {
  const std::string a = NewTokenKey();
  const std::string b = NewTokenKey();
  EXPECT_EQ(a.size(), kTokenKeyBytes);
  EXPECT_NE(a, b);
}

TEST(SignedToken, Sha256KnownAnswer) {
  EXPECT_EQ(absl::BytesToHexString(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace lifelong::storage
