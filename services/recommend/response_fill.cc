#include "services/recommend/response_fill.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "services/recommend/request_validation.h"

namespace lifelong::recommend {
namespace {

v1::Recommendation::ReasonKind KindToProto(ReasonKind k) {
  return static_cast<v1::Recommendation::ReasonKind>(static_cast<int>(k));
}

// The recommendations of `result` into `out`, reusing its elements (and the
// course summaries they hold); extra elements are removed.
void FillRecommendations(const RecommendResult& result, absl::Time now,
                         google::protobuf::RepeatedPtrField<v1::Recommendation>* out) {
  const int n = static_cast<int>(result.items.size());
  for (int i = 0; i < n; ++i) {
    FillRecommendation(result.items[i], now, i < out->size() ? out->Mutable(i) : out->Add());
  }
  if (out->size() > n) out->DeleteSubrange(n, out->size() - n);
}

}  // namespace

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t s = absl::ToUnixSeconds(t);
  out->set_seconds(s);
  out->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(s)) / absl::Nanoseconds(1)));
}

void FillCourseSummary(const Course& c, absl::Time now, v1::CourseSummary* out) {
  out->set_course_id(c.id);
  out->set_title(c.title);
  out->set_category(c.category);
  out->set_mode(ModeFromName(c.mode));
  out->clear_audiences();
  for (const std::string& a : c.audiences) out->add_audiences(AudienceFromName(a));
  out->set_xuequ(c.xuequ);
  out->set_jiedao(c.jiedao);
  out->set_venue_id(c.venue_id);
  out->set_venue_name(c.venue_name);
  const absl::Time next = c.NextSessionStart(now);
  if (next != absl::InfiniteFuture()) {
    SetTimestamp(next, out->mutable_next_session_start());
  } else {
    out->clear_next_session_start();
  }
  out->set_seats_left(c.SeatsLeft());
  out->set_credits(c.credits);
  out->set_level(LevelFromName(c.level));
  out->set_enrolment_open(c.EnrolmentOpenAt(now));
}

void FillRecommendation(const ScoredCourse& s, absl::Time now, v1::Recommendation* out) {
  FillCourseSummary(*s.course, now, out->mutable_course());
  out->set_score(s.score);
  out->set_reason(s.reason);
  out->set_reason_kind(KindToProto(s.reason_kind));
  out->set_distance_km(s.distance_km);
  out->clear_missing_prerequisite_ids();
  for (const std::string& id : s.missing_prerequisites) out->add_missing_prerequisite_ids(id);
}

void FillRecommendResponse(const RecommendResult& result, absl::Time now, v1::RecommendResponse* out) {
  FillRecommendations(result, now, out->mutable_recommendations());
  out->set_model_version(absl::StrCat(result.model_version));
  out->set_cold_start(result.cold_start);
}

void FillSimilarResponse(const RecommendResult& result, absl::Time now, v1::SimilarCoursesResponse* out) {
  FillRecommendations(result, now, out->mutable_recommendations());
  out->set_model_version(absl::StrCat(result.model_version));
}

class RecycledRecommendMessages::Holder final
    : public grpc::MessageHolder<v1::RecommendRequest, v1::RecommendResponse> {
 public:
  explicit Holder(RecycledRecommendMessages* owner) : owner_(owner) {
    set_request(&request_);
    set_response(&response_);
  }
  void Release() override { owner_->Return(this); }
  // A request this big (a learner key or filter far past what validation
  // accepts) is not kept: its strings' buffers would stay allocated.
  bool Oversized() const { return request_.ByteSizeLong() > kMaxRecycledRequestBytes; }

  static constexpr size_t kMaxRecycledRequestBytes = 16 * 1024;

 private:
  RecycledRecommendMessages* const owner_;
  v1::RecommendRequest request_;
  v1::RecommendResponse response_;
};

RecycledRecommendMessages::~RecycledRecommendMessages() {
  absl::MutexLock lock(&mu_);
  for (Holder* h : free_) delete h;
}

grpc::MessageHolder<v1::RecommendRequest, v1::RecommendResponse>* RecycledRecommendMessages::AllocateMessages() {
  {
    absl::MutexLock lock(&mu_);
    if (!free_.empty()) {
      Holder* h = free_.back();
      free_.pop_back();
      return h;
    }
    ++allocated_;
  }
  return new Holder(this);
}

void RecycledRecommendMessages::Return(Holder* holder) {
  {
    const bool keep = !holder->Oversized();
    absl::MutexLock lock(&mu_);
    if (keep && free_.size() < max_free_) {
      free_.push_back(holder);
      return;
    }
    --allocated_;
  }
  delete holder;
}

size_t RecycledRecommendMessages::allocated() const {
  absl::MutexLock lock(&mu_);
  return allocated_;
}

size_t RecycledRecommendMessages::free_pairs() const {
  absl::MutexLock lock(&mu_);
  return free_.size();
}

}  // namespace lifelong::recommend
