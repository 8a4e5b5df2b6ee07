#include "services/common/metrics_process.h"

#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace lifelong::metrics {
namespace {

// Sample name -> value of an unlabelled exposition.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    double v = 0;
    if (parts.size() == 2 && absl::SimpleAtod(parts[1], &v)) out[parts[0]] = v;
  }
  return out;
}

TEST(ProcessMetrics, ReportsPlausibleValues) {
  MetricsRegistry registry;
  ASSERT_TRUE(RegisterProcessMetrics(&registry).ok());
  std::map<std::string, double> before = Samples(registry.Render());
  ASSERT_EQ(before.size(), 7u) << registry.Render();
  EXPECT_GE(before["process_cpu_seconds_total"], 0);
  EXPECT_GT(before["process_resident_memory_bytes"], 100 * 1024);
  EXPECT_GE(before["process_virtual_memory_bytes"], before["process_resident_memory_bytes"]);
  EXPECT_GE(before["process_open_fds"], 3);  // stdin, stdout, stderr at least
  EXPECT_GE(before["process_max_fds"], before["process_open_fds"]);
  EXPECT_GE(before["process_threads"], 1);
  const double now = absl::ToUnixSeconds(absl::Now());
  EXPECT_LE(before["process_start_time_seconds"], now + 1);
  EXPECT_GT(before["process_start_time_seconds"], now - 3600);

  // One more descriptor and one more thread show up in the next scrape.
  const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::map<std::string, double> with_fd;
  std::thread([&] { with_fd = Samples(registry.Render()); }).join();
  close(fd);
  EXPECT_EQ(with_fd["process_open_fds"], before["process_open_fds"] + 1);
  EXPECT_EQ(with_fd["process_threads"], before["process_threads"] + 1);
}

TEST(ProcessMetrics, SecondRegistrationIsAlreadyExists) {
  MetricsRegistry registry;
  ASSERT_TRUE(RegisterProcessMetrics(&registry).ok());
  EXPECT_EQ(RegisterProcessMetrics(&registry).code(), absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace lifelong::metrics
