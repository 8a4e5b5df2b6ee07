#include "services/recommend/reasons.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "services/domain/vocabulary.h"

namespace lifelong::recommend {

std::string BecauseReason(absl::string_view verb_iri, absl::string_view course_title) {
  if (verb_iri == vocab::kCompleted || verb_iri == vocab::kPassed) {
    return absl::StrCat("因为你完成了 ", course_title);
  }
  if (verb_iri == vocab::kRegistered) return absl::StrCat("因为你报名了 ", course_title);
  return absl::StrCat("因为你学习过 ", course_title);
}

std::string InterestReason(absl::string_view interest) { return absl::StrCat("与你的兴趣「", interest, "」相关"); }

std::string PopularNearbyReason(absl::string_view area) {
  absl::string_view a = area;
  if (!absl::ConsumeSuffix(&a, "街道")) absl::ConsumeSuffix(&a, "社区");
  if (a.empty()) return "附近热门课程";
  return absl::StrCat(a, "社区热门");
}

std::string PopularReason() { return "近期热门课程"; }

std::string SimilarContentReason(absl::string_view course_title) {
  return absl::StrCat("与 ", course_title, " 内容相近");
}

std::string AlsoLearnedReason(absl::string_view course_title) {
  return absl::StrCat("学过 ", course_title, " 的人也学了");
}

std::string NewCourseReason(absl::string_view course_title) {
  return absl::StrCat("新开课程，与你学过的 ", course_title, " 相近");
}

std::string AudienceReason(absl::string_view audience) { return absl::StrCat("适合", audience); }

std::string RetryReason(absl::string_view failed_title) {
  return absl::StrCat("未通过 ", failed_title, "，可再学一次");
}

std::string FoundationReason(absl::string_view failed_title) { return absl::StrCat("先打好基础，再学 ", failed_title); }

std::string PrerequisitesFirstReason(const std::vector<std::string>& missing_titles) {
  return absl::StrCat("先修：", absl::StrJoin(missing_titles, "、"));
}

}  // namespace lifelong::recommend
