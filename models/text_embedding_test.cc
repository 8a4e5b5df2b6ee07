#include "models/text_embedding.h"

#include <cmath>

#include "gtest/gtest.h"

namespace lifelong::models {
namespace {

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

TEST(EmbedText, SimilarChineseTitlesAreCloser) {
  const std::vector<std::string> docs = {"书法入门 毛笔字基础", "书法进阶 毛笔楷书", "智能手机使用入门",
                                         "太极拳基础",          "中老年营养与健康",  "家庭理财基础"};
  const std::vector<float> idf = ComputeIdf(docs);
  auto a = EmbedTextWithIdf("书法入门 毛笔字基础", idf, kDefaultContentDim);
  auto b = EmbedTextWithIdf("书法进阶 毛笔楷书", idf, kDefaultContentDim);
  auto c = EmbedTextWithIdf("智能手机使用入门", idf, kDefaultContentDim);
  auto d = EmbedTextWithIdf("太极拳基础", idf, kDefaultContentDim);
  EXPECT_GT(Cosine(a, b), Cosine(a, c) + 0.15);
  EXPECT_GT(Cosine(a, b), Cosine(a, d) + 0.15);
  EXPECT_NEAR(Cosine(a, a), 1.0, 1e-5);
}

TEST(EmbedText, IsDeterministicAndIgnoresPunctuationAndAsciiCase) {
  std::vector<float> idf(kTextHashBuckets, 1.0f);
  auto a = EmbedTextWithIdf("Python 编程，入门！", idf, 64);
  auto b = EmbedTextWithIdf("python 编程 入门", idf, 64);
  ASSERT_EQ(a.size(), 64u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_FLOAT_EQ(a[i], b[i]);
}

TEST(EmbedText, EmptyOrPunctuationOnlyTextIsZero) {
  std::vector<float> idf(kTextHashBuckets, 1.0f);
  for (const char* text : {"", "   ", "，。！"}) {
    auto v = EmbedTextWithIdf(text, idf, 32);
    for (float x : v) EXPECT_EQ(x, 0.0f) << text;
  }
}

TEST(HashedNgrams, CountsUnigramsBigramsTrigramsWithinRuns) {
  // "书法" -> 书, 法, 书法 ; "字" -> 字 (separate run: no cross-run n-grams).
  auto grams = HashedNgrams("书法 字");
  int total = 0;
  for (const auto& [bucket, count] : grams) {
    EXPECT_LT(bucket, static_cast<uint32_t>(kTextHashBuckets));
    total += count;
  }
  EXPECT_EQ(total, 4);
}

TEST(HashedNgrams, InvalidUtf8DoesNotCrash) {
  auto grams = HashedNgrams(std::string("\xff\xfe\xe4\xb8", 4));
  EXPECT_FALSE(grams.empty());
}

}  // namespace
}  // namespace lifelong::models
