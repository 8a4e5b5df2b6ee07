#include "services/cli/import_reader.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

#include "gtest/gtest.h"

namespace lifelong::cli {
namespace {

std::string TempFile(const std::string& name, const std::string& content) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::ofstream(path) << content;
  return path;
}

TEST(ImportFormatFor, PicksByFlagOrName) {
  EXPECT_EQ(*ImportFormatFor("", "a.csv"), ImportFormat::kCsv);
  EXPECT_EQ(*ImportFormatFor("", "a.jsonl"), ImportFormat::kJsonLines);
  EXPECT_EQ(*ImportFormatFor("csv", "a.jsonl"), ImportFormat::kCsv);
  EXPECT_EQ(ImportFormatFor("xml", "a").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SplitCsvLine, HandlesQuotes) {
  EXPECT_EQ(*SplitCsvLine("a,b , c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(*SplitCsvLine("\"书法, 入门\",\"say \"\"hi\"\"\",,"),
            (std::vector<std::string>{"书法, 入门", "say \"hi\"", "", ""}));
  EXPECT_EQ(SplitCsvLine("\"open").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StatementFromJsonLine, InteractionGetsStableStatement) {
  auto a = StatementFromJsonLine(
      R"({"learner":"u1","course":"c00001","verb":"passed","timestamp":"2026-01-02T03:04:05Z"})", "completed");
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = StatementFromJsonLine(
      R"({"course":"c00001","learner":"u1","verb":"passed","timestamp":"2026-01-02T03:04:05Z"})", "completed");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(nlohmann::json::parse(*a)["id"], nlohmann::json::parse(*b)["id"]);  // key order does not matter
  EXPECT_EQ(nlohmann::json::parse(*a)["verb"]["id"], "http://adlnet.gov/expapi/verbs/passed");
}

TEST(StatementFromJsonLine, AcceptsNumbersAndOrder) {
  auto a = StatementFromJsonLine(R"({"user":7,"item":4,"order":1700000000000000})", "completed");
  ASSERT_TRUE(a.ok()) << a.status();
  auto j = nlohmann::json::parse(*a);
  EXPECT_EQ(j["actor"]["account"]["name"], "7");
  EXPECT_EQ(j["object"]["id"], "https://lifelong.dongcheng.edu.cn/courses/4");
  EXPECT_EQ(j["timestamp"], "2023-11-14T22:13:20.000000Z");
  EXPECT_EQ(j["verb"]["id"], "http://adlnet.gov/expapi/verbs/completed");
}

TEST(StatementFromJsonLine, KeepsFullStatementAndAddsId) {
  const std::string st =
      R"({"actor":{"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u1"}},"verb":{"id":"http://adlnet.gov/expapi/verbs/attended"},"object":{"id":"https://lifelong.dongcheng.edu.cn/courses/c1"}})";
  auto a = StatementFromJsonLine(st, "completed");
  ASSERT_TRUE(a.ok());
  auto j = nlohmann::json::parse(*a);
  EXPECT_EQ(j["id"].get<std::string>().size(), 36u);
  EXPECT_EQ(j["verb"]["id"], "http://adlnet.gov/expapi/verbs/attended");
  EXPECT_EQ(*StatementFromJsonLine(st, "completed"), *a);
}

TEST(StatementFromJsonLine, RejectsBadLines) {
  EXPECT_EQ(StatementFromJsonLine("not json", "completed").status().code(), absl::StatusCode::kInvalidArgument);
  auto r = StatementFromJsonLine(R"({"learner":"u1","course":"c1","colour":"red"})", "completed");
  EXPECT_EQ(r.status().message(), "colour: unknown field");
  auto m = StatementFromJsonLine(R"({"learner":"u1"})", "completed");
  EXPECT_EQ(m.status().message(), "course: must not be empty");
}

// A line nested 500,000 deep parses, but printing it recursed once per level
// and overflowed the stack: refused before parsing, naming the reason.
TEST(StatementFromJsonLine, DeepNestingIsRefusedNotACrash) {
  const std::string deep = R"({"actor":{"objectType":"Agent","account":{"homePage":"h","name":"u1"}},"x":)" +
                           std::string(500000, '[') + std::string(500000, ']') + "}";
  absl::StatusOr<std::string> s = StatementFromJsonLine(deep, "");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("nested deeper than"), std::string::npos) << s.status();
  // Brackets inside strings do not count; 64 levels are fine.
  const std::string ok = R"({"actor":{"objectType":"Agent","account":{"homePage":"h","name":"u1"}},"x":")" +
                         std::string(1000, '[') + R"(","y":)" + std::string(60, '[') + std::string(60, ']') + "}";
  EXPECT_TRUE(StatementFromJsonLine(ok, "").ok()) << StatementFromJsonLine(ok, "").status();
}

TEST(ImportReader, ReadsCsvWithHeaderAndReportsLines) {
  const std::string path = TempFile("in.csv",
                                    "learner,course,verb,title\n"
                                    "u1,c00001,registered,\"书法入门（线上）\"\n"
                                    "\n"
                                    "# comment\n"
                                    "u2,c00002,,太极拳\n"
                                    "u3,c00003,flew,x\n");
  auto r = ImportReader::Open(path, ImportFormat::kCsv, "completed");
  ASSERT_TRUE(r.ok()) << r.status();
  auto first = (*r)->Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*r)->line(), 2);
  EXPECT_EQ(nlohmann::json::parse(**first)["object"]["definition"]["name"]["zh-CN"], "书法入门（线上）");
  auto second = (*r)->Next();
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*r)->line(), 5);
  EXPECT_EQ(nlohmann::json::parse(**second)["verb"]["id"], "http://adlnet.gov/expapi/verbs/completed");
  auto bad = (*r)->Next();
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("in.csv:6: verb: unknown verb 'flew'"), std::string::npos) << bad.status();
}

TEST(ImportReader, RejectsUnknownCsvColumnAndMissingFile) {
  const std::string path = TempFile("bad.csv", "learner,colour\nu1,red\n");
  EXPECT_EQ(ImportReader::Open(path, ImportFormat::kCsv, "completed").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ImportReader::Open("/nonexistent/x.jsonl", ImportFormat::kJsonLines, "completed").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(CountLines, CountsNewlines) { EXPECT_EQ(*CountLines(TempFile("three.txt", "a\nb\nc\n")), 3); }

}  // namespace
}  // namespace lifelong::cli
