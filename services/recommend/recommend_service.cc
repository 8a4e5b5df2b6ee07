#include "services/recommend/recommend_service.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/auth/grpc_auth.h"
#include "services/common/grpc_status.h"
#include "services/common/overload.h"
#include "services/common/raw_request.h"
#include "services/common/request_context.h"
#include "services/common/status_macros.h"
#include "services/domain/learner_key.h"
#include "services/recommend/request_validation.h"
#include "services/recommend/response_fill.h"

namespace lifelong::recommend {

RecommendService::RecommendService(Deps deps) : deps_(std::move(deps)) {
  if (!deps_.clock) deps_.clock = [] { return absl::Now(); };
  if (deps_.history_workers < 1) deps_.history_workers = 1;
  if (deps_.max_history_reads < 1) deps_.max_history_reads = 1;
  for (int i = 0; i < deps_.history_workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  RegisterMethods();
}

size_t RecommendService::MaxRequestBytes(absl::string_view method) {
  if (method == "PlanPath") return kMaxPlanPathRequestBytes;
  return kMaxRecommendQueryRequestBytes;
}

grpc::Status RecommendService::GateRequest(grpc::ServerContext* ctx, absl::string_view method,
                                           const grpc::ByteBuffer& raw, google::protobuf::Message* request) const {
  // The caller, and whether their role may call the method at all (a
  // learner's PinModelVersion is refused before it is parsed). For which
  // learner stays the handler's question (auth::AuthorizeCall), answered
  // with the parsed request.
  if (deps_.authorizer != nullptr && deps_.authorizer->enabled()) {
    absl::StatusOr<auth::Principal> caller = deps_.authorizer->Authenticate(auth::AuthorizationHeader(ctx));
    if (!caller.ok()) return ToGrpcStatus(caller.status());
    const std::string op = absl::StrCat("/lifelong.v1.RecommendationService/", method);
    if (absl::Status granted = deps_.authorizer->CheckRoleGranted(*caller, op); !granted.ok()) {
      return ToGrpcStatus(granted);
    }
  }
  return ToGrpcStatus(ParseRawRequest(method, MaxRequestBytes(method), raw, request));
}

void RecommendService::RegisterMethods() {
  // In proto order. recommend_request_gate_test checks that every method of
  // the proto's service is served, and every synchronous one through the
  // gate.
  auto unary = [this](const char* method, auto handler) {
    AddMethod(GatedUnaryMethod(method_paths_.Path(method), method, this, &RecommendService::GateRequest, handler));
  };
  AddMethod(RawCallbackMethod(method_paths_.Path("Recommend"), this, &RecommendService::Recommend));
  unary("SimilarCourses", &RecommendService::SimilarCourses);
  unary("GetModelStatus", &RecommendService::GetModelStatus);
  unary("PinModelVersion", &RecommendService::PinModelVersion);
  unary("UnpinModelVersion", &RecommendService::UnpinModelVersion);
  unary("Echo", &RecommendService::Echo);
  unary("PlanPath", &RecommendService::PlanPath);
}

absl::StatusOr<ModelPtr> RecommendService::CurrentModel() const {
  ModelPtr model = deps_.models->Current();
  if (model == nullptr) {
    ModelManagerStatus st = deps_.models->Status();
    return absl::UnavailableError(
        absl::StrCat("no model loaded yet from ", st.model_dir,
                     st.last_error.empty() ? "" : absl::StrCat(" (last error: ", st.last_error, ")")));
  }
  return model;
}

namespace {
// The request's bytes into *out (cleared first), as gRPC's typed handler
// parses them; bytes that are not a RecommendRequest are the caller's error.
absl::Status ParseRecommendRequest(const grpc::ByteBuffer* bytes, v1::RecommendRequest* out) {
  if (bytes == nullptr) return absl::InvalidArgumentError("request: no message");
  grpc::ByteBuffer copy(*bytes);  // Deserialize consumes its buffer; this shares the slices
  const grpc::Status s = grpc::SerializationTraits<v1::RecommendRequest>::Deserialize(&copy, out);
  if (!s.ok()) {
    return absl::InvalidArgumentError("request: not a lifelong.v1.RecommendRequest");  // as ParseRawRequest
  }
  return absl::OkStatus();
}
}  // namespace

struct RecommendService::Prepared {
  RecommendQuery query;
  ModelPtr model;
  CatalogPtr catalog;
  LearnerHistoryCache::HistoryPtr history;  // null: no learner, or to be read
  std::string learner;
  std::string caller;  // the principal's subject (the record service's audit)
  // The call's authorization: holds one of the principal's in-flight slots
  // (--auth_max_in_flight) until the call is answered, the records read on
  // a worker included. Reset just before Finish, so that a client that sends
  // its next call on the answer finds the slot free (as the synchronous
  // handlers' grants, released when they return).
  std::optional<auth::AccessGrant> grant;
};

namespace {
// The scope check of a request for `learner`'s records (the request's
// `learner` field), on the canonical learner key as the record service makes
// it (domain::CanonicalLearnerKey): one learner has one key however the
// request spells it ("account:<district IdP>|u1" is "u1"), and a principal
// whose subject is not a canonical key matches no learner. Comparing the
// request's spelling instead let a learner whose subject was
// "account:<district IdP>|u1" read u1's history (it is read by the canonical
// key). INVALID_ARGUMENT naming `learner` for a key of no known form,
// PERMISSION_DENIED as auth::CheckLearner.
absl::Status CheckLearnerKey(const auth::AccessGrant& grant, const std::string& learner) {
  LL_ASSIGN_OR_RETURN(const std::string key, domain::CanonicalLearnerKey(learner, "learner"));
  return auth::CheckLearner(grant, key, "learner");
}

}  // namespace

RecommendService::~RecommendService() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    stopping_ = true;
  }
  pool_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

int RecommendService::pending_history_reads() const {
  std::lock_guard<std::mutex> lock(pool_mu_);
  return pending_;
}

bool RecommendService::Submit(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (stopping_ || pending_ >= deps_.max_history_reads) return false;
    ++pending_;
    queue_.push_back(std::move(work));
  }
  pool_cv_.notify_one();
  return true;
}

