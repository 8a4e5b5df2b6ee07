#include "tests/testing/service_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
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
  const size_t log_from = options.log_path.empty() ? 0 : FileSize(options.log_path);
  absl::StatusOr<Subprocess> process = Subprocess::Start(argv, options.log_path);
  if (!process.ok()) return process.status();
  absl::StatusOr<int> port = WaitForPortFile(options.port_file, options.start_timeout);
  if (!port.ok()) {
    (void)process->Stop(SIGKILL);
    return absl::Status(port.status().code(),
                        absl::StrCat(options.binary, " did not report a port: ", port.status().message(),
                                     options.log_path.empty() ? "" : absl::StrCat(" (log: ", options.log_path, ")")));
  }
  return ServiceProcess(*std::move(process), *port, options.log_path, log_from);
}

std::string ServiceProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

absl::StatusOr<int> ServiceProcess::LoggedPort(absl::string_view event, absl::string_view field) const {
  if (log_path_.empty()) return absl::FailedPreconditionError("the server was started without a log_path");
  return ::lifelong::testing::LoggedPort(log_path_, log_from_, event, field);
}

bool AcceptsConnections(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

size_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

absl::StatusOr<int> LoggedPort(const std::string& log_path, size_t from, absl::string_view event,
                               absl::string_view field, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::ifstream in(log_path);
    in.seekg(static_cast<std::streamoff>(from));
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line.front() != '{') continue;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || j.value("event", "") != event) continue;
      auto it = j.find(std::string(field));
      if (it == j.end() || !it->is_number_integer() || it->get<int>() <= 0) {
        return absl::NotFoundError(
            absl::StrCat(log_path, ": the \"", event, "\" line has no port \"", field, "\": ", line));
      }
      return it->get<int>();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(log_path, ": no \"", event, "\" line with \"", field, "\" in time"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace lifelong::testing
