#include "services/recommend/recommend_service.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/auth/grpc_auth.h"
#include "services/common/status_util.h"
#include "services/recommend/request_validation.h"
#include "services/records/statement.h"

namespace lifelong::recommend {
namespace {

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t s = absl::ToUnixSeconds(t);
  out->set_seconds(s);
  out->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(s)) / absl::Nanoseconds(1)));
}

v1::Recommendation::ReasonKind KindToProto(ReasonKind k) {
  return static_cast<v1::Recommendation::ReasonKind>(static_cast<int>(k));
}

void FillRecommendation(const ScoredCourse& s, absl::Time now, v1::Recommendation* out) {
  const Course& c = *s.course;
  v1::CourseSummary* summary = out->mutable_course();
  summary->set_course_id(c.id);
  summary->set_title(c.title);
  summary->set_category(c.category);
  summary->set_mode(ModeFromName(c.mode));
  for (const std::string& a : c.audiences) summary->add_audiences(AudienceFromName(a));
  summary->set_xuequ(c.xuequ);
  summary->set_jiedao(c.jiedao);
  summary->set_venue_id(c.venue_id);
  summary->set_venue_name(c.venue_name);
  const absl::Time next = c.NextSessionStart(now);
  if (next != absl::InfiniteFuture()) SetTimestamp(next, summary->mutable_next_session_start());
  summary->set_seats_left(c.SeatsLeft());
  summary->set_credits(c.credits);
  summary->set_level(LevelFromName(c.level));
  summary->set_enrolment_open(c.EnrolmentOpenAt(now));
  out->set_score(s.score);
  out->set_reason(s.reason);
  out->set_reason_kind(KindToProto(s.reason_kind));
  out->set_distance_km(s.distance_km);
  for (const std::string& id : s.missing_prerequisites) out->add_missing_prerequisite_ids(id);
}

}  // namespace

RecommendService::RecommendService(Deps deps) : deps_(std::move(deps)) {
  if (!deps_.clock) deps_.clock = [] { return absl::Now(); };
}

absl::StatusOr<ModelPtr> RecommendService::CurrentModel() const {
  ModelPtr model = deps_.models->Current();
  if (model == nullptr) {
    ModelManagerStatus st = deps_.models->Status();
    return absl::UnavailableError(absl::StrCat(
        "no model loaded yet from ", st.model_dir,
        st.last_error.empty() ? "" : absl::StrCat(" (last error: ", st.last_error, ")")));
  }
  return model;
}

grpc::Status RecommendService::Recommend(grpc::ServerContext* ctx,
                                         const v1::RecommendRequest* request,
                                         v1::RecommendResponse* response) {
  absl::StatusOr<auth::AccessGrant> grant =
      auth::AuthorizeCall(deps_.authorizer, ctx, "/lifelong.v1.RecommendationService/Recommend");
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  // A learner's own recommendations; at a kiosk only the identified
  // learner's. Without a learner (anonymous cold start) nobody's records are read.
  if (!request->learner().empty()) {
    absl::Status allowed = auth::CheckLearner(*grant, request->learner(), "learner");
    if (!allowed.ok()) return ToGrpcStatus(allowed);
  }
  absl::StatusOr<RecommendQuery> query = ValidateRecommendRequest(*request);
  if (!query.ok()) return ToGrpcStatus(query.status());
  absl::StatusOr<ModelPtr> model = CurrentModel();
  if (!model.ok()) return ToGrpcStatus(model.status());
  absl::StatusOr<CatalogPtr> catalog = deps_.catalog->Current();
  if (!catalog.ok()) return ToGrpcStatus(catalog.status());
  LearnerHistory history;
  if (!request->learner().empty()) {
    // The learner's latest history: from the cache that the record
    // service's change feed keeps exact, else read from the record service.
    std::string key;  // canonical learner key; "" when not cacheable
    if (deps_.history_cache != nullptr) {
      absl::StatusOr<std::string> canonical = records::CanonicalLearnerKey(request->learner(), "learner");
      if (canonical.ok()) key = *std::move(canonical);  // else the record service names the error
    }
    std::optional<std::vector<StatementFact>> facts;
    if (!key.empty()) facts = deps_.history_cache->Lookup(key);
    if (!facts) {
      const uint64_t ticket = key.empty() ? 0 : deps_.history_cache->BeginFetch(key);
      absl::StatusOr<std::vector<StatementFact>> read =
          deps_.records->LatestStatements(request->learner(), deps_.history_limit,
                                          deps_.authorizer != nullptr && deps_.authorizer->enabled()
                                              ? grant->principal().subject
                                              : std::string());
      if (!key.empty()) deps_.history_cache->EndFetch(key, ticket, read.ok() ? &*read : nullptr);
      if (!read.ok()) return ToGrpcStatus(read.status());
      facts = *std::move(read);
    }
    history = BuildLearnerHistory(*facts);
  }
  const absl::Time now = deps_.clock();
  absl::StatusOr<RecommendResult> result =
      deps_.recommender->Recommend(*model, *catalog, history, *query, now);
  if (!result.ok()) return ToGrpcStatus(result.status());
  for (const ScoredCourse& s : result->items) {
    FillRecommendation(s, now, response->add_recommendations());
  }
  response->set_model_version(absl::StrCat(result->model_version));
  response->set_cold_start(result->cold_start);
  return grpc::Status::OK;
}

