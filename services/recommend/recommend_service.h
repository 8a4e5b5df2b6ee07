// The gRPC face of the recommender: validates requests, gathers the model,
// catalog snapshot and learner history, calls Recommender, and maps results
// and errors onto lifelong.v1.RecommendationService. No ranking logic here.
// Thread-safe: handlers run concurrently on gRPC's threads.
#ifndef LIFELONG_SERVICES_RECOMMEND_RECOMMEND_SERVICE_H_
#define LIFELONG_SERVICES_RECOMMEND_RECOMMEND_SERVICE_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/recommend/catalog_cache.h"
#include "services/recommend/history_cache.h"
#include "services/recommend/model_manager.h"
#include "services/recommend/recommender.h"
#include "services/recommend/records_client.h"
#include "services/recommend/response_fill.h"

namespace lifelong::recommend {

// The sessions a PlanPath reply lists: at most this many per planned course
// (its next ones) and in all (earlier steps first), so that a learner with
// a thousand long courses in progress gets a reply of a few hundred KB, not
// tens of MB past a client's 4 MB receive limit. PlannedCourse's
// sessions_not_listed counts the rest.
inline constexpr int kMaxPlannedSessionsPerCourse = 100;
inline constexpr int kMaxPlannedSessionsPerReply = 10'000;

// Recommend is a callback (reactor) method: answered on gRPC's callback
// thread when it needs no records read (history cached, or no learner), else
// handed to a small bounded pool of workers that read the history and answer
// (docs/recommend.md, "Request flow"). The other methods are synchronous.
class RecommendService final
    : public v1::RecommendationService::WithRawCallbackMethod_Recommend<v1::RecommendationService::Service> {
 public:
  struct Deps {
    ModelManager* models = nullptr;          // not owned
    CatalogCache* catalog = nullptr;         // not owned
    const RecordsClient* records = nullptr;  // not owned
    // Not owned; nullptr: every learner request reads the record service.
    LearnerHistoryCache* history_cache = nullptr;
    const Recommender* recommender = nullptr;  // not owned
    std::function<absl::Time()> clock;         // default absl::Now
    int history_limit = 1000;                  // statements read per request
    auth::Authorizer* authorizer = nullptr;    // not owned; nullptr trusts every caller
    // Workers that serve the Recommend calls whose history must be read from
    // the record service, and how many such calls may be queued or running
    // at once; past it a call is refused with the overload refusal
    // (overload.h: RESOURCE_EXHAUSTED and a retry hint).
    int history_workers = 4;
    int max_history_reads = 256;
  };

  explicit RecommendService(Deps deps);
  // Waits for the workers; every call handed to them has been finished
  // (the gRPC server is shut down first).
  ~RecommendService() override;

  // Raw callback method: the request is parsed here (a malformed one is
  // INVALID_ARGUMENT), the answer is written as the bytes of the
  // RecommendResponse that FillRecommendResponse would fill
  // (AppendRecommendResponseBytes: course summaries serialized once per
  // catalog snapshot and reused).
  grpc::ServerUnaryReactor* Recommend(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  // Recommend calls handed to the workers and not finished yet.
  int pending_history_reads() const;
  grpc::Status SimilarCourses(grpc::ServerContext* ctx, const v1::SimilarCoursesRequest* request,
                              v1::SimilarCoursesResponse* response) override;
  grpc::Status GetModelStatus(grpc::ServerContext* ctx, const v1::GetModelStatusRequest* request,
                              v1::ModelStatus* response) override;
  grpc::Status PinModelVersion(grpc::ServerContext* ctx, const v1::PinModelVersionRequest* request,
                               v1::ModelStatus* response) override;
  grpc::Status UnpinModelVersion(grpc::ServerContext* ctx, const v1::UnpinModelVersionRequest* request,
                                 v1::ModelStatus* response) override;
  grpc::Status Echo(grpc::ServerContext* ctx, const v1::EchoRequest* request, v1::EchoResponse* response) override;
  grpc::Status PlanPath(grpc::ServerContext* ctx, const v1::PlanPathRequest* request,
                        v1::PlanPathResponse* response) override;

 private:
  // The RPCs' work, in absl::Status; each RPC above converts the outcome to a
  // gRPC status once (services/common/grpc_status.h).
  // Recommend's parts: Prepare authorizes and validates (on the callback
  // thread) and fills *history when the request needs no read; Answer ranks
  // and fills the response.
  struct Prepared;
  absl::Status PrepareRecommend(grpc::ServerContextBase* ctx, const v1::RecommendRequest& request, Prepared* out,
                                bool* needs_read);
  absl::Status AnswerRecommend(const Prepared& prepared, grpc::ByteBuffer* response);
  // Queues `work` for a worker: false (nothing queued) past max_history_reads.
  bool Submit(std::function<void()> work);
  void WorkerLoop();
  absl::Status DoSimilarCourses(grpc::ServerContext* ctx, const v1::SimilarCoursesRequest& request,
                                v1::SimilarCoursesResponse* response);
  absl::Status DoPlanPath(grpc::ServerContext* ctx, const v1::PlanPathRequest& request, v1::PlanPathResponse* response);
  absl::StatusOr<ModelPtr> CurrentModel() const;
  // The learner's latest history (from the cache the change feed keeps
  // exact, else the record service). `caller`: the subject for the record
  // service's audit log when authorization is on. `call_deadline`: the
  // deadline of the call it serves; neither waiting for another request's
  // read nor the read itself goes past it (DEADLINE_EXCEEDED).
  // Never null when OK.
  absl::StatusOr<LearnerHistoryCache::HistoryPtr> LoadHistory(const std::string& learner, const std::string& caller,
                                                              absl::Time call_deadline);
  void FillStatus(v1::ModelStatus* out) const;

  Deps deps_;

  mutable std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::deque<std::function<void()>> queue_;  // guarded by pool_mu_
  int pending_ = 0;                          // queued + running; guarded by pool_mu_
  bool stopping_ = false;                    // guarded by pool_mu_
  std::vector<std::thread> workers_;
};

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_RECOMMEND_SERVICE_H_
