#include "services/domain/learner_key.h"

#include <gtest/gtest.h>

#include <string>

#include "services/domain/vocabulary.h"

namespace lifelong::domain {
namespace {

std::string Canon(absl::string_view key) {
  absl::StatusOr<std::string> k = CanonicalLearnerKey(key, "learner");
  return k.ok() ? *k : "ERROR " + std::string(k.status().message());
}

TEST(LearnerKey, CanonicalForms) {
  EXPECT_EQ(Canon("u123"), "u123");
  EXPECT_EQ(Canon("mailto:li@example.org"), "mailto:li@example.org");
  EXPECT_EQ(Canon("sha1:" + std::string(40, 'A')), "sha1:" + std::string(40, 'a'));
  EXPECT_EQ(Canon("openid:https://id.example.org/li"), "openid:https://id.example.org/li");
  EXPECT_EQ(Canon("account:https://idp.example.org|li"), "account:https://idp.example.org|li");
  // A district account is its bare name, with or without the trailing slash.
  EXPECT_EQ(Canon("account:https://id.dongcheng.gov.cn|u7"), "u7");
  EXPECT_EQ(Canon("account:https://id.dongcheng.gov.cn/|u7"), "u7");
  // ...unless the name could be read as another key form.
  EXPECT_EQ(Canon("account:https://id.dongcheng.gov.cn/|mailto:x"), "account:https://id.dongcheng.gov.cn|mailto:x");
}

TEST(LearnerKey, RefusalsNameTheField) {
  for (absl::string_view bad :
       {"", "mailto:nobody", "sha1:abc", "openid:not an iri", "account:nohome", "account:https://x|", "weird:thing"}) {
    absl::StatusOr<std::string> k = CanonicalLearnerKey(bad, "actor");
    ASSERT_FALSE(k.ok()) << bad;
    EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(k.status().message().substr(0, 7), "actor: ") << bad;
  }
  EXPECT_FALSE(CanonicalLearnerKey(std::string(1025, 'u'), "learner").ok());
  EXPECT_FALSE(CanonicalLearnerKey("u1\n", "learner").ok());
}

// A key that looks like another, or like nothing, is refused: one person
// would otherwise become a second learner ("u1" and "u1" + zero-width space),
// or a staff screen show "u1" for someone else. Chinese and other scripts
// stay accepted.
TEST(LearnerKey, InvisibleAndFullWidthCharactersAreRefused) {
  for (absl::string_view bad :
       {"u1\u200b", "\u200bu1", "u\u200d1", "u1\u202e", "u1\u2066", "\ufeffu1", "u\u00ad1", "\uff55\uff11", "u\uff11",
        "account:https://idp.example.org|u1\u2060", "mailto:li\uff20example.org@x.org", "u\u30001"}) {
    absl::StatusOr<std::string> k = CanonicalLearnerKey(bad, "learner");
    ASSERT_FALSE(k.ok()) << bad;
    EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(k.status().message().find("learner: contains U+"), std::string::npos) << k.status();
  }
  EXPECT_NE(Canon("u\uff11").find("U+FF11"), std::string::npos) << Canon("u\uff11");
  // Bytes that are not UTF-8 are refused as such, naming the first (a lone
  // Latin-1 0xAD is not U+00AD).
  EXPECT_NE(Canon(std::string("u\xAD") + "1").find("learner: is not UTF-8 (byte 1)"), std::string::npos)
      << Canon(std::string("u\xAD") + "1");
  EXPECT_NE(Canon("\xF0\u00ad").find("is not UTF-8 (byte 0)"), std::string::npos) << Canon("\xF0\u00ad");
  EXPECT_NE(Canon("u\xC0\xAF").find("is not UTF-8 (byte 1)"), std::string::npos) << "an overlong '/'";
  for (absl::string_view good :
       {"u1", "王小明", "account:https://idp.example.org|李·娜", "mailto:李娜@例子.中国", "u1 x"}) {
    EXPECT_EQ(Canon(good), std::string(good)) << good;
  }
}

TEST(LearnerKey, AccountKeys) {
  EXPECT_TRUE(IsDistrictIdp(vocab::kDistrictIdp));
  EXPECT_TRUE(IsDistrictIdp("https://id.dongcheng.gov.cn/"));
  EXPECT_FALSE(IsDistrictIdp("https://id.dongcheng.gov.cn.evil"));
  EXPECT_EQ(AccountLearnerKey("https://id.dongcheng.gov.cn", "u1"), "u1");
  EXPECT_EQ(AccountLearnerKey("https://idp.example.org", "u1"), "account:https://idp.example.org|u1");
  // Every account key is a fixed point of CanonicalLearnerKey.
  for (const std::string& key :
       {AccountLearnerKey("https://id.dongcheng.gov.cn/", "a:b"), AccountLearnerKey("https://idp.example.org", "u1")}) {
    EXPECT_EQ(Canon(key), key);
  }
}

}  // namespace
}  // namespace lifelong::domain
