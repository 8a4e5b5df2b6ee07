// Test helper of log_test: logs asynchronously, then leaves without flushing,
// to show that queued lines are written at exit.
//   log_exit_helper <lines> return|exit
// Writes <lines> access-log lines from two threads (request ids "a-<i>" and
// "b-<i>") and one "done" line, then returns from main or calls exit(3)
// from another thread.
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/common/log.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const int lines = std::atoi(argv[1]);
  const std::string how = argv[2];
  lifelong::LogConfig config;
  config.async = true;
  config.queue_bytes = 64 << 20;  // nothing dropped
  if (!lifelong::ConfigureLogging(config).ok()) return 2;
  auto writer = [lines](const char* prefix) {
    for (int i = 0; i < lines / 2; ++i) {
      lifelong::LogRpc("/m", "OK", 0.1, absl::StrCat(prefix, i), "peer", false);
    }
  };
  std::thread a(writer, "a-");
  std::thread b(writer, "b-");
  a.join();
  b.join();
  lifelong::LogInfo("done");
  if (how == "exit") {
    std::thread([] { std::exit(3); }).join();
  }
  return 0;
}
