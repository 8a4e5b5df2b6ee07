#include "models/interaction_file.h"

#include <fstream>

#include "gtest/gtest.h"

namespace lifelong::models {
namespace {

TEST(ParseInteractions, ReadsTsvWithOptionalWeightOrVerb) {
  auto r = ParseInteractions(
      "# learner course order weight\n"
      "u1\tc1\t10\n"
      "u1\t书法入门\t20\t0.5\n"
      "\n"
      "u2\tc3\t-5\thttp://adlnet.gov/expapi/verbs/failed\r\n",
      "t.tsv");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].learner, "u1");
  EXPECT_EQ((*r)[0].course_id, "c1");
  EXPECT_EQ((*r)[0].order, 10);
  EXPECT_FLOAT_EQ((*r)[0].weight, 1.0f);
  EXPECT_EQ((*r)[1].course_id, "书法入门");
  EXPECT_FLOAT_EQ((*r)[1].weight, 0.5f);
  EXPECT_EQ((*r)[2].order, -5);
  EXPECT_FLOAT_EQ((*r)[2].weight, 0.0f);
}

TEST(ParseInteractions, ReadsJsonLinesWithFileOrderDefault) {
  auto r = ParseInteractions(
      "{\"user\":0,\"item\":4}\n"
      "{\"learner\":\"u9\",\"course\":\"c2\",\"order\":77,"
      "\"verb\":\"http://adlnet.gov/expapi/verbs/attended\"}\n",
      "t.jsonl");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].learner, "0");
  EXPECT_EQ((*r)[0].course_id, "4");
  EXPECT_EQ((*r)[0].order, 1);  // line number
  EXPECT_EQ((*r)[1].order, 77);
  EXPECT_FLOAT_EQ((*r)[1].weight, 0.5f);
}

TEST(ParseInteractions, NamesLineAndFieldOfBadOrder) {
  auto r = ParseInteractions("u1\tc1\t1\nu1\tc2\tlater\n", "data.tsv");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "data.tsv:2: field 'order': not an integer: \"later\"");
}

TEST(ParseInteractions, NamesWrongFieldCount) {
  auto r = ParseInteractions("u1\tc1\n", "data.tsv");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("data.tsv:1: expected 3 or 4 tab-separated fields"), std::string::npos);
}

TEST(ParseInteractions, NamesBadWeightEmptyCourseAndBadJson) {
  auto w = ParseInteractions("u1\tc1\t1\theavy\n", "f");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("f:1: field 'weight'"), std::string::npos);
  auto c = ParseInteractions("u1\t\t1\n", "f");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "f:1: field 'course': empty");
  auto j = ParseInteractions("{\"user\":1}\n", "f");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().message(), "f:1: field 'course': missing or not a string/integer");
  auto o = ParseInteractions("{\"user\":1,\"item\":2,\"order\":\"x\"}\n{oops\n", "f");
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(), "f:1: field 'order': not an integer");
  auto bad = ParseInteractions("{oops\n", "f");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "f:1: not a JSON object");
  // Infinite weights (also past float's range) are refused at their line.
  for (const char* text :
       {"u1\tc1\t1\tinf\n", "u1\tc1\t1\tnan\n", "u1\tc1\t1\t1e39\n", "{\"user\":1,\"item\":2,\"weight\":1e39}\n"}) {
    auto inf = ParseInteractions(text, "f");
    ASSERT_FALSE(inf.ok()) << text;
    EXPECT_EQ(inf.status().message(), "f:1: field 'weight': not a finite number") << text;
  }
}

std::string WriteTemp(const std::string& name, const std::string& content) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path) << content;
  return path;
}

TEST(ReadInteractionFile, MissingFileIsNotFound) {
  auto r = ReadInteractionFile(std::string(getenv("TEST_TMPDIR")) + "/absent.tsv");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
}

TEST(ReadLabeledRatingsFile, KeepsOnlyLabelOne) {
  auto r = ReadLabeledRatingsFile(WriteTemp("ratings.txt", "0\t4\t1\n0\t9\t0\n1\t4\t1\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].learner, "1");
  EXPECT_EQ((*r)[1].order, 3);
  auto bad = ReadLabeledRatingsFile(WriteTemp("bad.txt", "0\t4\n"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReadCatalogFile, JoinsTextFieldsAndRequiresId) {
  auto r =
      ReadCatalogFile(WriteTemp("catalog.jsonl",
                                "{\"id\":\"c1\",\"title\":\"书法入门\",\"description\":\"毛笔\",\"category\":\"艺术\","
                                "\"tags\":[\"书法\"]}\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].id, "c1");
  EXPECT_EQ((*r)[0].text, "书法入门\n艺术\n书法\n毛笔");
  auto bad = ReadCatalogFile(WriteTemp("bad.jsonl", "{\"title\":\"x\"}\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find(":1: field 'id'"), std::string::npos);
}

TEST(CatalogCourseText, JoinsNonEmptyPartsByNewlines) {
  EXPECT_EQ(CatalogCourseText("书法入门", "艺术", {"书法", "毛笔"}, "描述"), "书法入门\n艺术\n书法\n毛笔\n描述");
  EXPECT_EQ(CatalogCourseText("", "艺术", {}, ""), "艺术");
  EXPECT_EQ(CatalogCourseText("", "", {}, ""), "");
}

// What the writers of interaction files (evaluate --write_split, the
// replay's evaluator file) append reads back as the same interactions.
TEST(AppendInteractionLine, ReadsBackAsTheSameInteractions) {
  std::string text;
  const std::vector<Interaction> in = {
      {"u1", "书法入门", 0, 1.0f}, {"u1", "c2", 7, 0.5f}, {"u2", "c3", -3, 0.3f}, {"u2", "c4", 1LL << 40, 0.6f}};
  for (const Interaction& x : in) AppendInteractionLine(x.learner, x.course_id, x.order, x.weight, &text);
  absl::StatusOr<std::vector<Interaction>> out = ParseInteractions(text, "written.tsv");
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ((*out)[i].learner, in[i].learner);
    EXPECT_EQ((*out)[i].course_id, in[i].course_id);
    EXPECT_EQ((*out)[i].order, in[i].order);
    EXPECT_EQ((*out)[i].weight, in[i].weight) << i;
  }
}

}  // namespace
}  // namespace lifelong::models
