// Test helper: starts one of this tree's servers (records_server,
// catalog_server, recommend_server, ...) as a real child process the way every
// process-level test does, and hands back its address.
//
// The servers share the flags this relies on (services/common/server_flags.h):
// --port=0 binds a free port, which the server writes to --port_file once it
// serves; --data_dir is its database. So a test does
//
//   ServiceOptions o;
//   o.binary = "services/records/records_server";  // a data dependency of the test
//   o.data_dir = dir + "/records_db";
//   o.port_file = dir + "/records.port";
//   o.log_path = dir + "/records.log";
//   o.flags = {"--metrics_port=0", "--xapi_port=-1"};
//   absl::StatusOr<ServiceProcess> records = ServiceProcess::Start(o);
//   ... records->address() ...
//
// and the process is SIGKILLed when the ServiceProcess is destroyed unless
// the test stopped it first. Not thread-safe; one owner.
#ifndef LIFELONG_TESTS_TESTING_SERVICE_PROCESS_H_
#define LIFELONG_TESTS_TESTING_SERVICE_PROCESS_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tests/testing/subprocess.h"

namespace lifelong::testing {

struct ServiceOptions {
  // Workspace-relative path of the server binary in the test's runfiles.
  std::string binary;
  // Passed as --data_dir when not empty.
  std::string data_dir;
  // Where the server writes its port (--port_file); required.
  std::string port_file;
  // stdout and stderr of the server; empty: the test's own.
  std::string log_path;
  // Passed as --host when not empty (e.g. "127.0.0.1").
  std::string host;
  // Further flags, after the ones above.
  std::vector<std::string> flags;
  // How long the server may take to write its port file.
  std::chrono::milliseconds start_timeout = std::chrono::seconds(30);
};

class ServiceProcess {
 public:
  // Starts the server with --port=0 and the options above and waits for its
  // port file. INVALID_ARGUMENT without binary or port_file; the failure of
  // the start (e.g. NOT_FOUND for a missing binary); DEADLINE_EXCEEDED when
  // the port file does not appear in time (the process is killed then).
  static absl::StatusOr<ServiceProcess> Start(const ServiceOptions& options);

  ServiceProcess(ServiceProcess&&) noexcept = default;
  ServiceProcess& operator=(ServiceProcess&&) noexcept = default;

  // The port the server bound, and "127.0.0.1:<port>".
  int port() const { return port_; }
  std::string address() const;
  // A port the server bound itself and logged in this start's lines of its
  // log (e.g. "serving" / "metrics_port" with --metrics_port=0): LoggedPort
  // below, from where the log stood when this start began.
  // FAILED_PRECONDITION when the server was started without a log_path.
  absl::StatusOr<int> LoggedPort(absl::string_view event, absl::string_view field) const;
  // The child process (pid, Stop with any signal, Wait).
  Subprocess& process() { return process_; }
  // Sends `sig` and waits for the exit: the wait status, or DEADLINE_EXCEEDED.
  absl::StatusOr<int> Stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return process_.Stop(sig, timeout);
  }

 private:
  ServiceProcess(Subprocess process, int port, std::string log_path, size_t log_from)
      : process_(std::move(process)), port_(port), log_path_(std::move(log_path)), log_from_(log_from) {}

  Subprocess process_;
  int port_ = 0;
  std::string log_path_;
  size_t log_from_ = 0;  // the log's size before this start
};

// Whether something accepts TCP connections on 127.0.0.1:port now.
bool AcceptsConnections(int port);

// The size of the file at `path` now (0 when it does not exist): where a
// process about to be started will begin its lines in an appended log.
size_t FileSize(const std::string& path);

// A port a server bound itself and logged: the integer `field` of the first
// JSON line at or after byte `from` of `log_path` whose "event" is `event`
// (records, catalog and recommend: "serving" / "metrics_port"; records'
// xAPI: "xapi_serving" /
// "port"), waiting up to `timeout` for it. Start servers with
// --metrics_port=0 (--xapi_port=0) and read the port here: a port picked
// free beforehand can be taken by any connection's ephemeral port before the
// server binds it. DEADLINE_EXCEEDED when no such line appeared in time.
absl::StatusOr<int> LoggedPort(const std::string& log_path, size_t from, absl::string_view event,
                               absl::string_view field, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace lifelong::testing

#endif  // LIFELONG_TESTS_TESTING_SERVICE_PROCESS_H_
