// Child processes for tools and tests that run the services as real
// processes: start a binary with its output in a log file, and read the port
// a server wrote to its --port_file. Callers own the pid (reap it with
// waitpid). Used by models/replay (ServerProcess) and tests/testing
// (Subprocess).
#ifndef LIFELONG_SERVICES_COMMON_CHILD_PROCESS_H_
#define LIFELONG_SERVICES_COMMON_CHILD_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace lifelong {

// Starts argv[0] (a path; no PATH search) with `argv`, every signal
// unblocked in the child (the parent may block some for its own signal
// handling), stdout and stderr appended to `log_path` (inherited when it is
// empty or cannot be opened). The child's pid; INTERNAL when fork fails. A
// child that cannot exec the binary exits with code 127.
absl::StatusOr<pid_t> SpawnChild(const std::vector<std::string>& argv, const std::string& log_path);

// Reaps child `pid` once it has exited, checking at least once and then
// every 10 ms until `timeout` has passed: its wait status (see waitpid), or
// nullopt while it still runs.
std::optional<int> WaitForChildExit(pid_t pid, absl::Duration timeout);

// The port number a server wrote to `path`, or nullopt while the file is
// missing or holds no positive number yet.
std::optional<int> ReadPortFile(const std::string& path);

}  // namespace lifelong

#endif  // LIFELONG_SERVICES_COMMON_CHILD_PROCESS_H_
