#include "models/replay/process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/child_process.h"

namespace lifelong::models::replay {
namespace {

// Exit code from a wait status: the code, or 128 + signal.
int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
}

}  // namespace

std::string FileTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

absl::StatusOr<ServerProcess> ServerProcess::Start(const std::vector<std::string>& argv, const std::string& port_file,
                                                   const std::string& log_path, absl::Duration timeout) {
  std::vector<std::string> full = argv;
  full.push_back("--port=0");
  full.push_back(absl::StrCat("--port_file=", port_file));
  unlink(port_file.c_str());
  absl::StatusOr<pid_t> pid = SpawnChild(full, log_path);
  if (!pid.ok()) return pid.status();
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (std::optional<int> port = ReadPortFile(port_file)) return ServerProcess(*pid, *port, log_path);
    if (std::optional<int> status = WaitForChildExit(*pid, absl::ZeroDuration())) {
      return absl::FailedPreconditionError(absl::StrCat(argv[0], " exited with code ", ExitCode(*status),
                                                        " before serving; log ", log_path, ":\n", FileTail(log_path)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  KillAndReap(*pid);
  return absl::DeadlineExceededError(absl::StrCat(argv[0], " wrote no port to ", port_file, " within ",
                                                  absl::FormatDuration(timeout), "; log ", log_path));
}

ServerProcess::ServerProcess(ServerProcess&& other) noexcept
    : pid_(other.pid_), port_(other.port_), log_path_(std::move(other.log_path_)) {
  other.pid_ = -1;
}

ServerProcess& ServerProcess::operator=(ServerProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) (void)Stop();
    pid_ = other.pid_;
    port_ = other.port_;
    log_path_ = std::move(other.log_path_);
    other.pid_ = -1;
  }
  return *this;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) (void)Stop();
}

std::string ServerProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

absl::Status ServerProcess::Stop(absl::Duration grace) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  const pid_t pid = pid_;
  pid_ = -1;
  kill(pid, SIGTERM);
  std::optional<int> status = WaitForChildExit(pid, grace);
  if (!status) {
    KillAndReap(pid);
    return absl::InternalError(
        absl::StrCat("pid ", pid, " ignored SIGTERM for ", absl::FormatDuration(grace), "; killed"));
  }
  if (ExitCode(*status) != 0) {
    return absl::InternalError(
        absl::StrCat("pid ", pid, " exited with code ", ExitCode(*status), " after SIGTERM; log ", log_path_));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> RunToCompletion(const std::vector<std::string>& argv, const std::string& log_path,
                                    absl::Duration timeout) {
  absl::StatusOr<pid_t> pid = SpawnChild(argv, log_path);
  if (!pid.ok()) return pid.status();
  std::optional<int> status = WaitForChildExit(*pid, timeout);
  if (!status) {
    KillAndReap(*pid);
    return absl::DeadlineExceededError(
        absl::StrCat(argv[0], " still running after ", absl::FormatDuration(timeout), "; killed"));
  }
  return ExitCode(*status);
}

}  // namespace lifelong::models::replay
