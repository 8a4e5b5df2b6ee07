#include "services/domain/iri.h"

#include <gtest/gtest.h>

namespace lifelong::domain {
namespace {

TEST(Iri, AbsoluteIris) {
  EXPECT_TRUE(IsAbsoluteIri("https://lifelong.dongcheng.edu.cn/courses/c1"));
  EXPECT_TRUE(IsAbsoluteIri("urn:uuid:1"));
  EXPECT_TRUE(IsAbsoluteIri("https://例子.中国/课程"));  // non-ASCII is allowed in IRIs
  EXPECT_FALSE(IsAbsoluteIri(""));
  EXPECT_FALSE(IsAbsoluteIri("c1"));
  EXPECT_FALSE(IsAbsoluteIri(":x"));
  EXPECT_FALSE(IsAbsoluteIri("https:"));
  EXPECT_FALSE(IsAbsoluteIri("1http://x"));
  EXPECT_FALSE(IsAbsoluteIri("ht_tp://x"));
  EXPECT_FALSE(IsAbsoluteIri("https://a b"));
  EXPECT_FALSE(IsAbsoluteIri("https://a<b>"));
  EXPECT_FALSE(IsAbsoluteIri(absl::string_view("https://a\0b", 11)));
}

TEST(Iri, LanguageTags) {
  EXPECT_TRUE(IsLanguageTag("zh-CN"));
  EXPECT_TRUE(IsLanguageTag("en"));
  EXPECT_TRUE(IsLanguageTag("zh-Hans-CN"));
  EXPECT_TRUE(IsLanguageTag("x-private"));
  EXPECT_FALSE(IsLanguageTag(""));
  EXPECT_FALSE(IsLanguageTag("zh_CN"));
  EXPECT_FALSE(IsLanguageTag("zh-"));
  EXPECT_FALSE(IsLanguageTag("a-b"));  // a single-letter primary subtag is only i or x
  EXPECT_FALSE(IsLanguageTag("1a"));
  EXPECT_FALSE(IsLanguageTag("toolongsubtag"));
}

}  // namespace
}  // namespace lifelong::domain
