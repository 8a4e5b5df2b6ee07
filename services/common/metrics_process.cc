#include "services/common/metrics_process.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace lifelong::metrics {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Fields of /proc/self/stat after the command name (which may contain
// spaces and parentheses, hence the split at the last ')'). Field 3 of
// proc(5) ("state") is element 0.
std::vector<std::string> StatFields() {
  const std::string stat = ReadFile("/proc/self/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return {};
  return absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipEmpty());
}

double StatField(int proc5_number) {
  std::vector<std::string> fields = StatFields();
  const size_t index = proc5_number - 3;
  double value = 0;
  if (index >= fields.size() || !absl::SimpleAtod(fields[index], &value)) return std::nan("");
  return value;
}

double StatmPages(int index) {
  std::vector<std::string> fields = absl::StrSplit(ReadFile("/proc/self/statm"), ' ', absl::SkipEmpty());
  double pages = 0;
  if (index >= static_cast<int>(fields.size()) || !absl::SimpleAtod(fields[index], &pages)) {
    return std::nan("");
  }
  return pages * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nan("");
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the descriptor of `dir` itself
}

double StartTimeSeconds() {
  // starttime (field 22) is in clock ticks since boot; btime in /proc/stat
  // is the boot time in Unix seconds.
  const double ticks = StatField(22);
  double boot = std::nan("");
  for (absl::string_view line : absl::StrSplit(ReadFile("/proc/stat"), '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) {
      if (!absl::SimpleAtod(line, &boot)) boot = std::nan("");
    }
  }
  if (std::isnan(ticks) || std::isnan(boot)) return absl::ToUnixSeconds(absl::Now());
  return boot + ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

absl::Status RegisterProcessMetrics(MetricsRegistry* registry) {
  const double start_time = StartTimeSeconds();
  return registry->AddCallbacks({
      {MetricType::kCounter,
       "process_cpu_seconds_total",
       "Total user and system CPU time spent in seconds.",
       {},
       [] {
         rusage usage;
         if (getrusage(RUSAGE_SELF, &usage) != 0) return std::nan("");
         return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
                usage.ru_stime.tv_usec / 1e6;
       }},
      {MetricType::kGauge,
       "process_resident_memory_bytes",
       "Resident memory size in bytes.",
       {},
       [] { return StatmPages(1); }},
      {MetricType::kGauge,
       "process_virtual_memory_bytes",
       "Virtual memory size in bytes.",
       {},
       [] { return StatmPages(0); }},
      {MetricType::kGauge, "process_open_fds", "Number of open file descriptors.", {}, OpenFds},
      {MetricType::kGauge,
       "process_max_fds",
       "Maximum number of open file descriptors.",
       {},
       [] {
         rlimit limit;
         if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nan("");
         return static_cast<double>(limit.rlim_cur);
       }},
      {MetricType::kGauge, "process_threads", "Number of OS threads in the process.", {}, [] { return StatField(20); }},
      {MetricType::kGauge,
       "process_start_time_seconds",
       "Start time of the process since unix epoch in seconds.",
       {},
       [start_time] { return start_time; }},
  });
}

}  // namespace lifelong::metrics
