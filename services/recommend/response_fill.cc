#include "services/recommend/response_fill.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
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

namespace {

// Appends the base-128 varint of `v` (protobuf's wire encoding).
void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(static_cast<uint8_t>(v) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Field 1, wire type 2 (length-delimited): Recommendation.course and
// RecommendResponse.recommendations.
constexpr char kField1Bytes = static_cast<char>((1 << 3) | 2);

// Field `number`, wire type 1 (64-bit): the double's bits, little-endian,
// unless they are all zero.
void AppendDoubleField(int number, double v, std::string* out) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  if (bits == 0) return;
  AppendVarint((static_cast<uint64_t>(number) << 3) | 1, out);
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

// Field `number`, wire type 2: length and bytes (unless empty and not
// `always`: a singular proto3 string).
void AppendStringField(int number, absl::string_view v, bool always, std::string* out) {
  if (v.empty() && !always) return;
  AppendVarint((static_cast<uint64_t>(number) << 3) | 2, out);
  AppendVarint(v.size(), out);
  out->append(v.data(), v.size());
}

}  // namespace

const CatalogSnapshot::SummaryMemo* CourseSummaryBytes(const Course& c, const CatalogSnapshot* catalog,
                                                       absl::Time now) {
  // FillCourseSummary's fields are the course's own (fixed for a snapshot:
  // courses are const in it) but for these two, which depend on `now`.
  const absl::Time next = c.NextSessionStart(now);
  const bool open = c.EnrolmentOpenAt(now);
  const ptrdiff_t index = catalog != nullptr ? catalog->IndexOf(&c) : -1;
  if (index >= 0) {
    const CatalogSnapshot::SummaryMemo* memo = catalog->LoadSummaryMemo(index);
    if (memo != nullptr && memo->next_session_start == next && memo->enrolment_open == open) return memo;
  }
  thread_local v1::CourseSummary summary;
  FillCourseSummary(c, now, &summary);
  auto fresh = std::make_unique<CatalogSnapshot::SummaryMemo>();
  fresh->next_session_start = next;
  fresh->enrolment_open = open;
  summary.SerializeToString(&fresh->bytes);
  std::unique_ptr<const CatalogSnapshot::SummaryMemo> memo = std::move(fresh);
  if (index >= 0) {
    if (const CatalogSnapshot::SummaryMemo* stored = catalog->StoreSummaryMemo(index, std::move(memo))) return stored;
  }
  // Not kept (not the snapshot's course, or its bound on memos): this
  // thread's scratch.
  thread_local CatalogSnapshot::SummaryMemo unmemoized;
  unmemoized = *memo;
  return &unmemoized;
}

void AppendRecommendResponseBytes(const RecommendResult& result, const CatalogSnapshot& catalog, absl::Time now,
                                  std::string* out) {
  // A Recommendation's fields after `course`, written as its generated
  // _InternalSerialize writes them (protobuf 3.21, proto3): a double when
  // its bits are not all zero (so -0.0 is written), a string or enum when
  // not empty / 0, every element of a repeated string; tags in field order.
  thread_local std::string rest;
  for (const ScoredCourse& s : result.items) {
    const CatalogSnapshot::SummaryMemo* const summary = CourseSummaryBytes(*s.course, &catalog, now);
    rest.clear();
    AppendDoubleField(2, s.score, &rest);
    AppendStringField(3, s.reason, /*always=*/false, &rest);
    const int32_t kind = static_cast<int32_t>(KindToProto(s.reason_kind));
    if (kind != 0) {
      AppendVarint((4 << 3) | 0, &rest);
      AppendVarint(static_cast<uint64_t>(static_cast<int64_t>(kind)), &rest);
    }
    AppendDoubleField(5, s.distance_km, &rest);
    for (const std::string& id : s.missing_prerequisites) AppendStringField(6, id, /*always=*/true, &rest);
    const size_t course_size = summary->bytes.size();
    const size_t recommendation_size = 1 + VarintSize(course_size) + course_size + rest.size();
    out->push_back(kField1Bytes);
    AppendVarint(recommendation_size, out);
    out->push_back(kField1Bytes);
    AppendVarint(course_size, out);
    out->append(summary->bytes);
    out->append(rest);
  }
  // The response's fields after `recommendations`.
  AppendStringField(2, absl::StrCat(result.model_version), /*always=*/false, out);
  if (result.cold_start) {
    AppendVarint((3 << 3) | 0, out);
    out->push_back(1);
  }
}

void FillSimilarResponse(const RecommendResult& result, absl::Time now, v1::SimilarCoursesResponse* out) {
  FillRecommendations(result, now, out->mutable_recommendations());
  out->set_model_version(absl::StrCat(result.model_version));
}

}  // namespace lifelong::recommend
