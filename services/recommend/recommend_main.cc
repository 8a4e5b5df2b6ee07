// recommend_server: lifelong.v1.RecommendationService.
//
//   recommend_server --port=7003 --model_dir=var/models
//       --records=127.0.0.1:7001 --catalog=127.0.0.1:7002
#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/server.h"
#include "services/recommend/recommend_server.h"

ABSL_FLAG(int, port, 7003, "port to listen on (127.0.0.1 unless --host)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(std::string, model_dir, "var/models", "model root with numbered version directories");
ABSL_FLAG(std::string, records, "127.0.0.1:7001", "record service address");
ABSL_FLAG(std::string, catalog, "127.0.0.1:7002", "catalog service address");
ABSL_FLAG(int, records_deadline_ms, 500, "deadline of each record-service call");
ABSL_FLAG(int, catalog_deadline_ms, 2000, "deadline of each catalog-service call");
ABSL_FLAG(int, catalog_refresh_ms, 2000, "catalog change check interval");
ABSL_FLAG(int, catalog_max_staleness_s, 30,
          "answer UNAVAILABLE when the catalog was not reached for this long");
ABSL_FLAG(int, model_poll_ms, 2000, "model directory check interval");
ABSL_FLAG(int, batch_wait_us, 500, "longest wait of a search for company in a batch");
ABSL_FLAG(int, max_batch, 256, "largest search batch");
ABSL_FLAG(int, batch_min_items, 0,
          "models with fewer items are searched on the request thread, unbatched");
ABSL_FLAG(int, max_pollers, 4, "gRPC sync-server polling threads");
ABSL_FLAG(int, ivf_nprobe, 0,
          "IVF lists probed per query for large models; 0 = calibrated at load time");

int main(int argc, char** argv) {
  lifelong::BlockTerminationSignals();
  absl::ParseCommandLine(argc, argv);
  // Debug builds of Abseil check every lock order; measured ~2% of CPU here.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  lifelong::SetLogService("recommend");
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
  o.ivf_nprobe = absl::GetFlag(FLAGS_ivf_nprobe);
  auto server = lifelong::recommend::RecommendServer::Start(o);
  if (!server.ok()) {
    lifelong::LogError("start_failed", {{"error", std::string(server.status().message())}});
    return EXIT_FAILURE;
  }
  int sig = lifelong::WaitForTerminationSignal();
  lifelong::LogInfo("shutting_down", {{"signal", sig}});
  (*server)->Shutdown();
  return EXIT_SUCCESS;
}