void RecommendService::WorkerLoop() {
  std::unique_lock<std::mutex> lock(pool_mu_);
  while (true) {
    pool_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to finish
    std::function<void()> work = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    work();  // finishes its call
    work = nullptr;
    lock.lock();
    --pending_;
  }
}

grpc::ServerUnaryReactor* RecommendService::Recommend(grpc::CallbackServerContext* ctx,
                                                      const grpc::ByteBuffer* request_bytes,
                                                      grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto prepared = std::make_shared<Prepared>();
  bool needs_read = false;
  // Parsed into a message reused by this callback thread (Prepare copies
  // what the call needs later, the query and the learner, into `prepared`);
  // one far past what validation accepts goes to a message of its own, so
  // that its strings' buffers are not kept.
  constexpr size_t kMaxReusedRequestBytes = 16 * 1024;
  thread_local v1::RecommendRequest reused;
  v1::RecommendRequest oversized;
  v1::RecommendRequest& request =
      request_bytes != nullptr && request_bytes->Length() > kMaxReusedRequestBytes ? oversized : reused;
  // The gate's order (class comment): the caller first, then the size, then
  // the parse; the grant is kept with the call until it is answered.
  absl::StatusOr<auth::AccessGrant> granted =
      auth::AuthorizeCall(deps_.authorizer, ctx, "/lifelong.v1.RecommendationService/Recommend");
  absl::Status s = granted.status();
  if (s.ok()) {
    prepared->grant.emplace(*std::move(granted));
    const size_t bound = MaxRequestBytes("Recommend");
    s = request_bytes != nullptr && request_bytes->Length() > bound
            ? absl::ResourceExhaustedError(absl::StrCat("request: ", request_bytes->Length(), " bytes, more than the ",
                                                        bound, " bytes Recommend accepts"))
            : ParseRecommendRequest(request_bytes, &request);
  }
  if (s.ok()) s = PrepareRecommend(request, prepared.get(), &needs_read);
  if (!s.ok() || !needs_read) {
    // Pure CPU from here: answered on this callback thread.
    if (s.ok()) s = AnswerRecommend(*prepared, response);
    prepared->grant.reset();
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  // The history must be read from the record service (blocking, up to
  // --records_deadline_ms): on a worker, never on gRPC's callback threads.
  // `ctx`, `request` and `response` live until Finish, even when the client
  // cancels meanwhile; Finish is the worker's last touch of the call.
  // The call's request id goes along (the records read carries it).
  const bool queued = Submit([this, ctx, reactor, response, prepared, request_id = CurrentRequestId()] {
    ScopedRequestId scoped_id(request_id);
    absl::Status st;
    if (ctx->IsCancelled()) {
      st = absl::CancelledError("the call was cancelled before its history was read");
    } else if (ctx->deadline() < std::chrono::system_clock::now()) {
      st = absl::DeadlineExceededError("the call's deadline passed before its history was read");
    } else {
      absl::StatusOr<LearnerHistoryCache::HistoryPtr> history =
          LoadHistory(prepared->learner, prepared->caller, absl::FromChrono(ctx->deadline()));
      if (history.ok()) {
        prepared->history = *std::move(history);
        st = AnswerRecommend(*prepared, response);
      } else {
        st = history.status();
      }
    }
    prepared->grant.reset();
    reactor->Finish(ToGrpcStatus(st));
  });
  if (!queued) {
    prepared->grant.reset();
    const int ms = OverloadRetryAfterMs();
    ctx->AddTrailingMetadata(kRetryPushbackTrailer, std::to_string(ms));
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, OverloadRefusalMessage(ms)));
  }
  return reactor;
}

