#include "services/common/child_process.h"

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace lifelong {
namespace {

std::string TempPath(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  return std::string(base ? base : "/tmp") + "/" + name;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int WaitExitCode(pid_t pid) {
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SpawnChildTest, AppendsStdoutAndStderrToTheLog) {
  const std::string log = TempPath("spawn.log");
  std::ofstream(log) << "earlier\n";
  absl::StatusOr<pid_t> pid = SpawnChild({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, log);
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_EQ(WaitExitCode(*pid), 3);
  EXPECT_EQ(ReadAll(log), "earlier\nout\nerr\n");
}

TEST(SpawnChildTest, ABinaryThatCannotRunExits127) {
  absl::StatusOr<pid_t> pid = SpawnChild({"/nonexistent/binary"}, TempPath("missing.log"));
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_EQ(WaitExitCode(*pid), 127);
}

TEST(SpawnChildTest, EmptyArgvIsRejected) {
  EXPECT_EQ(SpawnChild({}, "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WaitForChildExitTest, NulloptWhileRunningThenTheWaitStatus) {
  absl::StatusOr<pid_t> pid = SpawnChild({"/bin/sleep", "30"}, "");
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_FALSE(WaitForChildExit(*pid, absl::ZeroDuration()).has_value());
  EXPECT_FALSE(WaitForChildExit(*pid, absl::Milliseconds(50)).has_value());
  kill(*pid, SIGKILL);
  std::optional<int> status = WaitForChildExit(*pid, absl::Seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
}

TEST(ReadPortFileTest, OnlyAPositiveNumberIsAPort) {
  const std::string path = TempPath("port");
  std::remove(path.c_str());
  EXPECT_FALSE(ReadPortFile(path).has_value());  // not written yet
  std::ofstream(path) << "";
  EXPECT_FALSE(ReadPortFile(path).has_value());  // created, not yet filled
  std::ofstream(path) << "0\n";
  EXPECT_FALSE(ReadPortFile(path).has_value());
  std::ofstream(path) << "40123\n";
  EXPECT_EQ(ReadPortFile(path), 40123);
}

}  // namespace
}  // namespace lifelong
