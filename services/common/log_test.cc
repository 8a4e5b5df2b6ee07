// The access log's preformatted line is the same JSON object Log() writes,
// and client-supplied text (a request id) cannot break out of its string.
// The asynchronous writer writes every line, in order per thread, counts what
// it drops when its queue is full (stderr a pipe nobody reads), keeps room for
// important lines, and writes what is queued at exit; sampling keeps errors
// and slow calls. When stderr is a file, it is rotated past its size limit,
// keeping the newest files, every line whole and in order.
#include "services/common/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "services/common/capture_stderr.h"
#include "services/common/child_process.h"

namespace lifelong {
namespace {

using testing::CaptureStderr;

TEST(LogRpc, WritesTheSameObjectAsLogWithTheSameKeyOrder) {
  SetLogService("records");
  std::vector<std::string> lines = CaptureStderr("same.log", [] {
    LogRpc("/lifelong.v1.LearningRecordService/Echo", "NOT_FOUND", 1.25, "req-1", "ipv4:127.0.0.1:5000");
    LogInfo("rpc", {{"method", "/lifelong.v1.LearningRecordService/Echo"},
                    {"code", "NOT_FOUND"},
                    {"duration_ms", 1.25},
                    {"request_id", "req-1"},
                    {"peer", "ipv4:127.0.0.1:5000"}});
  });
  ASSERT_EQ(lines.size(), 2u);
  nlohmann::json a = nlohmann::json::parse(lines[0]);
  nlohmann::json b = nlohmann::json::parse(lines[1]);
  a.erase("ts");
  b.erase("ts");
  EXPECT_EQ(a, b);
  // Same text up to the time stamp (the last key).
  EXPECT_EQ(lines[0].substr(0, lines[0].find("\"ts\":")), lines[1].substr(0, lines[1].find("\"ts\":")));
}

TEST(LogRpc, ClientTextCannotBreakTheLine) {
  const std::string nasty = "x\",\"level\":\"error\"}\n{\"event\":\"forged\\\t\x01\xff";
  std::vector<std::string> lines = CaptureStderr("nasty.log", [&] { LogRpc("/m", "OK", 0.5, nasty, "ipv6:[::1]:1"); });
  ASSERT_EQ(lines.size(), 1u) << "a newline in the request id must not start a second line";
  nlohmann::json j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["event"], "rpc");
  EXPECT_EQ(j["request_id"].get<std::string>().substr(0, 24), "x\",\"level\":\"error\"}\n{\"ev");
}

// Puts the process back to synchronous logging when a test ends.
class AsyncLog {
 public:
  explicit AsyncLog(size_t queue_bytes, int access_sample = 1) {
    LogConfig config;
    config.async = true;
    config.queue_bytes = queue_bytes;
    config.access_sample = access_sample;
    EXPECT_TRUE(ConfigureLogging(config).ok());
  }
  ~AsyncLog() { EXPECT_TRUE(ConfigureLogging(LogConfig()).ok()); }
};

// The request ids of the "rpc" lines, by their prefix before '-', in the
// order written; fails the test on a line that is not one JSON object.
std::map<std::string, std::vector<int>> IdsByThread(const std::vector<std::string>& lines) {
  std::map<std::string, std::vector<int>> ids;
  for (const std::string& line : lines) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not one JSON object: " << line;
    if (j.is_discarded() || j.value("event", "") != "rpc") continue;
    std::vector<std::string> parts = absl::StrSplit(j["request_id"].get<std::string>(), '-');
    int n = -1;
    EXPECT_TRUE(parts.size() == 2 && absl::SimpleAtoi(parts[1], &n)) << line;
    ids[parts[0]].push_back(n);
  }
  return ids;
}

TEST(AsyncLog, WritesEveryLineInOrderPerThread) {
  constexpr int kThreads = 4;
  constexpr int kLines = 5000;
  const LogStats before = LogStatistics();
  std::vector<std::string> lines = CaptureStderr("async.log", [&] {
    AsyncLog async(64 << 20);  // big enough that nothing is dropped however the threads are scheduled
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t] {
        for (int i = 0; i < kLines; ++i) {
          LogRpc("/lifelong.v1.LearningRecordService/Echo", "OK", 0.25, absl::StrCat("t", t, "-", i),
                 "ipv4:127.0.0.1:1", false);
          if (i % 1000 == 0) LogInfo("marker", {{"thread", t}});
        }
      });
    }
    for (std::thread& t : threads) t.join();
    FlushLogs();  // before stderr is put back
  });
  const LogStats after = LogStatistics();
  EXPECT_EQ(after.dropped_lines, before.dropped_lines);
  EXPECT_EQ(after.written_lines - before.written_lines, uint64_t{kThreads * (kLines + 5)});
  ASSERT_EQ(lines.size(), size_t{kThreads * (kLines + 5)});
  std::map<std::string, std::vector<int>> ids = IdsByThread(lines);
  ASSERT_EQ(ids.size(), size_t{kThreads});
  for (const auto& [thread, seen] : ids) {
    ASSERT_EQ(seen.size(), size_t{kLines}) << thread;
    for (int i = 0; i < kLines; ++i) ASSERT_EQ(seen[i], i) << thread;
  }
}

