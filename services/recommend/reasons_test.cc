#include "services/recommend/reasons.h"

#include "gtest/gtest.h"
#include "services/domain/vocabulary.h"

namespace lifelong::recommend {
namespace {

TEST(Reasons, BecauseDependsOnVerb) {
  EXPECT_EQ(BecauseReason(vocab::kCompleted, "书法入门"), "因为你完成了 书法入门");
  EXPECT_EQ(BecauseReason(vocab::kPassed, "书法入门"), "因为你完成了 书法入门");
  EXPECT_EQ(BecauseReason(vocab::kRegistered, "太极"), "因为你报名了 太极");
  EXPECT_EQ(BecauseReason(vocab::kAttended, "太极"), "因为你学习过 太极");
}

TEST(Reasons, InterestAndNearby) {
  EXPECT_EQ(InterestReason("书法"), "与你的兴趣「书法」相关");
  EXPECT_EQ(PopularNearbyReason("和平里街道"), "和平里社区热门");
  EXPECT_EQ(PopularNearbyReason("和平里"), "和平里社区热门");
  EXPECT_EQ(PopularNearbyReason("东四社区"), "东四社区热门");
  EXPECT_EQ(PopularNearbyReason(""), "附近热门课程");
  EXPECT_EQ(PopularReason(), "近期热门课程");
}

TEST(Reasons, SimilarAndNew) {
  EXPECT_EQ(SimilarContentReason("书法入门"), "与 书法入门 内容相近");
  EXPECT_EQ(AlsoLearnedReason("书法入门"), "学过 书法入门 的人也学了");
  EXPECT_EQ(NewCourseReason("书法入门"), "新开课程，与你学过的 书法入门 相近");
  EXPECT_EQ(AudienceReason("老年人"), "适合老年人");
}

TEST(Reasons, Readiness) {
  EXPECT_EQ(RetryReason("评剧入门"), "未通过 评剧入门，可再学一次");
  EXPECT_EQ(FoundationReason("评剧进阶"), "先打好基础，再学 评剧进阶");
  EXPECT_EQ(PrerequisitesFirstReason({"剪纸进阶"}), "先修：剪纸进阶");
  EXPECT_EQ(PrerequisitesFirstReason({"剪纸入门", "剪纸进阶"}), "先修：剪纸入门、剪纸进阶");
}

}  // namespace
}  // namespace lifelong::recommend
