// The gRPC face of the recommender: validates requests, gathers the model,
// catalog snapshot and learner history, calls Recommender, and maps results
// and errors onto lifelong.v1.RecommendationService. No ranking logic here.
// Thread-safe: handlers run concurrently on gRPC's threads.
//
// No request of a synchronous method is parsed before its caller has proved
// who they are, nor past its method's size bound (MaxRequestBytes): parsing
// costs memory, 20 to 30 bytes a wire byte for a message of empty or unknown
// fields, and gRPC would parse every request before any handler runs (a
// 256 KiB request of junk cost several MB before the handler answered
// UNAUTHENTICATED). So the service registers its methods itself
// (RegisterMethods) instead of deriving from the generated
// RecommendationService::Service: the same names and kinds, each synchronous
// method's request received as raw bytes and let through GateRequest, which
// authenticates the caller (with authentication on: UNAUTHENTICATED as
// before), then checks the size (RESOURCE_EXHAUSTED naming the method and its
// bound), and only then parses (INVALID_ARGUMENT "request: not a
// lifelong.v1.X"). The handlers then authorize the call as ever. Recommend,
// a raw callback method already, is registered as before and its path is
// unchanged: its handler parses its own bytes (at most the transport's
// kRecommendMaxReceiveBytes) and then authorizes the caller.
#ifndef LIFELONG_SERVICES_RECOMMEND_RECOMMEND_SERVICE_H_
#define LIFELONG_SERVICES_RECOMMEND_RECOMMEND_SERVICE_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/lifelong/v1/recommend.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/common/raw_request.h"
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

// The largest PlanPath request, checked before the request is parsed. The
// largest valid one, a catalog programme inline with every capped field at
// its cap in 4-byte characters, is about 88 KB
// (recommend_server_test, RequestsOverTheReceiveLimitAreRefusedBeforeTheyAreParsed):
// 192 KiB leaves over twice the room and stays under the transport's
// kRecommendMaxReceiveBytes (256 KiB), so that the gate, not the transport,
// answers a request over it.
inline constexpr size_t kMaxPlanPathRequestBytes = 192 << 10;
// The largest request of every other method: Recommend's and
// SimilarCourses' filter (5 lists of at most kMaxListValues values of at most
// 64 bytes) is under 20 KB, the model methods' requests a few bytes, an Echo
// a ping.
inline constexpr size_t kMaxRecommendQueryRequestBytes = 64 << 10;

// Recommend is a callback (reactor) method: answered on gRPC's callback
// thread when it needs no records read (history cached, or no learner), else
// handed to a small bounded pool of workers that read the history and answer
// (docs/recommend.md, "Request flow"). The other methods are synchronous.
class RecommendService final : public grpc::Service {
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

  // The largest request `method` (its short name, e.g. "PlanPath") accepts:
  // one of the bounds above, each under kRecommendMaxReceiveBytes.
  static size_t MaxRequestBytes(absl::string_view method);

  // Raw callback method: the caller is authorized first, then the request's
  // size is checked (MaxRequestBytes) and it is parsed (a malformed one is
  // INVALID_ARGUMENT), the gate's order; the answer is written as the bytes of the
  // RecommendResponse that FillRecommendResponse would fill
  // (AppendRecommendResponseBytes: course summaries serialized once per
  // catalog snapshot and reused).
  grpc::ServerUnaryReactor* Recommend(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response);
  // Recommend calls handed to the workers and not finished yet.
  int pending_history_reads() const;
  grpc::Status SimilarCourses(grpc::ServerContext* ctx, const v1::SimilarCoursesRequest* request,
                              v1::SimilarCoursesResponse* response);
  grpc::Status GetModelStatus(grpc::ServerContext* ctx, const v1::GetModelStatusRequest* request,
                              v1::ModelStatus* response);
  grpc::Status PinModelVersion(grpc::ServerContext* ctx, const v1::PinModelVersionRequest* request,
                               v1::ModelStatus* response);
  grpc::Status UnpinModelVersion(grpc::ServerContext* ctx, const v1::UnpinModelVersionRequest* request,
                                 v1::ModelStatus* response);
  grpc::Status Echo(grpc::ServerContext* ctx, const v1::EchoRequest* request, v1::EchoResponse* response);
  grpc::Status PlanPath(grpc::ServerContext* ctx, const v1::PlanPathRequest* request, v1::PlanPathResponse* response);

 private:
  // The gate in front of every synchronous method (class comment):
  // authenticates the caller when authentication is on, then parses `raw`
  // into `request` within MaxRequestBytes(method). Not OK: the call's answer.
  grpc::Status GateRequest(grpc::ServerContext* ctx, absl::string_view method, const grpc::ByteBuffer& raw,
                           google::protobuf::Message* request) const;
  // The service's methods, as the generated Service would add them but for
  // the synchronous methods' requests, raw bytes until GateRequest has passed
  // them.
  void RegisterMethods();

  // The RPCs' work, in absl::Status; each RPC above converts the outcome to a
  // gRPC status once (services/common/grpc_status.h).
  // Recommend's parts, once the call has authorized the caller (out->grant)
  // and parsed the request: Prepare validates (on the callback thread) and
  // fills *history when the request needs no read; Answer ranks and fills
  // the response.
  struct Prepared;
  absl::Status PrepareRecommend(const v1::RecommendRequest& request, Prepared* out, bool* needs_read);
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
  MethodPaths method_paths_{"lifelong.v1.RecommendationService"};
};

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_RECOMMEND_SERVICE_H_