TEST(AsyncLog, FullQueueDropsAndCountsButKeepsRoomForImportantLines) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  ::fcntl(pipe_fds[1], F_SETPIPE_SZ, 4096);  // fills after a few lines
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(pipe_fds[1], STDERR_FILENO);
  ::close(pipe_fds[1]);
  const LogStats before = LogStatistics();
  constexpr int kLines = 3000;
  std::string read_back;
  {
    AsyncLog async(8192);
    // Nobody reads the pipe yet: the writer blocks in write(2) and the queue
    // fills; logging must not block.
    const absl::Time start = absl::Now();
    for (int i = 0; i < kLines; ++i) {
      LogRpc("/m", "OK", 0.5, absl::StrCat("ok-", i), "peer", /*important=*/false);
    }
    LogRpc("/m", "INTERNAL", 0.5, "error-0", "peer", /*important=*/true);
    EXPECT_LT(absl::Now() - start, absl::Seconds(20)) << "logging waited for the reader";
    const LogStats full = LogStatistics();
    EXPECT_GT(full.dropped_lines - before.dropped_lines, 0u);
    // Now drain the pipe; FlushLogs returns once the queue is written.
    std::thread reader([&] {
      char buf[65536];
      for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) read_back.append(buf, n);
    });
    FlushLogs();
    ::dup2(saved, STDERR_FILENO);  // the last write end besides the writer's, which has none of its own
    ::close(saved);
    reader.join();
  }
  ::close(pipe_fds[0]);
  const LogStats after = LogStatistics();
  std::vector<std::string> lines = absl::StrSplit(read_back, '\n', absl::SkipEmpty());
  const uint64_t dropped = after.dropped_lines - before.dropped_lines;
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(lines.size() + dropped, size_t{kLines + 1}) << "every line is either written or counted as dropped";
  EXPECT_EQ(after.written_lines - before.written_lines, lines.size());
  std::map<std::string, std::vector<int>> ids = IdsByThread(lines);
  ASSERT_EQ(ids["error"].size(), 1u) << "the error line used the room kept for important lines";
  const std::vector<int>& ok = ids["ok"];
  for (size_t i = 1; i < ok.size(); ++i) ASSERT_LT(ok[i - 1], ok[i]) << "out of order";
  EXPECT_EQ(ok.front(), 0);
}

TEST(AsyncLog, SwitchingBackToSynchronousWritesWhatWasQueued) {
  std::vector<std::string> lines = CaptureStderr("switch.log", [] {
    {
      AsyncLog async(1 << 20);
      for (int i = 0; i < 100; ++i) LogRpc("/m", "OK", 0.1, absl::StrCat("s-", i), "p", false);
    }  // back to synchronous, without FlushLogs
    LogRpc("/m", "OK", 0.1, "s-100", "p", false);
  });
  std::map<std::string, std::vector<int>> ids = IdsByThread(lines);
  ASSERT_EQ(ids["s"].size(), 101u);
  for (int i = 0; i <= 100; ++i) EXPECT_EQ(ids["s"][i], i);
}

TEST(AsyncLog, EventLinesAreWrittenBeforeLogReturnsAfterTheQueuedOnes) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/event.log");
  auto read_lines = [&path] {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  };
  std::vector<std::string> seen;
  CaptureStderr("event.log", [&] {
    AsyncLog async(1 << 20);
    for (int i = 0; i < 10; ++i) LogRpc("/m", "OK", 0.1, absl::StrCat("e-", i), "p", false);
    LogInfo("serving", {{"port", 1}});
    seen = read_lines();  // no FlushLogs: what a test waiting for "serving" sees
  });
  ASSERT_EQ(seen.size(), 11u);
  EXPECT_NE(seen.back().find("\"event\":\"serving\""), std::string::npos);
  EXPECT_EQ(IdsByThread(seen)["e"].size(), 10u);
}

