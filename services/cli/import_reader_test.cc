#include "services/cli/import_reader.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
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

// JSON readers disagree on a member given twice (this one kept the last, the
// record service's the first): such a line is refused, naming the member and,
// in a full statement, the object that repeats it.
TEST(StatementFromJsonLine, AMemberGivenTwiceIsRefused) {
  auto top = StatementFromJsonLine(R"({"learner":"u1","course":"c1","learner":"u2"})", "completed");
  EXPECT_EQ(top.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(top.status().message(), "member \"learner\" appears twice");
  // Twice with the same value is refused too: the line is ambiguous to read.
  auto same = StatementFromJsonLine(R"({"learner":"u1","course":"c1","course":"c1"})", "completed");
  EXPECT_EQ(same.status().message(), "member \"course\" appears twice");
  const std::string actor = R"("actor":{"account":{"homePage":"https://id.dongcheng.gov.cn","name":"u1","name":"u2"}})";
  auto nested = StatementFromJsonLine(
      absl::StrCat("{", actor, R"(,"verb":{"id":"http://adlnet.gov/expapi/verbs/attended"},"object":{"id":"c"}})"),
      "completed");
  EXPECT_EQ(nested.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(nested.status().message(), "member \"name\" appears twice in actor.account");
  auto in_array =
      StatementFromJsonLine(R"({"actor":{"mbox":"mailto:a@b.c"},"verb":{"id":"v"},"object":{"id":"c"},)"
                            R"("context":{"contextActivities":{"parent":[{"id":"p1"},{"id":"p2","id":"p3"}]}}})",
                            "completed");
  EXPECT_EQ(in_array.status().message(), "member \"id\" appears twice in context.contextActivities.parent[1]");
  auto statement_twice = StatementFromJsonLine(
      R"({"actor":{"mbox":"mailto:a@b.c"},"verb":{"id":"v"},"actor":{"mbox":"mailto:x@y.z"}})", "completed");
  EXPECT_EQ(statement_twice.status().message(), "member \"actor\" appears twice");
  // An object of many members (looked up in a set): the repeat is found
  // whichever members it repeats; as many distinct ones pass.
  std::string extensions;
  for (int i = 0; i < 40; ++i) absl::StrAppend(&extensions, i == 0 ? "" : ",", "\"https://x/e", i, "\":", i);
  const std::string many =
      absl::StrCat(R"({"actor":{"mbox":"mailto:a@b.c"},"verb":{"id":"v"},"object":{"id":"c"},"result":{"extensions":{)",
                   extensions, "}}}");
  EXPECT_TRUE(StatementFromJsonLine(many, "completed").ok()) << StatementFromJsonLine(many, "completed").status();
  for (int repeat : {3, 30}) {
    std::string twice = many;
    twice.insert(twice.size() - 3, absl::StrCat(",\"https://x/e", repeat, "\":0"));
    EXPECT_EQ(StatementFromJsonLine(twice, "completed").status().message(),
              absl::StrCat("member \"https://x/e", repeat, "\" appears twice in result.extensions"));
  }
  // The same name in different objects, or in a string, is no repeat.
  EXPECT_TRUE(StatementFromJsonLine(
                  R"({"id":"7a000000-0000-4000-8000-000000000001","actor":{"mbox":"mailto:a@b.c","name":"id"},)"
                  R"("verb":{"id":"v"},"object":{"id":"c","definition":{"name":{"en":"\"id\":1,\"id\":2"}}}})",
                  "completed")
                  .ok());
}

// The keys that name one field ("learner" and "user", "course" and "item")
// are that field given twice.
TEST(StatementFromJsonLine, OneFieldUnderBothOfItsNamesIsRefused) {
  EXPECT_EQ(StatementFromJsonLine(R"({"learner":"u1","user":"u2","course":"c1"})", "completed").status().message(),
            "\"user\" and \"learner\" name the same field");
  EXPECT_EQ(StatementFromJsonLine(R"({"item":"c1","learner":"u1","course":"c2"})", "completed").status().message(),
            "\"course\" and \"item\" name the same field");
}

TEST(ImportReader, AJsonLineRepeatingAMemberIsABadLineNamingItsLine) {
  const std::string path = TempFile("twice.jsonl",
                                    "{\"learner\":\"u1\",\"course\":\"c1\"}\n"
                                    "# a comment\n"
                                    "{\"learner\":\"a\",\"course\":\"c1\",\"learner\":\"b\"}\n");
  auto r = ImportReader::Open(path, ImportFormat::kJsonLines, "completed");
  ASSERT_TRUE(r.ok()) << r.status();
  auto first = (*r)->Next();
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status();
  auto bad = (*r)->Next();
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), path + ":3: member \"learner\" appears twice");
}

