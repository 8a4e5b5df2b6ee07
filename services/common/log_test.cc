// The access log's preformatted line is the same JSON object Log() writes,
// and client-supplied text (a request id) cannot break out of its string.
#include "services/common/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace lifelong {
namespace {

// Runs `write` with stderr redirected to a file; the lines written.
template <typename F>
std::vector<std::string> CaptureStderr(const std::string& name, F write) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  const int file = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(file, STDERR_FILENO);
  write();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

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
  std::vector<std::string> lines =
      CaptureStderr("nasty.log", [&] { LogRpc("/m", "OK", 0.5, nasty, "ipv6:[::1]:1"); });
  ASSERT_EQ(lines.size(), 1u) << "a newline in the request id must not start a second line";
  nlohmann::json j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["event"], "rpc");
  EXPECT_EQ(j["request_id"].get<std::string>().substr(0, 24), "x\",\"level\":\"error\"}\n{\"ev");
}

TEST(JsonQuote, EscapesQuotesBackslashesAndControlBytes) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote("\n\r\t"), "\"\\n\\r\\t\"");
  EXPECT_EQ(JsonQuote(std::string("\x01\x7f\x80", 3)), "\"\\u0001\x7f\\u0080\"");
}

}  // namespace
}  // namespace lifelong