// The helper queues lines from two threads and leaves without FlushLogs:
// returning from main and exit() from another thread both write everything.
TEST(AsyncLog, QueuedLinesAreWrittenAtExit) {
  const std::string helper =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"), "/services/common/log_exit_helper");
  for (const std::string how : {"return", "exit"}) {
    const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/exit_", how, ".log");
    absl::StatusOr<pid_t> pid = SpawnChild({helper, "20000", how}, path);
    ASSERT_TRUE(pid.ok()) << pid.status();
    std::optional<int> status = WaitForChildExit(*pid, absl::Seconds(60));
    ASSERT_TRUE(status.has_value());
    ASSERT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), how == "exit" ? 3 : 0);
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    ASSERT_EQ(lines.size(), 20001u) << how;
    EXPECT_NE(lines.back().find("\"event\":\"done\""), std::string::npos) << how;
    std::map<std::string, std::vector<int>> ids = IdsByThread(lines);
    for (const char* t : {"a", "b"}) {
      ASSERT_EQ(ids[t].size(), 10000u) << how;
      for (int i = 0; i < 10000; ++i) ASSERT_EQ(ids[t][i], i) << how;
    }
  }
}

TEST(AccessLogSampling, ErrorsAndSlowCallsAlwaysOthersOneInN) {
  LogConfig config;
  config.access_sample = 3;
  config.access_slow_ms = 100;
  ASSERT_TRUE(ConfigureLogging(config).ok());
  const LogStats before = LogStatistics();
  std::thread([] {  // a fresh thread: sampling counts per thread
    std::vector<AccessLogVerdict> ok;
    for (int i = 0; i < 6; ++i) ok.push_back(JudgeAccessLog(true, 1.0));
    EXPECT_EQ(ok, (std::vector<AccessLogVerdict>{AccessLogVerdict::kWrite, AccessLogVerdict::kSkip,
                                                 AccessLogVerdict::kSkip, AccessLogVerdict::kWrite,
                                                 AccessLogVerdict::kSkip, AccessLogVerdict::kSkip}));
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(JudgeAccessLog(false, 1.0), AccessLogVerdict::kWriteImportant);
      EXPECT_EQ(JudgeAccessLog(true, 100.0), AccessLogVerdict::kWriteImportant);
    }
  })
      .join();
  EXPECT_EQ(LogStatistics().sampled_out - before.sampled_out, 4u);
  config.access_sample = 0;  // none of the ordinary calls
  ASSERT_TRUE(ConfigureLogging(config).ok());
  EXPECT_EQ(JudgeAccessLog(true, 1.0), AccessLogVerdict::kSkip);
  EXPECT_EQ(JudgeAccessLog(false, 1.0), AccessLogVerdict::kWriteImportant);
  ASSERT_TRUE(ConfigureLogging(LogConfig()).ok());
  EXPECT_EQ(JudgeAccessLog(true, 1.0), AccessLogVerdict::kWrite);
}

TEST(ConfigureLogging, BadValuesAreInvalidArgumentNamingTheField) {
  LogConfig config;
  config.queue_bytes = 100;
  absl::Status s = ConfigureLogging(config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("queue_bytes"), absl::string_view::npos);
  config = LogConfig();
  config.access_sample = -2;
  s = ConfigureLogging(config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("access_sample"), absl::string_view::npos);
  config = LogConfig();
  config.access_slow_ms = -1;
  s = ConfigureLogging(config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("access_slow_ms"), absl::string_view::npos);
  config = LogConfig();
  config.rotate_bytes = -1;
  s = ConfigureLogging(config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("rotate_bytes"), absl::string_view::npos);
  for (int keep : {0, 101}) {
    config = LogConfig();
    config.rotate_keep = keep;
    s = ConfigureLogging(config);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << keep;
    EXPECT_NE(s.message().find("rotate_keep"), absl::string_view::npos);
  }
}

// Descriptor 2 (and 1 with `stdout_too`) appending to `path` while it
// lives, as ops/stack.sh starts a service (>>FILE 2>&1); restored after.
class StdioToFile {
 public:
  StdioToFile(const std::string& path, bool stdout_too) : saved_err_(dup(2)), saved_out_(dup(1)) {
    std::fflush(stdout);
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(fd, 2);
    if (stdout_too) dup2(fd, 1);
    close(fd);
  }
  ~StdioToFile() {
    std::fflush(stdout);
    dup2(saved_err_, 2);
    dup2(saved_out_, 1);
    close(saved_err_);
    close(saved_out_);
  }

 private:
  int saved_err_;
  int saved_out_;
};

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// The "i" of each line of `text` (every line must be a whole JSON object).
std::vector<int> LineNumbers(const std::string& text) {
  std::vector<int> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << "not a whole line: " << line;
    if (j.is_object() && j.contains("i")) out.push_back(j["i"].get<int>());
  }
  return out;
}

