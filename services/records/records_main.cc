// records_server: the learning-record service (lifelong.v1.LearningRecordService).
//
//   records_server --port=7001 --data_dir=var/records
//
// Serves gRPC with health checking and reflection. On SIGTERM/SIGINT it stops
// accepting calls, lets in-flight calls finish (up to --shutdown_grace_ms),
// then flushes and closes the store.
#include <memory>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/server.h"
#include "services/records/record_store.h"
#include "services/records/records_service.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on (0.0.0.0 for all interfaces)");
ABSL_FLAG(int, port, 7001, "gRPC port (0 picks a free port)");
ABSL_FLAG(std::string, data_dir, "var/records", "directory of the RocksDB store (created if missing)");
ABSL_FLAG(int, shutdown_grace_ms, 10000, "how long in-flight calls may run after SIGTERM");
ABSL_FLAG(int, max_threads, 64, "largest number of concurrent handler threads");
ABSL_FLAG(std::string, port_file, "", "if set, the bound port is written here once serving");

int main(int argc, char** argv) {
  lifelong::BlockTerminationSignals();
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil with deadlock detection on; it costs every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  lifelong::SetLogService("records");

  absl::StatusOr<std::unique_ptr<lifelong::records::RecordStore>> store =
      lifelong::records::RecordStore::Open(absl::GetFlag(FLAGS_data_dir));
  if (!store.ok()) {
    lifelong::LogError("store_open_failed", {{"error", std::string(store.status().message())}});
    return 1;
  }
  lifelong::records::RecordsService service(store->get());

  lifelong::GrpcServerOptions options;
  options.address = absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
  options.max_pollers = 4;
  options.health_service_names = {"lifelong.v1.LearningRecordService"};
  auto server = lifelong::StartGrpcServer(options, {&service});
  if (!server.ok()) {
    lifelong::LogError("listen_failed", {{"error", std::string(server.status().message())}});
    return 1;
  }
  (*server)->SetServing(true);
  if (!absl::GetFlag(FLAGS_port_file).empty()) {
    std::string tmp = absl::GetFlag(FLAGS_port_file) + ".tmp";
    FILE* f = fopen(tmp.c_str(), "w");
    if (f) {
      fprintf(f, "%d\n", (*server)->port());
      fclose(f);
      rename(tmp.c_str(), absl::GetFlag(FLAGS_port_file).c_str());
    }
  }
  lifelong::LogInfo("serving", {{"port", (*server)->port()},
                                {"data_dir", absl::GetFlag(FLAGS_data_dir)},
                                {"statements", (*store)->ApproximateStatementCount()}});

  int sig = lifelong::WaitForTerminationSignal();
  lifelong::LogInfo("shutting_down", {{"signal", sig}});
  (*server)->Shutdown(std::chrono::milliseconds(absl::GetFlag(FLAGS_shutdown_grace_ms)));
  store->reset();  // flush and close
  lifelong::LogInfo("stopped");
  return 0;
}