// A CSV header naming a column twice (or one field under both its names)
// would have kept the last non-empty cell of each row.
TEST(ImportReader, ACsvHeaderNamingAFieldTwiceIsRefused) {
  auto twice =
      ImportReader::Open(TempFile("twice.csv", "learner,course,Learner\nu1,c1,u2\n"), ImportFormat::kCsv, "completed");
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(twice.status().message().find("twice.csv:1: column 'learner' appears twice"), std::string::npos)
      << twice.status();
  auto alias =
      ImportReader::Open(TempFile("alias.csv", "user,course,learner\nu1,c1,u2\n"), ImportFormat::kCsv, "completed");
  EXPECT_EQ(alias.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(alias.status().message().find("alias.csv:1: columns 'learner' and 'user' name the same field"),
            std::string::npos)
      << alias.status();
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
  EXPECT_EQ((*r)->line(), 4);
  EXPECT_EQ(nlohmann::json::parse(**second)["verb"]["id"], "http://adlnet.gov/expapi/verbs/completed");
  auto bad = (*r)->Next();
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("in.csv:5: verb: unknown verb 'flew'"), std::string::npos) << bad.status();
}

// RFC 4180: a quoted field may hold line breaks (a title or note typed in a
// spreadsheet with Alt+Enter). The record spans those lines; line() is its
// last, an error names its first, and a quote never closed is refused at the
// end of the file, not glued to it without bound.
TEST(ImportReader, AQuotedCsvFieldMaySpanLines) {
  const std::string path = TempFile("multiline.csv",
                                    "learner,course,verb,title\r\n"
                                    "u1,c00001,registered,\"书法入门\r\n（线上）\"\r\n"
                                    "u2,c00002,registered,\"太极拳\n\n\"\"初级\"\"\"\n"
                                    "u3,c00003,flew,\"x\ny\"\n"
                                    "u4,c00004,registered,\"never closed\nu5,c00005\n");
  auto r = ImportReader::Open(path, ImportFormat::kCsv, "completed");
  ASSERT_TRUE(r.ok()) << r.status();
  auto first = (*r)->Next();
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status();
  EXPECT_EQ((*r)->line(), 3);
  EXPECT_EQ(nlohmann::json::parse(**first)["object"]["definition"]["name"]["zh-CN"], "书法入门\n（线上）");
  auto second = (*r)->Next();
  ASSERT_TRUE(second.ok() && second->has_value()) << second.status();
  EXPECT_EQ((*r)->line(), 6);
  EXPECT_EQ(nlohmann::json::parse(**second)["object"]["definition"]["name"]["zh-CN"], "太极拳\n\n\"初级\"");
  auto bad = (*r)->Next();
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("multiline.csv:7: verb: unknown verb 'flew'"), std::string::npos)
      << bad.status();
  auto open = (*r)->Next();
  EXPECT_EQ(open.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(open.status().message().find("multiline.csv:9: unterminated quoted field"), std::string::npos)
      << open.status();
}

// Audit t7: a GBK title threw out of the JSON library and aborted the CLI
// (rc 134) without a line number. Now a bad line naming line and field.
TEST(ImportReader, NonUtf8CsvFieldIsABadLineNotACrash) {
  const std::string path = TempFile("gbk.csv",
                                    "learner,course,title\n"
                                    "u1,c00001,ok\n"
                                    "u2,c00002,\xca\xe9\xb7\xa8\n");
  auto r = ImportReader::Open(path, ImportFormat::kCsv, "completed");
  ASSERT_TRUE(r.ok()) << r.status();
  auto first = (*r)->Next();
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status();
  auto bad = (*r)->Next();
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("gbk.csv:3: title: not valid UTF-8 (byte 1)"), std::string::npos)
      << bad.status();
}

TEST(StatementFromJsonLine, NonUtf8LineIsRefused) {
  auto r = StatementFromJsonLine("{\"learner\":\"u1\",\"course\":\"c1\",\"title\":\"\xca\xe9\"}", "completed");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("not valid UTF-8"), std::string::npos) << r.status();
}

