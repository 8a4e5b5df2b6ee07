#include "services/cli/text_table.h"

#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace lifelong::cli {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(DisplayWidth, CountsCjkAsTwoColumns) {
  EXPECT_EQ(DisplayWidth(""), 0);
  EXPECT_EQ(DisplayWidth("abc"), 3);
  EXPECT_EQ(DisplayWidth("书法"), 4);
  EXPECT_EQ(DisplayWidth("硬笔书法入门（线上）"), 20);  // fullwidth parentheses are wide
  EXPECT_EQ(DisplayWidth("c00001 书法"), 11);
  EXPECT_EQ(DisplayWidth("，。、"), 6);        // CJK punctuation
  EXPECT_EQ(DisplayWidth("ＡＢ"), 4);          // fullwidth Latin
  EXPECT_EQ(DisplayWidth("e\xCC\x81"), 1);     // e + combining acute accent
  EXPECT_EQ(DisplayWidth("\xE2\x80\x8B"), 0);  // zero-width space
  EXPECT_EQ(DisplayWidth("·"), 1);             // middle dot is narrow
}

TEST(DisplayWidth, CountsInvalidBytesAsOneColumnEach) {
  EXPECT_EQ(DisplayWidth("\xFF\xFE"), 2);
  EXPECT_EQ(DisplayWidth("\xE4\xB9"), 2);  // truncated 3-byte sequence
}

// Ill-formed sequences (utf8::Decode's strict rule) are invalid bytes too:
// an overlong form, a surrogate, a code point above U+10FFFF. They are
// shown as spaces, one per byte, never passed to the terminal.
TEST(DisplayWidth, OverlongsSurrogatesAndOutOfRangeAreInvalidBytes) {
  EXPECT_EQ(DisplayWidth("\xC0\xAF"), 2);          // overlong '/'
  EXPECT_EQ(DisplayWidth("\xED\xA0\x80"), 3);      // U+D800
  EXPECT_EQ(DisplayWidth("\xF4\x90\x80\x80"), 4);  // U+110000
  TextTable t({"A"});
  t.AddRow({"x\xC0\xAFy\xED\xA0\x80z"});
  EXPECT_EQ(t.Render(), "A\n--------\nx  y   z\n");
}

TEST(TruncateToWidth, CutsOnCodePointsWithEllipsis) {
  EXPECT_EQ(TruncateToWidth("书法入门", 8), "书法入门");
  EXPECT_EQ(TruncateToWidth("书法入门课程", 8), "书法...");  // 4 + 3 columns, next wide char does not fit
  EXPECT_EQ(TruncateToWidth("abcdefghij", 6), "abc...");
  EXPECT_EQ(TruncateToWidth("书法入门", 3), "书");  // no room for an ellipsis
  EXPECT_LE(DisplayWidth(TruncateToWidth("东城区和平里街道社区教育学校", 11)), 11);
}

TEST(PadToWidth, PadsByDisplayWidth) {
  EXPECT_EQ(PadToWidth("书法", 6), "书法  ");
  EXPECT_EQ(PadToWidth("12", 5, /*right_align=*/true), "   12");
  EXPECT_EQ(PadToWidth("书法入门", 4), "书法入门");
}

TEST(TextTable, AlignsChineseColumns) {
  TextTable t({"ID", "TITLE", "CREDITS"});
  t.AlignRight(2);
  t.AddRow({"c00001", "硬笔书法入门", "1.5"});
  t.AddRow({"c00002", "Python编程", "12"});
  const std::vector<std::string> lines = Lines(t.Render());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "ID      TITLE         CREDITS");
  EXPECT_EQ(lines[1], "------  ------------  -------");
  EXPECT_EQ(lines[2], "c00001  硬笔书法入门      1.5");
  EXPECT_EQ(lines[3], "c00002  Python编程         12");
  // Every line has the same display width: columns line up on a terminal.
  for (const std::string& l : lines) EXPECT_EQ(DisplayWidth(l), DisplayWidth(lines[0])) << l;
}

TEST(TextTable, TruncatesCellsAndFlattensNewlines) {
  TextTable t({"A", "B"});
  t.SetMaxWidth(0, 8);
  t.AddRow({"一二三四五六七八", "x\ny"});
  t.AddRow({"only one"});  // missing cell is empty
  const std::vector<std::string> lines = Lines(t.Render());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2], "一二...   x y");  // 7 columns padded to 8 ("only one"), then 2
  EXPECT_EQ(lines[3], "only one");       // no trailing spaces
}

// Learner-written text reaches an operator's terminal: escape sequences (an
// OSC 52 clipboard write, a cursor move), C1 controls and stray bytes are
// shown as spaces, not passed to the terminal.
TEST(TextTable, ControlCharactersNeverReachTheTerminal) {
  TextTable t({"COURSE", "NOTE"});
  t.AddRow({"书法\x1b]52;c;ZXZpbA==\x07", "a\x1b[2Jb\u0085c\u009bd\x7f\xff"});
  const std::string out = t.Render();
  for (char c : out) {
    const auto b = static_cast<unsigned char>(c);
    EXPECT_FALSE(b < 0x20 && c != '\n') << "control byte " << static_cast<int>(b);
    EXPECT_NE(b, 0x7f);
    EXPECT_NE(b, 0xff);
  }
  EXPECT_EQ(out.find("\u0085"), std::string::npos);
  EXPECT_EQ(out.find("\u009b"), std::string::npos);
  EXPECT_NE(out.find("书法 ]52;c;ZXZpbA== "), std::string::npos) << out;
}

}  // namespace
}  // namespace lifelong::cli
