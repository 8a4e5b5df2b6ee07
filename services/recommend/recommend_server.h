// RecommendServer: the whole recommendation server assembled from options —
// model watcher, catalog cache, records client, search batcher, recommender
// and the gRPC server (health, reflection). Used by main(), the tests and the
// benchmark, so all three run the same setup.
//
// Health: NOT_SERVING until a model is loaded, SERVING from then on (overall
// and for "lifelong.v1.RecommendationService"). Readiness() is stricter: what
// a load balancer asks before sending calls here (GET /ready).
// Thread-safety: accessors may be called from any thread; Shutdown once.
#ifndef LIFELONG_SERVICES_RECOMMEND_RECOMMEND_SERVER_H_
#define LIFELONG_SERVICES_RECOMMEND_RECOMMEND_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/auth/authorizer.h"
#include "services/auth/outgoing_token.h"
#include "services/common/server.h"
#include "services/common/tls.h"
#include "services/recommend/catalog_cache.h"
#include "services/recommend/history_cache.h"
#include "services/recommend/model_manager.h"
#include "services/recommend/recommend_service.h"
#include "services/recommend/recommender.h"
#include "services/recommend/records_client.h"
#include "services/recommend/search_batcher.h"

namespace lifelong::recommend {

// Largest request the recommendation server receives; larger ones fail with
// RESOURCE_EXHAUSTED in gRPC's transport, before any handler parses them or
// checks credentials. The largest request validation accepts is a PlanPath
// with its programme inline as the catalog stores it: a description of up
// to 20,000 characters (services/catalog/course_validation.h
// kMaxDescriptionChars; carried though unused, up to 80,000 bytes of UTF-8)
// plus its capped fields, about 90 KB; a Recommend with every list at
// kMaxListValues is about 14 KB, the usual ones under 1 KB. 256 KiB leaves
// more than twice the largest. The server default, 64 MiB, let an
// unauthenticated caller make each call parse ~30 million empty strings
// (1.5-2 GB) before its credentials were looked at; at 256 KiB that is at
// most ~8 MB.
inline constexpr int kRecommendMaxReceiveBytes = 256 << 10;

struct RecommendServerOptions {
  std::string address = "127.0.0.1:0";
  std::string model_dir = "var/models";
  std::string records_target = "127.0.0.1:7001";
  std::string catalog_target = "127.0.0.1:7002";
  absl::Duration records_deadline = absl::Milliseconds(500);
  absl::Duration catalog_deadline = absl::Seconds(2);
  absl::Duration catalog_refresh = absl::Seconds(2);
  absl::Duration catalog_max_staleness = absl::Seconds(30);
  absl::Duration model_poll = absl::Seconds(2);
  SearchBatcher::Options batcher;
  Recommender::Options recommender;
  int history_limit = 1000;
  // Learner histories cached, kept exact by the record service's change feed
  // (history_cache.h); 0 turns the cache off (every request reads records).
  int history_cache_learners = 100000;
  int ivf_nprobe = 0;  // 0: calibrated by //models at load time
  int max_pollers = 4;
  // GrpcServerOptions::max_receive_bytes of this server (see above).
  int max_receive_bytes = kRecommendMaxReceiveBytes;
  // Calls in progress admitted at once, and the retry hint of the refusals
  // past it (GrpcServerOptions in services/common/server.h; 0: no limit).
  int max_concurrent_calls = 0;
  int overload_retry_after_ms = 50;
  // Workers for the Recommend calls that must read a history from records
  // (recommend_service.h); such calls queued or running at once are bounded
  // by max_history_reads, else by max_concurrent_calls, else by 256.
  int history_workers = 4;
  int max_history_reads = 0;
  std::function<absl::Time()> clock;  // default absl::Now (tests inject)
  // Who may call what (not owned; nullptr trusts every caller), and the
  // bearer token this server sends to records and catalog (role recommender:
  // a fixed token, or its --token_file followed as it is re-minted).
  auth::Authorizer* authorizer = nullptr;
  auth::OutgoingToken outgoing_token;
  // Serving TLS (and mutual TLS) as tls.h describes; the same certificate is
  // this server's client identity towards records and catalog, which are
  // called with TLS when tls.CallsWithTls(). Default: plaintext both ways.
  TlsConfig tls;
};

class RecommendServer {
 public:
  // Starts everything; the model loads in the background. UNAVAILABLE when
  // the address cannot be bound; the errors of ServerCredentialsFor and
  // ChannelCredentialsFor (grpc_tls.h) for an unusable TLS configuration.
  static absl::StatusOr<std::unique_ptr<RecommendServer>> Start(RecommendServerOptions options);
  ~RecommendServer();

  int port() const { return grpc_->port(); }
  ModelManager& models() { return *models_; }
  CatalogCache& catalog() { return *catalog_; }
  const SearchBatcher& batcher() const { return *batcher_; }
  // nullptr when history_cache_learners is 0.
  const LearnerHistoryCache* history_cache() const { return history_cache_.get(); }
  // Recommend calls queued or running on the history workers.
  int pending_history_reads() const { return service_->pending_history_reads(); }
  // OK when a call sent now can be answered: a model is loaded and the
  // catalog snapshot is within catalog_max_staleness. Otherwise UNAVAILABLE
  // saying which is missing (also once Shutdown has begun). ops/cluster.sh's
  // HAProxy sends the recommendation port only to ready servers.
  absl::Status Readiness() const;
  // The first step of a graceful stop: Readiness() and gRPC health turn
  // UNAVAILABLE / NOT_SERVING at once while calls are still answered, for
  // `drain`, so that a load balancer checking every fraction of it sends new
  // connections elsewhere before Shutdown closes the port.
  void Drain(absl::Duration drain);
  // Stops accepting calls and the background threads; idempotent.
  void Shutdown();

 private:
  RecommendServer() = default;

  RecommendServerOptions options_;
  std::unique_ptr<SearchBatcher> batcher_;
  std::unique_ptr<Recommender> recommender_;
  std::unique_ptr<RecordsClient> records_;
  std::unique_ptr<LearnerHistoryCache> history_cache_;
  std::unique_ptr<CatalogCache> catalog_;
  std::unique_ptr<ModelManager> models_;
  std::unique_ptr<RecommendService> service_;
  std::unique_ptr<RunningGrpcServer> grpc_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> shutting_down_{false};
};

}  // namespace lifelong::recommend

#endif  // LIFELONG_SERVICES_RECOMMEND_RECOMMEND_SERVER_H_
