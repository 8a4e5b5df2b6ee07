// The gRPC face of the recommender: validates requests, gathers the model,
// catalog snapshot and learner history, calls Recommender, and maps results
// and errors onto lifelong.v1.RecommendationService. No ranking logic here.
// Thread-safe: handlers run concurrently on gRPC's threads.
#ifndef LIFELONG_SERVICES_RECOMMEND_RECOMMEND_SERVICE_H_
#define LIFELONG_SERVICES_RECOMMEND_RECOMMEND_SERVICE_H_

#include <functional>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/recommend/catalog_cache.h"
#include "services/recommend/history_cache.h"
#include "services/recommend/model_manager.h"
#include "services/recommend/recommender.h"
#include "services/recommend/records_client.h"

namespace lifelong::recommend {

class RecommendService final : public v1::RecommendationService::Service {
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
  };

  explicit RecommendService(Deps deps);

  grpc::Status Recommend(grpc::ServerContext* ctx, const v1::RecommendRequest* request,
                         v1::RecommendResponse* response) override;
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
  absl::Status DoRecommend(grpc::ServerContext* ctx, const v1::RecommendRequest& request,
                           v1::RecommendResponse* response);
  absl::Status DoSimilarCourses(grpc::ServerContext* ctx, const v1::SimilarCoursesRequest& request,
                                v1::SimilarCoursesResponse* response);
  absl::Status DoPlanPath(grpc::ServerContext* ctx, const v1::PlanPathRequest& request, v1::PlanPathResponse* response);
  absl::StatusOr<ModelPtr> CurrentModel() const;
  // The learner's latest history (from the cache the change feed keeps
  // exact, else the record service). `caller`: the subject for the record
  // service's audit log when authorization is on.
  // Never null when OK.
  absl::StatusOr<LearnerHistoryCache::HistoryPtr> LoadHistory(const std::string& learner, const std::string& caller);
  void FillStatus(v1::ModelStatus* out) const;

  Deps deps_;
};

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_RECOMMEND_SERVICE_H_
