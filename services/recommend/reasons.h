// The short Chinese sentences shown next to a recommendation. Pure;
// thread-safe. Titles and names are inserted as given.
#ifndef LIFELONG_SERVICES_RECOMMEND_REASONS_H_
#define LIFELONG_SERVICES_RECOMMEND_REASONS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace lifelong::recommend {

// "因为你完成了 书法入门" (completed/passed), "因为你报名了 书法入门"
// (registered), "因为你学习过 书法入门" (any other verb).
std::string BecauseReason(absl::string_view verb_iri, absl::string_view course_title);

// "与你的兴趣「书法」相关".
std::string InterestReason(absl::string_view interest);

// "和平里社区热门" for area "和平里街道" or "和平里"; "附近热门课程" when the
// area is empty.
std::string PopularNearbyReason(absl::string_view area);

// "近期热门课程".
std::string PopularReason();

// "与 书法入门 内容相近".
std::string SimilarContentReason(absl::string_view course_title);

// "学过 书法入门 的人也学了".
std::string AlsoLearnedReason(absl::string_view course_title);

// "新开课程，与你学过的 书法入门 相近".
std::string NewCourseReason(absl::string_view course_title);

// "适合老年人".
std::string AudienceReason(absl::string_view audience);

// "未通过 评剧入门，可再学一次" (the failed course again, or another section
// of it).
std::string RetryReason(absl::string_view failed_title);

// "先打好基础，再学 评剧进阶" (a gentler course on the subject of a failed one).
std::string FoundationReason(absl::string_view failed_title);

// "先修：剪纸进阶" / "先修：剪纸入门、剪纸进阶" (a course whose prerequisites
// the learner has not completed; titles in the catalog's order).
std::string PrerequisitesFirstReason(const std::vector<std::string>& missing_titles);

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_REASONS_H_