// Audit t1: float ids went through a 6-digit "%g" ("1.23457e+06"), merging
// 1234567.0 and 1234568.0 into one learner.
TEST(StatementFromJsonLine, WholeFloatIdsKeepEveryDigit) {
  auto a = StatementFromJsonLine(R"({"user":1234567.0,"item":89.0})", "completed");
  ASSERT_TRUE(a.ok()) << a.status();
  auto j = nlohmann::json::parse(*a);
  EXPECT_EQ(j["actor"]["account"]["name"], "1234567");
  EXPECT_EQ(j["object"]["id"], "https://lifelong.dongcheng.edu.cn/courses/89");
  auto b = StatementFromJsonLine(R"({"user":1234568.0,"item":89.0})", "completed");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(nlohmann::json::parse(*b)["actor"]["account"]["name"], "1234568");
}

TEST(StatementFromJsonLine, FractionalOrHugeFloatIdIsRefused) {
  auto half = StatementFromJsonLine(R"({"user":1.5,"item":4})", "completed");
  EXPECT_EQ(half.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(half.status().message().rfind("user: ", 0), 0u) << half.status();
  auto huge = StatementFromJsonLine(R"({"user":7,"item":1e300})", "completed");
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(huge.status().message().rfind("item: ", 0), 0u) << huge.status();
}

// Audit t1: credits 1.2345678 was stored as 1.23457 and hours 1234567.5 as
// 1234570.
TEST(StatementFromJsonLine, NumbersKeepFullPrecision) {
  auto a = StatementFromJsonLine(R"({"user":1,"item":2,"credits":1.2345678,"hours":1234567.5})", "completed");
  ASSERT_TRUE(a.ok()) << a.status();
  auto ext = nlohmann::json::parse(*a)["context"]["extensions"];
  EXPECT_EQ(ext["https://lifelong.dongcheng.edu.cn/xapi/ext/credits"].get<double>(), 1.2345678) << ext;
  EXPECT_EQ(ext["https://lifelong.dongcheng.edu.cn/xapi/ext/hours"].get<double>(), 1234567.5) << ext;
}

// Audit t1: 18446744073709551615 was read as int64 and stored as learner "-1".
TEST(StatementFromJsonLine, UnsignedIdsDoNotWrap) {
  auto a = StatementFromJsonLine(R"({"user":18446744073709551615,"item":9223372036854775808})", "completed");
  ASSERT_TRUE(a.ok()) << a.status();
  auto j = nlohmann::json::parse(*a);
  EXPECT_EQ(j["actor"]["account"]["name"], "18446744073709551615");
  EXPECT_EQ(j["object"]["id"], "https://lifelong.dongcheng.edu.cn/courses/9223372036854775808");
}

// Audit t17: a CSV row whose first cell began with '#' was skipped as a
// comment; comments are a JSON-lines convention only.
TEST(ImportReader, CsvRowStartingWithHashIsData) {
  const std::string path = TempFile("hash.csv",
                                    "title,learner,course\n"
                                    "#2 书法提高班,u1,c00021\n");
  auto r = ImportReader::Open(path, ImportFormat::kCsv, "completed");
  ASSERT_TRUE(r.ok()) << r.status();
  auto row = (*r)->Next();
  ASSERT_TRUE(row.ok() && row->has_value()) << row.status();
  EXPECT_EQ((*r)->line(), 2);
  EXPECT_EQ(nlohmann::json::parse(**row)["object"]["definition"]["name"]["zh-CN"], "#2 书法提高班");
}

TEST(ImportReader, JsonLinesStillSkipsHashComments) {
  const std::string path = TempFile("c.jsonl", "# comment\n{\"user\":1,\"item\":2}\n");
  auto r = ImportReader::Open(path, ImportFormat::kJsonLines, "completed");
  ASSERT_TRUE(r.ok()) << r.status();
  auto row = (*r)->Next();
  ASSERT_TRUE(row.ok() && row->has_value()) << row.status();
  EXPECT_EQ((*r)->line(), 2);
}

// Audit t8: "-5" credits counted as 0; "0x10" was read as 16, "0x1p3" as 8.
TEST(StatementFromCsvRow, RefusesNegativeAndNonDecimalNumbers) {
  const std::vector<std::string> header = {"learner", "course", "credits", "hours"};
  auto neg = StatementFromCsvRow(header, {"u1", "c1", "-5", ""}, "completed");
  EXPECT_EQ(neg.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(neg.status().message().rfind("credits: must not be negative", 0), 0u) << neg.status();
  auto neg_hours = StatementFromCsvRow(header, {"u1", "c1", "", "-1.5"}, "completed");
  EXPECT_EQ(neg_hours.status().message().rfind("hours: must not be negative", 0), 0u) << neg_hours.status();
  for (const char* text : {"0x10", "0x1p3", "inf", "nan", "1e999", " 1", "1.2.3"}) {
    auto r = StatementFromCsvRow(header, {"u1", "c1", text, ""}, "completed");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(r.status().message().rfind("credits: not a number", 0), 0u) << text << ": " << r.status();
  }
  for (const char* text : {"2", "1.5", ".5", "0", "1e1", "+3"}) {
    EXPECT_TRUE(StatementFromCsvRow(header, {"u1", "c1", text, ""}, "completed").ok()) << text;
  }
  auto json_neg = StatementFromJsonLine(R"({"user":1,"item":2,"hours":-3})", "completed");
  EXPECT_EQ(json_neg.status().message().rfind("hours: must not be negative", 0), 0u) << json_neg.status();
}

TEST(ImportReader, RejectsUnknownCsvColumnAndMissingFile) {
  const std::string path = TempFile("bad.csv", "learner,colour\nu1,red\n");
  EXPECT_EQ(ImportReader::Open(path, ImportFormat::kCsv, "completed").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ImportReader::Open("/nonexistent/x.jsonl", ImportFormat::kJsonLines, "completed").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(CountLines, CountsNewlines) { EXPECT_EQ(*CountLines(TempFile("three.txt", "a\nb\nc\n")), 3); }

// A checkpoint's fingerprint covers every byte of the lines it counts, so a
// file regenerated with the same start (however long) is told apart; the
// same file grown at its end is not; an unterminated last line is not a line.
TEST(InputPrefix, FingerprintsEveryByteOfTheWholeLinesItCovers) {
  std::string rows;
  for (int i = 0; i < 4000; ++i) rows += "u" + std::to_string(100000 + i) + ",c00001,completed,2026-10-29T09:00:00Z\n";
  ASSERT_GT(rows.size(), size_t{128} << 10) << "longer than the old 64 KiB window";
  auto mark = [](const std::string& path, int64_t lines) {
    absl::StatusOr<std::unique_ptr<InputPrefix>> p = InputPrefix::Open(path);
    EXPECT_TRUE(p.ok()) << p.status();
    absl::StatusOr<InputPrefix::Mark> m = (*p)->Advance(lines);
    EXPECT_TRUE(m.ok()) << m.status();
    return *m;
  };
  const InputPrefix::Mark base = mark(TempFile("prefix_a.csv", rows), 4000);
  EXPECT_EQ(base.lines, 4000);
  EXPECT_EQ(base.fingerprint.substr(0, base.fingerprint.find(' ')), std::to_string(rows.size()));
  EXPECT_EQ(mark(TempFile("prefix_grown.csv", rows + "u1,c1,completed,2026-10-30T09:00:00Z\n"), 4000).fingerprint,
            base.fingerprint);
  std::string late_change = rows;
  late_change[rows.size() - 10] = '8';  // the last line's time, past 64 KiB
  EXPECT_NE(mark(TempFile("prefix_b.csv", late_change), 4000).fingerprint, base.fingerprint);

  // Asked in steps, the same as at once.
  absl::StatusOr<std::unique_ptr<InputPrefix>> steps = InputPrefix::Open(TempFile("prefix_c.csv", rows));
  ASSERT_TRUE(steps.ok());
  ASSERT_TRUE((*steps)->Advance(1).ok());
  ASSERT_TRUE((*steps)->Advance(1700).ok());
  EXPECT_EQ((*steps)->Advance(4000)->fingerprint, base.fingerprint);
  EXPECT_EQ((*steps)->Advance(3).status().code(), absl::StatusCode::kInvalidArgument) << "it reads forward only";

  // An unterminated last line is not counted; more lines than there are.
  const InputPrefix::Mark open = mark(TempFile("prefix_open.csv", rows + "u2,c1,compl"), 4001);
  EXPECT_EQ(open.lines, 4000);
  EXPECT_EQ(open.fingerprint, base.fingerprint);
  EXPECT_EQ(mark(TempFile("prefix_short.csv", "a\nb\n"), 5).lines, 2);
  EXPECT_EQ(InputPrefix::Open("/nonexistent/input.csv").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lifelong::cli
