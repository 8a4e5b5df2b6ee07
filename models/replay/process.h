// Child processes for the replay tool: a server binary started with
// `--port=0 --port_file=...` and stopped with SIGTERM, and a command run to
// completion. Output of each child goes to a log file, so the tool's own
// output stays readable and a failure can point at the log.
//
// Not thread-safe: one owner per object. Does not reap children it did not
// start.
#ifndef LIFELONG_MODELS_REPLAY_PROCESS_H_
#define LIFELONG_MODELS_REPLAY_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace lifelong::models::replay {

// A running server. Destruction stops it (SIGTERM, then SIGKILL after 10 s).
class ServerProcess {
 public:
  // Starts argv[0] with `argv` plus `--port=0 --port_file=<port_file>`,
  // stdout and stderr appended to `log_path`, and waits up to `timeout` for a
  // port number in `port_file`. Outcomes: the running server;
  // FAILED_PRECONDITION when the child exits first (the message holds the
  // end of its log); DEADLINE_EXCEEDED when no port appears in time (the
  // child is killed); INTERNAL when fork fails.
  static absl::StatusOr<ServerProcess> Start(const std::vector<std::string>& argv, const std::string& port_file,
                                             const std::string& log_path, absl::Duration timeout = absl::Seconds(60));

  ServerProcess(ServerProcess&& other) noexcept;
  ServerProcess& operator=(ServerProcess&& other) noexcept;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess();

  int port() const { return port_; }
  // "127.0.0.1:<port>".
  std::string address() const;
  const std::string& log_path() const { return log_path_; }

  // SIGTERM, then waits up to `grace` (SIGKILL after it). OK when the child
  // exited with status 0; INTERNAL naming the exit status otherwise;
  // FAILED_PRECONDITION when it was already stopped.
  absl::Status Stop(absl::Duration grace = absl::Seconds(10));

 private:
  ServerProcess(pid_t pid, int port, std::string log_path) : pid_(pid), port_(port), log_path_(std::move(log_path)) {}
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

// Runs argv[0] with `argv` to completion, stdout and stderr appended to
// `log_path`. Returns the exit code (128 + signal when killed by a signal);
// DEADLINE_EXCEEDED after `timeout` (the child is killed); INTERNAL when fork
// fails. Exit code 127: the binary could not be executed.
absl::StatusOr<int> RunToCompletion(const std::vector<std::string>& argv, const std::string& log_path,
                                    absl::Duration timeout = absl::Minutes(30));

// The last `max_bytes` of a file ("" when it cannot be read).
std::string FileTail(const std::string& path, size_t max_bytes = 2000);

}  // namespace lifelong::models::replay

#endif  // LIFELONG_MODELS_REPLAY_PROCESS_H_
