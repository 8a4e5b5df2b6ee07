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