absl::Status RecommendService::PrepareRecommend(const v1::RecommendRequest& request, Prepared* out, bool* needs_read) {
  *needs_read = false;
  const auth::AccessGrant& grant = *out->grant;
  // A learner's own recommendations; at a kiosk only the identified
  // learner's. Without a learner (anonymous cold start) nobody's records are read.
  if (!request.learner().empty()) LL_RETURN_IF_ERROR(CheckLearnerKey(grant, request.learner()));
  LL_ASSIGN_OR_RETURN(out->query, ValidateRecommendRequest(request));
  LL_ASSIGN_OR_RETURN(out->model, CurrentModel());
  LL_ASSIGN_OR_RETURN(out->catalog, deps_.catalog->Current());
  if (request.learner().empty()) return absl::OkStatus();
  // A cached history is used without waiting; anything else (a miss, a read
  // in flight to join, a learner key the record service must judge) goes to
  // LoadHistory on a worker.
  if (deps_.history_cache != nullptr) {
    absl::StatusOr<std::string> key = domain::CanonicalLearnerKey(request.learner(), "learner");
    if (key.ok()) out->history = deps_.history_cache->Peek(*key);
    if (out->history != nullptr) return absl::OkStatus();
  }
  out->learner = request.learner();
  out->caller = grant.principal().subject;
  *needs_read = true;
  return absl::OkStatus();
}

