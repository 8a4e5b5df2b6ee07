// Test helper: runs a server binary as a child process, waits for the port it
// bound (written by the server to --port_file), and stops it with a signal.
#ifndef LIFELONG_TESTS_TESTING_SUBPROCESS_H_
#define LIFELONG_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lifelong::testing {

// Path of a binary in this test's runfiles, e.g. "services/records/records_server".
std::string RunfilePath(const std::string& workspace_relative);

// A directory under TEST_TMPDIR, emptied.
std::string FreshTempDir(const std::string& name);

// A loopback TCP port that was free a moment ago (bound to port 0, then
// closed): another process may take it before the caller binds it.
// UNAVAILABLE when no socket can be bound.
absl::StatusOr<int> FreeLoopbackPort();

class Subprocess {
 public:
  // Starts `argv[0]` with `argv`; stdout/stderr go to `log_path` if non-empty.
  static absl::StatusOr<Subprocess> Start(const std::vector<std::string>& argv, const std::string& log_path = "");
  Subprocess(Subprocess&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  Subprocess& operator=(Subprocess&& other) noexcept;
  ~Subprocess();  // SIGKILLs a still-running child

  pid_t pid() const { return pid_; }
  // Sends `sig`; then waits up to `timeout` for exit. Returns the exit status
  // as from waitpid (use WIFEXITED etc.), DEADLINE_EXCEEDED if still running.
  absl::StatusOr<int> Stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Waits up to `timeout` for the child to exit on its own; its wait status,
  // or DEADLINE_EXCEEDED.
  absl::StatusOr<int> Wait(std::chrono::milliseconds timeout);
  bool Running();

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

// Runs `argv` to its end (output to `log_path`): its exit code; -1 when it
// could not start, ran past `timeout` (then killed) or died of a signal.
int RunToCompletion(const std::vector<std::string>& argv, const std::string& log_path,
                    std::chrono::milliseconds timeout = std::chrono::minutes(5));

// The whole file at `path`; "" when it cannot be read.
std::string ReadFile(const std::string& path);

// Waits until `path` holds a port number; DEADLINE_EXCEEDED after `timeout`.
absl::StatusOr<int> WaitForPortFile(const std::string& path,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace lifelong::testing

#endif  // LIFELONG_TESTS_TESTING_SUBPROCESS_H_
