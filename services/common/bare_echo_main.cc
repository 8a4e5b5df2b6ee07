// bare_echo_server: the bare gRPC callback-API echo server on its own, for
// measuring gRPC's own ceiling from another process (see docs/benchmarks.md).
//   bazel run //services/common:bare_echo_server_main -- --port=7099
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/common/bare_echo_server.h"
#include "services/common/server.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, port, 7099, "gRPC port (0 picks a free port)");
ABSL_FLAG(std::string, port_file, "", "if set, the bound port is written here once serving");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain: serve TLS (with --tls_key); empty: plaintext");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");

namespace {

absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  lifelong::BlockTerminationSignals();
  absl::ParseCommandLine(argc, argv);
  // As every service's main does: Debian builds Abseil with deadlock
  // detection on, and gRPC's own locks are absl::Mutex, so leaving it on
  // charges the ceiling for lock-graph bookkeeping on every lock (GraphCycles
  // was 7.7% of this server's perf samples under 16 x 32 Echo load).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  lifelong::BareEchoOptions options;
  options.address = absl::GetFlag(FLAGS_host) + ":" + std::to_string(absl::GetFlag(FLAGS_port));
  if (!absl::GetFlag(FLAGS_tls_cert).empty() || !absl::GetFlag(FLAGS_tls_key).empty()) {
    absl::StatusOr<std::string> cert = ReadPem("--tls_cert", absl::GetFlag(FLAGS_tls_cert));
    absl::StatusOr<std::string> key = ReadPem("--tls_key", absl::GetFlag(FLAGS_tls_key));
    if (!cert.ok() || !key.ok()) {
      std::fprintf(stderr, "bare_echo_server: %s\n",
                   std::string((cert.ok() ? key.status() : cert.status()).message()).c_str());
      return 2;
    }
    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({*key, *cert});
    options.credentials = grpc::SslServerCredentials(tls);
  }
  auto server = lifelong::StartBareEchoServer(options);
  if (!server.ok()) {
    std::fprintf(stderr, "bare_echo_server: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  lifelong::WritePortFile(absl::GetFlag(FLAGS_port_file), (*server)->port());
  std::fprintf(stderr, "bare_echo_server: listening on port %d\n", (*server)->port());
  lifelong::WaitForTerminationSignal();
  (*server)->Shutdown();
  return 0;
}
