// The Recommend / SimilarCourses answers as protos, filled in place, and the
// message allocator that lets Recommend's callback handler reuse them.
//
// Every Fill* below sets every field of its message (or clears it), so that
// filling a message that already holds an earlier answer gives exactly the
// bytes that filling a fresh one gives, while the strings and sub-messages
// it holds are reused: no allocation for a course summary whose strings fit
// in the buffers of the one it replaces. RecycledRecommendMessages hands
// such used messages to gRPC's callback handler (about 10% of the
// recommendation server's CPU per call was allocating and freeing the ten
// course summaries of a response; docs/benchmarks.md).
#ifndef LIFELONG_SERVICES_RECOMMEND_RESPONSE_FILL_H_
#define LIFELONG_SERVICES_RECOMMEND_RESPONSE_FILL_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/support/message_allocator.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
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
// `catalog` as above (nullptr or a course not in it: serialized afresh).
// Valid until the memo's slot is stored again or the snapshot dies.
std::shared_ptr<const CatalogSnapshot::SummaryMemo> CourseSummaryBytes(const Course& c, const CatalogSnapshot* catalog,
                                                                       absl::Time now);

// As FillRecommendResponse, without cold_start.
void FillSimilarResponse(const RecommendResult& result, absl::Time now, v1::SimilarCoursesResponse* out);

// gRPC's MessageAllocator for the Recommend callback method: a request and
// response pair per call, taken from a free list and returned to it when the
// call is done (the request is parsed afresh: gRPC clears it first; the
// response is filled with FillRecommendResponse, which overwrites all of
// it). Keeps at most `max_free` pairs; more in flight are allocated and
// freed as usual. Thread-safe; must outlive the server it is set on.
class RecycledRecommendMessages final : public grpc::MessageAllocator<v1::RecommendRequest, v1::RecommendResponse> {
 public:
  explicit RecycledRecommendMessages(size_t max_free = 256) : max_free_(max_free) {}
  ~RecycledRecommendMessages() override;
  RecycledRecommendMessages(const RecycledRecommendMessages&) = delete;
  RecycledRecommendMessages& operator=(const RecycledRecommendMessages&) = delete;

  grpc::MessageHolder<v1::RecommendRequest, v1::RecommendResponse>* AllocateMessages() override;

  // Pairs allocated so far, and pairs waiting in the free list (tests).
  size_t allocated() const;
  size_t free_pairs() const;

 private:
  class Holder;
  void Return(Holder* holder);

  const size_t max_free_;
  mutable absl::Mutex mu_;
  std::vector<Holder*> free_ ABSL_GUARDED_BY(mu_);
  size_t allocated_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_RESPONSE_FILL_H_
