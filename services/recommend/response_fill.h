// The Recommend / SimilarCourses answers as protos, filled in place, and
// Recommend's answer as bytes built from memoized course summaries.
//
// Every Fill* below sets every field of its message (or clears it), so that
// filling a message that already holds an earlier answer gives exactly the
// bytes that filling a fresh one gives, while the strings and sub-messages
// it holds are reused. Recommend's raw callback handler does not fill a
// response at all: AppendRecommendResponseBytes writes the bytes that
// FillRecommendResponse's message would serialize to.
#ifndef LIFELONG_SERVICES_RECOMMEND_RESPONSE_FILL_H_
#define LIFELONG_SERVICES_RECOMMEND_RESPONSE_FILL_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "proto/lifelong/v1/recommend.pb.h"
#include "services/recommend/course.h"
#include "services/recommend/recommender.h"

namespace lifelong::recommend {

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out);

// The course as the answers show it at `now` (next session, enrolment open).
void FillCourseSummary(const Course& c, absl::Time now, v1::CourseSummary* out);
void FillRecommendation(const ScoredCourse& s, absl::Time now, v1::Recommendation* out);
// result.items in order, then the model version and cold_start. Elements of
// out->recommendations() past result.items are removed.
void FillRecommendResponse(const RecommendResult& result, absl::Time now, v1::RecommendResponse* out);

// The bytes of the RecommendResponse that FillRecommendResponse(result, now,
// &r) fills, exactly r.SerializeAsString() (protobuf writes a message's
// fields in field-number order, and `course` and `recommendations` are the
// first fields of theirs), appended to *out without building the response:
// each shown course's CourseSummary bytes come from `catalog`'s per-course
// memo (CatalogSnapshot::LoadSummaryMemo) when its next session start and
// enrolment state at `now` are those the memo was built with, else are
// serialized from FillCourseSummary and memoized. The other fields of a
// Recommendation and the response's tail are serialized from small messages
// reused per thread. `catalog`: the snapshot result's courses point into; a
// course that is not one of its courses is serialized afresh, every time.
// Recommend's raw callback handler sends these bytes (about 6% of the
// recommendation server's CPU per call was filling the ten course summaries
// and serializing them; docs/benchmarks.md).
void AppendRecommendResponseBytes(const RecommendResult& result, const CatalogSnapshot& catalog, absl::Time now,
                                  std::string* out);
// The serialized CourseSummary of FillCourseSummary(c, now), memoized in
// `catalog` as above: valid while the snapshot lives. A course not in
// `catalog` (or nullptr, or a snapshot past its bound on memos) is
// serialized afresh into this thread's scratch, valid until the thread's
// next call.
const CatalogSnapshot::SummaryMemo* CourseSummaryBytes(const Course& c, const CatalogSnapshot* catalog, absl::Time now);

// As FillRecommendResponse, without cold_start.
void FillSimilarResponse(const RecommendResult& result, absl::Time now, v1::SimilarCoursesResponse* out);

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_RESPONSE_FILL_H_
