#include "services/recommend/recommend_server.h"

#include <utility>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include "services/common/grpc_tls.h"
#include "services/common/log.h"

namespace lifelong::recommend {
namespace {

constexpr char kServiceName[] = "lifelong.v1.RecommendationService";

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target,
                                           const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  grpc::ChannelArguments args;
  // Fail fast while a peer is down instead of backing off for seconds.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(target, credentials, args);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RecommendServer>> RecommendServer::Start(RecommendServerOptions options) {
  std::unique_ptr<RecommendServer> s(new RecommendServer());
  s->options_ = std::move(options);
  const RecommendServerOptions& o = s->options_;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> server_credentials = ServerCredentialsFor(o.tls);
  if (!server_credentials.ok()) return server_credentials.status();
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> channel_credentials = ChannelCredentialsFor(o.tls);
  if (!channel_credentials.ok()) return channel_credentials.status();
  s->batcher_ = std::make_unique<SearchBatcher>(o.batcher);
  SearchBatcher* batcher = s->batcher_.get();
  s->recommender_ =
      std::make_unique<Recommender>([batcher](const ModelPtr& model, std::vector<float> query,
                                              int k) { return batcher->Search(model, std::move(query), k); },
                                    o.recommender);
  std::shared_ptr<grpc::Channel> records_channel = MakeChannel(o.records_target, *channel_credentials);
  s->records_ =
      std::make_unique<RecordsClient>(records_channel, o.records_target, o.records_deadline, o.outgoing_token);
  if (o.history_cache_learners > 0) {
    LearnerHistoryCache::Options cache_options;
    cache_options.max_learners = static_cast<size_t>(o.history_cache_learners);
    cache_options.token = o.outgoing_token;
    cache_options.join_wait = o.records_deadline;
    s->history_cache_ = std::make_unique<LearnerHistoryCache>(records_channel, cache_options);
  }
  CatalogCache::Options catalog_options;
  catalog_options.target = o.catalog_target;
  catalog_options.call_deadline = o.catalog_deadline;
  catalog_options.refresh_interval = o.catalog_refresh;
  catalog_options.max_staleness = o.catalog_max_staleness;
  catalog_options.clock = o.clock;
  catalog_options.token = o.outgoing_token;
  s->catalog_ = std::make_unique<CatalogCache>(MakeChannel(o.catalog_target, *channel_credentials), catalog_options);

  RecommendService::Deps deps;
  deps.catalog = s->catalog_.get();
  deps.records = s->records_.get();
  deps.history_cache = s->history_cache_.get();
  deps.recommender = s->recommender_.get();
  deps.clock = o.clock;
  deps.history_limit = o.history_limit;
  deps.authorizer = o.authorizer;
  deps.history_workers = o.history_workers;
  deps.max_history_reads =
      o.max_history_reads > 0 ? o.max_history_reads : (o.max_concurrent_calls > 0 ? o.max_concurrent_calls : 256);

  ModelManager::Options model_options;
  model_options.model_dir = o.model_dir;
  model_options.poll_interval = o.model_poll;
  model_options.build_options.ivf_nprobe = o.ivf_nprobe;
  RecommendServer* raw = s.get();
  model_options.on_swap = [raw](const ModelPtr&) {
    // Not once a drain began: a first model loading then must not put the
    // server back into a balancer's rotation.
    if (!raw->shutting_down_.load() && !raw->ready_.exchange(true) && raw->grpc_ != nullptr) {
      raw->grpc_->SetServing(true);
      raw->grpc_->SetServiceServing(kServiceName, true);
    }
  };
  s->models_ = std::make_unique<ModelManager>(std::move(model_options));
  deps.models = s->models_.get();
  s->service_ = std::make_unique<RecommendService>(std::move(deps));

  GrpcServerOptions server_options;
  server_options.address = o.address;
  server_options.max_pollers = o.max_pollers;
  server_options.max_receive_bytes = o.max_receive_bytes;
  server_options.max_concurrent_calls = o.max_concurrent_calls;
  server_options.overload_retry_after_ms = o.overload_retry_after_ms;
  server_options.credentials = *server_credentials;
  absl::StatusOr<std::unique_ptr<RunningGrpcServer>> grpc = StartGrpcServer(server_options, {s->service_.get()});
  if (!grpc.ok()) return grpc.status();
  s->grpc_ = *std::move(grpc);
  s->grpc_->SetServiceServing(kServiceName, false);
  // A model that loaded before grpc_ existed.
  if (s->models_->Current() != nullptr && !s->ready_.exchange(true)) {
    s->grpc_->SetServing(true);
    s->grpc_->SetServiceServing(kServiceName, true);
  }
  // First catalog read now (failure is fine: the refresher retries and
  // requests answer UNAVAILABLE meanwhile), then in the background.
  s->catalog_->RefreshOnce().IgnoreError();
  s->catalog_->Start();
  s->models_->Start();
  LogInfo("listening", {{"port", s->grpc_->port()},
                        {"model_dir", o.model_dir},
                        {"records", o.records_target},
                        {"catalog", o.catalog_target},
                        {"tls", ServingTlsMode(o.tls)}});
  return s;
}

RecommendServer::~RecommendServer() { Shutdown(); }

absl::Status RecommendServer::Readiness() const {
  if (shutting_down_.load()) return absl::UnavailableError("shutting down");
  if (models_->Current() == nullptr) {
    return absl::UnavailableError(absl::StrCat("no model loaded yet from ", options_.model_dir));
  }
  absl::StatusOr<CatalogPtr> catalog = catalog_->Current();
  if (!catalog.ok()) return absl::UnavailableError(catalog.status().message());
  return absl::OkStatus();
}

void RecommendServer::Drain(absl::Duration drain) {
  shutting_down_ = true;
  if (grpc_) {
    grpc_->SetServing(false);
    grpc_->SetServiceServing(kServiceName, false);
  }
  absl::SleepFor(drain);
}

void RecommendServer::Shutdown() {
  shutting_down_ = true;
  if (grpc_) grpc_->Shutdown(std::chrono::seconds(5));
  history_cache_.reset();  // ends the change-feed stream
  if (models_) models_->Stop();
  if (catalog_) catalog_->Stop();
}

}  // namespace lifelong::recommend