absl::Status RecommendService::AnswerRecommend(const Prepared& prepared, grpc::ByteBuffer* response) {
  static const LearnerHistory* const kNoHistory = new LearnerHistory();
  const absl::Time now = deps_.clock();
  LL_ASSIGN_OR_RETURN(
      const RecommendResult result,
      deps_.recommender->Recommend(prepared.model, prepared.catalog, prepared.history ? *prepared.history : *kNoHistory,
                                   prepared.query, now));
  // The bytes FillRecommendResponse's message would serialize to, built in a
  // buffer this thread reuses, then copied once into the call's slice.
  thread_local std::string bytes;
  bytes.clear();
  AppendRecommendResponseBytes(result, *prepared.catalog, now, &bytes);
  grpc::Slice slice(bytes.data(), bytes.size());
  grpc::ByteBuffer answer(&slice, 1);
  response->Swap(&answer);
  return absl::OkStatus();
}

absl::StatusOr<LearnerHistoryCache::HistoryPtr> RecommendService::LoadHistory(const std::string& learner,
                                                                              const std::string& caller,
                                                                              absl::Time call_deadline) {
  // The learner's latest history: from the cache that the record service's
  // change feed keeps exact, else read from the record service.
  std::string key;  // canonical learner key; "" when not cacheable
  if (deps_.history_cache != nullptr) {
    absl::StatusOr<std::string> canonical = domain::CanonicalLearnerKey(learner, "learner");
    if (canonical.ok()) key = *std::move(canonical);  // else the record service names the error
  }
  // A hit is the history built when it was read: nothing is copied or built.
  // A miss registers this read, so that concurrent requests for the learner
  // wait for it rather than read too (history_cache.h).
  uint64_t ticket = 0;
  if (!key.empty()) {
    if (LearnerHistoryCache::HistoryPtr cached = deps_.history_cache->LookupOrBeginFetch(key, &ticket, call_deadline)) {
      return cached;
    }
  }
  absl::StatusOr<std::vector<StatementFact>> read = deps_.records->LatestStatements(
      learner, deps_.history_limit, deps_.authorizer != nullptr && deps_.authorizer->enabled() ? caller : std::string(),
      call_deadline);
  LearnerHistoryCache::HistoryPtr history;
  if (read.ok()) history = std::make_shared<const LearnerHistory>(BuildLearnerHistory(*read));
  if (!key.empty()) deps_.history_cache->EndFetch(key, ticket, history, read.ok() ? read->size() : 0);
  if (!read.ok()) return read.status();
  return history;
}

grpc::Status RecommendService::SimilarCourses(grpc::ServerContext* ctx, const v1::SimilarCoursesRequest* request,
                                              v1::SimilarCoursesResponse* response) {
  return ToGrpcStatus(DoSimilarCourses(ctx, *request, response));
}

absl::Status RecommendService::DoSimilarCourses(grpc::ServerContext* ctx, const v1::SimilarCoursesRequest& request,
                                                v1::SimilarCoursesResponse* response) {
  // Held until the call returns: one of the caller's in-flight calls.
  LL_ASSIGN_OR_RETURN(const auth::AccessGrant grant,
                      auth::AuthorizeCall(deps_.authorizer, ctx, "/lifelong.v1.RecommendationService/SimilarCourses"));
  LL_ASSIGN_OR_RETURN(const CourseFilter filter, ValidateSimilarRequest(request));
  LL_ASSIGN_OR_RETURN(const ModelPtr model, CurrentModel());
  LL_ASSIGN_OR_RETURN(const CatalogPtr catalog, deps_.catalog->Current());
  const absl::Time now = deps_.clock();
  LL_ASSIGN_OR_RETURN(const RecommendResult result,
                      deps_.recommender->Similar(model, catalog, request.course_id(), request.k(), filter, now));
  FillSimilarResponse(result, now, response);
  return absl::OkStatus();
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

grpc::Status RecommendService::GetModelStatus(grpc::ServerContext* ctx, const v1::GetModelStatusRequest* request,
                                              v1::ModelStatus* response) {
  return ToGrpcStatus([&]() -> absl::Status {
    // Held until the call returns: one of the caller's in-flight calls.
    LL_ASSIGN_OR_RETURN(
        const auth::AccessGrant grant,
        auth::AuthorizeCall(deps_.authorizer, ctx, "/lifelong.v1.RecommendationService/GetModelStatus"));
    FillStatus(response);
    return absl::OkStatus();
  }());
}

grpc::Status RecommendService::PinModelVersion(grpc::ServerContext* ctx, const v1::PinModelVersionRequest* request,
                                               v1::ModelStatus* response) {
  return ToGrpcStatus([&]() -> absl::Status {
    // Held until the call returns: one of the caller's in-flight calls.
    LL_ASSIGN_OR_RETURN(
        const auth::AccessGrant grant,
        auth::AuthorizeCall(deps_.authorizer, ctx, "/lifelong.v1.RecommendationService/PinModelVersion"));
    if (request->version() <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("version: must be positive, got ", request->version()));
    }
    LL_RETURN_IF_ERROR(deps_.models->Pin(request->version()));
    FillStatus(response);
    return absl::OkStatus();
  }());
}

