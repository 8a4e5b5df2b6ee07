#include "services/common/utf8.h"

#include <cstdint>
#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace lifelong::utf8 {
namespace {

constexpr size_t kNpos = absl::string_view::npos;

// The shortest form of `cp`, written out independently of the decoder.
std::string Encode(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

bool IsScalarValue(char32_t cp) { return cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF); }

void ExpectDecodes(absl::string_view bytes, char32_t cp) {
  const Decoded d = Decode(bytes, 0);
  EXPECT_TRUE(d.ok()) << absl::CEscape(bytes);
  EXPECT_EQ(d.code_point, cp) << absl::CEscape(bytes);
  EXPECT_EQ(d.size, bytes.size()) << absl::CEscape(bytes);
}

void ExpectInvalid(absl::string_view bytes) {
  const Decoded d = Decode(bytes, 0);
  EXPECT_FALSE(d.ok()) << absl::CEscape(bytes);
  EXPECT_EQ(d.size, 0u);
  EXPECT_EQ(d.code_point, 0u);
  EXPECT_EQ(FirstInvalidByte(bytes), 0u) << absl::CEscape(bytes);
}

TEST(Utf8Decode, OneToFourByteSequencesAtTheirBoundaries) {
  ExpectDecodes(absl::string_view("\0", 1), 0);
  ExpectDecodes("a", 'a');
  ExpectDecodes("\x7F", 0x7F);
  ExpectDecodes("\xC2\x80", 0x80);
  ExpectDecodes("\xC3\xA9", 0xE9);  // é
  ExpectDecodes("\xDF\xBF", 0x7FF);
  ExpectDecodes("\xE0\xA0\x80", 0x800);
  ExpectDecodes("书", 0x4E66);
  ExpectDecodes("\xED\x9F\xBF", 0xD7FF);  // just below the surrogates
  ExpectDecodes("\xEE\x80\x80", 0xE000);  // just above them
  ExpectDecodes("\xEF\xBB\xBF", 0xFEFF);  // BOM
  ExpectDecodes("\xEF\xBF\xBF", 0xFFFF);
  ExpectDecodes("\xF0\x90\x80\x80", 0x10000);
  ExpectDecodes("\xF0\x9F\x98\x80", 0x1F600);  // 😀
  ExpectDecodes("\xF0\xA0\x80\x80", 0x20000);  // CJK extension B
  ExpectDecodes("\xF4\x8F\xBF\xBF", 0x10FFFF);
}

TEST(Utf8Decode, WalksChineseTextCodePointByCodePoint) {
  const std::string text = "硬笔书法 A1（线上）😀";
  const char32_t want[] = {0x786C, 0x7B14, 0x4E66, 0x6CD5, ' ', 'A', '1', 0xFF08, 0x7EBF, 0x4E0A, 0xFF09, 0x1F600};
  size_t pos = 0;
  size_t n = 0;
  while (pos < text.size()) {
    const Decoded d = Decode(text, pos);
    ASSERT_TRUE(d.ok()) << pos;
    ASSERT_LT(n, sizeof(want) / sizeof(want[0]));
    EXPECT_EQ(d.code_point, want[n]) << n;
    pos += d.size;
    ++n;
  }
  EXPECT_EQ(n, sizeof(want) / sizeof(want[0]));
  EXPECT_EQ(pos, text.size());
  EXPECT_EQ(FirstInvalidByte(text), kNpos);
}

TEST(Utf8Decode, RejectsBytesThatCannotBeginASequence) {
  ExpectInvalid("\x80");
  ExpectInvalid("\xBF");
  ExpectInvalid("\xC0\x80");  // 0xC0 and 0xC1 only ever begin overlong forms
  ExpectInvalid("\xC1\xBF");
  ExpectInvalid("\xF5\x80\x80\x80");
  ExpectInvalid("\xF8\x88\x80\x80\x80");  // old 5-byte form
  ExpectInvalid("\xFE");
  ExpectInvalid("\xFF");
}

TEST(Utf8Decode, RejectsOverlongForms) {
  ExpectInvalid("\xC0\xAF");          // '/'
  ExpectInvalid("\xE0\x80\xAF");      // '/'
  ExpectInvalid("\xE0\x9F\xBF");      // U+07FF
  ExpectInvalid("\xF0\x80\x80\xAF");  // '/'
  ExpectInvalid("\xF0\x8F\xBF\xBF");  // U+FFFF
  ExpectInvalid("\xE0\x82\xAD");      // soft hyphen U+00AD
  ExpectInvalid("\xF0\x8F\xBC\x81");  // full-width '!' U+FF01
}

TEST(Utf8Decode, RejectsSurrogates) {
  ExpectInvalid("\xED\xA0\x80");              // U+D800
  ExpectInvalid("\xED\xAF\xBF");              // U+DBFF
  ExpectInvalid("\xED\xB0\x80");              // U+DC00
  ExpectInvalid("\xED\xBF\xBF");              // U+DFFF
  ExpectInvalid("\xED\xA0\xBD\xED\xB8\x80");  // CESU-8 pair for U+1F600
}

TEST(Utf8Decode, RejectsCodePointsAboveU10FFFF) {
  ExpectInvalid("\xF4\x90\x80\x80");  // U+110000
  ExpectInvalid("\xF4\xBF\xBF\xBF");
  ExpectInvalid("\xF7\xBF\xBF\xBF");  // U+1FFFFF
}

TEST(Utf8Decode, RejectsTruncatedAndInterruptedSequences) {
  ExpectInvalid("\xC3");
  ExpectInvalid("\xE4\xB9");      // 书 without its last byte
  ExpectInvalid("\xF0\x9F\x98");  // 😀 without its last byte
  ExpectInvalid("\xE4\x41\xA6");  // 'A' where a continuation byte belongs
  ExpectInvalid("\xE4\xB9\xE4\xB9\xA6");
  ExpectInvalid("\xF0\x9F\x98\xC3\xA9");
  // Only the bytes of the view are read: the byte after its end would
  // complete the sequence.
  const std::string shu = "书";
  ExpectInvalid(absl::string_view(shu).substr(0, 2));
}

TEST(Utf8Decode, DecodesAtAnOffset) {
  const std::string text = "ab书\xFF";
  EXPECT_EQ(Decode(text, 1).code_point, 'b');
  EXPECT_EQ(Decode(text, 2).code_point, 0x4E66u);
  EXPECT_EQ(Decode(text, 2).size, 3u);
  EXPECT_FALSE(Decode(text, 3).ok());  // inside 书
  EXPECT_FALSE(Decode(text, 5).ok());  // 0xFF
  EXPECT_FALSE(Decode(text, 6).ok());  // the end
  EXPECT_FALSE(Decode(text, 100).ok());
  EXPECT_FALSE(Decode("", 0).ok());
}

TEST(Utf8FirstInvalidByte, NamesTheLeadByteOfTheFirstBadSequence) {
  EXPECT_EQ(FirstInvalidByte(""), kNpos);
  EXPECT_EQ(FirstInvalidByte("plain ascii"), kNpos);
  EXPECT_EQ(FirstInvalidByte("书法 abc 😀"), kNpos);
  EXPECT_EQ(FirstInvalidByte("ab\xCA\xE9"), 2u);  // GBK 书
  EXPECT_EQ(FirstInvalidByte("x\xE4\xB9"), 1u);   // truncated at the end
  EXPECT_EQ(FirstInvalidByte("书\xE4\xB9"
                             "a"),
            3u);                                          // interrupted by 'a'
  EXPECT_EQ(FirstInvalidByte("书法\xC0\xAF"), 6u);        // overlong
  EXPECT_EQ(FirstInvalidByte("a\xED\xA0\x80"), 1u);       // surrogate
  EXPECT_EQ(FirstInvalidByte("ab\xF4\x90\x80\x80"), 2u);  // above U+10FFFF
  EXPECT_EQ(FirstInvalidByte("\xFF书"), 0u);
  EXPECT_EQ(FirstInvalidByte(std::string("a\0\x80", 3)), 2u);  // NUL is valid
}

// Every scalar value decodes from its shortest form, and every 1-, 2- and
// 3-byte string is well-formed exactly when it is such a form.
TEST(Utf8Decode, ExhaustiveAgainstAnIndependentEncoder) {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (!IsScalarValue(cp)) {
      // A surrogate written as if it were a scalar value.
      ASSERT_FALSE(Decode(Encode(cp), 0).ok()) << std::hex << cp;
      continue;
    }
    const std::string s = Encode(cp);
    const Decoded d = Decode(s, 0);
    ASSERT_TRUE(d.ok()) << std::hex << cp;
    ASSERT_EQ(d.code_point, cp);
    ASSERT_EQ(d.size, s.size());
  }
  int valid[4] = {0, 0, 0, 0};
  std::string s;
  for (uint32_t n = 1; n <= 3; ++n) {
    for (uint32_t bits = 0; bits < (1u << (8 * n)); ++bits) {
      s.resize(n);
      for (uint32_t k = 0; k < n; ++k) s[k] = static_cast<char>(bits >> (8 * (n - 1 - k)));
      const Decoded d = Decode(s, 0);
      if (!d.ok() || d.size != n) continue;
      ASSERT_EQ(Encode(d.code_point), s);
      ++valid[n];
    }
  }
  EXPECT_EQ(valid[1], 0x80);
  EXPECT_EQ(valid[2], 0x800 - 0x80);
  EXPECT_EQ(valid[3], 0x10000 - 0x800 - 0x800);  // less the surrogates
  // 4-byte strings: every lead and second byte, with continuation bytes after.
  for (uint32_t b0 = 0; b0 < 0x100; ++b0) {
    for (uint32_t b1 = 0; b1 < 0x100; ++b1) {
      const std::string four = {static_cast<char>(b0), static_cast<char>(b1), '\x80', '\xBF'};
      const Decoded d = Decode(four, 0);
      if (d.ok() && d.size == 4) {
        ASSERT_EQ(Encode(d.code_point), four);
      }
      const bool shortest_four =
          b0 >= 0xF0 && b0 <= 0xF4 && b1 >= (b0 == 0xF0 ? 0x90u : 0x80u) && b1 <= (b0 == 0xF4 ? 0x8Fu : 0xBFu);
      ASSERT_EQ(d.ok() && d.size == 4, shortest_four) << std::hex << b0 << " " << b1;
    }
  }
}

}  // namespace
}  // namespace lifelong::utf8