grpc::Status RecommendService::SimilarCourses(grpc::ServerContext* ctx,
                                              const v1::SimilarCoursesRequest* request,
                                              v1::SimilarCoursesResponse* response) {
  absl::StatusOr<auth::AccessGrant> grant =
      auth::AuthorizeCall(deps_.authorizer, ctx, "/lifelong.v1.RecommendationService/SimilarCourses");
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  absl::StatusOr<CourseFilter> filter = ValidateSimilarRequest(*request);
  if (!filter.ok()) return ToGrpcStatus(filter.status());
  absl::StatusOr<ModelPtr> model = CurrentModel();
  if (!model.ok()) return ToGrpcStatus(model.status());
  absl::StatusOr<CatalogPtr> catalog = deps_.catalog->Current();
  if (!catalog.ok()) return ToGrpcStatus(catalog.status());
  const absl::Time now = deps_.clock();
  absl::StatusOr<RecommendResult> result = deps_.recommender->Similar(
      *model, *catalog, request->course_id(), request->k(), *filter, now);
  if (!result.ok()) return ToGrpcStatus(result.status());
  for (const ScoredCourse& s : result->items) {
    FillRecommendation(s, now, response->add_recommendations());
  }
  response->set_model_version(absl::StrCat(result->model_version));
  return grpc::Status::OK;
}

void RecommendService::FillStatus(v1::ModelStatus* out) const {
  ModelManagerStatus st = deps_.models->Status();
  out->set_version(st.version);
  if (st.version > 0) SetTimestamp(st.loaded_at, out->mutable_loaded_at());
  out->set_item_count(st.item_count);
  out->set_dimension(st.dimension);
  out->set_index_kind(st.index_kind);
  out->set_pinned(st.pinned);
  for (int64_t v : st.available_versions) out->add_available_versions(v);
  out->set_last_error(st.last_error);
  out->set_last_error_version(st.last_error_version);
  out->set_model_dir(st.model_dir);
  out->set_ivf_nlist(st.ivf_nlist);
  out->set_ivf_nprobe(st.ivf_nprobe);
  out->set_ivf_recall_at_10(st.ivf_recall_at_10);
}

grpc::Status RecommendService::GetModelStatus(grpc::ServerContext* ctx,
                                              const v1::GetModelStatusRequest* request,
                                              v1::ModelStatus* response) {
  absl::StatusOr<auth::AccessGrant> grant =
      auth::AuthorizeCall(deps_.authorizer, ctx, "/lifelong.v1.RecommendationService/GetModelStatus");
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  FillStatus(response);
  return grpc::Status::OK;
}

grpc::Status RecommendService::PinModelVersion(grpc::ServerContext* ctx,
                                               const v1::PinModelVersionRequest* request,
                                               v1::ModelStatus* response) {
  absl::StatusOr<auth::AccessGrant> grant =
      auth::AuthorizeCall(deps_.authorizer, ctx, "/lifelong.v1.RecommendationService/PinModelVersion");
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  if (request->version() <= 0) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("version: must be positive, got ", request->version())));
  }
  absl::Status s = deps_.models->Pin(request->version());
  if (!s.ok()) return ToGrpcStatus(s);
  FillStatus(response);
  return grpc::Status::OK;
}

grpc::Status RecommendService::UnpinModelVersion(grpc::ServerContext* ctx,
                                                 const v1::UnpinModelVersionRequest* request,
                                                 v1::ModelStatus* response) {
  absl::StatusOr<auth::AccessGrant> grant =
      auth::AuthorizeCall(deps_.authorizer, ctx, "/lifelong.v1.RecommendationService/UnpinModelVersion");
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  absl::Status s = deps_.models->Unpin();
  if (!s.ok()) return ToGrpcStatus(s);
  FillStatus(response);
  return grpc::Status::OK;
}

grpc::Status RecommendService::Echo(grpc::ServerContext* ctx, const v1::EchoRequest* request,
                                    v1::EchoResponse* response) {
  if (deps_.authorizer != nullptr && deps_.authorizer->enabled()) {
    absl::StatusOr<auth::AccessGrant> grant =
        auth::AuthorizeCall(deps_.authorizer, ctx, "/lifelong.v1.RecommendationService/Echo");
    if (!grant.ok()) return ToGrpcStatus(grant.status());
  }
  response->set_payload(request->payload());
  return grpc::Status::OK;
}

}  // namespace lifelong::recommend