grpc::Status RecommendService::UnpinModelVersion(grpc::ServerContext* ctx, const v1::UnpinModelVersionRequest* request,
                                                 v1::ModelStatus* response) {
  return ToGrpcStatus([&]() -> absl::Status {
    // Held until the call returns: one of the caller's in-flight calls.
    LL_ASSIGN_OR_RETURN(
        const auth::AccessGrant grant,
        auth::AuthorizeCall(deps_.authorizer, ctx, "/lifelong.v1.RecommendationService/UnpinModelVersion"));
    LL_RETURN_IF_ERROR(deps_.models->Unpin());
    FillStatus(response);
    return absl::OkStatus();
  }());
}

grpc::Status RecommendService::Echo(grpc::ServerContext* ctx, const v1::EchoRequest* request,
                                    v1::EchoResponse* response) {
  return ToGrpcStatus([&]() -> absl::Status {
    if (deps_.authorizer != nullptr && deps_.authorizer->enabled()) {
      // Held until the call returns: one of the caller's in-flight calls.
      LL_ASSIGN_OR_RETURN(const auth::AccessGrant grant,
                          auth::AuthorizeCall(deps_.authorizer, ctx, "/lifelong.v1.RecommendationService/Echo"));
    }
    response->set_payload(request->payload());
    return absl::OkStatus();
  }());
}

grpc::Status RecommendService::PlanPath(grpc::ServerContext* ctx, const v1::PlanPathRequest* request,
                                        v1::PlanPathResponse* response) {
  return ToGrpcStatus(DoPlanPath(ctx, *request, response));
}

