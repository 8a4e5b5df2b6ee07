// recommend_server: lifelong.v1.RecommendationService.
//
//   recommend_server --port=7003 --model_dir=var/models
//       --records=127.0.0.1:7001 --catalog=127.0.0.1:7002
//
// With --tls_cert/--tls_key it serves gRPC and /metrics over TLS
// (--tls_require_client_cert: mutual TLS); with --tls_ca it calls records and
// catalog over TLS, presenting --tls_cert as its client certificate
// (docs/security.md, "TLS").
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "models/model_bundle.h"
#include "models/sequence_model.h"
#include "services/auth/auth_flags.h"
#include "services/auth/client_token.h"
#include "services/auth/outgoing_token.h"
#include "services/auth/token.h"
#include "services/common/http_server.h"
#include "services/common/interceptors.h"
#include "services/common/log.h"
#include "services/common/metrics.h"
#include "services/common/metrics_process.h"
#include "services/common/server.h"
#include "services/common/server_flags.h"
#include "services/common/tls_flags.h"
#include "services/recommend/recommend_server.h"

ABSL_FLAG(int, port, 7003, "port to listen on (127.0.0.1 unless --host)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(std::string, model_dir, "var/models", "model root with numbered version directories");
ABSL_FLAG(std::string, records, "127.0.0.1:7001", "record service address");
ABSL_FLAG(std::string, catalog, "127.0.0.1:7002", "catalog service address");
ABSL_FLAG(int, records_deadline_ms, 500, "deadline of each record-service call");
ABSL_FLAG(int, catalog_deadline_ms, 2000, "deadline of each catalog-service call");
ABSL_FLAG(int, catalog_refresh_ms, 2000, "catalog change check interval");
ABSL_FLAG(int, catalog_max_staleness_s, 30, "answer UNAVAILABLE when the catalog was not reached for this long");
ABSL_FLAG(int, model_poll_ms, 2000, "model directory check interval");
ABSL_FLAG(int, batch_wait_us, 500, "longest wait of a search for company in a batch");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1", "address of the HTTP /metrics and /healthz endpoint");
ABSL_FLAG(int, metrics_port, 9003, "port of the /metrics endpoint (0 picks a free port)");
ABSL_FLAG(int, max_batch, 256, "largest search batch");
ABSL_FLAG(int, batch_min_items, 0, "models with fewer items are searched on the request thread, unbatched");
ABSL_FLAG(std::string, port_file, "", "if set, the bound gRPC port is written here once started");
ABSL_FLAG(int, max_pollers, 4, "gRPC sync-server polling threads");
ABSL_FLAG(int, history_cache_learners, 100000,
          "learner histories cached, kept exact by the record service's change feed (0: no cache, every "
          "request reads the record service)");
ABSL_FLAG(int, history_workers, 4,
          "threads that serve the Recommend calls whose history must be read from the record service (1-64); "
          "such calls queued or running are bounded by --max_concurrent_calls (256 when 0)");
ABSL_FLAG(int, shutdown_drain_ms, 0,
          "on SIGTERM, report not ready (GET /ready 503, health NOT_SERVING) and keep answering for this long "
          "before closing the port, so a load balancer moves new connections away first (ops/cluster.sh: 1000)");
ABSL_FLAG(int, ivf_nprobe, 0, "IVF lists probed per query for large models; 0 = calibrated at load time");

namespace {

// The serving model's GRU state-cache counts (zero without a model or a GRU).
lifelong::models::SequenceModel::StateCacheStats GruStateCacheStats(lifelong::recommend::RecommendServer* rs) {
  lifelong::recommend::ModelPtr model = rs->models().Current();
  if (model == nullptr || model->sequence_model() == nullptr) return {};
  return model->sequence_model()->state_cache_stats();
}

}  // namespace

int main(int argc, char** argv) {
  lifelong::InstallFailureStackTraces(argv[0]);
  lifelong::BlockTerminationSignals();
  absl::ParseCommandLine(argc, argv);
  // Debug builds of Abseil check every lock order; measured ~2% of CPU here.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  lifelong::SetLogService("recommend");
  lifelong::RaiseOpenFileLimit();
  lifelong::recommend::RecommendServerOptions o;
  o.address = absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
  o.model_dir = absl::GetFlag(FLAGS_model_dir);
  o.records_target = absl::GetFlag(FLAGS_records);
  o.catalog_target = absl::GetFlag(FLAGS_catalog);
  o.records_deadline = absl::Milliseconds(absl::GetFlag(FLAGS_records_deadline_ms));
  o.catalog_deadline = absl::Milliseconds(absl::GetFlag(FLAGS_catalog_deadline_ms));
  o.catalog_refresh = absl::Milliseconds(absl::GetFlag(FLAGS_catalog_refresh_ms));
  o.catalog_max_staleness = absl::Seconds(absl::GetFlag(FLAGS_catalog_max_staleness_s));
  o.model_poll = absl::Milliseconds(absl::GetFlag(FLAGS_model_poll_ms));
  o.batcher.max_wait = absl::Microseconds(absl::GetFlag(FLAGS_batch_wait_us));
  o.batcher.max_batch = absl::GetFlag(FLAGS_max_batch);
  o.batcher.min_items_to_batch = absl::GetFlag(FLAGS_batch_min_items);
  o.max_pollers = absl::GetFlag(FLAGS_max_pollers);
  {
    lifelong::GrpcServerOptions limits;
    limits.max_pollers = o.max_pollers;
    if (absl::Status flags = lifelong::ApplyServerFlags(&limits); !flags.ok()) {
      lifelong::LogError("server_flags", {{"error", std::string(flags.message())}});
      return EXIT_FAILURE;
    }
    o.max_concurrent_calls = limits.max_concurrent_calls;
    o.overload_retry_after_ms = limits.overload_retry_after_ms;
  }
  o.history_cache_learners = absl::GetFlag(FLAGS_history_cache_learners);
  o.history_workers = absl::GetFlag(FLAGS_history_workers);
  if (o.history_workers < 1 || o.history_workers > 64) {
    lifelong::LogError("flags", {{"error", absl::StrCat("--history_workers: must be 1-64, got ", o.history_workers)}});
    return EXIT_FAILURE;
  }
  o.ivf_nprobe = absl::GetFlag(FLAGS_ivf_nprobe);
  absl::StatusOr<lifelong::TlsConfig> tls = lifelong::ServingTlsFromFlags();
  if (!tls.ok()) {
    lifelong::LogError("tls_config", {{"error", std::string(tls.status().message())}});
    return EXIT_FAILURE;
  }
  o.tls = *tls;
  absl::StatusOr<std::unique_ptr<lifelong::auth::Authorizer>> authorizer = lifelong::auth::AuthorizerFromFlags();
  // --token_file: this server's recommender token, followed: the file is
  // looked at every few seconds and read again when it was replaced, so a
  // token re-minted before the old one expires (ops/stack.sh's token
  // refresher) is sent without a restart (docs/security.md, "Service tokens").
  absl::StatusOr<lifelong::auth::OutgoingToken> outgoing_token = lifelong::auth::OutgoingTokenFromFlags();
  if (!authorizer.ok() || !outgoing_token.ok()) {
    lifelong::LogError("auth_config", {{"error", !authorizer.ok() ? std::string(authorizer.status().message())
                                                                  : std::string(outgoing_token.status().message())}});
    return EXIT_FAILURE;
  }
  o.authorizer = authorizer->get();
  o.outgoing_token = *outgoing_token;
  // Observability, part 1 (before Start, which builds the gRPC server and
  // the channels): RPC metrics, request ids and access logs on every call
  // served, and the current request id on every outgoing call.
  if (absl::Status s = lifelong::InstallServerObservability({}); !s.ok()) {
    lifelong::LogError("metrics_setup_failed", {{"error", s.ToString()}});
    return EXIT_FAILURE;
  }
  lifelong::InstallGlobalRequestIdPropagation();
  auto server = lifelong::recommend::RecommendServer::Start(o);
  if (!server.ok()) {
    lifelong::LogError("start_failed", {{"error", std::string(server.status().message())}});
    return EXIT_FAILURE;
  }
  // Observability, part 2: process, model and index state, sampled at each
  // scrape, served on --metrics_host:--metrics_port.
  namespace metrics = lifelong::metrics;
  using metrics::MetricType;
  lifelong::recommend::RecommendServer* rs = server->get();
  absl::Status observed = metrics::RegisterProcessMetrics(&metrics::DefaultRegistry());
  // One help text per name, shared by its series.
  static constexpr char kCacheHitsHelp[] =
      "Lookups answered from a cache, by cache (learner_history: histories fed by the record service's change "
      "feed; gru_state: the serving GRU's final states, per model version).";
  static constexpr char kCacheMissesHelp[] =
      "Lookups a cache could not answer, by cache (see lifelong_recommend_cache_hits_total).";
  if (observed.ok()) {
    observed = metrics::DefaultRegistry().AddCallbacks({
        {MetricType::kGauge,
         "lifelong_recommend_model_version",
         "Model version serving (0: none).",
         {},
         [rs] { return double(rs->models().Status().version); }},
        {MetricType::kGauge,
         "lifelong_recommend_model_age_seconds",
         "Seconds since the serving model was loaded.",
         {},
         [rs] {
           lifelong::recommend::ModelManagerStatus st = rs->models().Status();
           if (st.version == 0) return std::nan("");
           return absl::ToDoubleSeconds(absl::Now() - st.loaded_at);
         }},
        {MetricType::kGauge,
         "lifelong_recommend_model_written_timestamp_seconds",
         "Unix time the trainer wrote the serving model (its manifest's written_at; NaN: none or "
         "unknown). Scheduled retraining keeps it within --every of now.",
         {},
         [rs] {
           lifelong::recommend::ModelPtr model = rs->models().Current();
           if (model == nullptr) return std::nan("");
           std::optional<absl::Time> written = lifelong::models::ManifestWrittenAt(model->manifest());
           return written ? absl::ToDoubleSeconds(*written - absl::UnixEpoch()) : std::nan("");
         }},
        // The token it sends (--token_file, followed): the token refresher
        // re-mints it daily for 30 days, so it stays about 30 days ahead
        // unless the refresher stopped (LifelongServiceTokenExpiring).
        {MetricType::kGauge,
         "lifelong_service_token_expiry_timestamp_seconds",
         "Unix time the service token this server sends expires (claim exp, read unverified; NaN: none).",
         {},
         [token = o.outgoing_token] {
           absl::StatusOr<absl::Time> exp = lifelong::auth::UnverifiedExpiry(token.Current());
           return exp.ok() ? absl::ToDoubleSeconds(*exp - absl::UnixEpoch()) : std::nan("");
         }},
        {MetricType::kGauge,
         "lifelong_recommend_index_items",
         "Items in the serving model's index.",
         {},
         [rs] { return double(rs->models().Status().item_count); }},
        {MetricType::kGauge,
         "lifelong_store_items",
         "Items in a service's store.",
         {{"service", "recommend"}, {"kind", "cached_courses"}},
         [rs] {
           auto catalog = rs->catalog().Current();
           return catalog.ok() ? double((*catalog)->courses().size()) : std::nan("");
         }},
        {MetricType::kCounter,
         "lifelong_recommend_search_queries_total",
         "Index searches, by path (batched through the worker, or direct).",
         {{"path", "batched"}},
         [rs] { return double(rs->batcher().stats().queries); }},
        {MetricType::kCounter,
         "lifelong_recommend_search_queries_total",
         "Index searches, by path (batched through the worker, or direct).",
         {{"path", "direct"}},
         [rs] { return double(rs->batcher().stats().direct); }},
        {MetricType::kCounter,
         "lifelong_recommend_search_batches_total",
         "FAISS calls made by the batch worker.",
         {},
         [rs] { return double(rs->batcher().stats().batches); }},
        // The learner-history cache (0 with --history_cache_learners=0) and
        // the serving GRU's state cache (per model version: starts again at 0
        // when a version is loaded; 0 for a version without a GRU).
        {MetricType::kCounter,
         "lifelong_recommend_cache_hits_total",
         kCacheHitsHelp,
         {{"cache", "learner_history"}},
         [rs] { return rs->history_cache() != nullptr ? double(rs->history_cache()->stats().hits) : 0.0; }},
        {MetricType::kCounter,
         "lifelong_recommend_cache_misses_total",
         kCacheMissesHelp,
         {{"cache", "learner_history"}},
         [rs] { return rs->history_cache() != nullptr ? double(rs->history_cache()->stats().misses) : 0.0; }},
        {MetricType::kCounter,
         "lifelong_recommend_cache_hits_total",
         kCacheHitsHelp,
         {{"cache", "gru_state"}},
         [rs] { return double(GruStateCacheStats(rs).hits); }},
        {MetricType::kCounter,
         "lifelong_recommend_cache_misses_total",
         kCacheMissesHelp,
         {{"cache", "gru_state"}},
         [rs] { return double(GruStateCacheStats(rs).misses); }},
    });
  }
  if (!observed.ok()) {
    lifelong::LogError("metrics_setup_failed", {{"error", observed.ToString()}});
    return EXIT_FAILURE;
  }
  lifelong::HttpServerOptions metrics_options;
  metrics_options.host = absl::GetFlag(FLAGS_metrics_host);
  metrics_options.port = absl::GetFlag(FLAGS_metrics_port);
  metrics_options.tls = o.tls;
  // GET /ready: 200 "ready" while a call sent now can be answered (a model
  // loaded, the catalog fresh), else 503 and why; a load balancer's check
  // (ops/cluster.sh). /healthz stays the liveness check.
  std::map<std::string, lifelong::HttpHandler> routes;
  routes["/ready"] = [rs] {
    lifelong::HttpResponse response;
    const absl::Status ready = rs->Readiness();
    response.status = ready.ok() ? 200 : 503;
    response.content_type = "text/plain";
    response.body = ready.ok() ? "ready\n" : absl::StrCat("not ready: ", ready.message(), "\n");
    return response;
  };
  std::unique_ptr<lifelong::HttpServer> metrics_server =
      lifelong::StartMetricsHttpServerOrLog(metrics_options, &metrics::DefaultRegistry(), nullptr, std::move(routes));
  lifelong::WritePortFile(absl::GetFlag(FLAGS_port_file), (*server)->port());
  // As records_server and catalog_server log it: where the service answers.
  lifelong::LogInfo("serving",
                    {{"port", (*server)->port()}, {"metrics_port", metrics_server ? metrics_server->port() : -1}});
  int sig = lifelong::WaitForTerminationSignal();
  const int drain_ms = std::max(0, absl::GetFlag(FLAGS_shutdown_drain_ms));
  lifelong::LogInfo("shutting_down", {{"signal", sig}, {"drain_ms", drain_ms}});
  (*server)->Drain(absl::Milliseconds(drain_ms));
  (*server)->Shutdown();
  // Before *server (which the callbacks read) is destroyed.
  if (metrics_server) metrics_server->Shutdown();
  return EXIT_SUCCESS;
}