// Writes 300 numbered lines with rotation at 4 KiB keeping 2 files, in
// `async` mode; checks the files: the newest three, whole lines, in order.
void CheckRotation(bool async, const std::string& name) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  ASSERT_EQ(std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str()), 0);
  const std::string path = dir + "/records.log";
  const uint64_t rotations_before = LogStatistics().rotations;
  {
    StdioToFile redirect(path, /*stdout_too=*/true);
    LogConfig config;
    config.async = async;
    config.rotate_bytes = 4096;
    config.rotate_keep = 2;
    ASSERT_TRUE(ConfigureLogging(config).ok());
    for (int i = 0; i < 300; ++i) LogInfo("numbered", {{"i", i}, {"pad", std::string(40, 'x')}});
    FlushLogs();
    struct stat out, err, file;
    ASSERT_EQ(fstat(1, &out), 0);
    ASSERT_EQ(fstat(2, &err), 0);
    ASSERT_EQ(stat(path.c_str(), &file), 0);
    EXPECT_EQ(err.st_ino, file.st_ino) << "stderr writes to the new file";
    EXPECT_EQ(out.st_ino, file.st_ino) << "stdout, the same file before, follows it";
    EXPECT_EQ(file.st_mode & 0777, 0600u);
    ASSERT_TRUE(ConfigureLogging(LogConfig()).ok());  // synchronous, no rotation
  }
  EXPECT_GE(LogStatistics().rotations - rotations_before, 4u);
  EXPECT_TRUE(Exists(path + ".1"));
  EXPECT_TRUE(Exists(path + ".2"));
  EXPECT_FALSE(Exists(path + ".3")) << "only rotate_keep files are kept";
  const size_t slack = async ? kLogBatchBytes : 200;  // a file passes the limit by one write
  std::vector<int> all;
  for (const std::string& f : {path + ".2", path + ".1", path}) {
    const std::string text = ReadWhole(f);
    EXPECT_LE(text.size(), 4096 + slack) << f;
    for (int i : LineNumbers(text)) all.push_back(i);
  }
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back(), 299);
  for (size_t k = 1; k < all.size(); ++k) EXPECT_EQ(all[k], all[k - 1] + 1) << "lines lost or reordered";
}

TEST(LogRotation, SynchronousLinesRotateKeepingTheNewestFilesWholeAndInOrder) {
  CheckRotation(/*async=*/false, "rotation_sync");
}

TEST(LogRotation, AsynchronousBatchesRotateKeepingTheNewestFilesWholeAndInOrder) {
  CheckRotation(/*async=*/true, "rotation_async");
}

TEST(LogRotation, AFileAlreadyOverTheLimitIsRotatedAtTheFirstWrite) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/rotation_existing";
  ASSERT_EQ(std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str()), 0);
  const std::string path = dir + "/records.log";
  std::ofstream(path) << std::string(5000, 'o') << "\n";
  {
    StdioToFile redirect(path, /*stdout_too=*/false);
    LogConfig config;
    config.rotate_bytes = 4096;
    ASSERT_TRUE(ConfigureLogging(config).ok());
    LogInfo("after_upgrade");
    LogInfo("next");
    ASSERT_TRUE(ConfigureLogging(LogConfig()).ok());
  }
  EXPECT_EQ(ReadWhole(path + ".1").substr(0, 5000), std::string(5000, 'o'));
  EXPECT_NE(ReadWhole(path).find("\"next\""), std::string::npos);
}

TEST(LogRotation, APipeIsNeverRotated) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const uint64_t rotations_before = LogStatistics().rotations;
  const int saved = dup(2);
  dup2(fds[1], 2);
  LogConfig config;
  config.rotate_bytes = 100;
  ASSERT_TRUE(ConfigureLogging(config).ok());
  for (int i = 0; i < 20; ++i) LogInfo("into_a_pipe", {{"i", i}});
  ASSERT_TRUE(ConfigureLogging(LogConfig()).ok());
  dup2(saved, 2);
  close(saved);
  close(fds[1]);
  close(fds[0]);
  EXPECT_EQ(LogStatistics().rotations, rotations_before);
}

TEST(JsonQuote, EscapesQuotesBackslashesAndControlBytes) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote("\n\r\t"), "\"\\n\\r\\t\"");
  EXPECT_EQ(JsonQuote(std::string("\x01\x7f\x80", 3)), "\"\\u0001\x7f\\u0080\"");
}

}  // namespace
}  // namespace lifelong
