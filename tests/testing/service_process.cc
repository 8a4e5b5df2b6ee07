#include "tests/testing/service_process.h"

#include <signal.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace lifelong::testing {

absl::StatusOr<ServiceProcess> ServiceProcess::Start(const ServiceOptions& options) {
  if (options.binary.empty()) return absl::InvalidArgumentError("binary: is required");
  if (options.port_file.empty()) return absl::InvalidArgumentError("port_file: is required");
  std::vector<std::string> argv = {RunfilePath(options.binary), "--port=0"};
  if (!options.host.empty()) argv.push_back(absl::StrCat("--host=", options.host));
  if (!options.data_dir.empty()) argv.push_back(absl::StrCat("--data_dir=", options.data_dir));
  argv.push_back(absl::StrCat("--port_file=", options.port_file));
  argv.insert(argv.end(), options.flags.begin(), options.flags.end());
  absl::StatusOr<Subprocess> process = Subprocess::Start(argv, options.log_path);
  if (!process.ok()) return process.status();
  absl::StatusOr<int> port = WaitForPortFile(options.port_file, options.start_timeout);
  if (!port.ok()) {
    (void)process->Stop(SIGKILL);
    return absl::Status(port.status().code(),
                        absl::StrCat(options.binary, " did not report a port: ", port.status().message(),
                                     options.log_path.empty() ? "" : absl::StrCat(" (log: ", options.log_path, ")")));
  }
  return ServiceProcess(*std::move(process), *port);
}

std::string ServiceProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

}  // namespace lifelong::testing