absl::Status RecommendService::DoPlanPath(grpc::ServerContext* ctx, const v1::PlanPathRequest& request,
                                          v1::PlanPathResponse* response) {
  LL_ASSIGN_OR_RETURN(const auth::AccessGrant grant,
                      auth::AuthorizeCall(deps_.authorizer, ctx, "/lifelong.v1.RecommendationService/PlanPath"));
  // A learner's own plan; at a kiosk only the identified learner's.
  if (!request.learner().empty()) LL_RETURN_IF_ERROR(CheckLearnerKey(grant, request.learner()));
  LL_ASSIGN_OR_RETURN(const PlanPathQuery query, ValidatePlanPathRequest(request));
  LL_ASSIGN_OR_RETURN(const CatalogPtr catalog, deps_.catalog->Current());
  PlanGoal goal = query.goal;
  if (!query.programme_id.empty()) {
    const Programme* p = catalog->FindProgramme(query.programme_id);
    if (p == nullptr) {
      return absl::NotFoundError(absl::StrCat("programme_id: no programme \"", query.programme_id, "\""));
    }
    goal.programme = *p;
    goal.catalog_programme = true;  // a passed deadline is an answer, not the caller's error
  }
  LL_ASSIGN_OR_RETURN(const LearnerHistoryCache::HistoryPtr history_ptr,
                      LoadHistory(query.learner, grant.principal().subject, absl::FromChrono(ctx->deadline())));
  const LearnerHistory& history = *history_ptr;
  const absl::Time now = deps_.clock();

  // The recommender's scores rank the choices: its best 100 overall, and
  // its best 100 in the goal's categories. Without a model the plan is
  // still made (ties broken by end time and id).
  CourseScores scores;
  ModelPtr model = deps_.models->Current();
  if (model != nullptr) {
    std::vector<std::vector<std::string>> filters = {{}};
    std::vector<std::string> categories;
    if (goal.kind == PlanGoal::Kind::kCategory) categories.push_back(goal.category);
    for (const CreditRequirement& r : goal.programme.by_category) categories.push_back(r.category);
    if (!categories.empty()) filters.push_back(categories);
    for (const auto& cats : filters) {
      RecommendQuery q;
      q.k = kMaxK;
      q.filter.categories = cats;
      LL_ASSIGN_OR_RETURN(const RecommendResult r, deps_.recommender->Recommend(model, catalog, history, q, now));
      for (const ScoredCourse& s : r.items) scores.try_emplace(s.course->id, s.score);
    }
    response->set_model_version(absl::StrCat(model->version()));
  }
  PlanLearner learner = query.preferences;
  learner.completed = history.completed;
  learner.credited = history.credited;  // progress: verified credits only
  learner.enrolled = history.enrolled;
  LL_ASSIGN_OR_RETURN(const recommend::PathPlan plan,
                      recommend::PlanPath(*catalog, goal, learner, scores, now, query.options));

  response->set_feasible(plan.feasible);
  response->set_reason(plan.reason);
  response->set_already_achieved(plan.already_achieved);
  switch (goal.kind) {
    case PlanGoal::Kind::kProgramme:
      response->set_goal_name(goal.programme.name);
      break;
    case PlanGoal::Kind::kCourse: {
      const Course* c = catalog->Find(goal.course_id);
      response->set_goal_name(c != nullptr ? c->title : goal.course_id);
      break;
    }
    case PlanGoal::Kind::kCategory:
      response->set_goal_name(goal.category);
      break;
  }
  int sessions_left = kMaxPlannedSessionsPerReply;
  for (const PlanStep& step : plan.steps) {
    v1::PlannedCourse* out = response->add_steps();
    FillCourseSummary(*step.course, now, out->mutable_course());
    out->set_in_progress(step.enrolled);
    SetTimestamp(step.start, out->mutable_start());
    SetTimestamp(step.end, out->mutable_end());
    const int listed = std::min({static_cast<int>(step.sessions.size()), kMaxPlannedSessionsPerCourse, sessions_left});
    sessions_left -= listed;
    out->set_sessions_not_listed(static_cast<int>(step.sessions.size()) - listed);
    for (int i = 0; i < listed; ++i) {
      v1::Session* so = out->add_sessions();
      SetTimestamp(step.sessions[i].start, so->mutable_start_time());
      SetTimestamp(step.sessions[i].end, so->mutable_end_time());
    }
    out->set_why(step.why);
    out->set_score(step.score);
  }
  if (goal.kind == PlanGoal::Kind::kProgramme) {
    const PlanProgress& p = plan.progress;
    v1::PathProgress* out = response->mutable_progress();
    out->set_credits_required(p.credits_required);
    out->set_credits_earned(p.credits_earned);
    out->set_credits_planned(p.credits_planned);
    for (const CategoryProgress& c : p.by_category) {
      auto* cc = out->add_by_category();
      cc->set_category(c.category);
      cc->set_required(c.required);
      cc->set_earned(c.earned);
      cc->set_planned(c.planned);
    }
    for (const std::string& id : p.required_done) out->add_required_done(id);
    for (const std::string& id : p.required_planned) out->add_required_planned(id);
    for (const std::string& id : p.required_missing) out->add_required_missing(id);
  }
  return absl::OkStatus();
}

}  // namespace lifelong::recommend
